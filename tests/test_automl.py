from __future__ import annotations

import time
import warnings

import numpy as np
import polars as pl
import pytest
from conftest import make_frame, shared_task
from sklearn.metrics import mean_squared_error, roc_auc_score

import mlwf_core as mw
from mlwf_core.exceptions import (
    ArtifactError,
    DataError,
    MlwfWarning,
    NotFittedError,
    ParameterError,
    SchemaError,
)


def _split(frame: pl.DataFrame, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    idx = np.random.default_rng(seed).permutation(frame.height)
    cut = int(0.75 * frame.height)
    return frame[idx[:cut]], frame[idx[cut:]]


def _roundtrip(model, test, tmp_path):
    path = model.save(tmp_path / "model.mlwf")
    loaded = mw.load(path)
    if model.task_ == "regression":
        np.testing.assert_array_equal(loaded.predict(test), model.predict(test))
    else:
        np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
        assert list(loaded.predict(test)) == list(model.predict(test))
    assert loaded.leaderboard.equals(model.leaderboard)
    # the deployed scorer (C++ plan + forest) answers exactly like the model
    scorer = mw.Scorer.load(path)
    if model.task_ == "regression":
        np.testing.assert_allclose(scorer.predict(test), model.predict(test), rtol=0, atol=1e-9)
    else:
        np.testing.assert_allclose(
            scorer.predict_proba(test), model.predict_proba(test), rtol=0, atol=1e-12
        )
    assert loaded.classes_ == model.classes_
    return loaded


@pytest.mark.parametrize(
    ("name", "budget"),
    [("hmda.csv", 6), ("chile.csv", 6), ("concrete.csv", 6), ("credit_data.csv", 6)],
)
def test_end_to_end_on_shared_datasets(name, budget, tmp_path):
    task = shared_task(name)
    frame = mw.read(task["path"]).drop(task["drop"])
    train, test = _split(frame)
    start = time.monotonic()
    with (
        pytest.warns(MlwfWarning, match="target")
        if frame[task["target"]].null_count()
        else _nothing()
    ):
        model = mw.fit_auto(train, task["target"], time_budget=budget, verbose=0, n_jobs=1)
    elapsed = time.monotonic() - start
    assert elapsed <= budget * 1.1, f"fit took {elapsed:.2f} s for a {budget} s budget"
    assert model.task_ == task["task"]
    scores = model.evaluate(test)
    y_test = test.filter(pl.col(task["target"]).is_not_null())
    if task["task"] == "binary":
        proba = model.predict_proba(y_test)
        assert proba.shape == (y_test.height, 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        truth = (y_test[task["target"]] == model.classes_[1]).to_numpy()
        assert scores["roc_auc"] == pytest.approx(roc_auc_score(truth, proba[:, 1]), abs=1e-9)
        assert scores["roc_auc"] > 0.7
    elif task["task"] == "multiclass":
        proba = model.predict_proba(y_test)
        assert proba.shape == (y_test.height, len(model.classes_))
        assert set(model.predict(y_test)) <= set(model.classes_)
        assert scores["accuracy"] > 0.4
    else:
        pred = model.predict(y_test)
        rmse = mean_squared_error(y_test[task["target"]].to_numpy(), pred) ** 0.5
        assert scores["rmse"] == pytest.approx(rmse, rel=1e-9)
        assert scores["r2"] > 0.7
    board = model.leaderboard
    assert {"model", "learner", "params", "cv_score", "fit_seconds"} <= set(board.columns)
    assert board.filter(pl.col("state") == "complete").height >= 2
    importance = model.feature_importance()
    assert importance["importance"].sum() == pytest.approx(1.0)
    _roundtrip(model, test, tmp_path)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_local_fixture_with_missing_values(credit_small, tmp_path):
    model = mw.fit_auto(credit_small, "Status", n_trials=4, time_budget=120, verbose=0, n_jobs=1)
    assert model.task_ == "binary" and model.metric_ == "roc_auc"
    assert model.classes_ == ["bad", "good"]
    frame = mw.read(credit_small)
    assert set(model.predict(frame)) <= {"bad", "good"}
    assert 0.6 < model.cv_score_ <= 1.0
    _roundtrip(model, frame, tmp_path)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_generated_tasks_and_metrics(task):
    frame = make_frame(task=task, n=300)
    metric = {"binary": "log_loss", "multiclass": "accuracy", "regression": "mae"}[task]
    model = mw.fit_auto(frame, "y", metric=metric, n_trials=3, time_budget=120, verbose=0, n_jobs=1)
    assert model.task_ == task and model.metric_ == metric
    assert "id" not in model.features_ and "const" not in model.features_
    assert set(model.evaluate(frame)) >= {metric}


def test_prediction_input_that_differs_from_training():
    frame = make_frame(n=300)
    model = mw.fit_auto(frame, "y", n_trials=3, time_budget=120, verbose=0, n_jobs=1)
    rows = frame.head(5)
    base = model.predict_proba(rows)
    reordered = rows.select(list(reversed(rows.columns))).with_columns(pl.lit(1).alias("extra"))
    np.testing.assert_array_equal(model.predict_proba(reordered), base)
    unseen = rows.with_columns(pl.lit("purple").alias("color"))
    missing = rows.with_columns(pl.lit(None, pl.String).alias("color"))
    np.testing.assert_array_equal(model.predict_proba(unseen), model.predict_proba(missing))
    with pytest.raises(SchemaError, match="x2"):
        model.predict(rows.drop("x2"))
    with pytest.raises(SchemaError, match="x1"):
        model.predict(rows.with_columns(pl.lit("text").alias("x1")))


def test_budget_adherence_on_larger_data():
    frame = make_frame(n=20_000, task="regression", seed=3)
    start = time.monotonic()
    with warnings.catch_warnings():
        # on a loaded machine the budget may end before a trial is cross-validated:
        # the model must still come back, in time
        warnings.simplefilter("ignore", MlwfWarning)
        model = mw.fit_auto(frame, "y", time_budget=5, verbose=0)
    assert time.monotonic() - start <= 5.5
    assert len(model.members_) >= 1


def test_n_trials_is_reproducible():
    frame = make_frame(n=300, seed=5)
    a = mw.fit_auto(frame, "y", n_trials=4, time_budget=60, verbose=0, n_jobs=1, seed=7)
    b = mw.fit_auto(frame, "y", n_trials=4, time_budget=60, verbose=0, n_jobs=1, seed=7)
    cols = ["model", "params", "cv_score", "fold_scores", "n_rounds"]
    assert a.leaderboard.select(cols).equals(b.leaderboard.select(cols))
    np.testing.assert_array_equal(a.predict_proba(frame), b.predict_proba(frame))
    assert a.leaderboard.filter(pl.col("trial") >= 0).height == 4


def test_missing_target_rows_are_dropped_with_a_warning():
    frame = make_frame(n=300).with_columns(
        pl.when(pl.col("id") < 10).then(None).otherwise(pl.col("y")).alias("y")
    )
    with pytest.warns(MlwfWarning, match="Dropped 10 rows"):
        model = mw.fit_auto(frame, "y", n_trials=2, time_budget=120, verbose=0, n_jobs=1)
    assert model.n_rows_ == 290


def test_success_criterion_reported():
    frame = make_frame(n=300)
    model = mw.fit_auto(
        frame,
        "y",
        n_trials=2,
        time_budget=120,
        verbose=0,
        n_jobs=1,
        success={"roc_auc": 0.5, "accuracy": 0.999},
    )
    assert model.success_["detail"]["roc_auc"]["met"] is True
    assert model.success_["detail"]["accuracy"]["met"] is False
    assert model.success_["met"] is False


@pytest.mark.parametrize(
    ("data", "target", "match"),
    [
        (make_frame(n=50), "nope", "not in the data"),
        (
            make_frame(n=50).with_columns(pl.lit(None, pl.String).alias("y")),
            "y",
            "every row is missing",
        ),
        (make_frame(n=50).with_columns(pl.lit("a").alias("y")), "y", "single value"),
        (pl.DataFrame({"x": [], "y": []}), "y", "empty"),
        ("does/not/exist.csv", "y", "does not exist"),
    ],
)
def test_clear_data_errors(data, target, match):
    with pytest.raises(DataError, match=match):
        mw.fit_auto(data, target, time_budget=2, verbose=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"time_budget": -3},
            "'time_budget' parameter of fit_auto must be a positive number. Got -3",
        ),
        ({"time_budget": "10"}, "time_budget"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"seed": -1}, "seed"),
        ({"task": "ranking"}, "task"),
        ({"metric": "roc_auc", "task": "regression"}, "roc_auc"),
        ({"learners": ["catboost"]}, "learners"),
    ],
)
def test_parameter_validation(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        mw.fit_auto(make_frame(n=60, task="regression"), "y", verbose=0, **kwargs)


def test_unfitted_and_corrupted_model(tmp_path):
    with pytest.raises(NotFittedError):
        mw.AutoModel().predict(make_frame(n=5))
    model = mw.fit_auto(make_frame(n=200), "y", n_trials=2, time_budget=120, verbose=0, n_jobs=1)
    path = model.save(tmp_path / "m.mlwf")
    data = path.read_bytes()
    (tmp_path / "truncated.mlwf").write_bytes(data[:-200])
    with pytest.raises(ArtifactError):
        mw.load(tmp_path / "truncated.mlwf")
    corrupted = bytearray(data)
    corrupted[len(data) // 3] ^= 0xFF
    (tmp_path / "corrupted.mlwf").write_bytes(bytes(corrupted))
    with pytest.raises(ArtifactError):
        mw.load(tmp_path / "corrupted.mlwf")


def test_progress_display_and_silence(capsys):
    frame = make_frame(n=200)
    mw.fit_auto(frame, "y", n_trials=2, time_budget=60, verbose=1, n_jobs=1)
    err = capsys.readouterr().err
    assert "trials 2" in err and "best roc_auc" in err and "s left" in err
    mw.fit_auto(frame, "y", n_trials=2, time_budget=60, verbose=0, n_jobs=1)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_n_jobs_caps_every_thread_pool(monkeypatch):
    from mlwf_core import _core
    from mlwf_core.models._lightgbm import LightGBMAdapter

    seen = []
    original = LightGBMAdapter.fit

    def spy(self, *args, **kwargs):
        seen.append((kwargs["n_jobs"], _core.get_metric_threads()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LightGBMAdapter, "fit", spy)
    model = mw.fit_auto(make_frame(n=200), "y", n_trials=2, time_budget=60, verbose=0, n_jobs=1)
    assert seen and all(s == (1, 1) for s in seen)
    assert model.search_info_["n_jobs"] == 1 and model.search_info_["threads_per_fit"] == 1
    assert _core.get_metric_threads() == 2  # restored after the fit


def test_duplicate_rows_are_dropped_once():
    frame = make_frame(n=200)
    doubled = pl.concat([frame, frame.head(30)])
    model = mw.fit_auto(doubled, "y", n_trials=2, time_budget=60, verbose=0, n_jobs=1)
    assert model.search_info_["duplicate_rows_dropped"] == 30
    assert model.n_rows_ == 200
