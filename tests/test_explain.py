"""TreeSHAP contributions and global importance (mlwf_core.explain, cpp/include/mlwf/shap.hpp).

Oracles: LightGBM ``pred_contrib`` and XGBoost ``pred_contribs`` on the same boosters,
with missing values, categorical splits and every task; additivity against the compiled
forest's raw margins.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlwf_core import _core
from mlwf_core.deploy._forest import booster_arrays, forest_arrays
from mlwf_core.deploy._scorer import Scorer
from mlwf_core.exceptions import ArtifactError, DataError, ParameterError
from mlwf_core.explain import contributions, explain_record, global_importance, shap_values

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")

from conftest import make_frame  # noqa: E402

TASKS = ("binary", "multiclass", "regression")


# ---------------------------------------------------------------------- helpers
def _data(seed: int, n: int, n_features: int, nan_share: float, n_cats: int):
    """Features (last one categorical codes when n_cats > 0) and targets of every task."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    if n_cats:
        X[:, -1] = rng.integers(0, n_cats, size=n)
    X[rng.uniform(size=X.shape) < nan_share] = np.nan
    signal = np.nan_to_num(X[:, 0]) + (np.nan_to_num(X[:, -1]) % 2) + 0.3 * rng.normal(size=n)
    targets = {
        "binary": (signal > np.median(signal)).astype(np.int64),
        "multiclass": np.digitize(signal, np.quantile(signal, [0.33, 0.66])).astype(np.int64),
        "regression": 2.0 * signal + 1.0,
    }
    return X, targets


def _lightgbm(X, y, task, n_trees, categorical, **params):
    objective = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[task]
    p = {
        "objective": objective,
        "verbose": -1,
        "num_leaves": 7,
        "min_data_in_leaf": 3,
        "min_data_in_bin": 1,
        "min_data_per_group": 2,
        "cat_smooth": 1,
        "num_threads": 1,
        "seed": 0,
        **params,
    }
    if task == "multiclass":
        p["num_class"] = 3
    cat = [X.shape[1] - 1] if categorical else "auto"
    return lgb.train(p, lgb.Dataset(X, y, categorical_feature=cat), n_trees)


def _xgboost(X, y, task, n_trees, categorical, **params):
    objective = {
        "binary": "binary:logistic",
        "multiclass": "multi:softprob",
        "regression": "reg:squarederror",
    }[task]
    p = {"objective": objective, "max_depth": 3, "nthread": 1, "seed": 0, **params}
    if task == "multiclass":
        p["num_class"] = 3
    types = ["q"] * (X.shape[1] - 1) + (["c"] if categorical else ["q"])
    if categorical:
        p["max_cat_to_onehot"] = 1
    d = xgb.DMatrix(X, y, missing=np.nan, feature_types=types, enable_categorical=categorical)
    return xgb.train(p, d, n_trees), types


def _own(booster, X, types=None):
    """The learner's own contributions, shape (n, n_outputs, n_features + 1)."""
    n, d = X.shape
    if isinstance(booster, lgb.Booster):
        c = np.asarray(booster.predict(X, pred_contrib=True))
    else:
        dm = xgb.DMatrix(X, missing=np.nan, feature_types=types, enable_categorical="c" in types)
        c = np.asarray(booster.predict(dm, pred_contribs=True), dtype=np.float64)
    return c.reshape(n, -1, d + 1)


def _ours(arrays, X, n_threads=1):
    shap = _core.TreeShap(arrays)
    out = np.empty((X.shape[0], int(shap.n_groups), X.shape[1] + 1))
    shap.explain_into(X, out, n_threads)
    return out


def _raw(arrays, X):
    forest = _core.Forest(arrays)
    out = np.empty((X.shape[0], int(forest.n_groups)))
    forest.predict_raw_into(X, out, 1)
    return out


# ---------------------------------------------------------------------- oracles
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(40, 150),
    n_features=st.integers(2, 5),
    nan_share=st.sampled_from([0.0, 0.1, 0.3]),
    n_cats=st.sampled_from([0, 0, 4, 9]),
    task=st.sampled_from(TASKS),
    learner=st.sampled_from(["lightgbm", "xgboost"]),
    n_trees=st.integers(1, 6),
)
def test_matches_the_learners_own_treeshap(
    seed, n, n_features, nan_share, n_cats, task, learner, n_trees
):
    X, targets = _data(seed, n, n_features, nan_share, n_cats)
    categorical = n_cats > 0
    types = None
    if learner == "lightgbm":
        booster = _lightgbm(X, targets[task], task, n_trees, categorical)
    else:
        booster, types = _xgboost(X, targets[task], task, n_trees, categorical)
    arrays, _, _ = booster_arrays(booster)
    ours = _ours(arrays, X)
    own = _own(booster, X, types)
    # LightGBM computes in double; XGBoost in float32 (its own sums miss its margin by as much)
    atol = 1e-9 if learner == "lightgbm" else 1e-6
    np.testing.assert_allclose(ours, own, rtol=0, atol=atol)
    # additivity: contributions plus the base value are the raw margin of the compiled forest
    np.testing.assert_allclose(ours.sum(axis=2), _raw(arrays, X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("missing", ["zero_as_missing", "nan", "none"])
def test_lightgbm_missing_types_and_the_zero_band(missing):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    X[rng.uniform(size=X.shape) < 0.2] = 0.0
    X[rng.uniform(size=X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) - np.nan_to_num(X[:, 1]) + 0.1 * rng.normal(size=300)
    params = {"zero_as_missing": True} if missing == "zero_as_missing" else {}
    if missing == "none":
        params["use_missing"] = False
    booster = _lightgbm(X, y, "regression", 20, False, **params)
    # inputs LightGBM reads as zero or missing: tiny values, signed zeros, NaN
    probe = X.copy()
    probe[:5, 0] = [1e-36, -1e-36, -0.0, 0.0, np.nan]
    arrays, _, _ = booster_arrays(booster)
    np.testing.assert_allclose(_ours(arrays, probe), _own(booster, probe), rtol=0, atol=1e-9)


def test_deep_trees_with_repeated_features_and_many_rows():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(2000, 4)).astype(np.float32)
    y = np.sin(3 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.05 * rng.normal(size=2000)
    booster = _lightgbm(X, y, "regression", 30, False, num_leaves=63, min_data_in_leaf=2)
    arrays, _, _ = booster_arrays(booster)
    shap = _core.TreeShap(arrays)
    assert shap.max_depth >= 8  # a feature splits several times on one path
    ours = _ours(arrays, X[:300], n_threads=2)
    np.testing.assert_allclose(ours, _own(booster, X[:300]), rtol=0, atol=1e-9)
    # the row engine and the batch engine agree exactly, whatever the thread split
    np.testing.assert_array_equal(ours[17], shap.explain_row(X[17]))
    np.testing.assert_array_equal(ours, _ours(arrays, X[:300], n_threads=1))


@pytest.mark.parametrize("task", TASKS)
def test_weighted_ensemble_is_the_weighted_sum_of_its_members(task):
    X, targets = _data(11, 200, 4, 0.1, 5)
    y = targets[task]
    lgb_booster = _lightgbm(X, y, task, 8, True)
    xgb_booster, types = _xgboost(X, y, task, 8, True)
    n_classes = 3 if task == "multiclass" else 2
    members = [
        {"learner": "lightgbm", "booster": lgb_booster, "weight": 0.3},
        {"learner": "xgboost", "booster": xgb_booster, "weight": 0.7},
    ]
    arrays = forest_arrays(members, task, n_classes)
    ours = _ours(arrays, X)
    blend = 0.3 * _own(lgb_booster, X) + 0.7 * _own(xgb_booster, X, types)
    np.testing.assert_allclose(ours, blend, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.sum(axis=2), _raw(arrays, X), rtol=1e-12, atol=1e-12)


def test_xgboost_dart_and_single_leaf_trees():
    X, targets = _data(5, 120, 3, 0.2, 0)
    booster, types = _xgboost(
        X, targets["binary"], "binary", 6, False, booster="dart", rate_drop=0.3, skip_drop=0.0
    )
    arrays, _, _ = booster_arrays(booster)
    np.testing.assert_allclose(_ours(arrays, X), _own(booster, X, types), rtol=0, atol=1e-6)
    # a constant target grows one-leaf trees: only the base value moves
    stump = _lightgbm(X, np.ones(120), "regression", 3, False)
    arrays, _, _ = booster_arrays(stump)
    ours = _ours(arrays, X)
    np.testing.assert_allclose(ours, _own(stump, X), rtol=0, atol=1e-12)
    assert np.all(ours[:, :, :-1] == 0.0)


def test_kernel_rejects_bad_arrays():
    X, targets = _data(1, 80, 3, 0.0, 0)
    arrays, _, _ = booster_arrays(_lightgbm(X, targets["regression"], "regression", 2, False))
    with pytest.raises(ValueError, match="cover"):
        _core.TreeShap({k: v for k, v in arrays.items() if k != "cover"})
    with pytest.raises(ValueError, match="cover"):
        _core.TreeShap({**arrays, "cover": arrays["cover"][:-1]})
    shap = _core.TreeShap(arrays)
    with pytest.raises(ValueError, match="columns"):
        shap.explain_into(X[:, :2], np.empty((80, 1, 4)), 1)
    with pytest.raises(ValueError, match="wrong size"):
        shap.explain_into(X, np.empty((80, 1, 3)), 1)
    linear = lgb.train(
        {"objective": "regression", "linear_tree": True, "verbose": -1, "min_data_in_leaf": 5},
        lgb.Dataset(X, targets["regression"]),
        2,
    )
    with pytest.raises(ValueError, match="linear trees"):
        _core.TreeShap(booster_arrays(linear)[0])


# ---------------------------------------------------------------------- public API
@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    import mlwf_core as mw

    out = {}
    for task in ("binary", "multiclass"):
        frame = make_frame(n=300, task=task, seed=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = mw.fit_auto(frame, "y", n_trials=3, time_budget=60, verbose=0, n_jobs=1)
        path = model.save(tmp_path_factory.mktemp(task) / "model.mlwf")
        out[task] = (model, Scorer.load(path), frame)
    return out


def test_contributions_frame_sums_to_the_margin(fitted):
    model, scorer, frame = fitted["binary"]
    contrib = model.explain(frame)
    names = list(model.plan_.features)
    assert contrib.columns == [*names, "base_value"]
    assert contrib.height == frame.height
    assert all(dtype == pl.Float64 for dtype in contrib.dtypes)
    total = contrib.to_numpy().sum(axis=1)
    np.testing.assert_allclose(total, model.predict_margin(frame), rtol=1e-12, atol=1e-12)
    # the deployed scorer explains the same way, from the artifact
    assert contributions(scorer, frame).equals(contrib)
    np.testing.assert_array_equal(scorer.explain(frame), contrib.to_numpy())
    np.testing.assert_array_equal(shap_values(model, model.transform(frame)), contrib.to_numpy())


def test_explain_record_matches_the_batch(fitted):
    model, scorer, frame = fitted["binary"]
    contrib = model.explain(frame)
    features = frame.drop("y")
    for i in (0, 7, 42):
        record = features.row(i, named=True)
        got = scorer.explain_record(record)
        assert list(got) == [*model.plan_.features, "base_value"]
        assert got == pytest.approx(contrib.row(i, named=True), rel=1e-12, abs=1e-12)
        assert explain_record(model, record) == pytest.approx(got, rel=1e-12, abs=1e-12)
        assert explain_record(scorer, record) == got
    # missing and unseen values are explained as the scorer predicts them
    sparse = {"x2": 0.5, "color": "purple"}
    got = scorer.explain_record(sparse)
    margin = np.log(scorer.predict_proba(sparse)[1] / scorer.predict_proba(sparse)[0])
    assert sum(got.values()) == pytest.approx(margin, rel=1e-9, abs=1e-9)
    assert explain_record(model, sparse) == pytest.approx(got, rel=1e-12, abs=1e-12)
    with pytest.raises(ParameterError, match="'record'"):
        explain_record(scorer, [1.0, 2.0])


def test_multiclass_long_frame_and_record(fitted):
    model, scorer, frame = fitted["multiclass"]
    contrib = model.explain(frame)
    k = len(model.classes_)
    assert contrib.columns[:2] == ["row", "class"]
    assert contrib.height == frame.height * k
    assert contrib["class"].to_list()[:k] == list(model.classes_)
    assert contrib["row"].to_list()[: 2 * k] == [0] * k + [1] * k
    values = contrib.drop("row", "class").to_numpy().reshape(frame.height, k, -1)
    np.testing.assert_allclose(
        values.sum(axis=2), model.predict_margin(frame), rtol=1e-12, atol=1e-12
    )
    assert scorer.explain(frame).shape == values.shape
    record = frame.drop("y").row(3, named=True)
    margin = values[3].sum(axis=1)
    got = scorer.explain_record(record)  # the predicted class
    assert sum(got.values()) == pytest.approx(margin.max(), rel=1e-12)
    for c, label in enumerate(model.classes_):
        got = scorer.explain_record(record, output=label)
        assert sum(got.values()) == pytest.approx(margin[c], rel=1e-12)
    with pytest.raises(ParameterError, match="'output'"):
        scorer.explain_record(record, output="no such class")


def test_scorer_from_old_artifact_arrays_says_what_to_do(fitted):
    model, scorer, frame = fitted["binary"]
    arrays = {k: v for k, v in model._forest_arrays().items() if k != "cover"}
    from mlwf_core.deploy._scorer import Forest

    old = Scorer(Forest.from_arrays(arrays, "binary", 2), None, model.classes_)
    with pytest.raises(ArtifactError, match="save it again"):
        old.explain(model.transform(frame))
    with pytest.raises(ParameterError, match="no plan"):
        old.explain_record({"x1": 1.0})
    with pytest.raises(ParameterError, match="AutoModel or a Scorer"):
        contributions(object(), frame)


def test_model_loaded_without_cover_is_explained_from_its_boosters(fitted):
    model, _, frame = fitted["binary"]
    expected = model.explain(frame)
    saved = model._arrays
    try:
        # as AutoModel.load leaves it for an artifact written before the cover was exported
        model._arrays = {k: v for k, v in saved.items() if k != "cover"}
        assert model.explain(frame).equals(expected)
    finally:
        model._arrays = saved


def test_permutation_importance_ranks_signal_over_noise(fitted):
    model, _, _ = fitted["binary"]
    holdout = make_frame(n=400, task="binary", seed=9)
    imp = global_importance(model, holdout, kind="permutation", n_repeats=3, seed=0)
    assert imp.columns == ["feature", "importance", "std"]
    assert set(imp["feature"]) == set(model.plan_.features)
    ranked = imp["feature"].to_list()
    # x1 carries the strongest signal in make_frame; shuffling it hurts most
    assert ranked[0] == "x1"
    assert imp["importance"][0] > 0.05
    # seeded: the same shuffles give the same table
    again = global_importance(model, holdout, kind="permutation", n_repeats=3, seed=0)
    assert again.equals(imp)
    gain = global_importance(model)
    assert gain["importance"].sum() == pytest.approx(1.0)


def test_global_importance_validates(fitted):
    model, scorer, frame = fitted["binary"]
    with pytest.raises(ParameterError, match="'kind'"):
        global_importance(model, frame, kind="split")
    with pytest.raises(ParameterError, match="'data'"):
        global_importance(model, kind="permutation")
    with pytest.raises(ParameterError, match="'n_repeats'"):
        global_importance(model, frame, kind="permutation", n_repeats=0)
    with pytest.raises(DataError, match="target column 'y'"):
        global_importance(model, frame.drop("y"), kind="permutation")
    with pytest.raises(DataError, match="'maybe'"):
        bad = frame.with_columns(pl.lit("maybe").alias("y"))
        global_importance(model, bad, kind="permutation")
    with pytest.raises(ParameterError, match="Scorer"):
        global_importance(scorer)
