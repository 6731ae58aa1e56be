"""mlwf_core.metrics against sklearn.metrics on generated inputs with heavy ties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlwf_core import _core
from mlwf_core import metrics as mm
from mlwf_core.exceptions import DataError, ParameterError

skm = pytest.importorskip("sklearn.metrics")

TOL = {"rel": 1e-9, "abs": 1e-9}
SETTINGS = settings(max_examples=60, deadline=None)


def approx(x: float) -> object:
    return pytest.approx(x, **TOL)


@st.composite
def classification(draw, n_classes: int | None = None, ties: bool = True):
    """Codes 0..K-1 with every class present, probabilities from a few levels, weights."""
    k = n_classes if n_classes is not None else draw(st.integers(2, 5))
    n = draw(st.integers(k, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)  # every class present, as scikit-learn infers classes from y_true
    rng.shuffle(y)
    if ties:
        levels = draw(st.integers(1, 6))
        raw = rng.integers(0, levels + 1, (n, k)) / levels + rng.random((n, k)) * 1e-3 * (
            draw(st.booleans())
        )
    else:
        raw = rng.random((n, k))
    raw = raw + 1e-3
    proba = raw / raw.sum(axis=1, keepdims=True)
    weights = None
    if draw(st.booleans()):
        weights = rng.integers(0, 4, n).astype(float) + draw(st.sampled_from([0.0, 0.5]))
        for c in range(k):  # every class keeps some weight, else its AUC is undefined
            first = int(np.argmax(y == c))
            weights[first] = max(weights[first], 1.0)
    return y, proba, weights


def binary_case(y, proba, weights):
    p = proba[:, 1]
    return y, p, weights


# ---------------------------------------------------------------------------------------
# Binary metrics
# ---------------------------------------------------------------------------------------


@SETTINGS
@given(classification(n_classes=2))
def test_roc_auc_binary_matches_sklearn(case):
    y, p, w = binary_case(*case)
    assert mm.roc_auc(y, p, w) == approx(skm.roc_auc_score(y, p, sample_weight=w))
    assert mm.METRICS["roc_auc"](y, p, w) == approx(skm.roc_auc_score(y, p, sample_weight=w))


@SETTINGS
@given(st.integers(2, 4000), st.integers(1, 50), st.booleans(), st.integers(0, 2**32 - 1))
def test_roc_auc_large_ties_and_signs(n, levels, weighted, seed):
    # Scores of both signs, -0.0 next to 0.0, infinities absent; enough rows for the radix
    # passes and the merge to see long runs of equal keys.
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[0], y[-1] = 0, 1
    s = (rng.integers(-levels, levels + 1, n) / levels).astype(float)
    s[rng.random(n) < 0.1] = -0.0
    w = rng.random(n) * 3 if weighted else None
    assert mm.roc_auc(y, s, w) == approx(skm.roc_auc_score(y, s, sample_weight=w))


@pytest.mark.parametrize(
    ("n", "decimals"), [(70_000, None), (300_000, 3), (300_000, 1), (1_100_000, None)]
)
def test_roc_auc_large_inputs_match_sklearn(n, decimals):
    # Above 65536 rows the sort takes the MSD pass into cache-sized buckets, with the
    # recursion for a crowded prefix (rounded scores); from 2**20 rows it uses two threads.
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, n)
    s = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + y)))
    if decimals is not None:
        s = np.round(s, decimals)
    w = rng.random(n)
    assert mm.roc_auc(y, s) == approx(skm.roc_auc_score(y, s))
    assert mm.roc_auc(y, s, w) == approx(skm.roc_auc_score(y, s, sample_weight=w))


@pytest.mark.parametrize("n", [50, 5_000, 100_000])
def test_roc_auc_keys_spanning_all_bits(n):
    # Scores from -1e308 to 1e308 leave no spare bit for the label: the fallback carries it
    # in the sign of the weight. scikit-learn overflows there, so it scores the ranks (AUC
    # depends on the order only; np.unique ties -0.0 with 0.0 as we do).
    rng = np.random.default_rng(n)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = rng.choice([-1e308, -1e300, -1.0, -0.0, 0.0, 2.5, 1e300, 1e308], n) / rng.integers(1, 3, n)
    s[:2] = [-1e308, 1e308]
    ranks = np.unique(s, return_inverse=True)[1].astype(float)
    w = rng.random(n)
    assert mm.roc_auc(y, s) == approx(skm.roc_auc_score(y, ranks))
    assert mm.roc_auc(y, s, w) == approx(skm.roc_auc_score(y, ranks, sample_weight=w))


def test_roc_auc_two_columns_scores_class_one():
    y = np.array([0, 1, 1, 0, 1])
    p1 = np.array([0.1, 0.8, 0.4, 0.4, 0.9])
    proba = np.column_stack([1 - p1, p1])
    assert mm.roc_auc(y, proba) == approx(skm.roc_auc_score(y, p1))


@SETTINGS
@given(classification(n_classes=2))
def test_log_loss_binary_matches_sklearn(case):
    y, p, w = binary_case(*case)
    expected = skm.log_loss(y, p, sample_weight=w, labels=[0, 1])
    assert mm.log_loss(y, p, w) == approx(expected)
    assert mm.METRICS["log_loss"](y, p, w) == approx(expected)


def test_log_loss_clips_like_sklearn():
    y = np.array([0, 1, 1, 0])
    p = np.array([0.0, 0.0, 1.0, 1.0])  # two infinitely wrong, two exactly right
    assert mm.log_loss(y, p) == approx(skm.log_loss(y, p))
    proba = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    y3 = np.array([0, 1, 2])
    assert mm.log_loss(y3, proba) == approx(skm.log_loss(y3, proba, labels=[0, 1, 2]))


@SETTINGS
@given(classification(n_classes=2))
def test_label_metrics_binary_match_sklearn(case):
    y, p, w = binary_case(*case)
    labels = (p > 0.5).astype(int)
    sk = {
        "accuracy": skm.accuracy_score(y, labels, sample_weight=w),
        "precision": skm.precision_score(y, labels, sample_weight=w, zero_division=0.0),
        "recall": skm.recall_score(y, labels, sample_weight=w, zero_division=0.0),
        "f1": skm.f1_score(y, labels, sample_weight=w, zero_division=0.0),
    }
    for name, expected in sk.items():
        assert getattr(mm, name)(y, labels, sample_weight=w) == approx(expected), name
        assert mm.METRICS[name](y, p, w) == approx(expected), name
    for average in ("macro", "weighted"):
        for stem, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            expected = fn(y, labels, average=average, sample_weight=w, zero_division=0.0)
            assert getattr(mm, stem)(y, labels, average, w) == approx(expected)
            assert mm.METRICS[f"{stem}_{average}"](y, p, w) == approx(expected)


def test_binary_threshold_ties_go_to_class_zero():
    y = np.array([0, 1, 1])
    p = np.array([0.5, 0.5, 0.7])
    assert mm.METRICS["accuracy"](y, p) == approx(2 / 3)
    assert mm.METRICS["recall"](y, p) == approx(0.5)


def test_zero_division_gives_zero_without_warning():
    y = np.array([0, 0, 1, 1])
    never = np.zeros(4)
    assert mm.precision(y, never) == 0.0
    assert mm.f1(y, never) == 0.0
    assert mm.recall(np.zeros(4), never) == 0.0


# ---------------------------------------------------------------------------------------
# Multiclass metrics
# ---------------------------------------------------------------------------------------


@SETTINGS
@given(classification())
def test_multiclass_metrics_match_sklearn(case):
    y, proba, w = case
    k = proba.shape[1]
    labels = proba.argmax(axis=1)
    assert mm.log_loss(y, proba, w) == approx(
        skm.log_loss(y, proba, sample_weight=w, labels=list(range(k)))
    )
    assert mm.METRICS["accuracy"](y, proba, w) == approx(
        skm.accuracy_score(y, labels, sample_weight=w)
    )
    for average in ("macro", "weighted"):
        for stem, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            expected = fn(y, labels, average=average, sample_weight=w, zero_division=0.0)
            assert mm.METRICS[f"{stem}_{average}"](y, proba, w) == approx(expected)
            assert getattr(mm, stem)(y, labels, average, w) == approx(expected)
    if k > 2:
        expected_auc = skm.roc_auc_score(
            y, proba, sample_weight=w, multi_class="ovr", average="macro"
        )
        assert mm.roc_auc(y, proba, w) == approx(expected_auc)


def test_class_absent_from_predictions():
    y = np.array([0, 1, 2, 2, 1, 0])
    pred = np.array([0, 1, 1, 1, 0, 0])  # class 2 never predicted
    for stem, fn in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        for average in ("macro", "weighted"):
            expected = fn(y, pred, average=average, zero_division=0.0)
            assert getattr(mm, stem)(y, pred, average) == approx(expected)


def test_class_absent_everywhere_is_left_out_of_macro():
    # Codes 0 and 2 only: scikit-learn averages over the labels it sees, and so do we.
    y = np.array([0, 2, 2, 0])
    pred = np.array([0, 2, 0, 0])
    expected = skm.f1_score(y, pred, average="macro", zero_division=0.0)
    assert mm.f1(y, pred, "macro") == approx(expected)


def test_roc_auc_ovr_names_the_absent_class():
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    with pytest.raises(DataError, match="only one class: class 2 has no rows"):
        mm.roc_auc([0, 1, 0], proba)


def test_binary_average_rejects_more_classes():
    with pytest.raises(DataError, match="average='binary'"):
        mm.precision([0, 1, 2], [0, 1, 2])


# ---------------------------------------------------------------------------------------
# Regression metrics
# ---------------------------------------------------------------------------------------


@st.composite
def regression(draw):
    n = draw(st.integers(2, 80))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    levels = draw(st.integers(1, 8))
    y = rng.integers(-levels, levels + 1, n) * draw(st.sampled_from([0.5, 1.0, 3.25]))
    p = y + rng.integers(-2, 3, n) * draw(st.sampled_from([0.0, 0.25, 1.5]))
    w = None
    if draw(st.booleans()):
        w = rng.integers(0, 5, n).astype(float)
        w[0] = 1.0
    return y.astype(float), p.astype(float), w


@SETTINGS
@given(regression())
def test_regression_metrics_match_sklearn(case):
    y, p, w = case
    pairs = {
        "mse": skm.mean_squared_error(y, p, sample_weight=w),
        "rmse": skm.root_mean_squared_error(y, p, sample_weight=w),
        "mae": skm.mean_absolute_error(y, p, sample_weight=w),
        "r2": skm.r2_score(y, p, sample_weight=w),
    }
    for name, expected in pairs.items():
        assert getattr(mm, name)(y, p, w) == approx(expected), name
        assert mm.METRICS[name](y, p, w) == approx(expected), name


def test_r2_large_input_uses_blocks_correctly():
    rng = np.random.default_rng(3)
    y = rng.normal(100.0, 1.0, 50_001)
    p = y + rng.normal(0.0, 0.3, y.size)
    w = rng.random(y.size)
    assert mm.r2(y, p) == approx(skm.r2_score(y, p))
    assert mm.r2(y, p, w) == approx(skm.r2_score(y, p, sample_weight=w))


@pytest.mark.parametrize("n", [7, 8, 4097, 10_003])
def test_vectorised_kernels_on_odd_lengths(n):
    # Lengths around the 2-lane / 8-row / 4096-row block boundaries of the row sums.
    rng = np.random.default_rng(n)
    y = rng.normal(size=n)
    p = y + rng.normal(scale=0.4, size=n)
    w = rng.random(n)
    yc = rng.integers(0, 3, n).astype(float)
    pc = np.where(rng.random(n) < 0.7, yc, rng.integers(0, 3, n))
    for weights in (None, w):
        assert mm.mse(y, p, weights) == approx(skm.mean_squared_error(y, p, sample_weight=weights))
        assert mm.mae(y, p, weights) == approx(skm.mean_absolute_error(y, p, sample_weight=weights))
        assert mm.r2(y, p, weights) == approx(skm.r2_score(y, p, sample_weight=weights))
        assert mm.accuracy(yc, pc, weights) == approx(
            skm.accuracy_score(yc, pc, sample_weight=weights)
        )
    p_nan = p.copy()
    p_nan[-1] = np.nan
    with pytest.raises(DataError, match=f"y_pred contains NaN \\(first at row {n - 1}\\)"):
        mm.mse(y, p_nan)
    with pytest.raises(DataError, match=f"y_pred contains NaN \\(first at row {n - 1}\\)"):
        mm.accuracy(yc, p_nan)


def test_two_thread_reductions_match_sklearn():
    # From 2**21 rows the row sums and r2 split the rows between two threads.
    rng = np.random.default_rng(11)
    n = 2_100_003
    y = rng.normal(50.0, 3.0, size=n)
    p = y + rng.normal(scale=0.4, size=n)
    w = rng.random(n)
    for weights in (None, w):
        assert mm.mse(y, p, weights) == approx(skm.mean_squared_error(y, p, sample_weight=weights))
        assert mm.mae(y, p, weights) == approx(skm.mean_absolute_error(y, p, sample_weight=weights))
        assert mm.r2(y, p, weights) == approx(skm.r2_score(y, p, sample_weight=weights))
    labels = (y > 50.0).astype(float)
    assert mm.accuracy(labels, (p > 50.0).astype(float), w) == approx(
        skm.accuracy_score(labels, p > 50.0, sample_weight=w)
    )
    proba = 1.0 / (1.0 + np.exp(-(p - 50.0)))
    for weights in (None, w):
        assert mm.log_loss(labels, proba, weights) == approx(
            skm.log_loss(labels, proba, sample_weight=weights)
        )
    proba[-2] = 1.5
    with pytest.raises(DataError, match=f"got 1.5 at row {n - 2}"):
        mm.log_loss(labels, proba)
    labels[[7, n - 1]] = 3.0  # one bad code in each half: the first row is named
    with pytest.raises(DataError, match="got 3 at row 7"):
        mm.log_loss(labels, proba)
    p[-5] = np.nan
    with pytest.raises(DataError, match=f"y_pred contains NaN \\(first at row {n - 5}\\)"):
        mm.r2(y, p)
    w[-3] = -1.0
    with pytest.raises(DataError, match=f"got -1 at row {n - 3}"):
        mm.mse(y, y, w)


def test_r2_constant_target_follows_force_finite():
    y = np.full(5, 3.0)
    assert mm.r2(y, y) == 1.0 == skm.r2_score(y, y)
    assert mm.r2(y, y + 1) == 0.0 == skm.r2_score(y, y + 1)


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


def test_roc_auc_one_class_raises():
    with pytest.raises(DataError, match="only one class"):
        mm.roc_auc([1, 1, 1], [0.2, 0.3, 0.4])
    with pytest.raises(DataError, match="only one class"):
        mm.roc_auc([0, 1, 1], [0.2, 0.3, 0.4], sample_weight=[0.0, 1.0, 1.0])


@pytest.mark.parametrize(
    "func",
    [mm.roc_auc, mm.log_loss, mm.accuracy, mm.precision, mm.recall, mm.f1]
    + [mm.mse, mm.rmse, mm.mae, mm.r2],
)
def test_mismatched_lengths_raise(func):
    with pytest.raises(DataError, match="3 rows but y_pred has 2"):
        func([0, 1, 0], [0.4, 0.6])
    with pytest.raises(DataError, match="sample_weight has 2 rows"):
        func([0, 1, 0], [0.4, 0.6, 0.1], sample_weight=[1.0, 2.0])
    with pytest.raises(DataError, match="empty"):
        func([], [])


@pytest.mark.parametrize("name", sorted(mm.METRICS))
def test_nan_predictions_raise(name):
    metric = mm.METRICS[name]
    y = np.array([0.0, 1.0, 0.0, 1.0])
    p = np.array([0.2, 0.7, np.nan, 0.9])
    with pytest.raises(DataError, match=r"y_pred contains NaN \(first at row 2\)"):
        metric(y, p)


def test_nan_elsewhere_named():
    with pytest.raises(DataError, match="y_true contains NaN"):
        mm.mse([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(DataError, match="y_true contains NaN"):
        mm.roc_auc([0.0, np.nan], [0.1, 0.2])
    y, p = [0.0, 1.0, 1.0], [0.2, 0.7, 0.9]
    for name in ("mse", "mae", "r2", "accuracy", "log_loss", "roc_auc", "f1"):
        func = getattr(mm, name)
        with pytest.raises(DataError, match=r"sample_weight contains NaN \(first at row 1\)"):
            func(y, p if name in ("log_loss", "roc_auc") else y, sample_weight=[1.0, np.nan, 1])
        with pytest.raises(DataError, match="non-negative numbers; got -1 at row 2"):
            func(y, p if name in ("log_loss", "roc_auc") else y, sample_weight=[1.0, 1.0, -1])
        with pytest.raises(DataError, match="finite, non-negative numbers; got inf at row 0"):
            func(y, p if name in ("log_loss", "roc_auc") else y, sample_weight=[np.inf, 1, 1])
        with pytest.raises(DataError, match="sample_weight sums to zero"):
            func(y, p if name in ("log_loss", "roc_auc") else y, sample_weight=[0.0, 0.0, 0])
    with pytest.raises(DataError, match="y_pred contains NaN"):
        mm.METRICS["accuracy"]([0, 1], np.array([[0.5, np.nan], [0.1, 0.9]]))


def test_bad_codes_and_probabilities_raise():
    with pytest.raises(DataError, match=r"integer class codes 0\.\.1; got 2 at row 1"):
        mm.log_loss([0, 2], [0.1, 0.2])
    with pytest.raises(DataError, match=r"got 0.5 at row 0"):
        mm.roc_auc([0.5, 1], [0.1, 0.2])
    with pytest.raises(DataError, match=r"probabilities in \[0, 1\]; got 1.5"):
        mm.log_loss([0, 1], [0.1, 1.5])
    with pytest.raises(DataError, match=r"class codes 0\.\.2; got 3"):
        mm.METRICS["f1_macro"]([0, 3], np.full((2, 3), 1 / 3))
    with pytest.raises(DataError, match="must be numeric"):
        mm.mse(["a", "b"], [1.0, 2.0])
    with pytest.raises(DataError, match="1-D"):
        mm.mse(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(DataError, match="at least two rows"):
        mm.r2([1.0], [1.0])


def test_parameter_errors_name_choices():
    with pytest.raises(ParameterError, match=r"'average' parameter of f1 must be one of"):
        mm.f1([0, 1], [0, 1], average="micro")
    with pytest.raises(ParameterError, match=r"'eps' parameter of log_loss"):
        mm.log_loss([0, 1], [0.2, 0.8], eps=0.0)
    with pytest.raises(ParameterError, match=r"\['mse', 'rmse', 'mae', 'r2'\]"):
        mm.get_metric("roc_auc", "regression")
    with pytest.raises(ParameterError, match="'task' parameter of get_metric"):
        mm.get_metric("rmse", "ranking")
    with pytest.raises(ParameterError, match="'direction' parameter"):
        mm.is_better(1.0, 2.0, "up")


# ---------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------


def test_registry_contents_and_directions():
    binary = {"roc_auc", "log_loss", "accuracy", "precision", "recall", "f1"}
    multiclass = {"log_loss", "accuracy"} | {
        f"{s}_{a}" for s in ("precision", "recall", "f1") for a in ("macro", "weighted")
    }
    regression = {"mse", "rmse", "mae", "r2"}
    for task, names in (("binary", binary), ("multiclass", multiclass), ("regression", regression)):
        for name in names:
            metric = mm.get_metric(name, task)
            assert metric.name == name
            assert task in metric.tasks
    minimize = {n for n, m in mm.METRICS.items() if m.direction == "minimize"}
    assert minimize == {"log_loss", "mse", "rmse", "mae"}
    assert {n for n, m in mm.METRICS.items() if m.needs_proba} == {"roc_auc", "log_loss"}
    assert [mm.default_metric(t) for t in ("binary", "multiclass", "regression")] == [
        "roc_auc",
        "log_loss",
        "rmse",
    ]


@SETTINGS
@given(classification())
def test_evaluate_all_matches_individual_metrics(case):
    y, proba, w = case
    p = proba[:, 1] if proba.shape[1] == 2 else proba
    task = "binary" if proba.shape[1] == 2 else "multiclass"
    scores = mm.evaluate_all(y, p, task, sample_weight=w)
    assert set(scores) == {n for n, m in mm.METRICS.items() if task in m.tasks}
    for name, value in scores.items():
        assert value == approx(mm.METRICS[name](y, p, w)), name


def test_evaluate_all_regression_and_undefined_auc():
    y = np.array([1.0, 2.0, 4.0])
    scores = mm.evaluate_all(y, y + 0.5, "regression")
    assert scores == {
        "mse": approx(0.25),
        "rmse": approx(0.5),
        "mae": approx(0.5),
        "r2": approx(skm.r2_score(y, y + 0.5)),
    }
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    scores = mm.evaluate_all([0, 1, 0], proba, "multiclass")
    assert math.isnan(scores["roc_auc"])
    assert scores["accuracy"] == 1.0


def test_is_better():
    assert mm.is_better(0.9, 0.8, "maximize")
    assert not mm.is_better(0.9, 0.8, "minimize")
    assert mm.is_better(0.1, math.nan, "minimize")
    assert not mm.is_better(math.nan, 0.1, "maximize")


def test_inputs_of_other_types_and_no_copy():
    y = np.array([0.0, 1.0, 1.0, 0.0])
    p = np.array([0.3, 0.6, 0.8, 0.1])
    assert mm.roc_auc(y.astype(np.int8), p.astype(np.float32)) == 1.0
    assert mm.roc_auc(y.tolist(), p.tolist()) == 1.0
    assert mm._as_float(p, "y_pred") is p


def test_core_exports_kernels():
    for name in (
        "roc_auc",
        "log_loss",
        "accuracy",
        "accuracy_proba",
        "confusion_matrix",
        "confusion_matrix_proba",
        "precision_recall_f1",
        "mse",
        "rmse",
        "mae",
        "r2",
    ):
        assert callable(getattr(_core, name)), name
