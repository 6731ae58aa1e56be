"""
Compiled kernels of mlwf (metrics, forest scoring, drift detection).
"""

from __future__ import annotations

import collections.abc
import typing

import numpy
import numpy.typing

__all__: list[str] = [
    "ADWIN",
    "CUSUM",
    "DDM",
    "EDDM",
    "Forest",
    "ForestError",
    "KSWIN",
    "PageHinkley",
    "Plan",
    "PlanError",
    "RecordScorer",
    "TreeShap",
    "accuracy",
    "accuracy_proba",
    "confusion_matrix",
    "confusion_matrix_proba",
    "date_parts_into",
    "get_metric_threads",
    "interleave_columns",
    "log_loss",
    "mae",
    "mse",
    "parse_datetime_into",
    "precision_recall_f1",
    "r2",
    "rmse",
    "roc_auc",
    "set_metric_threads",
]

class ForestError(ValueError):
    pass

class Forest:
    def __init__(self, arrays: dict) -> None:
        """
        Compile a forest from the arrays of mlwf_core.deploy._forest.forest_arrays.
        """
    def predict_into(
        self,
        X: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
        out: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    ) -> None: ...
    def predict_raw_into(
        self,
        X: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
        out: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    ) -> None: ...
    def predict_row(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> typing.Any:
        """
        Prediction of one row: a float, or an array of class probabilities.
        """
    def predict_row_raw(
        self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]
    ) -> typing.Any: ...
    @property
    def link(self) -> int: ...
    @property
    def max_depth(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    @property
    def n_groups(self) -> int: ...
    @property
    def n_nodes(self) -> int: ...
    @property
    def n_trees(self) -> int: ...

class PlanError(ValueError):
    pass

class Plan:
    def __init__(self, plan: dict) -> None:
        """
        Compile the plan dict of a model manifest.
        """
    def transform_columns(
        self,
        columns: list,
        n_rows: typing.SupportsInt | typing.SupportsIndex,
        out: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
    ) -> None: ...
    @property
    def columns(self) -> list: ...
    @property
    def n_features(self) -> int: ...

class RecordScorer:
    def __init__(self, plan: Plan, forest: Forest) -> None: ...
    def predict_columns_into(
        self,
        columns: list,
        n_rows: typing.SupportsInt | typing.SupportsIndex,
        out: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    ) -> None: ...
    def predict_record(self, record: dict) -> typing.Any: ...
    def transform_record(self, record: dict) -> numpy.typing.NDArray[numpy.float32]: ...

class ADWIN:
    """
    Compiled ADWIN detector (see mlwf_core.drift.ADWIN).
    """
    @staticmethod
    def update(x):
        """
        Feed one value; True when a drift is detected at this point.
        """
    def __init__(
        self,
        delta: typing.SupportsFloat | typing.SupportsIndex = 0.002,
        clock: typing.SupportsInt | typing.SupportsIndex = 32,
        max_buckets: typing.SupportsInt | typing.SupportsIndex = 5,
        min_window_length: typing.SupportsInt | typing.SupportsIndex = 5,
        grace_period: typing.SupportsInt | typing.SupportsIndex = 10,
    ) -> None: ...
    def _get_state(self) -> dict: ...
    def _set_state(self, arg0: dict) -> None: ...
    def reset(self) -> None:
        """
        Return to the freshly constructed state.
        """
    def update_many(
        self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]
    ) -> numpy.typing.NDArray[numpy.int64]:
        """
        Feed an array in order; returns the int64 indices where a drift was detected.
        """
    @property
    def clock(self) -> int: ...
    @property
    def delta(self) -> float: ...
    @property
    def drift_detected(self) -> bool:
        """
        Whether the last update detected a drift.
        """
    @property
    def estimation(self) -> float:
        """
        Mean of the window.
        """
    @property
    def grace_period(self) -> int: ...
    @property
    def max_buckets(self) -> int: ...
    @property
    def min_window_length(self) -> int: ...
    @property
    def n_detections(self) -> int:
        """
        Number of drifts detected since construction or the last reset().
        """
    @property
    def total(self) -> float:
        """
        Sum of the points in the window.
        """
    @property
    def variance(self) -> float:
        """
        Sum of squared deviations from the mean over the window (as River's ADWIN.variance).
        """
    @property
    def width(self) -> float:
        """
        Number of points in the window.
        """

class PageHinkley:
    """
    Compiled Page-Hinkley detector (see mlwf_core.drift.PageHinkley).
    """
    @staticmethod
    def update(x):
        """
        Feed one value; True when a drift is detected at this point.
        """
    def __init__(
        self,
        min_instances: typing.SupportsInt | typing.SupportsIndex = 30,
        delta: typing.SupportsFloat | typing.SupportsIndex = 0.005,
        threshold: typing.SupportsFloat | typing.SupportsIndex = 50.0,
        alpha: typing.SupportsFloat | typing.SupportsIndex = 0.9999,
        mode: str = "both",
    ) -> None: ...
    def _get_state(self) -> dict: ...
    def _set_state(self, arg0: dict) -> None: ...
    def reset(self) -> None:
        """
        Return to the freshly constructed state.
        """
    def update_many(
        self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]
    ) -> numpy.typing.NDArray[numpy.int64]:
        """
        Feed an array in order; returns the int64 indices where a drift was detected.
        """
    @property
    def alpha(self) -> float: ...
    @property
    def delta(self) -> float: ...
    @property
    def drift_detected(self) -> bool:
        """
        Whether the last update detected a drift.
        """
    @property
    def min_instances(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def n_detections(self) -> int:
        """
        Number of drifts detected since construction or the last reset().
        """
    @property
    def statistic(self) -> float:
        """
        The test statistic compared to the threshold (-inf before min_instances points).
        """
    @property
    def threshold(self) -> float: ...

class CUSUM:
    """
    Compiled CUSUM detector (see mlwf_core.drift.CUSUM).
    """
    @staticmethod
    def update(x):
        """
        Feed one value; True when a drift is detected at this point.
        """
    def __init__(
        self,
        min_instances: typing.SupportsInt | typing.SupportsIndex = 30,
        slack: typing.SupportsFloat | typing.SupportsIndex = 0.5,
        threshold: typing.SupportsFloat | typing.SupportsIndex = 5.0,
        mode: str = "both",
        mean: typing.Any = None,
        std: typing.Any = None,
    ) -> None: ...
    def _get_state(self) -> dict: ...
    def _set_state(self, arg0: dict) -> None: ...
    def reset(self) -> None:
        """
        Return to the freshly constructed state.
        """
    def update_many(
        self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]
    ) -> numpy.typing.NDArray[numpy.int64]:
        """
        Feed an array in order; returns the int64 indices where a drift was detected.
        """
    @property
    def drift_detected(self) -> bool:
        """
        Whether the last update detected a drift.
        """
    @property
    def mean(self) -> typing.Any: ...
    @property
    def min_instances(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def n_detections(self) -> int:
        """
        Number of drifts detected since construction or the last reset().
        """
    @property
    def reference(self) -> typing.Any:
        """
        The in-control mean in use (None while it is being estimated).
        """
    @property
    def sigma(self) -> typing.Any:
        """
        The in-control standard deviation in use (None while it is being estimated).
        """
    @property
    def slack(self) -> float: ...
    @property
    def std(self) -> typing.Any: ...
    @property
    def threshold(self) -> float: ...

class DDM:
    """
    Compiled DDM detector (see mlwf_core.drift.DDM).
    """
    @staticmethod
    def update(x):
        """
        Feed one value; True when a drift is detected at this point.
        """
    def __init__(
        self,
        warm_start: typing.SupportsInt | typing.SupportsIndex = 30,
        warning_threshold: typing.SupportsFloat | typing.SupportsIndex = 2.0,
        drift_threshold: typing.SupportsFloat | typing.SupportsIndex = 3.0,
    ) -> None: ...
    def _get_state(self) -> dict: ...
    def _set_state(self, arg0: dict) -> None: ...
    def reset(self) -> None:
        """
        Return to the freshly constructed state.
        """
    def update_many(
        self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]
    ) -> numpy.typing.NDArray[numpy.int64]:
        """
        Feed an array in order; returns the int64 indices where a drift was detected.
        """
    @property
    def drift_detected(self) -> bool:
        """
        Whether the last update detected a drift.
        """
    @property
    def drift_threshold(self) -> float: ...
    @property
    def error_rate(self) -> float:
        """
        Running error rate.
        """
    @property
    def n_detections(self) -> int:
        """
        Number of drifts detected since construction or the last reset().
        """
    @property
    def warm_start(self) -> int: ...
    @property
    def warning_detected(self) -> bool:
        """
        Whether the last update is in the warning zone.
        """
    @property
    def warning_threshold(self) -> float: ...

class EDDM:
    """
    Compiled EDDM detector (see mlwf_core.drift.EDDM).
    """
    @staticmethod
    def update(x):
        """
        Feed one value; True when a drift is detected at this point.
        """
    def __init__(
        self,
        warm_start: typing.SupportsInt | typing.SupportsIndex = 30,
        alpha: typing.SupportsFloat | typing.SupportsIndex = 0.95,
        beta: typing.SupportsFloat | typing.SupportsIndex = 0.9,
    ) -> None: ...
    def _get_state(self) -> dict: ...
    def _set_state(self, arg0: dict) -> None: ...
    def reset(self) -> None:
        """
        Return to the freshly constructed state.
        """
    def update_many(
        self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]
    ) -> numpy.typing.NDArray[numpy.int64]:
        """
        Feed an array in order; returns the int64 indices where a drift was detected.
        """
    @property
    def alpha(self) -> float: ...
    @property
    def beta(self) -> float: ...
    @property
    def drift_detected(self) -> bool:
        """
        Whether the last update detected a drift.
        """
    @property
    def n_detections(self) -> int:
        """
        Number of drifts detected since construction or the last reset().
        """
    @property
    def warm_start(self) -> int: ...
    @property
    def warning_detected(self) -> bool:
        """
        Whether the last update is in the warning zone.
        """

class KSWIN:
    """
    Compiled KSWIN detector (see mlwf_core.drift.KSWIN).
    """
    @staticmethod
    def update(x):
        """
        Feed one value; True when a drift is detected at this point.
        """
    def __init__(
        self,
        alpha: typing.SupportsFloat | typing.SupportsIndex = 0.005,
        window_size: typing.SupportsInt | typing.SupportsIndex = 100,
        stat_size: typing.SupportsInt | typing.SupportsIndex = 30,
        seed: typing.SupportsInt | typing.SupportsIndex = 0,
    ) -> None: ...
    def _get_state(self) -> dict: ...
    def _set_state(self, arg0: dict) -> None: ...
    def reset(self) -> None:
        """
        Return to the freshly constructed state.
        """
    def update_many(
        self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]
    ) -> numpy.typing.NDArray[numpy.int64]:
        """
        Feed an array in order; returns the int64 indices where a drift was detected.
        """
    @property
    def alpha(self) -> float: ...
    @property
    def drift_detected(self) -> bool:
        """
        Whether the last update detected a drift.
        """
    @property
    def n_detections(self) -> int:
        """
        Number of drifts detected since construction or the last reset().
        """
    @property
    def p_value(self) -> float:
        """
        p-value of the last KS test.
        """
    @property
    def seed(self) -> int: ...
    @property
    def stat_size(self) -> int: ...
    @property
    def window(self) -> list[float]:
        """
        The points of the window, oldest first.
        """
    @property
    def window_size(self) -> int: ...

class TreeShap:
    def __init__(self, arrays: dict) -> None:
        """
        Path-dependent TreeSHAP on the arrays of mlwf_core.deploy._forest.forest_arrays (which must hold 'cover').
        """
    def explain_into(
        self,
        X: typing.Annotated[numpy.typing.ArrayLike, numpy.float32],
        out: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    ) -> None:
        """
        Contributions of n rows into out (n, n_groups, n_features + 1); the last column is the expected value.
        """
    def explain_row(
        self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]
    ) -> numpy.typing.NDArray[numpy.float64]:
        """
        Contributions of one row, shape (n_groups, n_features + 1), on the caller's thread.
        """
    @property
    def expected_value(self) -> numpy.typing.NDArray[numpy.float64]: ...
    @property
    def max_depth(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    @property
    def n_groups(self) -> int: ...
    @property
    def n_trees(self) -> int: ...

def _calibrate_adwin(
    proto: ADWIN,
    reference: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    target: typing.SupportsFloat | typing.SupportsIndex,
    n_replicates: typing.SupportsInt | typing.SupportsIndex,
    horizon: typing.SupportsInt | typing.SupportsIndex,
    seed: typing.SupportsInt | typing.SupportsIndex,
) -> tuple: ...
def _calibrate_cusum(
    proto: CUSUM,
    reference: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    target: typing.SupportsFloat | typing.SupportsIndex,
    n_replicates: typing.SupportsInt | typing.SupportsIndex,
    horizon: typing.SupportsInt | typing.SupportsIndex,
    seed: typing.SupportsInt | typing.SupportsIndex,
) -> tuple: ...
def _calibrate_page_hinkley(
    proto: PageHinkley,
    reference: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    target: typing.SupportsFloat | typing.SupportsIndex,
    n_replicates: typing.SupportsInt | typing.SupportsIndex,
    horizon: typing.SupportsInt | typing.SupportsIndex,
    seed: typing.SupportsInt | typing.SupportsIndex,
) -> tuple: ...
def _ks_2samp_sf(
    n: typing.SupportsInt | typing.SupportsIndex, h: typing.SupportsInt | typing.SupportsIndex
) -> float:
    """
    P(D >= h / n) for the two-sample KS statistic of two samples of size n.
    """

def accuracy(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    y_pred: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> float:
    """
    Accuracy of predicted labels.
    """

def accuracy_proba(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    proba: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> float:
    """
    Accuracy of the labels implied by probabilities (p > 0.5, or row argmax).
    """

def confusion_matrix(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    y_pred: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> tuple:
    """
    (matrix, present): weighted confusion matrix of label codes (row = true) and the mask of classes seen in y_true or y_pred.
    """

def confusion_matrix_proba(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    proba: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> tuple:
    """
    confusion_matrix of the labels implied by probabilities (p > 0.5, or row argmax).
    """

def date_parts_into(
    offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    data: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8],
    valid: typing.Annotated[numpy.typing.ArrayLike, numpy.bool_] | None,
    format: str,
    parts: collections.abc.Sequence[typing.SupportsInt],
    origins: collections.abc.Sequence[typing.SupportsFloat],
    cols: collections.abc.Sequence[typing.SupportsInt],
    out: numpy.typing.NDArray[numpy.float32],
) -> None:
    """
    Date parts of text dates (Arrow offsets and bytes) written into columns of a row-major float32 matrix: out[:, cols[k]] = part parts[k] (0 year, 1 month, 2 day, 3 ISO weekday, 4 hour, 5 days since 1970-01-01 minus origins[k]); NaN where a value is missing or does not parse. Each value is parsed once. Runs without the GIL.
    """

def get_metric_threads() -> int: ...
def interleave_columns(
    out: numpy.typing.NDArray[numpy.float32],
    cols: collections.abc.Sequence[typing.SupportsInt],
    sources: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.float32]],
) -> None:
    """
    Write 1-D float32 columns into a row-major float32 matrix in place: out[:, cols[s]] = sources[s]. Runs without the GIL.
    """

def log_loss(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    proba: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
    eps: typing.SupportsFloat | typing.SupportsIndex = 2.220446049250313e-16,
) -> float:
    """
    Log loss of probabilities clipped to [eps, 1-eps].
    """

def mae(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    y_pred: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> float:
    """
    Mean absolute error.
    """

def mse(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    y_pred: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> float:
    """
    Mean squared error.
    """

def parse_datetime_into(
    offsets: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    data: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8],
    valid: typing.Annotated[numpy.typing.ArrayLike, numpy.bool_] | None,
    format: str,
    out_us: numpy.typing.NDArray[numpy.int64],
    out_ok: numpy.typing.NDArray[numpy.bool_],
) -> None:
    """
    Parse text dates held as Arrow offsets (int64) and bytes, as the C++ plan does: microseconds since 1970-01-01 into out_us (int64) and whether each value parsed into out_ok (bool). format is 'iso', 'dmy' or 'mdy'. Runs without the GIL.
    """

def precision_recall_f1(
    matrix: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    present: typing.Annotated[numpy.typing.ArrayLike, numpy.bool],
    average: str,
) -> tuple[float, float, float]:
    """
    (precision, recall, f1) from a confusion matrix, zero_division=0.
    """

def r2(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    y_pred: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> float:
    """
    Coefficient of determination (force_finite like scikit-learn).
    """

def rmse(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    y_pred: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> float:
    """
    Root mean squared error.
    """

def roc_auc(
    y_true: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    y_score: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> float:
    """
    ROC AUC: binary for 1-D scores (or 2 columns), one-vs-rest macro for K > 2 columns.
    """

def set_metric_threads(n: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    Most threads a metric kernel may use (the fit sets it from n_jobs).
    """

__version__: str = "0.1.0"
