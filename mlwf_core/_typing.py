"""Type aliases shared by the public API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import polars as pl

Task: TypeAlias = Literal["binary", "multiclass", "regression"]
FloatArray: TypeAlias = npt.NDArray[np.float64]
Float32Array: TypeAlias = npt.NDArray[np.float32]
# A path to a file, a Polars DataFrame / LazyFrame, a pandas DataFrame, an Arrow table
# or a 2-D NumPy array: everything io.read accepts.
FrameLike: TypeAlias = "str | Path | pl.DataFrame | pl.LazyFrame | Any"
