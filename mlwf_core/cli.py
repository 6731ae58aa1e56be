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
from importlib import import_module, resources
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
    fit.add_argument(
        "--n-trials", type=int, default=None, help="stop the search after this many trials"
    )
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

    monitor = sub.add_parser("monitor", help="drift of new data against a model's training profile")
    monitor.add_argument("model")
    monitor.add_argument("data", help="new rows (labelled or not)")
    monitor.add_argument("--labels", default=None, help="column of true labels, for concept drift")
    monitor.add_argument(
        "--state", default=None, help="monitor state JSON to resume from and update"
    )
    monitor.add_argument("--json", action="store_true", help="print the status as JSON")
    monitor.set_defaults(handler=_cmd_monitor)

    retrain = sub.add_parser(
        "retrain", help="train a challenger on new data; keep the better model"
    )
    retrain.add_argument("model")
    retrain.add_argument("data", help="labelled rows, oldest first")
    retrain.add_argument("--time-budget", type=_positive_float, default=None)
    retrain.add_argument(
        "-o", "--output", default=None, help="where to save the winner (default: overwrite MODEL)"
    )
    retrain.set_defaults(handler=_cmd_retrain)

    report = sub.add_parser("report", help="self-contained HTML report of a model")
    report.add_argument("model")
    report.add_argument("data", nargs="?", default=None, help="labelled data for evaluation plots")
    report.add_argument("-o", "--output", default="report.html")
    report.set_defaults(handler=_cmd_report)

    profile = sub.add_parser("profile", help="self-contained HTML profile of a table")
    profile.add_argument("data")
    profile.add_argument("--target", default=None)
    profile.add_argument("-o", "--output", default="profile.html")
    profile.set_defaults(handler=_cmd_profile)

    demo = sub.add_parser("demo", help="fit on the bundled customer-churn data and report")
    demo.add_argument("--time-budget", type=_positive_float, default=20.0)
    demo.add_argument("-o", "--output", default="mlwf-demo.mlwf")
    demo.add_argument("-q", "--quiet", action="store_true")
    demo.set_defaults(handler=_cmd_demo)
    import_module("mlwf_core.deploy._server").add_serve_command(sub)
    import_module("mlwf_core.registry").add_registry_command(sub)
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
        n_trials=args.n_trials,
    )
    path = model.save(args.output)
    _print_table(_leaderboard_view(model).head(10))
    print(f"{model!r}\nfitted in {time.monotonic() - start:.1f} s, saved to {path}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import polars as pl

    from mlwf_core.automl import AutoModel
    from mlwf_core.io import read

    if args.output is not None:
        from mlwf_core.deploy._batch import predict_batch

        done = predict_batch(args.model, args.data, args.output, keep=args.keep)
        print(
            f"wrote {done['rows']} predictions to {done['output']} ({done['rows_per_s']:,.0f} rows/s)",
            file=sys.stderr,
        )
        return 0
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


def _cmd_monitor(args: argparse.Namespace) -> int:
    import polars as pl

    from mlwf_core.automl import AutoModel
    from mlwf_core.io import read
    from mlwf_core.monitor import DriftMonitor

    model = AutoModel.load(args.model)
    frame = read(args.data)
    state = Path(args.state) if args.state else None
    monitor = DriftMonitor.load(state) if state and state.exists() else model.monitor()
    if args.labels is not None and args.labels not in frame.columns:
        raise MlwfError(f"--labels names column {args.labels!r}, which is not in {args.data!r}.")
    features = frame.drop(args.labels) if args.labels else frame
    scores = (
        model.predict_proba(features) if model.task_ != "regression" else model.predict(features)
    )
    ids = [str(i) for i in range(frame.height)]
    monitor.update(features, scores, ids=ids)
    if args.labels:
        monitor.feedback(ids, frame[args.labels].to_list())
    status = monitor.status()
    if state:
        monitor.save(state)
    if args.json:
        print(json.dumps(status, indent=2, default=str))
    else:
        print(f"verdict: {status['verdict'].upper()}  ({status['n_rows']} rows)")
        with pl.Config(tbl_rows=60, tbl_hide_dataframe_shape=True, float_precision=4):
            print(monitor.feature_table())
        for alert in status["alerts"]:
            print(f"- {alert['kind']}: {alert['message']}")
        if status["n_feedback"]:
            print(
                f"labelled feedback: {status['n_feedback']} rows, error rate {status['error_rate']:.4f}, concept drift: {status['concept_drift']}"
            )
    return 1 if status["verdict"] == "drift" else 0


def _cmd_retrain(args: argparse.Namespace) -> int:
    from mlwf_core.automl import AutoModel, retrain

    champion = AutoModel.load(args.model)
    winner = retrain(champion, args.data, time_budget=args.time_budget)
    record = winner.lineage_["retrains"][-1]
    path = winner.save(args.output or args.model)
    print(
        f"{record['metric']} on the {record['compared_on_rows']} most recent rows: champion {record['champion_score']:.5f}, "
        f"challenger {record['challenger_score']:.5f} -> kept the {record['decision']}; saved to {path}"
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from mlwf_core.automl import AutoModel

    model = AutoModel.load(args.model)
    path = model.report(args.output, args.data)
    print(f"wrote {path}")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from mlwf_core.eda import profile

    result = profile(args.data, target=args.target)
    path = result.to_html(args.output)
    print(f"wrote {path}")
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
