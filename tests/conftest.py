"""Shared fixtures: seeded generated data, the bundled small fixtures, and the
real benchmark datasets beside the checkout (tests needing them skip without)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def shared_task(name: str) -> dict:
    """The manifest entry of a shared dataset, or skip the test."""
    manifest = SHARED / "manifest.json"
    if not manifest.exists():
        pytest.skip("needs ../shared/datasets (not present in this checkout)")
    for task in json.loads(manifest.read_text())["tasks"]:
        if task["file"] == name:
            return {**task, "path": SHARED / task["file"]}
    pytest.skip(f"{name} not in the shared manifest")


@pytest.fixture(scope="session", autouse=True)
def _warm_imports():
    # Small time budgets in tests measure the fit, not the first import of the learners
    # (seconds on a loaded 2-core machine); users' budgets do include it.
    import warnings

    import mlwf_core as mw

    # one tiny fit loads the learners, optuna and the cached Numba kernels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mw.fit_auto(make_frame(n=120), "y", n_trials=2, time_budget=60, verbose=0, n_jobs=1)


@pytest.fixture
def credit_small() -> Path:
    """600 rows of credit_data: binary target, string categoricals, missing values."""
    return DATA / "credit_small.csv"


def make_frame(n: int = 400, task: str = "binary", seed: int = 0) -> pl.DataFrame:
    """A small mixed-type table with a learnable target."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(-1, 1, size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    signal = x1 + 0.5 * x2 + np.where(color == "red", 1.0, 0.0) + 0.3 * rng.normal(size=n)
    x1_missing = np.where(rng.uniform(size=n) < 0.1, np.nan, x1)
    frame = pl.DataFrame(
        {"id": np.arange(n), "x1": x1_missing, "x2": x2, "color": color, "const": ["k"] * n}
    )
    if task == "binary":
        y = pl.Series("y", np.where(signal > 0.3, "yes", "no"))
    elif task == "multiclass":
        y = pl.Series("y", np.digitize(signal, [-0.5, 0.5, 1.5]).astype(np.int64))
    else:
        y = pl.Series("y", 3.0 * signal + 1.0)
    return frame.with_columns(y)


@pytest.fixture
def binary_frame() -> pl.DataFrame:
    return make_frame(task="binary")
