"""The ``mlwf`` command line: fit, predict, evaluate, demo.

Every failure the user can cause prints one line on stderr and exits non-zero;
tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from mlwf_core.exceptions import MlwfError

__all__ = ["main"]

DEMO_DATASET = "wa_churn.csv"
DEMO_TARGET = "churn"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    from mlwf_core import __version__

    parser = argparse.ArgumentParser(
        prog="mlwf", description="AutoML for tabular data with a compiled scorer."
    )
    parser.add_argument("--version", action="version", version=f"mlwf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = sub.add_parser("fit", help="fit a model on a table and save it")
    fit.add_argument("data", help="CSV / Parquet / JSON / Arrow file")
    fit.add_argument("--target", "-t", required=True, help="column to predict")
    fit.add_argument(
        "--time-budget",
        type=_positive_float,
        default=60.0,
        help="seconds for the whole fit (default 60)",
    )
    fit.add_argument("--metric", default=None, help="metric to optimise (default by task)")
    fit.add_argument("--task", choices=["binary", "multiclass", "regression"], default=None)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--n-jobs", type=int, default=None, help="threads (default: all cores)")
    fit.add_argument(
        "-o", "--output", default="model.mlwf", help="artifact path (default model.mlwf)"
    )
    fit.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    fit.set_defaults(handler=_cmd_fit)

    predict = sub.add_parser("predict", help="score a table with a saved model")
    predict.add_argument("model", help=".mlwf artifact")
    predict.add_argument("data", help="table to score")
    predict.add_argument(
        "-o", "--output", default=None, help="out.csv or out.parquet (default: CSV on stdout)"
    )
    predict.add_argument(
        "--keep", nargs="*", default=[], help="input columns copied to the output (e.g. IDs)"
    )
    predict.set_defaults(handler=_cmd_predict)

    evaluate = sub.add_parser("evaluate", help="every metric of a saved model on labelled data")
    evaluate.add_argument("model")
    evaluate.add_argument("data")
    evaluate.set_defaults(handler=_cmd_evaluate)

    demo = sub.add_parser("demo", help="fit on the bundled customer-churn data and report")
    demo.add_argument("--time-budget", type=_positive_float, default=20.0)
    demo.add_argument("-o", "--output", default="mlwf-demo.mlwf")
    demo.add_argument("-q", "--quiet", action="store_true")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _print_table(frame: Any) -> None:
    import polars as pl

    with pl.Config(tbl_rows=40, tbl_cols=12, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
        print(frame)


def _leaderboard_view(model: Any) -> Any:
    import polars as pl

    board = model.leaderboard
    done = board.filter(pl.col("state") == "complete")
    ascending = model.metric_ in ("log_loss", "rmse", "mse", "mae")
    return done.sort("cv_score", descending=not ascending).select(
        "model", "cv_score", "n_rounds", "fit_seconds"
    )


def _cmd_fit(args: argparse.Namespace) -> int:
    from mlwf_core.automl import fit_auto

    start = time.monotonic()
    model = fit_auto(
        args.data,
        args.target,
        task=args.task,
        metric=args.metric,
        time_budget=args.time_budget,
        seed=args.seed,
        n_jobs=args.n_jobs,
        verbose=0 if args.quiet else 1,
    )
    path = model.save(args.output)
    _print_table(_leaderboard_view(model).head(10))
    print(f"{model!r}\nfitted in {time.monotonic() - start:.1f} s, saved to {path}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import polars as pl

    from mlwf_core.automl import AutoModel
    from mlwf_core.io import read

    model = AutoModel.load(args.model)
    frame = read(args.data)
    missing = [c for c in args.keep if c not in frame.columns]
    if missing:
        raise MlwfError(f"--keep names column(s) {missing} that are not in {args.data!r}.")
    start = time.perf_counter()
    columns: dict[str, Any] = {c: frame[c] for c in args.keep}
    columns["prediction"] = model.predict(frame)
    if model.task_ != "regression":
        proba = model.predict_proba(frame)
        for j, cls in enumerate(model.classes_):
            columns[f"proba_{cls}"] = proba[:, j]
    out = pl.DataFrame(columns)
    seconds = time.perf_counter() - start
    if args.output is None:
        sys.stdout.write(out.write_csv())
        return 0
    target = Path(args.output)
    if target.suffix.lower() in {".parquet", ".pq"}:
        out.write_parquet(target)
    elif target.suffix.lower() in {".csv", ".txt"}:
        out.write_csv(target)
    else:
        raise MlwfError(f"Cannot tell the output format of {args.output!r}; use .csv or .parquet.")
    rate = out.height / seconds if seconds > 0 else float("inf")
    print(f"wrote {out.height} predictions to {target} ({rate:,.0f} rows/s)", file=sys.stderr)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from mlwf_core.automl import AutoModel

    model = AutoModel.load(args.model)
    scores = model.evaluate(args.data)
    print(json.dumps(scores, indent=2))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import polars as pl

    from mlwf_core.automl import fit_auto
    from mlwf_core.io import read
    from mlwf_core.search import make_splits

    source = resources.files("mlwf_core").joinpath("data", DEMO_DATASET)
    with resources.as_file(source) as path:
        frame = read(path)
    print(
        f"demo: {DEMO_DATASET}, {frame.height} customers x {frame.width} columns; predicting {DEMO_TARGET!r}"
    )
    labels = frame[DEMO_TARGET].cast(pl.String).to_numpy()
    # a stratified 75/25 split: four folds of the 4-fold assignment train, one tests
    splits, _ = make_splits(labels, "binary", seed=0, n_folds=4)
    train_idx, test_idx = splits[0]
    train, test = frame[train_idx], frame[test_idx]
    model = fit_auto(
        train, DEMO_TARGET, time_budget=args.time_budget, verbose=0 if args.quiet else 1
    )
    print("\nleaderboard (cross-validated):")
    _print_table(_leaderboard_view(model).head(10))
    print(f"\n{model!r}")
    print(f"\nholdout metrics on {test.height} customers:")
    for name, value in model.evaluate(test).items():
        print(f"  {name:<20} {value:.4f}")
    path = model.save(args.output)
    print(f"\nsaved the model to {path}; score new data with: mlwf predict {path} DATA")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mlwf`` command line; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except MlwfError as exc:
        print(f"mlwf {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mlwf {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"mlwf {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
