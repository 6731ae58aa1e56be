"""Numba kernels of the data layer: binning, encodings, screens and text hashing.

Every kernel works on plain NumPy arrays (``-1`` codes mean missing) and has a
straightforward NumPy reference in ``tests/test_features.py``. This module is
imported lazily: ``import mlwf_core`` never loads Numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "bin_values",
    "date_parts",
    "group_stats",
    "level_counts",
    "mutual_info",
    "pair_screen",
    "quantile_edges",
    "target_encode",
    "text_stats",
]

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619


@njit(cache=True)
def quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Interior cut points of ``n_bins`` equal-frequency bins (NaN ignored, duplicates merged).

    A value ``v`` falls in bin ``i`` when ``edges[i-1] < v <= edges[i]``.
    """
    finite = values[~np.isnan(values)]
    if finite.size == 0 or n_bins < 2:
        return np.empty(0, dtype=np.float64)
    ordered = np.sort(finite)
    n = ordered.size
    out = np.empty(n_bins - 1, dtype=np.float64)
    m = 0
    for i in range(1, n_bins):
        pos = (i * n) // n_bins - 1
        if pos < 0:
            continue
        cut = ordered[pos]
        if cut >= ordered[n - 1]:
            break
        if m == 0 or cut > out[m - 1]:
            out[m] = cut
            m += 1
    return out[:m].copy()


@njit(cache=True)
def bin_values(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value (``searchsorted`` left over the edges); NaN -> -1."""
    out = np.empty(values.size, dtype=np.int64)
    for i in range(values.size):
        v = values[i]
        if np.isnan(v):
            out[i] = -1
        else:
            out[i] = np.searchsorted(edges, v)
    return out


@njit(cache=True)
def level_counts(codes: np.ndarray, n_levels: int) -> np.ndarray:
    """Occurrences of each level code (``-1`` codes are not counted)."""
    counts = np.zeros(n_levels, dtype=np.int64)
    for c in codes:
        if c >= 0:
            counts[c] += 1
    return counts


@njit(cache=True)
def group_stats(
    codes: np.ndarray, n_levels: int, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per level: mean of the non-NaN ``values`` (NaN when none) and count of rows."""
    sums = np.zeros(n_levels, dtype=np.float64)
    seen = np.zeros(n_levels, dtype=np.int64)
    counts = np.zeros(n_levels, dtype=np.int64)
    for i in range(codes.size):
        c = codes[i]
        if c < 0:
            continue
        counts[c] += 1
        v = values[i]
        if not np.isnan(v):
            sums[c] += v
            seen[c] += 1
    means = np.full(n_levels, np.nan)
    for j in range(n_levels):
        if seen[j] > 0:
            means[j] = sums[j] / seen[j]
    return means, counts


@njit(cache=True)
def target_encode(
    codes: np.ndarray,
    n_levels: int,
    targets: np.ndarray,
    folds: np.ndarray,
    n_folds: int,
    smoothing: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smoothed target means per level, in-fold for the plan and out-of-fold for training.

    ``targets`` is ``(n, k)`` (one column per encoded output: the value for
    regression, one-hot classes for classification). A level's encoding is
    ``(sum + smoothing * prior) / (count + smoothing)``; missing codes (``-1``)
    are their own level (index ``n_levels``).

    Returns
    -------
    full : (n_levels + 1, k) encodings fitted on every row (last row: missing)
    oof : (n, k) encoding of each row fitted on the other folds
    prior : (k,) overall means
    """
    n, k = targets.shape
    m = n_levels + 1
    sums = np.zeros((n_folds, m, k))
    counts = np.zeros((n_folds, m))
    tot_fold = np.zeros((n_folds, k))
    n_fold = np.zeros(n_folds)
    for i in range(n):
        f = folds[i]
        c = codes[i] if codes[i] >= 0 else n_levels
        counts[f, c] += 1.0
        n_fold[f] += 1.0
        for j in range(k):
            sums[f, c, j] += targets[i, j]
            tot_fold[f, j] += targets[i, j]
    all_sums = sums.sum(axis=0)
    all_counts = counts.sum(axis=0)
    prior = tot_fold.sum(axis=0) / max(n, 1)
    full = np.empty((m, k))
    for c in range(m):
        for j in range(k):
            full[c, j] = (all_sums[c, j] + smoothing * prior[j]) / (all_counts[c] + smoothing)
    oof = np.empty((n, k))
    for i in range(n):
        f = folds[i]
        c = codes[i] if codes[i] >= 0 else n_levels
        rest_n = n - n_fold[f]
        cnt = all_counts[c] - counts[f, c]
        for j in range(k):
            p = (prior[j] * n - tot_fold[f, j]) / rest_n if rest_n > 0 else prior[j]
            oof[i, j] = (all_sums[c, j] - sums[f, c, j] + smoothing * p) / (cnt + smoothing)
    return full, oof, prior


@njit(cache=True)
def mutual_info(x: np.ndarray, n_x: int, y: np.ndarray, n_y: int) -> float:
    """Mutual information (nats) of two discrete codes; ``-1`` is one more level."""
    table = np.zeros((n_x + 1, n_y + 1))
    n = x.size
    for i in range(n):
        a = x[i] if x[i] >= 0 else n_x
        b = y[i] if y[i] >= 0 else n_y
        table[a, b] += 1.0
    px = table.sum(axis=1) / n
    py = table.sum(axis=0) / n
    mi = 0.0
    for a in range(n_x + 1):
        for b in range(n_y + 1):
            p = table[a, b] / n
            if p > 0.0:
                mi += p * np.log(p / (px[a] * py[b]))
    return max(mi, 0.0)


@njit(cache=True)
def _binned_mi(values: np.ndarray, y_codes: np.ndarray, n_y: int, n_bins: int) -> float:
    edges = quantile_edges(values, n_bins)
    codes = bin_values(values, edges)
    return mutual_info(codes, edges.size + 1, y_codes, n_y)


@njit(cache=True)
def pair_screen(
    X: np.ndarray, pairs: np.ndarray, y_codes: np.ndarray, n_y: int, n_bins: int
) -> np.ndarray:
    """Mutual information with the target of ``a / b``, ``a - b`` and ``a * b`` per pair.

    ``pairs`` is ``(p, 2)`` column indices of ``X``; the result is ``(p, 3)`` in
    the order ratio, difference, product. Division by zero gives NaN (missing).
    """
    n = X.shape[0]
    out = np.zeros((pairs.shape[0], 3))
    derived = np.empty(n)
    for p in range(pairs.shape[0]):
        a = X[:, pairs[p, 0]]
        b = X[:, pairs[p, 1]]
        for op in range(3):
            for i in range(n):
                if op == 0:
                    derived[i] = a[i] / b[i] if b[i] != 0.0 else np.nan
                elif op == 1:
                    derived[i] = a[i] - b[i]
                else:
                    derived[i] = a[i] * b[i]
            out[p, op] = _binned_mi(derived, y_codes, n_y, n_bins)
    return out


@njit(cache=True)
def _is_space(b: int) -> bool:
    return b == 32 or (9 <= b <= 13)


@njit(cache=True)
def _is_token_byte(b: int) -> bool:
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b >= 128


@njit(cache=True)
def text_stats(
    offsets: np.ndarray, data: np.ndarray, valid: np.ndarray, n_buckets: int
) -> np.ndarray:
    """Length, word count and hashed token counts of UTF-8 strings (Arrow layout).

    Length counts code points; words are runs of non-whitespace (ASCII space,
    ``\\t \\n \\v \\f \\r``); tokens are runs of ASCII letters / digits or non-ASCII
    bytes, lower-cased (ASCII), hashed with 32-bit FNV-1a into ``n_buckets``.
    Missing strings give NaN everywhere. Output ``(n, 2 + n_buckets)`` float32.
    """
    n = offsets.size - 1
    out = np.zeros((n, 2 + n_buckets), dtype=np.float32)
    for i in range(n):
        if not valid[i]:
            out[i, :] = np.nan
            continue
        start = offsets[i]
        stop = offsets[i + 1]
        length = 0
        words = 0
        in_word = False
        in_token = False
        h = FNV_OFFSET
        for pos in range(start, stop):
            b = int(data[pos])
            if (b & 0xC0) != 0x80:
                length += 1
            if _is_space(b):
                in_word = False
            elif not in_word:
                in_word = True
                words += 1
            if _is_token_byte(b):
                if not in_token:
                    in_token = True
                    h = FNV_OFFSET
                lb = b + 32 if 65 <= b <= 90 else b
                h = ((h ^ lb) * FNV_PRIME) & 0xFFFFFFFF
            elif in_token:
                in_token = False
                if n_buckets > 0:
                    out[i, 2 + h % n_buckets] += 1.0
        if in_token and n_buckets > 0:
            out[i, 2 + h % n_buckets] += 1.0
        out[i, 0] = length
        out[i, 1] = words
    return out


# date_part codes of :func:`date_parts`, in the order of ``mlwf_core.plan.DATE_PARTS``
DATE_PART_CODES = {"year": 0, "month": 1, "day": 2, "weekday": 3, "hour": 4, "elapsed_days": 5}
_US_PER_DAY = 86_400_000_000


@njit(cache=True)
def date_parts(
    epoch_us: np.ndarray,
    valid: np.ndarray,
    parts: np.ndarray,
    origins: np.ndarray,
    out: np.ndarray,
    columns: np.ndarray,
) -> None:
    """Write date parts of microsecond timestamps into columns of ``out`` (float32).

    ``parts[k]`` (a :data:`DATE_PART_CODES` value) goes to ``out[:, columns[k]]``:
    proleptic Gregorian year, month, day, ISO weekday (1 = Monday), hour, or
    ``epoch_us / 86400e6 - origins[k]`` in double precision; invalid rows get NaN.
    The calendar is computed once per row (days-from-civil inverted, as in
    ``plan_ops.hpp``), where Polars would walk it once per part.
    """
    n = epoch_us.size
    k = parts.size
    for i in range(n):
        if not valid[i]:
            for j in range(k):
                out[i, columns[j]] = np.nan
            continue
        us = epoch_us[i]
        days = us // _US_PER_DAY
        hour = (us - days * _US_PER_DAY) // 3_600_000_000
        z = days + 719468
        era = z // 146097
        doe = z - era * 146097
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        day = doy - (153 * mp + 2) // 5 + 1
        month = mp + 3 if mp < 10 else mp - 9
        year = yoe + era * 400 + (1 if month <= 2 else 0)
        weekday = (days + 3) % 7 + 1
        for j in range(k):
            p = parts[j]
            if p == 0:
                v = float(year)
            elif p == 1:
                v = float(month)
            elif p == 2:
                v = float(day)
            elif p == 3:
                v = float(weekday)
            elif p == 4:
                v = float(hour)
            else:
                v = float(us) / 86_400_000_000.0 - origins[j]
            out[i, columns[j]] = v
