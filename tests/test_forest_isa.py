"""The forest's vector kernels (AVX-512, chosen at run time) against its scalar kernels.

``MLWF_FOREST_ISA=scalar`` (read when a forest is built) keeps a forest on the scalar
kernels, the reference and the fallback of CPUs without AVX-512. Both must give the same
bits on every row: complete-tree and pointer-tree layouts, special nodes (categorical
splits with small and large category sets, LightGBM zero-as-missing), several outputs,
row counts around the vector width and inputs at the edges of the decision rules. On a
CPU without AVX-512 both forests run the scalar kernels and the test still checks that.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlwf_core.deploy._forest import booster_arrays
from mlwf_core.deploy._scorer import Forest
from mlwf_core.exceptions import ArtifactError

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")

F32 = np.float32
N_FEATURES = 7
CAT_SMALL, CAT_LARGE = 3, 4  # categorical columns: codes below 20, codes up to 150

# values at the edges of the rules: NaN, signed zeros, LightGBM's zero band, values that
# truncate to category 0, category bitset word edges, out-of-range categories, infinities
EDGES = np.array(
    [np.nan, 0.0, -0.0, 1e-36, -1e-36, 1e-35, -0.5, -0.999, -1.0, 0.5, 1.0, 19.0, 31.0, 31.5]
    + [32.0, 63.0, 64.0, 95.0, 96.0, 127.0, 128.0, 150.0, 1e6, 3e9, -3e9, np.inf, -np.inf],
    dtype=F32,
)


def _data(seed: int, n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES)).astype(F32)
    X[:, 1] = np.round(X[:, 1])  # ties and zeros
    X[:, CAT_SMALL] = rng.integers(0, 20, n)
    X[:, CAT_LARGE] = rng.integers(0, 150, n)
    X[rng.random(X.shape) < 0.05] = np.nan
    score = (
        np.nan_to_num(X[:, 0])
        + np.isin(X[:, CAT_SMALL], [1, 4, 7, 11, 18])
        + np.isin(X[:, CAT_LARGE], np.arange(0, 150, 3))
        - 1.0
    )
    return X, score


def rng_codes(n: int) -> np.ndarray:
    """Category codes 0..127, the widest inline category set."""
    return np.random.default_rng(7).integers(0, 128, n).astype(F32)


def _inputs(X: np.ndarray, seed: int) -> np.ndarray:
    """Training rows, then rows where a third of the cells take an edge value."""
    rng = np.random.default_rng(seed)
    edge = X[rng.integers(0, len(X), 700)].copy()
    mask = rng.random(edge.shape) < 0.33
    edge[mask] = rng.choice(EDGES, size=int(mask.sum()))
    return np.ascontiguousarray(np.vstack([X, edge]))


@pytest.fixture(scope="module")
def models() -> dict[str, tuple[object, np.ndarray]]:
    X, score = _data(0)
    y = (score > 0).astype(int)
    y3 = np.digitize(score, [-0.5, 0.5])
    lgb_base = {"verbose": -1, "min_data_in_leaf": 5, "min_data_per_group": 5, "seed": 0}
    cats = [CAT_SMALL, CAT_LARGE]
    ds = lambda label: lgb.Dataset(X, label, categorical_feature=cats)  # noqa: E731
    out: dict[str, tuple[object, np.ndarray]] = {}
    # pointer trees (leaf-wise, deeper than the complete layout allows)
    out["lgb_cat_leafwise"] = (
        lgb.train({**lgb_base, "objective": "binary", "num_leaves": 63}, ds(y), 20),
        X,
    )
    out["lgb_numeric_leafwise"] = (
        lgb.train(
            {**lgb_base, "objective": "regression", "num_leaves": 63}, lgb.Dataset(X, score), 20
        ),
        X,
    )
    out["lgb_zero_missing"] = (
        lgb.train(
            {**lgb_base, "objective": "binary", "num_leaves": 31, "zero_as_missing": True},
            ds(y),
            15,
        ),
        X,
    )
    # category codes up to 127: every set is decided inline, in all four bitset words, and
    # the first five steps of every tree take the block's decision bits (pointer_top)
    X128 = X.copy()
    X128[:, CAT_LARGE] = np.where(np.isnan(X[:, CAT_LARGE]), np.nan, rng_codes(len(X)))
    codes = np.random.default_rng(8).permutation(128)
    score128 = (
        np.isin(X128[:, CAT_LARGE], codes[:50]) * 1.0
        + np.isin(X128[:, CAT_LARGE], codes[30:90]) * 0.7
        + np.isin(X128[:, CAT_SMALL], [2, 3, 5, 8, 13])
        + 0.3 * np.nan_to_num(X[:, 0])
    )
    y128 = (score128 > 1.2).astype(int)
    out["lgb_cat_codes128"] = (
        lgb.train(
            {**lgb_base, "objective": "binary", "num_leaves": 63, "cat_smooth": 1, "cat_l2": 1},
            lgb.Dataset(X128, y128, categorical_feature=cats),
            25,
        ),
        X128,
    )
    # levels over 32 slots and categorical sets past 128 below the first levels: the
    # decision bits stop there and the lanes go on by gathers
    score_wide = (
        np.nan_to_num(X[:, 0]) * 2
        + np.nan_to_num(X[:, 2])
        + np.isin(X[:, CAT_SMALL], [1, 4, 7])
        + 0.3 * np.isin(X[:, CAT_LARGE], np.arange(0, 150, 3))
    )
    wide = {**lgb_base, "min_data_in_leaf": 2, "min_data_per_group": 2, "cat_smooth": 1}
    out["lgb_wide_levels"] = (
        lgb.train({**wide, "objective": "regression", "num_leaves": 255}, ds(score_wide), 10),
        X,
    )
    out["lgb_wide_numeric"] = (
        lgb.train(
            {**wide, "objective": "regression", "num_leaves": 255},
            lgb.Dataset(X, score_wide),
            10,
        ),
        X,
    )
    out["lgb_multiclass"] = (
        lgb.train(
            {**lgb_base, "objective": "multiclass", "num_class": 3, "num_leaves": 31}, ds(y3), 8
        ),
        X,
    )
    # complete layout (depth <= 8), with and without special nodes
    out["lgb_cat_shallow"] = (
        lgb.train({**lgb_base, "objective": "binary", "num_leaves": 31, "max_depth": 5}, ds(y), 20),
        X,
    )
    Xx = X.copy()
    Xx[:, CAT_SMALL] = np.abs(Xx[:, CAT_SMALL])
    Xx[:, CAT_LARGE] = np.abs(Xx[:, CAT_LARGE])
    xparams = {"seed": 0, "nthread": 1}
    d = xgb.DMatrix(Xx, score > 0)
    out["xgb_depth6"] = (
        xgb.train({**xparams, "max_depth": 6, "objective": "binary:logistic"}, d, 40),
        Xx,
    )
    out["xgb_depth8"] = (
        xgb.train(
            {**xparams, "max_depth": 8, "objective": "reg:squarederror"}, xgb.DMatrix(Xx, score), 10
        ),
        Xx,
    )
    for depth in (1, 2, 3):
        out[f"xgb_depth{depth}"] = (
            xgb.train({**xparams, "max_depth": depth, "objective": "binary:logistic"}, d, 12),
            Xx,
        )
    types = ["q"] * N_FEATURES
    types[CAT_SMALL] = types[CAT_LARGE] = "c"
    dc = xgb.DMatrix(Xx, y3, feature_types=types, enable_categorical=True)
    out["xgb_cat_multiclass"] = (
        xgb.train(
            {
                **xparams,
                "max_depth": 4,
                "objective": "multi:softprob",
                "num_class": 3,
                "max_cat_to_onehot": 1,
            },
            dc,
            6,
        ),
        Xx,
    )
    return out


def _pair(booster: object, monkeypatch: pytest.MonkeyPatch) -> tuple[Forest, Forest]:
    arrays, task, n_classes = booster_arrays(booster)
    monkeypatch.setenv("MLWF_FOREST_ISA", "scalar")
    scalar = Forest.from_arrays(arrays, task, n_classes)
    monkeypatch.setenv("MLWF_FOREST_ISA", "auto")
    best = Forest.from_arrays(arrays, task, n_classes)
    return scalar, best


def _same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    np.testing.assert_array_equal(
        np.ascontiguousarray(a).view(np.uint64), np.ascontiguousarray(b).view(np.uint64)
    )


@pytest.mark.parametrize(
    "name",
    [
        "lgb_cat_leafwise",
        "lgb_cat_codes128",
        "lgb_wide_levels",
        "lgb_wide_numeric",
        "lgb_numeric_leafwise",
        "lgb_zero_missing",
        "lgb_multiclass",
        "lgb_cat_shallow",
        "xgb_depth1",
        "xgb_depth2",
        "xgb_depth3",
        "xgb_depth6",
        "xgb_depth8",
        "xgb_cat_multiclass",
    ],
)
def test_kernels_agree_bit_for_bit(models, name, monkeypatch):
    booster, X = models[name]
    scalar, best = _pair(booster, monkeypatch)
    Xe = _inputs(X, seed=len(name))
    ref = scalar.predict_raw(Xe, n_threads=1)
    # the scalar kernels are themselves checked against the learners in test_forest.py
    for n_threads in (1, 2):
        _same_bits(best.predict_raw(Xe, n_threads=n_threads), ref)
    # row counts around the vector width and the 64-row block
    for n in (1, 7, 15, 16, 17, 31, 33, 63, 64, 65, 80, 129):
        _same_bits(best.predict_raw(Xe[-n:], n_threads=1), ref[-n:])
    rows = np.array([best._f.predict_row_raw(x) for x in Xe[:200]])
    _same_bits(rows.reshape(ref[:200].shape), ref[:200])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(
        [
            "lgb_cat_leafwise",
            "lgb_cat_codes128",
            "lgb_zero_missing",
            "lgb_cat_shallow",
            "xgb_depth6",
        ]
    ),
    cells=st.lists(
        st.one_of(
            st.sampled_from(EDGES.tolist()),
            st.floats(-200, 200, width=32),
            st.integers(-3, 160).map(float),
        ),
        min_size=N_FEATURES * 17,
        max_size=N_FEATURES * 17,
    ),
)
def test_kernels_agree_on_generated_rows(models, name, cells, monkeypatch):
    booster, _ = models[name]
    scalar, best = _pair(booster, monkeypatch)
    Xg = np.array(cells, dtype=F32).reshape(17, N_FEATURES)
    _same_bits(best.predict_raw(Xg, n_threads=1), scalar.predict_raw(Xg, n_threads=1))


@pytest.mark.parametrize("n_features", [16, 17, 32, 33, 64, 65, 130])
def test_single_rows_of_every_width(n_features, monkeypatch):
    """The row kernel reads the row from registers up to 64 features, else by gathers."""
    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(600, n_features)).astype(F32)
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (
        np.nan_to_num(X[:, -1])
        + np.nan_to_num(X[:, n_features // 2])
        + 0.5 * np.nan_to_num(X[:, 0])
    )
    booster = lgb.train(
        {
            "objective": "regression",
            "num_leaves": 15,
            "verbose": -1,
            "seed": 0,
            "min_data_in_leaf": 5,
        },
        lgb.Dataset(X, y),
        37,
    )
    scalar, best = _pair(booster, monkeypatch)
    ref = scalar.predict_raw(X, n_threads=1)
    rows = np.array([best._f.predict_row_raw(x) for x in X])
    _same_bits(rows.reshape(ref.shape), ref)
    _same_bits(best.predict_raw(X, n_threads=2), ref)


def test_wide_rows_take_the_unpacked_nodes(monkeypatch):
    """Over 4095 features the 8-byte nodes do not fit: the batch kernel gathers by field
    and single rows take the scalar kernel."""
    rng = np.random.default_rng(5)
    n_features = 4100
    X = rng.normal(size=(300, n_features)).astype(F32)
    X[:, 4097] = rng.integers(0, 40, len(X))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (
        np.nan_to_num(X[:, 4099])
        + np.nan_to_num(X[:, 7])
        + np.isin(X[:, 4097], [1, 5, 9, 33, 38])
        - 0.5
    )
    booster = lgb.train(
        {
            "objective": "regression",
            "num_leaves": 63,
            "verbose": -1,
            "seed": 0,
            "min_data_in_leaf": 3,
            "min_data_per_group": 3,
            "cat_smooth": 1,
        },
        lgb.Dataset(X, y, categorical_feature=[4097]),
        8,
    )
    scalar, best = _pair(booster, monkeypatch)
    assert best._f.max_depth > 8  # pointer trees
    Xe = _inputs(X, seed=5)
    ref = scalar.predict_raw(Xe, n_threads=1)
    _same_bits(best.predict_raw(Xe, n_threads=2), ref)
    rows = np.array([best._f.predict_row_raw(x) for x in Xe[:50]])
    _same_bits(rows.reshape(ref[:50].shape), ref[:50])


def test_unknown_isa_is_refused(models, monkeypatch):
    arrays, task, n_classes = booster_arrays(models["xgb_depth6"][0])
    monkeypatch.setenv("MLWF_FOREST_ISA", "sse9")
    with pytest.raises(ArtifactError, match="MLWF_FOREST_ISA"):
        Forest.from_arrays(arrays, task, n_classes)
