"""The C++ plan replays every op kind of the Python Plan: same matrix, same predictions.

Frames (Polars and pandas) and raw records go through ``cpp/include/mlwf/plan.hpp``;
the oracle is :meth:`mlwf_core.plan.Plan.transform` (Polars) and, for fitted
models, :meth:`mlwf_core.AutoModel.predict_proba`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, shared_task

from mlwf_core.deploy._forest import forest_arrays
from mlwf_core.deploy._scorer import Forest, Scorer
from mlwf_core.plan import ALL_OPS, Plan, replayable_ops
from mlwf_core.preprocess import Preprocessor
from mlwf_core.schema import infer_schema

pl = pytest.importorskip("polars")
lgb = pytest.importorskip("lightgbm")

ROOT = Path(__file__).resolve().parents[1]
WORDS = np.array(["red", "Fast", "car", "sky", "big", "dög", "€uro", "x1", "a-b", "NA"])
NA_LIKE = [None, "", "  ", "NA", "n/a", "?", "-", "null", " None "]


def _scorer(plan: Plan, X: np.ndarray, y: np.ndarray) -> Scorer:
    """A binary LightGBM scorer on ``plan``'s matrix, with the plan in C++."""
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5, "seed": 0},
        lgb.Dataset(X, y, categorical_feature=plan.categorical_features or "auto"),
        8,
    )
    arrays = forest_arrays(
        [{"learner": "lightgbm", "booster": booster, "weight": 1.0}], "binary", 2
    )
    return Scorer(Forest.from_arrays(arrays, "binary", 2), plan.to_dict(), [0, 1])


def _check_parity(plan: Plan, scorer: Scorer, frame: pl.DataFrame, n_records: int = 60) -> None:
    """C++ matrix == Polars matrix for the frame (Polars, pandas) and for its records."""
    X = plan.transform(frame)
    got = scorer.transform(frame)
    differ = ~((got == X) | (np.isnan(got) & np.isnan(X))).all(axis=0)
    assert not differ.any(), [plan.ops[j - len(plan.columns)] if j >= len(plan.columns)
                              else plan.columns[j] for j in np.where(differ)[0]]  # fmt: skip
    np.testing.assert_array_equal(scorer.transform(frame.to_pandas()), X)
    for i, record in enumerate(frame.head(n_records).to_dicts()):
        np.testing.assert_array_equal(scorer._records.transform_record(record), X[i], str(record))
    booster_p = scorer._forest.predict(X)
    np.testing.assert_allclose(scorer.predict_proba(frame)[:, 1], booster_p, rtol=0, atol=1e-12)


def test_replayable_ops_reports_every_kind():
    assert replayable_ops() == ALL_OPS


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ({"op": "sqrt", "inputs": ["s"]}, "op kind 'sqrt'"),
        ({"op": "token_hash", "inputs": ["s"], "bucket": 3, "n_buckets": 2}, "bucket"),
        (
            {"op": "frequency", "inputs": ["s"], "levels": ["a"], "values": []},
            "one value per level",
        ),
        ({"op": "date_part", "inputs": ["s"], "format": "ymd", "part": "year"}, "date format"),
        ({"op": "parse_number", "inputs": ["s"], "format": "roman"}, "format 'roman'"),
        ({"op": "impute", "inputs": ["s"], "base": "median", "value": 0.0}, "base 'median'"),
        ({"op": "ratio", "inputs": ["a", "nowhere"]}, "'nowhere'"),
        ({"op": "pca", "inputs": ["a"], "mean": [0.0], "scale": [], "weights": [1.0]}, "scale"),
    ],
)
def test_compiled_plan_refuses_bad_ops(op, message):
    from mlwf_core import _core

    plan = {
        "version": 1,
        "columns": [{"name": "a", "kind": "numeric"}],
        "ops": [{"output": "o", **op}],
        "features": ["a", "o"],
    }
    with pytest.raises(ValueError, match=message):
        _core.Plan(plan)


def _hostile(n: int = 400, seed: int = 0) -> pl.DataFrame:
    """Raw columns with the values the op kinds must agree on, NA tokens included."""
    rng = np.random.default_rng(seed)

    def some_missing(values: list, share: float = 0.15) -> list:
        return [NA_LIKE[rng.integers(len(NA_LIKE))] if rng.random() < share else v for v in values]

    base = dt.datetime(2018, 1, 1)
    stamps = [base + dt.timedelta(hours=int(h)) for h in rng.integers(0, 24 * 900, n)]
    iso = [
        s.strftime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S.%f"][k])
        for s, k in zip(stamps, rng.integers(0, 4, n), strict=True)
    ]
    iso = [v if rng.random() > 0.05 else "2019-02-30" for v in iso]  # invalid dates
    prices = [
        [f"${v:,.2f}", f"{v:.1f} %", f" {v:.3e} ", "abc", f"£{v:.0f}"][k]
        for v, k in zip(rng.gamma(3, 800, n), rng.integers(0, 5, n), strict=True)
    ]
    euro = [f"{v:,.2f}".replace(",", " ").replace(".", ",") for v in rng.gamma(3, 800, n)]
    text = [" ".join(rng.choice(WORDS, rng.integers(0, 9))) for _ in range(n)]
    city = [f"c{k}" for k in rng.zipf(1.5, n) % 300]
    x = rng.normal(0, 1, n)
    x[rng.random(n) < 0.1] = np.nan
    return pl.DataFrame(
        {
            "x": x,
            "z": rng.gamma(2, 2, n).round(1),
            "k": pl.Series(rng.integers(0, 40, n), dtype=pl.Int64),
            "grade": pl.Series(rng.choice(["A", "B", "C", "D", "E"], n)).cast(pl.Categorical),
            "city": some_missing(city),
            "flag": some_missing(list(rng.choice(["yes", "No", "TRUE", "f", "maybe"], n))),
            "iso": some_missing(iso),
            "dmy": some_missing([s.strftime("%d/%m/%Y") for s in stamps]),
            "mdy": some_missing([s.strftime("%m.%d.%Y %H:%M") for s in stamps]),
            "when": pl.Series(stamps, dtype=pl.Datetime("us", "Europe/Paris")),
            "day": pl.Series([s.date() for s in stamps], dtype=pl.Date),
            "price": some_missing(prices),
            "euro": some_missing(euro),
            "note": some_missing(text, 0.1),
            "on": pl.Series(
                [None if rng.random() < 0.1 else bool(b) for b in rng.integers(0, 2, n)]
            ),
        }
    )


def _lookup(op: str, name: str, output: str, levels: list[str]) -> dict:
    values = [float(i) / 7 + 0.25 for i in range(len(levels))]
    return {"op": op, "inputs": [name], "output": output, "levels": levels, "values": values,
            "default": -1.5, "missing": 2.75}  # fmt: skip


def _every_op_plan() -> dict:
    cities = [f"c{k}" for k in range(1, 40)]
    ops = [
        {"op": "parse_number", "inputs": ["price"], "output": "price_n", "format": "number"},
        {"op": "parse_number", "inputs": ["euro"], "output": "euro_n", "format": "number_comma"},
        {"op": "parse_number", "inputs": ["z"], "output": "z_n", "format": "number"},
        {"op": "category_pooled", "inputs": ["city"], "output": "city_p", "levels": cities[:12]},
        {"op": "category_pooled", "inputs": ["k"], "output": "k_p", "levels": ["3", "7", "11"]},
        _lookup("frequency", "city", "city_f", cities),
        _lookup("target_mean", "city", "city_te", cities[::2]),
        _lookup("group_mean", "grade", "grade_gm", ["A", "C", "E"]),
        _lookup("group_count", "k", "k_gc", [str(v) for v in range(0, 40, 3)]),
        _lookup("frequency", "flag", "flag_f", ["yes", "No"]),
        *(
            {
                "op": "date_part",
                "inputs": [col],
                "output": f"{col}_{part}",
                "format": fmt,
                "part": part,
                "origin": 17000.5 if part == "elapsed_days" else 0.0,
            }  # fmt: skip
            for col, fmt in (
                ("iso", "iso"),
                ("dmy", "dmy"),
                ("mdy", "mdy"),
                ("when", "iso"),
                ("day", "iso"),
            )  # fmt: skip
            for part in ("year", "month", "day", "weekday", "hour", "elapsed_days")
        ),
        {"op": "text_length", "inputs": ["note"], "output": "note_len"},
        {"op": "word_count", "inputs": ["note"], "output": "note_words"},
        *(
            {
                "op": "token_hash",
                "inputs": ["note"],
                "output": f"note_t{b}",
                "bucket": b,
                "n_buckets": 5,
            }  # fmt: skip
            for b in range(5)
        ),
        {"op": "text_length", "inputs": ["city"], "output": "city_len"},
        {"op": "word_count", "inputs": ["k"], "output": "k_words"},
        *(
            {"op": "missing_indicator", "inputs": [col], "output": f"{col}_na"}
            for col in ("x", "city", "note", "on", "k", "price")
        ),
        {"op": "impute", "inputs": ["x"], "output": "x_imp", "base": "numeric", "value": 0.5},
        {
            "op": "impute",
            "inputs": ["price"],
            "output": "price_imp",
            "base": "parse_number",
            "format": "number",
            "value": -3.0,
        },  # fmt: skip
        {"op": "impute", "inputs": ["flag"], "output": "flag_imp", "base": "boolean", "value": 1.0},
        {"op": "impute", "inputs": ["on"], "output": "on_imp", "base": "boolean", "value": 0.0},
        {
            "op": "impute",
            "inputs": ["city"],
            "output": "city_imp",
            "base": "categorical",
            "levels": cities[:5],
            "value": 5.0,
        },  # fmt: skip
        {"op": "impute", "inputs": ["z"], "output": "z_imp", "base": "numeric", "value": 1.0},
        {"op": "ratio", "inputs": ["x", "z"], "output": "x_div_z"},
        {"op": "ratio", "inputs": ["price_n", "x_na"], "output": "p_div_na"},
        {"op": "difference", "inputs": ["price_n", "city_te"], "output": "p_minus_te"},
        {"op": "product", "inputs": ["x", "iso_elapsed_days"], "output": "x_times_days"},
        {
            "op": "pca",
            "inputs": ["x", "z", "price_n"],
            "output": "pc1",
            "mean": [0.1, 4.0, 2400.0],
            "scale": [1.1, 2.5, 1500.0],
            "weights": [0.6, -0.5, 0.62],
        },  # fmt: skip
    ]
    columns = [
        {"name": "x", "kind": "numeric"},
        {"name": "z", "kind": "numeric"},
        {"name": "grade", "kind": "categorical", "levels": ["A", "B", "C"]},
        {"name": "on", "kind": "boolean"},
    ]
    return {"version": 1, "columns": columns, "ops": ops}


def test_every_op_kind_matches_polars():
    plan = Plan.from_dict(_every_op_plan())
    assert {op["op"] for op in plan.ops} == ALL_OPS
    train = _hostile(500, seed=0)
    X = plan.transform(train)
    y = (np.nan_to_num(X[:, plan.features.index("price_n")]) > 2000).astype(int)
    scorer = _scorer(plan, X, y)
    _check_parity(plan, scorer, _hostile(300, seed=1), n_records=120)


def test_record_values_of_every_python_type():
    plan = Plan.from_dict(_every_op_plan())
    frame = _hostile(200, seed=2)
    X = plan.transform(frame)
    scorer = _scorer(plan, X, (np.arange(len(X)) % 2))
    # absent keys and None are missing, like a null in the frame
    row = {name: None for name in frame.columns}
    one = pl.DataFrame([row], schema=frame.schema)
    np.testing.assert_array_equal(scorer._records.transform_record({}), plan.transform(one)[0])
    np.testing.assert_array_equal(scorer._records.transform_record(row), plan.transform(one)[0])
    # integers (Python and NumPy) read as text print without ".0", as Polars casts them
    rec = frame.row(0, named=True) | {"k": np.int32(7)}
    np.testing.assert_array_equal(
        scorer._records.transform_record(rec),
        plan.transform(pl.DataFrame([rec | {"k": 7}], schema=frame.schema))[0],
    )


def test_imputed_pooled_codes():
    # Documented semantics, in both plans: the pooled code (other levels ->
    # len(levels)), missing -> the imputed value.
    op = {"op": "impute", "inputs": ["s"], "output": "s", "base": "category_pooled",
          "levels": ["a", "b"], "value": 0.0}  # fmt: skip
    plan = Plan.from_dict(
        {"version": 1, "columns": [{"name": "x", "kind": "numeric"}], "ops": [op]}
    )
    values = ["a", " b ", "c", None, "NA", "true", 3]
    frame = pl.DataFrame(
        {"x": np.arange(7.0), "s": [str(v) if v is not None else None for v in values]}
    )
    scorer = _scorer(
        plan, np.column_stack([np.arange(7.0)] * 2).astype(np.float32), np.arange(7) % 2
    )
    expect = np.array([0, 1, 2, 0, 0, 2, 2], dtype=np.float32)
    np.testing.assert_array_equal(scorer.transform(frame)[:, 1], expect)
    got = [scorer._records.transform_record({"s": v})[1] for v in values]
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(plan.transform(frame)[:, 1], expect)


def _synthetic(n: int, seed: int) -> pl.DataFrame:
    """A frame whose fitted plan uses many op kinds: text numbers, dates, text, high cardinality."""
    rng = np.random.default_rng(seed)
    a = rng.normal(50, 10, n)
    b = rng.gamma(2, 3, n)
    c = rng.normal(0, 1, n)
    city = rng.choice([f"c{i}" for i in range(150)], n)
    shop = rng.choice(["s1", "s2", "s3", "s4", "s5", "s6", "rare1", "rare2"], n,
                      p=[0.2, 0.2, 0.2, 0.15, 0.12, 0.11, 0.01, 0.01])  # fmt: skip
    days = np.datetime64("2019-01-01") + rng.integers(0, 1500, n).astype("timedelta64[D]")
    text = [" ".join(rng.choice(WORDS[:8], rng.integers(3, 12))) for _ in range(n)]
    price = rng.gamma(3, 400, n)
    logit = a / (b + 1) - 6 + (np.char.str_len(city.astype(str)) == 2) + 0.5 * c + price / 2000
    y = (logit + rng.normal(0, 0.5, n) > 0).astype(int)
    a[rng.random(n) < 0.25 * (y + 0.2)] = np.nan
    return pl.DataFrame(
        {
            "a": a,
            "b": b,
            "c": c,
            "city": city,
            "shop": shop,
            "grade": rng.choice(["A", "B", "C", "D"], n),
            "day": [str(v) for v in days],
            "note": text,
            "price": [f"${v:,.2f}" for v in price],
            "y": y,
        }
    )


@pytest.mark.parametrize(
    "options",
    [
        {"features": True, "rare_min_count": 5, "max_native_levels": 20},
        {"features": {"selection": False}, "impute": "median", "rare_min_count": 1},
        {
            "features": {"selection": False, "pca": False},
            "impute": "constant",
            "fill_value": -1.0,
            "rare_min_count": 1,
        },
    ],
)
def test_fitted_plans_match_polars(options):
    train = _synthetic(700, seed=0)
    schema = infer_schema(train, "y")
    y = train["y"].to_numpy()
    pre = Preprocessor(op_kinds="all", seed=0, **options).fit(train.drop("y"), schema, y)
    plan = pre.plan_
    kinds = {op["op"] for op in plan.ops}
    assert {"date_part", "text_length", "token_hash", "target_mean"} <= kinds
    assert kinds & {"parse_number", "impute"}
    X = plan.transform(train.drop("y"))
    scorer = _scorer(plan, X, y)
    _check_parity(plan, scorer, _synthetic(250, seed=1).drop("y"))


def test_fitted_plans_cover_every_kind():
    train = _synthetic(700, seed=0)
    schema = infer_schema(train, "y")
    y = train["y"].to_numpy()
    kinds: set[str] = set()
    for options in (
        {"features": {"selection": False}, "rare_min_count": 20, "impute": "median"},
        {"features": {"selection": False, "max_new": 40}, "max_native_levels": 20},
    ):
        plan = Preprocessor(op_kinds="all", seed=0, **options).fit(train.drop("y"), schema, y).plan_
        kinds |= {op["op"] for op in plan.ops}
    assert len(kinds) >= 12, sorted(ALL_OPS - kinds)


def test_fit_auto_model_carries_ops_and_scores_alike(tmp_path):
    import mlwf_core as mw

    train = _synthetic(600, seed=3)
    model = mw.fit_auto(
        train, "y", n_trials=2, time_budget=60, verbose=0, n_jobs=1, learners=["lightgbm"]
    )
    path = model.save(tmp_path / "m.mlwf")
    scorer = Scorer.load(path)
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("manifest.json"))
    kinds = {op["op"] for op in manifest["plan"]["ops"]}
    assert {"parse_number", "date_part", "text_length"} <= kinds, kinds
    test = _synthetic(200, seed=4).drop("y")
    expect = model.predict_proba(test)
    np.testing.assert_allclose(scorer.predict_proba(test), expect, rtol=0, atol=1e-9)
    for i, record in enumerate(test.head(40).to_dicts()):
        np.testing.assert_allclose(scorer.predict_proba(record), expect[i], rtol=0, atol=1e-9)
        assert scorer.predict_record(record) == model.classes_[int(np.argmax(expect[i]))]


@pytest.mark.integration
def test_c_api_replays_ops(tmp_path):
    if shutil.which("cmake") is None or not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("CMake or a C++ compiler is not available")
    build = tmp_path / "cpp"
    subprocess.run(
        [
            "cmake",
            "-S",
            str(ROOT),
            "-B",
            str(build),
            "-DMLWF_BUILD_CPP=ON",
            "-DCMAKE_BUILD_TYPE=Release",
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["cmake", "--build", str(build), "-j2", "--target", "embed"],
        check=True,
        capture_output=True,
    )
    from mlwf_core.deploy._artifact import write_artifact

    plan = Plan.from_dict(_every_op_plan())
    frame = _hostile(300, seed=5)
    X = plan.transform(frame)
    y = (np.nan_to_num(X[:, plan.features.index("price_n")]) > 2000).astype(int)
    scorer = _scorer(plan, X, y)
    arrays = scorer._forest._arrays
    manifest = {"task": "binary", "classes": [0, 1], "target": "y", "plan": plan.to_dict(),
                "ensemble": []}  # fmt: skip
    path = write_artifact(tmp_path / "ops.mlwf", manifest, {}, arrays)
    for record in frame.head(25).to_dicts():
        fields = []
        for name, value in record.items():
            if value is None:
                fields.append(f"{name}:m")
            elif isinstance(value, bool):
                fields.append(f"{name}:b={int(value)}")
            elif isinstance(value, (int, float)) and name != "k":
                fields.append(f"{name}:n={value!r}")
            else:
                fields.append(f"{name}:s={value}")
        run = subprocess.run(
            [str(build / "embed"), str(path), "--record", *fields], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        np.testing.assert_allclose(
            float(run.stdout.split()[0]), scorer._record_output(record), rtol=0, atol=1e-15
        )


DATASETS = SHARED
DEV = sorted(p.stem for p in DATASETS.glob("*.csv")) if DATASETS.is_dir() else []


@pytest.mark.integration
@pytest.mark.parametrize("name", DEV)
def test_dev_dataset_plans_with_ops(name):
    from mlwf_core.io import read

    spec = shared_task(f"{name}.csv")
    frame = read(spec["path"])
    frame = frame.drop([c for c in spec.get("drop", []) if c in frame.columns])
    frame = frame.filter(pl.col(spec["target"]).is_not_null()).head(1200)
    train, test = frame.head(900), frame.tail(300)
    schema = infer_schema(train, spec["target"], task=spec["task"])
    target = train[spec["target"]]
    if spec["task"] == "regression":
        y = target.cast(pl.Float64).to_numpy()
    else:
        classes = sorted(target.unique().to_list())
        y = target.replace_strict(classes, list(range(len(classes))), return_dtype=pl.Int64)
        y = y.to_numpy()
    options = {"features": {"sample_rows": 900, "n_null": 1}, "rare_min_count": 5}
    plan = Preprocessor(op_kinds="all", seed=0, **options).fit(train, schema, y).plan_
    X = plan.transform(train)
    binary = (y > np.median(y)).astype(int) if len(np.unique(y)) > 2 else y
    scorer = _scorer(plan, X, binary)
    _check_parity(plan, scorer, test.drop(spec["target"]), n_records=40)
