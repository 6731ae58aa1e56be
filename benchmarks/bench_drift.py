"""Drift detectors of mlwf_core.drift against river.drift, in the same run.

Usage: ``python benchmarks/bench_drift.py [--reps 20] [--stationary 5000000] [--no-river]``

Streams (fixed seeds), each replicate a pre-change segment of ``PRE`` in-control points then
``POST`` points after a known change point:

* ``shift 0.5`` .. ``shift 3``: abrupt mean shift of N(0, 1) by 0.5, 1, 2 and 3 sigma;
* ``gradual``: the mean ramps linearly from 0 to 2 sigma over the post-change segment;
* ``variance``: the standard deviation goes from 1 to 3;
* ``bernoulli``: an error stream whose error rate goes from 0.1 to 0.3 (all detectors; this is
  DDM's and EDDM's home ground);
* ``stationary``: ``--stationary`` N(0, 1) points (Bernoulli(0.1) for the error detectors).

Per detector: mean delay from the change point to the first detection after it (over the
replicates that detected within ``POST`` points), missed detections, false alarms per 1e5
stationary points, per-item ``update`` time from Python, ``update_many`` time per item (both on
the first ``--speed-points`` stationary points, River per item on the same points) and the
speed-ups over River. River is run on the same arrays. ``cal@`` rows are mlwf detectors
calibrated on an independent in-control sample (``PageHinkley.calibrated`` etc.; N(0, 1), and
Bernoulli(0.1) for the bernoulli streams) to the false-alarm rate written after the ``@`` (``river-X``: the rate River's X shows here with its
defaults); ``always-fire`` signals at every point.

River's KSWIN takes ~140 us per point, so it (and mlwf's KSWIN, for a like-for-like comparison)
runs on the first ``--kswin-reps`` replicates and ``--kswin-stationary`` stationary points.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlwf_core import drift as md

PRE = 5000
POST = 3000
SCENARIOS = ("shift 0.5", "shift 1", "shift 2", "shift 3", "gradual", "variance", "bernoulli")


def make_streams(reps: int, seed: int = 0) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {s: [] for s in SCENARIOS}
    for _ in range(reps):
        for size in (0.5, 1.0, 2.0, 3.0):
            x = rng.normal(size=PRE + POST)
            x[PRE:] += size
            out[f"shift {size:g}"].append(x)
        x = rng.normal(size=PRE + POST)
        x[PRE:] += np.linspace(0.0, 2.0, POST)
        out["gradual"].append(x)
        x = rng.normal(size=PRE + POST)
        x[PRE:] *= 3.0
        out["variance"].append(x)
        p = np.r_[np.full(PRE, 0.1), np.full(POST, 0.3)]
        out["bernoulli"].append((rng.random(PRE + POST) < p).astype(np.float64))
    return out


@dataclass
class Row:
    name: str
    make: Callable[[], Any]
    make_bernoulli: Callable[[], Any] | None = None  # for the bernoulli streams, if different
    binary: bool = False  # takes only 0/1 (runs on the bernoulli streams only)
    river: bool = False
    max_reps: int | None = None
    delays: dict[str, tuple[float, int, int]] = field(default_factory=dict)
    fa_per_1e5: float = math.nan
    item_ns: float = math.nan
    many_ns: float = math.nan


def detections(det: Any, x: np.ndarray, river: bool) -> np.ndarray:
    if not river:
        return det.update_many(x)
    out = []
    for i, v in enumerate(x.tolist()):
        det.update(v)
        if det.drift_detected:
            out.append(i)
    return np.asarray(out, dtype=np.int64)


def run_delays(row: Row, streams: dict[str, list[np.ndarray]]) -> None:
    for scen in SCENARIOS:
        if row.binary and scen != "bernoulli":
            continue
        reps = streams[scen][: row.max_reps]
        delays, missed = [], 0
        make = row.make_bernoulli if scen == "bernoulli" and row.make_bernoulli else row.make
        for x in reps:
            idx = detections(make(), x, row.river)
            after = idx[idx >= PRE]
            if after.size:
                delays.append(int(after[0]) - PRE)
            else:
                missed += 1
        mean = float(np.mean(delays)) if delays else math.nan
        row.delays[scen] = (mean, missed, len(reps))


def mean_delay(row: Row) -> float:
    """Mean over the numeric scenarios of the mean delays (a miss counts as POST)."""
    values = []
    for scen in SCENARIOS[:-1]:
        if scen not in row.delays:
            return math.nan
        mean, missed, n = row.delays[scen]
        hits = n - missed
        total = (0.0 if hits == 0 else mean * hits) + missed * POST
        values.append(total / n)
    return float(np.mean(values))


def best_time(fn: Callable[[], None], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def per_item_ns(make: Callable[[], Any], values: list[float], repeat: int) -> float:
    def go() -> None:
        update = make().update
        for v in values:
            update(v)

    return best_time(go, repeat) / len(values) * 1e9


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--stationary", type=int, default=5_000_000)
    ap.add_argument("--speed-points", type=int, default=200_000)
    ap.add_argument("--kswin-reps", type=int, default=3)
    ap.add_argument("--kswin-stationary", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-river", action="store_true")
    args = ap.parse_args(argv)

    rdrift = rbinary = None
    if not args.no_river:
        try:
            from river import drift as rdrift
            from river.drift import binary as rbinary
        except ImportError:
            print("river is not installed: mlwf only (pip install river)")

    load_start = os.getloadavg()[0]
    streams = make_streams(args.reps)
    rng = np.random.default_rng(123)
    stat = rng.normal(size=args.stationary)
    stat_bin = (rng.random(args.stationary) < 0.1).astype(np.float64)
    # independent in-control samples for the calibration
    reference = np.random.default_rng(99).normal(size=5000)
    reference_bin = (np.random.default_rng(98).random(5000) < 0.1).astype(np.float64)

    rows = [
        Row("mlwf ADWIN", md.ADWIN),
        Row("mlwf PageHinkley", md.PageHinkley),
        Row("mlwf CUSUM", md.CUSUM),
        Row("mlwf KSWIN", md.KSWIN, max_reps=args.kswin_reps),
        Row("mlwf DDM", md.DDM, binary=True),
        Row("mlwf EDDM", md.EDDM, binary=True),
    ]
    if rdrift is not None:
        rows += [
            Row("river ADWIN", rdrift.ADWIN, river=True),
            Row("river PageHinkley", rdrift.PageHinkley, river=True),
            Row("river KSWIN", lambda: rdrift.KSWIN(seed=0), river=True, max_reps=args.kswin_reps),
            Row("river DDM", rbinary.DDM, binary=True, river=True),
            Row("river EDDM", rbinary.EDDM, binary=True, river=True),
        ]

    def measure_fa(row: Row) -> None:
        x = stat_bin if row.binary else stat
        if row.max_reps is not None:
            x = x[: args.kswin_stationary]
        n = detections(row.make(), x, row.river).size
        row.fa_per_1e5 = n / len(x) * 1e5

    for row in rows:
        run_delays(row, streams)
        measure_fa(row)

    # calibrated detectors: at 1 false alarm per 1e5 points, and at River's default rates
    targets: list[tuple[str, float]] = [("1e5", 1e5)]
    for r in rows:
        if r.river and r.name in ("river ADWIN", "river PageHinkley"):
            fa = r.fa_per_1e5
            # no false alarm seen: the stream length is a lower bound of the run length
            arl = 1e5 / fa if fa > 0 else float(len(stat))
            targets.append((r.name.replace(" ", "-"), arl))
    cal_rows = []
    for label, arl in targets:
        for cls in (md.ADWIN, md.PageHinkley, md.CUSUM):
            t0 = time.perf_counter()
            det = cls.calibrated(reference, arl, seed=0)
            secs = time.perf_counter() - t0
            params = det.get_params()
            params_bin = cls.calibrated(reference_bin, arl, seed=0).get_params()
            row = Row(
                f"mlwf {cls.__name__} cal@{label}",
                lambda cls=cls, params=params: cls(**params),
                make_bernoulli=lambda cls=cls, params=params_bin: cls(**params),
            )
            run_delays(row, streams)
            measure_fa(row)
            cal_rows.append((row, secs, arl))
    rows += [r for r, _, _ in cal_rows]

    # speed: River and mlwf on the same points (the first --speed-points stationary ones)
    values = stat[: args.speed_points].tolist()
    values_bin = stat_bin[: args.speed_points].tolist()
    for row in rows:
        if "cal@" in row.name:
            continue
        vals = values_bin if row.binary else values
        if row.river:
            n = 2_000 if "KSWIN" in row.name else len(vals)
            row.item_ns = per_item_ns(row.make, vals[:n], max(1, args.repeat - 1))
        else:
            row.item_ns = per_item_ns(row.make, vals, args.repeat)
            arr = np.asarray(vals)

            def run_many(a: np.ndarray = arr, make: Callable[[], Any] = row.make) -> None:
                make().update_many(a)

            row.many_ns = best_time(run_many, 3 * args.repeat)  # cheap: more tries vs noise
            row.many_ns = row.many_ns / len(arr) * 1e9

    always = Row("always-fire", lambda: None)
    for scen in SCENARIOS:
        always.delays[scen] = (0.0, 0, args.reps)
    always.fa_per_1e5 = 1e5
    rows.append(always)

    # table
    print(
        f"\nstreams: {args.reps} replicates of {PRE} in-control + {POST} post-change points; "
        f"stationary: {args.stationary:,} points; delay = mean points to first detection after "
        "the change (missed/replicates); mean = over the six numeric scenarios, a miss counting "
        f"as {POST}; load average at start {load_start:.1f}, at end {os.getloadavg()[0]:.1f}"
    )
    head = f"{'detector':34s}" + "".join(f"{s:>15s}" for s in SCENARIOS)
    head += f"{'mean':>7s}{'FA/1e5':>10s}{'update ns':>11s}{'many ns':>9s}"
    print(head)
    print("-" * len(head))
    river_of = {r.name.split(" ", 1)[1]: r for r in rows if r.river}
    for row in rows:
        cells = []
        for scen in SCENARIOS:
            if scen not in row.delays:
                cells.append(f"{'-':>15s}")
                continue
            mean, missed, n = row.delays[scen]
            txt = "-" if math.isnan(mean) else f"{mean:.0f}"
            cells.append(f"{txt + f' ({missed}/{n})':>15s}")
        item = "" if math.isnan(row.item_ns) else f"{row.item_ns:.1f}"
        many = "" if math.isnan(row.many_ns) else f"{row.many_ns:.2f}"
        mean = mean_delay(row)
        mean_txt = "-" if math.isnan(mean) else f"{mean:.0f}"
        print(
            f"{row.name:34s}{''.join(cells)}{mean_txt:>7s}{row.fa_per_1e5:10.2f}"
            f"{item:>11s}{many:>9s}"
        )

    if river_of:
        print("\nspeed-up over River (River per-item update from Python as the base)")
        for row in rows:
            if row.river or "cal@" in row.name or row.name == "always-fire":
                continue
            base = river_of.get(row.name.split(" ", 1)[1])
            if base is None:
                continue
            print(
                f"  {row.name:20s} update {base.item_ns / row.item_ns:7.1f}x   "
                f"update_many {base.item_ns / row.many_ns:8.1f}x   "
                f"(River {base.item_ns:.1f} ns/point)"
            )
    print("\ncalibration (simulated on bootstrap resamples of 5000 N(0,1) reference points)")
    for row, secs, arl in cal_rows:
        print(
            f"  {row.name:34s} target {arl:12,.0f} points/false alarm, "
            f"observed FA/1e5 {row.fa_per_1e5:6.2f} (target {1e5 / arl:6.2f}), "
            f"calibration {secs:.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
