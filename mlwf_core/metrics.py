"""Evaluation metrics: compiled kernels and the registry the search optimises.

Every metric runs in C++ (``mlwf_core._core``) with the GIL released, takes optional
sample weights and matches :mod:`sklearn.metrics` (``zero_division=0``, ``force_finite``).

Classification metrics take integer class codes ``0..K-1`` as ``y_true``. Registry
entries (:class:`Metric`) are always called with probabilities: shape ``(n,)`` holding
P(class 1) for a binary task, ``(n, K)`` for a multiclass one; label metrics threshold at
0.5 (ties go to class 0, as ``predict`` does) or take the row argmax. Regression metrics
take predicted values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mlwf_core import _core
from mlwf_core.exceptions import DataError, ParameterError

__all__ = [
    "METRICS",
    "Direction",
    "Metric",
    "accuracy",
    "default_metric",
    "evaluate_all",
    "f1",
    "get_metric",
    "is_better",
    "log_loss",
    "mae",
    "mse",
    "precision",
    "r2",
    "recall",
    "rmse",
    "roc_auc",
]

Direction = Literal["maximize", "minimize"]
Average = Literal["binary", "macro", "weighted"]

_TASKS = ("binary", "multiclass", "regression")
_AVERAGES = ("binary", "macro", "weighted")
_EPS = float(np.finfo(np.float64).eps)
_DEFAULTS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


# ---------------------------------------------------------------------------------------
# Input conversion
# ---------------------------------------------------------------------------------------


def _as_float(x: Any, name: str, ndim: tuple[int, ...] = (1,)) -> np.ndarray:
    """Contiguous float64 view of ``x`` (no copy when it already is one)."""
    if hasattr(x, "to_numpy") and not isinstance(x, np.ndarray):
        x = x.to_numpy()
    try:
        arr = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{name} must be numeric (class codes, probabilities or values); it could not be "
            f"converted to float64: {exc}"
        ) from None
    if arr.ndim not in ndim:
        shapes = " or ".join(f"{d}-D" for d in ndim)
        raise DataError(f"{name} must be a {shapes} array; got shape {arr.shape}.")
    return arr


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = _as_float(sample_weight, "sample_weight")
    if w.shape[0] != n:
        raise DataError(
            f"sample_weight has {w.shape[0]} rows but y_true has {n}; pass one weight per row."
        )
    # Values (finite, non-negative, not all zero) are checked by the kernels in their pass.
    return w


def _prepare(
    y_true: Any, y_pred: Any, sample_weight: Any, pred_ndim: tuple[int, ...] = (1,)
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y = _as_float(y_true, "y_true")
    p = _as_float(y_pred, "y_pred", pred_ndim)
    if y.shape[0] != p.shape[0]:
        raise DataError(
            f"y_true has {y.shape[0]} rows but y_pred has {p.shape[0]}; "
            "pass arrays of the same length."
        )
    if y.shape[0] == 0:
        raise DataError("y_true is empty; a metric needs at least one row.")
    return y, p, _weights(sample_weight, y.shape[0])


def _check_average(average: str, func: str) -> None:
    if average not in _AVERAGES:
        raise ParameterError(
            f"The 'average' parameter of {func} must be one of {list(_AVERAGES)}. "
            f"Got {average!r} instead."
        )


# ---------------------------------------------------------------------------------------
# Plain functions (scikit-learn-like signatures)
# ---------------------------------------------------------------------------------------


def roc_auc(y_true: Any, y_score: Any, sample_weight: Any = None) -> float:
    """Area under the ROC curve.

    Parameters
    ----------
    y_true
        Class codes: 0 / 1 for 1-D scores, ``0..K-1`` for a 2-D ``(n, K)`` score matrix.
    y_score
        Scores of class 1 (any monotone score, ties allowed), or class probabilities
        ``(n, K)``: two columns score class 1, more give the one-vs-rest macro average
        (scikit-learn's ``multi_class="ovr"``).
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    float
        The AUC in [0, 1].

    Raises
    ------
    DataError
        If ``y_true`` holds one class only, holds codes other than ``0..K-1``, the lengths
        differ, or ``y_score`` contains NaN.
    """
    y, s, w = _prepare(y_true, y_score, sample_weight, (1, 2))
    return _core.roc_auc(y, s, w)


def log_loss(y_true: Any, proba: Any, sample_weight: Any = None, eps: float = _EPS) -> float:
    """Mean negative log-likelihood (cross-entropy) of the true classes.

    Parameters
    ----------
    y_true
        Class codes ``0..K-1``.
    proba
        P(class 1) with shape ``(n,)`` for a binary task, or ``(n, K)`` probabilities.
    sample_weight
        Optional non-negative weights, one per row.
    eps
        Probabilities are clipped to ``[eps, 1 - eps]``; the default, the float64 machine
        epsilon, is what scikit-learn 1.9 uses.

    Returns
    -------
    float
        The weighted mean log loss (natural logarithm).

    Raises
    ------
    DataError
        If a probability is NaN or outside [0, 1], or a class code is out of range.
    """
    if not (isinstance(eps, float | int) and 0.0 < eps < 0.5):
        raise ParameterError(
            f"The 'eps' parameter of log_loss must be a number in (0, 0.5). Got {eps!r} instead."
        )
    y, p, w = _prepare(y_true, proba, sample_weight, (1, 2))
    return _core.log_loss(y, p, w, float(eps))


def accuracy(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Share of rows, by weight, whose predicted label equals the true one.

    Parameters
    ----------
    y_true, y_pred
        Class codes (labels, not probabilities).
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    float
        Accuracy in [0, 1].
    """
    y, p, w = _prepare(y_true, y_pred, sample_weight)
    return _core.accuracy(y, p, w)


def _prf(
    y_true: Any, y_pred: Any, average: str, sample_weight: Any, func: str
) -> tuple[float, float, float]:
    _check_average(average, func)
    y, p, w = _prepare(y_true, y_pred, sample_weight)
    matrix, present = _core.confusion_matrix(y, p, w)
    return _core.precision_recall_f1(matrix, present, average)


def precision(
    y_true: Any, y_pred: Any, average: Average = "binary", sample_weight: Any = None
) -> float:
    """Precision: of the rows predicted as a class, the share that belong to it.

    Parameters
    ----------
    y_true, y_pred
        Class codes (labels, not probabilities).
    average
        ``"binary"`` scores class 1; ``"macro"`` averages the classes present in
        ``y_true`` or ``y_pred``; ``"weighted"`` weighs them by their support.
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    float
        Precision in [0, 1]; a class never predicted scores 0 (scikit-learn's
        ``zero_division=0``), without a warning.
    """
    return _prf(y_true, y_pred, average, sample_weight, "precision")[0]


def recall(
    y_true: Any, y_pred: Any, average: Average = "binary", sample_weight: Any = None
) -> float:
    """Recall: of the rows of a class, the share predicted as that class.

    Parameters
    ----------
    y_true, y_pred
        Class codes (labels, not probabilities).
    average
        ``"binary"``, ``"macro"`` or ``"weighted"``, as in :func:`precision`.
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    float
        Recall in [0, 1] (``zero_division=0``).
    """
    return _prf(y_true, y_pred, average, sample_weight, "recall")[1]


def f1(y_true: Any, y_pred: Any, average: Average = "binary", sample_weight: Any = None) -> float:
    """F1 score, the harmonic mean of precision and recall.

    Parameters
    ----------
    y_true, y_pred
        Class codes (labels, not probabilities).
    average
        ``"binary"``, ``"macro"`` or ``"weighted"``, as in :func:`precision`.
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    float
        F1 in [0, 1] (``zero_division=0``).
    """
    return _prf(y_true, y_pred, average, sample_weight, "f1")[2]


def mse(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Mean squared error.

    Parameters
    ----------
    y_true, y_pred
        Observed and predicted values, shape ``(n,)``.
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    float
        The weighted mean of the squared errors.
    """
    y, p, w = _prepare(y_true, y_pred, sample_weight)
    return _core.mse(y, p, w)


def rmse(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Root mean squared error, ``sqrt(mse)``.

    Parameters
    ----------
    y_true, y_pred
        Observed and predicted values, shape ``(n,)``.
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    float
        The square root of the weighted mean squared error.
    """
    y, p, w = _prepare(y_true, y_pred, sample_weight)
    return _core.rmse(y, p, w)


def mae(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Mean absolute error.

    Parameters
    ----------
    y_true, y_pred
        Observed and predicted values, shape ``(n,)``.
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    float
        The weighted mean of the absolute errors.
    """
    y, p, w = _prepare(y_true, y_pred, sample_weight)
    return _core.mae(y, p, w)


def r2(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Coefficient of determination R².

    Parameters
    ----------
    y_true, y_pred
        Observed and predicted values, shape ``(n,)``.
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    float
        ``1 - SS_res / SS_tot``; when ``y_true`` is constant, 1.0 for a perfect prediction
        and 0.0 otherwise (scikit-learn's ``force_finite=True``).

    Raises
    ------
    DataError
        If there are fewer than two rows (R² is not defined).
    """
    y, p, w = _prepare(y_true, y_pred, sample_weight)
    if y.shape[0] < 2:
        raise DataError("r2 needs at least two rows; got 1. Score a larger sample.")
    return _core.r2(y, p, w)


# ---------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------

_Scorer = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], float]


@dataclass(frozen=True)
class Metric:
    """A metric the search can optimise.

    Parameters
    ----------
    name
        Registry key, e.g. ``"roc_auc"``.
    direction
        ``"maximize"`` or ``"minimize"``; passed as is to ``optuna.create_study``.
    needs_proba
        True when the metric scores the probabilities themselves (ROC AUC, log loss);
        label metrics derive labels from the probabilities they are given.
    tasks
        The tasks the metric applies to, among ``binary``, ``multiclass``, ``regression``.
    """

    name: str
    direction: Direction
    needs_proba: bool
    tasks: frozenset[str]
    _score: _Scorer = field(repr=False, compare=False)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
        """Score predictions.

        Parameters
        ----------
        y_true
            Class codes ``0..K-1`` (classification) or observed values (regression).
        y_pred
            Probabilities, ``(n,)`` = P(class 1) for binary or ``(n, K)``, for
            classification; predicted values ``(n,)`` for regression.
        sample_weight
            Optional non-negative weights, one per row.

        Returns
        -------
        float
            The metric value.
        """
        ndim = (1,) if self.tasks == {"regression"} else (1, 2)
        y, p, w = _prepare(y_true, y_pred, sample_weight, ndim)
        return float(self._score(y, p, w))


def _from_proba(average: str, index: int) -> _Scorer:
    def score(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
        matrix, present = _core.confusion_matrix_proba(y, p, w)
        return _core.precision_recall_f1(matrix, present, average)[index]

    return score


def _r2(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    if y.shape[0] < 2:
        raise DataError("r2 needs at least two rows; got 1. Score a larger sample.")
    return _core.r2(y, p, w)


def _build_registry() -> dict[str, Metric]:
    cls = frozenset({"binary", "multiclass"})
    binary = frozenset({"binary"})
    reg = frozenset({"regression"})
    entries = [
        Metric("roc_auc", "maximize", True, cls, _core.roc_auc),
        Metric("log_loss", "minimize", True, cls, lambda y, p, w: _core.log_loss(y, p, w, _EPS)),
        Metric("accuracy", "maximize", False, cls, _core.accuracy_proba),
        Metric("precision", "maximize", False, binary, _from_proba("binary", 0)),
        Metric("recall", "maximize", False, binary, _from_proba("binary", 1)),
        Metric("f1", "maximize", False, binary, _from_proba("binary", 2)),
    ]
    for average in ("macro", "weighted"):
        for index, stem in enumerate(("precision", "recall", "f1")):
            entries.append(
                Metric(f"{stem}_{average}", "maximize", False, cls, _from_proba(average, index))
            )
    entries += [
        Metric("mse", "minimize", False, reg, _core.mse),
        Metric("rmse", "minimize", False, reg, _core.rmse),
        Metric("mae", "minimize", False, reg, _core.mae),
        Metric("r2", "maximize", False, reg, _r2),
    ]
    return {m.name: m for m in entries}


METRICS: dict[str, Metric] = _build_registry()


def _check_task(task: str, func: str) -> None:
    if task not in _TASKS:
        raise ParameterError(
            f"The 'task' parameter of {func} must be one of {list(_TASKS)}. Got {task!r} instead."
        )


def _names_for(task: str) -> list[str]:
    return [name for name, m in METRICS.items() if task in m.tasks]


def get_metric(name: str, task: str) -> Metric:
    """Look up a metric by name for a task.

    Parameters
    ----------
    name
        A key of :data:`METRICS`.
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.

    Returns
    -------
    Metric
        The registry entry.

    Raises
    ------
    ParameterError
        If the task is unknown or the metric does not apply to it; the message lists the
        valid names for the task.
    """
    _check_task(task, "get_metric")
    metric = METRICS.get(name)
    if metric is None or task not in metric.tasks:
        raise ParameterError(
            f"The 'metric' parameter must be one of {_names_for(task)} for a {task} task. "
            f"Got {name!r} instead."
        )
    return metric


def default_metric(task: str) -> str:
    """Name of the metric optimised when none is given.

    Parameters
    ----------
    task
        ``"binary"`` (``roc_auc``), ``"multiclass"`` (``log_loss``) or ``"regression"``
        (``rmse``).

    Returns
    -------
    str
        The metric name.
    """
    _check_task(task, "default_metric")
    return _DEFAULTS[task]


def evaluate_all(
    y_true: Any, y_pred: Any, task: str, sample_weight: Any = None
) -> dict[str, float]:
    """Every metric of a task on one set of predictions.

    Parameters
    ----------
    y_true
        Class codes or observed values.
    y_pred
        Probabilities (classification) or predicted values (regression), as for
        :meth:`Metric.__call__`.
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    sample_weight
        Optional non-negative weights, one per row.

    Returns
    -------
    dict[str, float]
        Metric name to value, in registry order. ``roc_auc`` is NaN when it is undefined
        (a class absent from ``y_true``); every other problem raises.
    """
    _check_task(task, "evaluate_all")
    ndim = (1,) if task == "regression" else (1, 2)
    y, p, w = _prepare(y_true, y_pred, sample_weight, ndim)
    out: dict[str, float] = {}
    if task == "regression":
        for name in _names_for(task):
            out[name] = float(METRICS[name]._score(y, p, w))
        return out
    # One confusion matrix serves every label metric.
    matrix, present = _core.confusion_matrix_proba(y, p, w)
    prf = {a: _core.precision_recall_f1(matrix, present, a) for a in ("macro", "weighted")}
    if task == "binary":
        prf["binary"] = _core.precision_recall_f1(matrix, present, "binary")
    for name in _names_for(task):
        if name == "roc_auc":
            try:
                out[name] = float(_core.roc_auc(y, p, w))
            except DataError as exc:
                if "only one class" not in str(exc):
                    raise
                out[name] = math.nan
        elif name == "log_loss":
            out[name] = float(_core.log_loss(y, p, w, _EPS))
        elif name == "accuracy":
            out[name] = float(np.trace(matrix) / matrix.sum())
        else:
            stem, _, average = name.partition("_")
            index = ("precision", "recall", "f1").index(stem)
            out[name] = float(prf[average or "binary"][index])
    return out


def is_better(a: float, b: float, direction: Direction) -> bool:
    """Whether score ``a`` is strictly better than ``b`` in the given direction.

    A number is better than NaN; NaN is never better.

    Parameters
    ----------
    a, b
        Scores to compare.
    direction
        ``"maximize"`` or ``"minimize"``.

    Returns
    -------
    bool
        True when ``a`` beats ``b``.
    """
    if direction not in ("maximize", "minimize"):
        raise ParameterError(
            "The 'direction' parameter of is_better must be 'maximize' or 'minimize'. "
            f"Got {direction!r} instead."
        )
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if direction == "maximize" else a < b
