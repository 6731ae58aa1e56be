"""Monitoring a deployed model: data, prediction and concept drift.

At fit time the model stores a :class:`ReferenceProfile` in its artifact: per
feature a quantile sketch (numerics) or level frequencies with an ``other``
bucket (categoricals), the missing rate and range, the training score
distribution, and a PCA of the numeric block for multivariate drift.

:class:`DriftMonitor` compares new data against it. Thresholds are calibrated
on the reference itself: for a batch of ``n`` rows, the score a feature would
reach by sampling noise alone is simulated by drawing a reference-sized and
an ``n``-row sample from the reference distribution, and the 95th / 99.5th percentiles of those simulated
scores are the warning / drift thresholds. No raw p-values, so large batches do
not turn every negligible shift into an alarm and small ones do not hide real
shifts. Concept drift comes from the error stream of labelled feedback (ADWIN on
the error, DDM for classifiers).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlwf_core.exceptions import DataError, ParameterError

__all__ = ["DriftMonitor", "FeatureReference", "ReferenceProfile"]

N_BINS = 100
SCORE_BINS = 10  # deciles, as customary for score PSI
MAX_LEVELS = 50
_SAMPLE_ROWS = 50_000  # reference rows: plenty for 100 quantile bins, cheap inside a fit
_N_SIMULATIONS = 200
_EPS = 1e-6
_VERDICTS = ("ok", "warning", "drift")
_DISTRIBUTION_ROWS = 100_000
_PCA_ROWS = 50_000
# PSI floors: below these a shift is too small to act on, however significant.
_MIN_PSI_WARNING = 0.01
_MIN_PSI_DRIFT = 0.02


@dataclass
class FeatureReference:
    """Reference distribution of one input column."""

    name: str
    kind: str  # "numeric" or "categorical"
    missing_rate: float
    # numeric: interior bin edges (quantiles); probs has len(edges) + 1 entries
    edges: list[float] = field(default_factory=list)
    # categorical: levels; probs has len(levels) + 1 entries (last = other)
    levels: list[str] = field(default_factory=list)
    probs: list[float] = field(default_factory=list)
    low: float = float("nan")
    high: float = float("nan")
    quantiles: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureReference:
        return cls(**dict(data))


@dataclass
class ReferenceProfile:
    """What the training data looked like, stored in the model artifact."""

    features: list[FeatureReference]
    n_rows: int
    score: FeatureReference | None = None
    pca: dict[str, Any] | None = None

    @classmethod
    def build(
        cls,
        frame: pl.DataFrame,
        columns: Sequence[Mapping[str, Any]],
        scores: np.ndarray | None = None,
        *,
        seed: int = 0,
    ) -> ReferenceProfile:
        """Profile the training frame.

        Parameters
        ----------
        frame
            Raw training rows.
        columns
            Plan column specs (``name`` and ``kind``) of the model's inputs.
        scores
            Training scores (out-of-fold positive-class probability, or predicted values).
        """
        if frame.height > _SAMPLE_ROWS:
            frame = frame.sample(_SAMPLE_ROWS, seed=seed)
        features = []
        for spec in columns:
            name = spec["name"]
            if name not in frame.columns:
                continue
            col = frame[name]
            if spec["kind"] == "numeric" and col.dtype.is_numeric():
                features.append(_numeric_reference(name, col.cast(pl.Float64).to_numpy()))
            else:
                features.append(_categorical_reference(name, col))
        score_ref = None
        if scores is not None and len(scores):
            # Scores come from the CV models and new predictions from the refit ensemble:
            # their fine-grained values differ (tree outputs are discrete), so prediction
            # drift is judged on coarser bins than the features.
            score_ref = _numeric_reference(
                "__score__", np.asarray(scores, dtype=np.float64).ravel(), SCORE_BINS
            )
        # multivariate drift watches the numeric block (its first 100 columns on wide data)
        numeric = [f.name for f in features if f.kind == "numeric"][:100]
        pca = _fit_pca(frame.select(numeric)) if len(numeric) >= 2 else None
        return cls(features=features, n_rows=frame.height, score=score_ref, pca=pca)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": [f.to_dict() for f in self.features],
            "n_rows": self.n_rows,
            "score": self.score.to_dict() if self.score else None,
            "pca": self.pca,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        return cls(
            features=[FeatureReference.from_dict(f) for f in data["features"]],
            n_rows=int(data["n_rows"]),
            score=FeatureReference.from_dict(data["score"]) if data.get("score") else None,
            pca=data.get("pca"),
        )


def _numeric_reference(name: str, values: np.ndarray, n_bins: int = N_BINS) -> FeatureReference:
    missing = ~np.isfinite(values)
    finite = values[~missing]
    if finite.size == 0:
        return FeatureReference(name, "numeric", 1.0, edges=[], probs=[1.0])
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, finite, side="right"), minlength=len(edges) + 1)
    return FeatureReference(
        name,
        "numeric",
        float(missing.mean()),
        edges=edges.tolist(),
        probs=(counts / counts.sum()).tolist(),
        low=float(finite.min()),
        high=float(finite.max()),
        quantiles=np.quantile(finite, np.linspace(0, 1, 101)).tolist(),
    )


def _categorical_reference(name: str, col: pl.Series) -> FeatureReference:
    text = col.cast(pl.String)
    n = len(text)
    counts = text.drop_nulls().value_counts(sort=True)
    top = counts.head(MAX_LEVELS)
    levels = [str(v) for v in top[text.name].to_list()]
    probs = (top["count"].to_numpy() / max(1, n - text.null_count())).tolist()
    other = max(0.0, 1.0 - sum(probs))
    return FeatureReference(
        name, "categorical", text.null_count() / max(1, n), levels=levels, probs=[*probs, other]
    )


def _fit_pca(frame: pl.DataFrame) -> dict[str, Any] | None:
    X = frame.cast(pl.Float64).to_numpy()
    med = np.nanmedian(X, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    X = np.where(np.isfinite(X), X, med)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (X - X.mean(axis=0)) / scale
    # eigen-decomposition of the d x d correlation matrix: cheaper than an SVD of the rows
    sample = Z[: min(len(Z), 20_000)]
    eigval, eigvec = np.linalg.eigh(sample.T @ sample / max(1, len(sample) - 1))
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = np.clip(eigval[order], 0, None), eigvec[:, order]
    explained = np.cumsum(eigval) / max(_EPS, float(eigval.sum()))
    k = int(min(len(eigval) - 1, max(1, np.searchsorted(explained, 0.9) + 1), 10))
    if k < 1:
        return None
    comps = eigvec[:, :k].T
    err = ((Z - Z @ comps.T @ comps) ** 2).mean(axis=1)
    return {
        "columns": frame.columns,
        "median": med.tolist(),
        "mean": X.mean(axis=0).tolist(),
        "scale": scale.tolist(),
        "components": comps.tolist(),
        "error_mean": float(err.mean()),
        "error_std": float(err.std()),
    }


def _bin_counts(ref: FeatureReference, col: pl.Series) -> tuple[np.ndarray, int, int]:
    """Histogram of a new column on the reference bins; also missing and out-of-range counts."""
    if ref.kind == "numeric":
        values = col.cast(pl.Float64, strict=False).to_numpy()
        finite = values[np.isfinite(values)]
        counts = np.bincount(
            np.searchsorted(np.asarray(ref.edges), finite, side="right"), minlength=len(ref.probs)
        )
        out_of_range = int(((finite < ref.low) | (finite > ref.high)).sum()) if finite.size else 0
        return counts, len(values) - finite.size, out_of_range
    text = col.cast(pl.String)
    index = {level: i for i, level in enumerate(ref.levels)}
    vc = text.drop_nulls().value_counts()
    counts = np.zeros(len(ref.probs), dtype=np.int64)
    unseen = 0
    for value, count in zip(vc[text.name].to_list(), vc["count"].to_list(), strict=True):
        i = index.get(value)
        if i is None:
            counts[-1] += count
            unseen += count
        else:
            counts[i] += count
    return counts, text.null_count(), unseen


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p = np.clip(p, _EPS, None)
    q = np.clip(q, _EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _js(p: np.ndarray, q: np.ndarray) -> float:
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / np.where(m > 0, m, 1)), 0.0).sum()
        b = np.where(q > 0, q * np.log(q / np.where(m > 0, m, 1)), 0.0).sum()
    return float(0.5 * (a + b) / np.log(2))


def _wasserstein(ref: FeatureReference, q: np.ndarray) -> float:
    """W1 between reference and batch on the reference's quantile bins, in reference-IQR units."""
    quantiles = np.asarray(ref.quantiles)
    if quantiles.size < 3:
        return 0.0
    p = np.asarray(ref.probs)
    # bin centres on the reference quantile grid
    edges = np.concatenate([[ref.low], np.asarray(ref.edges), [ref.high]])
    centres = 0.5 * (edges[:-1] + edges[1:])
    cdf_gap = np.abs(np.cumsum(p) - np.cumsum(q))[:-1]
    widths = np.diff(centres)
    iqr = max(quantiles[75] - quantiles[25], _EPS)
    return float(np.sum(cdf_gap * widths) / iqr)


def _chi2(p: np.ndarray, counts: np.ndarray) -> float:
    n = counts.sum()
    expected = np.clip(p * n, _EPS, None)
    return float(np.sum((counts - expected) ** 2 / expected) / max(n, 1))


class DriftMonitor:
    """Watch a deployed model's inputs, predictions and errors.

    Parameters
    ----------
    reference
        The model's :class:`ReferenceProfile`.
    task
        The model's task (for the error stream of :meth:`feedback`).
    classes
        Class labels of a classifier, to compare feedback labels with predictions.
    importance
        Feature -> model importance, to rank drifted features.
    window
        Records buffered by :meth:`update_one` before they are checked as a batch.
    cooldown
        Seconds during which a repeated alert is not raised again.
    seed
        Seed of the threshold simulations.
    """

    def __init__(
        self,
        reference: ReferenceProfile,
        *,
        task: str = "regression",
        classes: Sequence[Any] = (),
        importance: Mapping[str, float] | None = None,
        window: int = 500,
        cooldown: float = 300.0,
        seed: int = 0,
    ) -> None:
        if window < 10:
            raise ParameterError(
                f"The 'window' parameter of DriftMonitor must be at least 10. Got {window} instead."
            )
        self.reference = reference
        self.task = task
        self.classes = list(classes)
        self.importance = dict(importance or {})
        self.window = window
        self.cooldown = cooldown
        self.seed = seed
        self._thresholds: dict[tuple[str, int], tuple[float, float]] = {}
        self._buffer: list[dict[str, Any]] = []
        self._pending: OrderedDict[str, Any] = OrderedDict()
        self._alerts: dict[str, float] = {}
        self._last: dict[str, Any] | None = None
        self.accuracy_history: list[dict[str, Any]] = []
        self._init_detectors()

    def _init_detectors(self) -> None:
        from mlwf_core.drift import ADWIN, DDM

        self._adwin = ADWIN()
        self._ddm = DDM() if self.task != "regression" else None
        self._n_feedback = 0
        self._errors = 0.0
        self._concept_drift_at: list[int] = []

    # ------------------------------------------------------------ construction
    @classmethod
    def from_model(cls, model: Any, **kwargs: Any) -> DriftMonitor:
        """Monitor for a fitted :class:`~mlwf_core.AutoModel` (its stored reference profile)."""
        reference = getattr(model, "reference_", None)
        if reference is None:
            raise DataError(
                "This model has no reference profile; refit it with this mlwf version to monitor it."
            )
        importance = dict(
            zip(
                *model.feature_importance()
                .select("feature", "importance")
                .to_dict(as_series=False)
                .values(),
                strict=True,
            )
        )
        return cls(
            reference, task=model.task_, classes=model.classes_, importance=importance, **kwargs
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DriftMonitor:
        """A monitor from a ``.mlwf`` model or a monitor state file saved by :meth:`save`."""
        source = Path(path)
        if source.suffix == ".json":
            try:
                state = json.loads(source.read_text())
            except (OSError, ValueError) as exc:
                raise DataError(f"Cannot read monitor state {str(source)!r}: {exc}") from exc
            return cls.from_dict(state)
        from mlwf_core.automl import AutoModel

        return cls.from_model(AutoModel.load(source))

    # ------------------------------------------------------------ thresholds
    def _threshold(self, ref: FeatureReference, n: int) -> tuple[float, float]:
        """(warning, drift) PSI thresholds for a batch of n rows, simulated from the reference."""
        bucket = int(2 ** np.ceil(np.log2(max(n, 16))))
        key = (ref.name, bucket)
        if key not in self._thresholds:
            rng = np.random.default_rng(self.seed)
            p = np.asarray(ref.probs, dtype=np.float64)
            p = p / p.sum()
            # Both the batch and the reference are samples: simulate the PSI between a
            # reference-sized and a batch-sized draw from the same distribution.
            n_ref = max(self.reference.n_rows, 16)
            refs = rng.multinomial(n_ref, p, size=_N_SIMULATIONS) / n_ref
            draws = rng.multinomial(bucket, p, size=_N_SIMULATIONS) / bucket
            refs = np.clip(refs, _EPS, None)
            draws = np.clip(draws, _EPS, None)
            psi = np.sum((draws - refs) * np.log(draws / refs), axis=1)
            self._thresholds[key] = (float(np.quantile(psi, 0.95)), float(np.quantile(psi, 0.995)))
        return self._thresholds[key]

    # ------------------------------------------------------------ updates
    def update(
        self, data: Any, predictions: Any = None, *, ids: Iterable[Any] | None = None
    ) -> dict[str, Any]:
        """Check a batch of new rows (and optionally their predictions) against the reference.

        Parameters
        ----------
        data
            New raw rows (anything :func:`mlwf_core.read` accepts).
        predictions
            The model's scores for these rows (positive-class probability, class
            probabilities or predicted values), for prediction drift.
        ids
            Request / row ids, so that :meth:`feedback` can match later labels.

        Returns
        -------
        dict
            The batch report (also what :meth:`status` summarises).
        """
        from mlwf_core.io import read

        frame = data if isinstance(data, pl.DataFrame) else read(data)
        n = frame.height
        # Distribution distances and shares are estimated on a seeded row sample of big
        # batches: at 100,000 rows their sampling noise (PSI ~0.001) is far below the floors.
        sample = (
            frame.sample(_DISTRIBUTION_ROWS, seed=self.seed) if n > _DISTRIBUTION_ROWS else frame
        )
        rows = []
        alerts = []
        for ref in self.reference.features:
            if ref.name not in frame.columns:
                alerts.append(
                    ("schema", ref.name, f"column {ref.name!r} is missing from the new data")
                )
                continue
            col = sample[ref.name]
            if ref.kind == "numeric" and not (col.dtype.is_numeric() or col.dtype == pl.Null):
                alerts.append(
                    (
                        "schema",
                        ref.name,
                        f"column {ref.name!r} has type {col.dtype}, expected numbers",
                    )
                )
                continue
            counts, n_missing, n_odd = _bin_counts(ref, col)
            total = counts.sum()
            row: dict[str, Any] = {
                "feature": ref.name,
                "kind": ref.kind,
                "n": n,
                "sampled_rows": sample.height,
            }
            missing_rate = n_missing / max(sample.height, 1)
            row["missing_rate"] = missing_rate
            row["reference_missing_rate"] = ref.missing_rate
            if total == 0:
                row.update(
                    psi=float("nan"), js=float("nan"), wasserstein=float("nan"), verdict="ok"
                )
            else:
                p = np.asarray(ref.probs)
                q = counts / total
                psi = _psi(p, q)
                warn_at, drift_at = self._threshold(ref, int(total))
                # On large batches the calibrated thresholds shrink towards zero; a floor on
                # the effect size keeps negligible (if real) shifts from raising alerts.
                warn_at, drift_at = max(warn_at, _MIN_PSI_WARNING), max(drift_at, _MIN_PSI_DRIFT)
                row["psi"] = psi
                row["js"] = _js(p, q)
                row["wasserstein"] = _wasserstein(ref, q) if ref.kind == "numeric" else float("nan")
                row["chi2"] = _chi2(p, counts) if ref.kind == "categorical" else float("nan")
                row["threshold_warning"], row["threshold_drift"] = warn_at, drift_at
                row["verdict"] = "drift" if psi > drift_at else "warning" if psi > warn_at else "ok"
            row["importance"] = self.importance.get(ref.name, 0.0)
            # data quality: a missing-rate jump beyond binomial noise, unseen levels, out-of-range values
            sd = np.sqrt(
                max(ref.missing_rate * (1 - ref.missing_rate), 1e-4) / max(sample.height, 1)
            )
            if missing_rate > ref.missing_rate + max(0.05, 4 * sd):
                alerts.append(
                    (
                        "missing_rate",
                        ref.name,
                        f"missing rate {missing_rate:.1%} vs {ref.missing_rate:.1%} in training",
                    )
                )
            if n_odd:
                share = n_odd / max(total, 1)
                if ref.kind == "categorical":
                    # levels outside the stored top levels: alert beyond the training share of those
                    key, expected = "unseen_categories", ref.probs[-1]
                    what = "are levels outside the training levels"
                else:
                    key, expected = "out_of_range", 0.0
                    what = f"outside the training range [{ref.low:g}, {ref.high:g}]"
                row[f"{key}_share"] = share
                if share > expected + 0.01:
                    alerts.append((key, ref.name, f"{n_odd} values ({share:.1%}) {what}"))
            if row.get("verdict") in ("warning", "drift"):
                alerts.append(
                    (
                        f"feature_{row['verdict']}",
                        ref.name,
                        f"PSI {row['psi']:.3f} above the calibrated {row['verdict']} threshold",
                    )
                )
            rows.append(row)

        prediction = self._prediction_drift(predictions)
        if prediction and prediction["verdict"] != "ok":
            alerts.append(
                (
                    f"prediction_{prediction['verdict']}",
                    "__score__",
                    f"prediction PSI {prediction['psi']:.3f}",
                )
            )
        multivariate = self._multivariate(sample.head(_PCA_ROWS))
        if multivariate and multivariate["verdict"] != "ok":
            alerts.append(
                (
                    f"multivariate_{multivariate['verdict']}",
                    "__pca__",
                    f"PCA reconstruction error z = {multivariate['z']:.1f}",
                )
            )
        if ids is not None and predictions is not None:
            for key, pred in zip(ids, np.asarray(predictions).tolist(), strict=False):
                self._pending[str(key)] = pred
            while len(self._pending) > 100_000:
                self._pending.popitem(last=False)

        report = {
            "n_rows": n,
            "features": rows,
            "prediction": prediction,
            "multivariate": multivariate,
            "alerts": self._dedupe(alerts),
            "time": time.time(),
        }
        self._last = report
        return report

    def update_one(
        self, record: Mapping[str, Any], prediction: Any = None, *, id: Any = None
    ) -> dict[str, Any] | None:
        """Buffer one record; every ``window`` records the buffer is checked as a batch.

        Returns
        -------
        dict or None
            The batch report when this record completed a window, else ``None``.
        """
        self._buffer.append({"record": dict(record), "prediction": prediction, "id": id})
        if len(self._buffer) < self.window:
            return None
        items, self._buffer = self._buffer, []
        frame = pl.DataFrame([it["record"] for it in items], infer_schema_length=None)
        preds = [it["prediction"] for it in items]
        has_preds = all(p is not None for p in preds)
        ids = [it["id"] for it in items] if all(it["id"] is not None for it in items) else None
        return self.update(
            frame, np.asarray(preds, dtype=np.float64) if has_preds else None, ids=ids
        )

    def feedback(self, ids: Iterable[Any], labels: Iterable[Any]) -> dict[str, Any]:
        """Delayed labels for earlier predictions: feeds the concept-drift detectors.

        Predictions are matched by the ``ids`` given to :meth:`update`; labels of
        unknown ids are counted and ignored.
        """
        matched = unknown = 0
        for key, label in zip(ids, labels, strict=True):
            pred = self._pending.pop(str(key), None)
            if pred is None:
                unknown += 1
                continue
            error = self._error(pred, label)
            self._n_feedback += 1
            self._errors += error
            if self._adwin.update(error):
                self._concept_drift_at.append(self._n_feedback)
            if self._ddm is not None:
                self._ddm.update(error)
            matched += 1
        if matched:
            self.accuracy_history.append(
                {
                    "time": time.time(),
                    "n": self._n_feedback,
                    "error_rate": self._errors / self._n_feedback,
                    "window_error": self._adwin.estimation,
                }
            )
        return {
            "matched": matched,
            "unknown": unknown,
            "concept_drift": bool(self._concept_drift_at),
        }

    def _error(self, pred: Any, label: Any) -> float:
        if self.task == "regression":
            return abs(float(pred) - float(label))
        if isinstance(pred, list):  # class probabilities
            predicted = self.classes[int(np.argmax(pred))]
        elif self.task == "binary" and isinstance(pred, float) and self.classes:
            predicted = self.classes[int(pred >= 0.5)]
        else:
            predicted = pred
        return float(str(predicted) != str(label))

    def _prediction_drift(self, predictions: Any) -> dict[str, Any] | None:
        ref = self.reference.score
        if predictions is None or ref is None:
            return None
        scores = np.asarray(predictions, dtype=np.float64)
        if scores.ndim == 2:
            scores = scores[:, 1] if scores.shape[1] == 2 else scores.max(axis=1)
        counts, _, _ = _bin_counts(ref, pl.Series(scores))
        if counts.sum() == 0:
            return None
        q = counts / counts.sum()
        p = np.asarray(ref.probs)
        psi = _psi(p, q)
        warn_at, drift_at = self._threshold(ref, int(counts.sum()))
        # The reference scores are out-of-fold predictions of the CV models, slightly
        # less confident than the refit ensemble's: the customary PSI bands (0.1 / 0.25)
        # are floors so that difference alone never raises an alert.
        warn_at, drift_at = max(warn_at, 0.1), max(drift_at, 0.25)
        verdict = "drift" if psi > drift_at else "warning" if psi > warn_at else "ok"
        return {
            "psi": psi,
            "js": _js(p, q),
            "threshold_warning": warn_at,
            "threshold_drift": drift_at,
            "verdict": verdict,
        }

    def _multivariate(self, frame: pl.DataFrame) -> dict[str, Any] | None:
        pca = self.reference.pca
        if not pca or any(c not in frame.columns for c in pca["columns"]):
            return None
        try:
            X = frame.select(pca["columns"]).cast(pl.Float64).to_numpy()
        except pl.exceptions.PolarsError:
            return None
        med = np.asarray(pca["median"])
        X = np.where(np.isfinite(X), X, med)
        Z = (X - np.asarray(pca["mean"])) / np.asarray(pca["scale"])
        comps = np.asarray(pca["components"])
        err = ((Z - Z @ comps.T @ comps) ** 2).mean(axis=1)
        sd = max(pca["error_std"], _EPS) / np.sqrt(max(len(err), 1))
        z = float((err.mean() - pca["error_mean"]) / sd)
        verdict = "drift" if z > 6 else "warning" if z > 3 else "ok"
        return {
            "error_mean": float(err.mean()),
            "reference_error_mean": pca["error_mean"],
            "z": z,
            "verdict": verdict,
        }

    def _dedupe(self, alerts: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
        now = time.monotonic()
        out = []
        for kind, feature, message in alerts:
            key = f"{kind}:{feature}"
            last = self._alerts.get(key)
            repeated = last is not None and now - last < self.cooldown
            if not repeated:
                self._alerts[key] = now
            out.append({"kind": kind, "feature": feature, "message": message, "repeated": repeated})
        return out

    # ------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        """One verdict for the last batch and the feedback so far.

        Returns
        -------
        dict
            ``verdict`` (``"ok"``, ``"warning"`` or ``"drift"``), ``drifted`` features
            ranked by drift score times model importance, new (not repeated)
            ``alerts``, ``concept_drift`` and the error rate of the feedback.
        """
        verdicts = ["ok"]
        drifted = []
        alerts = []
        if self._last is not None:
            for row in self._last["features"]:
                verdicts.append(row.get("verdict", "ok"))
                if row.get("verdict") in ("warning", "drift"):
                    drifted.append(
                        {
                            "feature": row["feature"],
                            "verdict": row["verdict"],
                            "psi": row["psi"],
                            "importance": row["importance"],
                            "rank_score": row["psi"] * (row["importance"] + 0.01),
                        }
                    )
            for part in ("prediction", "multivariate"):
                if self._last.get(part):
                    verdicts.append(self._last[part]["verdict"])
            alerts = [a for a in self._last["alerts"] if not a["repeated"]]
            if any(a["kind"] in ("schema",) for a in self._last["alerts"]):
                verdicts.append("drift")
        concept = bool(self._concept_drift_at) or bool(
            self._ddm is not None and self._ddm.drift_detected
        )
        if concept:
            verdicts.append("drift")
        elif self._ddm is not None and self._ddm.warning_detected:
            verdicts.append("warning")
        drifted.sort(key=lambda d: -d["rank_score"])
        return {
            "verdict": max(verdicts, key=_VERDICTS.index),
            "drifted": drifted,
            "alerts": alerts,
            "concept_drift": concept,
            "n_feedback": self._n_feedback,
            "error_rate": self._errors / self._n_feedback if self._n_feedback else None,
            "n_rows": self._last["n_rows"] if self._last else 0,
        }

    def feature_table(self) -> pl.DataFrame:
        """Per-feature drift scores of the last batch."""
        if self._last is None:
            return pl.DataFrame()
        cols = [
            "feature",
            "kind",
            "psi",
            "js",
            "wasserstein",
            "missing_rate",
            "reference_missing_rate",
            "importance",
            "verdict",
        ]
        return pl.DataFrame([{c: r.get(c) for c in cols} for r in self._last["features"]]).sort(
            "psi", descending=True, nulls_last=True
        )

    # ------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """JSON-able state: reference, settings, detectors and pending predictions."""
        return {
            "reference": self.reference.to_dict(),
            "task": self.task,
            "classes": self.classes,
            "importance": self.importance,
            "window": self.window,
            "cooldown": self.cooldown,
            "seed": self.seed,
            "adwin": self._adwin.to_dict(),
            "ddm": self._ddm.to_dict() if self._ddm is not None else None,
            "n_feedback": self._n_feedback,
            "errors": self._errors,
            "concept_drift_at": self._concept_drift_at,
            "pending": list(self._pending.items())[-10_000:],
            "accuracy_history": self.accuracy_history[-1000:],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> DriftMonitor:
        from mlwf_core.drift import detector_from_dict

        monitor = cls(
            ReferenceProfile.from_dict(state["reference"]),
            task=state["task"],
            classes=state.get("classes", []),
            importance=state.get("importance"),
            window=state.get("window", 500),
            cooldown=state.get("cooldown", 300.0),
            seed=state.get("seed", 0),
        )
        monitor._adwin = detector_from_dict(state["adwin"])
        monitor._ddm = detector_from_dict(state["ddm"]) if state.get("ddm") else None
        monitor._n_feedback = state.get("n_feedback", 0)
        monitor._errors = state.get("errors", 0.0)
        monitor._concept_drift_at = list(state.get("concept_drift_at", []))
        monitor._pending = OrderedDict((str(k), v) for k, v in state.get("pending", []))
        monitor.accuracy_history = list(state.get("accuracy_history", []))
        return monitor

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the state as JSON, atomically, so a restarted service resumes."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(self.to_dict(), handle)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
