from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mlwf_core.exceptions import NotFittedError, SchemaError
from mlwf_core.preprocess import Plan, Preprocessor
from mlwf_core.schema import infer_schema


@pytest.fixture
def fitted():
    frame = pl.DataFrame(
        {
            "num": [1.0, None, 3.0, 4.0],
            "cat": ["b", "a", None, "b"],
            "flag": ["yes", "no", "no", None],
            "y": [0, 1, 0, 1],
        }
    )
    schema = infer_schema(frame, "y")
    return frame, Preprocessor().fit(frame, schema).plan_


def test_plan_matrix(fitted):
    frame, plan = fitted
    X = plan.transform(frame)
    assert X.dtype == np.float32 and X.flags.c_contiguous
    expected = np.array(
        [[1, 1, 1], [np.nan, 0, 0], [3, np.nan, 0], [4, 1, np.nan]],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(X, expected)
    assert plan.categorical_features == [1]


def test_plan_roundtrip_and_version(fitted):
    frame, plan = fitted
    again = Plan.from_dict(plan.to_dict())
    np.testing.assert_array_equal(again.transform(frame), plan.transform(frame))
    bad = plan.to_dict() | {"version": 99}
    with pytest.raises(SchemaError, match="version"):
        Plan.from_dict(bad)


def test_prediction_input_that_differs(fitted):
    _, plan = fitted
    shuffled = pl.DataFrame(
        {"extra": [1, 2], "flag": ["no", "yes"], "cat": ["zzz", "a"], "num": [2.5, 1.0]}
    )
    X = plan.transform(shuffled)
    np.testing.assert_array_equal(X, np.array([[2.5, np.nan, 0], [1.0, 0, 1]], dtype=np.float32))
    with pytest.raises(SchemaError, match=r"\['num'\]"):
        plan.transform(shuffled.drop("num"))
    with pytest.raises(SchemaError, match="'num'.*'abc'"):
        plan.transform(shuffled.with_columns(pl.Series("num", ["abc", "1"])))
    # numbers sent as text (JSON feeds) are accepted when they parse
    X2 = plan.transform(shuffled.with_columns(pl.Series("num", ["2.5", " 1 "])))
    np.testing.assert_array_equal(X2, X)


def test_unfitted_preprocessor():
    with pytest.raises(NotFittedError):
        Preprocessor().transform(pl.DataFrame({"a": [1]}))
