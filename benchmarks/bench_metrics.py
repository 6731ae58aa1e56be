"""Time mlwf_core.metrics against sklearn.metrics in the same run.

Usage: ``python benchmarks/bench_metrics.py [--rows 1000000 10000000] [--repeat 3]``,
or with pytest-benchmark at 1e6 rows: ``pytest benchmarks/bench_metrics.py``.

Prints one line per metric and size: best-of-``repeat`` seconds for mlwf and scikit-learn
(scikit-learn is timed once at 1e7 rows, where it takes seconds) and the speed-up. Inputs are
generated with a fixed seed: binary labels with P(class 1) scores, 3-class probabilities,
regression values. Label metrics get labels on both sides, so both time the same work.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import numpy as np
import pytest
from sklearn import metrics as skm

from mlwf_core import metrics as mm


def best_of(fn: Callable[[], float], repeat: int) -> tuple[float, float]:
    best = float("inf")
    value = float("nan")
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def cases(n: int, seed: int = 0) -> list[tuple[str, Callable[[], float], Callable[[], float]]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.float64)
    # Scores correlated with the label, as a real model's would be.
    p = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.5 * (y - 0.5))))
    labels = (p > 0.5).astype(np.float64)
    y3 = rng.integers(0, 3, n).astype(np.float64)
    raw = rng.random((n, 3)) + np.eye(3)[y3.astype(int)]
    proba3 = raw / raw.sum(axis=1, keepdims=True)
    labels3 = proba3.argmax(axis=1).astype(np.float64)
    yr = rng.normal(size=n)
    pr = yr + rng.normal(scale=0.5, size=n)
    w = rng.random(n)
    return [
        ("roc_auc", lambda: mm.roc_auc(y, p), lambda: skm.roc_auc_score(y, p)),
        (
            "roc_auc (weighted)",
            lambda: mm.roc_auc(y, p, w),
            lambda: skm.roc_auc_score(y, p, sample_weight=w),
        ),
        ("log_loss", lambda: mm.log_loss(y, p), lambda: skm.log_loss(y, p)),
        (
            "log_loss (3 classes)",
            lambda: mm.log_loss(y3, proba3),
            lambda: skm.log_loss(y3, proba3),
        ),
        (
            "accuracy",
            lambda: mm.accuracy(y, labels),
            lambda: skm.accuracy_score(y, labels),
        ),
        (
            "precision",
            lambda: mm.precision(y, labels),
            lambda: skm.precision_score(y, labels, zero_division=0.0),
        ),
        ("recall", lambda: mm.recall(y, labels), lambda: skm.recall_score(y, labels)),
        ("f1", lambda: mm.f1(y, labels), lambda: skm.f1_score(y, labels)),
        (
            "f1_macro (3 classes)",
            lambda: mm.f1(y3, labels3, "macro"),
            lambda: skm.f1_score(y3, labels3, average="macro"),
        ),
        (
            "f1_weighted (3 classes)",
            lambda: mm.f1(y3, labels3, "weighted"),
            lambda: skm.f1_score(y3, labels3, average="weighted"),
        ),
        ("mse", lambda: mm.mse(yr, pr), lambda: skm.mean_squared_error(yr, pr)),
        ("rmse", lambda: mm.rmse(yr, pr), lambda: skm.root_mean_squared_error(yr, pr)),
        ("mae", lambda: mm.mae(yr, pr), lambda: skm.mean_absolute_error(yr, pr)),
        ("r2", lambda: mm.r2(yr, pr), lambda: skm.r2_score(yr, pr)),
        (
            "mse (weighted)",
            lambda: mm.mse(yr, pr, w),
            lambda: skm.mean_squared_error(yr, pr, sample_weight=w),
        ),
    ]


@functools.cache
def _cases_by_name(n: int) -> dict[str, tuple[Callable[[], float], Callable[[], float]]]:
    return {name: (ours, theirs) for name, ours, theirs in cases(n)}


@pytest.mark.parametrize("impl", ["mlwf", "sklearn"])
@pytest.mark.parametrize("name", [name for name, _, _ in cases(16)])
def test_speed(benchmark, name: str, impl: str) -> None:
    ours, theirs = _cases_by_name(1_000_000)[name]
    benchmark.group = name
    value = benchmark(ours if impl == "mlwf" else theirs)
    assert abs(value - (theirs if impl == "mlwf" else ours)()) <= 1e-9 * max(1.0, abs(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="metric names to run")
    args = parser.parse_args(argv)
    header = f"{'metric':<24}{'rows':>12}{'mlwf s':>12}{'sklearn s':>12}{'speed-up':>10}"
    print(header)
    print("-" * len(header))
    for n in args.rows:
        for name, ours, theirs in cases(n):
            if args.only and name.split(" ")[0] not in args.only:
                continue
            t_ours, v_ours = best_of(ours, args.repeat)
            t_sk, v_sk = best_of(theirs, 1 if n >= 5_000_000 else args.repeat)
            if not abs(v_ours - v_sk) <= 1e-9 * max(1.0, abs(v_sk)):
                raise SystemExit(f"{name}: mlwf {v_ours!r} != sklearn {v_sk!r}")
            print(f"{name:<24}{n:>12,}{t_ours:>12.4f}{t_sk:>12.4f}{t_sk / t_ours:>9.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
