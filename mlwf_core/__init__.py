"""mlwf: AutoML for tabular data with a compiled scoring core.

The public surface is the workflow::

    import mlwf_core as mw
    model = mw.fit_auto("churn.csv", target="churn", time_budget=60)
    model.predict(new_rows)
    model.save("churn.mlwf")
    mw.load("churn.mlwf")

Heavy dependencies (optuna, lightgbm, xgboost, the web framework) load on first
use, never at ``import mlwf_core``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mlwf_core._version import __version__
from mlwf_core.exceptions import (
    ArtifactError,
    DataError,
    MlwfError,
    NotFittedError,
    ParameterError,
    SchemaError,
)

if TYPE_CHECKING:
    from mlwf_core.automl import AutoModel, fit_auto, retrain
    from mlwf_core.deploy import Scorer, load
    from mlwf_core.eda import Profile, profile
    from mlwf_core.io import read, scan
    from mlwf_core.monitor import DriftMonitor
    from mlwf_core.schema import Schema, infer_schema

__all__ = [
    "ArtifactError",
    "AutoModel",
    "DataError",
    "DriftMonitor",
    "MlwfError",
    "NotFittedError",
    "ParameterError",
    "Profile",
    "Schema",
    "SchemaError",
    "Scorer",
    "__version__",
    "fit_auto",
    "infer_schema",
    "load",
    "profile",
    "read",
    "retrain",
    "scan",
]

# public name -> module that defines it; imported on first attribute access
_LAZY = {
    "AutoModel": "mlwf_core.automl",
    "fit_auto": "mlwf_core.automl",
    "retrain": "mlwf_core.automl",
    "DriftMonitor": "mlwf_core.monitor",
    "profile": "mlwf_core.eda",
    "Profile": "mlwf_core.eda",
    "load": "mlwf_core.deploy",
    "Scorer": "mlwf_core.deploy",
    "read": "mlwf_core.io",
    "scan": "mlwf_core.io",
    "Schema": "mlwf_core.schema",
    "infer_schema": "mlwf_core.schema",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlwf_core' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
