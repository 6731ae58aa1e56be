"""examples/embed.cpp: a C++ program loads a .mlwf saved by Python and scores like Python.

Builds the C++ targets with CMake (``-DMLWF_BUILD_CPP=ON``); skipped when CMake or a C++
compiler is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mlwf_core.deploy._artifact import write_artifact
from mlwf_core.deploy._forest import forest_arrays
from mlwf_core.deploy._scorer import Scorer

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    if shutil.which("cmake") is None or not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("CMake or a C++ compiler is not available")
    out = tmp_path_factory.mktemp("cpp")
    subprocess.run(
        [
            "cmake",
            "-S",
            str(ROOT),
            "-B",
            str(out),
            "-DMLWF_BUILD_CPP=ON",
            "-DCMAKE_BUILD_TYPE=Release",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["cmake", "--build", str(out), "-j2", "--target", "embed", "test_scorer_cpp"],
        check=True,
        capture_output=True,
    )
    return out


PLAN = {
    "version": 1,
    "columns": [
        {"name": "tenure", "kind": "numeric"},
        {
            "name": "contract",
            "kind": "categorical",
            "levels": ["Month-to-month", "One year", "Two year"],
        },
        {"name": "paperless", "kind": "boolean"},
        {"name": "x", "kind": "numeric"},
    ],
    "features": ["tenure", "contract", "paperless", "x"],
}


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [rng.integers(0, 72, n), rng.integers(0, 3, n), rng.integers(0, 2, n), rng.normal(size=n)]
    ).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    score = np.nan_to_num(X[:, 3]) + (X[:, 1] == 0) - np.nan_to_num(X[:, 0]) / 72
    return X, score


def _save(path, task, classes, members):
    manifest = {"task": task, "classes": classes, "target": "y", "plan": PLAN, "ensemble": []}
    arrays = forest_arrays(members, task, len(classes))
    return write_artifact(path, manifest, {}, arrays)


def _models(tmp_path):
    X, score = _data()
    lb = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5},
        lgb.Dataset(X, score > 0, categorical_feature=[1]),
        20,
    )
    xd = xgb.DMatrix(
        X,
        np.digitize(score, [-0.5, 0.5]),
        feature_types=["q", "c", "q", "q"],
        enable_categorical=True,
    )
    xb = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 4, "nthread": 1}, xd, 10
    )
    lr = lgb.train(
        {"objective": "regression", "verbose": -1, "linear_tree": True}, lgb.Dataset(X, score), 10
    )
    return X, {
        "binary": _save(
            tmp_path / "b.mlwf",
            "binary",
            ["no", "yes"],
            [{"learner": "lightgbm", "booster": lb, "weight": 1.0}],
        ),
        "multiclass": _save(
            tmp_path / "m.mlwf",
            "multiclass",
            ["a", "b", "c"],
            [{"learner": "xgboost", "booster": xb, "weight": 1.0}],
        ),
        "regression": _save(
            tmp_path / "r.mlwf",
            "regression",
            [],
            [
                {"learner": "lightgbm", "booster": lr, "weight": 0.6},
                {"learner": "lightgbm", "booster": lr, "weight": 0.4},
            ],
        ),
    }


def _run(build, *args):
    run = subprocess.run([str(build / "embed"), *map(str, args)], capture_output=True, text=True)
    return run


def test_cpp_unit_tests(build):
    run = subprocess.run([str(build / "test_scorer_cpp")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_embed_matches_python(build, tmp_path):
    X, paths = _models(tmp_path)
    rows = tmp_path / "rows.f32"
    X.tofile(rows)
    for task, path in paths.items():
        scorer = Scorer.load(path)
        run = _run(build, path, rows, len(X))
        assert run.returncode == 0, run.stderr
        got = np.loadtxt(run.stdout.splitlines(), ndmin=2)
        expect = scorer._forest.predict(X).reshape(len(X), -1)
        np.testing.assert_allclose(got, expect, rtol=0, atol=1e-15, err_msg=task)
        # records: strings for categoricals, missing fields, booleans
        record = {"tenure": 12.0, "contract": "Two year", "paperless": True}
        run = _run(
            build,
            path,
            "--record",
            "tenure:n=12",
            "contract:s=Two year",
            "paperless:b=1",
            "unused:s=ignored",
        )
        assert run.returncode == 0, run.stderr
        got = np.array(run.stdout.split(), dtype=float)
        p = scorer._record_output(record)
        np.testing.assert_allclose(got, np.atleast_1d(p), rtol=0, atol=1e-15)
        run = _run(build, path, "--record", "contract:s=unseen level", "x:m")
        assert run.returncode == 0, run.stderr
        p = scorer._record_output({"contract": "unseen level"})
        np.testing.assert_allclose(
            np.array(run.stdout.split(), dtype=float), np.atleast_1d(p), rtol=0, atol=1e-15
        )


def test_embed_errors(build, tmp_path):
    X, paths = _models(tmp_path)
    data = paths["binary"].read_bytes()
    for cut in (0, 30, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}.mlwf"
        bad.write_bytes(data[:cut])
        run = _run(build, bad, "--record")
        assert run.returncode == 1 and "cannot load the model" in run.stderr
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF
    bad = tmp_path / "flipped.mlwf"
    bad.write_bytes(bytes(flipped))
    run = _run(build, bad, "--record")
    assert run.returncode == 1
    run = _run(build, paths["binary"], "--record", "tenure:s=abc")
    assert run.returncode == 1 and "tenure" in run.stderr
    run = _run(build, tmp_path / "absent.mlwf", "--record")
    assert run.returncode == 1 and "cannot open" in run.stderr


def test_embed_integer_fields_read_as_integers(build, tmp_path):
    # A categorical column of integer codes: its levels are the codes as text ("2"),
    # so an integer field matches a level where the float 2.0 ("2.0") is unseen.
    rng = np.random.default_rng(2)
    n = 400
    code = rng.integers(1, 4, n)
    x = rng.normal(size=n)
    plan = {
        "version": 1,
        "columns": [
            {"name": "x", "kind": "numeric"},
            {"name": "code", "kind": "categorical", "levels": ["1", "2", "3"]},
        ],
        "features": ["x", "code"],
    }
    X = np.column_stack([x, code - 1]).astype(np.float32)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5},
        lgb.Dataset(X, (code == 2) ^ (x > 1), categorical_feature=[1]),
        10,
    )
    members = [{"learner": "lightgbm", "booster": booster, "weight": 1.0}]
    path = tmp_path / "codes.mlwf"
    manifest = {"task": "binary", "classes": [0, 1], "target": "y", "plan": plan, "ensemble": []}
    write_artifact(path, manifest, {}, forest_arrays(members, "binary", 2))
    scorer = Scorer.load(path)
    as_int = scorer._record_output({"x": 0.5, "code": 2})
    as_float = scorer._record_output({"x": 0.5, "code": 2.0})
    assert as_int != as_float  # level "2" against an unseen "2.0"
    for field, expect in (("code:i=2", as_int), ("code:n=2", as_float)):
        run = _run(build, path, "--record", "x:n=0.5", field)
        assert run.returncode == 0, run.stderr
        np.testing.assert_allclose(float(run.stdout.split()[0]), expect, rtol=0, atol=1e-15)
