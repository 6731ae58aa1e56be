"""Optional and heavy imports, loaded on first use with an install hint."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from mlwf_core.exceptions import MlwfError

__all__ = ["import_optional"]


def import_optional(name: str, extra: str | None = None) -> ModuleType:
    """Import ``name`` or raise an error that says how to install it.

    Parameters
    ----------
    name
        Module to import, e.g. ``"fastapi"``.
    extra
        The mlwf extra that provides it, e.g. ``"serve"``; ``None`` names the
        package itself in the hint.
    """
    try:
        return import_module(name)
    except ImportError as exc:
        hint = f"pip install 'mlwf-core[{extra}]'" if extra else f"pip install {name}"
        raise MlwfError(
            f"This feature needs the '{name}' package. Install it with: {hint}"
        ) from exc
