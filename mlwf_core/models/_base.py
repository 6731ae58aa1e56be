"""The interface every learner adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DataInfo:
    """What an adapter needs to know about the training matrix."""

    task: str
    n_rows: int
    n_features: int
    n_classes: int
    categorical: tuple[int, ...] = ()
    metric: str = "rmse"
    feature_names: tuple[str, ...] = field(default=())

    @property
    def n_outputs(self) -> int:
        """Margin columns per row: one per class for multiclass, else one."""
        return self.n_classes if self.task == "multiclass" else 1


@dataclass
class FitResult:
    """A trained booster and the boosting round that early stopping chose."""

    booster: Any
    n_rounds: int
    seconds: float


class Adapter(ABC):
    """One learner: defaults, search space, training, margins, serialisation."""

    #: learner name used in params, leaderboards and artifacts
    name: str = ""
    #: file suffix of the native model format stored in artifacts
    suffix: str = ""

    @abstractmethod
    def defaults(self, info: DataInfo) -> list[dict[str, Any]]:
        """Known-good configurations, best first, in the names :meth:`suggest` uses."""

    @abstractmethod
    def grid(self, info: DataInfo) -> list[dict[str, Any]]:
        """A small grid of configurations for ``search="grid"``, in evaluation order."""

    @abstractmethod
    def suggest(self, trial: Any, info: DataInfo) -> dict[str, Any]:
        """Draw a configuration from an Optuna trial, bounds scaled by data size."""

    @abstractmethod
    def dataset(
        self, X: np.ndarray, y: np.ndarray, info: DataInfo, n_jobs: int, reference: Any = None
    ) -> Any:
        """Build the learner's dataset once, for reuse across trials."""

    @abstractmethod
    def fit(
        self,
        params: dict[str, Any],
        train: Any,
        valid: Any | None,
        info: DataInfo,
        *,
        n_rounds: int | None,
        deadline: float,
        n_jobs: int,
        seed: int,
    ) -> FitResult:
        """Train; with ``valid``, early-stop on it, else boost ``n_rounds`` rounds.

        Training stops at the monotonic-clock ``deadline`` whatever happens.
        """

    @abstractmethod
    def predict_margin(
        self, booster: Any, X: np.ndarray, n_rounds: int | None, n_jobs: int
    ) -> np.ndarray:
        """Raw scores: shape (n,) or (n, n_classes) for multiclass."""

    @abstractmethod
    def dumps(self, booster: Any) -> bytes:
        """The booster in the learner's native text / JSON format."""

    @abstractmethod
    def loads(self, data: bytes) -> Any:
        """Inverse of :meth:`dumps`."""
