"""Preprocessing: from a raw Polars frame to the float32 matrix the learners see.

:class:`Preprocessor` learns a :class:`Plan`, plain JSON-able data that says how
each input column becomes a feature. The Plan is the contract between training
and serving: :meth:`Plan.transform` applies it with Polars (and Numba for text)
for training and batch scoring, and the compiled scorer replays the same ops in
C++ (``cpp/include/mlwf/plan_ops.hpp``).

Plan format (``Plan.to_dict()``)::

    {"version": 1,
     "columns": [{"name": "tenure", "kind": "numeric"},
                 {"name": "contract", "kind": "categorical", "levels": ["Month-to-month", ...]},
                 {"name": "paperless", "kind": "boolean"}],
     "ops": [{"op": "date_part", "inputs": ["signup"], "output": "signup__year",
              "format": "iso", "part": "year", "origin": 0.0},
             {"op": "ratio", "inputs": ["charges", "tenure"], "output": "charges__div__tenure"}],
     "features": ["tenure", "contract", "paperless", "signup__year", "charges__div__tenure"]}

The matrix holds the ``columns`` features first, then one feature per op, in order.
Columns: numbers as float32 (missing -> NaN), categories as the index of the value
in ``levels`` (unseen or missing -> NaN), booleans as 1 / 0 (missing -> NaN).

A model only carries op kinds its deployed scorer can replay: by default the
:class:`Preprocessor` asks the compiled core which kinds it knows
(:func:`replayable_ops`) and falls back to the plain column kinds for the rest.

Ops read raw input columns (*raw ops*) or features computed before them (*derived
ops*: ``ratio``, ``difference``, ``product``, ``pca``, whose inputs name columns'
or raw ops' outputs). In raw ops a value is missing when it is null, NaN, or text
that is one of :data:`mlwf_core.io.NA_TOKENS` after stripping whitespace; text of
non-string inputs is the value cast to string. Per-record semantics:

``parse_number`` (``format``)
    numbers stored as text (see :func:`mlwf_core.schema.parse_number_expr`); unparseable -> NaN.
``category_pooled`` (``levels``)
    index in ``levels``; any other value (rare levels pooled at fit, unseen ones)
    -> ``len(levels)``; missing -> NaN. A categorical feature.
``frequency``, ``target_mean``, ``group_mean``, ``group_count`` (``levels``, ``values``, ``default``, ``missing``)
    ``values[i]`` for ``levels[i]``; ``default`` for other values; ``missing`` when missing.
``date_part`` (``format``, ``part``, ``origin``)
    the ``part`` (``year``, ``month``, ``day``, ``weekday`` 1 = Monday .. 7, ``hour``,
    ``elapsed_days``: fractional days since 1970-01-01 minus ``origin``) of a
    datetime, or of text in ``format`` (``iso``, ``dmy``, ``mdy``); unparseable -> NaN.
``text_length``, ``word_count``, ``token_hash`` (``bucket``, ``n_buckets``)
    code points; runs of non-whitespace; tokens (runs of ASCII letters and digits
    or non-ASCII bytes, ASCII lower-cased) whose 32-bit FNV-1a hash modulo
    ``n_buckets`` is ``bucket``; missing -> NaN.
``missing_indicator``
    1 when missing, else 0.
``impute`` (``base``, ``levels`` / ``format``, ``value``)
    the ``base`` conversion (``numeric``, ``boolean``, ``categorical``, ``parse_number``)
    with NaN replaced by ``value``.
``ratio``, ``difference``, ``product``
    ``a / b`` (NaN when ``b`` is 0), ``a - b``, ``a * b`` in double precision; NaN propagates.
``pca`` (``mean``, ``scale``, ``weights``)
    ``sum_i weights[i] * (x_i - mean[i]) / scale[i]`` over non-NaN inputs, in input order.
"""

from __future__ import annotations

import math
import re
import time
import weakref
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from mlwf_core._typing import Float32Array
from mlwf_core.exceptions import NotFittedError, ParameterError, SchemaError
from mlwf_core.io import NA_TOKENS
from mlwf_core.schema import (
    Schema,
    clean_text_expr,
    parse_datetime,
    parse_number_expr,
)

__all__ = ["PLAN_VERSION", "Plan", "Preprocessor", "replayable_ops"]

PLAN_VERSION = 1
KINDS = ("numeric", "categorical", "boolean")
LOOKUP_OPS = frozenset({"frequency", "target_mean", "group_mean", "group_count"})
TEXT_OPS = frozenset({"text_length", "word_count", "token_hash"})
TABLE_OPS = LOOKUP_OPS | {"category_pooled"}
RAW_OPS = (
    frozenset({"parse_number", "category_pooled", "date_part", "missing_indicator", "impute"})
    | LOOKUP_OPS
    | TEXT_OPS
)
DERIVED_OPS = frozenset({"ratio", "difference", "product", "pca"})
ALL_OPS = RAW_OPS | DERIVED_OPS
_LOOKUP_PROBE = {"levels": ["x"], "values": [1.0], "default": 0.0, "missing": 0.0}
_PROBES: dict[str, dict[str, Any]] = {
    "parse_number": {"inputs": ["s"], "format": "number"},
    "category_pooled": {"inputs": ["s"], "levels": ["x"]},
    "frequency": {"inputs": ["s"], **_LOOKUP_PROBE},
    "target_mean": {"inputs": ["s"], **_LOOKUP_PROBE},
    "group_mean": {"inputs": ["s"], **_LOOKUP_PROBE},
    "group_count": {"inputs": ["s"], **_LOOKUP_PROBE},
    "date_part": {"inputs": ["s"], "format": "iso", "part": "year", "origin": 0.0},
    "text_length": {"inputs": ["s"]},
    "word_count": {"inputs": ["s"]},
    "token_hash": {"inputs": ["s"], "bucket": 0, "n_buckets": 2},
    "missing_indicator": {"inputs": ["s"]},
    "impute": {"inputs": ["s"], "base": "numeric", "value": 0.0},
    "ratio": {"inputs": ["a", "a"]},
    "difference": {"inputs": ["a", "a"]},
    "product": {"inputs": ["a", "a"]},
    "pca": {"inputs": ["a"], "mean": [0.0], "scale": [1.0], "weights": [1.0]},
}
_REPLAYABLE: frozenset[str] | None = None


def replayable_ops() -> frozenset[str]:
    """Op kinds the compiled scorer of this build replays (every kind without a compiled core).

    Each kind is probed once with a one-op plan: a model must not carry features
    its deployed scorer cannot compute.
    """
    global _REPLAYABLE
    if _REPLAYABLE is None:
        try:
            from mlwf_core import _core
        except ImportError:
            _REPLAYABLE = ALL_OPS
            return _REPLAYABLE
        kinds = set()
        for kind, probe in _PROBES.items():
            plan = {
                "version": PLAN_VERSION,
                "columns": [{"name": "a", "kind": "numeric"}],
                "ops": [{"op": kind, "output": "o", **probe}],
                "features": ["a", "o"],
            }
            try:
                _core.Plan(plan)
            except Exception:  # the build refuses or does not know this kind
                continue
            kinds.add(kind)
        _REPLAYABLE = frozenset(kinds)
    return _REPLAYABLE


DATE_PARTS = ("year", "month", "day", "weekday", "hour", "elapsed_days")
_TRUE_TOKENS = ["yes", "true", "y", "t", "1"]
_FALSE_TOKENS = ["no", "false", "n", "f", "0"]
# Levels beyond this many (the rarest) are treated as missing: trees gain little from
# them and the category maps stay small enough for the scorer.
_MAX_LEVELS = 1000
_NAN = float("nan")
# Rows used by the missing-indicator screen on large tables.
_SCREEN_ROWS = 200_000
_NA_PATTERN = r"^\s*(?:" + "|".join(re.escape(t) for t in NA_TOKENS if t) + r")?\s*$"


def _is_text(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)


def _f32(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Float32).fill_nan(None).fill_null(_NAN)


@dataclass
class Plan:
    """The fitted preprocessing of a model, as plain data.

    Attributes
    ----------
    columns
        One dict per input column used as is: ``name``, ``kind`` and, for
        categoricals, ``levels`` (the category values as strings; index = code).
    ops
        Derived features, one dict per output (see the module docstring).
    """

    columns: list[dict[str, Any]] = field(default_factory=list)
    ops: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Out-of-fold training matrix, handed out once to the transform of the very
        # frame the plan was fitted on (see Preprocessor.fit).
        self._train_ref: Any = None
        self._train_matrix: Float32Array | None = None

    @property
    def features(self) -> list[str]:
        """Names of the matrix columns, in order."""
        return [c["name"] for c in self.columns] + [op["output"] for op in self.ops]

    @property
    def input_columns(self) -> list[str]:
        """Raw columns the plan reads."""
        names = [c["name"] for c in self.columns]
        for op in self.ops:
            if op["op"] in RAW_OPS:
                names.extend(op["inputs"])
        return list(dict.fromkeys(names))

    @property
    def categorical_features(self) -> list[int]:
        """Indices of the matrix columns that hold category codes."""
        out = [j for j, c in enumerate(self.columns) if c["kind"] == "categorical"]
        base = len(self.columns)
        for j, op in enumerate(self.ops):
            if op["op"] == "category_pooled" or (
                op["op"] == "impute" and op["base"] == "categorical"
            ):
                out.append(base + j)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form stored in the artifact's manifest."""
        return {
            "version": PLAN_VERSION,
            "columns": [dict(c) for c in self.columns],
            "ops": [dict(op) for op in self.ops],
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
        ops = [dict(op) for op in data.get("ops", [])]
        known = {c["name"] for c in columns}
        for op in ops:
            kind = op.get("op")
            if kind not in RAW_OPS and kind not in DERIVED_OPS:
                raise SchemaError(f"Plan op {op.get('output')!r} has unknown kind {kind!r}.")
            if kind in DERIVED_OPS:
                absent = [name for name in op["inputs"] if name not in known]
                if absent:
                    raise SchemaError(
                        f"Plan op {op['output']!r} reads feature(s) {absent} computed after it "
                        "or not at all; derived ops may only read columns and raw ops."
                    )
            else:
                known.add(op["output"])
        plan = cls(columns=columns, ops=ops)
        if len(set(plan.features)) != len(plan.features):
            raise SchemaError("Plan feature names are not unique.")
        return plan

    # ------------------------------------------------------------ transform
    def transform(self, frame: pl.DataFrame) -> Float32Array:
        """Apply the plan: raw frame in, C-contiguous float32 matrix out.

        Extra columns are ignored and column order does not matter. The first call
        on the very frame object the plan was fitted on returns the out-of-fold
        training matrix (target encodings of each row fitted without its fold).

        Raises
        ------
        SchemaError
            A column the model needs is missing, or holds values of a type it
            cannot use (e.g. text in a numeric column).
        """
        if self._train_ref is not None and self._train_ref() is frame:
            matrix = self._train_matrix
            self._train_ref, self._train_matrix = None, None
            assert matrix is not None
            return matrix
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise SchemaError(
                f"The data lacks column(s) {missing} that the model was trained on. "
                "Add them (missing values are allowed) and try again."
            )
        return self._apply(frame)

    def _apply(
        self,
        frame: pl.DataFrame,
        oof: Mapping[str, np.ndarray] | None = None,
        parsed: Mapping[tuple[str, str], pl.Series] | None = None,
    ) -> Float32Array:
        n = frame.height
        names = self.features
        if not names:
            return np.empty((n, 0), dtype=np.float32)
        # each date column is parsed once, whatever the number of parts taken from it
        dates: dict[tuple[str, str], str] = {}
        for op in self.ops:
            if op["op"] == "date_part":
                dates.setdefault((op["inputs"][0], op["format"]), f"__mlwf_date{len(dates)}")
        if dates:
            frame = frame.with_columns(
                [
                    (
                        parsed[key]
                        if parsed and key in parsed
                        else parse_datetime(frame[key[0]], key[1])
                    ).alias(tmp)
                    for key, tmp in dates.items()
                ]
            )
        exprs = [self._expr(spec, frame.schema[spec["name"]]) for spec in self.columns]
        for op in self.ops:
            if op["op"] == "date_part":
                when = pl.col(dates[(op["inputs"][0], op["format"])])
                exprs.append(_f32(_date_part(when, op)).alias(op["output"]))
            elif op["op"] in RAW_OPS and op["op"] not in TEXT_OPS and op["op"] not in TABLE_OPS:
                exprs.append(self._op_expr(op, frame.schema[op["inputs"][0]]))
        try:
            stage = frame.select(exprs) if exprs else pl.DataFrame()
        except pl.exceptions.InvalidOperationError as exc:
            raise SchemaError(
                f"A column could not be converted to the type the model expects: {exc}"
            ) from exc
        self._check_numeric_casts(frame, stage)
        if stage.width == len(names):
            matrix = stage.to_numpy(order="c")
            if matrix.dtype != np.float32:
                matrix = matrix.astype(np.float32)
        else:
            matrix = np.empty((n, len(names)), dtype=np.float32)
            position = {name: j for j, name in enumerate(names)}
            for name in stage.columns:
                matrix[:, position[name]] = stage[name].to_numpy()
            self._text_features(frame, matrix, position)
            self._table_features(frame, matrix, position)
            self._derived_features(matrix, position)
        if oof:
            position = {name: j for j, name in enumerate(names)}
            for name, values in oof.items():
                matrix[:, position[name]] = values
        return np.ascontiguousarray(matrix, dtype=np.float32)

    def _expr(self, spec: Mapping[str, Any], dtype: pl.DataType) -> pl.Expr:
        name, kind = spec["name"], spec["kind"]
        col = pl.col(name)
        if kind == "numeric":
            if dtype == pl.Boolean:
                col = col.cast(pl.Int8)
            elif not (dtype.is_numeric() or dtype == pl.Null or _is_text(dtype)):
                raise SchemaError(
                    f"Column {name!r} must be numeric, as in training. Got type {dtype} instead; "
                    "convert it to numbers."
                )
            if _is_text(dtype):
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

    def _op_expr(self, op: Mapping[str, Any], dtype: pl.DataType) -> pl.Expr:
        kind, name = op["op"], op["inputs"][0]
        col = pl.col(name)
        if kind == "parse_number":
            return _f32(_parse_number(col, dtype, op["format"])).alias(op["output"])
        if kind == "category_pooled":
            levels = op["levels"]
            text = clean_text_expr(col)
            code = text.replace_strict(
                levels, list(range(len(levels))), default=len(levels), return_dtype=pl.Float32
            )
            return _f32(pl.when(text.is_null()).then(None).otherwise(code)).alias(op["output"])
        if kind in LOOKUP_OPS:
            text = clean_text_expr(col)
            value = text.replace_strict(
                op["levels"], op["values"], default=op["default"], return_dtype=pl.Float64
            )
            return _f32(
                pl.when(text.is_null()).then(pl.lit(op["missing"], pl.Float64)).otherwise(value)
            ).alias(op["output"])
        if kind == "missing_indicator":
            if _is_text(dtype):
                # stripped text that is an NA token, matched without building the stripped copy
                missing = col.is_null() | col.cast(pl.String).str.contains(_NA_PATTERN)
            elif dtype.is_float():
                missing = col.is_null() | col.is_nan()
            else:
                missing = col.is_null()
            return missing.cast(pl.Float32).alias(op["output"])
        # impute
        base = op["base"]
        if base == "parse_number":
            value = _f32(_parse_number(col, dtype, op["format"]))
        elif base == "category_pooled":
            # pooled codes as the category_pooled op gives them; only missing takes the fill
            pooled = {
                "op": "category_pooled",
                "inputs": [name],
                "levels": op["levels"],
                "output": name,
            }
            value = self._op_expr(pooled, dtype)
        else:
            spec = {"name": name, "kind": base, "levels": op.get("levels", [])}
            value = self._expr(spec, dtype)
        return value.fill_nan(float(op["value"])).alias(op["output"])

    def _text_features(
        self, frame: pl.DataFrame, matrix: np.ndarray, position: dict[str, int]
    ) -> None:
        by_input: dict[str, list[dict[str, Any]]] = {}
        for op in self.ops:
            if op["op"] in TEXT_OPS:
                by_input.setdefault(op["inputs"][0], []).append(op)
        if not by_input:
            return
        from mlwf_core.features._kernels import text_stats

        for name, ops in by_input.items():
            n_buckets = max([op["n_buckets"] for op in ops if op["op"] == "token_hash"], default=0)
            stats = text_stats(*_arrow_strings(frame[name]), n_buckets)
            for op in ops:
                j = position[op["output"]]
                if op["op"] == "text_length":
                    matrix[:, j] = stats[:, 0]
                elif op["op"] == "word_count":
                    matrix[:, j] = stats[:, 1]
                else:
                    matrix[:, j] = stats[:, 2 + op["bucket"]]

    def _table_features(
        self, frame: pl.DataFrame, matrix: np.ndarray, position: dict[str, int]
    ) -> None:
        # Level lookups: codes once per input column and level list (an Enum cast),
        # then every op's values gathered with NumPy.
        by_input: dict[str, list[dict[str, Any]]] = {}
        for op in self.ops:
            if op["op"] in TABLE_OPS:
                by_input.setdefault(op["inputs"][0], []).append(op)
        for name, ops in by_input.items():
            text = frame.select(clean_text_expr(pl.col(name))).to_series()
            missing = text.is_null().to_numpy()
            cached: list[tuple[list[str], np.ndarray]] = []
            for op in ops:
                levels = op["levels"]
                codes = next((c for lv, c in cached if lv == levels), None)
                if codes is None:
                    codes = _level_codes(text, levels, missing)
                    cached.append((levels, codes))
                n = len(levels)
                if op["op"] == "category_pooled":
                    table = np.append(np.arange(n, dtype=np.float64), [n, np.nan])
                else:
                    table = np.asarray(
                        list(op["values"]) + [op["default"], op["missing"]], dtype=np.float64
                    )
                matrix[:, position[op["output"]]] = table[codes]

    def _derived_features(self, matrix: np.ndarray, position: dict[str, int]) -> None:
        for op in self.ops:
            if op["op"] not in DERIVED_OPS:
                continue
            cols = [matrix[:, position[name]].astype(np.float64) for name in op["inputs"]]
            kind = op["op"]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                if kind == "ratio":
                    a, b = cols
                    out = np.where(b == 0.0, np.nan, a / np.where(b == 0.0, 1.0, b))
                elif kind == "difference":
                    out = cols[0] - cols[1]
                elif kind == "product":
                    out = cols[0] * cols[1]
                else:
                    out = np.zeros(matrix.shape[0])
                    for x, mean, scale, weight in zip(
                        cols, op["mean"], op["scale"], op["weights"], strict=True
                    ):
                        term = weight * ((x - mean) / scale)
                        out += np.where(np.isnan(x), 0.0, term)
            matrix[:, position[op["output"]]] = out

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


def _parse_number(col: pl.Expr, dtype: pl.DataType, fmt: str) -> pl.Expr:
    if dtype.is_numeric() or dtype == pl.Boolean or dtype == pl.Null:
        return col.cast(pl.Float64)
    return parse_number_expr(col, fmt)


def _date_part(when: pl.Expr, op: Mapping[str, Any]) -> pl.Expr:
    """A part of a parsed ``Datetime("us")`` column (see :func:`mlwf_core.schema.parse_datetime`)."""
    part = op["part"]
    if part == "year":
        return when.dt.year()
    if part == "month":
        return when.dt.month()
    if part == "day":
        return when.dt.day()
    if part == "weekday":
        return when.dt.weekday()
    if part == "hour":
        return when.dt.hour()
    return when.dt.epoch("us").cast(pl.Float64) / 86_400_000_000.0 - float(op["origin"])


def _level_codes(text: pl.Series, levels: list[str], missing: np.ndarray) -> np.ndarray:
    """Index of each value in ``levels``; ``len(levels)`` if absent, ``len + 1`` if missing."""
    n = len(levels)
    if n == 0:
        return np.where(missing, 1, 0)
    try:
        codes = text.cast(pl.Enum(levels), strict=False).to_physical()
    except pl.exceptions.PolarsError:
        # repeated levels cannot make an Enum; the first occurrence wins, as in a dict
        first = list(dict.fromkeys(levels))
        index = [levels.index(v) for v in first]
        codes = text.replace_strict(first, index, default=None, return_dtype=pl.Int64)
    out = codes.cast(pl.Int64).fill_null(n).to_numpy().copy()
    out[missing] = n + 1
    return out


def _arrow_strings(series: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets, bytes and validity of a string column (cleaned of NA tokens)."""
    clean = series.to_frame().select(clean_text_expr(pl.col(series.name))).to_series()
    array = clean.rechunk().to_arrow()
    import pyarrow as pa

    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(1, np.uint8)
    )
    valid = clean.is_not_null().to_numpy()
    return np.ascontiguousarray(offsets), data, np.ascontiguousarray(valid)


class Preprocessor:
    """Learn a :class:`Plan` from training data.

    Parameters
    ----------
    max_levels
        Most frequent category levels kept per column; rarer ones score as missing.
    seed
        Seed of the target-encoding folds and of feature generation.
    n_jobs
        Threads for the feature screens that use a learner.
    impute
        ``None`` (default) passes missing values to the learners, which handle
        them natively; ``"median"``, ``"mode"`` or ``"constant"`` fills them
        (categoricals: the most frequent level, or their own code with ``"constant"``).
    fill_value
        The value ``impute="constant"`` fills numeric and boolean columns with.
    rare_min_count
        Levels seen fewer times are rare: pooled into one level for native
        categoricals (when at least two are rare).
    max_native_levels
        Categoricals with more frequent levels than this get frequency and
        out-of-fold target encoding instead of native categorical splits.
    missing_indicators
        Add a 0 / 1 feature for columns whose missingness is associated with
        the target (G-test, p < 0.001).
    text_buckets
        Hashed token-count features per free-text column.
    features
        Generate features with :class:`mlwf_core.features.FeatureBuilder`:
        ``True`` (its defaults), ``False``, or a mapping of its parameters. Off
        by default: on the dev suite it did not improve the mean normalised score.
    n_folds
        Folds of the out-of-fold target encoding.
    op_kinds
        Plan op kinds the preprocessing may use: ``"auto"`` (those the compiled
        scorer of this build replays, see :func:`replayable_ops`), ``"all"``, or
        a collection of kinds. A step whose op is not allowed falls back to the
        plain column kinds (text numbers and high-cardinality columns become
        categoricals; dates, text and indicators are left out).
    """

    def __init__(
        self,
        max_levels: int = _MAX_LEVELS,
        *,
        seed: int = 0,
        n_jobs: int = 1,
        impute: str | None = None,
        fill_value: float = 0.0,
        rare_min_count: int = 10,
        max_native_levels: int = 64,
        missing_indicators: bool = True,
        text_buckets: int = 8,
        features: bool | Mapping[str, Any] = False,
        n_folds: int = 5,
        op_kinds: str | Collection[str] = "auto",
    ) -> None:
        self.max_levels = max_levels
        self.seed = seed
        self.n_jobs = n_jobs
        self.impute = impute
        self.fill_value = fill_value
        self.rare_min_count = rare_min_count
        self.max_native_levels = max_native_levels
        self.missing_indicators = missing_indicators
        self.text_buckets = text_buckets
        self.features = features
        self.n_folds = n_folds
        self.op_kinds = op_kinds

    def _validate(self) -> None:
        checks = [
            ("max_levels", self.max_levels, 1),
            ("rare_min_count", self.rare_min_count, 1),
            ("max_native_levels", self.max_native_levels, 1),
            ("text_buckets", self.text_buckets, 0),
            ("n_folds", self.n_folds, 2),
        ]
        for name, value, low in checks:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(
                    f"The '{name}' parameter of Preprocessor must be an integer >= {low}. "
                    f"Got {value!r} instead."
                )
        if self.impute not in (None, "median", "mode", "constant"):
            raise ParameterError(
                "The 'impute' parameter of Preprocessor must be None, 'median', 'mode' or "
                f"'constant'. Got {self.impute!r} instead."
            )
        if not (
            self.op_kinds in ("auto", "all")
            or (not isinstance(self.op_kinds, str) and set(self.op_kinds) <= ALL_OPS)
        ):
            raise ParameterError(
                "The 'op_kinds' parameter of Preprocessor must be 'auto', 'all' or a collection "
                f"of op kinds among {sorted(ALL_OPS)}. Got {self.op_kinds!r} instead."
            )
        if not isinstance(self.features, (bool, Mapping)):
            raise ParameterError(
                "The 'features' parameter of Preprocessor must be True, False or a mapping of "
                f"FeatureBuilder parameters. Got {self.features!r} instead."
            )

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
            supervised steps (target encoding, missing-indicator screening,
            feature generation); ``None`` fits the unsupervised steps only.

        Returns
        -------
        Preprocessor
            ``self``, with ``plan_`` set (and ``timings_``, seconds per step).
        """
        self._validate()
        start = time.monotonic()
        if y is not None:
            y = np.asarray(y, dtype=np.float64)
            if y.shape != (frame.height,):
                raise ParameterError(
                    f"The 'y' parameter of Preprocessor.fit must have one value per row "
                    f"({frame.height}). Got shape {y.shape} instead."
                )
        task = schema.task if y is not None else None
        if self.op_kinds == "auto":
            allowed = replayable_ops()
        else:
            allowed = ALL_OPS if self.op_kinds == "all" else frozenset(self.op_kinds)
        self._allowed = allowed
        self._imp = self.impute if "impute" in allowed else None
        self._taken: set[str] = set(schema.features)
        self._parsed: dict[tuple[str, str], pl.Series] = {}
        columns: list[dict[str, Any]] = []
        ops: list[dict[str, Any]] = []
        oof: dict[str, np.ndarray] = {}
        # a stream of its own: folds drawn like the user's data would align with it
        folds = np.random.default_rng((self.seed, 0x7E)).integers(
            0, self.n_folds, size=frame.height
        )
        for name in schema.features:
            role = schema.roles[name]
            dtype = frame.schema[name]
            fmt = schema.formats.get(name, "")
            if role == "numeric" and _is_text(dtype) and not {"parse_number", "impute"} & allowed:
                role = "categorical"
            if role == "numeric":
                self._numeric(frame[name], dtype, fmt, columns, ops)
            elif role == "boolean":
                self._boolean(frame, name, columns, ops)
            elif role == "categorical":
                self._categorical(frame[name], y, task, folds, columns, ops, oof)
            elif role == "datetime" and "date_part" in allowed:
                ops.extend(self._dates(frame[name], dtype, fmt))
            elif role == "text" and _is_text(dtype) and TEXT_OPS <= allowed:
                ops.extend(self._text(name))
        if self.missing_indicators and task is not None and "missing_indicator" in allowed:
            y_codes, n_y = _target_codes(y, task)
            ops.extend(self._indicators(frame, schema, y_codes, n_y))
        timings = {"preprocess": time.monotonic() - start}
        plan = Plan(columns=columns, ops=ops)
        if self.features is not False and y is not None and task is not None and plan.features:
            from mlwf_core.features import FeatureBuilder

            params = dict(self.features) if isinstance(self.features, Mapping) else {}
            params.setdefault("seed", self.seed)
            params.setdefault("n_jobs", self.n_jobs)
            params.setdefault("op_kinds", allowed)
            builder = FeatureBuilder(**params).fit(frame, plan, y, task)
            plan = Plan(columns=columns, ops=ops + builder.ops_)
            self.feature_builder_ = builder
            timings["features"] = time.monotonic() - start - timings["preprocess"]
        if oof or self._parsed:
            # The training matrix must carry out-of-fold encodings, or the learners
            # would see each row's own target through them; dates parsed here are reused.
            plan._train_matrix = plan._apply(frame, oof, self._parsed)
            plan._train_ref = weakref.ref(frame)
        self._parsed = {}
        self.plan_ = plan
        self.timings_ = timings
        return self

    def fit_transform(
        self, frame: pl.DataFrame, schema: Schema, y: np.ndarray | None = None
    ) -> Float32Array:
        """Fit, then return the training matrix (target encodings out of fold)."""
        return self.fit(frame, schema, y).plan_.transform(frame)

    def transform(self, frame: pl.DataFrame) -> Float32Array:
        """Apply the learned plan (see :meth:`Plan.transform`)."""
        if not hasattr(self, "plan_"):
            raise NotFittedError("This Preprocessor is not fitted yet; call fit first.")
        return self.plan_.transform(frame)

    # ------------------------------------------------------------ per role
    def _name(self, base: str) -> str:
        name, i = base, 2
        while name in self._taken:
            name, i = f"{base}_{i}", i + 1
        self._taken.add(name)
        return name

    def _numeric(
        self,
        col: pl.Series,
        dtype: pl.DataType,
        fmt: str,
        columns: list[dict[str, Any]],
        ops: list[dict[str, Any]],
    ) -> None:
        name = col.name
        text = _is_text(dtype)
        if self._imp is None:
            if text:
                ops.append(
                    {
                        "op": "parse_number",
                        "inputs": [name],
                        "output": name,
                        "format": fmt or "number",
                    }
                )
            else:
                columns.append({"name": name, "kind": "numeric"})
            return
        values = col.to_frame().select(_parse_number(pl.col(name), dtype, fmt or "number"))
        values = values.to_series().cast(pl.Float64).fill_nan(None).drop_nulls()
        fill = self._fill(values)
        op = {"op": "impute", "inputs": [name], "output": name, "value": fill}
        op |= {"base": "parse_number", "format": fmt or "number"} if text else {"base": "numeric"}
        ops.append(op)

    def _fill(self, values: pl.Series) -> float:
        if self.impute == "constant" or len(values) == 0:
            return float(self.fill_value) if self.impute == "constant" else 0.0
        if self.impute == "median":
            return float(values.median())  # type: ignore[arg-type]
        return float(values.mode().sort()[0])

    def _boolean(
        self,
        frame: pl.DataFrame,
        name: str,
        columns: list[dict[str, Any]],
        ops: list[dict[str, Any]],
    ) -> None:
        if self._imp is None:
            columns.append({"name": name, "kind": "boolean"})
            return
        spec = {"name": name, "kind": "boolean"}
        values = frame.select(Plan()._expr(spec, frame.schema[name])).to_series().fill_nan(None)
        seen = values.drop_nulls()
        # the median of 0 / 1 flags is no flag: booleans take the mode
        if self.impute == "constant":
            fill = float(self.fill_value)
        else:
            fill = float(seen.mode().sort()[0]) if len(seen) else 0.0
        ops.append(
            {"op": "impute", "inputs": [name], "output": name, "base": "boolean", "value": fill}
        )

    def _categorical(
        self,
        col: pl.Series,
        y: np.ndarray | None,
        task: str | None,
        folds: np.ndarray,
        columns: list[dict[str, Any]],
        ops: list[dict[str, Any]],
        oof: dict[str, np.ndarray],
    ) -> None:
        name = col.name
        text = col.to_frame().select(clean_text_expr(pl.col(name))).to_series()
        counts = (
            text.drop_nulls()
            .value_counts(sort=False)
            .sort(["count", name], descending=[True, False])
        )
        frequent_rows = counts.filter(pl.col("count") >= self.rare_min_count)["count"]
        n_frequent = len(frequent_rows)
        # native codes when few levels, or when few frequent levels cover most rows
        native = counts.height <= self.max_native_levels or (
            n_frequent <= self.max_native_levels
            and frequent_rows.sum() >= 0.9 * counts["count"].sum()
        )
        if native or y is None or not {"frequency", "target_mean"} <= self._allowed:
            ranked = counts[name].to_list()
            frequent = counts.filter(pl.col("count") >= self.rare_min_count)[name].to_list()
            pooled = len(ranked) - len(frequent) >= 2 and len(frequent) >= 1
            pooled = pooled and "category_pooled" in self._allowed
            levels = sorted(frequent if pooled else ranked[: self.max_levels])
            if self._imp is None:
                if pooled:
                    ops.append(
                        {
                            "op": "category_pooled",
                            "inputs": [name],
                            "output": name,
                            "levels": levels,
                        }
                    )
                else:
                    columns.append({"name": name, "kind": "categorical", "levels": levels})
                return
            top = counts[name][0] if counts.height else None
            fill = float(len(levels) + (1 if pooled else 0))
            if self.impute != "constant" and top in levels:
                fill = float(levels.index(top))
            ops.append(
                {
                    "op": "impute",
                    "inputs": [name],
                    "output": name,
                    "base": "category_pooled" if pooled else "categorical",
                    "levels": levels,
                    "value": fill,
                }
            )
            return
        # High cardinality: frequency and out-of-fold target encoding instead of codes.
        from mlwf_core.features import _kernels as k

        n = len(text)
        kept = counts.head(20_000)
        levels = kept[name].to_list()
        n_missing = text.null_count()
        ops.append(
            {
                "op": "frequency",
                "inputs": [name],
                "output": self._name(f"{name}__freq"),
                "levels": levels,
                "values": (kept["count"].cast(pl.Float64) / n).to_list(),
                "default": 0.0,
                "missing": n_missing / n,
            }
        )
        codes = text.replace_strict(
            levels, list(range(len(levels))), default=-1, return_dtype=pl.Int64
        )
        codes_np = codes.fill_null(-1).to_numpy()
        if task == "regression":
            targets = y.reshape(-1, 1)
        elif task == "binary":
            targets = (y == 1).astype(np.float64).reshape(-1, 1)
        else:
            n_classes = int(y.max()) + 1
            targets = np.zeros((n, n_classes))
            targets[np.arange(n), y.astype(np.int64)] = 1.0
            targets = targets[:, :10]
        full, oof_values, prior = k.target_encode(
            codes_np, len(levels), np.ascontiguousarray(targets), folds, self.n_folds, 10.0
        )
        for j in range(targets.shape[1]):
            output = self._name(f"{name}__te" if targets.shape[1] == 1 else f"{name}__te{j}")
            ops.append(
                {
                    "op": "target_mean",
                    "inputs": [name],
                    "output": output,
                    "levels": levels,
                    "values": full[: len(levels), j].tolist(),
                    "default": float(prior[j]),
                    "missing": float(full[len(levels), j]),
                }
            )
            oof[output] = oof_values[:, j].astype(np.float32)

    def _dates(self, col: pl.Series, dtype: pl.DataType, fmt: str) -> list[dict[str, Any]]:
        name = col.name
        fmt = fmt or "iso"
        when = parse_datetime(col, fmt)
        # the training matrix reuses the parsed column (see Plan._apply)
        self._parsed[(name, fmt)] = when
        probe = {"op": "date_part", "inputs": [name], "format": fmt, "origin": 0.0}
        stats = when.to_frame("when").select(
            [
                _date_part(pl.col("when"), probe | {"part": part})
                .drop_nulls()
                .n_unique()
                .alias(part)
                for part in DATE_PARTS
            ]
            + [(pl.col("when").dt.epoch("us").min() / 86_400_000_000.0).alias("first")]
        )
        if stats["first"][0] is None:
            return []
        origin = float(math.floor(stats["first"][0]))
        return [
            {
                "op": "date_part",
                "inputs": [name],
                "output": self._name(f"{name}__{part}"),
                "format": fmt,
                "part": part,
                "origin": origin if part == "elapsed_days" else 0.0,
            }
            for part in DATE_PARTS
            if stats[part][0] > 1
        ]

    def _text(self, name: str) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = [
            {"op": "text_length", "inputs": [name], "output": self._name(f"{name}__length")},
            {"op": "word_count", "inputs": [name], "output": self._name(f"{name}__words")},
        ]
        for b in range(self.text_buckets):
            ops.append(
                {
                    "op": "token_hash",
                    "inputs": [name],
                    "output": self._name(f"{name}__tok{b}"),
                    "bucket": b,
                    "n_buckets": self.text_buckets,
                }
            )
        return ops

    def _indicators(
        self, frame: pl.DataFrame, schema: Schema, y_codes: np.ndarray, n_y: int
    ) -> list[dict[str, Any]]:
        from mlwf_core.features import _kernels as k

        ops = []
        if frame.height > _SCREEN_ROWS:
            # the G-test keeps ample power on a sample; the full table would only cost time
            rows = np.sort(
                np.random.default_rng((self.seed, 0x1D)).choice(
                    frame.height, _SCREEN_ROWS, replace=False
                )
            )
            frame, y_codes = frame[rows], y_codes[rows]
        n = frame.height
        plan = Plan()
        specs = {
            name: {"op": "missing_indicator", "inputs": [name], "output": name}
            for name in schema.features
        }
        # every column's missing count in one pass; flags only for the candidates
        counts = frame.select(
            [plan._op_expr(op, frame.schema[name]).sum() for name, op in specs.items()]
        ).row(0)
        candidates = [
            name for name, n_missing in zip(specs, counts, strict=True) if 10 <= n_missing <= n - 10
        ]
        if not candidates:
            return ops
        flags = frame.select(
            [plan._op_expr(specs[c], frame.schema[c]).cast(pl.Int64).alias(c) for c in candidates]
        ).to_numpy()
        critical = _chi2_critical(max(n_y - 1, 1))
        for j, name in enumerate(candidates):
            # G-test of independence between the flag and the target codes
            g = 2.0 * n * k.mutual_info(np.ascontiguousarray(flags[:, j]), 2, y_codes, n_y)
            if g > critical:
                ops.append(
                    {
                        "op": "missing_indicator",
                        "inputs": [name],
                        "output": self._name(f"{name}__missing"),
                    }
                )
        return ops


def _target_codes(y: np.ndarray | None, task: str | None) -> tuple[np.ndarray | None, int]:
    """Target as small integer codes (classes, or 10 quantile bins for regression)."""
    if y is None or task is None:
        return None, 0
    from mlwf_core.features import _kernels as k

    if task == "regression":
        edges = k.quantile_edges(y, 10)
        return k.bin_values(y, edges), edges.size + 1
    codes = y.astype(np.int64)
    return codes, int(codes.max()) + 1


def _chi2_critical(df: int, z: float = 3.09) -> float:
    """Chi-square quantile at p = 0.001 (Wilson-Hilferty approximation)."""
    c = 2.0 / (9.0 * df)
    return df * (1.0 - c + z * math.sqrt(c)) ** 3


def feature_frame(matrix: np.ndarray, names: Sequence[str]) -> pl.DataFrame:
    """Wrap a feature matrix as a Polars frame (for reports and explanations)."""
    return pl.DataFrame({n: matrix[:, j] for j, n in enumerate(names)})
