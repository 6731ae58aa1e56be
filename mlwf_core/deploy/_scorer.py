"""The compiled scorer: a model's plan and forest in C++, raw records in, predictions out.

:class:`Forest` scores already-numeric float32 matrices with the exact decision rules of
LightGBM and XGBoost; :class:`Scorer` adds the model's fitted preprocessing (the Plan),
so raw records with string categoricals and missing fields score without Polars,
LightGBM or XGBoost at runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlwf_core._typing import FloatArray
from mlwf_core.exceptions import ArtifactError, ParameterError, SchemaError

__all__ = ["Forest"]

_TASKS = ("binary", "multiclass", "regression")


def _core() -> Any:
    from mlwf_core import _core

    return _core


def _check_threads(n_threads: int | None, owner: str) -> int:
    if n_threads is None:
        return 0
    if isinstance(n_threads, bool) or not isinstance(n_threads, int | np.integer) or n_threads < 1:
        raise ParameterError(
            f"The 'n_threads' parameter of {owner} must be a positive integer or None. "
            f"Got {n_threads!r} instead."
        )
    return int(n_threads)


def _as_matrix(X: Any, n_features: int) -> np.ndarray:
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ParameterError(
            f"The 'X' parameter must be a 2-D array of {n_features} feature columns. "
            f"Got an array of shape {arr.shape} instead."
        )
    if arr.shape[1] != n_features:
        raise SchemaError(
            f"The model expects {n_features} feature columns. Got {arr.shape[1]} instead; "
            "pass the columns in the order the model was trained on."
        )
    if arr.dtype.kind not in "fiub":
        raise ParameterError(
            f"The 'X' parameter must hold numbers. Got dtype {arr.dtype} instead; pass a "
            "frame of raw columns to score string categoricals."
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


class Forest:
    """A compiled tree ensemble (one or several weighted boosters).

    Build it with :meth:`from_arrays` from the output of
    :func:`mlwf_core.deploy._forest.forest_arrays`. Inputs are float32 feature matrices;
    sums are accumulated in double.

    Attributes
    ----------
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    n_classes
        Number of classes (0 for regression).
    n_features
        Number of feature columns expected.
    n_outputs
        Raw margins per row (number of classes for multiclass, else 1).
    """

    def __init__(self, compiled: Any, task: str, n_classes: int) -> None:
        self._f = compiled
        self.task = task
        self.n_classes = n_classes
        self.n_features = int(compiled.n_features)
        self.n_outputs = int(compiled.n_groups)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], task: str, n_classes: int) -> Forest:
        """Compile a forest from its exported arrays.

        Parameters
        ----------
        arrays
            The arrays of ``forest_arrays`` (or of an artifact's ``forest/`` members).
        task
            ``"binary"``, ``"multiclass"`` or ``"regression"``.
        n_classes
            Number of classes of a classifier; ignored for regression.

        Raises
        ------
        ArtifactError
            The arrays are inconsistent (corrupted or truncated model).
        """
        if task not in _TASKS:
            raise ParameterError(
                "The 'task' parameter of Forest.from_arrays must be 'binary', 'multiclass' or "
                f"'regression'. Got {task!r} instead."
            )
        core = _core()
        try:
            compiled = core.Forest(dict(arrays))
        except (core.ForestError, ValueError, TypeError, RuntimeError) as exc:
            raise ArtifactError(f"The model's forest cannot be loaded: {exc}") from exc
        expected = n_classes if task == "multiclass" else 1
        if int(compiled.n_groups) != expected:
            raise ArtifactError(
                f"The model's forest has {compiled.n_groups} outputs per row but a {task} "
                f"model with {n_classes} classes needs {expected}."
            )
        return cls(compiled, task, n_classes if task != "regression" else 0)

    def predict_raw(self, X: Any, n_threads: int | None = None) -> FloatArray:
        """Raw margins (the blend before the link).

        Parameters
        ----------
        X
            Float feature matrix of shape ``(n_rows, n_features)``.
        n_threads
            Threads to use; ``None`` uses all cores.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n_rows,)`` or ``(n_rows, n_classes)`` for multiclass.
        """
        threads = _check_threads(n_threads, "Forest.predict_raw")
        X = _as_matrix(X, self.n_features)
        out = np.empty((X.shape[0], self.n_outputs), dtype=np.float64)
        self._f.predict_raw_into(X, out, threads)
        return out if self.n_outputs > 1 else out[:, 0]

    def predict(self, X: Any, n_threads: int | None = None) -> FloatArray:
        """Predictions after the link: probabilities of the positive class (binary), class
        probabilities (multiclass) or values (regression); shapes as :meth:`predict_raw`."""
        threads = _check_threads(n_threads, "Forest.predict")
        X = _as_matrix(X, self.n_features)
        out = np.empty((X.shape[0], self.n_outputs), dtype=np.float64)
        self._f.predict_into(X, out, threads)
        return out if self.n_outputs > 1 else out[:, 0]

    def predict_row(self, x: Any) -> float | FloatArray:
        """:meth:`predict` of one row (1-D array) on the caller's thread."""
        return self._f.predict_row(x)
