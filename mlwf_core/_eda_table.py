"""Table-wide parts of the profile: associations, duplicates, anomalies, missingness.

Pairwise and row-wise work runs on the profile's sample; the loops are the
Numba kernels of :mod:`mlwf_core._eda_kernels`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from mlwf_core.eda import (
    _MAX_CODES,
    _MAX_MATRIX_COLUMNS,
    _N_ANOMALIES,
    _N_PATTERNS,
    _ROBUST_Z,
    _value_counts,
)

if TYPE_CHECKING:
    from mlwf_core.eda import ColumnProfile


def codes(sample: pl.DataFrame, columns: list[ColumnProfile]) -> dict[str, tuple[np.ndarray, list]]:
    """Integer codes (``-1`` missing) of categorical and boolean columns with their levels.

    The most frequent ``_MAX_CODES`` levels of the sample get their own code,
    the rest share one ``"(other)"`` code.
    """
    out = {}
    for col in columns:
        if col.role not in ("categorical", "boolean"):
            continue
        s = sample[col.name]
        if s.dtype != pl.String:
            s = s.cast(pl.String)
        levels = _value_counts(s)["value"].to_list()
        kept = levels[:_MAX_CODES]
        other = len(levels) > len(kept)
        code = s.replace_strict(
            kept, list(range(len(kept))), default=len(kept), return_dtype=pl.Int32
        )
        arr = code.to_numpy().astype(np.int32)
        arr[s.is_null().to_numpy()] = -1
        out[col.name] = (np.ascontiguousarray(arr), kept + (["(other)"] if other else []))
    return out


def float_matrix(sample: pl.DataFrame, names: list[str]) -> np.ndarray:
    if not names:
        return np.empty((0, sample.height))
    return np.ascontiguousarray(
        np.stack([sample[c].cast(pl.Float64).to_numpy() for c in names])
    ).astype(np.float64, copy=False)


def _square(names: list[str], matrix: np.ndarray) -> dict[str, Any]:
    return {"rows": names, "columns": names, "matrix": matrix.tolist()}


def pearson(X: np.ndarray) -> np.ndarray:
    """Pearson correlation between the rows of ``X`` on pairwise-complete values.

    Missing values are NaN. Pairs with fewer than three common values or no
    variance over them get NaN; the diagonal is 1.
    """
    from mlwf_core import _eda_kernels as k

    X = np.ascontiguousarray(X, dtype=np.float64)
    return k.pearson_matrix(X, _centre(X))


def _centre(X: np.ndarray) -> np.ndarray:
    """Mean of each row over its non-missing values (0 for an empty row)."""
    counts = (~np.isnan(X)).sum(axis=1)
    return np.nansum(X, axis=1) / np.maximum(counts, 1)


def correlations(
    sample: pl.DataFrame,
    numeric: list[str],
    matrix: np.ndarray,
    codes: dict[str, tuple[np.ndarray, list]],
) -> dict[str, Any]:
    from mlwf_core import _eda_kernels as k

    out: dict[str, Any] = {}
    if len(numeric) >= 2:
        out["pearson"] = _square(numeric, pearson(matrix))
        ranks = sample.select([pl.col(c).cast(pl.Float64).rank("average") for c in numeric])
        out["spearman"] = _square(numeric, pearson(ranks.to_numpy().T))
    cats = list(codes)[:_MAX_MATRIX_COLUMNS]
    if len(cats) >= 2:
        c = np.ascontiguousarray(np.stack([codes[n][0] for n in cats]))
        ks = np.array([len(codes[n][1]) for n in cats], dtype=np.int64)
        out["cramers_v"] = _square(cats, k.cramers_v_matrix(c, ks))
    if cats and numeric:
        c = np.ascontiguousarray(np.stack([codes[n][0] for n in cats]))
        ks = np.array([len(codes[n][1]) for n in cats], dtype=np.int64)
        eta = k.correlation_ratio_matrix(c, ks, matrix, _centre(matrix))
        out["correlation_ratio"] = {"rows": cats, "columns": numeric, "matrix": eta.tolist()}
    return out


def duplicates(frame: pl.DataFrame) -> dict[str, Any]:
    """Rows identical to an earlier row, counted exactly.

    Row hashes find the candidates in one cheap pass; only rows whose hash
    repeats are compared in full, so hash collisions cannot inflate the count.
    """
    candidates = frame.filter(frame.hash_rows(seed=0).is_duplicated())
    dup = candidates.height - candidates.n_unique() if candidates.height else 0
    return {"n_duplicate_rows": int(dup), "share": dup / frame.height}


def anomalies(
    columns: list[ColumnProfile], numeric: list[str], matrix: np.ndarray, rows: np.ndarray
) -> dict[str, Any]:
    from mlwf_core import _eda_kernels as k

    empty = {
        "method": "rms robust z-score (double MAD)",
        "threshold": None,
        "n_anomalous": 0,
        "share": 0.0,
        "rows": [],
    }
    if not numeric:
        return empty
    by_name = {c.name: c for c in columns}
    robust = [by_name[c].outliers["robust_z"] for c in numeric]
    center = np.array([r["median"] for r in robust], dtype=np.float64)
    low = np.array([r["scale_low"] for r in robust], dtype=np.float64)
    high = np.array([r["scale_high"] for r in robust], dtype=np.float64)
    scores = k.anomaly_scores(matrix, center, low, high, 50.0)
    q1, q3 = np.quantile(scores, [0.25, 0.75])
    # Tukey's far-out fence on the scores, never below the per-value cut-off.
    threshold = float(max(q3 + 3.0 * (q3 - q1), _ROBUST_Z))
    flagged = np.flatnonzero(scores > threshold)
    top = flagged[np.argsort(-scores[flagged], kind="stable")][:_N_ANOMALIES]
    listed = []
    for i in top:
        d = matrix[:, i] - center
        side = np.where(d >= 0, high, low)
        z = np.abs(d) / np.where(side > 0, side, np.inf)
        z = np.where(np.isnan(z), 0.0, z)
        worst = np.argsort(-z, kind="stable")[:3]
        listed.append(
            {
                "row": int(rows[i]),
                "score": float(scores[i]),
                "columns": [
                    {"column": numeric[j], "value": float(matrix[j, i]), "z": float(z[j])}
                    for j in worst
                    if z[j] > _ROBUST_Z
                ],
            }
        )
    return {
        "method": "rms robust z-score (double MAD)",
        "threshold": threshold,
        "n_anomalous": int(flagged.size),
        "share": flagged.size / matrix.shape[1],
        "rows": listed,
    }


def missingness(
    frame: pl.DataFrame, sample: pl.DataFrame, columns: list[ColumnProfile]
) -> dict[str, Any]:
    shares = {c.name: c.missing_share for c in columns if c.n_missing}
    names = list(shares)[:_MAX_MATRIX_COLUMNS]
    out: dict[str, Any] = {"columns": shares, "patterns": [], "correlation": None}
    if not names:
        return out
    flags = sample.select([pl.col(c).is_null() for c in names])
    patterns = (
        flags.group_by(names)
        .len(name="count")
        .sort(["count", *names], descending=True)
        .head(_N_PATTERNS)
    )
    for row in patterns.iter_rows(named=True):
        out["patterns"].append(
            {
                "missing": [c for c in names if row[c]],
                "count": int(row["count"]),
                "share": row["count"] / sample.height,
            }
        )
    if len(names) >= 2:
        m = np.ascontiguousarray(flags.to_numpy().T.astype(np.float64))
        out["correlation"] = _square(names, pearson(m))
    return out
