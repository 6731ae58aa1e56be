"""Model adapters: one module per learner, all with the same small interface.

An adapter owns its learner's defaults, search space (scaled by data size),
training with early stopping and a wall-clock deadline, margin predictions and
serialisation. The search orchestrates adapters and knows no learner internals;
adding a learner is adding one module and one entry in :data:`ADAPTERS`.
"""

from __future__ import annotations

from mlwf_core.models._base import Adapter, DataInfo, FitResult

__all__ = ["ADAPTERS", "Adapter", "DataInfo", "FitResult", "get_adapter"]

#: learner name -> "module:class" of its adapter, imported on first use.
ADAPTERS: dict[str, str] = {
    "lightgbm": "mlwf_core.models._lightgbm:LightGBMAdapter",
    "xgboost": "mlwf_core.models._xgboost:XGBoostAdapter",
}


def get_adapter(name: str) -> Adapter:
    """Return the adapter of learner ``name`` (``"lightgbm"`` or ``"xgboost"``)."""
    from importlib import import_module

    from mlwf_core.exceptions import ParameterError

    target = ADAPTERS.get(name)
    if target is None:
        raise ParameterError(f"Unknown learner {name!r}; choose one of {sorted(ADAPTERS)}.")
    module, cls = target.split(":")
    return getattr(import_module(module), cls)()
