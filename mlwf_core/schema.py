"""Column roles and task detection.

:func:`infer_schema` looks at each column once (on a sample for large tables)
and gives it a role: what the model does with it. Roles are plain strings so a
schema serialises into the model artifact as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from mlwf_core._typing import Task
from mlwf_core.exceptions import DataError, ParameterError

__all__ = ["FEATURE_ROLES", "ROLES", "Schema", "detect_task", "infer_schema"]

#: Every role a column can have.
ROLES: tuple[str, ...] = (
    "numeric",
    "categorical",
    "boolean",
    "datetime",
    "text",
    "id",
    "constant",
    "target",
    "ignored",
)
#: Roles whose columns feed the model.
FEATURE_ROLES: frozenset[str] = frozenset({"numeric", "categorical", "boolean", "datetime", "text"})
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

# Integer targets with at most this many distinct values are classes.
_MAX_CLASSES_FOR_INTEGERS = 20
# Strings with more distinct values than this share of rows and long values are text.
_TEXT_MIN_MEAN_WORDS = 4.0
_SAMPLE_ROWS = 200_000
_BOOL_TOKENS = {
    frozenset({"yes", "no"}),
    frozenset({"true", "false"}),
    frozenset({"y", "n"}),
    frozenset({"t", "f"}),
}


@dataclass
class Schema:
    """The role of every column, the target and the task.

    Attributes
    ----------
    roles
        Column name -> role (one of :data:`ROLES`), in the table's column order.
    target
        Name of the target column, or ``None`` when profiling without one.
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"`` (``None`` without a target).
    reasons
        Column name -> why it was dropped (ID-like, constant, ...), for reports.
    """

    roles: dict[str, str]
    target: str | None = None
    task: Task | None = None
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """Columns that feed the model, in table order."""
        return [c for c, r in self.roles.items() if r in FEATURE_ROLES]

    @property
    def dropped(self) -> list[str]:
        """Columns left out of the model (ID-like, constant, ignored)."""
        return [c for c, r in self.roles.items() if r in {"id", "constant", "ignored"}]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, stored in the model artifact."""
        return {
            "roles": dict(self.roles),
            "target": self.target,
            "task": self.task,
            "reasons": dict(self.reasons),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Inverse of :meth:`to_dict`."""
        return cls(
            roles=dict(data["roles"]),
            target=data.get("target"),
            task=data.get("task"),
            reasons=dict(data.get("reasons", {})),
        )


def detect_task(y: pl.Series) -> Task:
    """Tell the learning task from the target column.

    Strings, booleans and categoricals are classes; integers with at most 20
    distinct values are classes; other numbers are regression. Two classes make a
    binary task.

    Parameters
    ----------
    y
        The target column, nulls already removed.

    Raises
    ------
    DataError
        The target has fewer than two distinct values.
    """
    n_unique = y.n_unique()
    if n_unique < 2:
        value = y[0] if len(y) else None
        raise DataError(
            f"The target column {y.name!r} has a single value ({value!r}) in every labelled row; "
            "a model needs at least two classes or varying values. Check the target column."
        )
    dtype = y.dtype
    if dtype == pl.Boolean or dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "binary" if n_unique == 2 else "multiclass"
    if dtype.is_integer():
        if n_unique == 2:
            return "binary"
        return "multiclass" if n_unique <= _MAX_CLASSES_FOR_INTEGERS else "regression"
    if dtype.is_float():
        return "binary" if n_unique == 2 else "regression"
    raise DataError(
        f"The target column {y.name!r} has type {dtype}, which is neither numeric nor a label. "
        "Convert it to numbers or strings."
    )


def infer_schema(
    data: Any,
    target: str | None = None,
    *,
    task: Task | None = None,
    roles: Mapping[str, str] | None = None,
) -> Schema:
    """Infer the role of every column and, given a target, the task.

    Parameters
    ----------
    data
        Anything :func:`mlwf_core.read` accepts.
    target
        Name of the target column.
    task
        Overrides task detection.
    roles
        Column name -> role, overriding inference for those columns.

    Returns
    -------
    Schema
    """
    from mlwf_core.io import read

    frame = data if isinstance(data, pl.DataFrame) else read(data)
    if target is not None and target not in frame.columns:
        raise DataError(
            f"The target column {target!r} is not in the data. Available columns: {_preview(frame.columns)}."
        )
    if task is not None and task not in TASKS:
        raise ParameterError(
            f"The 'task' parameter must be one of {list(TASKS)}. Got {task!r} instead."
        )
    overrides = dict(roles or {})
    for name, role in overrides.items():
        if name not in frame.columns:
            raise ParameterError(
                f"The 'roles' parameter names column {name!r}, which is not in the data."
            )
        if role not in ROLES:
            raise ParameterError(
                f"The role of column {name!r} must be one of {list(ROLES)}. Got {role!r} instead."
            )

    sample = frame.sample(_SAMPLE_ROWS, seed=0) if frame.height > _SAMPLE_ROWS else frame
    out: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for name in frame.columns:
        if name == target:
            out[name] = "target"
        elif name in overrides:
            out[name] = overrides[name]
            reasons[name] = "set by the user"
        else:
            role, reason = _infer_role(sample[name], frame.height)
            out[name] = role
            if reason:
                reasons[name] = reason

    detected: Task | None = task
    if target is not None and detected is None:
        y = frame[target].drop_nulls()
        if y.dtype.is_float():
            y = y.filter(y.is_not_nan())
        if len(y) == 0:
            raise DataError(f"The target column {target!r} has no values: every row is missing.")
        detected = detect_task(y)
    return Schema(roles=out, target=target, task=detected, reasons=reasons)


def _infer_role(col: pl.Series, n_rows: int) -> tuple[str, str]:
    non_null = col.drop_nulls()
    if col.dtype.is_float():
        non_null = non_null.filter(non_null.is_not_nan())
    n_unique = non_null.n_unique()
    if n_unique <= 1:
        return "constant", "a single value" if n_unique else "every value missing"
    dtype = col.dtype
    if dtype == pl.Boolean:
        return "boolean", ""
    if dtype.is_temporal():
        return "datetime", ""
    if dtype.is_numeric():
        if dtype.is_integer() and n_unique == len(col) and _looks_like_counter(non_null):
            return "id", "unique per row, like a row number"
        return "numeric", ""
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        text = non_null.cast(pl.String)
        if n_unique == 2 and frozenset(text.str.to_lowercase().unique().to_list()) in _BOOL_TOKENS:
            return "boolean", ""
        if n_unique == len(col) and len(col) > 20:
            words = text.str.count_matches(r"\S+").mean() or 0.0
            if words >= _TEXT_MIN_MEAN_WORDS:
                return "text", ""
            return "id", "unique per row"
        if n_unique > 0.5 * len(non_null) and n_unique > 50:
            words = text.str.count_matches(r"\S+").mean() or 0.0
            if words >= _TEXT_MIN_MEAN_WORDS:
                return "text", ""
        return "categorical", ""
    return "ignored", f"unsupported type {dtype}"


def _looks_like_counter(values: pl.Series) -> bool:
    # A unique integer column is an ID when it is a (shuffled) range, not a measurement.
    lo, hi = values.min(), values.max()
    return (hi - lo) < 2 * len(values)


def _preview(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} columns)" if len(names) > limit else "")
