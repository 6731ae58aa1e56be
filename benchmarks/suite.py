"""Quality suite: mlwf against default LightGBM (and FLAML / AutoGluon when installed).

Reads ``../shared/datasets/manifest.json``; for each task makes one 75/25 split
(seed 0, stratified for classification), fits every system on the same training
part with the same time budget, and scores the test part with the task's metric.
Prints a table per task, the normalised score (0 = default LightGBM, 1 = the best
system on that task) averaged over tasks, and writes the rows as JSON.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/suite.py --budget 30 --n-jobs 1 \
        [--systems mlwf,lightgbm,flaml,autogluon] [--tasks wa_churn,concrete] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = ROOT.parent / "shared" / "datasets" / "manifest.json"
LOWER_IS_BETTER = {"log_loss", "rmse", "mse", "mae"}


def split(frame: pl.DataFrame, target: str, task: str, seed: int, test_fraction: float):
    """One train/test split; stratified by class for classification."""
    rng = np.random.default_rng(seed)
    n = frame.height
    if task == "regression":
        order = rng.permutation(n)
        n_test = int(round(test_fraction * n))
        return frame[order[n_test:]], frame[order[:n_test]]
    labels = frame[target].cast(pl.String).to_numpy()
    test_idx = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        test_idx.extend(idx[: int(round(test_fraction * len(idx)))])
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    return frame.filter(pl.Series(~is_test)), frame.filter(pl.Series(is_test))


def score(
    metric: str, task: str, y_true: np.ndarray, pred: np.ndarray, classes: list[Any]
) -> float:
    """Test score with scikit-learn as the neutral referee."""
    from sklearn import metrics as skm

    if task == "regression":
        return float(math.sqrt(skm.mean_squared_error(y_true, pred)))
    if metric == "roc_auc":
        return float(skm.roc_auc_score(y_true == classes[1], pred[:, 1]))
    proba = np.clip(pred, 1e-15, 1 - 1e-15)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(skm.log_loss(y_true, proba, labels=classes))


def to_pandas(frame: pl.DataFrame):
    """pandas with categorical dtype for text columns (what LightGBM / FLAML consume)."""
    pdf = frame.to_pandas()
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            pdf[name] = pdf[name].astype("category")
    return pdf


def run_mlwf(train, test, target, task, metric, budget, n_jobs):
    import lightgbm  # noqa: F401  (imports outside the clock, as for the peers)
    import optuna  # noqa: F401
    import xgboost  # noqa: F401

    import mlwf_core as mw

    start = time.monotonic()
    model = mw.fit_auto(
        train, target, task=task, metric=metric, time_budget=budget, n_jobs=n_jobs, verbose=0
    )
    seconds = time.monotonic() - start
    if task == "regression":
        return (
            model.predict(test),
            [],
            seconds,
            {"members": len(model.members_), "trials": model.leaderboard.height - 1},
        )
    return (
        model.predict_proba(test),
        model.classes_,
        seconds,
        {"members": len(model.members_), "trials": model.leaderboard.height - 1},
    )


def run_lightgbm(train, test, target, task, metric, budget, n_jobs):
    import lightgbm as lgb

    X, Xt = to_pandas(train.drop(target)), to_pandas(test.drop(target))
    # test categories must use the training levels
    for col in X.columns:
        if str(X[col].dtype) == "category":
            Xt[col] = Xt[col].astype(str).astype(X[col].dtype)
    start = time.monotonic()
    if task == "regression":
        model = lgb.LGBMRegressor(n_jobs=n_jobs, verbose=-1, random_state=0)
        model.fit(X, train[target].to_numpy())
        return model.predict(Xt), [], time.monotonic() - start, {}
    y = train[target].to_numpy()
    model = lgb.LGBMClassifier(n_jobs=n_jobs, verbose=-1, random_state=0)
    model.fit(X, y)
    seconds = time.monotonic() - start
    return model.predict_proba(Xt), list(model.classes_), seconds, {}


def run_flaml(train, test, target, task, metric, budget, n_jobs):
    from flaml import AutoML

    X, Xt = to_pandas(train.drop(target)), to_pandas(test.drop(target))
    automl = AutoML()
    flaml_task = "regression" if task == "regression" else "classification"
    flaml_metric = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "rmse"}[metric]
    start = time.monotonic()
    automl.fit(
        X,
        train[target].to_numpy(),
        task=flaml_task,
        metric=flaml_metric,
        time_budget=budget,
        seed=0,
        n_jobs=n_jobs,
        verbose=0,
    )
    seconds = time.monotonic() - start
    if task == "regression":
        return automl.predict(Xt), [], seconds, {"best": automl.best_estimator}
    return automl.predict_proba(Xt), list(automl.classes_), seconds, {"best": automl.best_estimator}


def run_autogluon(train, test, target, task, metric, budget, n_jobs):
    from autogluon.tabular import TabularPredictor

    path = tempfile.mkdtemp(prefix="ag-")
    ag_metric = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "root_mean_squared_error"}[
        metric
    ]
    problem = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[task]
    try:
        start = time.monotonic()
        predictor = TabularPredictor(
            label=target, eval_metric=ag_metric, problem_type=problem, path=path, verbosity=0
        )
        predictor.fit(train.to_pandas(), time_limit=budget, num_cpus=n_jobs)
        seconds = time.monotonic() - start
        if task == "regression":
            return predictor.predict(test.drop(target).to_pandas()).to_numpy(), [], seconds, {}
        proba = predictor.predict_proba(test.drop(target).to_pandas())
        return proba.to_numpy(), list(proba.columns), seconds, {}
    finally:
        shutil.rmtree(path, ignore_errors=True)


SYSTEMS = {
    "mlwf": run_mlwf,
    "lightgbm": run_lightgbm,
    "flaml": run_flaml,
    "autogluon": run_autogluon,
}


def _child(system: str, args: tuple, queue: Any) -> None:
    try:
        queue.put(("ok", SYSTEMS[system](*args)))
    except BaseException as exc:  # reported to the parent, which records the failure
        queue.put(("error", repr(exc)))


def run_guarded(system: str, args: tuple, timeout: float):
    """Run one system's fit in a child process, killed after ``timeout`` seconds.

    Every system runs this way, one after another in the same benchmark run, so a
    peer that hangs (FLAML's multiclass learners did, under load) cannot stall the suite.
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(system, args, queue))
    proc.start()
    try:
        status, payload = queue.get(timeout=timeout)
    except Exception:
        proc.kill()
        proc.join()
        raise TimeoutError(f"{system} did not finish within {timeout:.0f} s") from None
    proc.join()
    if status == "error":
        raise RuntimeError(payload)
    return payload


def normalised(rows: list[dict[str, Any]], systems: list[str]) -> dict[str, float]:
    """Per task: 0 = default LightGBM, 1 = best system; averaged over tasks."""
    by_task: dict[str, dict[str, float]] = {}
    for row in rows:
        by_task.setdefault(row["task"], {})[row["system"]] = row["score"]
    totals = {s: [] for s in systems}
    for task, scores in by_task.items():
        sign = (
            -1.0 if next(r["metric"] for r in rows if r["task"] == task) in LOWER_IS_BETTER else 1.0
        )
        base = scores.get("lightgbm")
        best = max(sign * v for v in scores.values() if np.isfinite(v))
        for system in systems:
            value = scores.get(system, float("nan"))
            if base is None or not np.isfinite(value) or best == sign * base:
                totals[system].append(0.0 if np.isfinite(value) else float("nan"))
                continue
            totals[system].append((sign * value - sign * base) / (best - sign * base))
    return {s: float(np.nanmean(v)) if v else float("nan") for s, v in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--systems", default="mlwf,lightgbm")
    parser.add_argument("--tasks", default="", help="comma-separated dataset stems (default: all)")
    parser.add_argument("--out", default="", help="write rows as JSON here")
    args = parser.parse_args(argv)

    manifest_path = Path(args.manifest)
    manifest = json.loads(manifest_path.read_text())
    wanted = {t for t in args.tasks.split(",") if t}
    systems = [s for s in args.systems.split(",") if s]
    rows: list[dict[str, Any]] = []
    for spec in manifest["tasks"]:
        stem = spec["file"].rsplit(".", 1)[0]
        if wanted and stem not in wanted:
            continue
        import mlwf_core as mw

        frame = mw.read(manifest_path.parent / spec["file"]).drop(spec.get("drop", []))
        target, task = spec["target"], spec["task"]
        frame = frame.filter(pl.col(target).is_not_null())
        metric = manifest["metric"][task]
        train, test = split(
            frame, target, task, manifest["split"]["seeds"][0], manifest["split"]["test_fraction"]
        )
        y_test = test[target].to_numpy()
        for system in systems:
            try:
                pred, classes, seconds, extra = run_guarded(
                    system,
                    (train, test, target, task, metric, args.budget, args.n_jobs),
                    timeout=max(120.0, 5 * args.budget),
                )
                if task != "regression":
                    # align probability columns to the sorted label order used for scoring
                    labels = sorted(set(train[target].to_list()))
                    pos = {c: i for i, c in enumerate(classes)}
                    pred = np.asarray(pred)[:, [pos[c] for c in labels]]
                    classes = labels
                value = score(metric, task, y_test, np.asarray(pred), classes)
            except Exception as exc:  # a failing peer is reported, not fatal
                print(f"{stem:<14} {system:<10} FAILED: {exc!r}", file=sys.stderr)
                value, seconds, extra = float("nan"), float("nan"), {"error": repr(exc)}
            row = {
                "task": stem,
                "system": system,
                "metric": metric,
                "score": value,
                "seconds": seconds,
                **extra,
            }
            rows.append(row)
            print(f"{stem:<14} {system:<10} {metric:<8} {value:10.5f} {seconds:7.1f} s", flush=True)

    print(
        "\n| task | metric | "
        + " | ".join(systems)
        + " | "
        + " | ".join(f"{s} s" for s in systems)
        + " |"
    )
    print("|---|---|" + "---|" * (2 * len(systems)))
    for stem in dict.fromkeys(r["task"] for r in rows):
        by = {r["system"]: r for r in rows if r["task"] == stem}
        metric = next(iter(by.values()))["metric"]
        cells = [f"{by[s]['score']:.5f}" if s in by else "-" for s in systems]
        times = [f"{by[s]['seconds']:.1f}" if s in by else "-" for s in systems]
        print(f"| {stem} | {metric} | " + " | ".join(cells) + " | " + " | ".join(times) + " |")
    if "lightgbm" in systems:
        norm = normalised(rows, systems)
        print("\nmean normalised score: " + ", ".join(f"{s} {v:.3f}" for s, v in norm.items()))
        for system in systems:
            if system == "lightgbm":
                continue
            wins = 0
            for stem in dict.fromkeys(r["task"] for r in rows):
                by = {r["system"]: r for r in rows if r["task"] == stem}
                if system in by and "lightgbm" in by:
                    sign = -1 if by[system]["metric"] in LOWER_IS_BETTER else 1
                    wins += sign * by[system]["score"] >= sign * by["lightgbm"]["score"]
            print(
                f"{system}: at least as good as default LightGBM on {wins} of {len({r['task'] for r in rows})} tasks"
            )
    mlwf_times = [r["seconds"] for r in rows if r["system"] == "mlwf"]
    if mlwf_times:
        print(f"mlwf fit wall time: max {max(mlwf_times):.1f} s (budget {args.budget:g} s)")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
