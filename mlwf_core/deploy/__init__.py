"""Deployment: the ``.mlwf`` artifact, the compiled :class:`Scorer` and serving.

``import mlwf_core.deploy`` loads neither the learners nor the web framework.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlwf_core.automl import AutoModel
    from mlwf_core.deploy._scorer import Scorer

__all__ = ["Scorer", "load"]


def load(path: str | os.PathLike[str]) -> AutoModel:
    """Load a model saved with :meth:`AutoModel.save`.

    The artifact's checksums and format version are verified; nothing in it is
    executed (no pickle).

    Parameters
    ----------
    path
        A ``.mlwf`` file.

    Returns
    -------
    AutoModel
        The fitted model; it predicts exactly what the saved one predicted.
    """
    from mlwf_core.automl import AutoModel

    return AutoModel.load(path)


def __getattr__(name: str) -> Any:
    if name == "Scorer":
        value = import_module("mlwf_core.deploy._scorer").Scorer
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlwf_core.deploy' has no attribute {name!r}")
