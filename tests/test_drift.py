"""Tests of mlwf_core.drift: one contract for every detector, River and SciPy as oracles,
pinned detections on seeded streams, exact resumption from serialised state, calibration."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlwf_core import _core
from mlwf_core.drift import (
    ADWIN,
    CUSUM,
    DDM,
    EDDM,
    KSWIN,
    Calibration,
    PageHinkley,
    calibrate,
    detector_from_dict,
)
from mlwf_core.exceptions import DataError, ParameterError

NUMERIC = [ADWIN, PageHinkley, CUSUM, KSWIN]
BINARY = [DDM, EDDM]
ALL = NUMERIC + BINARY


def numeric_stream(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [rng.normal(0, 1, 2000), rng.normal(1.5, 1, 2000), rng.normal(-1, 3, 2000)]
    )


def error_stream(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.random(3000) < 0.1, rng.random(3000) < 0.3]).astype(float)


def stream_for(cls: type) -> np.ndarray:
    return error_stream(7) if cls in BINARY else numeric_stream(42)


def loop(det: Any, x: np.ndarray) -> list[int]:
    return [i for i, v in enumerate(x.tolist()) if det.update(v)]


# ---------------------------------------------------------------------------------------------
# The contract every detector follows


@pytest.mark.parametrize("cls", ALL)
def test_update_many_matches_update(cls: type) -> None:
    x = stream_for(cls)
    a, b = cls(), cls()
    idx = a.update_many(x)
    assert idx.dtype == np.int64
    assert idx.tolist() == loop(b, x)
    assert len(idx) > 0
    assert a.n_detections == len(idx) == b.n_detections
    assert a.to_dict() == b.to_dict()


@pytest.mark.parametrize("cls", ALL)
def test_update_returns_drift_detected(cls: type) -> None:
    det = cls()
    for v in stream_for(cls)[:3000].tolist():
        assert det.update(v) is det.drift_detected


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("cut", [1, 777, 2500, 4100])
def test_restored_detector_resumes_exactly(cls: type, cut: int) -> None:
    x = stream_for(cls)
    ref = cls()
    expected = ref.update_many(x)
    det = cls()
    first = det.update_many(x[:cut])
    # through JSON text, as a service would store it
    text = json.dumps(det.to_dict(), allow_nan=False)
    restored = cls.from_dict(json.loads(text))
    rest = restored.update_many(x[cut:]) + cut
    assert np.concatenate([first, rest]).tolist() == expected.tolist()
    assert restored.to_dict() == ref.to_dict()


@pytest.mark.parametrize("cls", ALL)
def test_restore_right_after_a_detection(cls: type) -> None:
    # the pending reset-after-detection must survive serialisation
    x = stream_for(cls)
    expected = cls().update_many(x)
    first = int(expected[0])
    det = cls()
    det.update_many(x[: first + 1])
    assert det.drift_detected
    restored = detector_from_dict(json.loads(json.dumps(det.to_dict())))
    assert type(restored) is cls
    assert (restored.update_many(x[first + 1 :]) + first + 1).tolist() == expected[1:].tolist()


@pytest.mark.parametrize("cls", ALL)
def test_reset_returns_to_fresh_state(cls: type) -> None:
    det = cls()
    det.update_many(stream_for(cls))
    det.reset()
    assert det.to_dict() == cls().to_dict()
    assert not det.drift_detected


@pytest.mark.parametrize("cls", ALL)
def test_params_repr_and_dict_roundtrip(cls: type) -> None:
    det = cls()
    assert repr(det).startswith(f"{cls.__name__}(")
    assert cls(**det.get_params()).to_dict() == det.to_dict()
    assert not hasattr(det, "__dict__")


@pytest.mark.parametrize("cls", NUMERIC)
def test_non_finite_values_are_rejected(cls: type) -> None:
    det = cls()
    det.update_many(np.arange(50.0))
    before = det.to_dict()
    with pytest.raises(DataError, match="finite"):
        det.update(math.nan)
    with pytest.raises(DataError, match="at index 3"):
        det.update_many(np.array([1.0, 2.0, 3.0, math.inf, 5.0]))
    assert det.to_dict() == before  # a rejected batch changes nothing


@pytest.mark.parametrize("cls", BINARY)
def test_binary_detectors_take_zero_or_one(cls: type) -> None:
    det = cls()
    assert det.update(True) is False
    det.update_many(np.array([True, False, True]))
    with pytest.raises(DataError, match="0 or 1"):
        det.update(0.5)
    with pytest.raises(DataError, match="at index 1"):
        det.update_many([0, 2, 1])


@pytest.mark.parametrize("cls", ALL)
def test_update_many_rejects_2d(cls: type) -> None:
    with pytest.raises(DataError, match="1-D"):
        cls().update_many(np.zeros((3, 2)))


@pytest.mark.parametrize("cls", ALL)
def test_from_dict_rejects_foreign_state(cls: type) -> None:
    other = PageHinkley if cls is not PageHinkley else ADWIN
    with pytest.raises(ParameterError, match="to_dict"):
        cls.from_dict(other().to_dict())
    d = cls().to_dict()
    d["format"] = 99
    with pytest.raises(ParameterError, match="format"):
        cls.from_dict(d)
    d = cls().to_dict()
    d["state"].popitem()
    with pytest.raises(ParameterError, match="cannot be restored"):
        cls.from_dict(d)
    with pytest.raises(ParameterError, match="detector_from_dict"):
        detector_from_dict({"detector": "Nope"})


@pytest.mark.parametrize(
    ("cls", "kwargs", "name"),
    [
        (ADWIN, {"delta": 0.0}, "delta"),
        (ADWIN, {"delta": 1.5}, "delta"),
        (ADWIN, {"clock": 0}, "clock"),
        (ADWIN, {"max_buckets": 1}, "max_buckets"),
        (ADWIN, {"grace_period": -1}, "grace_period"),
        (PageHinkley, {"threshold": -1.0}, "threshold"),
        (PageHinkley, {"alpha": 0.0}, "alpha"),
        (PageHinkley, {"mode": "sideways"}, "mode"),
        (PageHinkley, {"min_instances": 2.5}, "min_instances"),
        (CUSUM, {"slack": -0.1}, "slack"),
        (CUSUM, {"mean": 1.0}, "mean' and 'std"),
        (CUSUM, {"mean": 1.0, "std": -1.0}, "std"),
        (DDM, {"drift_threshold": 1.0}, "drift_threshold"),
        (EDDM, {"alpha": 0.5}, "alpha"),
        (KSWIN, {"window_size": 30}, "window_size"),
        (KSWIN, {"alpha": 2.0}, "alpha"),
        (KSWIN, {"seed": -1}, "seed"),
    ],
)
def test_invalid_parameters(cls: type, kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ParameterError, match=f"The '{name}' parameters? of {cls.__name__}"):
        cls(**kwargs)


# ---------------------------------------------------------------------------------------------
# Pinned detections on seeded streams (hold without River)

PINNED = {
    ADWIN: [2015, 4031],
    PageHinkley: [
        1913,
        2019,
        4008,
        4079,
        4233,
        4401,
        4660,
        4749,
        4831,
        4905,
        5025,
        5253,
        5333,
        5505,
        5622,
        5695,
        5871,
        5943,
    ],
    CUSUM: [
        97,
        139,
        312,
        411,
        698,
        760,
        889,
        950,
        1163,
        1217,
        1306,
        2005,
        2463,
        2556,
        2614,
        2875,
        2917,
        4006,
        4222,
        4354,
        4637,
        4832,
        4933,
        5253,
        5309,
        5503,
        5547,
        5892,
        5934,
    ],
    KSWIN: [785, 1704, 1832, 2007, 2419, 3687, 4022, 4638],
    DDM: [3317, 3550],
    EDDM: [3177, 3276, 3415, 3513, 3896, 3986, 4080, 4278, 4372, 4476, 4645],
}


@pytest.mark.parametrize("cls", ALL)
def test_pinned_detections(cls: type) -> None:
    assert cls().update_many(stream_for(cls)).tolist() == PINNED[cls]


def test_adwin_state_on_a_known_stream() -> None:
    x = np.random.default_rng(0).normal(size=5000)
    det = ADWIN()
    assert det.update_many(x).size == 0
    assert det.width == 5000.0
    assert det.total == pytest.approx(x.sum(), rel=1e-12)
    assert det.estimation == pytest.approx(x.mean(), rel=1e-12)
    assert det.variance == pytest.approx(np.var(x) * 5000, rel=1e-9)


def test_adwin_detects_changes_and_stays_quiet_on_constants() -> None:
    assert ADWIN().update_many(np.ones(20_000)).size == 0
    assert PageHinkley().update_many(np.ones(20_000)).size == 0
    idx = ADWIN().update_many(np.r_[np.zeros(1000), np.full(1000, 5.0)])
    assert 1000 <= idx[0] < 1000 + 2 * 32


# ---------------------------------------------------------------------------------------------
# River as the oracle


def river_detections(det: Any, x: np.ndarray) -> list[int]:
    out = []
    for i, v in enumerate(x.tolist()):
        det.update(v)
        if det.drift_detected:
            out.append(i)
    return out


def oracle_streams() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [
        numeric_stream(42),
        numeric_stream(5),
        np.repeat(rng.normal(0, 3, 40), 400) + rng.normal(0, 1, 16_000),
        (rng.random(8000) < np.linspace(0.05, 0.6, 8000)).astype(float),
        rng.standard_t(3, size=30_000),
        # a large offset and a tiny scale stress the rounding margins of ADWIN's cut filter
        1e6 + numeric_stream(6),
        1e-9 * numeric_stream(7),
    ]


@pytest.mark.parametrize("k", range(7))
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"delta": 0.1, "clock": 1},
        {"delta": 0.01, "clock": 8, "max_buckets": 3, "min_window_length": 10, "grace_period": 50},
    ],
)
def test_adwin_matches_river(k: int, params: dict[str, Any]) -> None:
    drift = pytest.importorskip("river.drift")
    x = oracle_streams()[k]
    theirs = drift.ADWIN(**params)
    expected = river_detections(theirs, x)
    ours = ADWIN(**params)
    got = ours.update_many(x).tolist()
    # the issue asks for the same count within one check interval; we give the same indices
    assert got == expected
    assert ours.width == theirs.width
    assert ours.total == pytest.approx(theirs.total, rel=1e-12, abs=1e-9)
    assert ours.variance == pytest.approx(theirs.variance, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("k", range(5))
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"mode": "up", "threshold": 20.0},
        {"mode": "down", "delta": 0.1, "alpha": 1.0, "min_instances": 5},
    ],
)
def test_page_hinkley_matches_river(k: int, params: dict[str, Any]) -> None:
    drift = pytest.importorskip("river.drift")
    x = oracle_streams()[k]
    assert PageHinkley(**params).update_many(x).tolist() == river_detections(
        drift.PageHinkley(**params), x
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cls_name", ["DDM", "EDDM"])
def test_binary_detectors_match_river(seed: int, cls_name: str) -> None:
    binary = pytest.importorskip("river.drift.binary")
    rng = np.random.default_rng(seed)
    x = (rng.random(20_000) < np.repeat(rng.uniform(0.02, 0.5, 10), 2000)).astype(int)
    theirs = getattr(binary, cls_name)()
    ours = {"DDM": DDM, "EDDM": EDDM}[cls_name]()
    for v in x.tolist():
        theirs.update(v)
        assert ours.update(v) == theirs.drift_detected
        assert ours.warning_detected == theirs.warning_detected


# ---------------------------------------------------------------------------------------------
# CUSUM against a transcription of river.drift.CUSUM (not in every River release)


def cusum_oracle(
    x: np.ndarray,
    min_instances: int = 30,
    slack: float = 0.5,
    threshold: float = 5.0,
    mode: str = "both",
) -> list[int]:
    out: list[int] = []
    drift = False
    n = 0
    values: list[float] = []
    ref = sigma = 0.0
    inc = dec = 0.0
    for i, v in enumerate(x.tolist()):
        if drift:
            n, values, inc, dec = 0, [], 0.0, 0.0
        n += 1
        drift = False
        if n < min_instances:
            values.append(v)
            continue
        if n == min_instances:
            values.append(v)
            ref = float(np.mean(values))
            sigma = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        dev = v - ref
        inc = max(0.0, inc + dev - slack * sigma)
        dec = max(0.0, dec - dev - slack * sigma)
        limit = threshold * sigma
        up, down = inc > limit, dec > limit
        drift = up if mode == "up" else down if mode == "down" else (up or down)
        if drift:
            out.append(i)
    return out


@pytest.mark.parametrize("mode", ["up", "down", "both"])
@pytest.mark.parametrize("params", [{}, {"min_instances": 10, "slack": 1.0, "threshold": 3.0}])
def test_cusum_matches_transcription(mode: str, params: dict[str, Any]) -> None:
    x = numeric_stream(11)
    assert CUSUM(mode=mode, **params).update_many(x).tolist() == cusum_oracle(
        x, mode=mode, **params
    )


def test_cusum_with_known_reference() -> None:
    x = numeric_stream(12)
    det = CUSUM(mean=0.0, std=1.0, threshold=8.0)
    idx = det.update_many(x)
    assert det.reference == 0.0 and det.sigma == 1.0
    # no warm-up: sums start at the first point; the first alarm follows the shift at 2000
    s = 0.0
    first = None
    for i, v in enumerate(x.tolist()):
        s = max(0.0, s + v - 0.5)
        if s > 8.0:
            first = i
            break
    assert idx[0] == first
    assert 2000 <= idx[0] < 2030


# ---------------------------------------------------------------------------------------------
# KSWIN: exact KS p-values against SciPy, detections against a transcription


@pytest.mark.parametrize("n", [5, 12, 30, 60])
def test_ks_pvalue_matches_scipy(n: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(n)
    for _ in range(40):
        a = rng.normal(size=n)
        b = rng.normal(rng.uniform(0, 2), size=n)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = stats.ks_2samp(a, b, method="exact")
        if caught:  # SciPy's exact formula overshot 1 and it fell back to asymptotics
            continue
        h = round(res.statistic * n)
        assert _core._ks_2samp_sf(n, h) == pytest.approx(res.pvalue, rel=1e-9, abs=1e-14)


class _SplitMix64:
    def __init__(self, state: int) -> None:
        self.state = state

    def next(self) -> int:
        m = (1 << 64) - 1
        self.state = (self.state + 0x9E3779B97F4A7C15) & m
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        m = self.next() * n
        low = m & ((1 << 64) - 1)
        if low < n:
            t = ((1 << 64) - n) % n
            while low < t:
                m = self.next() * n
                low = m & ((1 << 64) - 1)
        return m >> 64


def kswin_oracle(x: list[float], alpha: float, window_size: int, stat_size: int, seed: int):
    stats = pytest.importorskip("scipy.stats")
    rng = _SplitMix64(seed)
    window: list[float] = []
    out, drift = [], False
    m = window_size - stat_size
    for i, v in enumerate(x):
        if drift:
            window = []
        drift = False
        window = (window + [v])[-window_size:]
        if len(window) < window_size:
            continue
        mark = [False] * m
        for j in range(m - stat_size, m):
            t = rng.below(j + 1)
            if mark[t]:
                mark[j] = True
            else:
                mark[t] = True
        sample = [w for w, keep in zip(window[:m], mark, strict=True) if keep]
        with warnings.catch_warnings():  # as River does
            warnings.simplefilter("ignore", category=RuntimeWarning)
            res = stats.ks_2samp(sample, window[m:], method="auto")
        if res.pvalue <= alpha and res.statistic > 0.1:
            drift = True
            out.append(i)
    return out


@pytest.mark.parametrize(
    ("params", "ties"),
    [({}, False), ({"window_size": 40, "stat_size": 10, "alpha": 0.05, "seed": 9}, True)],
)
def test_kswin_matches_transcription(params: dict[str, Any], ties: bool) -> None:
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.normal(0, 1, 1500), rng.normal(0.8, 1, 1500)])
    if ties:  # heavy ties exercise the tie handling of the sorted windows
        x = np.round(x * 2) / 2
    full = {"alpha": 0.005, "window_size": 100, "stat_size": 30, "seed": 0, **params}
    got = KSWIN(**full).update_many(x).tolist()
    assert got == kswin_oracle(x.tolist(), **full)
    assert len(got) > 0


def test_kswin_window_and_pvalue() -> None:
    det = KSWIN(window_size=20, stat_size=5)
    det.update_many(np.arange(30.0))
    assert det.window == list(np.arange(10.0, 30.0))
    assert 0.0 <= det.p_value <= 1.0


# ---------------------------------------------------------------------------------------------
# Generated streams


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=400),
    cut=st.integers(0, 400),
    which=st.sampled_from(NUMERIC),
)
def test_generated_streams_batch_and_resume(values: list[float], cut: int, which: type) -> None:
    x = np.array(values)
    kwargs = {"window_size": 20, "stat_size": 5} if which is KSWIN else {}
    if which is ADWIN:
        kwargs = {"clock": 1, "delta": 0.2}
    expected = loop(which(**kwargs), x)
    det = which(**kwargs)
    first = det.update_many(x[:cut]).tolist()
    det = which.from_dict(json.loads(json.dumps(det.to_dict())))
    rest = (det.update_many(x[cut:]) + min(cut, len(x))).tolist()
    assert first + rest == expected


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(st.floats(-50, 50, allow_nan=False), min_size=50, max_size=600),
    delta=st.sampled_from([0.002, 0.05, 0.3]),
    clock=st.sampled_from([1, 4, 32]),
)
def test_generated_streams_adwin_matches_river(
    values: list[float], delta: float, clock: int
) -> None:
    drift = pytest.importorskip("river.drift")
    x = np.array(values)
    assert ADWIN(delta=delta, clock=clock).update_many(x).tolist() == river_detections(
        drift.ADWIN(delta=delta, clock=clock), x
    )


# ---------------------------------------------------------------------------------------------
# False-alarm calibration


def false_alarm_run_length(det: Any, ref: np.ndarray, n: int, seed: int) -> float:
    x = np.random.default_rng(seed).choice(ref, size=n, replace=True)
    alarms = det.update_many(x).size
    return n / max(alarms, 1)


@pytest.mark.parametrize("cls", [PageHinkley, CUSUM, ADWIN])
def test_calibration_hits_the_false_alarm_rate(cls: type) -> None:
    ref = np.random.default_rng(1).gamma(2.0, 1.0, size=4000)
    target = 2000.0
    cal = calibrate(cls, ref, target, n_replicates=96, seed=3)
    assert isinstance(cal, Calibration)
    assert cal.detector.get_params()[cal.parameter] == cal.value
    assert 0.7 * target <= cal.mean_run_length <= 2.0 * target
    # an independent long in-control stream: about one alarm per `target` points
    observed = false_alarm_run_length(cal.detector, ref, 300_000, seed=4)
    assert target / 2.0 <= observed <= target * 2.0


def test_calibration_is_monotone_and_deterministic() -> None:
    ref = np.random.default_rng(2).normal(size=3000)
    a = PageHinkley.calibrated(ref, 1e3, n_replicates=32)
    b = PageHinkley.calibrated(ref, 1e4, n_replicates=32)
    assert a.threshold < b.threshold
    assert PageHinkley.calibrated(ref, 1e3, n_replicates=32).threshold == a.threshold
    c = ADWIN.calibrated(ref, 1e3, n_replicates=32)
    d = ADWIN.calibrated(ref, 1e4, n_replicates=32)
    assert 0.0 < d.delta < c.delta < 1.0
    assert CUSUM.calibrated(ref, 1e3, n_replicates=8).slack == 0.25
    e = CUSUM.calibrated(ref, 1e3, n_replicates=32, slack=1.0)
    assert e.slack == 1.0 and e.mean == pytest.approx(ref.mean())
    assert e.std == pytest.approx(ref.std(ddof=1))


def test_calibrated_cusum_detects_faster_than_river_default_page_hinkley() -> None:
    # at the false-alarm rate of Page-Hinkley's defaults, the calibrated CUSUM reacts sooner
    ref = np.random.default_rng(5).normal(size=5000)
    ph = PageHinkley()
    rl = false_alarm_run_length(ph, ref, 200_000, seed=6)
    cusum = CUSUM.calibrated(ref, rl, n_replicates=64)
    rng = np.random.default_rng(7)
    delays = {"ph": [], "cusum": []}
    for _ in range(20):
        x = np.concatenate([rng.normal(0, 1, 300), rng.normal(1.0, 1, 700)])
        for name, det in (("ph", PageHinkley()), ("cusum", CUSUM(**cusum.get_params()))):
            after = det.update_many(x)
            after = after[after >= 300]
            delays[name].append(after[0] - 300 if after.size else 700)
    assert np.mean(delays["cusum"]) < np.mean(delays["ph"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reference": np.ones((3, 3))}, DataError, "1-D"),
        ({"reference": [1.0, math.nan, 2.0]}, DataError, "index 1"),
        ({"reference": [1.0, 2.0], "mean_run_length": 0.0}, ParameterError, "mean_run_length"),
        ({"reference": [1.0, 2.0], "n_replicates": 0}, ParameterError, "n_replicates"),
    ],
)
def test_calibration_validates(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        calibrate(PageHinkley, **kwargs)
    with pytest.raises(ParameterError, match="'detector' parameter"):
        calibrate(DDM, [1.0, 2.0])  # type: ignore[arg-type]
