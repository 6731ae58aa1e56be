"""Relations between each column of a profile and its target.

Mutual information between the column (quantile bins for numbers, levels for
categories, missing values as a level of their own) and the target (classes,
or quantile bins for regression), and the target rate (classes) or mean
(regression) per level or bin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from mlwf_core.eda import TOP_LEVELS
from mlwf_core.exceptions import DataError

if TYPE_CHECKING:
    from mlwf_core.eda import ColumnProfile

_TARGET_BINS = 10
_MAX_CLASSES = 100


def target_relations(
    sample: pl.DataFrame,
    columns: list[ColumnProfile],
    codes: dict[str, tuple[np.ndarray, list]],
    target: str,
    roles: dict[str, str],
) -> dict[str, Any]:
    from mlwf_core import _eda_kernels as k
    from mlwf_core.schema import detect_task

    y_raw = sample[target]
    labelled = y_raw.is_not_null().to_numpy()
    present = y_raw.drop_nulls()
    problem = None
    task = None
    if present.dtype.is_float():
        present = present.filter(present.is_not_nan())
    if present.len() == 0:
        problem = f"The target column {target!r} has no values: every row is missing."
    else:
        try:
            task = detect_task(present)
        except DataError as exc:
            problem = str(exc)
    if task in ("binary", "multiclass") and (n_classes := present.n_unique()) > _MAX_CLASSES:
        task = None
        problem = (
            f"The target column {target!r} has {n_classes:,} distinct labels, too many to "
            "relate the columns to as classes; check that it is the intended target."
        )
    out: dict[str, Any] = {
        "name": target,
        "task": task,
        "problem": problem,
        "n_labelled": int(labelled.sum()),
    }
    if task is None:
        out["features"] = []
        return out
    if task == "regression":
        y = y_raw.cast(pl.Float64).to_numpy()
        y_codes, _, _ = _bin_codes(y, _TARGET_BINS)
        out["summary"] = {"mean": float(np.nanmean(y)), "std": float(np.nanstd(y))}
    else:
        text = y_raw.cast(pl.String)
        classes = sorted(text.drop_nulls().unique().to_list(), key=_natural)
        y_codes = text.replace_strict(
            classes, list(range(len(classes))), default=-1, return_dtype=pl.Int32
        )
        y_codes = y_codes.fill_null(-1).to_numpy().astype(np.int32)
        counts = np.bincount(y_codes[y_codes >= 0], minlength=len(classes))
        out["classes"] = classes
        out["summary"] = {
            "counts": {c: int(v) for c, v in zip(classes, counts, strict=True)},
            "shares": {c: float(v / counts.sum()) for c, v in zip(classes, counts, strict=True)},
        }
        # rate of the last class in natural order (True, 1, "yes" ...) for binary targets
        out["positive"] = classes[-1] if task == "binary" else None
    ky = int(y_codes.max()) + 1
    y_codes = np.ascontiguousarray(y_codes, dtype=np.int32)
    features = []
    for col in columns:
        if col.name == target or col.role not in ("numeric", "categorical", "boolean", "datetime"):
            continue
        if col.role in ("categorical", "boolean"):
            x_codes, labels = codes[col.name]
            x_codes = x_codes.copy()
        else:
            x = sample[col.name]
            x = x.to_physical() if col.role == "datetime" else x
            x_codes, labels, _ = _bin_codes(x.cast(pl.Float64).to_numpy(), _TARGET_BINS)
        # missing values are a level of their own: whether a value is missing can be informative
        if (x_codes < 0).any():
            x_codes[x_codes < 0] = len(labels)
            labels = [*labels, "(missing)"]
        kx = len(labels)
        mi, hx, hy = k.mutual_info(x_codes, y_codes, kx, ky)
        rel = {
            "column": col.name,
            "mutual_info": float(mi),
            "uncertainty": float(mi / hy) if hy > 0 else 0.0,
            "by_level": _by_level(x_codes, labels, y_raw, y_codes, task, out, col.role),
        }
        features.append(rel)
    features.sort(key=lambda r: -r["mutual_info"])
    out["features"] = features
    return out


def _natural(value: str) -> tuple[int, float | str]:
    low = value.lower()
    if low in ("false", "no", "n", "f"):
        return (0, 0.0)
    if low in ("true", "yes", "y", "t"):
        return (0, 1.0)
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def _bin_codes(x: np.ndarray, n_bins: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Quantile bins of ``x`` as codes (``-1`` missing) with ``[lo, hi)`` labels."""
    finite = x[np.isfinite(x)]
    codes = np.full(x.shape[0], -1, dtype=np.int32)
    if finite.size == 0:
        return codes, [], np.empty(0)
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)))
    if edges.size == 1:
        edges = np.array([edges[0], edges[0]])
    inner = edges[1:-1]
    ok = np.isfinite(x)
    codes[ok] = np.searchsorted(inner, x[ok], side="right")
    from mlwf_core._plot import fmt

    labels = [
        f"[{fmt(edges[i])}, {fmt(edges[i + 1])}{']' if i == edges.size - 2 else ')'}"
        for i in range(edges.size - 1)
    ]
    return codes, labels, edges


def _by_level(
    x_codes: np.ndarray,
    labels: list[str],
    y_raw: pl.Series,
    y_codes: np.ndarray,
    task: str,
    target: dict[str, Any],
    role: str,
) -> list[dict[str, Any]]:
    """Count and target rate (classes) or mean (regression) per level, most frequent first."""
    kx = len(labels)
    ok = y_codes >= 0
    counts = np.bincount(x_codes[ok], minlength=kx)
    if task == "regression":
        y = y_raw.cast(pl.Float64).to_numpy()
        sums = np.bincount(x_codes[ok], weights=y[ok], minlength=kx)
        values = sums / np.maximum(counts, 1)
    else:
        classes = target["classes"]
        positive = len(classes) - 1
        hits = np.bincount(x_codes[ok & (y_codes == positive)], minlength=kx)
        values = hits / np.maximum(counts, 1)
        if task == "multiclass":
            # share of the most frequent class overall, per level
            top = int(np.argmax(np.bincount(y_codes[ok])))
            hits = np.bincount(x_codes[ok & (y_codes == top)], minlength=kx)
            values = hits / np.maximum(counts, 1)
            target["rate_class"] = classes[top]
    # bins keep their numeric order, levels go most frequent first
    order = range(kx) if role in ("numeric", "datetime") else np.argsort(-counts, kind="stable")
    rows = [
        {"level": str(labels[i]), "count": int(counts[i]), "value": float(values[i])}
        for i in order
        if counts[i] > 0
    ]
    return rows[: max(TOP_LEVELS, _TARGET_BINS) + 1]
