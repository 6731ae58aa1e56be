"""Time mlwf's TreeSHAP against the learners' own contributions in the same run.

Usage: ``python benchmarks/bench_explain.py [--rows 2000] [--trees 200] [--repeat 3]``.

Batch: the same LightGBM booster (31 leaves) explained by ``mlwf_core._core.TreeShap``
and by ``Booster.predict(X, pred_contrib=True)``, and the same XGBoost booster (depth 6) by
mlwf and ``Booster.predict(DMatrix, pred_contribs=True)``, on 1 and 2 threads; prints
best-of-``repeat`` seconds, rows per second and the largest absolute difference.

Single record: a model fitted by ``fit_auto`` and saved, then ``Scorer.explain_record(dict)``
(raw record in, contributions out, compiled plan included); then, per learner, mlwf's kernel
on that learner's members against the learner's own contributions of the same members on
one numeric row (one thread each). Median microseconds over many calls.

On a shared, loaded machine the 2-thread figures mostly measure the neighbours.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from mlwf_core import _core
from mlwf_core.deploy._forest import booster_arrays, forest_arrays


def best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def median_us(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3


def make_data(n: int, d: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[rng.uniform(size=X.shape) < 0.05] = np.nan
    z = np.nan_to_num(X)
    logit = z[:, 0] + z[:, 1] * z[:, 2] - 0.5 * z[:, 3] ** 2 + 0.3 * rng.normal(size=n)
    return X, (logit > 0).astype(np.int64)


def ours(arrays: dict, X: np.ndarray, threads: int) -> Callable[[], np.ndarray]:
    shap = _core.TreeShap(arrays)
    out = np.empty((X.shape[0], int(shap.n_groups), X.shape[1] + 1))

    def run() -> np.ndarray:
        shap.explain_into(X, out, threads)
        return out

    return run


def batch(rows: int, trees: int, repeat: int) -> None:
    import lightgbm as lgb
    import xgboost as xgb

    X_train, y = make_data(20_000)
    X = make_data(rows, seed=1)[0]
    lgb_booster = lgb.train(
        {"objective": "binary", "num_leaves": 31, "verbose": -1, "num_threads": 2, "seed": 0},
        lgb.Dataset(X_train, y),
        trees,
    )
    xgb_booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 6, "nthread": 2, "seed": 0},
        xgb.DMatrix(X_train, y, missing=np.nan),
        trees,
    )
    dm = xgb.DMatrix(X, missing=np.nan)
    print(f"batch: {rows} rows x {X.shape[1]} features, {trees} trees, best of {repeat}")
    print(
        f"{'model':<22}{'threads':>8}{'mlwf s':>10}{'peer s':>10}{'speed-up':>10}{'max |diff|':>12}"
    )
    for name, booster in (("lightgbm 31 leaves", lgb_booster), ("xgboost depth 6", xgb_booster)):
        arrays, _, _ = booster_arrays(booster)
        for threads in (1, 2):
            mine = ours(arrays, X, threads)
            if name.startswith("lightgbm"):

                def peer(t: int = threads) -> np.ndarray:
                    return lgb_booster.predict(X, pred_contrib=True, num_threads=t)
            else:
                xgb_booster.set_param({"nthread": threads})

                def peer() -> np.ndarray:
                    return xgb_booster.predict(dm, pred_contribs=True)

            t_mine = best_of(mine, repeat)
            t_peer = best_of(peer, repeat)
            theirs = np.asarray(peer(), dtype=np.float64)
            diff = np.abs(mine()[:, 0, :] - theirs).max()
            print(
                f"{name:<22}{threads:>8}{t_mine:>10.3f}{t_peer:>10.3f}"
                f"{t_peer / t_mine:>9.2f}x{diff:>12.1e}"
            )
        # XGBoost sums its contributions in float32: they miss its own margin by as much
        if name.startswith("xgb"):
            own_gap = np.abs(theirs.sum(axis=1) - booster.predict(dm, output_margin=True)).max()
            raw = np.empty((X.shape[0], 1))
            _core.Forest(arrays).predict_raw_into(X, raw, 1)
            mine_gap = np.abs(mine()[:, 0, :].sum(axis=1) - raw[:, 0]).max()
            print(
                f"{'':<22}additivity |sum - margin|: xgboost's own {own_gap:.1e}, "
                f"mlwf's {mine_gap:.1e}"
            )


def record(n_calls: int) -> None:
    import xgboost as xgb

    import mlwf_core as mw
    from mlwf_core.deploy._scorer import Scorer

    rng = np.random.default_rng(2)
    n = 5_000
    frame = pl.DataFrame(
        {
            **{f"x{j}": rng.normal(size=n) for j in range(10)},
            "color": rng.choice(["red", "green", "blue", "grey"], size=n),
        }
    )
    signal = frame["x0"].to_numpy() + (frame["color"] == "red").to_numpy() + rng.normal(size=n)
    frame = frame.with_columns(pl.Series("y", np.where(signal > 0.5, "yes", "no")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mw.fit_auto(frame, "y", n_trials=4, time_budget=120, verbose=0, n_jobs=2)
    with tempfile.TemporaryDirectory() as tmp:
        scorer = Scorer.load(model.save(Path(tmp) / "m.mlwf"))
    rec = frame.drop("y").row(0, named=True)
    x = model.transform(frame.head(1))
    n_trees = int(_core.Forest(model._forest_arrays()).n_trees)
    t_rec = median_us(lambda: scorer.explain_record(rec), n_calls)
    t_pred = median_us(lambda: scorer.predict_record(rec), n_calls)

    def members(learner: str) -> Callable[[], None]:
        def run() -> None:
            for m in model.members_:
                if m.learner != learner:
                    continue
                if learner == "lightgbm":
                    m.booster.predict(x, pred_contrib=True, num_threads=1)
                else:
                    m.booster.set_param({"nthread": 1})
                    m.booster.predict(xgb.DMatrix(x, missing=np.nan), pred_contribs=True)

        return run

    learners = "+".join(m.learner for m in model.members_)
    print(f"\nsingle record: fit_auto model ({learners}, {n_trees} trees), median of {n_calls}")
    print(f"  Scorer.explain_record(dict), all members   {t_rec:10.1f} us")
    print(f"  Scorer.predict_record(dict), all members   {t_pred:10.1f} us")
    for learner in sorted({m.learner for m in model.members_}):
        subset = [
            {"learner": m.learner, "booster": m.booster, "weight": m.weight}
            for m in model.members_
            if m.learner == learner
        ]
        shap = _core.TreeShap(forest_arrays(subset, model.task_, len(model.classes_)))
        t_mine = median_us(lambda s=shap: s.explain_row(x[0]), n_calls)
        t_peer = median_us(members(learner), max(50, n_calls // 10))
        print(
            f"  {learner} members only ({int(shap.n_trees)} trees), 1 numeric row: "
            f"mlwf {t_mine:.1f} us, {learner} {t_peer:.1f} us ({t_peer / t_mine:.2f}x)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    batch(args.rows, args.trees, args.repeat)
    record(args.calls)


if __name__ == "__main__":
    main()
