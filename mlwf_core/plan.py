"""The Plan: fitted preprocessing as plain data, applied with Polars.

:class:`~mlwf_core.preprocess.Preprocessor` learns a :class:`Plan`, plain JSON-able data that says how
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

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from mlwf_core._core import date_parts_into, interleave_columns
from mlwf_core._typing import Float32Array
from mlwf_core.exceptions import SchemaError
from mlwf_core.io import NA_TOKENS
from mlwf_core.schema import (
    clean_text_expr,
    parse_datetime,
    parse_number_expr,
    text_buffers,
)

__all__ = ["PLAN_VERSION", "Plan", "replayable_ops"]

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
# Rows per chunk when a plan is applied (see Plan._apply).
_CHUNK_ROWS = 1 << 16
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
        level_codes: Mapping[tuple[str, tuple[str, ...]], np.ndarray] | None = None,
    ) -> Float32Array:
        n = frame.height
        names = self.features
        matrix = np.empty((n, len(names)), dtype=np.float32)
        if not names:
            return matrix
        position = {name: j for j, name in enumerate(names)}
        # each date column is parsed once, its parts all written by one kernel pass
        dates: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for op in self.ops:
            if op["op"] == "date_part":
                dates.setdefault((op["inputs"][0], op["format"]), []).append(op)
        date_args = []
        if dates:
            from mlwf_core.features._kernels import DATE_PART_CODES, date_parts

            for key, date_ops in dates.items():
                codes = np.array([DATE_PART_CODES[op["part"]] for op in date_ops], np.int64)
                origins = np.array([float(op["origin"]) for op in date_ops])
                cols = np.array([position[op["output"]] for op in date_ops], np.int64)
                date_args.append((key, codes, origins, cols))
        exprs = [self._expr(spec, frame.schema[spec["name"]]) for spec in self.columns]
        for op in self.ops:
            if op["op"] in RAW_OPS and op["op"] not in TEXT_OPS | TABLE_OPS | {"date_part"}:
                exprs.append(self._op_expr(op, frame.schema[op["inputs"][0]]))
        # level codes once per input column and level list, for every chunk
        known = level_codes or {}
        tables = [
            (
                known[(name, tuple(levels))]
                if (name, tuple(levels)) in known
                else _level_codes(frame[name], levels),
                lookups,
            )
            for name, levels, lookups in self._lookup_tables()
        ]

        # Row chunks keep the intermediate frame small; within a chunk, the columns
        # are written a tile of rows at a time (column writes across a large row-major
        # block cost more than computing the features). Chunks write disjoint rows, so
        # two run at once where there is more than one, neither holding the GIL for long.
        def apply_chunk(r0: int) -> None:
            part = frame.slice(r0, _CHUNK_ROWS)
            r1 = r0 + part.height
            try:
                stage = part.select(exprs) if exprs else pl.DataFrame()
            except pl.exceptions.InvalidOperationError as exc:
                raise SchemaError(
                    f"A column could not be converted to the type the model expects: {exc}"
                ) from exc
            self._check_numeric_casts(part, stage)
            block = matrix[r0:r1]
            sources = [
                (position[series.name], series.to_numpy())
                for series in stage.iter_columns()
                if series.name in position
            ]
            for codes, lookups in tables:
                chunk_codes = codes[r0:r1]
                sources.extend(
                    (position[op["output"]], table[chunk_codes]) for op, table in lookups
                )
            if oof:
                sources.extend((position[name], values[r0:r1]) for name, values in oof.items())
            if sources:
                # row tiles in C++, without the GIL: the other chunk runs meanwhile
                interleave_columns(block, [j for j, _ in sources], [v for _, v in sources])
            for key, codes, origins, cols in date_args:
                name, fmt = key
                if _is_text(part.schema[name]) and len(part):
                    # parsed and split in one C++ pass (cheaper than reusing parsed stamps)
                    date_parts_into(*text_buffers(part[name]), fmt, codes, origins, cols, block)
                    continue
                if parsed and key in parsed:
                    us, ok = _epoch_arrays(parsed[key].slice(r0, part.height))
                else:
                    us, ok = _epoch_arrays(parse_datetime(part[name], fmt))
                date_parts(us, ok, codes, origins, block, cols)
            self._text_features(part, block, position)
            self._derived_features(block, position)

        starts = range(0, max(n, 1), _CHUNK_ROWS)
        if len(starts) > 1 and (os.cpu_count() or 1) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(apply_chunk, starts))  # re-raises the first chunk's error
        else:
            for r0 in starts:
                apply_chunk(r0)
        return matrix

    def _lookup_tables(
        self,
    ) -> list[tuple[str, list[str], list[tuple[dict[str, Any], np.ndarray]]]]:
        """Level lookups grouped by input column and level list, each op with its value
        table indexed by level code (then default, then missing)."""
        groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
        for op in self.ops:
            if op["op"] in TABLE_OPS:
                groups.setdefault((op["inputs"][0], tuple(op["levels"])), []).append(op)
        out = []
        for (name, levels), ops in groups.items():
            tables = []
            for op in ops:
                k = len(levels)
                if op["op"] == "category_pooled":
                    table = np.append(np.arange(k, dtype=np.float64), [k, np.nan])
                else:
                    table = np.asarray(
                        list(op["values"]) + [op["default"], op["missing"]], dtype=np.float64
                    )
                tables.append((op, table.astype(np.float32)))
            out.append((name, list(levels), tables))
        return out

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
            # missing is NaN; NaN read from text or floats stays NaN
            return col.cast(pl.Float32, strict=False).fill_null(float("nan")).alias(name)
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


def _epoch_arrays(when: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch (0 where missing) and presence of a ``Datetime`` column."""
    epoch = when.dt.epoch("us")
    return epoch.fill_null(0).to_numpy(writable=True), epoch.is_not_null().to_numpy(writable=True)


def _level_codes(col: pl.Series, levels: list[str]) -> np.ndarray:
    """Index of each value in ``levels`` (after cleaning); ``len(levels)`` if absent,
    ``len + 1`` if missing.

    The distinct raw values are cleaned and looked up, then mapped back to the
    rows: one hash pass over the rows instead of a cleaned copy of the column.
    """
    n = len(levels)
    raw = col.cast(pl.String)
    distinct = raw.unique().drop_nulls()
    clean = distinct.to_frame("v").select(clean_text_expr(pl.col("v"))).to_series()
    index = {level: i for i, level in reversed(list(enumerate(levels)))}  # first one wins
    codes = [n + 1 if v is None else index.get(v, n) for v in clean.to_list()]
    out = raw.replace_strict(distinct, codes, default=n + 1, return_dtype=pl.Int64)
    return out.to_numpy()


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
