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
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from mlwf_core import _plot
from mlwf_core._plot import fmt
from mlwf_core._version import __version__
from mlwf_core.exceptions import DataError, MlwfError, ParameterError

if TYPE_CHECKING:
    from mlwf_core.eda import ColumnProfile, Profile

__all__ = ["model_report_html", "profile_html", "render_model_report", "render_profile_report"]

Section = tuple[str, str, str]  # (anchor id, heading, body html)

# Metrics where lower is better; every other metric is maximised.
_MINIMISE = frozenset({"log_loss", "logloss", "rmse", "mse", "mae", "mape", "brier", "error"})
_MAX_LEADERBOARD = 25
_MAX_IMPORTANCE = 30
_EXPLAIN_ROWS = 500
_CURVE_POINTS = 400


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
        ``fingerprint_``, ``created_``, ``success_``, ``features_``).
    path
        Where to write the HTML file.
    data
        Labelled data (anything :func:`mlwf_core.io.read` accepts) for the
        evaluation plots (ROC, precision-recall, calibration and confusion matrix
        for classifiers; residuals and predicted-vs-actual for regression), the
        SHAP summary and the data profile. Without it those sections say so.
    monitor
        A drift monitor whose ``status()`` is shown; defaults to the model's
        ``monitor_`` attribute when it has one.

    Returns
    -------
    pathlib.Path
    """
    return _atomic_write(path, model_report_html(model, data, monitor=monitor))


# ---------------------------------------------------------------------------
# document helpers


def _css() -> str:
    return resources.files("mlwf_core").joinpath("report.css").read_text(encoding="utf-8")


def _document(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    toc = "".join(f'<a href="#{a}">{escape(h)}</a>' for a, h, _ in sections)
    body = "".join(f'<section id="{a}"><h2>{escape(h)}</h2>{b}</section>' for a, h, b in sections)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f'<meta name="generator" content="mlwf {__version__}">'
        f"<title>{escape(title)}</title><style>{_css()}</style></head><body>"
        f'<header class="top"><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>'
        f'<div class="layout"><nav class="toc">{toc}</nav><main>{body}</main></div>'
        f"<footer>Generated by mlwf {__version__} on {now}. "
        "Self-contained: no script, no network access.</footer></body></html>"
    )


def _atomic_write(path: str | os.PathLike[str], text: str) -> Path:
    target = Path(path)
    if target.is_dir():
        raise ParameterError(
            f"The 'path' parameter must name a file. Got the directory {str(target)!r} instead."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[bool] | None = None
) -> str:
    numeric = numeric or [False] * len(headers)
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>"
        for h, n in zip(headers, numeric, strict=True)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{_cell(v)}</td>' if n else f"<td>{_cell(v)}</td>"
            for v, n in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table class="data"><tr>{head}</tr>{"".join(body)}</table></div>'


def _cell(v: Any) -> str:
    if isinstance(v, _Raw):
        return v.html
    if isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, bool):
        return fmt(v)
    return escape("–" if v is None else str(v))


class _Raw:
    """Already-escaped HTML placed in a table cell as is."""

    def __init__(self, html: str) -> None:
        self.html = html


def _kv(pairs: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{_cell(v)}</td></tr>" for k, v in pairs)
    return f'<table class="kv">{rows}</table>'


def _kpis(pairs: Iterable[tuple[str, Any]]) -> str:
    items = "".join(
        f'<div class="kpi"><div class="v">{_cell(v)}</div><div class="k">{escape(k)}</div></div>'
        for k, v in pairs
    )
    return f'<div class="kpis">{items}</div>'


def _badge(text: str, kind: str = "") -> str:
    return f'<span class="badge {kind}">{escape(text)}</span>'


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _pct(x: float) -> str:
    return f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x:.3%}"


# ---------------------------------------------------------------------------
# profile sections


def _profile_sections(p: Profile) -> list[Section]:
    out: list[Section] = [
        ("overview", "Overview", _overview(p)),
        ("warnings", "Warnings", _warnings(p)),
        ("columns", "Columns", _columns(p)),
        ("correlations", "Correlations", _correlations(p)),
        ("missing", "Missing values", _missing(p)),
        ("outliers", "Outliers and anomalous rows", _outliers(p)),
    ]
    if p.target is not None:
        out.append(("target", "Target", _target(p)))
    return out


def _overview(p: Profile) -> str:
    cells = sum(c.n_missing for c in p.columns)
    roles: dict[str, int] = {}
    for c in p.columns:
        roles[c.role] = roles.get(c.role, 0) + 1
    html = _kpis(
        [
            ("rows", p.n_rows),
            ("columns", p.n_columns),
            ("duplicate rows", p.duplicates["n_duplicate_rows"]),
            ("missing cells", _pct(cells / max(p.n_rows * p.n_columns, 1))),
            ("warnings", len(p.warnings)),
            ("seconds to profile", round(p.elapsed_seconds, 2)),
        ]
    )
    html += _kv([("column roles", ", ".join(f"{r}: {n}" for r, n in sorted(roles.items())))])
    s = p.sample
    if s["sampled"]:
        html += _note(
            f"Sampled: column statistics, histograms and duplicates use all {p.n_rows:,} rows; "
            f"correlations, anomalies, target relations and missingness patterns use a random "
            f"sample of {s['n_rows']:,} rows (seed {s['seed']})."
        )
    else:
        html += _note(f"Every statistic uses all {p.n_rows:,} rows (no sampling).")
    return html


def _warnings(p: Profile) -> str:
    if not p.warnings:
        return _note("No warnings.")
    severe = {"leakage", "constant", "duplicates", "imbalance", "id", "target"}
    items = "".join(
        f"<li>{_badge(w['kind'], 'bad' if w['kind'] in severe else 'warn')} {escape(w['message'])}</li>"
        for w in p.warnings
    )
    return f'<ul class="warnings">{items}</ul>'


def _columns(p: Profile) -> str:
    return '<div class="grid">' + "".join(_column_card(c, p.n_rows) for c in p.columns) + "</div>"


def _column_card(c: ColumnProfile, n_rows: int) -> str:
    head = f"<h3>{escape(c.name)} {_badge(c.role)} <code>{escape(c.dtype)}</code></h3>"
    pairs: list[tuple[str, Any]] = [
        ("missing", f"{c.n_missing:,} ({_pct(c.missing_share)})"),
        ("distinct", c.n_distinct),
    ]
    s = c.stats
    if c.role == "numeric":
        q = s["quantiles"]
        pairs += [
            ("mean ± std", f"{fmt(s['mean'])} ± {fmt(s['std'])}"),
            ("min · median · max", f"{fmt(s['min'])} · {fmt(q['p50'])} · {fmt(s['max'])}"),
            ("p05 · p25 · p75 · p95", " · ".join(fmt(q[k]) for k in ("p05", "p25", "p75", "p95"))),
            ("skew", s["skew"]),
            ("zeros · negative", f"{s['n_zeros']:,} · {s['n_negative']:,}"),
        ]
        if c.outliers:
            o = c.outliers
            pairs.append(
                ("outliers (IQR · robust z)", f"{o['iqr']['count']:,} · {o['robust_z']['count']:,}")
            )
    elif c.role == "datetime":
        pairs += [("from", s.get("min")), ("to", s.get("max"))]
    elif c.role == "text":
        pairs += [("mean length", s.get("mean_length")), ("mean words", s.get("mean_words"))]
    plot = ""
    if c.histogram and c.role in ("numeric", "datetime", "text"):
        h = c.histogram
        plot = _plot.histogram(
            h["edges"],
            h["counts"],
            labels=h.get("labels"),
            x_label="length (characters)" if c.role == "text" else None,
        )
    elif c.top_levels:
        levels = c.top_levels[:8]
        plot = _plot.bar_chart(
            [str(lv["value"]) for lv in levels],
            [lv["share"] for lv in levels],
            width=330,
            bar_height=12,
            value_format="{:.1%}",
        )
        if c.n_distinct > len(levels):
            plot += _note(f"Top {len(levels)} of {c.n_distinct:,} levels, share of rows.")
    notes = "".join(_note(n) for n in c.notes)
    return f'<div class="card" id="col-{_anchor(c.name)}">{head}{_kv(pairs)}{plot}{notes}</div>'


def _anchor(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name)


def _correlations(p: Profile) -> str:
    c = p.correlations
    parts = []
    titles = {
        "pearson": ("Pearson (numeric pairs)", -1.0),
        "spearman": ("Spearman (numeric pairs, ranks)", -1.0),
        "cramers_v": ("Cramér's V (categorical pairs)", 0.0),
        "correlation_ratio": ("Correlation ratio η (categorical rows × numeric columns)", 0.0),
    }
    for key, (title, vmin) in titles.items():
        if key in c:
            m = c[key]
            parts.append(
                f'<div class="card"><h3>{escape(title)}</h3>'
                + _plot.heatmap(m["rows"], m["columns"], m["matrix"], vmin=vmin, vmax=1.0)
                + "</div>"
            )
    if not parts:
        return _note("Fewer than two numeric or categorical columns: no correlations to show.")
    return '<div class="grid wide">' + "".join(parts) + "</div>"


def _missing(p: Profile) -> str:
    m = p.missingness
    if not m["columns"]:
        return _note("No missing values.")
    names = sorted(m["columns"], key=lambda k: -m["columns"][k])[:40]
    html = _plot.bar_chart(
        names, [m["columns"][k] for k in names], title="Share missing", value_format="{:.1%}"
    )
    html += "<h3>Most common patterns</h3>" + _table(
        ["missing columns", "rows", "share"],
        [
            (", ".join(r["missing"]) or "(none)", r["count"], _pct(r["share"]))
            for r in m["patterns"]
        ],
        numeric=[False, True, True],
    )
    if m["correlation"]:
        cm = m["correlation"]
        html += "<h3>Nullity correlation</h3>" + _plot.heatmap(
            cm["rows"], cm["columns"], cm["matrix"], title="Correlation of missing indicators"
        )
    return html


def _outliers(p: Profile) -> str:
    rows = [
        (
            c.name,
            c.outliers["iqr"]["count"],
            _pct(c.outliers["iqr"]["count"] / p.n_rows),
            c.outliers["robust_z"]["count"],
            f"[{fmt(c.outliers['iqr']['lower'])}, {fmt(c.outliers['iqr']['upper'])}]",
        )
        for c in p.columns
        if c.outliers
    ]
    if not rows:
        return _note("No numeric columns.")
    html = _table(
        ["column", "IQR outliers", "share", "robust z > 3.5", "IQR fences"],
        rows,
        numeric=[False, True, True, True, False],
    )
    a = p.anomalies
    html += "<h3>Anomalous rows</h3>"
    if a["threshold"] is None:
        return html + _note("No numeric columns to score.")
    html += _note(
        f"Score: root-mean-square robust z-score over the numeric columns; {a['n_anomalous']:,} "
        f"rows ({_pct(a['share'])}) score above {fmt(a['threshold'])}."
    )
    if a["rows"]:
        html += _table(
            ["row", "score", "most unusual values (robust z)"],
            [
                (
                    r["row"],
                    r["score"],
                    "; ".join(
                        f"{x['column']} = {fmt(x['value'])} ({fmt(x['z'])})" for x in r["columns"]
                    ),
                )
                for r in a["rows"]
            ],
            numeric=[True, True, False],
        )
    return html


def _target(p: Profile) -> str:
    t = p.target
    assert t is not None
    if not t.get("task"):
        return _note(f"The target {t['name']!r} has fewer than two distinct values.")
    html = _kv([("target", t["name"]), ("task", t["task"]), ("labelled rows", t["n_labelled"])])
    if t["task"] == "regression":
        col = p.column(t["name"])
        if col.histogram:
            html += (
                '<div class="plotbox">'
                + _plot.histogram(
                    col.histogram["edges"], col.histogram["counts"], title="Target distribution"
                )
                + "</div>"
            )
        value_label = "mean target"
    else:
        shares = t["summary"]["shares"]
        html += _plot.bar_chart(
            list(shares), list(shares.values()), title="Class shares", value_format="{:.1%}"
        )
        value_label = f"rate of {t.get('positive') or t.get('rate_class')!r}"
    feats = t["features"][:25]
    if not feats:
        return html
    html += _plot.bar_chart(
        [f["column"] for f in feats],
        [f["mutual_info"] for f in feats],
        title="Mutual information with the target (nats)",
    )
    cards = []
    for f in feats[:8]:
        levels = f["by_level"][:12]
        cards.append(
            f'<div class="card"><h3>{escape(f["column"])}</h3>'
            + _plot.bar_chart(
                [lv["level"] for lv in levels],
                [lv["value"] for lv in levels],
                title=f"{value_label} by level",
                width=400,
                bar_height=12,
            )
            + "</div>"
        )
    return html + f'<h3>Target by level or bin</h3><div class="grid wide">{"".join(cards)}</div>'


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
    n_trials = model.leaderboard.height if model.leaderboard is not None else 0
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
                legend="lower right",
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
    except (MlwfError, NotImplementedError) as exc:
        return _note(f"Explanations are not available for this model: {exc}")
    if isinstance(contrib, pl.DataFrame):
        names = [c for c in model.features_ if c in contrib.columns]
        values = {c: contrib[c].cast(pl.Float64).to_numpy() for c in names}
    else:
        arr = _as_matrix(contrib)
        names = list(model.features_)[: arr.shape[1]] if arr.ndim == 2 else []
        values = {c: arr[:, i] for i, c in enumerate(names)}
    if not names:
        return _note("The explanation output has no per-feature columns to summarise.")
    mean_abs = {c: float(np.nanmean(np.abs(v))) for c, v in values.items()}
    top = sorted(names, key=lambda c: -mean_abs[c])[:15]
    strips = []
    for c in top:
        colour = None
        if c in rows.columns and rows[c].dtype.is_numeric():
            raw = rows[c].cast(pl.Float64)
            colour = (raw.rank("average") / raw.len()).to_numpy()
        strips.append((c, values[c], colour))
    html = _plot.bar_chart(top, [mean_abs[c] for c in top], title="Mean |SHAP value|")
    html += _plot.strip_chart(
        strips,
        x_label="SHAP value (effect on the raw prediction)",
        title="SHAP values per row (colour: feature value, blue low, red high)",
    )
    return html + _note(f"Computed on {rows.height:,} rows.")


def _drift(monitor: Any) -> str:
    status = monitor.status() if hasattr(monitor, "status") else monitor
    if is_dataclass(status) and not isinstance(status, type):
        status = asdict(status)
    elif hasattr(status, "to_dict"):
        status = status.to_dict()
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
    return html or _note("The monitor reported no status.")
