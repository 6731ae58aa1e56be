"""The compiled scorer: a model's plan and forest in C++, raw records in, predictions out.

:class:`Forest` scores already-numeric float32 matrices with the exact decision rules of
LightGBM and XGBoost; :class:`Scorer` adds the model's fitted preprocessing (the Plan),
so raw records with string categoricals and missing fields score without Polars,
LightGBM or XGBoost at runtime.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlwf_core._typing import FloatArray
from mlwf_core.exceptions import ArtifactError, ParameterError, SchemaError

__all__ = ["Forest", "Scorer"]

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
        # the exported arrays (with per-node cover), for TreeSHAP on first explain
        self._arrays: Mapping[str, np.ndarray] | None = None

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
        forest = cls(compiled, task, n_classes if task != "regression" else 0)
        forest._arrays = dict(arrays)
        return forest

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


def _is_frame(X: Any) -> bool:
    module = type(X).__module__.split(".")[0]
    return module in ("polars", "pandas", "pyarrow")


class Scorer:
    """Score a saved model (or a raw booster) in compiled code.

    Build it with :meth:`load` (a ``.mlwf`` artifact: the model's plan and forest) or
    :meth:`from_booster` (a bare LightGBM / XGBoost booster on numeric features). Scoring
    needs neither Polars nor the learners: records with string categoricals and missing
    fields go through the model's plan in C++. A Scorer is immutable and may be shared
    by threads; batch calls release the GIL.

    Parameters
    ----------
    forest
        The compiled forest.
    plan
        The model's plan dict (``manifest["plan"]``), or ``None`` for numeric inputs only.
    classes
        Original class labels of a classifier, in the order of the model's outputs.
    n_threads
        Threads for batch scoring; ``None`` uses all cores.

    Attributes
    ----------
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    classes_
        Class labels (classifiers) or ``None``.
    feature_names_
        Names of the plan's input columns (``None`` without a plan).
    n_features_
        Number of numeric features the forest reads.
    """

    def __init__(
        self,
        forest: Forest,
        plan: Mapping[str, Any] | None = None,
        classes: list[Any] | None = None,
        n_threads: int | None = None,
    ) -> None:
        self._forest = forest
        self._threads = _check_threads(n_threads, "Scorer")
        self.n_threads = n_threads
        self.task = forest.task
        self.n_features_ = forest.n_features
        self.classes_ = list(classes) if classes is not None else None
        if self.task != "regression":
            n = forest.n_classes
            if self.classes_ is None:
                self.classes_ = list(range(n))
            if len(self.classes_) != n:
                raise ArtifactError(
                    f"The model has {n} classes but its manifest lists {len(self.classes_)}."
                )
            kinds = {type(c) for c in self.classes_}
            self._labels = np.asarray(self.classes_, dtype=object if len(kinds) > 1 else None)
        core = _core()
        self._row = forest._f.predict_row
        self._plan = None
        self._records = None
        self._date_formats: dict[str, str] = {}
        self.feature_names_: list[str] | None = None
        if plan is not None:
            try:
                self._plan = core.Plan(dict(plan))
                self._records = core.RecordScorer(self._plan, forest._f)
            except (core.PlanError, ValueError, TypeError, KeyError) as exc:
                raise ArtifactError(f"The model's plan cannot be loaded: {exc}") from exc
            self._columns = [(name, kind) for name, kind in self._plan.columns]
            # typed dates reach the plan's date ops as text in the format of training
            self._date_formats = {
                op["inputs"][0]: op["format"]
                for op in plan.get("ops", [])
                if op.get("op") == "date_part"
            }
            self.feature_names_ = [name for name, _ in self._columns]
            self._record = self._records.predict_record
        self._shap: Any = None
        features = list(plan.get("features") or []) if plan is not None else []
        self._explain_names = (
            [str(f) for f in features]
            if len(features) == forest.n_features
            else [f"f{j}" for j in range(forest.n_features)]
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, path: str | os.PathLike[str], n_threads: int | None = None) -> Scorer:
        """Load the scorer of a ``.mlwf`` artifact saved by ``AutoModel.save``.

        Parameters
        ----------
        path
            The artifact. Its checksums and format version are verified; nothing in it is
            executed.
        n_threads
            Threads for batch scoring; ``None`` uses all cores.

        Raises
        ------
        ArtifactError
            The file is missing, corrupted, truncated or of an unknown version.
        """
        from mlwf_core.deploy._artifact import read_artifact

        artifact = read_artifact(path)
        m = artifact.manifest
        try:
            task = m["task"]
            classes = m.get("classes") if task != "regression" else None
            n_classes = len(classes) if classes else 0
            arrays = artifact.arrays
            if not arrays:
                arrays = _arrays_from_boosters(artifact, task, n_classes)
            forest = Forest.from_arrays(arrays, task, n_classes)
            return cls(forest, m["plan"], classes, n_threads)
        except KeyError as exc:
            raise ArtifactError(f"{str(path)!r} lacks the manifest entry {exc}.") from exc

    @classmethod
    def from_booster(cls, booster: Any, n_threads: int | None = None) -> Scorer:
        """A scorer of one raw booster on numeric features (weight 1, no plan).

        Parameters
        ----------
        booster
            A ``lightgbm.Booster`` or ``xgboost.Booster``. Binary and multiclass objectives
            give a classifier with classes ``0 .. k-1``; others a regressor.
        n_threads
            Threads for batch scoring; ``None`` uses all cores.
        """
        from mlwf_core.deploy._forest import booster_arrays

        arrays, task, n_classes = booster_arrays(booster)
        return cls(Forest.from_arrays(arrays, task, n_classes), None, None, n_threads)

    # ------------------------------------------------------------------ inputs
    def transform(self, data: Any) -> np.ndarray:
        """The float32 feature matrix of a Polars / pandas frame, by the C++ plan.

        Raises
        ------
        SchemaError
            A column of the plan is missing or holds values of the wrong type.
        """
        columns, n = self._frame_columns(data)
        out = np.empty((n, self.n_features_), dtype=np.float32)
        try:
            self._plan.transform_columns(columns, n, out)
        except _core().PlanError as exc:
            raise SchemaError(str(exc)) from exc
        return out

    def _frame_columns(self, data: Any) -> tuple[list[Any], int]:
        import polars as pl

        if self._plan is None:
            raise ParameterError(
                "This scorer has no plan (built from a raw booster): pass a numeric 2-D array."
            )
        if type(data).__module__.split(".")[0] == "pandas":
            data = pl.from_pandas(data)
        elif type(data).__module__.split(".")[0] == "pyarrow":
            data = pl.from_arrow(data)
        if not isinstance(data, pl.DataFrame):
            raise ParameterError(
                "The 'data' parameter must be a 2-D numeric array or a Polars / pandas frame. "
                f"Got {type(data).__name__} instead."
            )
        missing = [name for name, _ in self._columns if name not in data.columns]
        if missing:
            raise SchemaError(
                f"The data lacks column(s) {missing} that the model was trained on. "
                "Add them (missing values are allowed) and try again."
            )
        out: list[Any] = []
        for name, kind in self._columns:
            s = data[name]
            dtype = s.dtype
            if dtype == pl.Null:
                out.append(None)
            elif kind == "categorical" or dtype in (pl.String, pl.Categorical, pl.Enum):
                out.append(_string_column(s.cast(pl.String)))
            elif dtype == pl.Boolean:
                out.append(("bool", s.cast(pl.Float64).fill_null(np.nan).to_numpy()))
            elif dtype.is_numeric():
                # integers are flagged so that ops reading them as text print "3", as Polars does
                tag = "i64" if dtype.is_integer() else "f64"
                out.append((tag, s.cast(pl.Float64).fill_null(np.nan).to_numpy()))
            elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
                if kind != "input":
                    raise SchemaError(
                        f"Column {name!r} must be {kind}, as in training. Got type {dtype} "
                        "instead; convert it."
                    )
                # dates reach the plan's date ops as text in the column's training format
                # (wall-clock time, whole seconds)
                if isinstance(dtype, pl.Datetime) and dtype.time_zone:
                    s = s.dt.replace_time_zone(None)
                day, stamp = _DATE_TEXT[self._date_formats.get(name, "iso")]
                out.append(_string_column(s.dt.strftime(day if dtype == pl.Date else stamp)))
            else:
                raise SchemaError(
                    f"Column {name!r} must be {kind}, as in training. Got type {dtype} instead; "
                    "convert it."
                )
        return out, data.height

    # ------------------------------------------------------------------ scoring
    def _outputs(self, X: Any) -> np.ndarray:
        """Link outputs for a matrix or frame: (n,) or (n, k)."""
        if _is_frame(X) and self._plan is not None:
            columns, n = self._frame_columns(X)
            out = np.empty((n, self._forest.n_outputs), dtype=np.float64)
            try:
                self._records.predict_columns_into(columns, n, out, self._threads)
            except _core().PlanError as exc:
                raise SchemaError(str(exc)) from exc
            return out if out.shape[1] > 1 else out[:, 0]
        if _is_frame(X):
            X = X.to_numpy()
        return self._forest.predict(X, n_threads=self.n_threads)

    def _labels_of(self, outputs: np.ndarray) -> np.ndarray:
        if outputs.ndim == 1:
            return self._labels[(outputs > 0.5).astype(np.intp)]
        return self._labels[outputs.argmax(axis=1)]

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (classifiers) or values (regression) of a batch.

        Parameters
        ----------
        X
            A 2-D float array of features, or a Polars / pandas frame of raw columns
            (needs a plan).
        """
        outputs = self._outputs(X)
        return outputs if self.task == "regression" else self._labels_of(outputs)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        ``X`` may be a batch (2-D array or frame: shape ``(n, n_classes)``), one row
        (1-D array) or one record (dict); the last two give shape ``(n_classes,)``.
        """
        if self.task == "regression":
            raise ParameterError(
                "predict_proba is only defined for classifiers; this model does regression."
            )
        if type(X) is np.ndarray and X.ndim == 1:  # the single-row hot path first
            p = self._row(X)
        elif isinstance(X, Mapping):
            p = self._record_output(X)
        elif not _is_frame(X) and np.ndim(X) == 1:
            p = self._row(np.asarray(X, dtype=np.float32))
        else:
            p = self._outputs(X)
            return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p
        return np.array([1.0 - p, p]) if self.task == "binary" else p

    def predict_raw(self, X: Any) -> np.ndarray:
        """Raw margins (the ensemble blend before the link) of a numeric 2-D array."""
        return self._forest.predict_raw(X, n_threads=self.n_threads)

    def predict_row(self, x: Any) -> Any:
        """Prediction of one row of numeric features (1-D array), on the caller's thread.

        Returns the class label (classifiers) or the value (regression).
        """
        v = self._row(x)
        if self.task == "regression":
            return v
        if self.task == "binary":
            return self._labels[1] if v > 0.5 else self._labels[0]
        return self._labels[int(np.argmax(v))]

    def _record_output(self, record: Mapping[str, Any]) -> Any:
        if self._records is None:
            raise ParameterError(
                "This scorer has no plan (built from a raw booster); use predict_row with "
                "numeric features."
            )
        if not isinstance(record, dict):
            record = dict(record)
        if self._date_formats:
            record = _dates_as_text(record, self._date_formats)
        try:
            return self._record(record)
        except _core().PlanError as exc:
            raise SchemaError(str(exc)) from exc

    def predict_record(self, record: Mapping[str, Any]) -> Any:
        """Prediction of one raw record: ``{"column": value, ...}``.

        Values are as in the training data: numbers, strings (categoricals), booleans;
        missing keys and ``None`` are missing values, unseen categories are missing too.
        Returns the class label (classifiers) or the value (regression).
        """
        v = self._record_output(record)
        if self.task == "regression":
            return v
        if self.task == "binary":
            return self._labels[1] if v > 0.5 else self._labels[0]
        return self._labels[int(np.argmax(v))]

    # ------------------------------------------------------------------ explanations
    def _explainer(self) -> Any:
        if self._shap is None:
            arrays = self._forest._arrays
            core = _core()
            if arrays is None or "cover" not in arrays:
                raise ArtifactError(
                    "This model's forest has no per-node cover, which explanations need: it was "
                    "saved by an older mlwf. Load it with mlwf_core.load and save it again."
                )
            try:
                self._shap = core.TreeShap(dict(arrays))
            except (core.ForestError, ValueError) as exc:
                raise ArtifactError(f"The model's forest cannot be explained: {exc}") from exc
        return self._shap

    def explain(self, X: Any) -> np.ndarray:
        """Per-feature contributions (path-dependent TreeSHAP) of a batch, in raw-margin space.

        Parameters
        ----------
        X
            A 2-D float array of features, or a Polars / pandas frame of raw columns
            (needs a plan).

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n, n_features + 1)``, or ``(n, n_classes, n_features + 1)``
            for multiclass (the layouts of LightGBM ``pred_contrib`` and XGBoost
            ``pred_contribs``). The last column is the expected value; each row sums to the
            raw margin (log-odds, class score or value before the link).
        """
        shap = self._explainer()
        X = self.transform(X) if _is_frame(X) else _as_matrix(X, self.n_features_)
        out = np.empty((X.shape[0], self._forest.n_outputs, self.n_features_ + 1))
        shap.explain_into(X, out, self._threads)
        return out if self._forest.n_outputs > 1 else out[:, 0, :]

    def explain_record(self, record: Mapping[str, Any], output: Any = None) -> dict[str, float]:
        """Per-feature contributions of one raw record, on the caller's thread.

        Parameters
        ----------
        record
            ``{"column": value, ...}`` as for :meth:`predict_record`.
        output
            Multiclass only: the class label to explain; ``None`` explains the predicted
            class.

        Returns
        -------
        dict of str to float
            One entry per model feature (the plan's features, engineered ones included) and
            ``"base_value"``; the values sum to the raw margin of the explained output.
        """
        if self._records is None:
            raise ParameterError(
                "This scorer has no plan (built from a raw booster); use explain with "
                "numeric features."
            )
        shap = self._explainer()
        if not isinstance(record, dict):
            record = dict(record)
        try:
            x = self._records.transform_record(record)
        except _core().PlanError as exc:
            raise SchemaError(str(exc)) from exc
        phi = shap.explain_row(x)
        if phi.shape[0] == 1:
            row = phi[0]
        elif output is None:
            row = phi[int(phi.sum(axis=1).argmax())]
        else:
            if output not in self.classes_:
                raise ParameterError(
                    "The 'output' parameter of Scorer.explain_record must be one of the "
                    f"classes {self.classes_}. Got {output!r} instead."
                )
            row = phi[self.classes_.index(output)]
        values = row.tolist()
        out = dict(zip(self._explain_names, values[:-1], strict=True))
        out["base_value"] = values[-1]
        return out

    def __repr__(self) -> str:
        return (
            f"Scorer(task={self.task!r}, n_features={self.n_features_}, "
            f"n_trees={self._forest._f.n_trees})"
        )


def _string_column(s: Any) -> tuple[Any, ...]:
    import polars as pl

    arr = s.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if hasattr(arr, "combine_chunks"):
        arr = arr.combine_chunks()
    n = len(arr)
    validity, offsets, chars = arr.buffers()[:3]
    start = arr.offset
    off = np.frombuffer(offsets, dtype=np.int64)[start : start + n + 1]
    data = np.frombuffer(chars, dtype=np.uint8) if chars is not None else np.zeros(0, np.uint8)
    if off.size != n + 1:
        off = np.zeros(n + 1, dtype=np.int64)
    valid = np.frombuffer(validity, dtype=np.uint8) if validity is not None else None
    return ("str", off, data, valid, start)


def _arrays_from_boosters(artifact: Any, task: str, n_classes: int) -> dict[str, np.ndarray]:
    """Forest arrays rebuilt from the artifact's boosters (artifacts saved without them)."""
    from mlwf_core.deploy._forest import forest_arrays

    members = []
    for spec in artifact.manifest["ensemble"]:
        data = artifact.files[spec["file"]]
        if spec["learner"] == "lightgbm":
            import lightgbm

            booster = lightgbm.Booster(model_str=data.decode())
        else:
            import xgboost

            booster = xgboost.Booster()
            booster.load_model(bytearray(data))
        members.append({"learner": spec["learner"], "booster": booster, "weight": spec["weight"]})
    return forest_arrays(members, task, n_classes)


# strftime layouts of dates and timestamps, by the date format a plan's date ops parse
_DATE_TEXT = {
    "iso": ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"),
    "dmy": ("%d/%m/%Y", "%d/%m/%Y %H:%M:%S"),
    "mdy": ("%m/%d/%Y", "%m/%d/%Y %H:%M:%S"),
}


def _dates_as_text(record: dict[str, Any], formats: Mapping[str, str]) -> dict[str, Any]:
    """The record with date / datetime values of date columns as text in their format."""
    out = None
    for name, fmt in formats.items():
        value = record.get(name)
        if isinstance(value, _dt.date):
            if out is None:
                out = dict(record)
            day, stamp = _DATE_TEXT.get(fmt, _DATE_TEXT["iso"])
            out[name] = value.strftime(stamp if isinstance(value, _dt.datetime) else day)
    return record if out is None else out
