"""Numba kernels against NumPy / scikit-learn references, FeatureBuilder, and the C++
replay of every Plan op (plan_ops.hpp) against the Python Plan."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import mutual_info_score, roc_auc_score

from mlwf_core.features import FeatureBuilder
from mlwf_core.features import _kernels as k
from mlwf_core.plan import Plan
from mlwf_core.preprocess import Preprocessor
from mlwf_core.schema import infer_schema

ROOT = Path(__file__).resolve().parents[1]
floats = hnp.arrays(
    np.float64,
    st.integers(1, 200),
    elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan)),
)


# ------------------------------------------------------------------ kernels
@settings(max_examples=60, deadline=None)
@given(values=floats, n_bins=st.integers(2, 20))
def test_quantile_binning(values, n_bins):
    edges = k.quantile_edges(values, n_bins)
    finite = np.sort(values[~np.isnan(values)])
    assert np.all(np.diff(edges) > 0)
    assert set(edges) <= set(finite)
    if finite.size:
        assert edges.size == 0 or edges[-1] < finite[-1]
    codes = k.bin_values(values, edges)
    expected = np.where(np.isnan(values), -1, np.searchsorted(edges, values, side="left"))
    np.testing.assert_array_equal(codes, expected)


def test_quantile_bins_are_balanced():
    values = np.random.default_rng(0).normal(size=10_000)
    codes = k.bin_values(values, k.quantile_edges(values, 10))
    assert np.all(np.bincount(codes) == 1000)


@settings(max_examples=40, deadline=None)
@given(codes=hnp.arrays(np.int64, st.integers(1, 300), elements=st.integers(-1, 6)))
def test_level_counts_and_group_stats(codes):
    rng = np.random.default_rng(len(codes))
    values = np.where(rng.uniform(size=codes.size) < 0.2, np.nan, rng.normal(size=codes.size))
    np.testing.assert_array_equal(
        k.level_counts(codes, 7), np.bincount(codes[codes >= 0], minlength=7)
    )
    means, counts = k.group_stats(codes, 7, values)
    for level in range(7):
        rows = values[(codes == level)]
        assert counts[level] == rows.size
        finite = rows[~np.isnan(rows)]
        if finite.size:
            assert means[level] == pytest.approx(finite.mean(), rel=1e-12, abs=1e-12)
        else:
            assert np.isnan(means[level])


@settings(max_examples=40, deadline=None)
@given(
    codes=hnp.arrays(np.int64, st.integers(2, 200), elements=st.integers(-1, 4)),
    smoothing=st.floats(0.5, 50),
)
def test_target_encoding_with_folds(codes, smoothing):
    n = codes.size
    rng = np.random.default_rng(n)
    targets = rng.normal(size=(n, 2))
    folds = rng.integers(0, 3, size=n)
    full, oof, prior = k.target_encode(codes, 5, targets, folds, 3, smoothing)
    level = np.where(codes < 0, 5, codes)
    np.testing.assert_allclose(prior, targets.mean(axis=0))
    for c in range(6):
        rows = level == c
        expected = (targets[rows].sum(axis=0) + smoothing * prior) / (rows.sum() + smoothing)
        np.testing.assert_allclose(full[c], expected, rtol=1e-10, atol=1e-12)
    for i in range(n):
        train = folds != folds[i]
        p = targets[train].mean(axis=0) if train.any() else prior
        rows = train & (level == level[i])
        expected = (targets[rows].sum(axis=0) + smoothing * p) / (rows.sum() + smoothing)
        np.testing.assert_allclose(oof[i], expected, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(np.int64, 50, elements=st.integers(-1, 4)),
    y=hnp.arrays(np.int64, 50, elements=st.integers(0, 2)),
)
def test_mutual_info_matches_sklearn(x, y):
    assert k.mutual_info(x, 5, y, 3) == pytest.approx(mutual_info_score(x, y), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(score=hnp.arrays(np.float64, 40, elements=st.integers(0, 5).map(float)))
def test_leakage_auc_matches_sklearn_with_ties(score):
    from mlwf_core.schema import _auc

    y = (np.arange(40) % 3 == 0).astype(np.float64)
    assert _auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


@pytest.mark.parametrize("n_classes", [0, 2, 3])
def test_single_feature_oof_score_reference(n_classes):
    from mlwf_core.schema import _auc, _oof_score

    rng = np.random.default_rng(n_classes)
    codes = rng.integers(-1, 6, size=500)
    if n_classes == 0:
        y = codes * 2.0 + rng.normal(size=500)
    else:
        y = np.where(rng.uniform(size=500) < 0.7, codes % n_classes, 0).astype(np.float64)
    folds = rng.integers(0, 4, size=500)
    level = np.where(codes < 0, 6, codes)
    pred = np.empty(500)
    for i in range(500):
        rows = (folds != folds[i]) & (level == level[i])
        if n_classes > 2:
            pool = y[rows] if rows.any() else y
            pred[i] = np.bincount(pool.astype(int), minlength=n_classes).argmax()
        else:
            pred[i] = y[rows].mean() if rows.any() else y.mean()
    if n_classes == 0:
        expected = 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    elif n_classes == 2:
        expected = _auc(y, pred)
        assert expected == pytest.approx(roc_auc_score(y, pred))
    else:
        expected = (pred == y).mean()
    assert _oof_score(codes, y, folds, n_classes) == pytest.approx(expected, rel=1e-10)


def test_pair_screen_reference():
    rng = np.random.default_rng(2)
    X = rng.uniform(0.5, 2.0, size=(3000, 3))
    y = (X[:, 0] / X[:, 1] > 1.0).astype(np.int64)
    pairs = np.array([[0, 1], [0, 2]], dtype=np.int64)
    out = k.pair_screen(X, pairs, y, 2, 16)
    for p, (a, b) in enumerate(pairs):
        for o, derived in enumerate([X[:, a] / X[:, b], X[:, a] - X[:, b], X[:, a] * X[:, b]]):
            codes = k.bin_values(derived, k.quantile_edges(derived, 16))
            assert out[p, o] == pytest.approx(mutual_info_score(codes, y), abs=1e-12)
    assert out[0, 0] > 0.5 > out[1, 0]


def _fnv(token: bytes) -> int:
    h = 2166136261
    for b in token.lower():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def test_text_stats_reference():
    import re

    texts = ["Hello, World! hello", "  caf\u00e9 au-lait  ", "", None, "a\tb\nc", "NA", "x" * 300]
    frame = pl.DataFrame({"t": texts})
    plan = Plan(
        ops=[
            {"op": "text_length", "inputs": ["t"], "output": "len"},
            {"op": "word_count", "inputs": ["t"], "output": "words"},
        ]
        + [
            {"op": "token_hash", "inputs": ["t"], "output": f"b{b}", "bucket": b, "n_buckets": 4}
            for b in range(4)
        ]
    )
    X = plan.transform(frame)
    for i, text in enumerate(texts):
        if text is None or text.strip() in ("", "NA"):
            assert np.isnan(X[i]).all()
            continue
        s = text.strip()
        buckets = np.zeros(4)
        for token in re.findall(rb"[0-9A-Za-z\x80-\xff]+", s.encode()):
            buckets[_fnv(token) % 4] += 1
        assert X[i, 0] == len(s)
        assert X[i, 1] == len(s.split())
        np.testing.assert_array_equal(X[i, 2:], buckets)


# ------------------------------------------------------------------ FeatureBuilder
def _ratio_task(n: int = 3000, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(1, 10, n), rng.uniform(1, 10, n)
    noise = rng.normal(size=(n, 3))
    group = rng.choice(["g1", "g2", "g3"], n)
    y = (a / b + 0.05 * rng.normal(size=n) > 1.0).astype(np.float64)
    frame = pl.DataFrame(
        {"a": a, "b": b, "n0": noise[:, 0], "n1": noise[:, 1], "n2": noise[:, 2], "g": group}
    )
    return frame, y


def test_feature_builder_finds_the_ratio_and_plan_replays_it():
    frame, y = _ratio_task()
    schema = infer_schema(frame.with_columns(pl.Series("y", y)), "y")
    pre = Preprocessor(features=True, op_kinds="all").fit(frame, schema, y)
    names = pre.plan_.features
    assert "a__div__b" in names or "b__div__a" in names
    report = pre.feature_builder_.report_
    assert {"feature", "generator", "screen_gain", "kept"} <= set(report[0])
    X = pre.plan_.transform(frame)
    j = names.index("a__div__b")
    np.testing.assert_allclose(X[:, j], (frame["a"] / frame["b"]).to_numpy(), rtol=1e-6)
    again = Plan.from_dict(pre.plan_.to_dict()).transform(frame)
    np.testing.assert_array_equal(again, X)


def test_feature_generation_can_be_switched_off_and_noise_is_not_kept():
    frame, y = _ratio_task()
    schema = infer_schema(frame.with_columns(pl.Series("y", y)), "y")
    off = Preprocessor(features=False, op_kinds="all").fit(frame, schema, y).plan_
    assert off.features == ["a", "b", "n0", "n1", "n2", "g"]
    rng = np.random.default_rng(5)
    noise_y = rng.integers(0, 2, frame.height).astype(np.float64)
    builder = FeatureBuilder(pca=False, groups=False).fit(frame, off, noise_y, "binary")
    assert len(builder.ops_) <= 1


def test_feature_builder_parameters_are_checked():
    frame, y = _ratio_task(n=200)
    plan = Plan(columns=[{"name": "a", "kind": "numeric"}])
    with pytest.raises(ValueError, match="max_new"):
        FeatureBuilder(max_new=0).fit(frame, plan, y, "binary")


# ------------------------------------------------------------------ C++ replay
def _hex(value: str | None) -> str:
    return "~" if value is None else value.encode().hex()


def _cases() -> list[str]:
    lines: list[str] = []
    numbers = [
        "$1,234.50",
        " 12 % ",
        "1.234,5",
        "\u20ac3",
        "1\u00a0000",
        "N/A",
        "abc",
        "+5",
        "5.",
        ".5",
        "-1e3",
        "1e",
        "0x10",
        "inf",
        "",
        None,
        "(5)",
        "1,2,3",
    ]
    for fmt in ("number", "number_comma"):
        frame = pl.DataFrame({"v": numbers}, schema={"v": pl.String})
        plan = Plan(ops=[{"op": "parse_number", "inputs": ["v"], "output": "o", "format": fmt}])
        for text, value in zip(numbers, plan.transform(frame)[:, 0], strict=True):
            lines.append(f"number\t{fmt}\t{_hex(text)}\t{float(value)!r}")
    dates = {
        "iso": [
            "2024-02-29T13:45:07Z",
            "2024-02-30",
            "1999/12/31 23:59",
            "2020-01-05 07:08:09.123",
            "2021-3-4",
            "2021-03-04+02:00",
            "not a date",
            None,
            "2021-03-04 25:00",
            "NA",
        ],
        "dmy": ["31/12/2023", "1.2.2020 10:30", "29-02-2023", "5/6/2021 08:09:10", "x"],
        "mdy": ["12/31/2023", "2/29/2024", "13/01/2020", "1/2/2021 23:00"],
    }
    for fmt, texts in dates.items():
        frame = pl.DataFrame({"v": texts}, schema={"v": pl.String})
        for part in ("year", "month", "day", "weekday", "hour", "elapsed_days"):
            op = {
                "op": "date_part",
                "inputs": ["v"],
                "output": "o",
                "format": fmt,
                "part": part,
                "origin": 18000.0,
            }
            for text, value in zip(texts, Plan(ops=[op]).transform(frame)[:, 0], strict=True):
                lines.append(f"date\t{fmt}\t{part}\t18000.0\t{_hex(text)}\t{float(value)!r}")
    texts = ["Hello, World! hello", "caf\u00e9 AU-lait 42", "", None, "a\tb\nc", "?", " x y "]
    frame = pl.DataFrame({"v": texts}, schema={"v": pl.String})
    ops = [
        {"op": "text_length", "inputs": ["v"], "output": "l"},
        {"op": "word_count", "inputs": ["v"], "output": "w"},
    ]
    ops += [
        {"op": "token_hash", "inputs": ["v"], "output": f"t{b}", "bucket": b, "n_buckets": 5}
        for b in range(5)
    ]
    for text, row in zip(texts, Plan(ops=ops).transform(frame), strict=True):
        lines.append(f"text\t5\t{_hex(text)}\t" + ",".join(repr(float(v)) for v in row))
    levels, values = ["a", "b b", "caf\u00e9"], [0.25, 0.5, 0.125]
    raw = ["a", " b b ", "caf\u00e9", "zzz", None, "NA", "", "A"]
    frame = pl.DataFrame({"v": raw}, schema={"v": pl.String})
    for kind in ("frequency", "target_mean", "group_mean", "group_count"):
        op = {
            "op": kind,
            "inputs": ["v"],
            "output": "o",
            "levels": levels,
            "values": values,
            "default": -1.0,
            "missing": 9.0,
        }
        for text, value in zip(raw, Plan(ops=[op]).transform(frame)[:, 0], strict=True):
            lines.append(
                f"lookup\t{','.join(_hex(x) for x in levels)}\t{','.join(map(str, values))}"
                f"\t-1.0\t9.0\t{_hex(text)}\t{float(value)!r}"
            )
    pooled = Plan(ops=[{"op": "category_pooled", "inputs": ["v"], "output": "o", "levels": levels}])
    missing = Plan(ops=[{"op": "missing_indicator", "inputs": ["v"], "output": "o"}])
    for text, p, m in zip(
        raw, pooled.transform(frame)[:, 0], missing.transform(frame)[:, 0], strict=True
    ):
        lines.append(f"pooled\t{','.join(_hex(x) for x in levels)}\t{_hex(text)}\t{float(p)!r}")
        lines.append(f"missing\t{_hex(text)}\t{float(m)!r}")
    a = np.array([1.5, 0.0, -2.0, np.nan, 3.0, 1e-30], dtype=np.float32)
    b = np.array([0.0, 0.0, 4.0, 1.0, np.nan, 3.0], dtype=np.float32)
    frame = pl.DataFrame({"a": a, "b": b})
    cols = [{"name": "a", "kind": "numeric"}, {"name": "b", "kind": "numeric"}]
    derived = [
        {"op": kind, "inputs": ["a", "b"], "output": kind}
        for kind in ("ratio", "difference", "product")
    ]
    derived.append(
        {
            "op": "pca",
            "inputs": ["a", "b"],
            "output": "pca",
            "mean": [0.5, 1.0],
            "scale": [2.0, 3.0],
            "weights": [0.6, -0.8],
        }
    )
    X = Plan(columns=cols, ops=derived).transform(frame)
    for i in range(len(a)):
        for j, kind in enumerate(("ratio", "difference", "product")):
            lines.append(f"{kind}\t{float(a[i])!r}\t{float(b[i])!r}\t{float(X[i, 2 + j])!r}")
        lines.append(
            f"pca\t{float(a[i])!r},{float(b[i])!r}\t0.5,1.0\t2.0,3.0\t0.6,-0.8\t{float(X[i, 5])!r}"
        )
    return lines


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_cpp_plan_ops_replay_the_python_plan(tmp_path):
    exe = tmp_path / "test_plan_ops"
    subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            f"-I{ROOT / 'cpp' / 'include'}",
            str(ROOT / "cpp" / "tests" / "test_plan_ops.cpp"),
            "-o",
            str(exe),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cases = tmp_path / "cases.tsv"
    lines = _cases()
    cases.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = subprocess.run([str(exe), str(cases)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "0 failures" in result.stdout and len(lines) > 150


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.int64,
        st.integers(1, 300),
        # years ~ -2000 .. 6000: negative epochs, leap days, century rules
        elements=st.integers(-125_000_000_000_000_000, 125_000_000_000_000_000),
    ),
    st.floats(-1e5, 1e5, allow_nan=False),
)
def test_date_parts_match_polars(epoch_us, origin):
    n = len(epoch_us)
    valid = np.arange(n) % 7 != 3
    parts = ["year", "month", "day", "weekday", "hour", "elapsed_days"]
    codes = np.array([k.DATE_PART_CODES[p] for p in parts], dtype=np.int64)
    origins = np.where(codes == 5, origin, 0.0)
    out = np.full((n, len(parts) + 1), -1.0, dtype=np.float32)
    columns = np.arange(1, len(parts) + 1, dtype=np.int64)  # column 0 must stay untouched
    k.date_parts(epoch_us, valid, codes, origins, out, columns)
    when = pl.Series(np.where(valid, epoch_us, 0)).cast(pl.Datetime("us"))
    when = pl.select(pl.when(pl.Series(valid)).then(when)).to_series()
    expected = pl.DataFrame(
        {
            "year": when.dt.year(),
            "month": when.dt.month(),
            "day": when.dt.day(),
            "weekday": when.dt.weekday(),
            "hour": when.dt.hour(),
            "elapsed_days": when.dt.epoch("us").cast(pl.Float64) / 86_400_000_000.0 - origin,
        }
    ).select(pl.all().cast(pl.Float32).fill_null(float("nan")))
    np.testing.assert_array_equal(out[:, 1:], expected.to_numpy())
    assert (out[:, 0] == -1.0).all()


@settings(max_examples=40, deadline=None)
@given(
    seconds=st.lists(st.integers(-2_000_000_000, 6_000_000_000), min_size=1, max_size=60),
    layout=st.sampled_from(["iso", "iso_t", "iso_min", "iso_date", "dmy", "mdy", "iso_z"]),
    origin=st.floats(-1e5, 1e5, allow_nan=False),
)
def test_text_date_parts_match_the_parsed_stamps(seconds, layout, origin):
    # one C++ pass from text (Plan batches, training matrices) against parsing to
    # stamps and splitting them with the Numba kernel, bit for bit
    from mlwf_core._core import date_parts_into
    from mlwf_core.schema import parse_datetime_us, text_buffers

    stamps = np.array(seconds, dtype="datetime64[s]").astype(object)
    formats = {
        "iso": "%Y-%m-%d %H:%M:%S",
        "iso_t": "%Y-%m-%dT%H:%M:%S",
        "iso_min": "%Y/%m/%d %H:%M",
        "iso_date": "%Y-%m-%d",
        "dmy": "%d/%m/%Y %H:%M",
        "mdy": "%m-%d-%Y",
        "iso_z": "%Y-%m-%dT%H:%M:%S.250+05:30",
    }
    text = [s.strftime(formats[layout]) if 1 <= s.year <= 9999 else "?" for s in stamps]
    text = [None if i % 5 == 2 else t for i, t in enumerate(text)] + ["2021-02-30", " - ", ""]
    fmt = layout if layout in ("dmy", "mdy") else "iso"
    col = pl.Series("d", text)
    codes = np.arange(6, dtype=np.int64)
    origins = np.where(codes == 5, origin, 0.0)
    cols = np.array([6, 1, 3, 5, 2, 4], dtype=np.int64)  # column 0 must stay untouched
    fused = np.full((len(text), 7), -1.0, dtype=np.float32)
    date_parts_into(*text_buffers(col), fmt, codes, origins, cols, fused)
    us, ok = parse_datetime_us(col, fmt)
    split = np.full_like(fused, -1.0)
    k.date_parts(us, ok, codes, origins, split, cols)
    np.testing.assert_array_equal(fused, split)
    assert (fused[:, 0] == -1.0).all() and np.isnan(fused[-3:, 1:]).all()
    with pytest.raises(ValueError, match="outside a matrix"):
        date_parts_into(*text_buffers(col), fmt, codes, origins, cols + 1, fused)
