"""Link functions: boosters' raw margins to probabilities or values.

Ensembles blend in margin space (a weighted sum of raw scores, then the link),
so any blend of boosters is again one forest for the compiled scorer.
"""

from __future__ import annotations

import numpy as np


def apply_link(margin: np.ndarray, task: str) -> np.ndarray:
    """Sigmoid for binary, softmax over columns for multiclass, identity for regression."""
    if task == "binary":
        return 1.0 / (1.0 + np.exp(-margin))
    if task == "multiclass":
        shifted = margin - margin.max(axis=1, keepdims=True)
        expd = np.exp(shifted)
        return expd / expd.sum(axis=1, keepdims=True)
    return margin
