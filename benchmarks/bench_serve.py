"""Load test of the HTTP service against a plain FastAPI + ``lightgbm.Booster.predict`` endpoint.

Usage: ``python benchmarks/bench_serve.py [--seconds 5] [--connections 1 8 64] [--budget 60]``

Both services run on 127.0.0.1 in their own process (uvicorn, one worker) and are driven in
the same run by the same load generator: ``wrk`` (Debian package ``wrk``) when installed, else
a Python asyncio client on httpx (slower itself: its numbers bound the service from below).

* ``mlwf``: ``mlwf serve`` of a model fitted on the bundled customer-churn data
  (LightGBM only, so that the baseline scores the same model). The request is one raw record,
  as a client has it: numbers and string categoricals. The service validates it, runs the
  plan and the forest (compiled scorer) and answers label, probabilities, version and id.
* ``fastapi+lightgbm``: what a user would otherwise write: a FastAPI endpoint taking a
  pydantic-validated list of the already-encoded float features (so it skips the
  preprocessing, which favours it) and calling each member's ``Booster.predict`` of the same
  model (``num_threads=1``: OpenMP threads only slow single rows down), blended and put
  through the sigmoid. Its answers are checked to equal mlwf's.

Reported per service and connection count: requests/s, p50 / p99 latency and errors
(non-2xx responses and socket errors). Target: zero errors and p99 < 2 ms for single-record
requests at 8 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

BASELINE = textwrap.dedent(
    """
    import sys

    import lightgbm
    import numpy as np
    from fastapi import FastAPI
    from pydantic import BaseModel

    from mlwf_core.deploy._artifact import read_artifact

    manifest = read_artifact(sys.argv[1]).manifest
    artifact = read_artifact(sys.argv[1])
    members = [
        (lightgbm.Booster(model_str=artifact.files[m["file"]].decode()), m["weight"])
        for m in manifest["ensemble"]
    ]
    classes = manifest["classes"]
    app = FastAPI()


    class Features(BaseModel):
        features: list[float | None]


    @app.post("/predict")
    async def predict(body: Features) -> dict:
        x = np.array([[np.nan if v is None else v for v in body.features]], dtype=np.float64)
        # one thread: OpenMP workers spinning per single-row call only add latency
        margin = sum(w * b.predict(x, raw_score=True, num_threads=1)[0] for b, w in members)
        p = 1.0 / (1.0 + np.exp(-margin))
        return {"prediction": classes[int(p > 0.5)], "probabilities": [1.0 - p, p]}


    if __name__ == "__main__":
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
    """
)

MLWF = textwrap.dedent(
    """
    import sys

    from mlwf_core.deploy._server import serve

    serve(sys.argv[1], port=int(sys.argv[2]), monitor=False)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: bytes) -> dict[str, Any]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _start(script: Path, model: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(script), str(model), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{script.name} exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{script.name} did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def _wrk(url: str, body: bytes, connections: int, seconds: float, tmp: Path) -> dict[str, Any]:
    script = tmp / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"{url}/predict",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(g) for g in m.groups())
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors}


def _asyncio_client(url: str, body: bytes, connections: int, seconds: float) -> dict[str, Any]:
    import httpx
    import numpy as np

    async def run() -> dict[str, Any]:
        latencies: list[float] = []
        errors = 0
        stop = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=5.0) as client:

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < stop:
                    t = time.perf_counter()
                    try:
                        r = await client.post(
                            "/predict", content=body, headers={"Content-Type": "application/json"}
                        )
                        if r.status_code >= 300:
                            errors += 1
                    except httpx.HTTPError:
                        errors += 1
                    latencies.append(time.perf_counter() - t)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - start
        lat = np.asarray(latencies) * 1e3
        return {
            "rps": len(lat) / elapsed,
            "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)),
            "errors": errors,
        }

    return asyncio.run(run())


def _fit(tmp: Path, budget: float) -> tuple[Path, dict[str, Any], list[float]]:
    import polars as pl

    import mlwf_core as mw

    source = resources.files("mlwf_core").joinpath("data", "wa_churn.csv")
    with resources.as_file(source) as path:
        frame = mw.read(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a fixed number of trials: the same model whatever the machine's load
        model = mw.fit_auto(
            frame,
            "churn",
            time_budget=budget,
            n_trials=6,
            n_jobs=1,
            verbose=0,
            learners=["lightgbm"],
        )
    saved = model.save(tmp / "churn.mlwf")
    row = frame.drop("churn").row(7, named=True)
    record = {c: row[c] for c in model.features_}
    features = model.transform(pl.DataFrame([record])).astype(float)[0].tolist()
    features = [None if f != f else f for f in features]
    return saved, record, features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per service and load level")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--budget", type=float, default=60.0, help="fit time budget, seconds")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    with tempfile.TemporaryDirectory(prefix="mlwf-bench-serve-") as tmpdir:
        tmp = Path(tmpdir)
        model, record, features = _fit(tmp, args.budget)
        (tmp / "baseline.py").write_text(BASELINE)
        (tmp / "mlwf_serve.py").write_text(MLWF)
        services = {
            "mlwf": (tmp / "mlwf_serve.py", json.dumps(record).encode()),
            "fastapi+lightgbm": (tmp / "baseline.py", json.dumps({"features": features}).encode()),
        }
        from mlwf_core.deploy._backend import load_backend

        engine = load_backend(model).engine
        print(
            f"model: churn, {len(record)} raw columns -> {len(features)} features; mlwf engine: {engine}; "
            f"load generator: {'wrk (1 thread)' if use_wrk else 'python asyncio + httpx'}; "
            f"{args.seconds:g} s per cell; cpus: {os.cpu_count()}"
        )
        answers = {}
        rows = []
        for name, (script, body) in services.items():
            proc, url = _start(script, model)
            try:
                answers[name] = _post(f"{url}/predict", body)
                for _ in range(200):  # warm-up
                    _post(f"{url}/predict", body)
                for c in args.connections:
                    if use_wrk:
                        result = _wrk(url, body, c, args.seconds, tmp)
                    else:
                        result = _asyncio_client(url, body, c, args.seconds)
                    rows.append((name, c, result))
            finally:
                _stop(proc)
        ours = answers["mlwf"]["probabilities"][0][1]
        theirs = answers["fastapi+lightgbm"]["probabilities"][1]
        print(
            f"same answer: mlwf p={ours:.12f}  baseline p={theirs:.12f}  |diff|={abs(ours - theirs):.2e}"
        )
        print(
            f"{'service':<18} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
        )
        for name, c, r in rows:
            print(
                f"{name:<18} {c:>5} {r['rps']:>9.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['errors']:>7}"
            )
        target = next((r for n, c, r in rows if n == "mlwf" and c == 8), None)
        if target is not None:
            met = target["errors"] == 0 and target["p99_ms"] < 2.0
            print(
                f"target (0 errors, p99 < 2 ms at 8 connections): {'met' if met else 'NOT met'} "
                f"(p99 {target['p99_ms']:.3f} ms, {target['errors']} errors)"
            )


if __name__ == "__main__":
    main()
