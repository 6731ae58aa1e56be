"""Exploratory data profile: what is in a table, in numbers a program can read.

:func:`profile` describes every column (role, missing values, distinct values,
summary statistics, histogram, most frequent levels, outliers), then the table
as a whole (duplicate rows, correlations, anomalous rows, missingness pattern),
the relation of each column to a target, and a list of warnings.

Column statistics are exact: they run over every row, as Polars expressions
and one NumPy sort per numeric column (quantiles, distinct values, MAD,
histogram and outlier counts all come from the sorted values). Pairwise and row-wise analyses (correlations, associations,
mutual information, anomalous rows, missingness patterns) run on a seeded
random sample of ``sample_rows`` rows once the table is larger than that, and
the profile says so in ``Profile.sample``. Loops that Polars cannot express
run as Numba kernels (:mod:`mlwf_core._eda_kernels`, compiled on first use).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlwf_core.exceptions import DataError, ParameterError

__all__ = ["DEFAULT_SAMPLE_ROWS", "ROLES", "ColumnProfile", "Profile", "profile"]

#: Tables with more rows than this are profiled pairwise and row-wise on a sample.
DEFAULT_SAMPLE_ROWS = 100_000
#: Column roles a profile assigns.
ROLES = ("numeric", "categorical", "boolean", "datetime", "text", "id", "constant", "other")

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
N_BINS = 30
TOP_LEVELS = 10
# Levels beyond this many per column are pooled into one "other" code for associations.
_MAX_CODES = 50
# Matrices are capped so the pairwise work and the report stay readable.
_MAX_MATRIX_COLUMNS = 60
_ROBUST_Z = 3.5  # Iglewicz & Hoaglin's cut-off for the modified z-score
_IQR_K = 1.5  # Tukey's fences
_HIGH_CARDINALITY = 50
_SKEW = 2.0
_HIGH_MISSING = 0.5
_MANY_ZEROS = 0.5
_HIGH_CORRELATION = 0.95
_LEAKAGE_UC = 0.9  # share of the target's entropy one column explains
_IMBALANCE = 0.1  # smallest class under a tenth of the largest
_TEXT_MEAN_WORDS = 4.0
_N_ANOMALIES = 10
_N_PATTERNS = 10
_BOOL_TOKENS = {
    frozenset({"true", "false"}),
    frozenset({"yes", "no"}),
    frozenset({"y", "n"}),
    frozenset({"t", "f"}),
    frozenset({"0", "1"}),
}


@dataclass
class ColumnProfile:
    """Profile of one column.

    Attributes
    ----------
    name, dtype, role
        Column name, Polars dtype as text, and the role in :data:`ROLES`.
    n_missing, missing_share, n_distinct
        Missing values (nulls, NaN and infinities), their share of the rows, and
        distinct non-missing values.
    stats
        Role-specific statistics: numeric columns have ``min``, ``max``, ``mean``,
        ``std``, ``skew``, ``kurtosis``, ``quantiles`` (``"p01"`` ... ``"p99"``),
        ``n_zeros``, ``n_negative`` and ``n_infinite``; datetime columns ``min``
        and ``max`` as ISO text; text columns ``mean_length`` and ``mean_words``.
    histogram
        ``{"edges": [...], "counts": [...]}`` (``labels`` too for dates; numeric
        columns add ``scale``, ``"log"`` when the bins are log-spaced for a long
        right tail), or ``None``.
    top_levels
        The most frequent values, ``[{"value", "count", "share"}]``.
    outliers
        Numeric columns: ``{"iqr": {"lower", "upper", "count"},
        "robust_z": {"median", "mad", "threshold", "count"}}``.
    notes
        Remarks on how the column was read (e.g. numbers stored as text).
    """

    name: str
    dtype: str
    role: str
    n_missing: int
    missing_share: float
    n_distinct: int
    stats: dict[str, Any] = field(default_factory=dict)
    histogram: dict[str, Any] | None = None
    top_levels: list[dict[str, Any]] = field(default_factory=list)
    outliers: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(repr=False)
class Profile:
    """The result of :func:`profile`.

    Attributes
    ----------
    n_rows, n_columns
        Size of the table.
    sample
        ``{"sampled", "n_rows", "seed", "threshold", "exact", "on_sample"}``: whether
        pairwise and row-wise analyses ran on a sample, its size, and which parts
        of the profile are exact.
    columns
        One :class:`ColumnProfile` per column, in table order.
    duplicates
        ``{"n_duplicate_rows", "share"}``: rows identical to an earlier row.
    correlations
        ``"pearson"``, ``"spearman"`` (numeric pairs), ``"cramers_v"`` (categorical
        and boolean pairs), ``"correlation_ratio"`` (categorical rows x numeric
        columns); each ``{"rows", "columns", "matrix"}``.
    anomalies
        Rows whose root-mean-square robust z-score (double MAD: one scale per
        side of the median) over the numeric columns is extreme: ``{"threshold", "n_anomalous", "share", "rows": [...]}``.
    target
        Relations to the target column, or ``None`` without one.
    missingness
        ``{"columns", "patterns", "correlation"}``: missing share per column,
        the most common combinations of missing columns, and the correlation
        between the missing indicators.
    warnings
        ``[{"kind", "column", "message"}]``; kinds: ``sampled``, ``duplicates``,
        ``constant``, ``id``, ``missing``, ``high_cardinality``, ``skewed``,
        ``zeros``, ``parsed``, ``correlated``, ``leakage``, ``imbalance``, ``target``.
    elapsed_seconds
        Time taken by :func:`profile`.
    """

    n_rows: int
    n_columns: int
    sample: dict[str, Any]
    columns: list[ColumnProfile]
    duplicates: dict[str, Any]
    correlations: dict[str, Any]
    anomalies: dict[str, Any]
    target: dict[str, Any] | None
    missingness: dict[str, Any]
    warnings: list[dict[str, Any]]
    elapsed_seconds: float
    created: str

    def __repr__(self) -> str:
        sample = f", sample of {self.sample['n_rows']:,}" if self.sample["sampled"] else ""
        target = f", target {self.target['name']!r}" if self.target else ""
        return (
            f"Profile({self.n_rows:,} rows x {self.n_columns:,} columns{sample}{target}, "
            f"{len(self.warnings)} warnings)"
        )

    def column(self, name: str) -> ColumnProfile:
        """Return the profile of column ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"No column {name!r} in the profile.")

    @property
    def roles(self) -> dict[str, str]:
        """Column name -> role."""
        return {c.name: c.role for c in self.columns}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dictionary (NaN and infinities become ``None``)."""
        return _jsonable(asdict(self))

    def to_html(self, path: str | Path) -> Path:
        """Write the profile as one self-contained HTML file and return its path.

        The file is written to a temporary name beside ``path`` and renamed into
        place, so a reader never sees half a report.
        """
        from mlwf_core.report import render_profile_report

        return render_profile_report(self, path)

    def _repr_html_(self) -> str:
        """The report in a sandboxed frame, so its stylesheet cannot restyle a notebook."""
        from html import escape

        from mlwf_core.report import profile_html

        return (
            f'<iframe srcdoc="{escape(profile_html(self))}" sandbox '
            'style="width: 100%; height: 640px; border: 1px solid #d9dde5"></iframe>'
        )


def profile(
    data: Any,
    target: str | None = None,
    *,
    sample_rows: int | None = DEFAULT_SAMPLE_ROWS,
    seed: int = 0,
) -> Profile:
    """Profile a table: columns, correlations, outliers, target relations, warnings.

    Parameters
    ----------
    data
        A Polars DataFrame or LazyFrame, a pandas DataFrame, a path to a CSV or
        Parquet file, or anything else :func:`mlwf_core.io.read` accepts.
    target
        Name of the target column; adds mutual information, target rate by level
        or bin, imbalance and leakage checks.
    sample_rows
        Above this many rows, pairwise and row-wise analyses use a seeded random
        sample of this size; ``None`` always uses every row.
    seed
        Seed of the sample.

    Returns
    -------
    Profile

    Raises
    ------
    DataError
        The table is empty or ``target`` is not one of its columns.
    ParameterError
        ``sample_rows`` is not a positive integer or ``None``.

    Examples
    --------
    >>> import polars as pl
    >>> from mlwf_core.eda import profile
    >>> p = profile(pl.DataFrame({"x": [1.0, 2.0, 3.0, 40.0], "y": ["a", "b", "a", "b"]}))
    >>> p.roles
    {'x': 'numeric', 'y': 'categorical'}
    """
    start = time.perf_counter()
    if sample_rows is not None and (
        isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 10
    ):
        raise ParameterError(
            "The 'sample_rows' parameter of profile must be an integer of at least 10 or None. "
            f"Got {sample_rows!r} instead."
        )
    frame = _as_frame(data)
    if frame.width == 0 or frame.height == 0:
        raise DataError(
            f"Cannot profile an empty table: it has {frame.height} rows and {frame.width} columns."
        )
    if target is not None and target not in frame.columns:
        shown = ", ".join(repr(c) for c in frame.columns[:12])
        raise DataError(
            f"The target column {target!r} is not in the data. Available columns: {shown}"
            f"{' ...' if frame.width > 12 else ''}. Pass one of them as target."
        )
    from mlwf_core import _eda_table as t

    n = frame.height
    work, notes = _normalise(frame)
    columns = _column_profiles(frame, work, notes)
    roles = {c.name: c.role for c in columns}

    sampled = sample_rows is not None and n > sample_rows
    if sampled:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=sample_rows, replace=False))
        # identifiers and free text take no part in the pairwise analyses
        kept = [
            c.name
            for c in columns
            if c.role in ("numeric", "categorical", "boolean", "datetime")
            or c.n_missing
            or c.name == target
        ]
        sample = work.select(kept)[rows]
    else:
        rows = np.arange(n)
        sample = work
    codes = t.codes(sample, columns)
    numeric = [c.name for c in columns if c.role == "numeric"][:_MAX_MATRIX_COLUMNS]
    matrix = t.float_matrix(sample, numeric)

    warnings_: list[dict[str, Any]] = []
    result = Profile(
        n_rows=n,
        n_columns=frame.width,
        sample={
            "sampled": sampled,
            "n_rows": int(sample.height),
            "seed": seed,
            "threshold": sample_rows,
            "exact": ["columns", "duplicates"],
            "on_sample": ["correlations", "anomalies", "target", "missingness.patterns"]
            if sampled
            else [],
        },
        columns=columns,
        duplicates=t.duplicates(frame),
        correlations=t.correlations(sample, numeric, matrix, codes),
        anomalies=t.anomalies(columns, numeric, matrix, rows),
        target=None,
        missingness=t.missingness(frame, sample, columns),
        warnings=warnings_,
        elapsed_seconds=0.0,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if target is not None:
        from mlwf_core._eda_target import target_relations

        result.target = target_relations(sample, columns, codes, target, roles)
    warnings_.extend(_warnings(result))
    result.elapsed_seconds = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------
# input


def _as_frame(data: Any) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    from mlwf_core.io import read

    return read(data)


def _normalise(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """Working copy: missing floats as null, categoricals as text, numbers in text parsed."""
    notes: dict[str, list[str]] = {}
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            exprs.append(pl.when(col.is_finite()).then(col).otherwise(None).alias(name))
        elif dtype == pl.Categorical or isinstance(dtype, pl.Enum):
            exprs.append(col.cast(pl.String))
        elif dtype == pl.String:
            exprs.append(_parse_text(frame[name], notes))
        else:
            exprs.append(col)
    return frame.select(exprs), notes


def _parse_text(values: pl.Series, notes: dict[str, list[str]]) -> pl.Expr:
    """Numbers or dates stored as text become numbers or dates; other text stays."""
    name = values.name
    col = pl.col(name)
    head = values.drop_nulls().head(2000).str.strip_chars()
    if head.len() == 0:
        return col
    if head.cast(pl.Float64, strict=False).null_count() == 0:
        parsed = values.str.strip_chars().cast(pl.Float64, strict=False)
        if parsed.null_count() == values.null_count():
            notes.setdefault(name, []).append("numbers stored as text, read as numbers")
            number = col.str.strip_chars().cast(pl.Float64, strict=False)
            return pl.when(number.is_finite()).then(number).otherwise(None).alias(name)
    if head.str.contains(r"^\d{4}-\d{2}-\d{2}").all():
        try:
            parsed = values.str.strip_chars().str.to_datetime(strict=False)
        except pl.exceptions.PolarsError:
            return col
        if parsed.null_count() == values.null_count():
            notes.setdefault(name, []).append("dates stored as text, read as dates")
            return pl.lit(parsed).alias(name)
    return col


# ---------------------------------------------------------------------------
# per column (exact, every row)


def _column_profiles(
    frame: pl.DataFrame, work: pl.DataFrame, notes: dict[str, list[str]]
) -> list[ColumnProfile]:
    n = work.height
    numeric_like = [c for c, d in work.schema.items() if d.is_numeric()]
    numeric_set = set(numeric_like)
    others = [c for c in work.columns if c not in numeric_set]
    base = work.select(
        [pl.col(c).null_count().alias(f"{c}\0null") for c in work.columns]
        + [pl.col(c).drop_nulls().n_unique().alias(f"{c}\0uniq") for c in others]
    ).row(0, named=True)
    # One sort per numeric column gives quantiles, distinct count, MAD, histogram
    # and outlier counts without further passes; NumPy's SIMD sort is several
    # times faster than Polars' on one core, which is what a busy machine leaves.
    sorted_values = {c: _sorted_present(work[c]) for c in numeric_like}
    stats = _numeric_stats(work, sorted_values)
    for c, v in sorted_values.items():
        base[f"{c}\0uniq"] = int(np.count_nonzero(np.diff(v))) + 1 if v.size else 0
    out = []
    original = frame.schema
    for name, dtype in work.schema.items():
        n_missing = int(base[f"{name}\0null"])
        n_distinct = int(base[f"{name}\0uniq"])
        role = _role(name, work[name], dtype, n - n_missing, n_distinct, stats.get(name))
        col = ColumnProfile(
            name=name,
            dtype=str(original[name]),
            role=role,
            n_missing=n_missing,
            missing_share=n_missing / n,
            n_distinct=n_distinct,
            notes=list(notes.get(name, [])),
        )
        if dtype.is_float() and original[name].is_float():
            n_inf = int(frame[name].is_infinite().sum())
            if n_inf:
                col.notes.append(f"{n_inf:,} infinite values counted as missing")
        if name in stats and role in ("numeric", "id", "boolean"):
            col.stats = stats[name]
        if role == "numeric":
            _numeric_details(col, sorted_values[name], dtype.is_integer())
        elif role == "datetime":
            _datetime_details(col, work[name])
        elif role == "text":
            _text_details(col, work[name])
        # an identifier's levels all occur once: counting them would cost a full pass
        if (
            role in ("categorical", "boolean", "constant")
            or (role == "text" and n_distinct < n - n_missing)
            or (role == "numeric" and n_distinct <= 20)
        ):
            col.top_levels = _top_levels(work[name], n, TOP_LEVELS)
        out.append(col)
    return out


def _sorted_present(values: pl.Series) -> np.ndarray:
    """The non-missing values of a numeric column as a sorted float64 array."""
    x = values.cast(pl.Float64).to_numpy()
    if values.null_count():
        x = x[~np.isnan(x)]
    elif not x.flags.writeable:
        x = x.copy()
    x.sort()
    return x


def _numeric_stats(
    work: pl.DataFrame, sorted_values: dict[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    from mlwf_core import _eda_kernels as k

    if not sorted_values:
        return {}
    exprs = []
    for c in sorted_values:
        x = pl.col(c).cast(pl.Float64)
        exprs += [
            x.mean().alias(f"{c}\0mean"),
            x.std().alias(f"{c}\0std"),
            x.skew().alias(f"{c}\0skew"),
            x.kurtosis().alias(f"{c}\0kurtosis"),
            (x == 0).sum().alias(f"{c}\0n_zeros"),
            (x < 0).sum().alias(f"{c}\0n_negative"),
        ]
    row = work.select(exprs).row(0, named=True)
    out: dict[str, dict[str, Any]] = {}
    for c, v in sorted_values.items():
        s = {key: row[f"{c}\0{key}"] for key in ("mean", "std", "skew", "kurtosis")}
        s["min"] = float(v[0]) if v.size else None
        s["max"] = float(v[-1]) if v.size else None
        s["n_zeros"] = int(row[f"{c}\0n_zeros"] or 0)
        s["n_negative"] = int(row[f"{c}\0n_negative"] or 0)
        s["quantiles"] = {f"p{round(q * 100):02d}": _quantile(v, q) for q in QUANTILES}
        s["mad"] = float(k.sorted_mad(v, s["quantiles"]["p50"])) if v.size else None
        out[c] = s
    return out


def _quantile(v: np.ndarray, q: float) -> float | None:
    """Quantile of sorted ``v`` with linear interpolation (NumPy's default)."""
    if v.size == 0:
        return None
    pos = q * (v.size - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, v.size - 1)
    return float(v[lo] + (v[hi] - v[lo]) * (pos - lo))


def _role(
    name: str,
    values: pl.Series,
    dtype: pl.DataType,
    n_present: int,
    n_distinct: int,
    stats: dict[str, Any] | None,
) -> str:
    if n_distinct <= 1:
        return "constant"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_temporal():
        return "datetime"
    if dtype.is_numeric():
        if n_distinct == 2 and stats and stats["min"] == 0 and stats["max"] == 1:
            return "boolean"
        if dtype.is_integer() and n_distinct == n_present and n_present > 20 and stats:
            # A unique integer column is an ID when it is a (shuffled) range, not a measurement.
            if stats["max"] - stats["min"] < 2 * n_present or _id_name(name):
                return "id"
        return "numeric"
    if dtype == pl.String:
        present = values.drop_nulls()
        if n_distinct == 2 and frozenset(present.unique().str.to_lowercase()) in _BOOL_TOKENS:
            return "boolean"
        if n_distinct > _HIGH_CARDINALITY and n_distinct > 0.5 * n_present:
            words = present.head(5000).str.count_matches(r"\S+").mean() or 0.0
            if words >= _TEXT_MEAN_WORDS:
                return "text"
            if n_distinct == n_present:
                return "id"
        return "categorical"
    return "other"


def _id_name(name: str) -> bool:
    low = name.lower()
    return low in ("id", "index", "rownames", "key") or low.endswith(("_id", "id", "_key"))


def _numeric_details(col: ColumnProfile, v: np.ndarray, integer: bool) -> None:
    """Histogram and outlier counts from the sorted non-missing values ``v``."""
    s = col.stats
    lo, hi = s["min"], s["max"]
    n_bins = int(min(N_BINS, max(col.n_distinct, 1)))
    scale = "linear"
    if integer and hi - lo + 1 <= N_BINS:
        edges = np.arange(lo - 0.5, hi + 1.0, 1.0)
    elif lo > 0 and hi / lo > 100 and (s["skew"] or 0.0) > _SKEW:
        # a long right tail over orders of magnitude reads better in log-spaced bins
        edges = np.geomspace(lo, hi, n_bins + 1)
        scale = "log"
    else:
        edges = np.linspace(lo, hi, n_bins + 1)
    # bins are [a, b) except the last, [a, b], as in numpy.histogram
    bounds = np.r_[0, np.searchsorted(v, edges[1:-1], side="left"), v.size]
    col.histogram = {"edges": edges.tolist(), "counts": np.diff(bounds).tolist(), "scale": scale}
    q1, q3 = s["quantiles"]["p25"], s["quantiles"]["p75"]
    iqr = q3 - q1
    lower, upper = q1 - _IQR_K * iqr, q3 + _IQR_K * iqr
    # MAD of zero (over half the values equal) falls back to the IQR, then the std.
    scale = 1.4826 * s["mad"] if s["mad"] else (iqr / 1.349 if iqr else (s["std"] or 0.0))
    med = s["quantiles"]["p50"]
    # Double MAD, one scale per side of the median, for the anomaly score: it widens
    # the long side of a skewed column and never narrows either side below the MAD.
    below = v[: np.searchsorted(v, med, side="right")]
    above = v[np.searchsorted(v, med, side="left") :]
    low = max(1.4826 * (med - _quantile(below, 0.5)), scale) if below.size else scale
    high = max(1.4826 * (_quantile(above, 0.5) - med), scale) if above.size else scale
    col.outliers = {
        "iqr": {"lower": lower, "upper": upper, "count": _outside(v, lower, upper)},
        "robust_z": {
            "median": med,
            "scale": scale,
            "scale_low": low,
            "scale_high": high,
            "threshold": _ROBUST_Z,
            "count": _outside(v, med - _ROBUST_Z * scale, med + _ROBUST_Z * scale) if scale else 0,
        },
    }


def _outside(v: np.ndarray, lower: float, upper: float) -> int:
    """Values of sorted ``v`` strictly below ``lower`` or strictly above ``upper``."""
    below = np.searchsorted(v, lower, side="left")
    above = v.size - np.searchsorted(v, upper, side="right")
    return int(below + above)


def _datetime_details(col: ColumnProfile, values: pl.Series) -> None:
    from mlwf_core import _eda_kernels as k

    present = values.drop_nulls()
    lo, hi = present.min(), present.max()
    col.stats = {"min": _iso(lo), "max": _iso(hi)}
    physical = present.to_physical().cast(pl.Float64).to_numpy()
    a, b = float(physical.min()), float(physical.max())
    edges = np.linspace(a, b, N_BINS + 1)
    counts = k.histogram(physical, a, b, N_BINS)
    physical_dtype = pl.Int32 if present.dtype == pl.Date else pl.Int64
    as_dates = pl.Series(edges.astype(np.int64)).cast(physical_dtype).cast(present.dtype)
    labels = [_iso(as_dates[i]) for i in range(N_BINS)]
    col.histogram = {"edges": edges.tolist(), "counts": counts.tolist(), "labels": labels}


def _iso(value: Any) -> str | None:
    return (
        None if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    )


def _text_details(col: ColumnProfile, values: pl.Series) -> None:
    from mlwf_core import _eda_kernels as k

    lengths = values.str.len_chars().cast(pl.Float64)
    words = values.str.count_matches(r"\S+")
    col.stats = {
        "mean_length": lengths.mean(),
        "max_length": lengths.max(),
        "mean_words": words.mean(),
    }
    lo, hi = float(lengths.min() or 0), float(lengths.max() or 0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1, N_BINS + 1)
    counts = k.histogram(lengths.to_numpy(), float(edges[0]), float(edges[-1]), N_BINS)
    col.histogram = {"edges": edges.tolist(), "counts": counts.tolist()}


def _top_levels(values: pl.Series, n: int, k: int) -> list[dict[str, Any]]:
    counts = _value_counts(values).head(k)
    return [
        {"value": _level(v), "count": int(c), "share": int(c) / n}
        for v, c in zip(counts["value"].to_list(), counts["n"].to_list(), strict=True)
    ]


def _value_counts(values: pl.Series) -> pl.DataFrame:
    """Counts of each non-missing value, most frequent first, ties by value (deterministic)."""
    counts = values.drop_nulls().alias("value").value_counts(name="n")
    return counts.sort(["n", "value"], descending=[True, False])


def _level(value: Any) -> Any:
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return _iso(value)


# ---------------------------------------------------------------------------
# warnings


def _warnings(p: Profile) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(kind: str, column: str | None, message: str) -> None:
        out.append({"kind": kind, "column": column, "message": message})

    if p.sample["sampled"]:
        add(
            "sampled",
            None,
            f"{p.n_rows:,} rows: correlations, anomalies, target relations and missingness "
            f"patterns use a random sample of {p.sample['n_rows']:,} rows (seed {p.sample['seed']}).",
        )
    if p.duplicates["n_duplicate_rows"]:
        add(
            "duplicates",
            None,
            f"{p.duplicates['n_duplicate_rows']:,} rows ({p.duplicates['share']:.1%}) repeat an "
            "earlier row; remove them unless repeated records are expected.",
        )
    target = p.target["name"] if p.target else None
    for c in p.columns:
        if c.role == "constant":
            add(
                "constant",
                c.name,
                f"Column {c.name!r} has a single value; it carries no information.",
            )
        if c.role == "id":
            add(
                "id",
                c.name,
                f"Column {c.name!r} looks like an identifier (unique per row); exclude it.",
            )
        if c.missing_share >= _HIGH_MISSING:
            add("missing", c.name, f"Column {c.name!r} is {c.missing_share:.0%} missing.")
        if c.role == "categorical" and c.n_distinct > _HIGH_CARDINALITY:
            add(
                "high_cardinality",
                c.name,
                f"Column {c.name!r} has {c.n_distinct:,} distinct levels; pool rare levels or encode "
                "by frequency.",
            )
        skew = c.stats.get("skew") if c.role == "numeric" else None
        if skew is not None and math.isfinite(skew) and abs(skew) > _SKEW:
            add("skewed", c.name, f"Column {c.name!r} is skewed (skewness {skew:.1f}).")
        zeros = c.stats.get("n_zeros", 0) / p.n_rows if c.role == "numeric" else 0.0
        if zeros >= _MANY_ZEROS:
            add("zeros", c.name, f"Column {c.name!r} is zero in {zeros:.0%} of the rows.")
        for note in c.notes:
            add("parsed", c.name, f"Column {c.name!r}: {note}.")
    pearson_ = p.correlations.get("pearson")
    if pearson_:
        names, m = pearson_["columns"], pearson_["matrix"]
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                r = m[i][j]
                if (
                    target not in (names[i], names[j])
                    and r is not None
                    and abs(r) >= _HIGH_CORRELATION
                ):
                    add(
                        "correlated",
                        names[j],
                        f"Columns {names[i]!r} and {names[j]!r} are almost collinear (r = {r:.3f}).",
                    )
    if p.target and p.target.get("task"):
        t = p.target
        for rel in t["features"]:
            if rel["uncertainty"] >= _LEAKAGE_UC:
                add(
                    "leakage",
                    rel["column"],
                    f"Column {rel['column']!r} alone explains {rel['uncertainty']:.0%} of the target's "
                    "entropy: check that it is known before the target is (target leakage).",
                )
        if t["task"] != "regression":
            shares = t["summary"]["shares"]
            minority = min(shares, key=shares.get)
            majority = max(shares, key=shares.get)
            # relative to the largest class, so many balanced classes are not "imbalanced"
            if shares[minority] < _IMBALANCE * shares[majority]:
                add(
                    "imbalance",
                    target,
                    f"Target {target!r} is imbalanced: class {minority!r} is "
                    f"{shares[minority]:.1%} of the labelled rows, class {majority!r} "
                    f"{shares[majority]:.1%}.",
                )
    elif p.target:
        add("target", target, p.target["problem"])
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return _iso(obj)
