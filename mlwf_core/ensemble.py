"""Greedy ensemble selection over out-of-fold predictions.

Caruana et al. (2004), with replacement: start from the best trial and keep
adding the trial (possibly again) whose inclusion most improves the task
metric of the blended out-of-fold predictions. Blending happens in margin
space so the ensemble stays one additive forest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from mlwf_core._link import apply_link
from mlwf_core.metrics import Metric

__all__ = ["select_ensemble"]


def select_ensemble(
    oofs: Sequence[np.ndarray],
    y: np.ndarray,
    metric: Metric,
    task: str,
    *,
    max_rounds: int = 25,
) -> dict[int, float]:
    """Choose blend weights for candidate out-of-fold margins.

    Parameters
    ----------
    oofs
        One margin array per candidate, rows aligned with ``y``, best candidate first.
    y
        Encoded target of those rows.
    metric
        Metric to optimise (its direction is respected).
    task
        Link applied to blended margins before scoring.
    max_rounds
        Selection steps (each adds one member with replacement).

    Returns
    -------
    dict
        Candidate index -> weight; weights sum to 1. Only improving steps are kept,
        so the result is never worse than the best single candidate on these rows.
    """
    if not oofs:
        return {}
    sign = 1.0 if metric.direction == "maximize" else -1.0
    chosen: list[int] = [0]
    total = oofs[0].copy()
    best = sign * metric(y, apply_link(total, task))
    for _ in range(max_rounds - 1):
        n = len(chosen)
        step_best, step_idx = best, -1
        for i, oof in enumerate(oofs):
            score = sign * metric(y, apply_link((total + oof) / (n + 1), task))
            if score > step_best + 1e-12:
                step_best, step_idx = score, i
        if step_idx < 0:
            break
        chosen.append(step_idx)
        total = total + oofs[step_idx]
        best = step_best
    counts = Counter(chosen)
    return {i: c / len(chosen) for i, c in sorted(counts.items())}
