from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mlwf_core.exceptions import NotFittedError, ParameterError, SchemaError
from mlwf_core.plan import Plan
from mlwf_core.preprocess import Preprocessor
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


def _fit(frame: pl.DataFrame, y: np.ndarray | None = None, **params) -> Preprocessor:
    data = frame if y is None else frame.with_columns(pl.Series("y", y))
    schema = infer_schema(data, "y" if y is not None else None)
    params.setdefault("features", False)
    params.setdefault("op_kinds", "all")
    return Preprocessor(**params).fit(frame, schema, y)


def test_dates_become_parts_and_replay_on_text_and_typed_input():
    from datetime import datetime

    stamps = [
        datetime(2020, 1, 1) + (datetime(2021, 6, 1) - datetime(2020, 1, 1)) * (i / 50)
        for i in range(50)
    ]
    text = [s.strftime("%d/%m/%Y %H:%M") for s in stamps]
    text[3] = "NA"
    frame = pl.DataFrame({"d": text})
    plan = _fit(frame).plan_
    parts = [op["part"] for op in plan.ops]
    assert parts == ["year", "month", "day", "weekday", "hour", "elapsed_days"]
    assert {op["format"] for op in plan.ops} == {"dmy"}
    X = plan.transform(frame)
    i = 10
    s = stamps[i].replace(second=0, microsecond=0)
    assert X[i, :5].tolist() == [s.year, s.month, s.day, s.isoweekday(), s.hour]
    origin = plan.ops[-1]["origin"]
    assert X[i, 5] == pytest.approx(
        (s - datetime(1970, 1, 1)).total_seconds() / 86400 - origin, rel=1e-6
    )
    assert np.isnan(X[3]).all()
    typed = pl.DataFrame({"d": [s]})  # a Datetime column at scoring time
    np.testing.assert_allclose(plan.transform(typed)[0], X[i], rtol=1e-6)


def test_free_text_features():
    frame = pl.DataFrame({"t": [f"order {i} was late and the box was damaged" for i in range(40)]})
    plan = _fit(frame, text_buckets=4).plan_
    assert [op["op"] for op in plan.ops] == ["text_length", "word_count"] + ["token_hash"] * 4
    X = plan.transform(pl.DataFrame({"t": ["two words", None]}))
    assert X[0, :2].tolist() == [9, 2] and X[0, 2:].sum() == 2
    assert np.isnan(X[1]).all()


def test_numbers_stored_as_text_are_parsed():
    frame = pl.DataFrame({"price": ["$1,200", "$35.50", "N/A", "$7"] * 5})
    plan = _fit(frame).plan_
    assert plan.ops[0]["op"] == "parse_number" and plan.features == ["price"]
    X = plan.transform(pl.DataFrame({"price": ["$2,000.25", "?", "junk"]}))
    np.testing.assert_array_equal(X[:, 0], np.array([2000.25, np.nan, np.nan], dtype=np.float32))
    # a numeric column at scoring time needs no parsing
    assert plan.transform(pl.DataFrame({"price": [3.5]}))[0, 0] == 3.5


def test_rare_levels_are_pooled_and_unseen_levels_are_safe():
    values = ["a"] * 30 + ["b"] * 20 + ["r1", "r2", "r3"] + [None] * 2
    frame = pl.DataFrame({"c": values})
    plan = _fit(frame, rare_min_count=10).plan_
    assert plan.ops[0]["op"] == "category_pooled" and plan.ops[0]["levels"] == ["a", "b"]
    X = plan.transform(pl.DataFrame({"c": ["a", "b", "r2", "never seen", None, " a "]}))
    np.testing.assert_array_equal(X[:, 0], np.array([0, 1, 2, 2, np.nan, 0], dtype=np.float32))
    assert plan.categorical_features == [0]


def test_high_cardinality_gets_frequency_and_out_of_fold_target_encoding():
    rng = np.random.default_rng(0)
    n = 3000
    city = rng.integers(0, 200, n)
    y = (rng.uniform(size=n) < np.where(city % 2 == 0, 0.8, 0.2)).astype(np.float64)
    frame = pl.DataFrame({"city": [f"c{c}" for c in city]})
    pre = _fit(frame, y, max_native_levels=64, n_folds=5)
    plan = pre.plan_
    assert [op["op"] for op in plan.ops] == ["frequency", "target_mean"]
    assert plan.categorical_features == []
    freq, te = plan.ops
    counts = frame["city"].value_counts()
    c0 = counts.filter(pl.col("city") == "c0")["count"][0]
    assert freq["values"][freq["levels"].index("c0")] == pytest.approx(c0 / n)
    rows = city == 0
    prior = y.mean()
    assert te["values"][te["levels"].index("c0")] == pytest.approx(
        (y[rows].sum() + 10 * prior) / (rows.sum() + 10)
    )
    X_train = plan.transform(frame)  # the very training frame: out-of-fold encodings
    X_again = plan.transform(frame.clone())  # any other frame: the fitted table
    assert not np.array_equal(X_train[:, 1], X_again[:, 1])
    np.testing.assert_array_equal(X_train[:, 0], X_again[:, 0])
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, X_train[:, 1]) > 0.7
    unseen = plan.transform(pl.DataFrame({"city": ["nowhere", None]}))
    assert unseen[0].tolist() == pytest.approx([0.0, te["default"]])


def test_multiclass_target_encoding_has_one_feature_per_class():
    rng = np.random.default_rng(1)
    n = 2000
    code = rng.integers(0, 120, n)
    y = np.where(rng.uniform(size=n) < 0.7, code % 3, rng.integers(0, 3, n))
    frame = pl.DataFrame({"k": [f"k{c}" for c in code], "noise": rng.normal(size=n)})
    plan = _fit(frame, y).plan_
    assert [op["output"] for op in plan.ops if op["op"] == "target_mean"] == [
        "k__te0",
        "k__te1",
        "k__te2",
    ]


def test_informative_missingness_gets_an_indicator():
    rng = np.random.default_rng(2)
    n = 2000
    y = rng.integers(0, 2, n).astype(np.float64)
    informative = np.where((y == 1) & (rng.uniform(size=n) < 0.5), np.nan, rng.normal(size=n))
    random = np.where(rng.uniform(size=n) < 0.3, np.nan, rng.normal(size=n))
    frame = pl.DataFrame({"informative": informative, "random": random}).fill_nan(None)
    plan = _fit(frame, y).plan_
    assert [op["output"] for op in plan.ops] == ["informative__missing"]
    X = plan.transform(frame)
    np.testing.assert_array_equal(X[:, 2], np.isnan(informative).astype(np.float32))
    assert _fit(frame, y, missing_indicators=False).plan_.ops == []


@pytest.mark.parametrize("how", ["median", "mode", "constant"])
def test_imputation_options(how):
    frame = pl.DataFrame(
        {
            "x": [1.0, 2.0, 2.0, 10.0, None] * 4,
            "c": ["a", "b", "b", None, "b"] * 4,
            "f": ["yes", "no", None, "yes", "yes"] * 4,
        }
    )
    plan = _fit(frame, impute=how, fill_value=-1.0).plan_
    assert [op["op"] for op in plan.ops] == ["impute"] * 3
    X = plan.transform(frame)
    assert not np.isnan(X).any()
    fills = {"median": [2.0, 1.0, 1.0], "mode": [2.0, 1.0, 1.0], "constant": [-1.0, 2.0, -1.0]}[how]
    assert X[4, 0] == fills[0] and X[3, 1] == fills[1] and X[2, 2] == fills[2]
    assert plan.categorical_features == [1]
    np.testing.assert_array_equal(Plan.from_dict(plan.to_dict()).transform(frame), X)


def test_plan_with_ops_is_plain_json_and_checked():
    import json

    frame = pl.DataFrame({"a": [1.0, 2.0, 4.0], "b": [2.0, 0.0, 1.0], "t": ["x y", "z", None]})
    plan = Plan(
        columns=[{"name": "a", "kind": "numeric"}, {"name": "b", "kind": "numeric"}],
        ops=[
            {"op": "word_count", "inputs": ["t"], "output": "t_words"},
            {"op": "ratio", "inputs": ["a", "b"], "output": "a_b"},
        ],
    )
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["features"] == ["a", "b", "t_words", "a_b"]
    again = Plan.from_dict(data)
    assert again.input_columns == ["a", "b", "t"]
    X = again.transform(frame)
    np.testing.assert_array_equal(X[:, 3], np.array([0.5, np.nan, 4.0], dtype=np.float32))
    with pytest.raises(SchemaError, match="unknown kind 'weird'"):
        Plan.from_dict(data | {"ops": [{"op": "weird", "inputs": ["a"], "output": "w"}]})
    with pytest.raises(SchemaError, match="computed after it"):
        Plan.from_dict(data | {"ops": [{"op": "ratio", "inputs": ["a", "zz"], "output": "w"}]})
    with pytest.raises(SchemaError, match=r"\['t'\]"):
        again.transform(frame.drop("t"))


def test_preprocessor_parameters_are_checked():
    frame = pl.DataFrame({"a": [1.0, 2.0]})
    schema = infer_schema(frame)
    with pytest.raises(ParameterError, match="'impute' parameter"):
        Preprocessor(impute="mean").fit(frame, schema)
    with pytest.raises(ParameterError, match="'n_folds' parameter"):
        Preprocessor(n_folds=1).fit(frame, schema)


def test_messy_table_through_fit_save_and_load(tmp_path, monkeypatch):
    import mlwf_core as mw
    import mlwf_core.plan as plan_module

    # every op kind, whatever this build's compiled scorer replays (mw.load uses the Python plan)
    monkeypatch.setattr(plan_module, "_REPLAYABLE", plan_module.ALL_OPS)

    rng = np.random.default_rng(3)
    n = 600
    amount = rng.uniform(10, 5000, n)
    city = rng.integers(0, 150, n)
    days = rng.integers(0, 700, n)
    y = np.where(amount / 1000 + (city % 3 == 0) + rng.normal(0, 0.5, n) > 2.5, "yes", "no")
    frame = pl.DataFrame(
        {
            "amount": [f"${a:,.2f}" if i % 17 else "N/A" for i, a in enumerate(amount)],
            "city": [f"city{c}" for c in city],
            "opened": [
                (np.datetime64("2022-01-01") + int(d)).item().strftime("%m/%d/%Y") for d in days
            ],
            "note": [
                f"ticket {i} about {['billing', 'delivery', 'login'][i % 3]} issue here"
                for i in range(n)
            ],
            "member": rng.choice(["Yes", "No"], n).tolist(),
            "y": y.tolist(),
        }
    )
    model = mw.fit_auto(frame, "y", time_budget=3, n_jobs=1, verbose=0)
    kinds = {op["op"] for op in model.plan_.ops}
    assert {"parse_number", "target_mean", "frequency", "date_part", "word_count"} <= kinds
    assert model.schema_.formats == {"amount": "number", "opened": "mdy"}
    path = model.save(tmp_path / "messy.mlwf")
    loaded = mw.load(path)
    assert loaded.plan_.to_dict() == model.plan_.to_dict()
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    np.testing.assert_array_equal(loaded.transform(frame.head(50)), model.transform(frame.head(50)))


def test_op_kinds_limit_the_plan_to_what_the_scorer_replays():
    from mlwf_core.plan import replayable_ops

    frame = pl.DataFrame(
        {
            "price": ["$1,200", "$35.50", "$7", "$12"] * 10,
            "when": ["2021-01-02", "2021-03-04", "2022-05-06", "2020-07-08"] * 10,
            "c": ["a"] * 30 + ["r1", "r2", "r3"] + ["b"] * 7,
        }
    )
    plain = _fit(frame, op_kinds=[]).plan_
    assert plain.ops == []
    assert [(c["name"], c["kind"]) for c in plain.columns] == [
        ("price", "categorical"),
        ("c", "categorical"),
    ]
    auto = _fit(frame, op_kinds="auto").plan_
    assert {op["op"] for op in auto.ops} <= replayable_ops()
    with pytest.raises(ParameterError, match="'op_kinds' parameter"):
        _fit(frame, op_kinds=["nope"])


def test_training_matrix_lookups_equal_a_fresh_transform():
    # The training matrix reuses codes computed while fitting; apart from the
    # out-of-fold target encodings it must equal the plan applied from scratch,
    # NA tokens, padding, nulls and rare levels included.
    rng = np.random.default_rng(5)
    n = 3000
    codes = rng.integers(0, 400, n)
    values = np.array([f"id{c}" for c in codes], dtype=object)
    values[rng.uniform(size=n) < 0.05] = "NA"
    values[rng.uniform(size=n) < 0.05] = " ?  "
    values[rng.uniform(size=n) < 0.05] = None
    values[rng.uniform(size=n) < 0.05] = "  id7 "
    y = (codes % 3 == 0).astype(np.int64)
    frame = pl.DataFrame({"h": list(values), "x": rng.normal(size=n), "y": y})
    schema = infer_schema(frame, "y", roles={"h": "categorical"})
    pre = Preprocessor(max_native_levels=8, op_kinds="all").fit(frame, schema, y.astype(float))
    plan = pre.plan_
    assert any(op["op"] == "frequency" for op in plan.ops)
    trained = plan.transform(frame)
    fresh = plan.transform(frame.clone())
    keep = [j for j, name in enumerate(plan.features) if "__te" not in name]
    np.testing.assert_array_equal(trained[:, keep], fresh[:, keep])
    freq = plan.features.index("h__freq")
    missing = frame["h"].is_null().to_numpy() | np.isin(
        frame["h"].fill_null("").str.strip_chars().to_numpy(), ["NA", "?"]
    )
    op = next(op for op in plan.ops if op["op"] == "frequency")
    np.testing.assert_allclose(trained[missing, freq], np.float32(op["missing"]))
