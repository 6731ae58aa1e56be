"""Benchmark of the compiled scorer against the tree-ensemble scorers a user can install.

All numbers come from the same run on the same machine::

    python benchmarks/bench_scorer.py                    # all models, all peers found
    python benchmarks/bench_scorer.py --rows 20000 --models lgb_100x31,xgb_500xd6

Models (binary, trained on synthetic rows with 50 numeric features and cached under
``--cache``): LightGBM 100 trees x 31 leaves, 500 x 63, 1000 x 255, XGBoost 500 trees of
depth 6, and LightGBM 200 x 31 with 5 categorical features (for ``predict_record``).
Peers: ``lightgbm.Booster.predict``, LightGBM's C single-row fast path (``lightgbm fast``,
``--peers`` name ``lightgbm-fast``, LightGBM models only), ``xgboost`` ``inplace_predict``,
treelite + tl2cgen compiled library, ONNX Runtime via onnxmltools; each one is skipped with
a note when it is not installed. ``lightgbm fast`` calls
``LGBM_BoosterPredictForMatSingleRowFast`` through ctypes on the library the lightgbm
package loads, with a fast config made once by ``LGBM_BoosterPredictForMatSingleRowFastInit``
(normal prediction, all iterations, float32 rows, ``num_threads=1``) and freed after the
model's timings; as a careful user would, it prepares every ctypes argument once and per
call only copies the row into a float32 buffer whose address is fixed. Its probabilities
must equal ``Booster.predict`` on 100 rows (max abs diff < 1e-12) before it is timed; being
a single-row API, it has no batch figures ("-"). lleaves (LightGBM models only) needs an
llvmlite older than the one numba needs, so it runs in a child process with its own
interpreter (``--lleaves-python``, a venv made with
``pip install lleaves==1.3.0 llvmlite==0.44.0 numpy lightgbm``); that child runs
this same file, so it times lleaves with the same functions and on the same rows (handed
over as ``.npy`` files), checks its probabilities against LightGBM's (max abs diff < 1e-6)
and prints one JSON line. Its compiled object is cached under ``--cache`` (the build
column then shows the time of the first compile); a compile is killed after
``--lleaves-timeout`` seconds and models above ``--lleaves-max-trees`` trees are skipped
(lgb_1000x255 once compiled for 33 minutes and reached 24 GiB). lleaves converts the
float32 rows to float64 on each call, as LightGBM does.

Reported: single-row p50 / p99 latency from Python (probabilities of one row, 1-D input;
the ratio line compares with the fastest peer, ``lightgbm fast`` included), from C++
(``bench_scorer_cpp`` built with CMake, when available), batch rows per second at
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


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (VmHWM; ru_maxrss of a child also counts
    the parent's resident memory at the fork)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


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
    """One scorer: a build step, a single-row function and a batch function per thread count.

    ``batch`` is ``None`` for a single-row API (no batch figures); ``close`` releases what the
    peer holds outside Python once its timings are done.
    """

    def __init__(self, name: str, build_s: float, row, batch, mem_mb: float, close=None) -> None:
        self.name, self.build_s, self.row, self.batch, self.mem_mb = (
            name,
            build_s,
            row,
            batch,
            mem_mb,
        )
        self.close = close if close is not None else (lambda: None)


LGBM_FAST_TOLERANCE = 1e-12


def lightgbm_fast_peer(booster, n_features: int, check_rows: np.ndarray) -> Peer:
    """LightGBM's C single-row fast path (``LGBM_BoosterPredictForMatSingleRowFast``).

    Called through ctypes on the library that ``lightgbm`` itself loaded, so it scores with
    the same build as ``Booster.predict``. Raises ``RuntimeError`` with LightGBM's message
    when a C call fails and ``AssertionError`` when its probabilities on ``check_rows``
    differ from ``Booster.predict``.
    """
    import ctypes

    from lightgbm.basic import _LIB

    c_int, c_void_p = ctypes.c_int, ctypes.c_void_p
    # Own prototypes bound to the symbols: the argtypes of lightgbm's shared _LIB stay as
    # they are, and a pointer held in a Python int is passed whole (64 bits).
    init = ctypes.CFUNCTYPE(
        c_int, c_void_p, c_int, c_int, c_int, c_int, ctypes.c_int32, ctypes.c_char_p, c_void_p
    )(("LGBM_BoosterPredictForMatSingleRowFastInit", _LIB))
    fast = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p, c_void_p)(
        ("LGBM_BoosterPredictForMatSingleRowFast", _LIB)
    )
    free = ctypes.CFUNCTYPE(c_int, c_void_p)(("LGBM_FastConfigFree", _LIB))
    last_error = ctypes.CFUNCTYPE(ctypes.c_char_p)(("LGBM_GetLastError", _LIB))

    def fail(what: str) -> RuntimeError:
        return RuntimeError(f"{what} failed: {last_error().decode('utf-8', 'replace')}")

    handle = booster._handle
    config = c_void_p()
    m0 = rss_mb()
    t0 = time.perf_counter()
    # predict_type C_API_PREDICT_NORMAL (0): probabilities; start_iteration 0, num_iteration -1
    # (all); data_type C_API_DTYPE_FLOAT32 (0).
    if init(handle, 0, 0, -1, 0, n_features, b"num_threads=1", ctypes.byref(config)) != 0:
        raise fail("LGBM_BoosterPredictForMatSingleRowFastInit")
    build = time.perf_counter() - t0
    buf = np.zeros(n_features, dtype=np.float32)
    out = np.zeros(1, dtype=np.float64)
    out_len = ctypes.c_int64(0)
    cfg, buf_p, out_p, len_p = (
        config.value,
        buf.ctypes.data,
        out.ctypes.data,
        ctypes.addressof(out_len),
    )
    mem = rss_mb() - m0

    def row(x: np.ndarray) -> np.ndarray:
        buf[:] = x
        if fast(cfg, buf_p, len_p, out_p) != 0:
            raise fail("LGBM_BoosterPredictForMatSingleRowFast")
        return out

    def close() -> None:
        nonlocal cfg
        if cfg is not None:
            rc, cfg = free(cfg), None
            if rc != 0:
                raise fail("LGBM_FastConfigFree")

    try:
        got = np.empty(len(check_rows))
        for i, x in enumerate(check_rows):
            got[i] = row(x)[0]
            if out_len.value != 1:
                raise AssertionError(f"lightgbm fast: out_len {out_len.value}, expected 1")
        ref = booster.predict(check_rows, num_threads=1)
        diff = float(np.max(np.abs(got - ref)))
        if not diff < LGBM_FAST_TOLERANCE:
            raise AssertionError(
                f"lightgbm fast: max |p - Booster.predict| = {diff:.2e} on {len(check_rows)} "
                f"rows (tolerance {LGBM_FAST_TOLERANCE:g})"
            )
    except BaseException:
        close()
        raise
    return Peer("lightgbm fast", build, row, None, mem, close)


def make_peers(
    booster,
    learner: str,
    n_features: int,
    which: set[str],
    workdir: Path,
    notes: list[str],
    check_rows: np.ndarray,
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

    if learner == "lightgbm" and "lightgbm-fast" in which:
        # Before the Booster.predict peer: the fast config's thread count is LightGBM's
        # process-wide setting, which every predict(num_threads=t) call resets, so the fast
        # path is timed before any batch call at 2 threads.
        try:
            peers.append(lightgbm_fast_peer(booster, n_features, check_rows))
        except (AttributeError, OSError, RuntimeError) as exc:  # a mismatch is fatal
            notes.append(f"lightgbm fast: {type(exc).__name__}: {str(exc)[:120]}")
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


DEFAULT_LLEAVES_PYTHON = Path("/work/lleavesenv/bin/python")
LLEAVES_TOLERANCE = 1e-6


def lleaves_child(argv: list[str]) -> int:
    """Entry point of the child process that runs lleaves with its own interpreter.

    ``compile`` compiles the model to a cached object (or finds it) and prints its path;
    ``measure`` loads that object, checks it against LightGBM, times it and prints the
    figures. Each prints one JSON line.
    """
    parser = argparse.ArgumentParser(prog="bench_scorer.py lleaves-child")
    parser.add_argument("step", choices=("compile", "measure"))
    parser.add_argument("--model-file", required=True)
    parser.add_argument("--object", required=True, help="object prefix (compile) or path")
    parser.add_argument("--max-mem-gb", type=float, default=0.0)
    parser.add_argument("--rows", help=".npy of the single-row inputs")
    parser.add_argument("--batch", help=".npy of the batch inputs")
    parser.add_argument("--calls", type=int, default=0)
    a = parser.parse_args(argv)
    if a.max_mem_gb > 0:
        # LLVM has no memory bound of its own: a runaway compile fails here instead of
        # taking the shared machine down.
        limit = int(a.max_mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import hashlib
    from importlib.metadata import version

    import lleaves
    import llvmlite.binding as llvm

    versions = {"lleaves": version("lleaves"), "llvmlite": version("llvmlite")}

    if a.step == "compile":
        # lleaves checks no staleness: key the object on the model text, the versions and
        # the CPU it is compiled for.
        key = hashlib.sha256(Path(a.model_file).read_bytes())
        key.update(json.dumps(versions).encode())
        key.update(llvm.get_host_cpu_name().encode())
        obj = Path(f"{a.object}_{key.hexdigest()[:16]}.o")
        meta = obj.with_suffix(".json")
        if obj.exists():
            info = json.loads(meta.read_text()) if meta.exists() else {}
            print(json.dumps({"object": str(obj), "cached": True, **info}))
            return 0
        tmp = obj.with_name(f"{obj.name}.{os.getpid()}.tmp")
        m0 = rss_mb()
        t0 = time.perf_counter()
        lleaves.Model(model_file=a.model_file).compile(cache=str(tmp))
        info = {
            "compile_s": time.perf_counter() - t0,
            "compile_mem_mb": rss_mb() - m0,
            "compile_peak_rss_mb": peak_rss_mb(),
            **versions,
        }
        os.replace(tmp, obj)  # a killed compile leaves no half-written object behind
        meta.write_text(json.dumps(info))
        print(json.dumps({"object": str(obj), "cached": False, **info}))
        return 0

    m0 = rss_mb()
    t0 = time.perf_counter()
    model = lleaves.Model(model_file=a.model_file)
    model.compile(cache=a.object)
    load_s = time.perf_counter() - t0
    mem = rss_mb() - m0
    rows, X = np.load(a.rows), np.load(a.batch)
    import lightgbm

    # One LightGBM thread: no OpenMP pool left spinning during the timings below.
    ref = lightgbm.Booster(model_file=a.model_file).predict(X, num_threads=1)
    diff = float(np.max(np.abs(model.predict(X, n_jobs=1) - ref)))
    single = np.array([model.predict(x.reshape(1, -1), n_jobs=1)[0] for x in rows[:100]])
    diff = max(diff, float(np.max(np.abs(single - ref[:100]))))
    out: dict[str, Any] = {"load_s": load_s, "mem_mb": mem, "max_abs_diff": diff}
    if not diff < LLEAVES_TOLERANCE:
        print(json.dumps(out))
        return 3
    p50, p99 = latency(lambda x: model.predict(x.reshape(1, -1), n_jobs=1), rows, a.calls)
    b1, c1 = throughput(lambda A: model.predict(A, n_jobs=1), X)
    b2, _ = throughput(lambda A: model.predict(A, n_jobs=2), X)
    out.update(p50=p50, p99=p99, b1=b1, c1=c1, b2=b2)
    print(json.dumps(out))
    return 0


def run_lleaves(
    python: Path,
    name: str,
    model_file: Path,
    X: np.ndarray,
    rows: np.ndarray,
    args: argparse.Namespace,
    cache: Path,
    workdir: Path,
    notes: list[str],
) -> dict[str, Any] | None:
    """Run lleaves in a child process on ``X`` / ``rows``; ``None`` (with a note) if it fails."""
    np.save(workdir / "lleaves_rows.npy", np.ascontiguousarray(rows))
    np.save(workdir / "lleaves_batch.npy", np.ascontiguousarray(X))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    base = [str(python), str(Path(__file__).resolve()), "lleaves-child"]
    common = ["--model-file", str(model_file), "--max-mem-gb", str(args.lleaves_max_mem_gb)]
    prefix = cache / f"lleaves_{name}"

    def child(step: str, extra: list[str]) -> dict[str, Any] | None:
        try:
            run = subprocess.run(
                [*base, step, *common, *extra],
                capture_output=True,
                text=True,
                env=env,
                timeout=args.lleaves_timeout,
            )
        except subprocess.TimeoutExpired:
            for tmp in cache.glob(f"{prefix.name}_*.tmp"):
                tmp.unlink(missing_ok=True)
            what = "compile" if step == "compile" else "measurement"
            notes.append(
                f"lleaves: {what} of {name} timed out after {args.lleaves_timeout:.0f} s "
                "(killed; raise --lleaves-timeout)"
            )
            return None
        lines = run.stdout.strip().splitlines()
        out = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
        if run.returncode == 3 and out is not None:
            notes.append(
                f"lleaves: {name} dropped, max |p - lightgbm| = {out['max_abs_diff']:.2e} "
                f"(tolerance {LLEAVES_TOLERANCE:g})"
            )
            return None
        if run.returncode != 0 or out is None:
            err = (run.stderr.strip().splitlines() or ["no output"])[-1]
            notes.append(
                f"lleaves: {step} of {name} failed (exit {run.returncode}, memory cap "
                f"{args.lleaves_max_mem_gb:g} GiB): {err[:160]}"
            )
            return None
        return out

    built = child("compile", ["--object", str(prefix)])
    if built is None:
        return None
    measured = child(
        "measure",
        [
            "--object",
            built["object"],
            "--rows",
            str(workdir / "lleaves_rows.npy"),
            "--batch",
            str(workdir / "lleaves_batch.npy"),
            "--calls",
            str(args.calls),
        ],
    )
    if measured is None:
        return None
    compile_s = built.get("compile_s", float("nan"))
    how = "cached object of an earlier run" if built["cached"] else "compiled in this run"
    notes.append(
        f"lleaves {built.get('lleaves', '?')} (llvmlite {built.get('llvmlite', '?')}): "
        f"{name} {how}: compile {compile_s:.2f} s, compile peak RSS "
        f"{built.get('compile_peak_rss_mb', float('nan')):.0f} MB, load {measured['load_s']:.2f} s; "
        f"max |p - lightgbm| = {measured['max_abs_diff']:.1e} on {len(X)} rows"
    )
    return {"build_s": compile_s, **measured}


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


def ratio(
    ours: tuple[float, ...], others: dict[str, tuple[float, ...]], i: int, higher: bool
) -> tuple[str, str]:
    """Our figure ``i`` over the best peer's ("1.23x", peer name); peers without it skipped."""
    have = {k: v[i] for k, v in others.items() if v[i] == v[i]}
    if not have:
        return "n/a", "none"
    best = (max if higher else min)(have, key=have.__getitem__)
    return f"{ours[i] / have[best]:.2f}x", best


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lleaves-child"]:
        return lleaves_child(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--peers", default="lightgbm,lightgbm-fast,xgboost,tl2cgen,onnxruntime,lleaves"
    )
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
    parser.add_argument(
        "--lleaves-python",
        default=str(DEFAULT_LLEAVES_PYTHON) if DEFAULT_LLEAVES_PYTHON.exists() else "",
        help="interpreter of a venv with lleaves (default: %(default)s; none: lleaves skipped)",
    )
    parser.add_argument(
        "--lleaves-timeout",
        type=float,
        default=300.0,
        help="seconds before a lleaves compile (or measurement) is killed",
    )
    parser.add_argument(
        "--lleaves-max-trees",
        type=int,
        default=500,
        help="skip lleaves above this many trees (lgb_1000x255 compiled for 33 min, 24 GiB)",
    )
    parser.add_argument(
        "--lleaves-max-mem-gb",
        type=float,
        default=8.0,
        help="address-space cap of the lleaves child, GiB (0: none)",
    )
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    which = set(args.peers.split(","))
    notes: list[str] = []
    lleaves_python = Path(args.lleaves_python) if args.lleaves_python else None
    if "lleaves" in which and (lleaves_python is None or not lleaves_python.exists()):
        which.discard("lleaves")
        notes.append(
            f"lleaves: skipped, no interpreter at '{args.lleaves_python}' (make a venv with "
            "lleaves and pass --lleaves-python)"
        )
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
    summary = {}
    for name in args.models.split(","):
        booster, plan = train(name, cache, args.train_rows)
        learner = MODELS[name][0]
        peer_set = set(which)
        if "tl2cgen" in peer_set and MODELS[name][1] > args.tl2cgen_max_trees:
            peer_set.discard("tl2cgen")
            notes.append(f"{name}: tl2cgen skipped (> {args.tl2cgen_max_trees} trees)")
        if "lleaves" in peer_set and learner != "lightgbm":
            peer_set.discard("lleaves")
            notes.append(f"lleaves: {name} skipped (lleaves reads LightGBM models only)")
        if "lleaves" in peer_set and MODELS[name][1] > args.lleaves_max_trees:
            peer_set.discard("lleaves")
            notes.append(
                f"lleaves: compile of {name} skipped ({MODELS[name][1]} trees > "
                f"--lleaves-max-trees {args.lleaves_max_trees}; it can run for over 30 min "
                "and 20 GiB)"
            )
        if name.startswith("lgb_cat"):
            from mlwf_core.preprocess import Plan

            frame, _, _ = categorical_frame(args.rows, seed=1)
            Xm = Plan.from_dict(plan).transform(frame)
            rows_m = Xm[:1000]
        else:
            Xm, rows_m = X, rows
        peers = make_peers(booster, learner, Xm.shape[1], peer_set, workdir, notes, rows_m[:100])
        results = {}
        try:
            for peer in peers:
                p50, p99 = latency(peer.row, rows_m, args.calls)
                if peer.batch is None:
                    b1 = c1 = b2 = float("nan")
                    cols = "- | - | -"
                else:
                    b1, c1 = throughput(lambda A, p=peer: p.batch(A, 1), Xm)
                    b2, _ = throughput(lambda A, p=peer: p.batch(A, 2), Xm)
                    cols = f"{fmt(b1)} | {fmt(c1)} | {fmt(b2)}"
                results[peer.name] = (p50, p99, b1, c1, b2)
                print(
                    f"| {name} | {peer.name} | {peer.build_s:.2f} | {p50:.2f} | {p99:.2f} "
                    f"| {cols} | {peer.mem_mb:.0f} |",
                    flush=True,
                )
        finally:
            for peer in peers:
                peer.close()
        if "lleaves" in peer_set:
            assert lleaves_python is not None
            r = run_lleaves(
                lleaves_python, name, cache / f"{name}.txt", Xm, rows_m, args, cache, workdir, notes
            )
            if r is not None:
                results["lleaves"] = (r["p50"], r["p99"], r["b1"], r["c1"], r["b2"])
                print(
                    f"| {name} | lleaves | {r['build_s']:.2f} | {r['p50']:.2f} | {r['p99']:.2f} "
                    f"| {fmt(r['b1'])} | {fmt(r['c1'])} | {fmt(r['b2'])} | {r['mem_mb']:.0f} |",
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
        # The fastest peer per figure, lleaves and lightgbm fast included when they ran
        # (a single-row peer has no batch figures); named so a ratio can be read without
        # the table.
        row_r, row_p = ratio(ours, others, 0, higher=False)
        b1_r, b1_p = ratio(ours, others, 2, higher=True)
        c1_r, c1_p = ratio(ours, others, 3, higher=True)
        b2_r, b2_p = ratio(ours, others, 4, higher=True)
        line = (
            f"{name}: row p50 {row_r} of the fastest peer ({row_p}) "
            f"(target <= 0.5); batch 1t {b1_r} ({b1_p}) "
            f"(CPU-s {c1_r} ({c1_p})), "
            f"2t {b2_r} ({b2_p}) (target >= 1.5)"
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
