"""Profile speed: mlwf's profile + HTML report against ydata-profiling (minimal mode).

Both run on the same generated table (1,000,000 rows x 50 mixed columns by
default, written once to Parquet), each in its own fresh process so that peak
memory (``ru_maxrss``) is measured per tool. Reading the Parquet file is timed
apart from profiling. ydata-profiling pins older NumPy / pandas than mlwf
uses, so it runs from a separate virtual environment (``--ydata-python``,
default ``/work/benchenv/bin/python``); when that interpreter cannot import it,
the comparison is skipped with a message. Wall time and CPU time (user +
system) are both reported: on a shared machine the CPU time is the steadier
figure.

Run::

    python benchmarks/bench_profile.py                 # 1e6 x 50, both tools
    python benchmarks/bench_profile.py --rows 100000   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import polars as pl

MLWF_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import polars as pl
    from mlwf_core.eda import profile
    # load every Numba kernel from the on-disk cache (the first run ever compiles them):
    # a once-per-process cost, reported apart, as the library imports of both tools are
    t = time.perf_counter()
    small = pl.read_parquet(sys.argv[1], n_rows=2000)
    profile(small, target="target")
    warm = time.perf_counter() - t
    t = time.perf_counter()
    df = pl.read_parquet(sys.argv[1])
    read = time.perf_counter() - t
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    p = profile(df, target="target")
    prof = time.perf_counter() - t
    t = time.perf_counter()
    p.to_html(sys.argv[2])
    html = time.perf_counter() - t
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    peak = cpu1.ru_maxrss / 1024
    print(json.dumps({"warmup": warm, "read": read, "profile": prof, "html": html, "cpu": cpu,
                      "peak_mb": peak, "sampled": p.sample["sampled"],
                      "sample_rows": p.sample["n_rows"], "warnings": len(p.warnings)}))
    """
)

YDATA_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time, warnings
    warnings.filterwarnings("ignore")
    import pandas as pd
    from ydata_profiling import ProfileReport
    t = time.perf_counter()
    df = pd.read_parquet(sys.argv[1])
    read = time.perf_counter() - t
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    report = ProfileReport(df, minimal=True, progress_bar=False)
    report.get_description()
    prof = time.perf_counter() - t
    t = time.perf_counter()
    report.to_file(sys.argv[2], silent=True)
    html = time.perf_counter() - t
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    peak = cpu1.ru_maxrss / 1024
    import ydata_profiling
    print(json.dumps({"read": read, "profile": prof, "html": html, "cpu": cpu, "peak_mb": peak,
                      "version": ydata_profiling.__version__}))
    """
)


def make_table(n_rows: int, n_cols: int, seed: int = 0) -> pl.DataFrame:
    """Mixed table: 60 % numeric, 24 % categorical, 8 % boolean, dates, an id, a target."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {"id": np.arange(n_rows)}
    n_num = int(n_cols * 0.6)
    n_cat = int(n_cols * 0.24)
    n_bool = max(1, int(n_cols * 0.08))
    n_date = max(1, n_cols - 2 - n_num - n_cat - n_bool)
    for i in range(n_num):
        kind = i % 4
        if kind == 0:
            x = rng.normal(0, 1, n_rows)
        elif kind == 1:
            x = rng.lognormal(0, 1, n_rows)
        elif kind == 2:
            x = rng.integers(0, 1000, n_rows).astype(np.float64)
        else:
            x = rng.uniform(-5, 5, n_rows)
        x[rng.uniform(size=n_rows) < 0.05 * (i % 3)] = np.nan
        cols[f"num_{i}"] = x
    for i in range(n_cat):
        k = (5, 20, 200, 5000)[i % 4]
        levels = np.array([f"L{i}_{j}" for j in range(k)])
        cols[f"cat_{i}"] = levels[rng.zipf(1.5, n_rows) % k]
    for i in range(n_bool):
        cols[f"flag_{i}"] = rng.uniform(size=n_rows) < 0.3
    start = np.datetime64("2020-01-01")
    for i in range(n_date):
        cols[f"date_{i}"] = start + rng.integers(0, 1500, n_rows).astype("timedelta64[D]")
    signal = cols["num_0"] + (cols["flag_0"] * 1.0)
    cols["target"] = np.where(np.nan_to_num(signal) + rng.normal(0, 1, n_rows) > 1.0, "yes", "no")
    return pl.DataFrame(cols)


def run_child(python: str, code: str, data: Path, out: Path, timeout: float) -> dict | str:
    try:
        proc = subprocess.run(
            [python, "-c", code, str(data), str(out)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"did not finish within {timeout:.0f} s"
    if proc.returncode != 0:
        return "failed: " + proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--ydata-python", default="/work/benchenv/bin/python")
    parser.add_argument("--skip-ydata", action="store_true")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_profile_"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"table_{args.rows}x{args.cols}.parquet"
    if not data.exists():
        make_table(args.rows, args.cols).write_parquet(data)
    shape = pl.scan_parquet(data).collect_schema().len()
    print(
        f"data: {args.rows:,} rows x {shape} columns ({data.stat().st_size / 1e6:.0f} MB parquet)"
    )
    print(f"cpus available: {len(os.sched_getaffinity(0))}")

    mlwf = run_child(sys.executable, MLWF_CHILD, data, work / "mlwf.html", args.timeout)
    if isinstance(mlwf, str):
        print(f"mlwf: {mlwf}")
        return 1
    print(
        f"mlwf profile: {mlwf['profile']:.2f} s profile + {mlwf['html']:.2f} s HTML "
        f"(read {mlwf['read']:.2f} s, warm-up {mlwf['warmup']:.2f} s), "
        f"{mlwf['cpu']:.2f} CPU s, peak RSS {mlwf['peak_mb']:.0f} MB, "
        f"sample {mlwf['sample_rows']:,} rows"
    )

    ydata: dict | str
    if args.skip_ydata:
        ydata = "skipped (--skip-ydata)"
    elif not Path(args.ydata_python).exists():
        ydata = (
            f"skipped: {args.ydata_python} not found (create /work/benchenv with ydata-profiling)"
        )
    else:
        check = subprocess.run(
            [args.ydata_python, "-c", "import ydata_profiling"], capture_output=True, text=True
        )
        if check.returncode != 0:
            ydata = f"skipped: ydata_profiling does not import in {args.ydata_python}"
        else:
            ydata = run_child(
                args.ydata_python, YDATA_CHILD, data, work / "ydata.html", args.timeout
            )
    if isinstance(ydata, str):
        print(f"ydata-profiling (minimal): {ydata}")
        return 0
    print(
        f"ydata-profiling {ydata['version']} (minimal): {ydata['profile']:.2f} s profile + "
        f"{ydata['html']:.2f} s HTML (read {ydata['read']:.2f} s), {ydata['cpu']:.2f} CPU s, "
        f"peak RSS {ydata['peak_mb']:.0f} MB"
    )
    ours = mlwf["profile"] + mlwf["html"]
    theirs = ydata["profile"] + ydata["html"]
    print(
        f"speed-up (profile + HTML): {theirs / ours:.1f}x wall, "
        f"{ydata['cpu'] / mlwf['cpu']:.1f}x CPU time; profile only: "
        f"{ydata['profile'] / mlwf['profile']:.1f}x; peak memory ratio "
        f"{ydata['peak_mb'] / mlwf['peak_mb']:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
