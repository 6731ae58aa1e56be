"""Scorer: the C++ plan against the Polars plan, records, frames and artifacts."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import SHARED, shared_task

from mlwf_core.deploy._forest import forest_arrays
from mlwf_core.deploy._scorer import Forest, Scorer
from mlwf_core.exceptions import ArtifactError, ParameterError, SchemaError

pl = pytest.importorskip("polars")
lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")

DATASETS = SHARED
DEV = sorted(p.stem for p in DATASETS.glob("*.csv")) if DATASETS.is_dir() else []


def _fit_plan(frame, target):
    """A plan by column dtype (numbers, booleans, text as categories), in the plan format."""
    from mlwf_core.plan import Plan

    columns = []
    for name, dtype in frame.schema.items():
        if name == target:
            continue
        if dtype == pl.Boolean:
            columns.append({"name": name, "kind": "boolean"})
        elif dtype.is_numeric():
            columns.append({"name": name, "kind": "numeric"})
        elif dtype in (pl.String, pl.Categorical):
            levels = sorted(frame[name].cast(pl.String).drop_nulls().unique().to_list())
            columns.append({"name": name, "kind": "categorical", "levels": levels[:-1]})
    names = [c["name"] for c in columns]
    return Plan.from_dict({"version": 1, "columns": columns, "features": names})


def _model(X, y, task, cats, n_classes):
    params = {"verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5, "seed": 0}
    if task == "binary":
        params["objective"] = "binary"
    elif task == "multiclass":
        params.update(objective="multiclass", num_class=n_classes)
    else:
        params["objective"] = "regression"
    rounds = 2 if task == "multiclass" else 6  # multiclass grows one tree per class
    return lgb.train(params, lgb.Dataset(X, y, categorical_feature=cats or "auto"), rounds)


def _scorer(plan, booster, task, classes):
    n_classes = len(classes) if classes else 0
    arrays = forest_arrays(
        [{"learner": "lightgbm", "booster": booster, "weight": 1.0}], task, n_classes
    )
    return Scorer(Forest.from_arrays(arrays, task, n_classes), plan.to_dict(), classes)


def _labels(frame, target, task):
    y = frame[target]
    if task == "regression":
        return y.cast(pl.Float64).to_numpy(), None
    classes = sorted(y.drop_nulls().unique().to_list())
    codes = y.replace_strict(classes, list(range(len(classes))), return_dtype=pl.Int64)
    return codes.to_numpy(), classes


@pytest.mark.integration
@pytest.mark.parametrize("name", DEV)
def test_cpp_plan_matches_polars_plan(name):
    from mlwf_core.io import read

    spec = shared_task(f"{name}.csv")
    frame = read(spec["path"])
    frame = frame.drop([c for c in spec.get("drop", []) if c in frame.columns])
    frame = frame.filter(pl.col(spec["target"]).is_not_null()).head(1500)
    plan = _fit_plan(frame, spec["target"])
    X = plan.transform(frame)
    task = spec["task"]
    y, classes = _labels(frame, spec["target"], task)
    booster = _model(X, y, task, plan.categorical_features, len(classes or []))
    scorer = _scorer(plan, booster, task, classes)
    # the same matrix, NaN for NaN, from the C++ plan
    np.testing.assert_array_equal(scorer.transform(frame), X)
    np.testing.assert_array_equal(scorer.transform(frame.to_pandas()), X)
    prob = booster.predict(X.astype(np.float64))
    if task == "regression":
        np.testing.assert_allclose(scorer.predict(frame), prob, rtol=0, atol=1e-9)
    else:
        got = scorer.predict_proba(frame)
        got = got[:, 1] if task == "binary" else got
        np.testing.assert_allclose(got, prob, rtol=0, atol=1e-9)
    # raw records through the C++ plan: same features, same predictions
    for i, record in enumerate(frame.drop(spec["target"]).head(40).to_dicts()):
        np.testing.assert_array_equal(scorer._records.transform_record(record), X[i])
        out = scorer.predict_record(record)
        assert out == scorer.predict(X[i : i + 1])[0]


@pytest.fixture(scope="module")
def churn_like():
    rng = np.random.default_rng(0)
    n = 600
    frame = pl.DataFrame(
        {
            "tenure": rng.integers(0, 72, n).astype(float),
            "contract": rng.choice(["Month-to-month", "One year", "Two year"], n),
            "paperless": rng.choice(["Yes", "No"], n),
            "code": rng.integers(1, 5, n),
            "churn": rng.choice(["yes", "no"], n),
        }
    ).with_columns(
        pl.when(pl.col("tenure") > 60).then(None).otherwise(pl.col("tenure")).alias("tenure"),
        pl.col("code").cast(pl.String).alias("code"),
    )
    plan = {
        "version": 1,
        "columns": [
            {"name": "tenure", "kind": "numeric"},
            {
                "name": "contract",
                "kind": "categorical",
                "levels": ["Month-to-month", "One year", "Two year"],
            },
            {"name": "paperless", "kind": "boolean"},
            {"name": "code", "kind": "categorical", "levels": ["1", "2", "3", "4"]},
        ],
        "features": ["tenure", "contract", "paperless", "code"],
    }
    from mlwf_core.plan import Plan

    X = Plan.from_dict(plan).transform(frame)
    y = (frame["churn"] == "yes").cast(pl.Int64).to_numpy()
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5},
        lgb.Dataset(X, y, categorical_feature=[1, 3]),
        10,
    )
    return frame, plan, X, booster


def _save(tmp_path, plan, booster, arrays=True, task="binary", classes=("no", "yes")):
    from mlwf_core.deploy._artifact import write_artifact

    members = [{"learner": "lightgbm", "booster": booster, "weight": 1.0}]
    manifest = {
        "task": task,
        "classes": list(classes),
        "target": "churn",
        "plan": plan,
        "ensemble": [
            {"learner": "lightgbm", "file": "boosters/0.txt", "weight": 1.0, "params": {}}
        ],
    }
    files = {"boosters/0.txt": booster.model_to_string().encode()}
    forest = forest_arrays(members, task, len(classes)) if arrays else None
    return write_artifact(tmp_path / "m.mlwf", manifest, files, forest)


def test_records_edge_cases(churn_like):
    frame, plan, X, booster = churn_like
    from mlwf_core.plan import Plan

    scorer = _scorer(Plan.from_dict(plan), booster, "binary", ["no", "yes"])
    rec = scorer._records.transform_record
    nan = np.float32(np.nan)
    cases = [
        ({}, [nan, nan, nan, nan]),
        ({"tenure": None, "contract": None, "paperless": None}, [nan, nan, nan, nan]),
        ({"tenure": 3, "contract": "One year", "paperless": "YES ", "code": 2}, [3, 1, 1, 1]),
        (
            {"tenure": " 4.5 ", "contract": "one year", "paperless": "n", "code": "4"},
            [4.5, nan, 0, 3],
        ),
        ({"tenure": True, "contract": "Two year", "paperless": False, "code": 2.0}, [1, 2, 0, nan]),
        ({"tenure": "", "paperless": "maybe", "extra": "ignored"}, [nan, nan, nan, nan]),
        ({"tenure": np.float32(2.5), "paperless": 1, "code": np.int64(3)}, [2.5, nan, 1, 2]),
        ({"tenure": float("nan"), "paperless": True}, [nan, nan, 1, nan]),
    ]
    for record, expect in cases:
        np.testing.assert_array_equal(rec(record), np.array(expect, dtype=np.float32), str(record))
        # the Polars plan agrees on the same record as a one-row frame
        full = {k: record.get(k) for k in ("tenure", "contract", "paperless", "code")}
        one = pl.DataFrame(
            {k: [v if not isinstance(v, np.generic) else v.item()] for k, v in full.items()}
        )
        if one["tenure"].dtype == pl.String and one["tenure"][0] == "":
            continue
        np.testing.assert_array_equal(Plan.from_dict(plan).transform(one)[0], expect, str(record))
    with pytest.raises(SchemaError, match="tenure"):
        scorer.predict_record({"tenure": "abc"})
    assert scorer.predict_record({"tenure": 3}) in ("no", "yes")
    p = scorer.predict_proba({"tenure": 3, "contract": "One year"})
    assert p.shape == (2,) and math.isclose(p.sum(), 1.0)


def test_artifact_roundtrip(tmp_path, churn_like):
    frame, plan, X, booster = churn_like
    path = _save(tmp_path, plan, booster)
    scorer = Scorer.load(path, n_threads=2)
    prob = booster.predict(X.astype(np.float64))
    np.testing.assert_allclose(scorer.predict_proba(frame)[:, 1], prob, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scorer.predict_proba(X)[:, 1], prob, rtol=0, atol=1e-12)
    labels = np.where(prob > 0.5, "yes", "no")
    assert (scorer.predict(frame) == labels).all()
    assert scorer.predict_row(X[0]) == labels[0]
    assert [scorer.predict_record(r) for r in frame.head(30).to_dicts()] == list(labels[:30])
    assert scorer.classes_ == ["no", "yes"] and scorer.feature_names_ == [
        "tenure",
        "contract",
        "paperless",
        "code",
    ]
    # artifacts saved without forest arrays are rebuilt from their boosters
    path2 = _save(tmp_path, plan, booster, arrays=False)
    np.testing.assert_allclose(Scorer.load(path2).predict_proba(frame)[:, 1], prob, atol=1e-12)


def test_regression_and_multiclass_from_booster():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 4)).astype(np.float32)
    y = X[:, 0] * 2 + X[:, 1]
    reg = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(X, y), 10)
    s = Scorer.from_booster(reg, n_threads=1)
    np.testing.assert_allclose(s.predict(X), reg.predict(X), atol=1e-9)
    assert math.isclose(s.predict_row(X[3]), reg.predict(X[3:4])[0], abs_tol=1e-9)
    with pytest.raises(ParameterError):
        s.predict_proba(X)
    k = np.digitize(y, [-1, 1])
    mc = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "nthread": 1},
        xgb.DMatrix(X, k),
        8,
    )
    s = Scorer.from_booster(mc)
    ref = mc.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(s.predict_proba(X), ref, atol=1e-6)
    assert (s.predict(X) == ref.argmax(axis=1)).all()
    assert s.predict_row(X[0]) == ref[0].argmax()
    np.testing.assert_allclose(s.predict_proba(X[0]), ref[0], atol=1e-6)
    with pytest.raises(ParameterError):
        s.predict_record({"a": 1})
    with pytest.raises(SchemaError):
        s.predict(X[:, :3])


def test_corrupted_artifacts(tmp_path, churn_like):
    frame, plan, X, booster = churn_like
    path = _save(tmp_path, plan, booster)
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        bad = tmp_path / f"cut{cut}.mlwf"
        bad.write_bytes(data[:cut])
        with pytest.raises(ArtifactError):
            Scorer.load(bad)
    unknown = json.loads(json.dumps(plan))
    unknown["columns"][0]["kind"] = "ratio_v9"
    with pytest.raises(ArtifactError, match="ratio_v9"):
        Scorer(Scorer.load(path)._forest, unknown, ["no", "yes"])
    with pytest.raises(ArtifactError):
        Scorer.load(tmp_path / "absent.mlwf")


def test_threads_agree(churn_like):
    frame, plan, X, booster = churn_like
    big = np.tile(X, (50, 1))
    s = Scorer.from_booster(booster)
    one = s._forest.predict(big, n_threads=1)
    for n in (2, 3, 8):
        np.testing.assert_array_equal(s._forest.predict(big, n_threads=n), one)
    with pytest.raises(ParameterError):
        Scorer.from_booster(booster, n_threads=0)


def test_import_is_light(tmp_path, churn_like):
    frame, plan, X, booster = churn_like
    path = _save(tmp_path, plan, booster)
    code = (
        "import sys, mlwf_core.deploy as d\n"
        f"s = d.Scorer.load({str(path)!r})\n"
        "print(s.predict_record({'tenure': 3, 'contract': 'One year'}))\n"
        "heavy = [m for m in ('lightgbm', 'xgboost', 'optuna', 'polars') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() in ("no", "yes")


@pytest.mark.parametrize("fmt", ["iso", "dmy", "mdy"])
def test_typed_dates_score_like_text_in_the_training_format(fmt):
    import datetime as dt

    from mlwf_core.plan import Plan

    layout = {"iso": "%Y-%m-%d %H:%M:%S", "dmy": "%d/%m/%Y %H:%M:%S", "mdy": "%m/%d/%Y %H:%M:%S"}
    rng = np.random.default_rng(11)
    stamps = [
        dt.datetime(2015, 1, 1) + dt.timedelta(minutes=int(m))
        for m in rng.integers(0, 5 * 365 * 24 * 60, 300)
    ]
    x = rng.normal(size=300)
    text = pl.DataFrame({"x": x, "d": [t.strftime(layout[fmt]) for t in stamps]})
    parts = ["year", "month", "day", "weekday", "hour", "elapsed_days"]
    plan = Plan(
        columns=[{"name": "x", "kind": "numeric"}],
        ops=[
            {
                "op": "date_part",
                "inputs": ["d"],
                "output": f"d__{part}",
                "format": fmt,
                "part": part,
                "origin": 16000.0 if part == "elapsed_days" else 0.0,
            }
            for part in parts
        ],
    )
    expected = plan.transform(text)
    assert not np.isnan(expected).any()
    y = (expected[:, 0] + expected[:, 5] / 1000 > 0).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5},
        lgb.Dataset(expected, y),
        5,
    )
    scorer = _scorer(plan, booster, "binary", [0, 1])
    typed = pl.DataFrame({"x": x, "d": stamps})
    np.testing.assert_array_equal(scorer.transform(typed), expected)
    dates_only = pl.DataFrame({"x": x, "d": [t.date() for t in stamps]})
    np.testing.assert_array_equal(
        scorer.transform(dates_only)[:, 1:5], expected[:, 1:5]
    )  # year, month, day, weekday
    for i in (0, 7, 123):
        record = {"x": float(x[i]), "d": stamps[i]}
        np.testing.assert_array_equal(
            scorer._records.transform_record(_dates_record(scorer, record)), expected[i]
        )
        np.testing.assert_allclose(
            scorer.predict_proba(record)[1], booster.predict(expected[i : i + 1])[0], atol=1e-12
        )


def _dates_record(scorer, record):
    from mlwf_core.deploy._scorer import _dates_as_text

    return _dates_as_text(record, scorer._date_formats)
