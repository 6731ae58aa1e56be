"""Tests of the data profile: every statistic against an independent oracle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest
from conftest import make_frame, shared_task
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.stats.contingency import association
from sklearn.metrics import mutual_info_score

from mlwf_core import _eda_kernels as k
from mlwf_core._eda_table import pearson
from mlwf_core.eda import Profile, profile
from mlwf_core.exceptions import DataError, ParameterError


def mixed_frame(n: int = 600, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 2, n)
    x[rng.uniform(size=n) < 0.1] = np.nan
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    return pl.DataFrame(
        {
            "row_id": rng.permutation(n),
            "x": x,
            "skewed": rng.lognormal(0, 1.5, n),
            "count": rng.poisson(3, n),
            "flag": rng.integers(0, 2, n),
            "answer": rng.choice(["yes", "no"], n),
            "colour": rng.choice(["red", "green", "blue", "grey"], n),
            "category": pl.Series(rng.choice(["a", "b", "c"], n)).cast(pl.Categorical),
            "when": [date(2020, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 900, n)],
            "when_text": [
                (date(2021, 1, 1) + timedelta(days=int(d))).isoformat()
                for d in rng.integers(0, 300, n)
            ],
            "amount_text": [f"{v:.2f}" for v in rng.uniform(0, 100, n)],
            "comment": [" ".join(rng.choice(words, 6)) + f" {i}" for i in range(n)],
            "constant": ["k"] * n,
        }
    )


@pytest.fixture(scope="module")
def mixed() -> pl.DataFrame:
    return mixed_frame()


@pytest.fixture(scope="module")
def mixed_profile(mixed: pl.DataFrame) -> Profile:
    return profile(mixed)


def test_roles(mixed_profile: Profile) -> None:
    assert mixed_profile.roles == {
        "row_id": "id",
        "x": "numeric",
        "skewed": "numeric",
        "count": "numeric",
        "flag": "boolean",
        "answer": "boolean",
        "colour": "categorical",
        "category": "categorical",
        "when": "datetime",
        "when_text": "datetime",
        "amount_text": "numeric",
        "comment": "text",
        "constant": "constant",
    }
    assert "numbers stored as text" in mixed_profile.column("amount_text").notes[0]
    assert "dates stored as text" in mixed_profile.column("when_text").notes[0]


def test_numeric_statistics_match_numpy_and_scipy(
    mixed: pl.DataFrame, mixed_profile: Profile
) -> None:
    x = mixed["x"].to_numpy()
    present = x[~np.isnan(x)]
    col = mixed_profile.column("x")
    assert col.n_missing == np.isnan(x).sum()
    assert col.missing_share == pytest.approx(np.isnan(x).mean())
    assert col.n_distinct == np.unique(present).size
    s = col.stats
    assert s["mean"] == pytest.approx(present.mean())
    assert s["std"] == pytest.approx(present.std(ddof=1))
    assert s["min"] == present.min() and s["max"] == present.max()
    assert s["skew"] == pytest.approx(stats.skew(present))
    assert s["kurtosis"] == pytest.approx(stats.kurtosis(present))
    for name, q in [("p01", 0.01), ("p25", 0.25), ("p50", 0.5), ("p95", 0.95), ("p99", 0.99)]:
        assert s["quantiles"][name] == pytest.approx(np.quantile(present, q))
    edges = np.asarray(col.histogram["edges"])
    assert col.histogram["counts"] == np.histogram(present, bins=edges)[0].tolist()


def test_outlier_counts_match_definitions(mixed: pl.DataFrame, mixed_profile: Profile) -> None:
    x = mixed["skewed"].to_numpy()
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    iqr = q3 - q1
    mad = np.median(np.abs(x - med))
    o = mixed_profile.column("skewed").outliers
    assert o["iqr"]["count"] == np.sum((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr))
    assert o["robust_z"]["count"] == np.sum(np.abs(x - med) / (1.4826 * mad) > 3.5)
    assert any(w["kind"] == "skewed" and w["column"] == "skewed" for w in mixed_profile.warnings)
    # lognormal over orders of magnitude: log-spaced bins, counted as numpy.histogram does
    h = mixed_profile.column("skewed").histogram
    assert h["scale"] == "log" and mixed_profile.column("x").histogram["scale"] == "linear"
    np.testing.assert_allclose(h["edges"], np.geomspace(x.min(), x.max(), 31))
    assert h["counts"] == np.histogram(x, bins=np.asarray(h["edges"]))[0].tolist()
    # double MAD of the right-skewed column: the upper side gets the wider scale
    low = 1.4826 * np.median(med - x[x <= med])
    high = 1.4826 * np.median(x[x >= med] - med)
    assert o["robust_z"]["scale_low"] == pytest.approx(max(low, 1.4826 * mad))
    assert o["robust_z"]["scale_high"] == pytest.approx(high)
    assert high > 1.4826 * mad > low


def test_warnings_for_zeros_missing_and_collinear_columns() -> None:
    rng = np.random.default_rng(8)
    n = 300
    a = rng.normal(size=n)
    frame = pl.DataFrame(
        {
            "a": a,
            "a_copy": 2 * a + 1e-3 * rng.normal(size=n),
            "mostly_zero": np.where(rng.uniform(size=n) < 0.7, 0.0, rng.normal(size=n)),
            "holes": np.where(rng.uniform(size=n) < 0.6, np.nan, a),
        }
    )
    kinds = {(w["kind"], w["column"]) for w in profile(frame).warnings}
    assert {("zeros", "mostly_zero"), ("missing", "holes"), ("correlated", "a_copy")} <= kinds
    assert ("zeros", "a") not in kinds


def test_missing_values_include_nan_and_infinity() -> None:
    frame = pl.DataFrame({"v": [1.0, None, float("nan"), float("inf"), 5.0, 2.0]})
    col = profile(frame).column("v")
    assert col.n_missing == 3
    assert col.stats["max"] == 5.0
    assert "1 infinite values counted as missing" in col.notes


def test_top_levels_and_categorical_dtype(mixed: pl.DataFrame, mixed_profile: Profile) -> None:
    expected = mixed["colour"].value_counts(sort=True)
    top = mixed_profile.column("colour").top_levels
    assert [t["value"] for t in top] == expected["colour"].to_list()
    assert [t["count"] for t in top] == expected["count"].to_list()
    assert sum(t["share"] for t in top) == pytest.approx(1.0)
    assert mixed_profile.column("category").dtype == "Categorical"


def test_datetime_and_text_details(mixed: pl.DataFrame, mixed_profile: Profile) -> None:
    when = mixed_profile.column("when")
    assert when.stats["min"] == mixed["when"].min().isoformat()
    assert sum(when.histogram["counts"]) == mixed.height
    assert len(when.histogram["labels"]) == len(when.histogram["counts"])
    comment = mixed_profile.column("comment")
    assert comment.stats["mean_words"] == pytest.approx(7.0)


def test_duplicates_match_pandas() -> None:
    rng = np.random.default_rng(1)
    frame = pl.DataFrame({"a": rng.integers(0, 4, 300), "b": rng.choice(["x", "y"], 300)})
    p = profile(frame)
    assert p.duplicates["n_duplicate_rows"] == frame.to_pandas().duplicated().sum()
    assert any(w["kind"] == "duplicates" for w in p.warnings)


def test_correlations_match_oracles() -> None:
    rng = np.random.default_rng(2)
    n = 500
    a = rng.normal(size=n)
    b = a + rng.normal(size=n)
    c = np.exp(a) + rng.normal(scale=0.1, size=n)
    g = rng.choice(["p", "q", "r"], n)
    h = np.where(rng.uniform(size=n) < 0.7, g, rng.choice(["p", "q", "r", "s"], n))
    frame = pl.DataFrame({"a": a, "b": b, "c": c, "g": g, "h": h})
    corr = profile(frame).correlations
    names = corr["pearson"]["columns"]
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(corr["pearson"]["matrix"], np.corrcoef([a, b, c]), atol=1e-12)
    rho = stats.spearmanr(np.column_stack([a, b, c])).statistic
    np.testing.assert_allclose(corr["spearman"]["matrix"], rho, atol=1e-12)
    table = pd.crosstab(g, h).to_numpy()
    v = corr["cramers_v"]["matrix"][0][1]
    assert v == pytest.approx(association(table, method="cramer"))
    eta = corr["correlation_ratio"]
    assert eta["rows"] == ["g", "h"] and eta["columns"] == ["a", "b", "c"]
    means = pd.Series(c).groupby(g).agg(["mean", "count"])
    ssb = (means["count"] * (means["mean"] - c.mean()) ** 2).sum()
    expected = np.sqrt(ssb / ((c - c.mean()) ** 2).sum())
    assert eta["matrix"][0][2] == pytest.approx(expected)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=3, max_value=60),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.floats(min_value=0.0, max_value=0.4),
)
def test_pearson_kernel_pairwise_complete(n: int, seed: int, missing: float) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, n))
    X[1] += X[0]
    X[rng.uniform(size=X.shape) < missing] = np.nan
    X[2, : n // 2] = 1.5  # constant over some common rows
    got = pearson(X)
    expected = pd.DataFrame(X.T).corr(min_periods=3).to_numpy().copy()
    np.fill_diagonal(expected, 1.0)  # the profile's convention, even for short columns
    np.testing.assert_allclose(got, expected, atol=1e-9, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80), st.booleans())
def test_sorted_mad_kernel(values: list[float], ties: bool) -> None:
    v = np.sort(np.round(values, 0 if ties else 6))
    med = float(np.median(v))
    assert k.sorted_mad(v, med) == np.median(np.abs(v - med))


def test_pearson_without_missing_values() -> None:
    rng = np.random.default_rng(9)
    X = rng.normal(size=(4, 50))
    X[3] = 2.0  # constant: no correlation defined
    got = pearson(X)
    np.testing.assert_allclose(got[:3, :3], np.corrcoef(X[:3]), atol=1e-12)
    assert np.isnan(got[3, :3]).all() and np.isnan(got[:3, 3]).all() and got[3, 3] == 1.0


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=2, max_value=6),
    st.integers(min_value=2, max_value=6),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_association_kernels_against_scipy_and_sklearn(ka: int, kb: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    a = rng.integers(0, ka, n).astype(np.int32)
    b = np.where(rng.uniform(size=n) < 0.5, a % kb, rng.integers(0, kb, n)).astype(np.int32)
    mi, ha, hb = k.mutual_info(a, b, ka, kb)
    assert mi == pytest.approx(mutual_info_score(a, b), abs=1e-12)
    assert ha == pytest.approx(stats.entropy(np.bincount(a)), abs=1e-12)
    assert hb == pytest.approx(stats.entropy(np.bincount(b)), abs=1e-12)
    table = k.contingency(a, b, ka, kb)
    observed = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(observed.shape) >= 2:
        assert k.cramers_v_table(table) == pytest.approx(association(observed, method="cramer"))
    # missing codes are skipped
    a[:10] = -1
    assert k.contingency(a, b, ka, kb).sum() == n - 10


def test_sampling_keeps_column_statistics_exact() -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    frame = pl.DataFrame({"u": rng.normal(size=n), "v": rng.normal(size=n)})
    frame = frame.with_columns(
        t=pl.when(pl.col("u") > 0).then(pl.lit("hi")).otherwise(pl.lit("lo"))
    )
    p = profile(frame, target="t", sample_rows=1_000, seed=7)
    assert p.sample["sampled"] and p.sample["n_rows"] == 1_000 and p.sample["seed"] == 7
    assert p.target["n_labelled"] == 1_000
    assert p.target["features"][0]["column"] == "u"
    assert p.column("u").stats["mean"] == pytest.approx(frame["u"].mean())
    assert sum(p.column("u").histogram["counts"]) == n
    assert p.warnings[0]["kind"] == "sampled"
    assert repr(p) == (
        f"Profile(5,000 rows x 3 columns, sample of 1,000, target 't', {len(p.warnings)} warnings)"
    )
    assert profile(frame, sample_rows=None).sample["sampled"] is False


def test_anomalous_row_is_found() -> None:
    rng = np.random.default_rng(4)
    frame = pl.DataFrame({f"x{i}": rng.normal(size=400) for i in range(5)})
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 123).then(40.0).otherwise(pl.col("x2")).alias("x2")
    )
    a = profile(frame).anomalies
    assert a["rows"][0]["row"] == 123
    assert a["rows"][0]["columns"][0]["column"] == "x2"
    assert a["n_anomalous"] >= 1


def test_missingness_patterns_match_pandas() -> None:
    rng = np.random.default_rng(5)
    n = 400
    a = np.where(rng.uniform(size=n) < 0.3, np.nan, 1.0)
    b = np.where(np.isnan(a) & (rng.uniform(size=n) < 0.8), np.nan, 2.0)
    frame = pl.DataFrame({"a": a, "b": b, "c": rng.normal(size=n)})
    m = profile(frame).missingness
    assert set(m["columns"]) == {"a", "b"}
    expected = pd.DataFrame({"a": np.isnan(a), "b": np.isnan(b)}).value_counts()
    got = {tuple(sorted(p["missing"])): p["count"] for p in m["patterns"]}
    for (ma, mb), count in expected.items():
        key = tuple(name for name, flag in (("a", ma), ("b", mb)) if flag)
        assert got[key] == count
    assert m["correlation"]["matrix"][0][1] == pytest.approx(
        np.corrcoef(np.isnan(a), np.isnan(b))[0, 1]
    )


def test_binary_target_relations_leakage_and_imbalance() -> None:
    rng = np.random.default_rng(6)
    n = 2_000
    y = np.where(rng.uniform(size=n) < 0.05, "yes", "no")
    frame = pl.DataFrame(
        {
            "leak": np.where(y == "yes", "L1", "L0"),
            "noise": rng.normal(size=n),
            "colour": rng.choice(["r", "g"], n),
            "y": y,
        }
    )
    p = profile(frame, target="y")
    t = p.target
    assert t["task"] == "binary" and t["positive"] == "yes"
    assert t["features"][0]["column"] == "leak"
    assert t["features"][0]["uncertainty"] == pytest.approx(1.0)
    kinds = {(w["kind"], w["column"]) for w in p.warnings}
    assert ("leakage", "leak") in kinds and ("imbalance", "y") in kinds
    colour = next(f for f in t["features"] if f["column"] == "colour")
    expected = frame.group_by("colour").agg((pl.col("y") == "yes").mean(), pl.len())
    for level in colour["by_level"]:
        row = expected.filter(pl.col("colour") == level["level"])
        assert level["value"] == pytest.approx(row["y"][0])
        assert level["count"] == row["len"][0]
    x_codes = np.searchsorted(
        np.quantile(frame["noise"], np.linspace(0, 1, 11))[1:-1], frame["noise"], side="right"
    )
    noise = next(f for f in t["features"] if f["column"] == "noise")
    assert noise["mutual_info"] == pytest.approx(mutual_info_score(x_codes, y))


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_other_target_tasks(task: str) -> None:
    frame = make_frame(task=task)
    t = profile(frame, target="y").target
    assert t["task"] == task
    assert {f["column"] for f in t["features"]} == {"x1", "x2", "color"}
    x1 = next(f for f in t["features"] if f["column"] == "x1")
    assert x1["by_level"][-1]["level"] == "(missing)"
    if task == "multiclass":
        assert not any(w["kind"] == "imbalance" for w in profile(frame, target="y").warnings)
    if task == "regression":
        color = next(f for f in t["features"] if f["column"] == "color")
        means = frame.group_by("color").agg(pl.col("y").mean())
        for level in color["by_level"]:
            assert level["value"] == pytest.approx(
                means.filter(pl.col("color") == level["level"])["y"][0]
            )


def test_constant_target_is_reported_not_raised() -> None:
    frame = pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "a", "a"]})
    p = profile(frame, target="y")
    assert p.target["task"] is None
    assert any(w["kind"] == "target" and "single value" in w["message"] for w in p.warnings)
    dates = pl.DataFrame({"x": [1.0, 2.0, 3.0], "d": [date(2020, 1, i) for i in (1, 2, 3)]})
    p = profile(dates, target="d")
    assert "neither numeric nor a label" in p.target["problem"]
    from mlwf_core.report import profile_html

    assert "neither numeric nor a label" in profile_html(p)
    labels = pl.DataFrame({"x": np.arange(300.0), "y": [f"k{i}" for i in range(300)]})
    p = profile(labels, target="y")
    assert p.target["task"] is None and "300 distinct labels" in p.target["problem"]


def test_inputs_pandas_lazy_and_files(tmp_path, mixed: pl.DataFrame) -> None:
    small = mixed.select("x", "colour", "count")
    expected = profile(small).to_dict()["columns"]
    csv = tmp_path / "t.csv"
    parquet = tmp_path / "t.parquet"
    small.write_csv(csv)
    small.write_parquet(parquet)
    for source in (small.to_pandas(), small.lazy(), str(csv), parquet):
        got = profile(source).to_dict()["columns"]
        assert [c["role"] for c in got] == [c["role"] for c in expected]
        assert got[0]["stats"]["mean"] == pytest.approx(expected[0]["stats"]["mean"])


def test_to_dict_is_plain_json(mixed_profile: Profile) -> None:
    text = json.dumps(mixed_profile.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["n_rows"] == 600 and len(back["columns"]) == 13
    assert back["sample"]["sampled"] is False


def test_notebook_view_is_isolated(mixed_profile: Profile) -> None:
    html = mixed_profile._repr_html_()
    assert html.startswith("<iframe srcdoc=") and " sandbox " in html
    assert "<style>" not in html  # escaped inside srcdoc, so it cannot leak into the page


def test_to_html_writes_atomically(tmp_path, mixed_profile: Profile) -> None:
    path = mixed_profile.to_html(tmp_path / "sub" / "profile.html")
    assert path.exists() and list(path.parent.iterdir()) == [path]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not private like a temp file
    html = path.read_text()
    assert 'id="columns"' in html and 'data-plot="histogram"' in html


def test_errors() -> None:
    with pytest.raises(DataError, match="empty"):
        profile(pl.DataFrame({"a": []}))
    with pytest.raises(DataError, match="'nope' is not in the data"):
        profile(pl.DataFrame({"a": [1, 2]}), target="nope")
    with pytest.raises(ParameterError, match="'sample_rows' parameter of profile"):
        profile(pl.DataFrame({"a": [1, 2]}), sample_rows=0)


def test_import_is_light() -> None:
    code = (
        "import sys, mlwf_core, mlwf_core.eda, mlwf_core.report; "
        "print(sorted(m for m in ('numba', 'lightgbm', 'xgboost', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.integration
@pytest.mark.parametrize("name", ["wa_churn.csv", "hotel_rates.csv", "ames.csv"])
def test_shared_datasets(name: str) -> None:
    task = shared_task(name)
    p = profile(task["path"], target=task["target"])
    assert p.target["task"] == task["task"]
    json.dumps(p.to_dict(), allow_nan=False)
    assert p.roles[task["drop"][0]] == "id"


@st.composite
def small_frames(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(min_value=1, max_value=25))
    floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32))
    cols = {
        "f": pl.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype=pl.Float64),
        "i": pl.Series(
            draw(st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=n, max_size=n)),
            dtype=pl.Int64,
        ),
        "s": pl.Series(
            draw(st.lists(st.one_of(st.none(), st.sampled_from("abc")), min_size=n, max_size=n)),
            dtype=pl.String,
        ),
        "b": pl.Series(
            draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)),
            dtype=pl.Boolean,
        ),
        "empty": pl.Series([None] * n, dtype=pl.Float64),
    }
    return pl.DataFrame(cols)


@settings(max_examples=40, deadline=None)
@given(small_frames(), st.sampled_from([None, "f", "i", "s", "b", "empty"]))
def test_any_small_frame_profiles_and_renders(frame: pl.DataFrame, target: str | None) -> None:
    from mlwf_core.report import profile_html

    p = profile(frame, target=target, sample_rows=10)
    json.dumps(p.to_dict(), allow_nan=False)
    assert p.column("empty").role == "constant"
    for c in p.columns:
        assert c.n_missing + (c.n_distinct > 0) <= frame.height
    assert "</html>" in profile_html(p)


def test_nested_columns_are_other_and_count_in_duplicates() -> None:
    frame = pl.DataFrame(
        {
            "l": [[1, 2], [3], [1, 2], None],
            "a": [1.0, 2.0, 1.0, 1.0],
            "s": [{"x": 1}, {"x": 2}, {"x": 1}, {"x": 3}],
        }
    )
    p = profile(frame)
    assert p.roles == {"l": "other", "a": "numeric", "s": "other"}
    assert p.duplicates["n_duplicate_rows"] == 1  # rows 0 and 2; row 3 differs only in l and s


def test_imbalance_is_relative_to_the_largest_class() -> None:
    balanced = pl.DataFrame({"x": np.arange(400.0), "y": np.repeat(np.arange(20), 20)})
    assert not any(w["kind"] == "imbalance" for w in profile(balanced, target="y").warnings)
    skewed = pl.DataFrame({"x": np.arange(400.0), "y": ["a"] * 370 + ["b"] * 30})
    (w,) = [w for w in profile(skewed, target="y").warnings if w["kind"] == "imbalance"]
    assert "class 'b' is 7.5%" in w["message"]


def test_profile_is_deterministic() -> None:
    frame = mixed_frame(n=3_000, seed=4)
    runs = []
    for _ in range(2):
        d = profile(frame, target="colour", sample_rows=1_000).to_dict()
        d.pop("elapsed_seconds")
        d.pop("created")
        runs.append(json.dumps(d, sort_keys=True))
    assert runs[0] == runs[1]
