"""Self-contained HTML reports: the data profile and the model report.

Each report is one HTML file with its stylesheet (``report.css``, package
data) inlined and every chart drawn as inline SVG (:mod:`mlwf_core._plot`). It
holds no script and no external reference, and a Content-Security-Policy of
``default-src 'none'`` stops the browser from fetching anything, so the file
opens offline and cannot leak data. Print styles give a clean paper copy.
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from mlwf_core import _plot
from mlwf_core._plot import fmt
from mlwf_core._report_html import (
    _atomic_write,
    _badge,
    _document,
    _kpis,
    _kv,
    _note,
    _profile_sections,
    _Raw,
    _table,
)
from mlwf_core.exceptions import DataError, MlwfError, ParameterError

if TYPE_CHECKING:
    from mlwf_core.eda import Profile

__all__ = ["model_report_html", "profile_html", "render_model_report", "render_profile_report"]

# Metrics where lower is better; every other metric is maximised.
_MINIMISE = frozenset({"log_loss", "logloss", "rmse", "mse", "mae", "mape", "brier", "error"})
_MAX_LEADERBOARD = 25
_MAX_IMPORTANCE = 30
_EXPLAIN_ROWS = 500
_CURVE_POINTS = 400
# columns of an explanation frame that are not per-feature contributions
_NOT_FEATURES = frozenset(
    {
        "bias",
        "base_value",
        "expected_value",
        "baseline",
        "prediction",
        "raw_prediction",
        "row",
        "class",
    }
)


# ---------------------------------------------------------------------------
# public API


def profile_html(profile: Profile, *, title: str | None = None) -> str:
    """Return the profile report as an HTML document."""
    heading = title or "Data profile"
    sub = f"{profile.n_rows:,} rows × {profile.n_columns:,} columns · profiled {profile.created}"
    return _document(heading, sub, _profile_sections(profile))


def render_profile_report(profile: Profile, path: str | os.PathLike[str]) -> Path:
    """Write the profile report to ``path`` atomically and return the path."""
    return _atomic_write(path, profile_html(profile))


def model_report_html(model: Any, data: Any = None, *, monitor: Any = None) -> str:
    """Return the model report as an HTML document; see :func:`render_model_report`."""
    for attr in ("task_", "metric_", "target_", "leaderboard", "features_"):
        if not hasattr(model, attr):
            raise ParameterError(
                "The 'model' parameter of render_model_report must be a fitted mlwf AutoModel. "
                f"Got {type(model).__name__} without the {attr!r} attribute instead."
            )
    frame = None
    if data is not None:
        from mlwf_core.eda import _as_frame

        frame = _as_frame(data)
    monitor = monitor if monitor is not None else getattr(model, "monitor_", None)
    sections = [
        ("summary", "Summary", _summary(model)),
        ("card", "Model card", _model_card(model, frame, monitor)),
        ("leaderboard", "Leaderboard and search history", _leaderboard(model)),
        ("ensemble", "Ensemble members", _ensemble(model)),
        ("evaluation", "Evaluation", _evaluation(model, frame)),
        ("importance", "Feature importance", _importance(model)),
        ("shap", "SHAP summary", _shap(model, frame)),
    ]
    if monitor is not None:
        sections.append(("drift", "Drift status", _drift(monitor)))
    if frame is not None:
        from mlwf_core.eda import profile

        target = model.target_ if model.target_ in frame.columns else None
        p = profile(frame, target=target)
        sections += [(f"data-{a}", f"Data: {h}", b) for a, h, b in _profile_sections(p)]
    sub = f"target {model.target_!r} · {model.task_} · metric {model.metric_}"
    created = getattr(model, "created_", None)
    if created:
        sub += f" · trained {created}"
    return _document(f"Model report: {model.target_}", sub, sections)


def render_model_report(
    model: Any, path: str | os.PathLike[str], data: Any = None, *, monitor: Any = None
) -> Path:
    """Write the model report to ``path`` atomically and return the path.

    Parameters
    ----------
    model
        A fitted :class:`mlwf_core.automl.AutoModel` (or any object with its
        attributes: ``task_``, ``metric_``, ``target_``, ``classes_``,
        ``leaderboard``, ``ensemble_``, ``cv_score_``, ``test_scores_``,
        ``feature_importance()``, ``predict``, ``predict_proba``, ``evaluate``,
        ``fingerprint_``, ``created_``, ``success_``, ``features_``). When it
        also has ``explain(frame)`` returning a Polars frame of per-feature
        contributions, the report shows a SHAP summary.
    path
        Where to write the HTML file.
    data
        Labelled data (anything :func:`mlwf_core.io.read` accepts) for the
        evaluation plots (ROC, precision-recall, calibration and confusion matrix
        for classifiers; residuals and predicted-vs-actual for regression), the
        SHAP summary and the data profile. Without it those sections say so.
    monitor
        A drift monitor whose ``status()`` (and ``feature_table()`` when it has
        one) is shown; defaults to the model's ``monitor_`` attribute.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ParameterError
        ``model`` is not a fitted model or ``path`` is a directory.
    DataError
        ``data`` cannot be read, or its labels match none of the model's classes.
    """
    return _atomic_write(path, model_report_html(model, data, monitor=monitor))


# ---------------------------------------------------------------------------
# model sections


def _direction(metric: str) -> str:
    from mlwf_core.metrics import METRICS

    known = METRICS.get(metric)
    if known is not None:
        return known.direction
    return "minimize" if metric.lower() in _MINIMISE else "maximize"


def _success(model: Any) -> str:
    success = getattr(model, "success_", None)
    if not success:
        return _badge("no success criterion set")
    parts = []
    detail = success.get("detail") or {}
    for name, threshold in success.get("criterion", {}).items():
        sign = "≥" if _direction(name) == "maximize" else "≤"
        text = f"{name} {sign} {fmt(threshold)}"
        value = (detail.get(name) or {}).get("cv_value")
        if value is not None:
            text += f" (CV {fmt(value)})"
        parts.append(text)
    met = bool(success.get("met"))
    label = f"success criterion {', '.join(parts)}: {'met' if met else 'not met'}"
    return _badge(label, "good" if met else "bad")


def _summary(model: Any) -> str:
    tests = getattr(model, "test_scores_", None) or {}
    pairs: list[tuple[str, Any]] = [
        ("task", model.task_),
        (f"CV {model.metric_}", getattr(model, "cv_score_", None)),
    ]
    pairs += [(f"test {k}", v) for k, v in tests.items()]
    html = _kpis(pairs) + f"<p>{_success(model)}</p>"
    if not tests:
        html += _note("No held-out test scores were recorded for this model.")
    return html


def _model_card(model: Any, frame: pl.DataFrame | None, monitor: Any) -> str:
    features = list(model.features_)
    n_trials = _n_trials(model.leaderboard)
    shown = ", ".join(features[:40]) + (
        f" … ({len(features)} in all)" if len(features) > 40 else ""
    )
    intended = (
        f"Predicts {model.target_!r} ({model.task_}) for tabular records with the same columns "
        f"and meaning as the training data. Selected by mlwf's automated search over {n_trials} "
        f"trials, optimising {model.metric_} ({_direction(model.metric_)})."
    )
    limitations = [
        "Valid only for data drawn like the training data; watch input drift in production.",
        "Associations learned from observational data are not causal effects.",
        f"The CV score is the best of {n_trials} trials and may be slightly optimistic; "
        "trust held-out test scores over it.",
    ]
    if model.task_ != "regression":
        limitations.append(
            "Predicted probabilities are only as reliable as the calibration plot shows."
        )
    if monitor is None:
        limitations.append("No drift monitor is attached to this report.")
    if frame is None:
        limitations.append("No evaluation data was given to this report.")
    metrics = [(f"CV {model.metric_}", getattr(model, "cv_score_", None))]
    metrics += [(f"test {k}", v) for k, v in (getattr(model, "test_scores_", None) or {}).items()]
    html = "<h3>Intended use</h3>" + f"<p>{escape(intended)}</p>"
    html += "<h3>Training data</h3>" + _kv(
        [
            ("fingerprint", getattr(model, "fingerprint_", None)),
            ("trained", getattr(model, "created_", None)),
            ("input columns", shown),
            ("classes", ", ".join(map(str, getattr(model, "classes_", None) or [])) or None),
        ]
    )
    html += "<h3>Metrics</h3>" + _kv(metrics) + f"<p>{_success(model)}</p>"
    html += (
        "<h3>Limitations</h3><ul>" + "".join(f"<li>{escape(x)}</li>" for x in limitations) + "</ul>"
    )
    return html


def _n_trials(lb: pl.DataFrame | None) -> int:
    """Search trials on the leaderboard; the ensemble's own row (trial -1) is not one."""
    if lb is None:
        return 0
    return lb.filter(pl.col("trial") >= 0).height if "trial" in lb.columns else lb.height


def _short_params(text: Any, limit: int = 110) -> _Raw:
    try:
        params = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        params = text
    if isinstance(params, dict):
        short = ", ".join(f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in params.items())
    elif isinstance(params, list):
        # the ensemble row lists its members
        short = "; ".join(
            ", ".join(f"{k}={v}" for k, v in p.items()) if isinstance(p, dict) else str(p)
            for p in params
        )
    else:
        short = "" if params is None else str(params)
    full = escape(short)
    cut = escape(short if len(short) <= limit else short[: limit - 1] + "…")
    return _Raw(f'<span title="{full}">{cut}</span>')


def _leaderboard(model: Any) -> str:
    lb: pl.DataFrame | None = model.leaderboard
    if lb is None or lb.height == 0:
        return _note("No trials were recorded.")
    minimise = _direction(model.metric_) == "minimize"
    # failed trials score NaN; as nulls they sort last in either direction
    lb = lb.with_columns(pl.col("cv_score").cast(pl.Float64).fill_nan(None))
    ranked = lb.sort("cv_score", descending=not minimise, nulls_last=True)
    html = _table(
        ["rank", "model", "learner", f"CV {model.metric_}", "fit seconds", "trial", "parameters"],
        [
            (
                i + 1,
                r["model"],
                r["learner"],
                r["cv_score"],
                r["fit_seconds"],
                r["trial"],
                _short_params(r["params"]),
            )
            for i, r in enumerate(ranked.head(_MAX_LEADERBOARD).iter_rows(named=True))
        ],
        numeric=[True, False, False, True, True, True, False],
    )
    if lb.height > _MAX_LEADERBOARD:
        html += _note(f"Best {_MAX_LEADERBOARD} of {lb.height} trials.")
    # the ensemble row (trial -1) is not a search step
    hist = lb.filter(pl.col("trial") >= 0).sort("trial").select("trial", "cv_score").drop_nulls()
    if hist.height:
        scores = hist["cv_score"].to_numpy().astype(float)
        best = np.minimum.accumulate(scores) if minimise else np.maximum.accumulate(scores)
        trials = hist["trial"].to_numpy().astype(float)
        html += (
            "<h3>Optimisation history</h3>"
            + '<div class="plotbox">'
            + _plot.line_chart(
                [("trial score", trials, scores), ("best so far", trials, best)],
                x_label="trial",
                y_label=f"CV {model.metric_}",
                markers=True,
                # keep the legend off the best-so-far line, which hugs the better edge
                legend="upper right" if minimise else "lower right",
                title="CV score by trial",
            )
            + "</div>"
        )
    return html


def _ensemble(model: Any) -> str:
    members = getattr(model, "ensemble_", None) or []
    if not members:
        return _note("The model is a single learner (no ensemble).")
    html = _table(
        ["learner", "weight", "parameters"],
        [(m.get("learner"), m.get("weight"), _short_params(m.get("params"))) for m in members],
        numeric=[False, True, False],
    )
    html += _plot.bar_chart(
        [f"{i + 1}. {m.get('learner')}" for i, m in enumerate(members)],
        [float(m.get("weight", 0.0)) for m in members],
        title="Ensemble weights",
    )
    return html


def _evaluation(model: Any, frame: pl.DataFrame | None) -> str:
    if frame is None:
        return _note("Pass labelled data to the report to see evaluation plots.")
    target = model.target_
    if target not in frame.columns:
        return _note(f"The data has no {target!r} column, so the model cannot be evaluated on it.")
    frame = frame.filter(pl.col(target).is_not_null())
    if frame.height == 0:
        raise DataError(
            f"Every value of the target column {target!r} in the report data is missing."
        )
    scores = model.evaluate(frame)
    html = f"<p>On {frame.height:,} labelled rows:</p>" + _kpis(list(scores.items()))
    if model.task_ == "regression":
        return html + _regression_plots(model, frame)
    return html + _classifier_plots(model, frame)


def _as_matrix(values: Any) -> np.ndarray:
    if isinstance(values, pl.DataFrame):
        return values.to_numpy().astype(float)
    if isinstance(values, pl.Series):
        return values.to_numpy().astype(float)
    return np.asarray(values, dtype=float)


def _regression_plots(model: Any, frame: pl.DataFrame) -> str:
    y = frame[model.target_].cast(pl.Float64).to_numpy()
    pred = _as_matrix(model.predict(frame)).reshape(-1)
    resid = y - pred
    edges = (
        np.linspace(np.nanmin(resid), np.nanmax(resid), 31) if resid.size else np.array([0.0, 1.0])
    )
    counts, _ = np.histogram(resid[np.isfinite(resid)], bins=edges)
    return (
        '<div class="grid wide">'
        + "".join(
            f'<div class="card">{svg}</div>'
            for svg in (
                _plot.scatter(
                    pred,
                    y,
                    diagonal=True,
                    x_label="predicted",
                    y_label="actual",
                    title="Predicted vs actual",
                ),
                _plot.scatter(
                    pred,
                    resid,
                    hline=0.0,
                    x_label="predicted",
                    y_label="residual",
                    title="Residuals vs predicted",
                ),
                _plot.histogram(edges, counts, x_label="residual", title="Residual distribution"),
            )
        )
        + "</div>"
    )


def _roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """ROC curve (one point per distinct score) and its area."""
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    pos, neg = tp[-1], fp[-1]
    tpr = np.r_[0.0, tp / pos] if pos else np.zeros(last.size + 1)
    fpr = np.r_[0.0, fp / neg] if neg else np.zeros(last.size + 1)
    return fpr, tpr, float(np.trapezoid(tpr, fpr)) if pos and neg else float("nan")


def _pr(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Precision-recall curve and average precision (step-wise, as scikit-learn)."""
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    pos = tp[-1]
    if not pos:
        return np.zeros(1), np.ones(1), float("nan")
    recall = tp / pos
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return np.r_[0.0, recall], np.r_[1.0, precision], ap


def _thin(*arrays: np.ndarray, n: int = _CURVE_POINTS) -> list[np.ndarray]:
    size = arrays[0].size
    if size <= n:
        return list(arrays)
    idx = np.unique(np.r_[np.linspace(0, size - 1, n).astype(int), size - 1])
    return [a[idx] for a in arrays]


def _classifier_plots(model: Any, frame: pl.DataFrame) -> str:
    classes = [str(c) for c in model.classes_]
    truth = frame[model.target_].to_list()
    proba = _as_matrix(model.predict_proba(frame))
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    if proba.shape[1] != len(classes):
        raise MlwfError(
            f"predict_proba returned {proba.shape[1]} columns for {len(classes)} classes; "
            "the model and its classes_ disagree."
        )
    # labels match classes_ by value (1 == 1.0), else by text ("1" for 1)
    by_value = {c: i for i, c in enumerate(model.classes_)}
    by_text = {c: i for i, c in enumerate(classes)}
    y = np.array([by_value.get(t, by_text.get(str(t), -1)) for t in truth])
    known = y >= 0
    if not known.any():
        raise DataError(
            f"No value of the target column {model.target_!r} in the report data is one of the "
            f"model's classes {classes[:10]}. Pass data labelled like the training data."
        )
    y, proba = y[known], proba[known]
    shown = [len(classes) - 1] if len(classes) == 2 else list(range(min(len(classes), 8)))
    roc, pr = [], []
    for k in shown:
        yk = (y == k).astype(np.int64)
        fpr, tpr, auc = _roc(yk, proba[:, k])
        rec, prec, ap = _pr(yk, proba[:, k])
        fpr, tpr = _thin(fpr, tpr)
        rec, prec = _thin(rec, prec)
        roc.append((f"{classes[k]} (AUC {fmt(auc)})", fpr, tpr))
        pr.append((f"{classes[k]} (AP {fmt(ap)})", rec, prec))
    plots = [
        _plot.line_chart(
            roc,
            xlim=(0, 1),
            ylim=(0, 1),
            diagonal=True,
            x_label="false positive rate",
            y_label="true positive rate",
            legend="lower right",
            title="ROC curve",
        ),
        _plot.line_chart(
            pr,
            xlim=(0, 1),
            ylim=(0, 1.02),
            x_label="recall",
            y_label="precision",
            legend="lower left",
            title="Precision-recall curve",
        ),
        _calibration(y, proba, classes),
        _confusion(y, proba, classes),
    ]
    return (
        '<div class="grid wide">'
        + "".join(f'<div class="card">{p}</div>' for p in plots)
        + "</div>"
    )


def _calibration(y: np.ndarray, proba: np.ndarray, classes: list[str]) -> str:
    """Reliability diagram: positive class for binary, top-label confidence otherwise."""
    if len(classes) == 2:
        conf, hit, what = proba[:, 1], (y == 1).astype(float), f"P({classes[1]})"
    else:
        conf, hit, what = (
            proba.max(axis=1),
            (proba.argmax(axis=1) == y).astype(float),
            "top-class confidence",
        )
    bins = np.clip((conf * 10).astype(int), 0, 9)
    counts = np.bincount(bins, minlength=10)
    used = counts > 0
    mean_conf = np.bincount(bins, weights=conf, minlength=10)[used] / counts[used]
    observed = np.bincount(bins, weights=hit, minlength=10)[used] / counts[used]
    return _plot.line_chart(
        [("observed", mean_conf, observed)],
        xlim=(0, 1),
        ylim=(0, 1),
        diagonal=True,
        markers=True,
        x_label=f"predicted {what}",
        y_label="observed frequency",
        legend="upper left",
        title="Calibration (10 bins)",
    )


def _confusion(y: np.ndarray, proba: np.ndarray, classes: list[str]) -> str:
    k = len(classes)
    pred = proba.argmax(axis=1)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    rows = cm.sum(axis=1, keepdims=True)
    share = cm / np.maximum(rows, 1)
    svg = _plot.heatmap(
        [f"true {c}" for c in classes],
        [f"pred {c}" for c in classes],
        share.tolist(),
        vmin=0.0,
        vmax=1.0,
        annotate=k <= 12,
        title="Confusion matrix (share of each true class)",
    )
    return svg + _note(
        "Rows: true class; counts "
        + "; ".join(
            f"{classes[i]}: " + ", ".join(str(int(v)) for v in cm[i]) for i in range(min(k, 12))
        )
    )


def _importance(model: Any) -> str:
    fi = model.feature_importance()
    if fi is None or fi.height == 0:
        return _note("The model reports no feature importance.")
    fi = fi.sort("importance", descending=True).head(_MAX_IMPORTANCE)
    return _plot.bar_chart(
        fi["feature"].to_list(), fi["importance"].to_list(), title="Feature importance"
    )


def _shap(model: Any, frame: pl.DataFrame | None) -> str:
    explain = getattr(model, "explain", None)
    if explain is None:
        return _note("This model does not provide per-prediction explanations.")
    if frame is None:
        return _note("Pass data to the report to see the SHAP summary.")
    rows = frame.sample(_EXPLAIN_ROWS, seed=0) if frame.height > _EXPLAIN_ROWS else frame
    try:
        contrib = explain(rows)
    except (MlwfError, ValueError) as exc:  # e.g. linear-tree forests TreeSHAP refuses
        return _note(f"Explanations are not available for this model: {exc}")
    if not isinstance(contrib, pl.DataFrame):
        return _note("The explanation output is not a table of per-feature contributions.")
    # one numeric column per model feature (input or engineered), beside the base value
    names = [
        c
        for c, dtype in contrib.schema.items()
        if dtype.is_numeric() and c.lower() not in _NOT_FEATURES
    ]
    values = {c: contrib[c].cast(pl.Float64).to_numpy() for c in names}
    if not names:
        return _note("The explanation output has no per-feature columns to summarise.")
    mean_abs = {c: float(np.nanmean(np.abs(v))) for c, v in values.items()}
    top = sorted(names, key=lambda c: -mean_abs[c])[:15]
    # multiclass explanations hold one row per (row, class); "row" maps them back
    if "row" in contrib.columns:
        row_of = contrib["row"].cast(pl.Int64).to_numpy()
    elif contrib.height == rows.height:
        row_of = np.arange(rows.height)
    else:
        row_of = None
    strips = []
    for c in top:
        colour = None
        if row_of is not None and c in rows.columns and rows[c].dtype.is_numeric():
            raw = rows[c].cast(pl.Float64)
            colour = (raw.rank("average") / raw.len()).to_numpy()[row_of]
        strips.append((c, values[c], colour))
    title = "Mean |SHAP value|" + (" over all classes" if "class" in contrib.columns else "")
    html = _plot.bar_chart(top, [mean_abs[c] for c in top], title=title)
    html += _plot.strip_chart(
        strips,
        x_label="SHAP value (effect on the raw prediction)",
        title="SHAP values per row (colour: feature value, blue low, red high)",
    )
    return html + _note(f"Computed on {rows.height:,} rows.")


def _drift(monitor: Any) -> str:
    status = monitor.status()
    if not isinstance(status, dict):
        return f"<p>{escape(str(status))}</p>"
    verdict = status.get("verdict", status.get("status"))
    html = ""
    if verdict is not None:
        kind = {"ok": "good", "warning": "warn", "drift": "bad"}.get(str(verdict), "")
        html += f"<p>Verdict: {_badge(str(verdict), kind)}</p>"
    scalars = [
        (k, v)
        for k, v in status.items()
        if not isinstance(v, (list, dict)) and k not in ("verdict", "status")
    ]
    if scalars:
        html += _kv(scalars)
    for key, value in status.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            headers = list(dict.fromkeys(k for v in value for k in v))
            html += f"<h3>{escape(key.replace('_', ' '))}</h3>" + _table(
                headers, [[v.get(h) for h in headers] for v in value[:50]]
            )
        elif isinstance(value, dict) and value:
            html += f"<h3>{escape(key.replace('_', ' '))}</h3>" + _kv(list(value.items())[:50])
        elif isinstance(value, list) and value:
            html += f"<h3>{escape(key.replace('_', ' '))}</h3>" + _kv(
                [(str(i), v) for i, v in enumerate(value[:50])]
            )
    table = monitor.feature_table() if hasattr(monitor, "feature_table") else None
    if isinstance(table, pl.DataFrame) and table.height and "feature" in table.columns:
        html += "<h3>Per-feature drift</h3>"
        if "psi" in table.columns:
            top = table.filter(pl.col("psi").is_not_null()).head(20)
            html += _plot.bar_chart(
                top["feature"].to_list(),
                top["psi"].to_list(),
                title="Population stability index (PSI) by feature",
            )
        html += _table(list(table.columns), table.head(50).rows())
    return html or _note("The monitor reported no status.")
