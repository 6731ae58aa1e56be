from __future__ import annotations

import json
import multiprocessing as mp
import time

import numpy as np
import polars as pl
import pytest
from conftest import make_frame

import mlwf_core as mw
from mlwf_core.search import make_splits


def test_splits_by_size_are_stratified_and_cover_every_row():
    y = np.r_[np.zeros(900), np.ones(100)]
    splits, strategy = make_splits(y, "binary", seed=0)
    assert strategy == "5-fold x 2 repeats" and len(splits) == 10
    for train, valid in splits:
        assert len(np.intersect1d(train, valid)) == 0
        assert abs(y[valid].mean() - 0.1) < 0.02
    first_repeat = np.sort(np.concatenate([v for _, v in splits[:5]]))
    np.testing.assert_array_equal(first_repeat, np.arange(1000))
    assert make_splits(np.zeros(20_000), "regression", seed=0)[1] == "3-fold"
    assert make_splits(np.zeros(200_000), "regression", seed=0)[1] == "holdout 20%"


def test_grouped_and_time_ordered_splits():
    groups = np.repeat(np.arange(50), 10)
    splits, strategy = make_splits(np.zeros(500), "regression", seed=0, groups=groups)
    assert strategy == "grouped 5-fold"
    for train, valid in splits:
        assert not set(groups[train]) & set(groups[valid])
    times = np.random.default_rng(0).permutation(600)
    splits, strategy = make_splits(np.zeros(600), "regression", seed=0, time_order=times)
    assert strategy.startswith("time-ordered")
    for train, valid in splits:
        assert times[train].max() < times[valid].min()


def test_fit_with_groups_and_time_column():
    frame = make_frame(n=400).with_columns(
        (pl.col("id") // 8).alias("customer"), pl.col("id").alias("t")
    )
    model = mw.fit_auto(
        frame, "y", groups="customer", n_trials=2, time_budget=120, verbose=0, n_jobs=1
    )
    assert model.search_info_["validation"] == "grouped 5-fold"
    model = mw.fit_auto(
        frame, "y", time_column="t", n_trials=2, time_budget=120, verbose=0, n_jobs=1
    )
    assert model.search_info_["validation"].startswith("time-ordered")
    with pytest.raises(mw.ParameterError, match="groups"):
        mw.fit_auto(frame, "y", groups="nope", time_budget=3, verbose=0)


@pytest.mark.parametrize("search", ["random", "grid"])
def test_random_and_grid_search(search):
    frame = make_frame(n=300)
    model = mw.fit_auto(frame, "y", search=search, n_trials=5, time_budget=30, verbose=0, n_jobs=1)
    trials = model.leaderboard.filter(pl.col("trial") >= 0)
    assert trials.height == 5
    if search == "grid":
        params = [json.loads(p) for p in trials["params"]]
        assert [p["learner"] for p in params] == [
            "lightgbm",
            "xgboost",
            "lightgbm",
            "xgboost",
            "lightgbm",
        ]
        assert params[0]["lgb_learning_rate"] == 0.05 and params[2]["lgb_min_child_samples"] == 20


def test_leaderboard_metadata_reports_threads():
    model = mw.fit_auto(make_frame(n=300), "y", n_trials=3, time_budget=120, verbose=0, n_jobs=2)
    info = model.search_info_
    assert info["threads_per_fit"] == 1 and "thread" in info["threads_reason"]
    assert info["n_trials"] >= info["n_complete"] >= 1
    ensemble = model.leaderboard.filter(pl.col("model") == "ensemble")
    members = json.loads(ensemble["params"][0])
    assert abs(sum(m["weight"] for m in members) - 1.0) < 1e-6


def _fit_in_child(path: str, storage: str) -> None:
    frame = pl.read_parquet(path)
    mw.fit_auto(frame, "y", storage=storage, time_budget=120, verbose=0, n_jobs=1)


def test_storage_resumes_after_a_kill(tmp_path):
    frame = make_frame(n=500, seed=4)
    data = tmp_path / "data.parquet"
    frame.write_parquet(data)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    child = mp.get_context("spawn").Process(target=_fit_in_child, args=(str(data), storage))
    child.start()
    # let the child finish a few trials, then kill it mid-search
    import optuna

    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and stored < 4:
        time.sleep(0.5)
        try:
            summaries = optuna.get_all_study_summaries(storage)
            stored = summaries[0].n_trials if summaries else 0
        except Exception:
            stored = 0
    child.kill()
    child.join()
    assert stored >= 4
    model = mw.fit_auto(
        frame, "y", storage=storage, n_trials=stored + 2, time_budget=60, verbose=0, n_jobs=1
    )
    board = model.leaderboard.filter(pl.col("trial") >= 0)
    # the resumed search holds the killed run's finished trials plus its own
    assert board.height == stored + 2 or board.height >= stored
    assert model.search_info_["study_name"].startswith("mlwf-")
    assert len(model.members_) >= 1


@pytest.mark.parametrize(
    "case",
    ["imbalanced", "rare_class", "tiny", "wide"],
)
def test_hard_shapes_fit_without_errors(case):
    rng = np.random.default_rng(0)
    if case == "imbalanced":
        frame = make_frame(n=2000, seed=1)
        y = np.where(rng.uniform(size=2000) < 0.02, "fraud", "ok")
        frame = frame.with_columns(pl.Series("y", y))
    elif case == "rare_class":
        frame = make_frame(n=600, task="multiclass", seed=2)
        y = frame["y"].to_numpy().copy()
        y[:2] = 9  # a class with two rows: absent from most training folds
        frame = frame.with_columns(pl.Series("y", y))
    elif case == "tiny":
        frame = make_frame(n=120, seed=3)
    else:
        X = rng.normal(size=(400, 300))
        frame = pl.DataFrame(X, schema=[f"f{i}" for i in range(300)]).with_columns(
            pl.Series("y", X[:, 0] + X[:, 1] * 2 + rng.normal(size=400))
        )
    model = mw.fit_auto(frame, "y", n_trials=3, time_budget=120, verbose=0, n_jobs=1)
    proba_or_pred = (
        model.predict_proba(frame) if model.task_ != "regression" else model.predict(frame)
    )
    assert np.isfinite(proba_or_pred).all()
    if case == "rare_class":
        assert 9 in model.classes_ and proba_or_pred.shape[1] == len(model.classes_)


@pytest.mark.slow
def test_large_data_within_budget():
    rng = np.random.default_rng(0)
    n = 120_000
    X = rng.normal(size=(n, 8))
    frame = pl.DataFrame(X, schema=[f"f{i}" for i in range(8)]).with_columns(
        pl.Series("y", (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(size=n) > 0).astype(np.int64))
    )
    start = time.monotonic()
    model = mw.fit_auto(frame, "y", time_budget=12, verbose=0, n_jobs=1)
    assert time.monotonic() - start <= 12 * 1.1
    assert model.search_info_["validation"] == "holdout 20%"
    assert model.cv_score_ > 0.8
