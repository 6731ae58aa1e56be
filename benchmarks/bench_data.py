"""Data-layer speed and memory: mlwf (Polars + Numba) against pandas + scikit-learn.

One generated table (1,000,000 rows x 50 mixed columns by default: numeric,
categorical of low and high cardinality, dates stored as text, free text,
yes / no flags, 5 % missing values, a binary target) is written once to CSV and
Parquet. Each path then runs in its own fresh process, so peak memory
(``ru_maxrss``) is measured per path:

- mlwf: ``mlwf_core.read`` -> ``infer_schema`` -> ``Preprocessor(features=False, op_kinds="all").fit``
  -> ``Plan.transform`` (training matrix);
- pandas + scikit-learn, as a pandas user would: ``read_csv`` / ``read_parquet``,
  text columns to ``category``, dates parsed with ``to_datetime``, then
  ``SimpleImputer`` (numbers), ``OrdinalEncoder`` (low-cardinality categoricals),
  ``TargetEncoder`` (high-cardinality ones), date parts and text lengths.

Run::

    python benchmarks/bench_data.py                  # 1e6 x 50
    python benchmarks/bench_data.py --rows 100000    # quicker
    python benchmarks/bench_data.py --repeat 3       # medians of 3 interleaved runs
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

N_NUMERIC, N_LOW_CAT, N_HIGH_CAT, N_DATES, N_TEXT, N_FLAGS = 30, 8, 2, 4, 3, 2
WORDS = np.array(
    "late damaged refund billing login password delivery box order account support "
    "fast slow great poor price app crash update card".split()
)


def generate(rows: int, seed: int = 0) -> pl.DataFrame:
    """The mixed table, 5 % missing in every feature column."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    signal = np.zeros(rows)
    for j in range(N_NUMERIC):
        x = rng.normal(size=rows) * (j + 1)
        signal += x / (j + 1) * (j < 5)
        cols[f"num{j}"] = x
    for j in range(N_LOW_CAT):
        levels = np.array([f"L{j}_{i}" for i in range(5 + 5 * j)])
        cols[f"cat{j}"] = levels[rng.integers(0, len(levels), rows)]
    for j in range(N_HIGH_CAT):
        code = rng.integers(0, 20_000, rows)
        signal += 0.5 * (code % 2)
        cols[f"hcat{j}"] = np.char.add("H", code.astype(str))
    base = np.datetime64("2015-01-01T00:00")
    for j in range(N_DATES):
        minutes = rng.integers(0, 5 * 365 * 24 * 60, rows)
        cols[f"date{j}"] = np.datetime_as_string(base + minutes.astype("timedelta64[m]"))
    for j in range(N_TEXT):
        picks = WORDS[rng.integers(0, len(WORDS), (rows, 4))]
        cols[f"text{j}"] = np.char.add(
            np.char.add(picks[:, 0], " "), np.char.add(picks[:, 1], " ok")
        )
    for j in range(N_FLAGS):
        cols[f"flag{j}"] = np.where(rng.uniform(size=rows) < 0.5, "yes", "no")
    frame = pl.DataFrame(cols)
    mask = rng.uniform(size=(rows, frame.width)) < 0.05
    frame = frame.with_columns(
        [
            pl.when(pl.Series(mask[:, i])).then(None).otherwise(pl.col(name)).alias(name)
            for i, name in enumerate(frame.columns)
        ]
    )
    y = (signal + rng.normal(size=rows) > 0.5).astype(np.int64)
    return frame.with_columns(pl.Series("target", y))


# ru_maxrss of a child inherits the parent's high-water mark across fork + exec on
# Linux; VmHWM is the child's own peak resident memory.
PEAK = """
def peak_mb():
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb():
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
"""

MLWF = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np, polars as pl
    PEAK
    import mlwf_core as mw
    from mlwf_core.preprocess import Preprocessor
    from mlwf_core.schema import infer_schema
    # load the Numba kernels from their on-disk cache (compiled on the very first run)
    small = pl.DataFrame({"h": [f"h{i % 99}" for i in range(400)], "t": ["a b"] * 400,
                          "y": [i % 2 for i in range(400)]})
    Preprocessor(features=False, op_kinds="all", max_native_levels=8).fit(small, infer_schema(small, "y"),
                                                          small["y"].to_numpy())
    path = sys.argv[1]
    out = {"base_mb": rss_mb()}
    t = time.perf_counter(); frame = mw.read(path); out["read"] = time.perf_counter() - t
    t = time.perf_counter(); schema = infer_schema(frame, "target"); out["schema"] = time.perf_counter() - t
    y = frame["target"].to_numpy().astype(np.float64)
    t = time.perf_counter()
    pre = Preprocessor(features=False, op_kinds="all").fit(frame, schema, y)
    X = pre.plan_.transform(frame)
    out["fit_transform"] = time.perf_counter() - t
    out["shape"] = list(X.shape)
    out["n_ops"] = len(pre.plan_.ops)
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))
    """
)

PANDAS = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np, pandas as pd
    PEAK
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OrdinalEncoder, TargetEncoder
    path = sys.argv[1]
    out = {"base_mb": rss_mb()}
    t = time.perf_counter()
    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    out["read"] = time.perf_counter() - t
    t = time.perf_counter()
    y = df.pop("target").to_numpy()
    text_cols = [c for c in df.columns if df[c].dtype == object or str(df[c].dtype).startswith("str")]
    dates, texts, flags, cats = [], [], [], []
    for c in text_cols:
        sample = df[c].dropna().head(1000)
        if pd.to_datetime(sample, errors="coerce").notna().mean() > 0.95:
            dates.append(c)
        elif sample.str.count(" ").mean() >= 1:
            texts.append(c)
        elif set(sample.str.lower().unique()) <= {"yes", "no"}:
            flags.append(c)
        else:
            cats.append(c)
            df[c] = df[c].astype("category")
    numeric = [c for c in df.columns if c not in text_cols]
    out["schema"] = time.perf_counter() - t
    t = time.perf_counter()
    parts = [SimpleImputer(strategy="median").fit_transform(df[numeric])]
    low = [c for c in cats if df[c].cat.categories.size <= 64]
    high = [c for c in cats if c not in low]
    if low:
        enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                             encoded_missing_value=np.nan)
        parts.append(enc.fit_transform(df[low].astype(object).where(df[low].notna(), None)))
    if high:
        te = TargetEncoder(target_type="binary", random_state=0)
        parts.append(te.fit_transform(df[high].astype(str), y))
    for c in dates:
        d = pd.to_datetime(df[c], errors="coerce")
        parts.append(np.column_stack([d.dt.year, d.dt.month, d.dt.day, d.dt.dayofweek, d.dt.hour,
                                      (d - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400]))
    for c in texts:
        s = df[c]
        parts.append(np.column_stack([s.str.len(), s.str.split().str.len()]))
    for c in flags:
        parts.append(df[c].map({"yes": 1.0, "no": 0.0}).to_numpy()[:, None])
    X = np.ascontiguousarray(np.column_stack(parts), dtype=np.float32)
    out["fit_transform"] = time.perf_counter() - t
    out["shape"] = list(X.shape)
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))
    """
)


def run(code: str, path: Path) -> dict[str, Any]:
    """Run one path in a fresh interpreter; its JSON line, or the error."""
    code = code.replace("PEAK", textwrap.indent(PEAK, "").strip("\n"), 1)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", default="", help="where to write the data (default: a temp dir)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every path this many times, interleaved, and compare the medians "
        "(first-touch memory costs vary from run to run on virtual machines)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(dir=args.dir or None) as tmp:
        csv_path, pq_path = Path(tmp) / "data.csv", Path(tmp) / "data.parquet"
        frame = generate(args.rows)
        # Raw size: the table's Arrow buffers (values, validity, offsets and string
        # bytes). Polars' estimated_size leaves out the 16-byte views of its string
        # columns, so it undercounts string-heavy tables (kept as a second figure).
        raw_mb = frame.to_arrow().nbytes / 2**20
        est_mb = frame.estimated_size("mb")
        frame.write_csv(csv_path)
        frame.write_parquet(pq_path)
        del frame
        csv_mb = csv_path.stat().st_size / 2**20
        print(
            f"table: {args.rows} rows x 50 columns, raw = in memory {raw_mb:.0f} MB (Arrow buffers; "
            f"Polars estimated_size {est_mb:.0f} MB), "
            f"CSV {csv_mb:.0f} MB, Parquet {pq_path.stat().st_size / 2**20:.0f} MB"
        )
        runs: dict[str, list[dict[str, Any]]] = {}
        for attempt in range(args.repeat):
            if args.repeat > 1:
                print(f"run {attempt + 1} of {args.repeat}")
            for label, code, path in [
                ("mlwf csv", MLWF, csv_path),
                ("pandas+sklearn csv", PANDAS, csv_path),
                ("mlwf parquet", MLWF, pq_path),
                ("pandas+sklearn parquet", PANDAS, pq_path),
            ]:
                res = run(code, path)
                runs.setdefault(label, []).append(res)
                report(label, res, raw_mb, est_mb, csv_mb)
        results = {label: _median_run(values) for label, values in runs.items()}
        if args.repeat > 1:
            print(f"median of {args.repeat} runs (peak: the highest)")
            for label, res in results.items():
                report(label, res, raw_mb, est_mb, csv_mb)
        for fmt in ("csv", "parquet"):
            a, b = results.get(f"mlwf {fmt}", {}), results.get(f"pandas+sklearn {fmt}", {})
            if "total" in a and "total" in b:
                print(
                    f"{fmt}: mlwf is {b['total'] / a['total']:.1f}x faster than pandas + scikit-learn"
                )
    return 0


def _median_run(values: list[dict[str, Any]]) -> dict[str, Any]:
    """Median seconds of each step and of the total; the highest peak memory."""
    ok = [v for v in values if "error" not in v]
    if not ok:
        return values[0]
    out = dict(ok[0])
    for key in ("read", "schema", "fit_transform", "total"):
        out[key] = float(np.median([v[key] for v in ok]))
    worst = max(ok, key=lambda v: v["peak_mb"])
    out["peak_mb"], out["base_mb"] = worst["peak_mb"], worst["base_mb"]
    return out


def report(label: str, res: dict[str, Any], raw_mb: float, est_mb: float, csv_mb: float) -> None:
    """One line per path and run: seconds per step and peak memory."""
    if "error" in res:
        print(f"{label:<24} FAILED: {res['error']}")
        return
    res.setdefault("total", res["read"] + res["schema"] + res["fit_transform"])
    peak, base = res["peak_mb"], res["base_mb"]
    print(
        f"{label:<24} read {res['read']:7.2f} s  schema {res['schema']:6.2f} s  "
        f"fit+apply {res['fit_transform']:7.2f} s  total {res['total']:7.2f} s  "
        f"peak {peak:6.0f} MB ({peak / raw_mb:.2f}x raw, {peak / est_mb:.2f}x estimated_size, "
        f"{peak / csv_mb:.2f}x the CSV file; {peak - base:.0f} MB over the {base:.0f} MB "
        f"after imports, {(peak - base) / raw_mb:.2f}x raw)  matrix {res['shape']}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
