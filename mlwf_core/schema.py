"""Column roles and task detection.

:func:`infer_schema` looks at each column once (on a sample for large tables)
and gives it a role: what the model does with it. Roles are plain strings so a
schema serialises into the model artifact as JSON.

Messy columns are understood here: numbers stored as text (thousands
separators, currency and percent signs), NA tokens, yes / no booleans,
datetimes written as text (ISO, day/month/year, month/day/year), ID-like and
constant columns, duplicate columns and target leakage. How a text column is
parsed is recorded in :attr:`Schema.formats` so the Plan replays the same parse.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from mlwf_core._typing import Task
from mlwf_core.exceptions import DataError, MlwfWarning, ParameterError
from mlwf_core.io import NA_TOKENS

__all__ = [
    "FEATURE_ROLES",
    "NA_TOKENS",
    "ROLES",
    "Schema",
    "detect_task",
    "infer_schema",
    "parse_datetime",
    "parse_number_expr",
]

#: Every role a column can have.
ROLES: tuple[str, ...] = (
    "numeric",
    "categorical",
    "boolean",
    "datetime",
    "text",
    "id",
    "constant",
    "target",
    "ignored",
)
#: Roles whose columns feed the model.
FEATURE_ROLES: frozenset[str] = frozenset({"numeric", "categorical", "boolean", "datetime", "text"})
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

# Integer targets with at most this many distinct values are classes.
_MAX_CLASSES_FOR_INTEGERS = 20
_TEXT_MIN_MEAN_WORDS = 4.0
_SAMPLE_ROWS = 100_000
# Share of the non-missing values that must parse for a text column to count as
# numbers or dates; the rest become missing.
_PARSE_SHARE = 0.95
# A feature whose single-feature out-of-fold score passes this is a leak.
_LEAK_SCORE = 0.99
_LEAK_SAMPLE = 20_000
_BOOL_TOKENS = {
    frozenset({"yes", "no"}),
    frozenset({"true", "false"}),
    frozenset({"y", "n"}),
    frozenset({"t", "f"}),
}
# Characters removed before a number written as text is parsed (the C++ replay in
# plan_ops.hpp removes the same set).
_NUMBER_JUNK = r"[\s$€£¥₹%]"
_NUMBER_GRAMMAR = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_ISO_DATE = (
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_SLASH_DATE = (
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$"
)
DATE_FORMATS: tuple[str, ...] = ("iso", "dmy", "mdy")


@dataclass
class Schema:
    """The role of every column, the target and the task.

    Attributes
    ----------
    roles
        Column name -> role (one of :data:`ROLES`), in the table's column order.
    target
        Name of the target column, or ``None`` when profiling without one.
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"`` (``None`` without a target).
    reasons
        Column name -> why it was dropped or how it was read (ID-like, constant,
        leakage, duplicate, numbers stored as text, ...), for reports.
    formats
        Column name -> how its text is parsed: ``"number"`` (``.`` decimals) or
        ``"number_comma"`` (``,`` decimals) for numbers stored as text, ``"iso"``,
        ``"dmy"`` or ``"mdy"`` for dates stored as text.
    duplicate_rows
        Number of rows that repeat an earlier row exactly (target included).
    """

    roles: dict[str, str]
    target: str | None = None
    task: Task | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    duplicate_rows: int = 0

    @property
    def features(self) -> list[str]:
        """Columns that feed the model, in table order."""
        return [c for c, r in self.roles.items() if r in FEATURE_ROLES]

    @property
    def dropped(self) -> list[str]:
        """Columns left out of the model (ID-like, constant, ignored)."""
        return [c for c, r in self.roles.items() if r in {"id", "constant", "ignored"}]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, stored in the model artifact."""
        return {
            "roles": dict(self.roles),
            "target": self.target,
            "task": self.task,
            "reasons": dict(self.reasons),
            "formats": dict(self.formats),
            "duplicate_rows": int(self.duplicate_rows),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Inverse of :meth:`to_dict`."""
        return cls(
            roles=dict(data["roles"]),
            target=data.get("target"),
            task=data.get("task"),
            reasons=dict(data.get("reasons", {})),
            formats=dict(data.get("formats", {})),
            duplicate_rows=int(data.get("duplicate_rows", 0)),
        )


def detect_task(y: pl.Series) -> Task:
    """Tell the learning task from the target column.

    Strings, booleans and categoricals are classes; integers with at most 20
    distinct values are classes; other numbers are regression. Two classes make a
    binary task.

    Parameters
    ----------
    y
        The target column, nulls already removed.

    Raises
    ------
    DataError
        The target has fewer than two distinct values.
    """
    n_unique = y.n_unique()
    if n_unique < 2:
        value = y[0] if len(y) else None
        raise DataError(
            f"The target column {y.name!r} has a single value ({value!r}) in every labelled row; "
            "a model needs at least two classes or varying values. Check the target column."
        )
    dtype = y.dtype
    if dtype == pl.Boolean or dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "binary" if n_unique == 2 else "multiclass"
    if dtype.is_integer():
        if n_unique == 2:
            return "binary"
        return "multiclass" if n_unique <= _MAX_CLASSES_FOR_INTEGERS else "regression"
    if dtype.is_float():
        return "binary" if n_unique == 2 else "regression"
    raise DataError(
        f"The target column {y.name!r} has type {dtype}, which is neither numeric nor a label. "
        "Convert it to numbers or strings."
    )


# ---------------------------------------------------------------- parsing
def clean_text_expr(expr: pl.Expr) -> pl.Expr:
    """Text with surrounding whitespace stripped and NA tokens turned into nulls."""
    text = expr.cast(pl.String).str.strip_chars()
    return pl.when(~text.is_in(list(NA_TOKENS))).then(text)


def parse_number_expr(expr: pl.Expr, fmt: str = "number") -> pl.Expr:
    """Parse numbers stored as text: ``"$1,234.5"``, ``"12 %"``, ``"1.234,5"``.

    Whitespace, currency signs and ``%`` are removed, then the thousands
    separator; with ``fmt="number_comma"`` the decimal comma becomes a point.
    What is left must be a plain decimal number, or the value is missing (NaN).
    """
    text = clean_text_expr(expr).str.replace_all(_NUMBER_JUNK, "")
    if fmt == "number_comma":
        text = text.str.replace_all(".", "", literal=True).str.replace_all(",", ".", literal=True)
    else:
        text = text.str.replace_all(",", "", literal=True)
    return (
        pl.when(text.str.contains(_NUMBER_GRAMMAR))
        .then(text.cast(pl.Float64, strict=False))
        .otherwise(pl.lit(None, pl.Float64))
    )


def parse_datetime(col: pl.Series, fmt: str) -> pl.Series:
    """Parse a column of dates: typed dates as they are, text in ``"iso"``, ``"dmy"`` or ``"mdy"``.

    Times (``HH:MM[:SS[.fff]]``) are optional; ISO time-zone suffixes are
    ignored and typed time zones dropped (the wall-clock time is kept);
    fractions of seconds are dropped; invalid dates and times are missing.
    Text is parsed by the C++ plan's own parser (``plan_ops.hpp``), so training,
    batch scoring and the compiled scorer read every value alike.

    Returns
    -------
    polars.Series
        ``Datetime("us")`` values, named like ``col``.
    """
    dtype = col.dtype
    if isinstance(dtype, pl.Datetime):
        out = col.dt.replace_time_zone(None) if dtype.time_zone else col
        return out.cast(pl.Datetime("us")).dt.truncate("1s")
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us"))
    if dtype == pl.Null or dtype.is_numeric() or dtype == pl.Boolean:
        return pl.Series(col.name, [None] * len(col), dtype=pl.Datetime("us"))
    us, ok = parse_datetime_us(col, fmt)
    stamps = pl.Series(col.name, us).cast(pl.Datetime("us"))
    return pl.select(pl.when(pl.Series(ok)).then(stamps)).to_series().alias(col.name)


def parse_datetime_us(col: pl.Series, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Text dates as microseconds since 1970-01-01 (int64) and whether each parsed (bool).

    The arrays a kernel wants, without building a Series: see :func:`parse_datetime`.
    """
    from mlwf_core._core import parse_datetime_into

    n = len(col)
    us = np.empty(n, dtype=np.int64)
    ok = np.empty(n, dtype=np.bool_)
    if n == 0:
        return us, ok
    parse_datetime_into(*text_buffers(col), fmt, us, ok)
    return us, ok


def text_buffers(col: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Arrow offsets (int64), bytes (uint8) and presence (bool, ``None`` when every value
    is present) of a text column, for the C++ column kernels."""
    import pyarrow as pa

    n = len(col)
    text = col if col.dtype == pl.String else col.cast(pl.String)
    array = text.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[array.offset : array.offset + n + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(1, np.uint8)
    )
    valid = text.is_not_null().to_numpy() if text.null_count() else None
    return offsets, data, valid


def _detect_number(text: pl.Series) -> str | None:
    if len(text) == 0:
        return None
    if len(text) > 2000:
        # most text columns are not numbers: tell from a sample before parsing them all
        if _detect_number(text.head(2000)) is None:
            return None
    frame = text.to_frame("v")
    comma = frame.select(parse_number_expr(pl.col("v"), "number_comma").is_not_null().mean())
    point = frame.select(parse_number_expr(pl.col("v"), "number").is_not_null().mean())
    share_point, share_comma = point.item(), comma.item()
    if share_point >= _PARSE_SHARE:
        # "1,234" reads both ways; decimal commas only win when no value has a point
        # followed by other than three digits (i.e. the point is not a thousands separator).
        if share_comma >= _PARSE_SHARE and text.str.contains(r",\d{1,2}$|,\d{4,}$").any():
            if not text.str.contains(r"\.\d{1,2}$|\.\d{4,}$").any():
                return "number_comma"
        return "number"
    if share_comma >= _PARSE_SHARE:
        return "number_comma"
    return None


def _detect_date(text: pl.Series) -> str | None:
    sample = text.head(2000)
    if len(sample) == 0:
        return None
    if sample.str.contains(_ISO_DATE).mean() >= _PARSE_SHARE:  # type: ignore[operator]
        return "iso"
    if sample.str.contains(_SLASH_DATE).mean() < _PARSE_SHARE:  # type: ignore[operator]
        return None
    groups = text.str.extract_groups(_SLASH_DATE)
    first = groups.struct.field("1").cast(pl.Int64, strict=False)
    second = groups.struct.field("2").cast(pl.Int64, strict=False)
    day_first = bool((first > 12).any())
    month_first = bool((second > 12).any())
    if day_first and month_first:
        return None  # inconsistent: some values must be d/m, others m/d
    return "dmy" if day_first else "mdy"


def _parse_share(text: pl.Series, fmt: str) -> float:
    return float(parse_datetime(text, fmt).is_not_null().mean() or 0.0)


# ---------------------------------------------------------------- inference
def infer_schema(
    data: Any,
    target: str | None = None,
    *,
    task: Task | None = None,
    roles: Mapping[str, str] | None = None,
) -> Schema:
    """Infer the role of every column and, given a target, the task.

    Rules, in order: the target; user ``roles``; a single distinct value ->
    ``constant``; booleans (also yes / no, true / false, y / n, t / f text);
    datetimes (typed, or text in ISO, d/m/Y or m/d/Y form, the latter two told
    apart by values above 12 and rejected when inconsistent); numbers stored as
    text; unique integer ranges and unique strings -> ``id``; long unique strings
    -> ``text``; other strings -> ``categorical``. NA tokens (:data:`NA_TOKENS`)
    count as missing. Columns equal to an earlier one are ``ignored`` as
    duplicates. With a target, a feature that predicts it almost perfectly on its
    own (out-of-fold AUC, accuracy or R² above 0.99) is ``ignored`` with a
    :class:`~mlwf_core.exceptions.MlwfWarning` naming it.

    Parameters
    ----------
    data
        Anything :func:`mlwf_core.read` accepts.
    target
        Name of the target column.
    task
        Overrides task detection.
    roles
        Column name -> role, overriding inference (and the leakage and duplicate
        checks) for those columns.

    Returns
    -------
    Schema
    """
    from mlwf_core.io import read

    frame = data if isinstance(data, pl.DataFrame) else read(data)
    if target is not None and target not in frame.columns:
        raise DataError(
            f"The target column {target!r} is not in the data. Available columns: {_preview(frame.columns)}."
        )
    if task is not None and task not in TASKS:
        raise ParameterError(
            f"The 'task' parameter must be one of {list(TASKS)}. Got {task!r} instead."
        )
    overrides = dict(roles or {})
    for name, role in overrides.items():
        if name not in frame.columns:
            raise ParameterError(
                f"The 'roles' parameter names column {name!r}, which is not in the data."
            )
        if role not in ROLES:
            raise ParameterError(
                f"The role of column {name!r} must be one of {list(ROLES)}. Got {role!r} instead."
            )

    # Duplicate rows are counted on a thread of their own (Polars releases the GIL)
    # while the roles are inferred: 64-bit row hashes, collisions are negligible.
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1)
    # On a shallow clone: hash_rows borrows its frame exclusively, which would block
    # every use of `frame` below until the hashing is done.
    snapshot = frame.clone()
    duplicate_count = pool.submit(lambda: snapshot.height - snapshot.hash_rows(seed=0).n_unique())
    pool.shutdown(wait=False)
    sample = block_sample(frame, _SAMPLE_ROWS)
    clean, n_uniques = _sample_stats(sample.drop(target) if target in sample.columns else sample)
    out: dict[str, str] = {}
    reasons: dict[str, str] = {}
    formats: dict[str, str] = {}
    for name in frame.columns:
        if name == target:
            out[name] = "target"
            continue
        if name in n_uniques:
            role, reason, fmt = _infer_role(
                clean[name], frame.height, dtype=sample.schema[name], n_unique=n_uniques[name]
            )
        else:
            role, reason, fmt = _infer_role(sample[name], frame.height)
        if name in overrides:
            if overrides[name] != role:
                fmt = _format_for(sample[name], overrides[name])
            role, reason = overrides[name], "set by the user"
        out[name] = role
        if reason:
            reasons[name] = reason
        if fmt:
            formats[name] = fmt

    _mark_duplicate_columns(sample, out, reasons, set(overrides))
    detected: Task | None = task
    if target is not None and detected is None:
        y = frame[target].drop_nulls()
        if y.dtype.is_float():
            y = y.filter(y.is_not_nan())
        if len(y) == 0:
            raise DataError(f"The target column {target!r} has no values: every row is missing.")
        detected = detect_task(y)
    if target is not None and detected is not None:
        _mark_leakage(frame, target, detected, out, reasons, formats, set(overrides))
    duplicates = duplicate_count.result()
    return Schema(
        roles=out,
        target=target,
        task=detected,
        reasons=reasons,
        formats=formats,
        duplicate_rows=int(duplicates),
    )


def block_sample(
    frame: pl.DataFrame, n_rows: int, *, n_blocks: int = 200, seed: int = 0
) -> pl.DataFrame:
    """About ``n_rows`` rows in ``n_blocks`` runs of consecutive rows at random places.

    Slices are free and their concatenation copies sequentially, where gathering
    rows one by one from string columns costs several times more; hundreds of
    windows spread over the table still see its every region.
    """
    if frame.height <= n_rows:
        return frame
    starts, size = block_starts(frame.height, n_rows, n_blocks=n_blocks, seed=seed)
    return pl.concat([frame.slice(int(i), size) for i in starts], rechunk=True)


def block_starts(
    height: int, n_rows: int, *, n_blocks: int = 200, seed: Any = 0
) -> tuple[np.ndarray, int]:
    """First rows (sorted) and length of the windows :func:`block_sample` takes."""
    size = max(1, n_rows // n_blocks)
    n_slots = height // size
    slots = np.random.default_rng(seed).choice(n_slots, min(n_blocks, n_slots), replace=False)
    return np.sort(slots) * size, size


def _format_for(col: pl.Series, role: str) -> str:
    # A user-set role on a text column still needs to know how to parse it.
    if col.dtype not in (pl.String, pl.Categorical):
        return ""
    text = col.to_frame().select(clean_text_expr(pl.col(col.name))).to_series().drop_nulls()
    if role == "numeric":
        return _detect_number(text) or "number"
    if role == "datetime":
        return _detect_date(text) or "iso"
    return ""


def _is_text_like(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)


def _sample_stats(sample: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """The sample with text cleaned, and the distinct present values of each column.

    Two selects over every column of a common type, which Polars spreads over its
    threads, instead of a few small queries per column.
    """
    names = [
        name
        for name, dtype in sample.schema.items()
        if dtype.is_numeric() or dtype == pl.Boolean or dtype.is_temporal() or _is_text_like(dtype)
    ]
    clean = sample.select(
        [
            clean_text_expr(pl.col(name)).alias(name)
            if _is_text_like(sample.schema[name])
            else pl.col(name)
            for name in names
        ]
    )
    present = [
        pl.col(name).drop_nulls().drop_nans() if dtype.is_float() else pl.col(name).drop_nulls()
        for name, dtype in clean.schema.items()
    ]
    counts = clean.select([e.n_unique() for e in present]).row(0, named=True) if names else {}
    return clean, {name: int(v) for name, v in counts.items()}


def _infer_role(
    col: pl.Series,
    n_rows: int,
    *,
    dtype: pl.DataType | None = None,
    n_unique: int | None = None,
) -> tuple[str, str, str]:
    """Role, reason and format of a sampled column.

    ``dtype`` and ``n_unique`` come from :func:`_sample_stats`, with ``col``
    already cleaned there; without them the column is cleaned and counted here.
    """
    if dtype is None:
        dtype = col.dtype
        if _is_text_like(dtype):
            col = col.to_frame().select(clean_text_expr(pl.col(col.name))).to_series()
    non_null = col.drop_nulls()
    if dtype.is_float():
        non_null = non_null.filter(non_null.is_not_nan())
    if n_unique is None:
        n_unique = non_null.n_unique()
    if n_unique <= 1:
        return "constant", "a single value" if n_unique else "every value missing", ""
    if dtype == pl.Boolean:
        return "boolean", "", ""
    if dtype.is_temporal():
        return "datetime", "", ""
    if dtype.is_numeric():
        if dtype.is_integer() and n_unique == len(col) and _looks_like_counter(non_null):
            return "id", "unique per row, like a row number", ""
        return "numeric", "", ""
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        text = non_null
        if n_unique == 2 and frozenset(text.str.to_lowercase().unique().to_list()) in _BOOL_TOKENS:
            return "boolean", "", ""
        date_fmt = _detect_date(text)
        if date_fmt is not None and _parse_share(text.head(2000), date_fmt) >= _PARSE_SHARE:
            return "datetime", f"dates stored as text ({date_fmt})", date_fmt
        number_fmt = _detect_number(text)
        if number_fmt is not None:
            if n_unique == len(col) and len(col) > 20:
                parsed = text.to_frame("v").select(parse_number_expr(pl.col("v"), number_fmt))
                values = parsed.to_series().drop_nulls()
                if values.dtype.is_numeric() and _looks_like_counter(values):
                    return "id", "unique per row, like a row number", ""
            return "numeric", "numbers stored as text", number_fmt
        if n_unique == len(col) and len(col) > 20:
            words = text.str.count_matches(r"\S+").mean() or 0.0
            if words >= _TEXT_MIN_MEAN_WORDS:  # type: ignore[operator]
                return "text", "", ""
            return "id", "unique per row", ""
        if n_unique > 0.5 * len(non_null) and n_unique > 50:
            words = text.str.count_matches(r"\S+").mean() or 0.0
            if words >= _TEXT_MIN_MEAN_WORDS:  # type: ignore[operator]
                return "text", "", ""
        if n_unique > 100:
            return "categorical", f"high cardinality ({n_unique} levels)", ""
        return "categorical", "", ""
    return "ignored", f"unsupported type {dtype}", ""


def _looks_like_counter(values: pl.Series) -> bool:
    # A unique integer column is an ID when it is a (shuffled) range, not a measurement.
    if values.dtype.is_float() and not bool((values == values.round(0)).all()):
        return False
    lo, hi = values.min(), values.max()
    return (hi - lo) < 2 * len(values)  # type: ignore[operator]


def _mark_duplicate_columns(
    sample: pl.DataFrame, roles: dict[str, str], reasons: dict[str, str], fixed: set[str]
) -> None:
    seen: dict[tuple[str, int], str] = {}
    head = sample.head(1000)
    for name, role in roles.items():
        if role not in FEATURE_ROLES:
            continue
        key = (str(sample.schema[name]), int(head[name].hash(seed=0).sum()))
        first = seen.get(key)
        if first is None:
            seen[key] = name
            continue
        if name not in fixed and sample[name].equals(sample[first]):
            roles[name] = "ignored"
            reasons[name] = f"duplicate of column {first!r}"


def _mark_leakage(
    frame: pl.DataFrame,
    target: str,
    task: Task,
    roles: dict[str, str],
    reasons: dict[str, str],
    formats: dict[str, str],
    fixed: set[str],
) -> None:
    names = [
        name
        for name, role in roles.items()
        if role in ("numeric", "categorical", "boolean") and name not in fixed
    ]
    tested = frame.select([target, *names])
    if frame.height > _LEAK_SAMPLE and frame[target].null_count() == 0:
        # windows of consecutive rows: slices, where a gather is slow on string columns
        # and on the many chunks of a CSV read
        labelled = block_sample(tested, _LEAK_SAMPLE)
    else:
        # only the sampled labelled rows are gathered, never a filtered copy of the table
        rows = np.flatnonzero(frame[target].is_not_null().to_numpy())
        if len(rows) > _LEAK_SAMPLE:
            rows = np.sort(np.random.default_rng(0).choice(rows, _LEAK_SAMPLE, replace=False))
        if len(rows) < 50:
            return
        labelled = tested[rows]
    y_col = labelled[target]
    if task == "regression":
        y = y_col.cast(pl.Float64).to_numpy()
        n_classes = 0
    else:
        classes = y_col.unique().sort()
        y = y_col.replace_strict(classes, list(range(len(classes))), return_dtype=pl.Float64)
        y = y.to_numpy()
        n_classes = len(classes)
    folds = np.random.default_rng(0).integers(0, 5, size=labelled.height).astype(np.int64)
    ranked = _numeric_ranks(labelled, [n for n in names if roles[n] == "numeric"], formats)
    levels = _level_ranks(labelled, [n for n in names if n not in ranked])
    for name in names:
        role = roles[name]
        codes, ranks = ranked[name] if name in ranked else (levels[name], None)
        score = _oof_score(codes, y, folds, n_classes)
        if ranks is not None and n_classes == 2:
            score = max(score, _rank_auc(ranks, y))
        elif role == "numeric" and n_classes <= 2:
            score = max(score, _monotone_score(labelled[name], formats.get(name, ""), y, n_classes))
        if score > _LEAK_SCORE:
            what = {"regression": "R²", "binary": "AUC"}.get(task, "accuracy")
            roles[name] = "ignored"
            reasons[name] = f"target leakage: alone it predicts {target!r} with {what} {score:.4f}"
            warnings.warn(
                f"Column {name!r} predicts the target {target!r} almost perfectly on its own "
                f"({what} {score:.4f} out of fold); it looks like leakage and is dropped. "
                f"Pass roles={{{name!r}: {role!r}}} to keep it.",
                MlwfWarning,
                stacklevel=3,
            )


def _numeric_ranks(
    frame: pl.DataFrame, names: list[str], formats: dict[str, str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Equal-frequency bin codes (256 bins, ties together, -1 = missing) and average
    ranks (NaN = missing) of numeric columns, all in one select."""
    exprs = []
    for i, name in enumerate(names):
        col = pl.col(name)
        if _is_text_like(frame.schema[name]):
            col = parse_number_expr(col, formats.get(name) or "number")
        x = col.cast(pl.Float64, strict=False).fill_nan(None)
        low = x.rank("min").cast(pl.Int64) - 1
        exprs.append((low * 256 // x.count()).fill_null(-1).alias(f"c{i}"))
        exprs.append(x.rank("average").cast(pl.Float64).fill_null(float("nan")).alias(f"r{i}"))
    if not exprs:
        return {}
    out = frame.select(exprs)
    return {
        name: (
            np.ascontiguousarray(out[f"c{i}"].to_numpy(), dtype=np.int64),
            out[f"r{i}"].to_numpy(),
        )
        for i, name in enumerate(names)
    }


def _rank_auc(ranks: np.ndarray, y: np.ndarray) -> float:
    """AUC of a number's raw order for 0 / 1 labels, either way, from its ranks among
    the present values (0 when fewer than half the rows or 50 rows have one)."""
    seen = ~np.isnan(ranks)
    if seen.mean() < 0.5 or seen.sum() < 50:
        return 0.0
    r, t = ranks[seen], y[seen]
    n_pos = float(t.sum())
    n_neg = len(t) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    auc = float((r[t > 0.5].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return max(auc, 1.0 - auc)


def _monotone_score(col: pl.Series, fmt: str, y: np.ndarray, n_classes: int) -> float:
    """How well the raw order of a number tells the target: AUC either way, or Spearman rho²."""
    values = _as_numbers(col, fmt)
    seen = ~np.isnan(values)
    if seen.mean() < 0.5 or seen.sum() < 50:
        return 0.0
    x, t = values[seen], y[seen]
    if n_classes == 2:
        auc = _auc(t, x)
        return max(auc, 1.0 - auc)
    rx = pl.Series(x).rank("average").to_numpy()
    rt = pl.Series(t).rank("average").to_numpy()
    if rx.std() == 0 or rt.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, rt)[0, 1] ** 2)


def _as_numbers(col: pl.Series, fmt: str) -> np.ndarray:
    if col.dtype in (pl.String, pl.Categorical):
        col = col.to_frame().select(parse_number_expr(pl.col(col.name), fmt or "number"))
        col = col.to_series()
    return col.cast(pl.Float64, strict=False).fill_null(np.nan).to_numpy()


def _level_ranks(frame: pl.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    """Codes of the distinct values of columns in sorted order (-1 = missing), all in
    one select."""
    if not names:
        return {}
    out = frame.select(
        [
            (pl.col(name).cast(pl.String).rank("dense").cast(pl.Int64) - 1)
            .fill_null(-1)
            .alias(f"c{i}")
            for i, name in enumerate(names)
        ]
    )
    return {
        name: np.ascontiguousarray(out[f"c{i}"].to_numpy(), dtype=np.int64)
        for i, name in enumerate(names)
    }


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of 0 / 1 labels, ties counted half (average ranks)."""
    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    ranks = pl.Series(score).rank("average").to_numpy()
    return float((ranks[y > 0.5].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _oof_score(codes: np.ndarray, y: np.ndarray, folds: np.ndarray, n_classes: int) -> float:
    """Out-of-fold score of predicting ``y`` from one feature's codes alone.

    Each code predicts the mean target (regression: R²; binary: ROC AUC) or the
    most frequent class (multiclass: accuracy) of the other folds' rows with that
    code; a code unseen there predicts the overall value. Missing (-1) is a code.
    """
    m = int(codes.max()) + 2
    code = np.where(codes < 0, m - 1, codes)
    n_folds = int(folds.max()) + 1
    cell = folds * m + code
    counts = np.bincount(cell, minlength=n_folds * m).reshape(n_folds, m)
    if n_classes > 2:
        rest_counts = (counts.sum(axis=0)[None, :] - counts)[folds, code]
        labels = y.astype(np.int64)
        table = np.bincount(cell * n_classes + labels, minlength=n_folds * m * n_classes)
        table = table.reshape(n_folds, m, n_classes)
        rest = table.sum(axis=0)[None, :, :] - table
        overall = np.bincount(labels, minlength=n_classes).argmax()
        pred = np.where(rest_counts > 0, rest[folds, code].argmax(axis=1), overall)
        return float((pred == labels).mean())
    # Every row of a (fold, code) cell gets the same prediction: the scores come from
    # per-cell sums, without a prediction per row.
    size = n_folds * m
    counts = counts.ravel().astype(np.float64)
    sums = np.bincount(cell, weights=y, minlength=size)
    rest_counts = np.tile(counts.reshape(n_folds, m).sum(axis=0), n_folds) - counts
    rest_sums = np.tile(sums.reshape(n_folds, m).sum(axis=0), n_folds) - sums
    pred = np.where(rest_counts > 0, rest_sums / np.maximum(rest_counts, 1.0), y.mean())
    if n_classes == 2:
        return _grouped_auc(pred, sums, counts - sums)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    squares = np.bincount(cell, weights=y * y, minlength=size)
    ss_res = float((squares - 2.0 * pred * sums + counts * pred * pred).sum())
    return 0.0 if ss_tot == 0 else 1.0 - ss_res / ss_tot


def _grouped_auc(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of groups of rows sharing a score (``pos`` / ``neg`` rows each), ties
    counted half: the rank statistic of the rows, from sorted groups."""
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(score, kind="stable")
    score, pos, neg = score[order], pos[order], neg[order]
    starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])
    p, q = np.add.reduceat(pos, starts), np.add.reduceat(neg, starts)
    below = np.cumsum(q) - q
    return float((p * below + 0.5 * p * q).sum() / (n_pos * n_neg))


def _preview(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} columns)" if len(names) > limit else "")
