"""Tests of the HTML reports and the SVG charts, with a fake model of AutoModel's shape."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import numpy as np
import polars as pl
import pytest
from conftest import make_frame
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

from mlwf_core import _plot, report
from mlwf_core.eda import profile
from mlwf_core.exceptions import DataError, ParameterError

FEATURES = ["x1", "x2", "color"]


class FakeModel:
    """Duck-typed stand-in for a fitted AutoModel, backed by a scikit-learn model."""

    def __init__(self, frame: pl.DataFrame, task: str, *, success_met: bool = True) -> None:
        self.task_ = task
        self.target_ = "y"
        self.metric_ = {"binary": "roc_auc", "multiclass": "log_loss"}.get(task, "rmse")
        self.fingerprint_ = "sha256:" + "ab" * 32
        self.created_ = "2026-01-02T03:04:05+00:00"
        self.cv_score_ = 0.875
        self.test_scores_ = {self.metric_: 0.86}
        self.features_ = list(FEATURES)
        self.success_ = {
            "criterion": {self.metric_: 0.8},
            "detail": {self.metric_: {"threshold": 0.8, "cv_value": 0.875, "met": success_met}},
            "met": success_met,
        }
        self.ensemble_ = [
            {
                "learner": "lightgbm",
                "weight": 0.6,
                "params": {"num_leaves": 31, "learning_rate": 0.05},
            },
            {"learner": "xgboost", "weight": 0.4, "params": {"max_depth": 6}},
        ]
        rng = np.random.default_rng(0)
        scores = rng.uniform(0.7, 0.9, 12)
        self.leaderboard = pl.DataFrame(
            {
                "trial": [*range(12), -1],
                "model": [f"m{i}" for i in range(12)] + ["ensemble"],
                "learner": ["lightgbm", "xgboost"] * 6 + ["ensemble"],
                "params": [json.dumps({"num_leaves": int(i), "eta": 0.1}) for i in range(12)]
                + [json.dumps([{"model": "m1", "weight": 1.0}])],
                "cv_score": [*scores.tolist(), 0.9],
                "fit_seconds": rng.uniform(0.1, 2, 13),
            }
        )
        X = self._matrix(frame)
        y = frame["y"].to_numpy()
        if task == "regression":
            self._est = LinearRegression().fit(X, y)
        else:
            self.classes_ = sorted(np.unique(y).tolist())
            self._est = LogisticRegression(max_iter=500).fit(X, y)

    @staticmethod
    def _matrix(frame: pl.DataFrame) -> np.ndarray:
        return np.column_stack(
            [
                frame["x1"].fill_nan(0.0).fill_null(0.0).to_numpy(),
                frame["x2"].to_numpy(),
                (frame["color"] == "red").to_numpy().astype(float),
            ]
        )

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return self._est.predict(self._matrix(frame))

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        return self._est.predict_proba(self._matrix(frame))

    def evaluate(self, frame: pl.DataFrame) -> dict[str, float]:
        y = frame["y"].to_numpy()
        if self.task_ == "regression":
            return {"rmse": float(np.sqrt(np.mean((self.predict(frame) - y) ** 2)))}
        return {"accuracy": float(accuracy_score(y, self.predict(frame)))}

    def feature_importance(self) -> pl.DataFrame:
        return pl.DataFrame({"feature": FEATURES, "importance": [0.5, 0.3, 0.2]})

    def explain(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Linear contributions; multiclass gives one row per (row, class), as AutoModel does."""
        X = self._matrix(frame)
        parts = []
        coefs = np.atleast_2d(self._est.coef_)
        for k, coef in enumerate(coefs if self.task_ == "multiclass" else coefs[-1:]):
            contrib = (X - X.mean(axis=0)) * coef
            part = pl.DataFrame({name: contrib[:, j] for j, name in enumerate(FEATURES)})
            if self.task_ == "multiclass":
                part = part.with_columns(
                    pl.int_range(pl.len()).alias("row"), pl.lit(self.classes_[k]).alias("class")
                )
            parts.append(part.with_columns(pl.lit(0.0).alias("base_value")))
        return pl.concat(parts)


class FakeMonitor:
    def status(self) -> dict[str, Any]:
        return {
            "verdict": "warning",
            "n_rows": 1000,
            "features": [{"feature": "x1", "psi": 0.31, "drift": True}],
            "alerts": ["missing rate of x1 jumped"],
        }

    def feature_table(self) -> pl.DataFrame:
        return pl.DataFrame(
            {"feature": ["x1", "x2"], "psi": [0.31, 0.02], "verdict": ["warning", "ok"]}
        )


def sections(html: str) -> set[str]:
    return set(re.findall(r'<section id="([^"]+)"', html))


def plots(html: str) -> list[str]:
    return re.findall(r'data-plot="([a-z]+)"', html)


class _Balance(HTMLParser):
    """Checks that every non-void element is closed in order."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <rect .../>: opened and closed at once

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


def assert_well_formed(html: str) -> None:
    checker = _Balance()
    checker.feed(html)
    checker.close()
    assert checker.stack == []
    assert_svgs_are_xml(html)


def assert_svgs_are_xml(html: str) -> None:
    svgs = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    assert svgs
    for svg in svgs:
        ET.fromstring(svg)


@pytest.fixture(scope="module")
def binary_data() -> pl.DataFrame:
    return make_frame(n=500, task="binary")


def test_binary_model_report(tmp_path, binary_data: pl.DataFrame) -> None:
    model = FakeModel(binary_data, "binary")
    path = report.render_model_report(model, tmp_path / "model.html", data=binary_data)
    html = path.read_text()
    assert {
        "summary",
        "card",
        "leaderboard",
        "ensemble",
        "evaluation",
        "importance",
        "shap",
    } <= sections(html)
    assert {"data-overview", "data-columns", "data-correlations", "data-target"} <= sections(html)
    assert "drift" not in sections(html)
    assert html.count('data-plot="line"') >= 4  # history, ROC, PR, calibration
    assert {"heatmap", "bar", "strip", "histogram"} <= set(plots(html))
    assert "success criterion roc_auc ≥ 0.8 (CV 0.875): met" in html
    assert model.fingerprint_ in html
    assert "automated search over 12 trials" in html  # the ensemble row is not a trial
    shap = re.search(r'aria-label="Mean \|SHAP value\|".*?</svg>', html, flags=re.S).group(0)
    assert shap.count('class="bar"') == len(FEATURES)  # not the base value
    auc = roc_auc_score(binary_data["y"] == "yes", model.predict_proba(binary_data)[:, 1])
    assert f"yes (AUC {_plot.fmt(auc)})" in html
    assert_well_formed(html)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "default-src 'none'" in html


def test_multiclass_confusion_matrix_matches_sklearn() -> None:
    frame = make_frame(n=400, task="multiclass")
    model = FakeModel(frame, "multiclass", success_met=False)
    html = report.model_report_html(model, frame)
    assert "success criterion log_loss ≤ 0.8 (CV 0.875): not met" in html
    y = frame["y"].to_numpy()
    cm = confusion_matrix(y, model.classes_[0] + model.predict_proba(frame).argmax(axis=1))
    for i, c in enumerate(model.classes_):
        assert f"{c}: " + ", ".join(str(v) for v in cm[i]) in html
    shap = re.search(r'aria-label="SHAP values per row.*?</svg>', html, flags=re.S).group(0)
    assert shap.count('class="pt"') == len(FEATURES) * 400  # 1,600 (row, class) pairs, 400 drawn
    assert "Mean |SHAP value| over all classes" in html
    roc = re.search(r'aria-label="ROC curve".*?</svg>', html, flags=re.S).group(0)
    assert roc.count("<polyline") == len(model.classes_)  # one-vs-rest, one curve per class


def test_regression_report_with_monitor(binary_data: pl.DataFrame) -> None:
    frame = make_frame(n=300, task="regression")
    model = FakeModel(frame, "regression")
    html = report.model_report_html(model, frame, monitor=FakeMonitor())
    assert "drift" in sections(html)
    assert_well_formed(html)
    assert "Predicted vs actual" in html and "Residuals vs predicted" in html
    assert plots(html).count("scatter") == 2
    assert '<span class="badge warn">warning</span>' in html
    assert "missing rate of x1 jumped" in html
    assert "Population stability index (PSI) by feature" in html
    assert "No drift monitor" not in html


def test_report_without_data(binary_data: pl.DataFrame) -> None:
    model = FakeModel(binary_data, "binary")
    model.test_scores_ = None
    model.success_ = None
    html = report.model_report_html(model)
    assert "Pass labelled data to the report" in html
    assert "No held-out test scores" in html
    assert "no success criterion set" in html
    assert not any(s.startswith("data-") for s in sections(html))
    # history skips the ensemble row (trial -1): 12 markers per series
    history = re.search(r'data-plot="line".*?</svg>', html, flags=re.S).group(0)
    assert history.count("<circle") == 24


def test_leaderboard_ranks_by_metric_direction(binary_data: pl.DataFrame) -> None:
    model = FakeModel(binary_data, "binary")
    scores = model.leaderboard["cv_score"].to_list()
    model.leaderboard = model.leaderboard.with_columns(
        pl.Series("cv_score", [float("nan"), *scores[1:]])
    )
    html = report._leaderboard(model)
    first = re.search(r"<tr><td class=\"num\">1</td><td>([^<]+)</td>", html).group(1)
    assert first == "ensemble"  # 0.9 is the highest AUC; the NaN trial ranks last
    model.metric_ = "rmse"
    html = report._leaderboard(model)
    last_rank = re.findall(r"<tr><td class=\"num\">(\d+)</td><td>([^<]+)</td>", html)[-1]
    assert last_rank[1] == "m0"


def test_rejects_non_models(tmp_path) -> None:
    with pytest.raises(ParameterError, match="'model' parameter of render_model_report"):
        report.render_model_report(object(), tmp_path / "x.html")
    with pytest.raises(ParameterError, match="must name a file"):
        report.render_profile_report(profile(make_frame(50)), tmp_path)


def test_strongest_associations_table() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=200)
    frame = pl.DataFrame({"a": a, "b": -a + 0.01 * rng.normal(size=200), "c": rng.normal(size=200)})
    html = report.profile_html(profile(frame))
    start = html.index("Strongest associations")
    table = html[start : html.index("</table>", start)]
    first = re.search(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>", table).groups()
    assert first == ("pearson", "a", "b")  # |r| near 1, negative
    assert table.count("<tr>") - 1 == 6  # 3 pairs x (pearson, spearman), diagonal left out


def test_profile_report_escapes_names(tmp_path) -> None:
    frame = pl.DataFrame(
        {"<script>alert(1)</script>": [1.0, 2.0, 3.5, 4.0], "b": ["x", "y", "x", "z"]}
    )
    html = profile(frame).to_html(tmp_path / "p.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert_well_formed(html)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=1), min_size=2, max_size=60),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_roc_and_average_precision_match_sklearn(labels: list[int], seed: int) -> None:
    y = np.array(labels)
    if y.min() == y.max():
        return
    s = np.random.default_rng(seed).integers(0, 5, y.size) / 4.0  # many ties
    fpr, tpr, auc = report._roc(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s))
    ref_fpr, ref_tpr, _ = roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    assert report._pr(y, s)[2] == pytest.approx(average_precision_score(y, s))


def test_plot_helpers() -> None:
    assert _plot.nice_ticks(0, 1, 5) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert _plot.nice_ticks(3, 3) == [3]
    assert _plot.fmt(1234567.0) == "1.23e+06"
    assert _plot.fmt(0.5) == "0.5" and _plot.fmt(12) == "12" and _plot.fmt(None) == "–"
    svg = _plot.histogram([0, 1, 2, 3], [5, 0, 2])
    assert svg.count('class="bar"') == 3 and "[1, 2): 0" in svg
    svg = _plot.histogram([1, 10, 100, 1000], [1, 2, 3], log_x=True)
    widths = [float(w) for w in re.findall(r'class="bar" x="[^"]+" y="[^"]+" width="([^"]+)"', svg)]
    assert len(widths) == 3 and max(widths) - min(widths) < 1e-6  # equal widths on a log axis
    assert "[10, 100): 2" in svg
    svg = _plot.bar_chart(["a", "b"], [0.5, -0.25])
    assert svg.count('class="bar"') == 2
    svg = _plot.heatmap(["r"], ["c1", "c2"], [[0.5, None]])
    assert svg.count('class="cell"') == 1
    svg = _plot.scatter(np.arange(5000.0), np.arange(5000.0), max_points=100)
    assert svg.count('class="pt"') == 100
    for svg in (
        _plot.line_chart([("a", [0, 1], [0, 1])], diagonal=True),
        _plot.strip_chart([("f", [0.1, -0.2, 0.3], [0.0, 0.5, 1.0])]),
    ):
        ET.fromstring(svg)


def test_boolean_target_labels_match_classes() -> None:
    frame = make_frame(n=300, task="binary").with_columns(pl.col("y") == "yes")
    model = FakeModel(frame, "binary")
    assert model.classes_ == [False, True]
    html = report.model_report_html(model, frame)
    assert "True (AUC " in html
    other = frame.with_columns(pl.lit("maybe").alias("y"))
    with pytest.raises(DataError, match="is one of the model's classes"):
        report._classifier_plots(model, other)


def test_failed_write_keeps_the_old_report(tmp_path, monkeypatch) -> None:
    from mlwf_core import _report_html

    path = tmp_path / "r.html"
    path.write_text("old")

    def broken(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(_report_html.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        profile(make_frame(50)).to_html(path)
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]
