"""The compiled forest against LightGBM's and XGBoost's own predict, as oracles.

LightGBM sums leaves in double, like the forest: raw scores must agree to 1e-9.
XGBoost sums leaves in float32 and returns float32; the forest sums in double. Its
routing is checked exactly against XGBoost's own leaf indices (``pred_leaf``) summed in
double, and its outputs against ``Booster.predict`` within float32 rounding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, shared_task
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlwf_core.deploy._forest import booster_arrays, forest_arrays
from mlwf_core.deploy._scorer import Forest
from mlwf_core.exceptions import ArtifactError

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")

DATASETS = SHARED
GOLDEN = Path(__file__).resolve().parent / "data"
F32 = np.float32


def _forest(booster):
    arrays, task, n_classes = booster_arrays(booster)
    return Forest.from_arrays(arrays, task, n_classes)


def _lgb_check(booster, X, threads=(1, 2)):
    forest = _forest(booster)
    ref = booster.predict(X.astype(np.float64), raw_score=True)
    for n_threads in threads:
        raw = forest.predict_raw(X, n_threads=n_threads)
        np.testing.assert_allclose(raw, ref, rtol=0, atol=1e-9)
    prob = booster.predict(X.astype(np.float64))
    np.testing.assert_allclose(forest.predict(X), prob, rtol=0, atol=1e-9)
    rows = np.array([forest.predict_row(x) for x in X[:50]])
    np.testing.assert_allclose(rows, prob[:50], rtol=0, atol=1e-9)


def _xgb_exact_raw(booster, dmatrix):
    """Raw margins from XGBoost's own routing (pred_leaf), leaf values summed in double."""
    model = json.loads(bytes(booster.save_raw("json")))["learner"]
    gb = model["gradient_booster"]
    tree_model = gb["model"] if gb["name"] == "gbtree" else gb["gbtree"]["model"]
    drop = gb.get("weight_drop", [1.0] * len(tree_model["trees"]))
    trees, groups = tree_model["trees"], tree_model["tree_info"]
    n_groups = max(1, int(model["learner_model_param"]["num_class"]))
    leaves = booster.predict(dmatrix, pred_leaf=True).reshape(dmatrix.num_row(), -1)
    raw = np.zeros((dmatrix.num_row(), n_groups))
    for t, tree in enumerate(trees):
        values = np.asarray(tree["split_conditions"], dtype=np.float32).astype(np.float64)
        raw[:, groups[t]] += values[leaves[:, t].astype(np.int64)] * drop[t]
    return raw


def _xgb_check(booster, X, feature_types=None):
    forest = _forest(booster)
    d = xgb.DMatrix(X, feature_types=feature_types, enable_categorical=feature_types is not None)
    ref_raw = booster.predict(d, output_margin=True)
    ref = booster.predict(d)
    for n_threads in (1, 2):
        raw = forest.predict_raw(X, n_threads=n_threads)
        base = raw - _xgb_exact_raw(booster, d).reshape(raw.shape)
        # routing is exact: what is left is the base margin, the same on every row
        assert np.ptp(base, axis=0).max() < 1e-9
        scale = np.maximum(1.0, np.abs(ref_raw))
        assert (np.abs(raw - ref_raw) / scale).max() < 5e-6
    prob = forest.predict(X)
    np.testing.assert_allclose(prob, ref, rtol=2e-6, atol=1e-6)


def _frame_matrix(name: str, limit: int = 2500):
    import polars as pl

    spec = shared_task(f"{name}.csv")
    frame = pl.read_csv(spec["path"], infer_schema_length=None)
    frame = frame.drop([c for c in spec.get("drop", []) if c in frame.columns])
    frame = frame.sample(min(limit, frame.height), seed=0)
    target = frame[spec["target"]]
    frame = frame.drop(spec["target"])
    cols, cats = [], []
    for j, name_ in enumerate(frame.columns):
        s = frame[name_]
        if s.dtype == pl.String:
            cols.append(s.cast(pl.Categorical).to_physical().cast(pl.Float32).fill_null(np.nan))
            cats.append(j)
        elif s.dtype.is_numeric() or s.dtype == pl.Boolean:
            cols.append(s.cast(pl.Float32).fill_null(np.nan))
        else:
            cols.append(pl.Series(name_, [np.nan] * frame.height, dtype=pl.Float32))
    X = np.ascontiguousarray(np.column_stack([c.to_numpy() for c in cols]).astype(F32))
    keep = target.is_not_null().to_numpy()
    X, target = np.ascontiguousarray(X[keep]), target.filter(pl.Series(keep))
    if spec["task"] == "regression":
        y = target.cast(pl.Float64).fill_null(0.0).to_numpy()
    else:
        y = target.cast(pl.String).cast(pl.Categorical).to_physical().to_numpy().astype(np.int64)
        y = np.unique(y, return_inverse=True)[1]
    return X, y, cats, spec["task"]


DEV = [
    "wa_churn",
    "credit_data",
    "hmda",
    "nass_cds",
    "caravan",
    "hpc_data",
    "chile",
    "leaf_flavia",
    "diamonds",
    "ames",
    "concrete",
    "wage",
    "hotel_rates",
    "deliveries",
]


def _objective(task, y):
    if task == "binary":
        return {"objective": "binary"}, {"objective": "binary:logistic"}
    if task == "multiclass":
        k = int(y.max()) + 1
        return (
            {"objective": "multiclass", "num_class": k},
            {"objective": "multi:softprob", "num_class": k},
        )
    return {"objective": "regression"}, {"objective": "reg:squarederror"}


@pytest.mark.integration
@pytest.mark.parametrize("name", DEV)
def test_dev_datasets(name):
    if not (DATASETS / "manifest.json").is_file():
        pytest.skip("dev datasets (../shared/datasets) are not available")
    X, y, cats, task = _frame_matrix(name)
    lgb_params, xgb_params = _objective(task, y)
    rounds = 2 if task == "multiclass" else 25
    booster = lgb.train(
        {**lgb_params, "verbose": -1, "num_leaves": 31, "min_data_in_leaf": 5, "seed": 0},
        lgb.Dataset(X, y, categorical_feature=cats or "auto"),
        rounds,
    )
    _lgb_check(booster, X, threads=(2,))
    types = ["c" if j in cats else "q" for j in range(X.shape[1])]
    d = xgb.DMatrix(X, y, feature_types=types, enable_categorical=True)
    xbooster = xgb.train({**xgb_params, "max_depth": 5, "seed": 0, "nthread": 1}, d, rounds)
    _xgb_check(xbooster, X, feature_types=types)


# ----------------------------------------------------------------- generated inputs


def _special_values(thresholds: np.ndarray) -> list[float]:
    thr = thresholds[np.isfinite(thresholds)].astype(F32)
    near = np.concatenate(
        [thr, np.nextafter(thr, F32(np.inf)), np.nextafter(thr, F32(-np.inf))]
    ).tolist()
    return near + [
        np.nan,
        0.0,
        -0.0,
        1e-40,
        -1e-40,
        1e-35,
        -1e-35,
        np.inf,
        -np.inf,
        -1.0,
        -0.5,
        33.0,
        40.0,
        63.5,
        64.0,
        1e9,
        -1e9,
    ]


def _train_data(seed: int, n: int = 400, n_features: int = 5, n_cats: int = 70):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(F32)
    X[:, 1] = np.round(X[:, 1])  # many exact ties and zeros
    X[:, 3] = rng.integers(0, n_cats, n)  # categorical, codes well beyond 32
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, 2][rng.random(n) < 0.2] = 0.0
    score = np.nan_to_num(X[:, 0]) + np.isin(X[:, 3], np.arange(0, n_cats, 3)) - 0.5
    return X, score


@pytest.fixture(scope="module")
def lgb_models():
    X, score = _train_data(0)
    y = (score > 0).astype(int)
    models = {}
    base = {
        "verbose": -1,
        "min_data_in_leaf": 3,
        "min_data_per_group": 2,
        "cat_smooth": 1,
        "num_leaves": 15,
        "seed": 0,
    }
    ds = lambda label: lgb.Dataset(X, label, categorical_feature=[3])  # noqa: E731
    models["binary"] = lgb.train({**base, "objective": "binary"}, ds(y), 15)
    models["zero_missing"] = lgb.train(
        {**base, "objective": "binary", "zero_as_missing": True}, ds(y), 15
    )
    models["no_missing"] = lgb.train(
        {**base, "objective": "binary", "use_missing": False}, ds(y), 15
    )
    models["linear"] = lgb.train(
        {**base, "objective": "regression", "linear_tree": True}, lgb.Dataset(X, score), 15
    )
    models["multiclass"] = lgb.train(
        {**base, "objective": "multiclass", "num_class": 3},
        ds(np.digitize(score, [-0.5, 0.5])),
        8,
    )
    return X, models


@pytest.fixture(scope="module")
def xgb_models():
    X, score = _train_data(1)
    X[:, 3] = np.abs(X[:, 3])  # XGBoost trains only on non-negative categories
    types = ["q", "q", "q", "c", "q"]
    d = lambda label: xgb.DMatrix(X, label, feature_types=types, enable_categorical=True)  # noqa: E731
    params = {"max_depth": 4, "seed": 0, "nthread": 1, "max_cat_to_onehot": 1}
    models = {
        "binary": xgb.train({**params, "objective": "binary:logistic"}, d(score > 0), 15),
        "regression": xgb.train({**params, "objective": "reg:squarederror"}, d(score), 15),
        "multiclass": xgb.train(
            {**params, "objective": "multi:softprob", "num_class": 3},
            d(np.digitize(score, [-0.5, 0.5])),
            6,
        ),
        "onehot": xgb.train(
            {**params, "objective": "binary:logistic", "max_cat_to_onehot": 100}, d(score > 0), 10
        ),
    }
    return X, types, models


def _lgb_thresholds(booster) -> np.ndarray:
    arrays, _, _ = booster_arrays(booster)
    numeric = arrays["kind"] == 1
    return arrays["threshold"][numeric]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_lightgbm_generated_inputs(lgb_models, data):
    X, models = lgb_models
    name = data.draw(st.sampled_from(sorted(models)))
    booster = models[name]
    values = _special_values(_lgb_thresholds(booster))
    n = data.draw(st.integers(1, 40))
    cells = data.draw(
        st.lists(
            st.sampled_from(values) | st.floats(-3, 3, width=32), min_size=n * 5, max_size=n * 5
        )
    )
    Xg = np.array(cells, dtype=F32).reshape(n, 5)
    _lgb_check(booster, Xg)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_xgboost_generated_inputs(xgb_models, data):
    X, types, models = xgb_models
    name = data.draw(st.sampled_from(sorted(models)))
    booster = models[name]
    arrays, _, _ = booster_arrays(booster)
    values = _special_values(arrays["threshold"][arrays["kind"] == 2])
    values = [v for v in values if not np.isinf(v)]  # XGBoost rejects inf inputs
    n = data.draw(st.integers(1, 40))
    cells = data.draw(
        st.lists(
            st.sampled_from(values) | st.floats(-3, 3, width=32), min_size=n * 5, max_size=n * 5
        )
    )
    Xg = np.array(cells, dtype=F32).reshape(n, 5)
    # XGBoost itself rejects negative / huge category codes at predict time in DMatrix;
    # those cases are covered by test_xgboost_invalid_categories through the tree rule
    Xg[:, 3] = np.where(np.isnan(Xg[:, 3]), np.nan, np.clip(np.abs(Xg[:, 3]), 0, 200))
    _xgb_check(booster, Xg, feature_types=types)


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    leaves=st.integers(2, 40),
    cat_l2=st.floats(0.0, 10.0),
    max_cat_threshold=st.integers(1, 64),
)
def test_lightgbm_generated_forests(seed, leaves, cat_l2, max_cat_threshold):
    X, score = _train_data(seed, n=300)
    y = (score > 0).astype(int)
    params = {
        "objective": "binary",
        "verbose": -1,
        "num_leaves": leaves,
        "min_data_in_leaf": 2,
        "min_data_per_group": 1,
        "cat_l2": cat_l2,
        "cat_smooth": 0.5,
        "max_cat_threshold": max_cat_threshold,
        "seed": seed,
    }
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=[3]), 5)
    rng = np.random.default_rng(seed)
    Xg = rng.choice(np.array(_special_values(_lgb_thresholds(booster)), dtype=F32), size=(60, 5))
    _lgb_check(booster, np.vstack([X[:60], Xg]))


def test_xgboost_invalid_categories(xgb_models):
    """Negative, fractional and huge codes follow XGBoost's rule: not in any set, go left.

    XGBoost refuses such codes in a DMatrix, so the oracle is XGBoost's routing of an
    unseen valid code, which takes the same branch at every categorical split.
    """
    X, types, models = xgb_models
    booster = models["binary"]
    forest = _forest(booster)
    rows = X[:20].copy()
    unseen = rows.copy()
    unseen[:, 3] = 1_000_000.0  # valid code never seen in training: not in any set
    expect = forest.predict_raw(unseen)
    for bad in (-1.0, -0.5, 16777216.0, 1e12):
        rows[:, 3] = bad
        np.testing.assert_allclose(forest.predict_raw(rows), expect, rtol=0, atol=0)
    _xgb_check(booster, unseen, feature_types=types)


def test_multiclass_and_weighted_ensemble(lgb_models, xgb_models):
    X, lmodels = lgb_models
    _, _, xmodels = xgb_models
    Xp = np.abs(X)  # valid codes for XGBoost's categorical feature
    lb, xb = lmodels["multiclass"], xmodels["multiclass"]
    members = [
        {"learner": "lightgbm", "booster": lb, "weight": 0.7},
        {"learner": "xgboost", "booster": xb, "weight": 0.3},
    ]
    forest = Forest.from_arrays(forest_arrays(members, "multiclass", 3), "multiclass", 3)
    d = xgb.DMatrix(Xp, feature_types=["q", "q", "q", "c", "q"], enable_categorical=True)
    expect = 0.7 * lb.predict(Xp.astype(np.float64), raw_score=True) + 0.3 * xb.predict(
        d, output_margin=True
    )
    raw = forest.predict_raw(Xp)
    np.testing.assert_allclose(raw, expect, rtol=0, atol=2e-6)
    e = np.exp(expect - expect.max(axis=1, keepdims=True))
    np.testing.assert_allclose(forest.predict(Xp), e / e.sum(axis=1, keepdims=True), atol=1e-6)
    # binary blend of two LightGBM boosters
    b1, b2 = lmodels["binary"], lmodels["zero_missing"]
    members = [
        {"learner": "lightgbm", "booster": b1, "weight": 0.25},
        {"learner": "lightgbm", "booster": b2, "weight": 0.75},
    ]
    forest = Forest.from_arrays(forest_arrays(members, "binary", 2), "binary", 2)
    raw = 0.25 * b1.predict(X, raw_score=True) + 0.75 * b2.predict(X, raw_score=True)
    np.testing.assert_allclose(forest.predict_raw(X), raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(forest.predict(X), 1 / (1 + np.exp(-raw)), rtol=0, atol=1e-9)


def test_linear_trees_with_missing(lgb_models):
    X, models = lgb_models
    booster = models["linear"]
    arrays, _, _ = booster_arrays(booster)
    assert arrays["tree_linear"].all() and arrays["linear_coef"].size > 0
    Xn = X.copy()
    Xn[::3, 0] = np.nan
    _lgb_check(booster, Xn)


def test_xgboost_objectives_and_dart():
    X, score = _train_data(3, n_cats=5)
    X[:, 3] = np.abs(X[:, 3])
    for params, label in [
        ({"objective": "count:poisson"}, np.abs(np.round(score))),
        ({"objective": "reg:logistic"}, (score > 0).astype(float)),
        ({"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3}, score > 0),
    ]:
        booster = xgb.train(
            {**params, "max_depth": 3, "seed": 0, "nthread": 1}, xgb.DMatrix(X, label), 10
        )
        _xgb_check(booster, X)


def test_golden_models():
    """Checked-in models and the predictions their learners gave when they were saved."""
    X = np.load(GOLDEN / "golden_X.npy")
    for path in sorted(GOLDEN.glob("golden_*.txt")) + sorted(GOLDEN.glob("golden_*.json")):
        expect = np.load(path.with_name(path.stem + "_raw.npy"))
        if path.suffix == ".txt":
            booster = lgb.Booster(model_file=str(path))
        else:
            booster = xgb.Booster(model_file=str(path))
        raw = _forest(booster).predict_raw(X).reshape(expect.shape)
        atol = 1e-9 if path.suffix == ".txt" else 5e-6 * max(1.0, np.abs(expect).max())
        np.testing.assert_allclose(raw, expect, rtol=0, atol=atol, err_msg=path.name)


def test_malformed_arrays_raise(lgb_models):
    X, models = lgb_models
    arrays, task, k = booster_arrays(models["binary"])
    rng = np.random.default_rng(0)
    for trial in range(300):
        broken = {name: a.copy() for name, a in arrays.items()}
        name = rng.choice(sorted(broken))
        a = broken[name]
        if trial % 5 == 0:
            broken[name] = a[: rng.integers(0, max(1, a.size))]
        elif a.size:
            i = rng.integers(0, a.size)
            a[i] = rng.choice([-1, 0, 2**30, 7, -(2**31)]) if a.dtype.kind in "iu" else np.nan
        try:
            forest = Forest.from_arrays(broken, task, k)
        except ArtifactError:
            continue
        if forest.n_features > 100:
            continue
        # anything accepted must score without crashing
        forest.predict_raw(np.resize(X[:10], (10, forest.n_features)))
    with pytest.raises(ArtifactError):
        Forest.from_arrays({k_: v for k_, v in arrays.items() if k_ != "left"}, task, k)
