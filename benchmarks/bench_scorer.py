"""Benchmark of the compiled scorer against the tree-ensemble scorers a user can install.

All numbers come from the same run on the same machine::

    python benchmarks/bench_scorer.py                    # all models, all peers found
    python benchmarks/bench_scorer.py --rows 20000 --models lgb_100x31,xgb_500xd6

Models (binary, trained on synthetic rows with 50 numeric features and cached under
``--cache``): LightGBM 100 trees x 31 leaves, 500 x 63, 1000 x 255, XGBoost 500 trees of
depth 6, and LightGBM 200 x 31 with 5 categorical features (for ``predict_record``).
Peers: ``lightgbm.Booster.predict``, ``xgboost`` ``inplace_predict``, treelite + tl2cgen
compiled library, ONNX Runtime via onnxmltools; each one is skipped with a note when it is
not installed. lleaves is not run: it needs an llvmlite older than the one numba needs here.

Reported: single-row p50 / p99 latency from Python (probabilities of one row, 1-D input),
from C++ (``bench_scorer_cpp`` built with CMake, when available), batch rows per second at
1 and 2 threads (wall clock; at 1 thread also per CPU-second, which a busy shared machine
distorts less), ``predict_record`` time, build / compile time and resident memory growth.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
N_FEATURES = 50
MODELS = {
    "lgb_100x31": ("lightgbm", 100, 31),
    "lgb_500x63": ("lightgbm", 500, 63),
    "lgb_1000x255": ("lightgbm", 1000, 255),
    "xgb_500xd6": ("xgboost", 500, 6),
    "lgb_cat_200x31": ("lightgbm", 200, 31),
}


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    logit = X[:, :10].sum(axis=1) + X[:, 10] * X[:, 11] + np.sin(3 * X[:, 12])
    y = (logit + rng.normal(size=n) > 0).astype(np.int32)
    return X, y


def categorical_frame(n: int, seed: int = 0):
    import polars as pl

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for j in range(20):
        cols[f"x{j}"] = rng.normal(size=n)
    levels = [[f"level_{k}" for k in range(m)] for m in (3, 8, 20, 50, 120)]
    for j, lv in enumerate(levels):
        cols[f"c{j}"] = rng.choice(lv, size=n)
    frame = pl.DataFrame(cols)
    score = frame["x0"].to_numpy() + (frame["c1"].to_numpy() == "level_3") * 2.0
    y = (score + rng.normal(size=n) > 0.5).astype(np.int32)
    plan = {
        "version": 1,
        "columns": [{"name": f"x{j}", "kind": "numeric"} for j in range(20)]
        + [{"name": f"c{j}", "kind": "categorical", "levels": lv} for j, lv in enumerate(levels)],
    }
    plan["features"] = [c["name"] for c in plan["columns"]]
    return frame, y, plan


def train(name: str, cache: Path, n_train: int):
    import lightgbm as lgb
    import xgboost as xgb

    learner, trees, size = MODELS[name]
    path = cache / f"{name}.{'json' if learner == 'xgboost' else 'txt'}"
    if name.startswith("lgb_cat"):
        from mlwf_core.preprocess import Plan

        frame, y, plan = categorical_frame(n_train)
        X = Plan.from_dict(plan).transform(frame)
        if not path.exists():
            params = {"objective": "binary", "num_leaves": size, "verbose": -1, "num_threads": 2}
            cats = list(range(20, 25))
            lgb.train(params, lgb.Dataset(X, y, categorical_feature=cats), trees).save_model(path)
        return lgb.Booster(model_file=str(path)), plan
    if not path.exists():
        X, y = synthetic(n_train)
        if learner == "lightgbm":
            params = {
                "objective": "binary",
                "num_leaves": size,
                "min_data_in_leaf": 5,
                "verbose": -1,
                "num_threads": 2,
            }
            lgb.train(params, lgb.Dataset(X, y), trees).save_model(path)
        else:
            params = {"objective": "binary:logistic", "max_depth": size, "nthread": 2}
            xgb.train(params, xgb.DMatrix(X, y), trees).save_model(path)
    if learner == "lightgbm":
        return lgb.Booster(model_file=str(path)), None
    return xgb.Booster(model_file=str(path)), None


def latency(fn, rows: np.ndarray, calls: int) -> tuple[float, float]:
    for i in range(min(calls // 10 + 1, 2000)):
        fn(rows[i % len(rows)])
    times = np.empty(calls)
    clock = time.perf_counter_ns
    for i in range(calls):
        x = rows[i % len(rows)]
        t0 = clock()
        fn(x)
        times[i] = clock() - t0
    return float(np.percentile(times, 50)) / 1e3, float(np.percentile(times, 99)) / 1e3


def throughput(fn, X: np.ndarray, repeats: int = 3) -> tuple[float, float]:
    """(rows per wall second, rows per CPU second of the process), best of ``repeats``."""
    fn(X[: min(len(X), 2000)])
    wall, cpu = 1e300, 1e300
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn(X)
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return len(X) / wall, len(X) / max(cpu, 1e-9)


class Peer:
    """One scorer: a build step, a single-row function and a batch function per thread count."""

    def __init__(self, name: str, build_s: float, row, batch, mem_mb: float) -> None:
        self.name, self.build_s, self.row, self.batch, self.mem_mb = (
            name,
            build_s,
            row,
            batch,
            mem_mb,
        )


def make_peers(
    booster, learner: str, n_features: int, which: set[str], workdir: Path, notes: list[str]
) -> list[Peer]:
    from mlwf_core.deploy import Scorer

    peers: list[Peer] = []

    m0 = rss_mb()
    t0 = time.perf_counter()
    scorers = {t: Scorer.from_booster(booster, n_threads=t) for t in (1, 2)}
    build = (time.perf_counter() - t0) / 2
    s1 = scorers[1]
    peers.append(
        Peer(
            "mlwf", build, s1.predict_proba, lambda X, t: scorers[t].predict_proba(X), rss_mb() - m0
        )
    )

    if learner == "lightgbm" and "lightgbm" in which:
        peers.append(
            Peer(
                "lightgbm",
                0.0,
                lambda x: booster.predict(x.reshape(1, -1), num_threads=1),
                lambda X, t: booster.predict(X, num_threads=t),
                0.0,
            )
        )
    if learner == "xgboost" and "xgboost" in which:

        def xgb_batch(X, t):
            booster.set_param({"nthread": t})
            return booster.inplace_predict(X)

        def xgb_row(x):
            return booster.inplace_predict(x.reshape(1, -1))

        booster.set_param({"nthread": 1})
        peers.append(Peer("xgboost", 0.0, xgb_row, xgb_batch, 0.0))

    if "tl2cgen" in which:
        try:
            import tl2cgen
            import treelite

            m0 = rss_mb()
            t0 = time.perf_counter()
            model = (
                treelite.frontend.from_lightgbm(booster)
                if learner == "lightgbm"
                else treelite.frontend.from_xgboost(booster)
            )
            lib = workdir / f"tl2cgen_{id(booster)}.so"
            tl2cgen.export_lib(
                model, toolchain="gcc", libpath=str(lib), params={"parallel_comp": 8}
            )
            preds = {t: tl2cgen.Predictor(str(lib), nthread=t) for t in (1, 2)}
            build = time.perf_counter() - t0
            peers.append(
                Peer(
                    "tl2cgen",
                    build,
                    lambda x: preds[1].predict(tl2cgen.DMatrix(x.reshape(1, -1))),
                    lambda X, t: preds[t].predict(tl2cgen.DMatrix(X)),
                    rss_mb() - m0,
                )
            )
        except Exception as exc:  # a peer that fails is reported, not fatal
            notes.append(f"tl2cgen: {type(exc).__name__}: {str(exc)[:120]}")

    if "onnxruntime" in which:
        try:
            import onnxmltools
            import onnxruntime as ort
            from onnxmltools.convert.common.data_types import FloatTensorType

            m0 = rss_mb()
            t0 = time.perf_counter()
            types = [("input", FloatTensorType([None, n_features]))]
            if learner == "lightgbm":
                onx = onnxmltools.convert_lightgbm(booster, initial_types=types, zipmap=False)
            else:
                onx = onnxmltools.convert_xgboost(booster, initial_types=types)
            sessions = {}
            for t in (1, 2):
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = t
                opts.inter_op_num_threads = 1
                sessions[t] = ort.InferenceSession(
                    onx.SerializeToString(), opts, providers=["CPUExecutionProvider"]
                )
            name = sessions[1].get_inputs()[0].name
            build = time.perf_counter() - t0
            peers.append(
                Peer(
                    "onnxruntime",
                    build,
                    lambda x: sessions[1].run(None, {name: x.reshape(1, -1)}),
                    lambda X, t: sessions[t].run(None, {name: X}),
                    rss_mb() - m0,
                )
            )
        except Exception as exc:
            notes.append(f"onnxruntime: {type(exc).__name__}: {str(exc)[:120]}")
    return peers


def build_cpp_bench(workdir: Path) -> Path | None:
    if shutil.which("cmake") is None:
        return None
    build = workdir / "cpp"
    try:
        subprocess.run(
            [
                "cmake",
                "-S",
                str(ROOT),
                "-B",
                str(build),
                "-DMLWF_BUILD_CPP=ON",
                "-DCMAKE_BUILD_TYPE=Release",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "bench_scorer_cpp", "-j2"],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError:
        return None
    return build / "bench_scorer_cpp"


def cpp_latency(exe: Path, booster, X: np.ndarray, workdir: Path, calls: int) -> dict[str, float]:
    from mlwf_core.deploy._artifact import write_artifact
    from mlwf_core.deploy._forest import forest_arrays

    learner = "lightgbm" if type(booster).__module__.startswith("lightgbm") else "xgboost"
    names = [f"f{j}" for j in range(X.shape[1])]
    plan = {
        "version": 1,
        "columns": [{"name": n, "kind": "numeric"} for n in names],
        "features": names,
    }
    path = workdir / "model.mlwf"
    arrays = forest_arrays([{"learner": learner, "booster": booster, "weight": 1.0}], "binary", 2)
    write_artifact(
        path, {"task": "binary", "classes": [0, 1], "plan": plan, "ensemble": []}, {}, arrays
    )
    rows = workdir / "rows.f32"
    X.tofile(rows)
    run = subprocess.run(
        [str(exe), str(path), str(rows), str(len(X)), str(calls)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout)


def fmt(v: float, unit: str = "") -> str:
    if v != v:
        return "n/a"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M{unit}"
    if v >= 1e3:
        return f"{v / 1e3:.0f}k{unit}"
    return f"{v:.2f}{unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--peers", default="lightgbm,xgboost,tl2cgen,onnxruntime")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the batch test")
    parser.add_argument("--train-rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20_000, help="single-row calls timed")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "mlwf-bench"))
    parser.add_argument("--no-cpp", action="store_true")
    parser.add_argument(
        "--tl2cgen-max-trees",
        type=int,
        default=500,
        help="skip tl2cgen above this many trees (its C compile takes minutes)",
    )
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    which = set(args.peers.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="mlwf-bench-"))
    exe = None if args.no_cpp else build_cpp_bench(workdir)
    X, _ = synthetic(args.rows, seed=1)
    rows = X[:1000]
    print(f"machine: {os.cpu_count()} cores; batch rows {args.rows}; single-row calls {args.calls}")
    print(
        "| model | scorer | build s | row p50 us | row p99 us | batch 1t rows/s | 1t rows/CPU-s "
        "| batch 2t rows/s | mem MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    notes: list[str] = []
    summary = {}
    for name in args.models.split(","):
        booster, plan = train(name, cache, args.train_rows)
        learner = MODELS[name][0]
        peer_set = set(which)
        if MODELS[name][1] > args.tl2cgen_max_trees:
            peer_set.discard("tl2cgen")
            notes.append(f"{name}: tl2cgen skipped (> {args.tl2cgen_max_trees} trees)")
        if name.startswith("lgb_cat"):
            from mlwf_core.preprocess import Plan

            frame, _, _ = categorical_frame(args.rows, seed=1)
            Xm = Plan.from_dict(plan).transform(frame)
            rows_m = Xm[:1000]
        else:
            Xm, rows_m = X, rows
        peers = make_peers(booster, learner, Xm.shape[1], peer_set, workdir, notes)
        results = {}
        for peer in peers:
            p50, p99 = latency(peer.row, rows_m, args.calls)
            b1, c1 = throughput(lambda A, p=peer: p.batch(A, 1), Xm)
            b2, _ = throughput(lambda A, p=peer: p.batch(A, 2), Xm)
            results[peer.name] = (p50, p99, b1, c1, b2)
            print(
                f"| {name} | {peer.name} | {peer.build_s:.2f} | {p50:.2f} | {p99:.2f} | {fmt(b1)} "
                f"| {fmt(c1)} | {fmt(b2)} | {peer.mem_mb:.0f} |",
                flush=True,
            )
        if exe is not None and plan is None:
            c = cpp_latency(exe, booster, Xm[: min(len(Xm), 20000)], workdir, 200_000)
            print(
                f"| {name} | mlwf C++ | - | {c['p50_ns'] / 1e3:.3f} | {c['p99_ns'] / 1e3:.3f} "
                f"| {fmt(c['rows_per_s_1'])} | {fmt(c['rows_per_cpu_s_1'])} | {fmt(c['rows_per_s_2'])} | - |",
                flush=True,
            )
        if plan is not None:
            from mlwf_core.deploy import Scorer
            from mlwf_core.deploy._forest import forest_arrays

            arrays = forest_arrays(
                [{"learner": "lightgbm", "booster": booster, "weight": 1.0}], "binary", 2
            )
            from mlwf_core.deploy._scorer import Forest

            scorer = Scorer(Forest.from_arrays(arrays, "binary", 2), plan, [0, 1])
            records = frame.head(1000).to_dicts()
            p50r, p99r = latency(scorer.predict_proba, np.array(records, dtype=object), args.calls)
            print(
                f"| {name} | mlwf predict_proba(record) | - | {p50r:.2f} | {p99r:.2f} | - | - | - | - |"
            )
            results["record"] = (p50r, p99r, np.nan, np.nan, np.nan)
        summary[name] = results
    print()
    for name, results in summary.items():
        ours = results["mlwf"]
        others = {k: v for k, v in results.items() if k not in ("mlwf", "record")}
        if not others:
            continue
        best_row = min(v[0] for v in others.values())
        best_b1 = max(v[2] for v in others.values())
        best_c1 = max(v[3] for v in others.values())
        best_b2 = max(v[4] for v in others.values())
        line = (
            f"{name}: row p50 {ours[0] / best_row:.2f}x of the fastest peer (target <= 0.5); "
            f"batch 1t {ours[2] / best_b1:.2f}x (CPU-s {ours[3] / best_c1:.2f}x), "
            f"2t {ours[4] / best_b2:.2f}x (target >= 1.5)"
        )
        if "record" in results:
            line += f"; record / numeric row {results['record'][0] / ours[0]:.2f}x (target <= 1.5)"
        print(line)
    for note in notes:
        print("note:", note)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
