"""Preprocessing: from a raw Polars frame to the float32 matrix the learners see.

:class:`Preprocessor` learns a :class:`Plan`, plain JSON-able data that says how
each input column becomes a feature. The Plan is the contract between training
and serving: :meth:`Plan.transform` applies it with Polars for training and batch
scoring, and the compiled scorer replays the same ops in C++.

Plan format (``Plan.to_dict()``)::

    {"version": 1,
     "columns": [{"name": "tenure", "kind": "numeric"},
                 {"name": "contract", "kind": "categorical", "levels": ["Month-to-month", ...]},
                 {"name": "paperless", "kind": "boolean"}],
     "features": ["tenure", "contract", "paperless"]}

Feature ``j`` comes from column ``j``: numbers as float32 (missing -> NaN),
categories as the index of the value in ``levels`` (unseen or missing -> NaN),
booleans as 1 / 0 (missing -> NaN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from mlwf_core._typing import Float32Array
from mlwf_core.exceptions import NotFittedError, ParameterError, SchemaError
from mlwf_core.schema import Schema

__all__ = ["PLAN_VERSION", "Plan", "Preprocessor"]

PLAN_VERSION = 1
KINDS = ("numeric", "categorical", "boolean")
_TRUE_TOKENS = ["yes", "true", "y", "t", "1"]
_FALSE_TOKENS = ["no", "false", "n", "f", "0"]
# Levels beyond this many (the rarest) are treated as missing: trees gain little from
# them and the category maps stay small enough for the scorer.
_MAX_LEVELS = 1000


@dataclass
class Plan:
    """The fitted preprocessing of a model, as plain data.

    Attributes
    ----------
    columns
        One dict per input column: ``name``, ``kind`` and, for categoricals,
        ``levels`` (the category values as strings; index = code).
    """

    columns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        """Names of the matrix columns, in order."""
        return [c["name"] for c in self.columns]

    @property
    def input_columns(self) -> list[str]:
        """Raw columns the plan reads."""
        return [c["name"] for c in self.columns]

    @property
    def categorical_features(self) -> list[int]:
        """Indices of the matrix columns that hold category codes."""
        return [j for j, c in enumerate(self.columns) if c["kind"] == "categorical"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form stored in the artifact's manifest."""
        return {
            "version": PLAN_VERSION,
            "columns": [dict(c) for c in self.columns],
            "features": self.features,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Rebuild a plan from :meth:`to_dict` output, checking its version and op kinds."""
        version = data.get("version")
        if version != PLAN_VERSION:
            raise SchemaError(
                f"Plan version {version!r} is not supported (this mlwf reads version {PLAN_VERSION})."
            )
        columns = [dict(c) for c in data["columns"]]
        for c in columns:
            if c.get("kind") not in KINDS:
                raise SchemaError(
                    f"Plan column {c.get('name')!r} has unknown kind {c.get('kind')!r}."
                )
        return cls(columns=columns)

    def transform(self, frame: pl.DataFrame) -> Float32Array:
        """Apply the plan: raw frame in, C-contiguous float32 matrix out.

        Extra columns are ignored and column order does not matter.

        Raises
        ------
        SchemaError
            A column the model needs is missing, or holds values of a type it
            cannot use (e.g. text in a numeric column).
        """
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise SchemaError(
                f"The data lacks column(s) {missing} that the model was trained on. "
                "Add them (missing values are allowed) and try again."
            )
        exprs = [self._expr(spec, frame.schema[spec["name"]]) for spec in self.columns]
        if not exprs:
            return np.empty((frame.height, 0), dtype=np.float32)
        try:
            out = frame.select(exprs)
        except pl.exceptions.InvalidOperationError as exc:
            raise SchemaError(
                f"A column could not be converted to the type the model expects: {exc}"
            ) from exc
        self._check_numeric_casts(frame, out)
        matrix = out.to_numpy(order="c")
        return np.ascontiguousarray(matrix, dtype=np.float32)

    def _expr(self, spec: Mapping[str, Any], dtype: pl.DataType) -> pl.Expr:
        name, kind = spec["name"], spec["kind"]
        col = pl.col(name)
        if kind == "numeric":
            if dtype == pl.Boolean:
                col = col.cast(pl.Int8)
            elif not (
                dtype.is_numeric() or dtype == pl.Null or dtype in (pl.String, pl.Categorical)
            ):
                raise SchemaError(
                    f"Column {name!r} must be numeric, as in training. Got type {dtype} instead; "
                    "convert it to numbers."
                )
            if dtype in (pl.String, pl.Categorical):
                col = col.cast(pl.String).str.strip_chars()
            return (
                col.cast(pl.Float32, strict=False)
                .fill_nan(None)
                .fill_null(float("nan"))
                .alias(name)
            )
        if kind == "categorical":
            levels = spec["levels"]
            return (
                col.cast(pl.String)
                .replace_strict(
                    levels, list(range(len(levels))), default=None, return_dtype=pl.Float32
                )
                .fill_null(float("nan"))
                .alias(name)
            )
        # boolean
        if dtype == pl.Boolean:
            return col.cast(pl.Float32).fill_null(float("nan")).alias(name)
        if dtype.is_numeric():
            return col.cast(pl.Float32).fill_null(float("nan")).alias(name)
        text = col.cast(pl.String).str.strip_chars().str.to_lowercase()
        return (
            pl.when(text.is_in(_TRUE_TOKENS))
            .then(pl.lit(1.0, pl.Float32))
            .when(text.is_in(_FALSE_TOKENS))
            .then(pl.lit(0.0, pl.Float32))
            .otherwise(pl.lit(float("nan"), pl.Float32))
            .alias(name)
        )

    def _check_numeric_casts(self, frame: pl.DataFrame, out: pl.DataFrame) -> None:
        # A numeric column sent as text must parse; silently scoring "abc" as missing
        # would hide a broken upstream feed.
        for spec in self.columns:
            name = spec["name"]
            if spec["kind"] != "numeric" or frame.schema[name] not in (pl.String, pl.Categorical):
                continue
            raw = frame[name].cast(pl.String).str.strip_chars()
            bad = raw.is_not_null() & (raw != "") & out[name].is_nan()
            if bad.any():
                value = raw.filter(bad)[0]
                raise SchemaError(
                    f"Column {name!r} must be numeric, as in training, but holds the value {value!r}. "
                    "Fix or remove such values."
                )


class Preprocessor:
    """Learn a :class:`Plan` from training data.

    Parameters
    ----------
    max_levels
        Most frequent category levels kept per column; rarer ones score as missing.
    """

    def __init__(self, max_levels: int = _MAX_LEVELS, *, seed: int = 0, n_jobs: int = 1) -> None:
        self.max_levels = max_levels
        self.seed = seed
        self.n_jobs = n_jobs

    def fit(self, frame: pl.DataFrame, schema: Schema, y: np.ndarray | None = None) -> Preprocessor:
        """Learn the plan of the schema's feature columns.

        Parameters
        ----------
        frame
            Training rows (target rows already cleaned).
        schema
            Column roles; its ``task`` tells how ``y`` is encoded.
        y
            Encoded target (class codes or values) aligned with ``frame``, for
            supervised steps; ``None`` fits the unsupervised steps only.

        Returns
        -------
        Preprocessor
            ``self``, with ``plan_`` set.
        """
        if self.max_levels < 1:
            raise ParameterError(
                f"The 'max_levels' parameter must be at least 1. Got {self.max_levels} instead."
            )
        columns: list[dict[str, Any]] = []
        for name in schema.features:
            role = schema.roles[name]
            if role in ("numeric",):
                columns.append({"name": name, "kind": "numeric"})
            elif role == "boolean":
                columns.append({"name": name, "kind": "boolean"})
            elif role == "categorical":
                columns.append(
                    {"name": name, "kind": "categorical", "levels": self._levels(frame[name])}
                )
            # datetime and text columns need derived features (data layer); they are
            # left out here rather than mis-encoded.
        self.plan_ = Plan(columns=columns)
        return self

    def _levels(self, col: pl.Series) -> list[str]:
        counts = (
            col.cast(pl.String)
            .drop_nulls()
            .value_counts(sort=False)
            .sort(["count", col.name], descending=[True, False])
        )
        kept = counts[col.name].head(self.max_levels).to_list()
        return sorted(kept)

    def transform(self, frame: pl.DataFrame) -> Float32Array:
        """Apply the learned plan (see :meth:`Plan.transform`)."""
        if not hasattr(self, "plan_"):
            raise NotFittedError("This Preprocessor is not fitted yet; call fit first.")
        return self.plan_.transform(frame)


def feature_frame(matrix: np.ndarray, names: Sequence[str]) -> pl.DataFrame:
    """Wrap a feature matrix as a Polars frame (for reports and explanations)."""
    return pl.DataFrame({n: matrix[:, j] for j, n in enumerate(names)})
