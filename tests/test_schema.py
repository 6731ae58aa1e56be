from __future__ import annotations

import polars as pl
import pytest

from mlwf_core.exceptions import DataError, ParameterError
from mlwf_core.schema import Schema, detect_task, infer_schema


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "binary"),
        (["a", "b", "c"], "multiclass"),
        ([True, False, True], "binary"),
        ([0, 1, 1], "binary"),
        ([1, 2, 3, 1], "multiclass"),
        (list(range(100)), "regression"),
        ([0.5, 1.5, 2.5], "regression"),
        ([0.0, 1.0, 0.0], "binary"),
    ],
)
def test_detect_task(values, task):
    assert detect_task(pl.Series("y", values)) == task


def test_single_value_target_is_an_error():
    with pytest.raises(DataError, match="single value"):
        detect_task(pl.Series("y", ["a", "a"]))


def test_roles():
    n = 50
    frame = pl.DataFrame(
        {
            "row": list(range(n)),
            "num": [float(i % 7) for i in range(n)],
            "cat": ["a", "b"] * (n // 2),
            "flag": ["yes", "no"] * (n // 2),
            "const": [1] * n,
            "code": [f"u{i}" for i in range(n)],
            "y": [int(i % 3 == 0) for i in range(n)],
        }
    )
    schema = infer_schema(frame, "y")
    assert schema.roles == {
        "row": "id",
        "num": "numeric",
        "cat": "categorical",
        "flag": "boolean",
        "const": "constant",
        "code": "id",
        "y": "target",
    }
    assert schema.task == "binary"
    assert schema.features == ["num", "cat", "flag"]
    assert Schema.from_dict(schema.to_dict()) == schema


def test_role_overrides_and_errors():
    frame = pl.DataFrame({"a": [1, 2, 3, 4], "y": [1.0, 2.0, 3.5, 4.0]})
    assert infer_schema(frame, "y", roles={"a": "categorical"}).roles["a"] == "categorical"
    with pytest.raises(ParameterError, match="not in the data"):
        infer_schema(frame, "y", roles={"zz": "numeric"})
    with pytest.raises(ParameterError, match="role of column"):
        infer_schema(frame, "y", roles={"a": "weird"})
    with pytest.raises(DataError, match="not in the data"):
        infer_schema(frame, "target")
    with pytest.raises(DataError, match="every row is missing"):
        infer_schema(frame.with_columns(pl.lit(None, pl.Float64).alias("y")), "y")
