"""Numba kernels for the data profile (loops Polars cannot express as columns).

Conventions: numeric columns arrive as float64 with NaN for missing values,
categorical columns as int32 codes in ``[0, k)`` with ``-1`` for missing.
Matrices of columns are C-contiguous with one column per row (``(p, n)``), so
each column is a contiguous block.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def histogram(x, lo, hi, n_bins):
    """Equal-width histogram of the finite values of ``x`` on ``[lo, hi]``."""
    counts = np.zeros(n_bins, dtype=np.int64)
    width = (hi - lo) / n_bins
    for i in range(x.shape[0]):
        v = x[i]
        if not np.isfinite(v) or v < lo or v > hi:
            continue
        b = int((v - lo) / width) if width > 0 else 0
        if b >= n_bins:
            b = n_bins - 1
        counts[b] += 1
    return counts


@njit(cache=True)
def sorted_mad(v, med):
    """Median absolute deviation from ``med`` of the sorted values ``v``.

    ``|v - med|`` is two sorted runs (left of ``med`` descending, right of it
    ascending); walking their merge to the middle takes ``n / 2`` steps and no
    extra memory, where ``numpy.median(numpy.abs(v - med))`` copies and partitions.
    """
    n = v.shape[0]
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if v[mid] < med:
            lo = mid + 1
        else:
            hi = mid
    i = lo - 1
    j = lo
    k_lo = (n - 1) // 2
    k_hi = n // 2
    a = 0.0
    b = 0.0
    for step in range(k_hi + 1):
        if i >= 0 and (j >= n or med - v[i] <= v[j] - med):
            d = med - v[i]
            i -= 1
        else:
            d = v[j] - med
            j += 1
        if step == k_lo:
            a = d
        if step == k_hi:
            b = d
    return (a + b) / 2.0


@njit(cache=True)
def pearson_matrix(X, centre):
    """Pearson correlation of every pair of rows of ``X`` on pairwise-complete values.

    One pass per pair over values shifted by ``centre`` (each row's mean),
    which keeps the one-pass sums accurate. Pairs of rows without missing
    values take a branch-free loop the compiler vectorises. Pairs with fewer
    than three common values or no variance get NaN; the diagonal is 1.
    """
    p, n = X.shape
    out = np.full((p, p), np.nan)
    Z = np.empty_like(X)
    complete = np.ones(p, dtype=np.bool_)
    scale = np.zeros(p)
    for i in range(p):
        for t in range(n):
            v = X[i, t]
            if v != v:
                complete[i] = False
            else:
                scale[i] = max(scale[i], abs(v))
            Z[i, t] = v - centre[i]
    for i in range(p):
        out[i, i] = 1.0
        for j in range(i + 1, p):
            if complete[i] and complete[j]:
                m, sa, sb, saa, sbb, sab = _sums_complete(Z[i], Z[j])
            else:
                m, sa, sb, saa, sbb, sab = _sums_pairwise(Z[i], Z[j])
            if m < 3:
                continue
            va = saa - sa * sa / m
            vb = sbb - sb * sb / m
            # a column constant over the common rows leaves only rounding noise, small
            # next to the column's scale or to its sum of squares about the centre
            if va <= max(m * (1e-12 * scale[i]) ** 2, 1e-12 * saa) or vb <= max(
                m * (1e-12 * scale[j]) ** 2, 1e-12 * sbb
            ):
                continue
            r = (sab - sa * sb / m) / np.sqrt(va * vb)
            r = min(1.0, max(-1.0, r))
            out[i, j] = r
            out[j, i] = r
    return out


@njit(cache=True, fastmath={"reassoc", "contract"})
def _sums_complete(a, b):
    sa = 0.0
    sb = 0.0
    saa = 0.0
    sbb = 0.0
    sab = 0.0
    for t in range(a.shape[0]):
        x = a[t]
        y = b[t]
        sa += x
        sb += y
        saa += x * x
        sbb += y * y
        sab += x * y
    return a.shape[0], sa, sb, saa, sbb, sab


@njit(cache=True, fastmath={"reassoc", "contract"})
def _sums_pairwise(a, b):
    # selects instead of a branch let the compiler vectorise the loop
    m = 0.0
    sa = 0.0
    sb = 0.0
    saa = 0.0
    sbb = 0.0
    sab = 0.0
    for t in range(a.shape[0]):
        x = a[t]
        y = b[t]
        ok = (x == x) & (y == y)
        x = x if ok else 0.0
        y = y if ok else 0.0
        m += 1.0 if ok else 0.0
        sa += x
        sb += y
        saa += x * x
        sbb += y * y
        sab += x * y
    return m, sa, sb, saa, sbb, sab


@njit(cache=True)
def contingency(a, b, ka, kb):
    """Counts of each ``(a, b)`` code pair; pairs with a missing code are skipped."""
    table = np.zeros((ka, kb), dtype=np.int64)
    for i in range(a.shape[0]):
        if a[i] >= 0 and b[i] >= 0:
            table[a[i], b[i]] += 1
    return table


@njit(cache=True)
def cramers_v_table(table):
    """Cramér's V (without bias correction) of a contingency table.

    Empty rows and columns are dropped first, as ``scipy.stats.contingency``
    would reject them.
    """
    ka, kb = table.shape
    rows = np.zeros(ka)
    cols = np.zeros(kb)
    n = 0.0
    for i in range(ka):
        for j in range(kb):
            rows[i] += table[i, j]
            cols[j] += table[i, j]
            n += table[i, j]
    r = 0
    for i in range(ka):
        if rows[i] > 0:
            r += 1
    c = 0
    for j in range(kb):
        if cols[j] > 0:
            c += 1
    if n == 0 or min(r, c) < 2:
        return np.nan
    chi2 = 0.0
    for i in range(ka):
        if rows[i] == 0:
            continue
        for j in range(kb):
            if cols[j] == 0:
                continue
            e = rows[i] * cols[j] / n
            d = table[i, j] - e
            chi2 += d * d / e
    return np.sqrt(chi2 / n / (min(r, c) - 1))


@njit(cache=True)
def cramers_v_matrix(codes, ks):
    """Cramér's V between every pair of coded columns (rows of ``codes``)."""
    p = codes.shape[0]
    out = np.full((p, p), np.nan)
    for i in range(p):
        out[i, i] = 1.0
        for j in range(i + 1, p):
            v = cramers_v_table(contingency(codes[i], codes[j], ks[i], ks[j]))
            out[i, j] = v
            out[j, i] = v
    return out


@njit(cache=True)
def correlation_ratio(codes, k, x, centre):
    """Correlation ratio (eta) of numeric ``x`` given categorical ``codes``.

    ``sqrt(SS_between / SS_total)`` over rows where both are present, in one
    pass over values shifted by ``centre`` (the mean of ``x``) for accuracy.
    """
    sums = np.zeros(k)
    counts = np.zeros(k)
    n = 0.0
    total = 0.0
    squares = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        g = codes[i]
        if g < 0 or v != v:
            continue
        v -= centre
        sums[g] += v
        counts[g] += 1.0
        n += 1.0
        total += v
        squares += v * v
    if n < 2:
        return np.nan
    mean = total / n
    sst = squares - total * mean
    if sst <= 1e-12 * squares:
        return np.nan
    ssb = 0.0
    for g in range(k):
        if counts[g] > 0:
            d = sums[g] / counts[g] - mean
            ssb += counts[g] * d * d
    return np.sqrt(min(1.0, ssb / sst))


@njit(cache=True)
def correlation_ratio_matrix(codes, ks, X, centre):
    """Correlation ratio of each numeric row of ``X`` given each coded row of ``codes``."""
    pc = codes.shape[0]
    pn = X.shape[0]
    out = np.full((pc, pn), np.nan)
    for i in range(pc):
        for j in range(pn):
            out[i, j] = correlation_ratio(codes[i], ks[i], X[j], centre[j])
    return out


@njit(cache=True)
def mutual_info(a, b, ka, kb):
    """Mutual information (nats) and the entropies of ``a`` and ``b``.

    Rows where either code is missing are skipped; give missing values a code
    of their own to count them as a level.
    """
    table = contingency(a, b, ka, kb)
    n = 0.0
    rows = np.zeros(ka)
    cols = np.zeros(kb)
    for i in range(ka):
        for j in range(kb):
            rows[i] += table[i, j]
            cols[j] += table[i, j]
            n += table[i, j]
    if n == 0:
        return 0.0, 0.0, 0.0
    mi = 0.0
    for i in range(ka):
        for j in range(kb):
            c = table[i, j]
            if c > 0:
                mi += c / n * np.log(c * n / (rows[i] * cols[j]))
    ha = 0.0
    for i in range(ka):
        if rows[i] > 0:
            ha -= rows[i] / n * np.log(rows[i] / n)
    hb = 0.0
    for j in range(kb):
        if cols[j] > 0:
            hb -= cols[j] / n * np.log(cols[j] / n)
    return max(mi, 0.0), ha, hb


@njit(cache=True)
def anomaly_scores(X, center, scale_low, scale_high, clip):
    """Root-mean-square robust z-score of each column of ``X`` (shape ``(p, n)``).

    ``z = |x - center| / scale`` per feature, with the scale of the side of the
    median the value lies on (double MAD), so a long right tail does not make
    every large value look anomalous. ``z`` is clipped at ``clip`` so one absurd
    value cannot hide every other row; missing values are skipped.
    """
    p, n = X.shape
    out = np.zeros(n)
    for i in range(n):
        s = 0.0
        m = 0
        for j in range(p):
            v = X[j, i]
            if np.isnan(v):
                continue
            d = v - center[j]
            scale = scale_high[j] if d >= 0 else scale_low[j]
            if scale <= 0.0:
                continue
            z = abs(d) / scale
            if z > clip:
                z = clip
            s += z * z
            m += 1
        out[i] = np.sqrt(s / m) if m > 0 else 0.0
    return out
