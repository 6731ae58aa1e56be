"""Streaming drift detectors with compiled kernels.

Six detectors, with the API of ``river.drift``::

    from mlwf_core.drift import ADWIN
    detector = ADWIN()
    for i, x in enumerate(stream):
        if detector.update(x):          # also: detector.drift_detected
            print("drift at", i)
    detector.update_many(batch)         # int64 indices of the detections in the batch

* :class:`ADWIN`, :class:`PageHinkley`, :class:`CUSUM` and :class:`KSWIN` watch a numeric
  stream (a feature, a prediction, a loss).
* :class:`DDM` and :class:`EDDM` watch an error stream (1 = the model was wrong, 0 = right)
  and also raise a warning (``warning_detected``) before a drift.

Defaults and semantics are River's, and ADWIN and Page-Hinkley give River's detections at the
same indices. A detector that fired resets itself at the next update. ``to_dict`` returns the
whole state as plain JSON-able data and ``from_dict`` restores it, so a restarted service
resumes exactly where it stopped.

Rather than a raw threshold, :meth:`PageHinkley.calibrated`, :meth:`CUSUM.calibrated` and
:meth:`ADWIN.calibrated` take an acceptable false-alarm rate, as the mean number of points
between false alarms on data like a reference (in-control) sample; see :func:`calibrate`.

Detectors are not thread-safe: give each thread its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar, TypeAlias

import numpy as np
import numpy.typing as npt

from mlwf_core import _core
from mlwf_core.exceptions import DataError, ParameterError

__all__ = [
    "ADWIN",
    "CUSUM",
    "DDM",
    "EDDM",
    "KSWIN",
    "Calibration",
    "PageHinkley",
    "calibrate",
    "detector_from_dict",
]

_FORMAT = 1
_MODES = ("up", "down", "both")


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_int(owner: str, name: str, value: object, low: int, high: int | None = None) -> int:
    ok = _is_int(value) and int(value) >= low  # type: ignore[call-overload]
    if ok and high is not None:
        ok = int(value) <= high  # type: ignore[call-overload]
    if not ok:
        what = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ParameterError(
            f"The '{name}' parameter of {owner} must be an integer {what}. Got {value!r} instead."
        )
    return int(value)  # type: ignore[call-overload]


def _check_real(
    owner: str,
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    low_open: bool,
    high_open: bool,
) -> float:
    ok = _is_real(value) and math.isfinite(float(value))  # type: ignore[arg-type]
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        hi = "inf" if math.isinf(high) else f"{high:g}"
        raise ParameterError(
            f"The '{name}' parameter of {owner} must be a number in {left}{low:g}, {hi}{right}. "
            f"Got {value!r} instead."
        )
    return float(value)  # type: ignore[arg-type]


def _check_mode(owner: str, mode: object) -> str:
    if mode not in _MODES:
        raise ParameterError(
            f"The 'mode' parameter of {owner} must be one of 'up', 'down' or 'both'. "
            f"Got {mode!r} instead."
        )
    return str(mode)


class _Detector:
    """Serialisation and representation shared by every detector."""

    __slots__ = ()
    _NAME: ClassVar[str]
    _PARAMS: ClassVar[tuple[str, ...]]

    def get_params(self) -> dict[str, Any]:
        """Return the constructor arguments.

        Returns
        -------
        dict
            Parameter name to value; ``type(self)(**params)`` builds a fresh detector.
        """
        return {name: getattr(self, name) for name in self._PARAMS}

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters and the whole state as plain JSON-able data.

        Non-finite numbers are written as the strings ``"inf"``, ``"-inf"`` and ``"nan"``,
        so ``json.dumps(d, allow_nan=False)`` works.

        Returns
        -------
        dict
            ``{"detector": name, "format": 1, "params": {...}, "state": {...}}``.
        """
        return {
            "detector": self._NAME,
            "format": _FORMAT,
            "params": self.get_params(),
            "state": self._get_state(),  # type: ignore[attr-defined]
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Any:
        """Rebuild a detector from :meth:`to_dict` output; it resumes exactly where it was.

        Parameters
        ----------
        d
            A dict made by ``to_dict`` of the same detector class (possibly through JSON).

        Returns
        -------
        detector
            A detector whose next updates give the same detections as the original's.
        """
        owner = f"{cls._NAME}.from_dict"
        if not isinstance(d, Mapping) or d.get("detector") != cls._NAME:
            got = d.get("detector") if isinstance(d, Mapping) else type(d).__name__
            raise ParameterError(
                f"The 'd' parameter of {owner} must be a dict made by {cls._NAME}.to_dict. "
                f"Got a description of {got!r} instead."
            )
        if d.get("format") != _FORMAT:
            raise ParameterError(
                f"The 'd' parameter of {owner} must have format {_FORMAT}. "
                f"Got {d.get('format')!r} instead; it was written by another version of mlwf."
            )
        params, state = d.get("params"), d.get("state")
        if not isinstance(params, Mapping) or not isinstance(state, Mapping):
            raise ParameterError(
                f"The 'd' parameter of {owner} must hold 'params' and 'state' dicts. "
                f"Got keys {sorted(d)} instead."
            )
        obj = cls(**params)
        try:
            obj._set_state(dict(state))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ParameterError(
                f"The 'd' parameter of {owner} has a state that cannot be restored: {exc}. "
                "Pass the unmodified output of to_dict."
            ) from exc
        return obj

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{self._NAME}({args})"


class ADWIN(_Detector, _core.ADWIN):
    r"""ADaptive WINdowing drift detector (Bifet & Gavalda 2007).

    Keeps a window of recent values compressed in an exponential histogram (ADWIN2, as in
    MOA and River) and, every ``clock`` points, tests every split of it into an older and a
    newer part: a drift is a difference of means larger than the Hoeffding-type bound
    :math:`\sqrt{2 m \sigma^2 \delta'} + \tfrac{2}{3} m \delta'`, with
    :math:`\delta' = \ln(2 \ln |W| / \delta)`. Gives River's detections at the same indices.

    Parameters
    ----------
    delta
        Significance level in (0, 1); smaller means fewer false alarms and later detections.
    clock
        Test for a change every ``clock`` points.
    max_buckets
        Buckets of each size kept before two are merged.
    min_window_length
        Smallest size of either side of a tested split.
    grace_period
        No test before this many points.

    Attributes
    ----------
    drift_detected : bool
        Whether the last update detected a drift; the window is dropped at the next update.
    n_detections : int
        Drifts detected since construction.
    width, total, variance, estimation : float
        Points in the window, their sum, their sum of squared deviations, their mean.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 1, 1000), rng.normal(2, 1, 1000)])
    >>> ADWIN().update_many(x)
    array([1023])
    """

    __slots__ = ()
    _NAME = "ADWIN"
    _PARAMS = ("delta", "clock", "max_buckets", "min_window_length", "grace_period")

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        o = "ADWIN"
        super().__init__(
            _check_real(o, "delta", delta, 0.0, 1.0, low_open=True, high_open=True),
            _check_int(o, "clock", clock, 1),
            _check_int(o, "max_buckets", max_buckets, 2, 65535),
            _check_int(o, "min_window_length", min_window_length, 1),
            _check_int(o, "grace_period", grace_period, 0),
        )

    @classmethod
    def calibrated(
        cls,
        reference: npt.ArrayLike,
        mean_run_length: float = 1e5,
        *,
        n_replicates: int = 64,
        horizon: int | None = None,
        seed: int = 0,
        **params: Any,
    ) -> ADWIN:
        """Build an ADWIN whose ``delta`` gives about ``mean_run_length`` points between
        false alarms on data like ``reference``. See :func:`calibrate`."""
        return calibrate(
            cls,
            reference,
            mean_run_length,
            n_replicates=n_replicates,
            horizon=horizon,
            seed=seed,
            **params,
        ).detector


class PageHinkley(_Detector, _core.PageHinkley):
    r"""Page-Hinkley test for a change in the mean (Page 1954), as ``river.drift.PageHinkley``.

    Accumulates the deviations :math:`x_t - \bar{x}_t` from the running mean, less ``delta``,
    with a forgetting factor ``alpha``, and signals a drift when the accumulated sum rises
    (or falls) more than ``threshold`` above (below) its extreme so far. Gives River's
    detections at the same indices.

    Parameters
    ----------
    min_instances
        No detection before this many points.
    delta
        Magnitude of the changes that are tolerated.
    threshold
        Detection threshold (lambda); larger means fewer false alarms, later detections.
    alpha
        Forgetting factor of the cumulative sums, in (0, 1].
    mode
        ``"up"`` for increases, ``"down"`` for decreases, ``"both"``.

    Attributes
    ----------
    drift_detected : bool
        Whether the last update detected a drift; the statistics restart at the next update.
    n_detections : int
        Drifts detected since construction.
    statistic : float
        The test statistic compared to ``threshold``.
    """

    __slots__ = ()
    _NAME = "PageHinkley"
    _PARAMS = ("min_instances", "delta", "threshold", "alpha", "mode")

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        o = "PageHinkley"
        super().__init__(
            _check_int(o, "min_instances", min_instances, 1),
            _check_real(o, "delta", delta, 0.0, math.inf, low_open=False, high_open=True),
            _check_real(o, "threshold", threshold, 0.0, math.inf, low_open=True, high_open=True),
            _check_real(o, "alpha", alpha, 0.0, 1.0, low_open=True, high_open=False),
            _check_mode(o, mode),
        )

    @classmethod
    def calibrated(
        cls,
        reference: npt.ArrayLike,
        mean_run_length: float = 1e5,
        *,
        n_replicates: int = 64,
        horizon: int | None = None,
        seed: int = 0,
        **params: Any,
    ) -> PageHinkley:
        """Build a Page-Hinkley detector whose ``threshold`` gives about ``mean_run_length``
        points between false alarms on data like ``reference``. See :func:`calibrate`."""
        return calibrate(
            cls,
            reference,
            mean_run_length,
            n_replicates=n_replicates,
            horizon=horizon,
            seed=seed,
            **params,
        ).detector


class CUSUM(_Detector, _core.CUSUM):
    r"""Tabular CUSUM control chart (Page 1954), as ``river.drift.CUSUM``.

    .. math::

        S^+_t = \max(0, S^+_{t-1} + x_t - \mu - k), \quad
        S^-_t = \max(0, S^-_{t-1} - x_t + \mu - k)

    with a drift when a sum exceeds :math:`h`. :math:`k` = ``slack`` and :math:`h` =
    ``threshold`` are multiples of the in-control standard deviation :math:`\sigma`.
    :math:`\mu` and :math:`\sigma` are estimated over the first ``min_instances`` points
    (River's behaviour, again after each detection) unless ``mean`` and ``std`` are given, e.g.
    from the training data; :meth:`calibrated` sets them from its reference.

    Parameters
    ----------
    min_instances
        Points used to estimate the reference when ``mean`` and ``std`` are not given.
    slack
        :math:`k / \sigma`; the optimal value is half the shift to detect, in units of
        :math:`\sigma`.
    threshold
        :math:`h / \sigma`; larger means fewer false alarms, later detections.
    mode
        ``"up"`` for increases, ``"down"`` for decreases, ``"both"``.
    mean, std
        Known in-control mean and standard deviation (both or neither).

    Attributes
    ----------
    drift_detected : bool
        Whether the last update detected a drift; the sums restart at the next update.
    n_detections : int
        Drifts detected since construction.
    reference, sigma : float or None
        The :math:`\mu` and :math:`\sigma` in use (None while being estimated).
    """

    __slots__ = ()
    _NAME = "CUSUM"
    _PARAMS = ("min_instances", "slack", "threshold", "mode", "mean", "std")

    def __init__(
        self,
        min_instances: int = 30,
        slack: float = 0.5,
        threshold: float = 5.0,
        mode: str = "both",
        mean: float | None = None,
        std: float | None = None,
    ) -> None:
        o = "CUSUM"
        if (mean is None) != (std is None):
            raise ParameterError(
                "The 'mean' and 'std' parameters of CUSUM must be given together. "
                f"Got mean={mean!r} and std={std!r} instead."
            )
        if mean is not None:
            mean = _check_real(o, "mean", mean, -math.inf, math.inf, low_open=True, high_open=True)
            std = _check_real(o, "std", std, 0.0, math.inf, low_open=False, high_open=True)
        super().__init__(
            _check_int(o, "min_instances", min_instances, 1),
            _check_real(o, "slack", slack, 0.0, math.inf, low_open=False, high_open=True),
            _check_real(o, "threshold", threshold, 0.0, math.inf, low_open=True, high_open=True),
            _check_mode(o, mode),
            mean,
            std,
        )

    @classmethod
    def calibrated(
        cls,
        reference: npt.ArrayLike,
        mean_run_length: float = 1e5,
        *,
        n_replicates: int = 64,
        horizon: int | None = None,
        seed: int = 0,
        **params: Any,
    ) -> CUSUM:
        """Build a CUSUM around the mean and standard deviation of ``reference`` whose
        ``threshold`` gives about ``mean_run_length`` points between false alarms on data like
        ``reference``. Pass ``mean=None, std=None`` to estimate them from the stream instead;
        ``slack`` defaults to 0.25 here. See :func:`calibrate`."""
        return calibrate(
            cls,
            reference,
            mean_run_length,
            n_replicates=n_replicates,
            horizon=horizon,
            seed=seed,
            **params,
        ).detector


class DDM(_Detector, _core.DDM):
    r"""Drift Detection Method (Gama et al. 2004) on an error stream, as
    ``river.drift.binary.DDM``.

    Tracks the error rate :math:`p_t` and :math:`s_t = \sqrt{p_t (1 - p_t) / t}`, remembers
    the point where :math:`p + s` was lowest, and warns (drifts) when :math:`p_t + s_t`
    exceeds :math:`p_{min} + 2 s_{min}` (:math:`3 s_{min}`).

    Parameters
    ----------
    warm_start
        No warning or drift before this many points.
    warning_threshold, drift_threshold
        Multiples of :math:`s_{min}` for the warning and the drift.

    Attributes
    ----------
    drift_detected, warning_detected : bool
        State after the last update. Values must be 0 (correct) or 1 (error).
    n_detections : int
        Drifts detected since construction.
    error_rate : float
        Running error rate since the last drift.
    """

    __slots__ = ()
    _NAME = "DDM"
    _PARAMS = ("warm_start", "warning_threshold", "drift_threshold")

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        o = "DDM"
        wt = _check_real(
            o, "warning_threshold", warning_threshold, 0.0, math.inf, low_open=True, high_open=True
        )
        dt = _check_real(
            o, "drift_threshold", drift_threshold, wt, math.inf, low_open=False, high_open=True
        )
        super().__init__(_check_int(o, "warm_start", warm_start, 0), wt, dt)


class EDDM(_Detector, _core.EDDM):
    r"""Early Drift Detection Method (Baena-Garcia et al. 2006) on an error stream, as
    ``river.drift.binary.EDDM``.

    Tracks the mean :math:`p'` and standard deviation :math:`s'` of the distance between
    consecutive errors; warns (drifts) when :math:`(p' + 2s') / \max(p' + 2s')` falls below
    ``alpha`` (``beta``). Suited to gradual drifts.

    Parameters
    ----------
    warm_start
        Points and errors needed before a warning or drift.
    alpha, beta
        Warning and drift levels, ``alpha >= beta``.

    Attributes
    ----------
    drift_detected, warning_detected : bool
        State after the last update. Values must be 0 (correct) or 1 (error).
    n_detections : int
        Drifts detected since construction.
    """

    __slots__ = ()
    _NAME = "EDDM"
    _PARAMS = ("warm_start", "alpha", "beta")

    def __init__(self, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        o = "EDDM"
        b = _check_real(o, "beta", beta, 0.0, 1.0, low_open=True, high_open=False)
        a = _check_real(o, "alpha", alpha, b, 1.0, low_open=False, high_open=False)
        super().__init__(_check_int(o, "warm_start", warm_start, 0), a, b)


class KSWIN(_Detector, _core.KSWIN):
    r"""Kolmogorov-Smirnov WINdowing (Raab et al. 2020), as ``river.drift.KSWIN``.

    Once the sliding window holds ``window_size`` points, compares ``stat_size`` points drawn at
    random from its older part with its ``stat_size`` most recent points by the two-sample KS
    test (exact p-value); a drift is a p-value <= ``alpha`` with a statistic above 0.1. Both
    samples are kept sorted incrementally, so one test costs O(``window_size``).

    Parameters
    ----------
    alpha
        Significance level of the KS test.
    window_size
        Size of the sliding window.
    stat_size
        Size of the two compared samples, smaller than ``window_size``.
    seed
        Seed of the sampling. River's default (None) draws a random seed; mlwf is deterministic
        and defaults to 0.

    Attributes
    ----------
    drift_detected : bool
        Whether the last update detected a drift; the window is emptied at the next update.
    n_detections : int
        Drifts detected since construction.
    p_value : float
        p-value of the last test.
    window : list of float
        The window, oldest first.
    """

    __slots__ = ()
    _NAME = "KSWIN"
    _PARAMS = ("alpha", "window_size", "stat_size", "seed")

    def __init__(
        self, alpha: float = 0.005, window_size: int = 100, stat_size: int = 30, seed: int = 0
    ) -> None:
        o = "KSWIN"
        stat = _check_int(o, "stat_size", stat_size, 1)
        window = _check_int(o, "window_size", window_size, stat + 1)
        if not _is_int(seed) or not 0 <= int(seed) < 2**64:
            raise ParameterError(
                f"The 'seed' parameter of KSWIN must be an integer in [0, 2**64). "
                f"Got {seed!r} instead."
            )
        super().__init__(
            _check_real(o, "alpha", alpha, 0.0, 1.0, low_open=False, high_open=False),
            window,
            stat,
            int(seed),
        )


Detector: TypeAlias = ADWIN | PageHinkley | CUSUM | DDM | EDDM | KSWIN
_BY_NAME: dict[str, type[_Detector]] = {
    c._NAME: c for c in (ADWIN, PageHinkley, CUSUM, DDM, EDDM, KSWIN)
}


def detector_from_dict(d: Mapping[str, Any]) -> Detector:
    """Rebuild any detector from its :meth:`to_dict` output.

    Parameters
    ----------
    d
        The dict; its ``"detector"`` entry names the class.

    Returns
    -------
    detector
        The restored detector.
    """
    name = d.get("detector") if isinstance(d, Mapping) else None
    cls = _BY_NAME.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ParameterError(
            "The 'd' parameter of detector_from_dict must be a dict made by a detector's "
            f"to_dict, naming one of {sorted(_BY_NAME)}. Got {name!r} instead."
        )
    return cls.from_dict(d)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# False-alarm calibration


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    detector
        The calibrated detector, freshly reset.
    parameter
        The parameter that was chosen: ``"delta"`` (ADWIN) or ``"threshold"``.
    value
        Its value.
    mean_run_length
        Estimated mean number of points between false alarms at that value (``inf`` when no
        simulated stream raised an alarm within the horizon).
    n_alarms
        Simulated streams that raised an alarm within the horizon at that value.
    n_replicates, horizon
        Size of the simulation.
    """

    detector: ADWIN | PageHinkley | CUSUM
    parameter: str
    value: float
    mean_run_length: float
    n_alarms: int
    n_replicates: int
    horizon: int


def calibrate(
    detector: type[ADWIN] | type[PageHinkley] | type[CUSUM],
    reference: npt.ArrayLike,
    mean_run_length: float = 1e5,
    *,
    n_replicates: int = 64,
    horizon: int | None = None,
    seed: int = 0,
    **params: Any,
) -> Calibration:
    """Choose a detector's threshold from an acceptable false-alarm rate.

    The rate is given as the mean number of points between false alarms (the in-control
    average run length) on a stream like ``reference``, a sample of in-control data such as
    the training values of a feature or the validation losses of a model.

    How: before its first alarm a detector's state does not depend on its threshold, and it
    fires at the first point where its statistic exceeds the threshold. So ``n_replicates``
    streams of ``horizon`` points, each a bootstrap resample (with replacement) of
    ``reference``, are run once through the detector without a threshold, recording when the
    running maximum of the statistic grows. For any threshold this gives each stream's run
    length to the first alarm, or a censored one; the mean run length is estimated as the
    total points observed over the number of alarms (exponential maximum likelihood with
    censoring), and the smallest threshold whose estimate reaches ``mean_run_length`` is kept.
    For ADWIN the statistic is the largest :math:`\\delta'` a cut would need to fire, minus
    :math:`\\ln(2 \\ln |W|)`, and the threshold is :math:`-\\ln \\delta`.

    The bootstrap draws points independently, so autocorrelation in ``reference`` is not
    reproduced; for a serially dependent stream calibrate on its residuals or decorrelated
    values. Targets beyond ``horizon`` rely on the exponential extrapolation.

    Parameters
    ----------
    detector
        :class:`ADWIN`, :class:`PageHinkley` or :class:`CUSUM`.
    reference
        1-D in-control sample, finite values, at least 2 points.
    mean_run_length
        Wanted mean number of points between false alarms.
    n_replicates
        Simulated streams.
    horizon
        Length of each simulated stream; default ``2 * mean_run_length`` clipped to
        [1000, 2_000_000].
    seed
        Seed of the bootstrap.
    **params
        Other parameters of the detector, kept fixed. For CUSUM, ``mean`` and ``std``
        default to the mean and standard deviation of ``reference``, and ``slack`` to 0.25
        (the optimal slack for a shift of half a standard deviation; River's default, 0.5, is
        optimal for one standard deviation and slower on small and gradual drifts).

    Returns
    -------
    Calibration
        The detector and the chosen value with its estimated mean run length.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.random.default_rng(0).normal(size=5000)
    >>> ph = PageHinkley.calibrated(ref, mean_run_length=1e4, n_replicates=16)
    >>> round(ph.threshold, 1) > 0
    True
    """
    owner = "calibrate"
    if detector not in (ADWIN, PageHinkley, CUSUM) and not (
        isinstance(detector, type) and issubclass(detector, ADWIN | PageHinkley | CUSUM)
    ):
        raise ParameterError(
            f"The 'detector' parameter of {owner} must be ADWIN, PageHinkley or CUSUM. "
            f"Got {detector!r} instead."
        )
    ref = np.ascontiguousarray(reference, dtype=np.float64)
    if ref.ndim != 1 or ref.shape[0] < 2:
        raise DataError(
            f"The 'reference' parameter of {owner} must be a 1-D array of at least 2 values. "
            f"Got shape {ref.shape} instead."
        )
    if not np.isfinite(ref).all():
        bad = int(np.flatnonzero(~np.isfinite(ref))[0])
        raise DataError(
            f"The 'reference' parameter of {owner} must hold finite values. Got {ref[bad]!r} "
            f"at index {bad} instead. Drop or impute such values first."
        )
    target = _check_real(
        owner, "mean_run_length", mean_run_length, 1.0, math.inf, low_open=False, high_open=True
    )
    n_rep = _check_int(owner, "n_replicates", n_replicates, 1)
    if horizon is None:
        horizon = int(min(max(2.0 * target, 1000.0), 2_000_000.0))
    hor = _check_int(owner, "horizon", horizon, 1)
    seed_ = _check_int(owner, "seed", seed, 0)

    if issubclass(detector, CUSUM):
        if "mean" not in params and "std" not in params:
            params["mean"] = float(ref.mean())
            params["std"] = float(ref.std(ddof=1))
        # tuned for shifts from half a standard deviation (River's 0.5 is tuned for 1 sigma)
        params.setdefault("slack", 0.25)
        proto: Any = detector(**params)
        h, arl, alarms = _core._calibrate_cusum(proto, ref, target, n_rep, hor, seed_ % 2**64)
        name, value = "threshold", float(h)
    elif issubclass(detector, PageHinkley):
        proto = detector(**params)
        h, arl, alarms = _core._calibrate_page_hinkley(proto, ref, target, n_rep, hor, seed_)
        name, value = "threshold", float(h)
    else:
        proto = detector(**params)
        h, arl, alarms = _core._calibrate_adwin(proto, ref, target, n_rep, hor, seed_)
        # delta = exp(-h), kept inside ADWIN's open interval (0, 1)
        name, value = "delta", float(min(max(math.exp(-h), 1e-300), 1.0 - 1e-12))
    if name == "threshold" and not value > 0.0:
        value = float(np.nextafter(0.0, 1.0))
    out = detector(**{**proto.get_params(), name: value})
    return Calibration(out, name, value, float(arl), int(alarms), n_rep, hor)
