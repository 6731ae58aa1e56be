"""What the service and batch scoring need from a model, whatever scores it.

A :class:`Backend` validates raw records against the model's input schema (so a bad
request is answered with the offending field named) and scores them through the
compiled :class:`~mlwf_core.deploy.Scorer` when it can load the artifact, or through
:class:`~mlwf_core.automl.AutoModel` (Polars plan and the learners' own predict) when it
cannot. Both give the same predictions; the scorer is the fast one.

This module imports neither the web framework nor the learners.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlwf_core.exceptions import MlwfError, ParameterError, SchemaError

__all__ = ["Backend", "RecordError", "as_backend", "load_backend"]

_TRUE = frozenset({"yes", "true", "y", "t", "1"})
_FALSE = frozenset({"no", "false", "n", "f", "0"})
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class RecordError(SchemaError):
    """A record of a request does not fit the model's input schema.

    Attributes
    ----------
    field
        The offending field (column) name, or ``None`` when the record itself is wrong.
    index
        Position of the record in the request (0 for a single record).
    """

    def __init__(self, message: str, field: str | None = None, index: int = 0) -> None:
        super().__init__(message)
        self.field = field
        self.index = index


def _numeric(name: str, value: Any, index: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return _finite(name, float(value), index)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            out = float(text)
        except ValueError:
            raise RecordError(
                f"Field {name!r} of record {index} must be a number, as in training. "
                f"Got the string {value!r} instead.",
                name,
                index,
            ) from None
        return _finite(name, out, index)
    raise RecordError(
        f"Field {name!r} of record {index} must be a number or null. "
        f"Got {type(value).__name__} {_short(value)} instead.",
        name,
        index,
    )


def _finite(name: str, value: float, index: int) -> float | None:
    if math.isnan(value):
        return None
    # features are float32: beyond its range a value is infinite, which the learners reject
    if not -_FLOAT32_MAX <= value <= _FLOAT32_MAX:
        raise RecordError(
            f"Field {name!r} of record {index} must be a finite number within +-{_FLOAT32_MAX:.4g}. "
            f"Got {value!r} instead.",
            name,
            index,
        )
    return value


def _categorical(name: str, value: Any, index: int) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        # Polars writes booleans cast to text this way, as the training plan saw them
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) else str(value)
    raise RecordError(
        f"Field {name!r} of record {index} must be a string (a category) or null. "
        f"Got {type(value).__name__} {_short(value)} instead.",
        name,
        index,
    )


def _boolean(name: str, value: Any, index: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return 1.0
        if text in _FALSE:
            return 0.0
        if text == "":
            return None
    raise RecordError(
        f"Field {name!r} of record {index} must be a boolean (true/false, 1/0, yes/no) or null. "
        f"Got {_short(value)} instead.",
        name,
        index,
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _scalar(name: str, value: Any, index: int) -> Any:
    # a column of unknown kind: any JSON scalar, checked further by the scorer
    if isinstance(value, float):
        return _finite(name, value, index)
    if value is None or isinstance(value, (str, int)):
        return value
    raise RecordError(
        f"Field {name!r} of record {index} must be a number, a string or null. "
        f"Got {type(value).__name__} {_short(value)} instead.",
        name,
        index,
    )


_CONVERT = {"numeric": _numeric, "categorical": _categorical, "boolean": _boolean}
_DTYPES = {"numeric": pl.Float64, "categorical": pl.String, "boolean": pl.Float64}


class Backend:
    """A loaded model behind the service: input schema, metadata and scoring.

    Build it with :func:`load_backend` (an artifact path) or :func:`as_backend` (an
    :class:`~mlwf_core.automl.AutoModel`, a :class:`~mlwf_core.deploy.Scorer`, a path).

    Parameters
    ----------
    model
        The object that scores: a ``Scorer`` or an ``AutoModel``.
    manifest
        The artifact's manifest (metadata and plan); may be partial for a bare scorer.
    version
        The version string reported with every prediction.
    name
        The model's name (the registry name, or the artifact's file stem).

    Attributes
    ----------
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    classes
        Class labels of a classifier (``[]`` for regression).
    columns
        Input columns as ``(name, kind)`` with kind ``numeric``, ``categorical``,
        ``boolean`` or ``any`` (passed through unchecked).
    engine
        ``"scorer"`` (compiled) or ``"automodel"``.
    path
        The artifact file, when loaded from one.
    """

    def __init__(
        self, model: Any, manifest: Mapping[str, Any], version: str, name: str = "model"
    ) -> None:
        self.model = model
        self.manifest = dict(manifest)
        self.version = version
        self.name = name
        #: the artifact the model came from (explanations fall back to it)
        self.path: Path | None = None
        self._automodel: Any = None
        self._lock = threading.Lock()
        self.engine = "automodel" if hasattr(model, "members_") else "scorer"
        self.task: str = (
            getattr(model, "task_", None) or getattr(model, "task", None) or "regression"
        )
        classes = getattr(model, "classes_", None)
        self.classes: list[Any] = [] if self.task == "regression" else list(classes or [])
        plan = self.manifest.get("plan") or {}
        if plan.get("columns"):
            self.plan_columns = [dict(c) for c in plan["columns"]]
        else:
            names = getattr(model, "feature_names_", None) or []
            self.plan_columns = [{"name": n, "kind": "any"} for n in names]
        self.columns = [(c["name"], c["kind"]) for c in self.plan_columns]
        self._converters = [(n, _CONVERT.get(k, _scalar)) for n, k in self.columns]
        self._labels = (
            np.asarray(
                self.classes, dtype=object if len({type(c) for c in self.classes}) > 1 else None
            )
            if self.classes
            else None
        )

    # ------------------------------------------------------------------ schema
    @property
    def input_schema(self) -> list[dict[str, Any]]:
        """One entry per input column: ``name``, ``kind``, JSON ``type`` and known ``levels``."""
        out = []
        for spec in self.plan_columns:
            kind = spec["kind"]
            entry: dict[str, Any] = {
                "name": spec["name"],
                "kind": kind,
                "type": {"numeric": "number", "categorical": "string", "boolean": "boolean"}.get(
                    kind, "any"
                ),
                "nullable": True,
            }
            if "levels" in spec:
                entry["levels"] = list(spec["levels"])
            out.append(entry)
        return out

    def validate(self, records: Sequence[Any]) -> dict[str, list[Any]]:
        """Check and normalise records into typed columns.

        Every input column must be present in every record (``null`` is a missing
        value); extra fields are ignored.

        Raises
        ------
        RecordError
            A record is not an object, lacks a column or has a value of the wrong type.
        """
        columns: dict[str, list[Any]] = {n: [] for n, _ in self.columns}
        for i, record in enumerate(records):
            if type(record) is not dict and not isinstance(record, Mapping):
                raise RecordError(
                    f"Record {i} must be a JSON object of column -> value. "
                    f"Got {type(record).__name__} {_short(record)} instead.",
                    None,
                    i,
                )
            for name, convert in self._converters:
                if name not in record:
                    raise RecordError(
                        f"Record {i} lacks the required field {name!r}; send null for a "
                        "missing value.",
                        name,
                        i,
                    )
                columns[name].append(convert(name, record[name], i))
        return columns

    def frame(self, columns: Mapping[str, list[Any]]) -> pl.DataFrame:
        """A typed Polars frame of validated columns."""
        series = []
        for name, kind in self.columns:
            dtype = _DTYPES.get(kind)
            try:
                series.append(pl.Series(name, columns[name], dtype=dtype, strict=False))
            except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
                raise RecordError(
                    f"Field {name!r} holds values of mixed types ({exc}).", name
                ) from exc
        return pl.DataFrame(series)

    # ------------------------------------------------------------------ scoring
    def outputs(self, frame: pl.DataFrame) -> tuple[list[Any], np.ndarray | None]:
        """Predictions and (for classifiers) class probabilities of a validated frame."""
        model = self.model
        try:
            if self.task == "regression":
                return np.asarray(model.predict(frame), dtype=np.float64).tolist(), None
            proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
        except MlwfError:
            raise
        except (ValueError, TypeError, pl.exceptions.PolarsError) as exc:
            raise SchemaError(f"The records cannot be scored: {exc}") from exc
        labels = self._labels[proba.argmax(axis=1)]  # type: ignore[index]
        return labels.tolist(), proba

    def predict_records(self, records: Sequence[Any]) -> tuple[list[Any], np.ndarray | None]:
        """Validate and score records.

        Returns
        -------
        tuple
            ``(predictions, probabilities)``: predictions as JSON-able Python values,
            probabilities of shape ``(n, n_classes)`` (``None`` for regression).
        """
        if not records:
            return [], (None if self.task == "regression" else np.zeros((0, len(self.classes))))
        columns = self.validate(records)
        if len(records) == 1 and self.engine == "scorer":
            return self._one(columns)
        return self.outputs(self.frame(columns))

    def _one(self, columns: Mapping[str, list[Any]]) -> tuple[list[Any], np.ndarray | None]:
        # the compiled record path: no frame, microseconds
        record = {name: values[0] for name, values in columns.items()}
        model = self.model
        if self.task == "regression":
            return [float(model.predict_record(record))], None
        proba = np.asarray(model.predict_proba(record), dtype=np.float64).reshape(1, -1)
        return [self._labels[int(proba[0].argmax())].item()], proba  # type: ignore[index]

    @property
    def can_explain(self) -> bool:
        """Whether per-prediction contributions are available."""
        return (
            self.engine == "automodel"
            or hasattr(self.model, "explain_record")
            or self.path is not None
        )

    def _explainer(self) -> Any:
        # The compiled scorer without explanations: the learners' own TreeSHAP, from the
        # same artifact, loaded on first use.
        with self._lock:
            if self._automodel is None:
                from mlwf_core.automl import AutoModel

                self._automodel = AutoModel.load(self.path)  # type: ignore[arg-type]
            return self._automodel

    def explain_records(self, records: Sequence[Any]) -> list[dict[str, float]]:
        """Per-feature contributions (TreeSHAP, raw-margin space) of each record.

        For multiclass models the contributions are to the predicted class's margin.
        Each dict holds one entry per feature plus ``"base_value"``.
        """
        columns = self.validate(records)
        if not records:
            return []
        if self.engine == "scorer" and hasattr(self.model, "explain_record"):
            out = []
            for i in range(len(records)):
                record = {name: values[i] for name, values in columns.items()}
                contrib = self.model.explain_record(record)
                out.append({str(k): float(v) for k, v in dict(contrib).items()})
            return out
        model = self.model if self.engine == "automodel" else self._explainer()
        return _automodel_contributions(model, self.frame(columns))

    def metadata(self) -> dict[str, Any]:
        """Input schema, classes, metrics and the model card."""
        m = self.manifest
        card_keys = (
            "created",
            "mlwf_version",
            "libraries",
            "n_rows",
            "fit_seconds",
            "data_fingerprint",
            "seed",
            "time_budget",
            "strategy",
            "success",
            "lineage",
        )
        ensemble = [
            {"learner": e.get("learner"), "weight": e.get("weight"), "trial": e.get("trial")}
            for e in m.get("ensemble", [])
        ]
        return {
            "name": self.name,
            "version": self.version,
            "engine": self.engine,
            "task": self.task,
            "target": m.get("target"),
            "metric": m.get("metric"),
            "classes": self.classes,
            "input_schema": self.input_schema,
            "metrics": {
                "cv_score": m.get("cv_score"),
                "cv_scores": m.get("cv_scores", {}),
                "test_scores": m.get("test_scores"),
            },
            "model_card": {
                **{k: m[k] for k in card_keys if k in m},
                "ensemble": ensemble,
            },
        }


def _automodel_contributions(model: Any, frame: pl.DataFrame) -> list[dict[str, float]]:
    X = model.transform(frame)
    names = list(model.plan_.features)
    n, d = X.shape
    task = model.task_
    k = len(model.classes_) if task == "multiclass" else 1
    total = np.zeros((n, k, d + 1))
    for member in model.members_:
        if member.learner == "lightgbm":
            contrib = np.asarray(member.booster.predict(X, pred_contrib=True))
        else:
            import xgboost

            contrib = np.asarray(
                member.booster.predict(xgboost.DMatrix(X, missing=np.nan), pred_contribs=True)
            )
        total += member.weight * contrib.reshape(n, k, d + 1)
    if k > 1:
        margin = total.sum(axis=2)
        total = total[np.arange(n), margin.argmax(axis=1)][:, None, :]
    out = []
    for i in range(n):
        row = {names[j]: float(total[i, 0, j]) for j in range(d)}
        row["base_value"] = float(total[i, 0, d])
        out.append(row)
    return out


def _file_version(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def load_backend(
    path: str | os.PathLike[str],
    *,
    version: str | None = None,
    name: str | None = None,
    n_threads: int | None = None,
    engine: str = "auto",
) -> Backend:
    """Load an artifact for serving: the compiled scorer, or the AutoModel when it cannot.

    Parameters
    ----------
    path
        A ``.mlwf`` artifact.
    version
        Version to report; defaults to a short sha256 of the file.
    name
        Model name; defaults to the file stem.
    n_threads
        Threads of the compiled scorer's batch calls.
    engine
        ``"auto"`` (scorer, else AutoModel), ``"scorer"`` or ``"automodel"``.

    Raises
    ------
    ArtifactError
        The file is missing, corrupted or of an unknown format.
    """
    from mlwf_core.deploy._artifact import read_artifact

    if engine not in ("auto", "scorer", "automodel"):
        raise ParameterError(
            "The 'engine' parameter of load_backend must be 'auto', 'scorer' or 'automodel'. "
            f"Got {engine!r} instead."
        )
    source = Path(path).expanduser()
    manifest = read_artifact(source).manifest
    model: Any = None
    if engine in ("auto", "scorer"):
        try:
            from mlwf_core.deploy._scorer import Scorer

            model = Scorer.load(source, n_threads=n_threads)
        except (ImportError, AttributeError, MlwfError):
            # the compiled scorer is unavailable for this artifact: score with the learners
            if engine == "scorer":
                raise
            model = None
    if model is None:
        from mlwf_core.automl import AutoModel

        model = AutoModel.load(source)
        if n_threads is not None:
            model.n_jobs_ = n_threads
    backend = Backend(model, manifest, version or _file_version(source), name or source.stem)
    backend.path = source
    return backend


def as_backend(model: Any, *, version: str | None = None, name: str | None = None) -> Backend:
    """A :class:`Backend` of anything servable: a Backend, a path, an AutoModel or a Scorer.

    Raises
    ------
    ParameterError
        ``model`` is none of these.
    """
    if isinstance(model, Backend):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_backend(model, version=version, name=name)
    if hasattr(model, "members_") and hasattr(model, "_manifest"):
        manifest = model._manifest()
        digest = hashlib.sha256(
            f"{manifest.get('data_fingerprint')}|{manifest.get('created')}".encode()
        ).hexdigest()[:16]
        return Backend(model, manifest, version or f"sha256:{digest}", name or "model")
    if hasattr(model, "predict_record") and hasattr(model, "predict"):
        manifest = {"task": getattr(model, "task", None)}
        plan = getattr(model, "plan_", None) or getattr(model, "_plan_dict", None)
        if isinstance(plan, Mapping):
            manifest["plan"] = dict(plan)
        return Backend(model, manifest, version or "unversioned", name or "model")
    raise ParameterError(
        "The 'scorer' parameter of make_app must be a Scorer, an AutoModel or the path of a "
        f".mlwf artifact. Got {type(model).__name__} instead."
    )
