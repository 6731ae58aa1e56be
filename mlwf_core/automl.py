"""The workflow in one estimator: :class:`AutoModel` and :func:`fit_auto`."""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlwf_core._link import apply_link
from mlwf_core._typing import FrameLike, Task
from mlwf_core._version import __version__
from mlwf_core.exceptions import DataError, MlwfWarning, NotFittedError, ParameterError
from mlwf_core.io import read
from mlwf_core.plan import Plan
from mlwf_core.preprocess import Preprocessor
from mlwf_core.schema import Schema, infer_schema

__all__ = ["AutoModel", "Member", "fit_auto", "retrain"]

LEARNERS = ("lightgbm", "xgboost")
# Candidates considered by ensemble selection (best trials first).
_ENSEMBLE_CANDIDATES = 20
# Share of the budget kept free before any trial has told us what a refit costs.
_INITIAL_RESERVE = 0.08


@dataclass
class Member:
    """One booster of the fitted ensemble."""

    learner: str
    booster: Any
    weight: float
    params: dict[str, Any]
    trial: int


class AutoModel:
    """A fitted AutoML model: plan, boosters, blend weights and metadata.

    Parameters
    ----------
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``; detected from the target when ``None``.
    metric
        Metric to optimise, any name in :data:`mlwf_core.metrics.METRICS` valid for the task;
        defaults to ``roc_auc`` (binary), ``log_loss`` (multiclass), ``rmse`` (regression).
    time_budget
        Wall-clock seconds for the whole fit (reading, preprocessing, search, refit).
    seed
        Seed of the splits, the sampler and the learners.
    n_jobs
        Threads for every pool the fit uses; ``None`` or ``-1`` uses every core.
    verbose
        ``1`` shows a progress display while searching, ``0`` is silent.
    learners
        Learners to search over.
    search
        ``"tpe"`` (Bayesian optimisation) or ``"random"``.
    n_trials
        Stop the search after this many trials (the time budget still applies).
    roles
        Column name -> role, overriding schema inference.
    success
        Success criterion, e.g. ``{"roc_auc": 0.85}``, reported as met or not
        from the cross-validated scores.
    groups
        Column whose rows must stay together in validation (grouped k-fold).
    time_column
        Column that orders rows in time: validation always on later rows
        (expanding windows).
    storage, study_name
        Optuna storage URL (``"sqlite:///study.db"``, PostgreSQL for many workers)
        and study name (default: derived from the data fingerprint, task, metric and
        seed); an interrupted search called again resumes from the stored trials.

    Attributes
    ----------
    task_, metric_, target_, classes_, schema_, plan_, members_, leaderboard,
    cv_score_, cv_scores_, success_, fingerprint_, created_, n_jobs_
        Learned state, set by :meth:`fit` or :meth:`load`.
    """

    def __init__(
        self,
        *,
        task: Task | None = None,
        metric: str | None = None,
        time_budget: float = 60,
        seed: int = 0,
        n_jobs: int | None = None,
        verbose: int = 1,
        learners: Sequence[str] = LEARNERS,
        search: str = "tpe",
        n_trials: int | None = None,
        roles: Mapping[str, str] | None = None,
        success: Mapping[str, float] | None = None,
        groups: str | None = None,
        time_column: str | None = None,
        storage: str | None = None,
        study_name: str | None = None,
    ) -> None:
        self.task = task
        self.metric = metric
        self.time_budget = time_budget
        self.seed = seed
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.learners = learners
        self.search = search
        self.n_trials = n_trials
        self.roles = roles
        self.success = success
        self.groups = groups
        self.time_column = time_column
        self.storage = storage
        self.study_name = study_name
        # set by retrain(): the champion this model was trained to replace
        self._parent: dict[str, Any] | None = None
        # set by retrain(): configurations enqueued before the sampler's own
        self._warm_configs: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ fit
    def _validate(self) -> None:
        budget = self.time_budget
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
            raise ParameterError(
                f"The 'time_budget' parameter of fit_auto must be a positive number. Got {budget!r} instead."
            )
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, (int, np.integer))
            or self.seed < 0
        ):
            raise ParameterError(
                f"The 'seed' parameter of fit_auto must be a non-negative integer. Got {self.seed!r} instead."
            )
        n_jobs = self.n_jobs
        if n_jobs is not None and (
            isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1)
        ):
            raise ParameterError(
                f"The 'n_jobs' parameter of fit_auto must be None, -1 or a positive integer. Got {n_jobs!r} instead."
            )
        if self.task is not None and self.task not in ("binary", "multiclass", "regression"):
            raise ParameterError(
                f"The 'task' parameter of fit_auto must be 'binary', 'multiclass' or 'regression'. Got {self.task!r} instead."
            )
        unknown = [name for name in self.learners if name not in LEARNERS]
        if unknown or not self.learners:
            raise ParameterError(
                f"The 'learners' parameter of fit_auto must list some of {list(LEARNERS)}. Got {list(self.learners)!r} instead."
            )
        if self.n_trials is not None and (not isinstance(self.n_trials, int) or self.n_trials < 1):
            raise ParameterError(
                f"The 'n_trials' parameter of fit_auto must be a positive integer. Got {self.n_trials!r} instead."
            )
        if self.verbose not in (0, 1, 2, True, False):
            raise ParameterError(
                f"The 'verbose' parameter of fit_auto must be 0 or 1. Got {self.verbose!r} instead."
            )

    def fit(self, data: FrameLike, target: str) -> AutoModel:
        """Run the workflow on ``data`` and learn to predict column ``target``.

        Returns
        -------
        AutoModel
            ``self``, fitted.
        """
        self._validate()
        n_jobs = (os.cpu_count() or 1) if self.n_jobs in (None, -1) else int(self.n_jobs)
        with _thread_limit(n_jobs):
            return self._fit(data, target, n_jobs)

    def _fit(self, data: FrameLike, target: str, n_jobs: int) -> AutoModel:
        from mlwf_core.metrics import default_metric, evaluate_all, get_metric
        from mlwf_core.models import DataInfo, get_adapter
        from mlwf_core.search import run_search

        start = time.monotonic()
        deadline = start + float(self.time_budget)
        if not isinstance(target, str):
            raise ParameterError(
                f"The 'target' parameter of fit_auto must be a column name (str). Got {target!r} instead."
            )

        frame = read(data)
        schema = infer_schema(frame, target, task=self.task, roles=self.roles)
        frame = _drop_missing_target(frame, target)
        # Exact duplicate rows would sit in training and validation folds at once and
        # flatter the CV scores; one copy of each is kept.
        n_before = frame.height
        frame = frame.unique(maintain_order=True)
        duplicates = n_before - frame.height
        task: Task = schema.task  # type: ignore[assignment]
        metric_name = self.metric or default_metric(task)
        metric = get_metric(metric_name, task)

        y_raw = frame[target]
        if task == "regression":
            if not y_raw.dtype.is_numeric():
                raise DataError(
                    f"The target column {target!r} holds {y_raw.dtype} values; regression needs numbers."
                )
            classes: list[Any] = []
            y = y_raw.cast(pl.Float64).to_numpy()
        else:
            classes = sorted(y_raw.unique().to_list())
            if task == "binary" and len(classes) != 2:
                task = "multiclass" if len(classes) > 2 else task
                metric_name = self.metric or default_metric(task)
                metric = get_metric(metric_name, task)
            y = _encode(y_raw, classes)
        preprocessor = Preprocessor(seed=int(self.seed), n_jobs=n_jobs).fit(frame, schema, y)
        plan = preprocessor.plan_
        if not plan.columns:
            raise DataError(
                f"No usable feature column besides the target {target!r}: every column was dropped "
                f"({schema.reasons}). Provide feature columns or set roles=."
            )
        X = plan.transform(frame)
        info = DataInfo(
            task=task,
            n_rows=X.shape[0],
            n_features=X.shape[1],
            n_classes=len(classes),
            categorical=tuple(plan.categorical_features),
            metric=metric_name,
            feature_names=tuple(plan.features),
        )

        fraction = 1.0

        def reserve(complete: list[Any]) -> float:
            # Keep time to refit the best configuration on all rows (from its CV fit
            # time); further ensemble members are refit only if time is left then.
            if not complete:
                return _INITIAL_RESERVE * float(self.time_budget)
            best = complete[0]
            per_fold = best.fit_seconds / max(1, len(best.n_rounds))
            return 1.5 * per_fold / fraction + 0.02 * float(self.time_budget)

        from mlwf_core.search import make_splits

        for option in ("groups", "time_column"):
            column = getattr(self, option)
            if column is not None and column not in frame.columns:
                raise ParameterError(
                    f"The '{option}' parameter of fit_auto names column {column!r}, which is not in the data."
                )
        splits, strategy = make_splits(
            y,
            task,
            seed=int(self.seed),
            groups=frame[self.groups].to_numpy() if self.groups else None,
            time_order=frame[self.time_column].to_physical().to_numpy()
            if self.time_column
            else None,
        )
        threads = _threads_per_fit(n_jobs, X.shape)
        fingerprint = _fingerprint(frame)
        study_name = self.study_name or f"mlwf-{fingerprint[7:23]}-{task}-{metric_name}-{self.seed}"
        fraction = float(np.mean([len(tr) for tr, _ in splits])) / len(y)
        with _Progress(self.verbose, metric_name, deadline) as progress:
            result = run_search(
                X,
                y,
                info,
                deadline=deadline,
                reserve=reserve,
                seed=int(self.seed),
                n_jobs=threads,
                learners=self.learners,
                search=self.search,
                n_trials=self.n_trials,
                splits=splits,
                strategy=strategy,
                on_trial=progress.update,
                initial_configs=self._warm_configs,
                storage=self.storage,
                study_name=study_name if self.storage else None,
            )
        from mlwf_core.ensemble import select_ensemble

        index = result.oof_index
        if result.complete:
            candidates = result.complete[:_ENSEMBLE_CANDIDATES]
            weights = select_ensemble([t.oof[index] for t in candidates], y[index], metric, task)  # type: ignore[index]
            chosen = _fit_in_time(
                [(candidates[i], w) for i, w in weights.items()], deadline, fraction
            )
        else:
            # The budget ran out before any configuration was cross-validated: still
            # return a model, the first (default) configuration fitted on all rows.
            warnings.warn(
                f"time_budget={self.time_budget} s was too short to cross-validate any configuration on "
                f"{X.shape[0]} rows; returning the default configuration without CV scores. "
                "Increase time_budget for a searched model.",
                MlwfWarning,
                stacklevel=2,
            )
            first = result.trials[0] if result.trials else _default_trial(self.learners[0], info)
            chosen = [(first, 1.0)]

        members: list[Member] = []
        full_data: dict[str, Any] = {}
        for trial, weight in chosen:
            adapter = get_adapter(trial.learner)
            if trial.learner not in full_data:
                full_data[trial.learner] = adapter.dataset(X, y, info, threads)
            params = {k: v for k, v in trial.params.items() if k != "learner"}
            fit = adapter.fit(
                params,
                full_data[trial.learner],
                None,
                info,
                n_rounds=trial.refit_rounds,
                # a refit squeezed by a slow machine still gets a few seconds' grace, within +5 %
                deadline=max(deadline, time.monotonic() + 0.05 * float(self.time_budget)),
                n_jobs=threads,
                seed=int(self.seed),
            )
            members.append(Member(trial.learner, fit.booster, weight, trial.params, trial.number))

        if result.complete:
            blend = sum(w * t.oof[index] for t, w in chosen)  # type: ignore[index]
            cv_pred = apply_link(blend, task)
            self.cv_scores_ = evaluate_all(y[index], cv_pred, task)
            self.cv_score_ = float(metric(y[index], cv_pred))
        else:
            self.cv_scores_, self.cv_score_ = {}, float("nan")
            cv_pred = None

        from mlwf_core.monitor import ReferenceProfile

        scores = None
        if cv_pred is not None:
            scores = cv_pred if task != "multiclass" else cv_pred.max(axis=1)
        self.reference_ = ReferenceProfile.build(frame, plan.columns, scores, seed=int(self.seed))
        self.test_scores_: dict[str, float] | None = None

        self.task_ = task
        self.metric_ = metric_name
        self.target_ = target
        self.classes_ = classes
        self.schema_ = schema
        self.plan_ = plan
        self.members_ = members
        self._forest = self._arrays = None
        self.n_jobs_ = n_jobs
        self.strategy_ = result.strategy
        self.search_info_ = {
            "validation": result.strategy,
            "search": self.search,
            "n_trials": len(result.trials),
            "n_complete": len(result.complete),
            "n_jobs": n_jobs,
            "threads_per_fit": threads,
            "threads_reason": _THREADS_REASON,
            "duplicate_rows_dropped": duplicates,
            "study_name": study_name if self.storage else None,
        }
        self.fingerprint_ = fingerprint
        self.created_ = datetime.now(UTC).isoformat(timespec="seconds")
        self.n_rows_ = X.shape[0]
        self.fit_seconds_ = time.monotonic() - start
        self.leaderboard_rows_ = [t.to_row() for t in result.trials] + [self._ensemble_row()]
        self.success_ = self._check_success()
        self.lineage_ = (
            {"parent": self._parent, "data_fingerprint": self.fingerprint_} if self._parent else {}
        )
        return self

    def _ensemble_row(self) -> dict[str, Any]:
        spec = [
            {"model": f"{m.learner}#{m.trial}", "weight": round(m.weight, 6)} for m in self.members_
        ]
        return {
            "trial": -1,
            "model": "ensemble",
            "learner": "ensemble",
            "params": json.dumps(spec),
            "cv_score": self.cv_score_,
            "fold_scores": "[]",
            "n_rounds": 0,
            "fit_seconds": 0.0,
            "state": "complete",
        }

    def _check_success(self) -> dict[str, Any] | None:
        if not self.success:
            return None
        from mlwf_core.metrics import get_metric

        met = True
        detail = {}
        for name, threshold in self.success.items():
            metric = get_metric(name, self.task_)
            value = self.cv_scores_.get(name)
            ok = value is not None and (
                value >= threshold if metric.direction == "maximize" else value <= threshold
            )
            detail[name] = {"threshold": threshold, "cv_value": value, "met": bool(ok)}
            met = met and bool(ok)
        return {"criterion": dict(self.success), "detail": detail, "met": met}

    # ------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise NotFittedError("This AutoModel is not fitted yet; call fit (or fit_auto) first.")

    def transform(self, data: FrameLike) -> np.ndarray:
        """The float32 feature matrix the boosters see (the Plan applied)."""
        self._check_fitted()
        frame = data if isinstance(data, pl.DataFrame) else read(data)
        return self.plan_.transform(frame)

    def predict_margin(self, data: FrameLike) -> np.ndarray:
        """Blended raw scores: shape (n,) or (n, n_classes) for multiclass.

        Scored by the compiled forest, the same one the deployed
        :class:`~mlwf_core.Scorer` uses, so training and serving cannot disagree.
        """
        X = self.transform(data)
        return self.forest_.predict_raw(X, n_threads=self.n_jobs_)

    @property
    def forest_(self) -> Any:
        """The ensemble compiled into one forest (built on first use)."""
        self._check_fitted()
        if getattr(self, "_forest", None) is None:
            from mlwf_core.deploy._scorer import Forest

            self._forest = Forest.from_arrays(self._forest_arrays(), self.task_, len(self.classes_))
        return self._forest

    def predict_proba(self, data: FrameLike) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), columns in the order of ``classes_``."""
        self._check_fitted()
        if self.task_ == "regression":
            raise ParameterError(
                "predict_proba is only defined for classifiers; this model does regression."
            )
        proba = apply_link(self.predict_margin(data), self.task_)
        if self.task_ == "binary":
            return np.column_stack([1.0 - proba, proba])
        return proba

    def predict(self, data: FrameLike) -> np.ndarray:
        """Predicted labels (original class values) or regression values."""
        self._check_fitted()
        if self.task_ == "regression":
            return self.predict_margin(data)
        proba = self.predict_proba(data)
        return np.asarray(self.classes_, dtype=object if _mixed(self.classes_) else None)[
            proba.argmax(axis=1)
        ]

    def evaluate(self, data: FrameLike) -> dict[str, float]:
        """Every metric of the task on labelled ``data`` (it must hold the target column).

        Rows whose target is missing are left out.
        """
        from mlwf_core.metrics import evaluate_all

        self._check_fitted()
        frame = data if isinstance(data, pl.DataFrame) else read(data)
        if self.target_ not in frame.columns:
            raise DataError(f"The data to evaluate lacks the target column {self.target_!r}.")
        # rows without a label cannot be scored; evaluating them is not an error
        frame = _drop_missing_target(frame, self.target_, warn=False)
        if self.task_ == "regression":
            y = frame[self.target_].cast(pl.Float64).to_numpy()
            return evaluate_all(y, self.predict_margin(frame), self.task_)
        y = _encode(frame[self.target_], self.classes_)
        proba = apply_link(self.predict_margin(frame), self.task_)
        return evaluate_all(y, proba, self.task_)

    @property
    def leaderboard(self) -> pl.DataFrame:
        """Every trial (learner, params, CV score per fold, fit seconds, state) and the ensemble."""
        self._check_fitted()
        from mlwf_core.search import LEADERBOARD_COLUMNS

        return pl.DataFrame(self.leaderboard_rows_).select(LEADERBOARD_COLUMNS)

    @property
    def features_(self) -> list[str]:
        """Input columns the model reads."""
        self._check_fitted()
        return self.plan_.input_columns

    @property
    def ensemble_(self) -> list[dict[str, Any]]:
        """Members with their learner, weight and parameters."""
        self._check_fitted()
        return [
            {"learner": m.learner, "weight": m.weight, "params": m.params, "trial": m.trial}
            for m in self.members_
        ]

    def feature_importance(self) -> pl.DataFrame:
        """Gain importance per feature, blended over members and normalised to sum to 1."""
        self._check_fitted()
        names = self.plan_.features
        total = np.zeros(len(names))
        for member in self.members_:
            if member.learner == "lightgbm":
                gain = np.asarray(member.booster.feature_importance("gain"), dtype=float)
            else:
                scores = member.booster.get_score(importance_type="total_gain")
                gain = np.array(
                    [scores.get(f"f{j}", scores.get(n, 0.0)) for j, n in enumerate(names)],
                    dtype=float,
                )
            if gain.sum() > 0:
                total += member.weight * gain / gain.sum()
        if total.sum() > 0:
            total /= total.sum()
        return pl.DataFrame({"feature": names, "importance": total}).sort(
            "importance", descending=True
        )

    def explain(self, data: FrameLike) -> pl.DataFrame:
        """Per-feature contributions (TreeSHAP) of each row, in raw-margin space.

        Delegates to :func:`mlwf_core.explain.contributions`: one column per model feature
        and ``base_value``; each row sums to the raw margin. Multiclass models give one row
        per (row, class) with ``row`` and ``class`` columns.
        """
        from mlwf_core.explain import contributions

        return contributions(self, data)

    def monitor(self, **kwargs: Any) -> Any:
        """A :class:`~mlwf_core.monitor.DriftMonitor` against this model's training profile.

        Parameters
        ----------
        **kwargs
            Passed to :class:`~mlwf_core.monitor.DriftMonitor` (``window``, ``cooldown``...).
        """
        from mlwf_core.monitor import DriftMonitor

        self._check_fitted()
        return DriftMonitor.from_model(self, **kwargs)

    def report(
        self, path: str | os.PathLike[str], data: FrameLike | None = None, *, monitor: Any = None
    ) -> Path:
        """Write a self-contained HTML report of the model (and of ``data`` when given).

        Parameters
        ----------
        path
            Output HTML file (written atomically).
        data
            Labelled data for evaluation plots (ROC, calibration, residuals...) and the data profile.
        monitor
            A :class:`~mlwf_core.monitor.DriftMonitor` whose status is included.
        """
        from mlwf_core.report import render_model_report

        self._check_fitted()
        return render_model_report(self, path, data, monitor=monitor)

    # -------------------------------------------------------------- save
    def _manifest(self) -> dict[str, Any]:
        import lightgbm
        import xgboost

        return {
            "mlwf_version": __version__,
            "libraries": {
                "lightgbm": lightgbm.__version__,
                "xgboost": xgboost.__version__,
                "polars": pl.__version__,
                "numpy": np.__version__,
            },
            "created": self.created_,
            "task": self.task_,
            "metric": self.metric_,
            "target": self.target_,
            "classes": list(self.classes_),
            "schema": self.schema_.to_dict(),
            "plan": self.plan_.to_dict(),
            "cv_score": self.cv_score_,
            "cv_scores": self.cv_scores_,
            "strategy": self.strategy_,
            "search_info": self.search_info_,
            "seed": int(self.seed),
            "time_budget": float(self.time_budget),
            "n_rows": self.n_rows_,
            "fit_seconds": self.fit_seconds_,
            "data_fingerprint": self.fingerprint_,
            "success": self.success_,
            "leaderboard": self.leaderboard_rows_,
            "reference": self.reference_.to_dict(),
            "lineage": self.lineage_,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to a ``.mlwf`` artifact (zip, no pickle, checksummed, written atomically).

        Returns
        -------
        pathlib.Path
            The written file.
        """
        from mlwf_core.deploy._artifact import write_artifact
        from mlwf_core.models import get_adapter

        self._check_fitted()
        manifest = self._manifest()
        files: dict[str, bytes] = {}
        ensemble = []
        for i, member in enumerate(self.members_):
            adapter = get_adapter(member.learner)
            name = f"boosters/{i}.{adapter.suffix}"
            files[name] = adapter.dumps(member.booster)
            ensemble.append(
                {
                    "learner": member.learner,
                    "file": name,
                    "weight": member.weight,
                    "params": member.params,
                    "trial": member.trial,
                }
            )
        manifest["ensemble"] = ensemble
        return write_artifact(path, manifest, files, self._forest_arrays())

    def _forest_arrays(self) -> dict[str, np.ndarray]:
        if getattr(self, "_arrays", None) is None:
            from mlwf_core.deploy._forest import forest_arrays

            members = [
                {"learner": m.learner, "booster": m.booster, "weight": m.weight}
                for m in self.members_
            ]
            self._arrays = forest_arrays(members, self.task_, len(self.classes_))
        return self._arrays

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AutoModel:
        """Load a model saved by :meth:`save` (see :func:`mlwf_core.load`)."""
        from mlwf_core.deploy._artifact import read_artifact
        from mlwf_core.exceptions import ArtifactError
        from mlwf_core.models import get_adapter
        from mlwf_core.monitor import ReferenceProfile

        artifact = read_artifact(path)
        m = artifact.manifest
        model = cls(
            task=m["task"],
            metric=m["metric"],
            time_budget=m.get("time_budget", 60),
            seed=m.get("seed", 0),
        )
        try:
            model.task_ = m["task"]
            model.metric_ = m["metric"]
            model.target_ = m["target"]
            model.classes_ = list(m["classes"])
            model.schema_ = Schema.from_dict(m["schema"])
            model.plan_ = Plan.from_dict(m["plan"])
            model.cv_score_ = m["cv_score"]
            model.cv_scores_ = m["cv_scores"]
            model.strategy_ = m.get("strategy", "")
            model.search_info_ = m.get("search_info", {})
            model.fingerprint_ = m["data_fingerprint"]
            model.created_ = m["created"]
            model.n_rows_ = m.get("n_rows", 0)
            model.fit_seconds_ = m.get("fit_seconds", 0.0)
            model.success_ = m.get("success")
            model.leaderboard_rows_ = m["leaderboard"]
            model.reference_ = ReferenceProfile.from_dict(m["reference"])
            model.lineage_ = m.get("lineage", {})
            model.test_scores_ = None
            model.n_jobs_ = os.cpu_count() or 1
            members = []
            for spec in m["ensemble"]:
                adapter = get_adapter(spec["learner"])
                booster = adapter.loads(artifact.files[spec["file"]])
                members.append(
                    Member(
                        spec["learner"],
                        booster,
                        float(spec["weight"]),
                        spec["params"],
                        spec.get("trial", -1),
                    )
                )
            model.members_ = members
            model._arrays = artifact.arrays or None
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(
                f"{str(path)!r} has an incomplete or invalid manifest ({exc!r})."
            ) from exc
        return model

    def __repr__(self) -> str:
        if not hasattr(self, "members_"):
            return "AutoModel(unfitted)"
        learners = "+".join(sorted({m.learner for m in self.members_}))
        return f"AutoModel(task={self.task_!r}, metric={self.metric_!r}, cv_score={self.cv_score_:.5g}, members={len(self.members_)} [{learners}])"


def fit_auto(
    data: FrameLike,
    target: str,
    *,
    task: Task | None = None,
    metric: str | None = None,
    time_budget: float = 60,
    seed: int = 0,
    n_jobs: int | None = None,
    verbose: int = 1,
    **options: Any,
) -> AutoModel:
    """Fit the best model a time budget can buy, in one call.

    It is this composition, which users can write out to grow beyond it::

        frame = mlwf_core.read(data)                              # any source -> Polars
        schema = mlwf_core.infer_schema(frame, target, task=task) # roles and task
        plan = Preprocessor().fit(frame, schema, y).plan_         # fitted preprocessing, plain data
        X = plan.transform(frame)                                 # float32 matrix
        result = run_search(X, y, info, deadline=...)             # Optuna over LightGBM / XGBoost, CV
        weights = select_ensemble(oof predictions, y, metric)     # greedy ensemble selection
        # refit each chosen configuration on all rows -> AutoModel

    Parameters
    ----------
    data
        A CSV / Parquet path, a Polars DataFrame or LazyFrame, a pandas DataFrame
        (anything :func:`mlwf_core.read` accepts).
    target
        Name of the column to predict.
    task, metric, time_budget, seed, n_jobs, verbose
        See :class:`AutoModel`.
    **options
        Further :class:`AutoModel` parameters: ``learners``, ``search``, ``n_trials``,
        ``roles``, ``success``.

    Returns
    -------
    AutoModel
        The fitted model.
    """
    return AutoModel(
        task=task,
        metric=metric,
        time_budget=time_budget,
        seed=seed,
        n_jobs=n_jobs,
        verbose=verbose,
        **options,
    ).fit(data, target)


def retrain(
    model: AutoModel,
    new_data: FrameLike,
    *,
    time_budget: float | None = None,
    recent_fraction: float = 0.2,
    seed: int | None = None,
    n_jobs: int | None = None,
    verbose: int = 0,
    n_trials: int | None = None,
) -> AutoModel:
    """Train a challenger on new data and keep whichever of champion and challenger is better.

    The search starts from the champion's best configurations. Rows are taken in
    their given order (oldest first): the last ``recent_fraction`` of them are the
    most recent labelled data, held out to compare the two models; the challenger
    trains on the rest.

    Parameters
    ----------
    model
        The champion.
    new_data
        Labelled rows with the champion's target column.
    time_budget
        Seconds for the challenger's fit (default: the champion's budget).
    recent_fraction
        Share of the newest rows used for the comparison.
    seed, n_jobs, verbose, n_trials
        As in :func:`fit_auto`.

    Returns
    -------
    AutoModel
        The winner; its ``lineage_`` records both models' scores and the decision.
    """
    from mlwf_core.metrics import get_metric

    model._check_fitted()
    if not 0.05 <= recent_fraction <= 0.5:
        raise ParameterError(
            f"The 'recent_fraction' parameter of retrain must be in [0.05, 0.5]. Got {recent_fraction!r} instead."
        )
    frame = read(new_data)
    if model.target_ not in frame.columns:
        raise DataError(
            f"The new data lacks the target column {model.target_!r}; retraining needs labels."
        )
    frame = _drop_missing_target(frame, model.target_)
    cut = int(round(frame.height * (1 - recent_fraction)))
    if cut < 20 or frame.height - cut < 10:
        raise DataError(f"retrain needs at least 30 labelled rows; got {frame.height}.")
    train, recent = frame[:cut], frame[cut:]
    board = model.leaderboard.filter((pl.col("state") == "complete") & (pl.col("trial") >= 0))
    board = board.sort(
        "cv_score", descending=get_metric(model.metric_, model.task_).direction == "maximize"
    )
    challenger = AutoModel(
        task=model.task_,
        metric=model.metric_,
        time_budget=time_budget if time_budget is not None else float(model.time_budget),
        seed=int(model.seed if seed is None else seed),
        n_jobs=n_jobs,
        verbose=verbose,
        n_trials=n_trials,
    )
    challenger._warm_configs = [json.loads(p) for p in board["params"].head(5).to_list()]
    challenger._parent = {
        "data_fingerprint": model.fingerprint_,
        "created": model.created_,
        "cv_score": model.cv_score_,
    }
    challenger.fit(train, model.target_)
    metric = get_metric(model.metric_, model.task_)
    champion_score = model.evaluate(recent)[model.metric_]
    challenger_score = challenger.evaluate(recent)[model.metric_]
    better = (
        challenger_score > champion_score
        if metric.direction == "maximize"
        else challenger_score < champion_score
    )
    winner = challenger if better else model
    record = {
        "decision": "challenger" if better else "champion",
        "metric": model.metric_,
        "champion_score": champion_score,
        "challenger_score": challenger_score,
        "compared_on_rows": recent.height,
        "champion": {"data_fingerprint": model.fingerprint_, "created": model.created_},
        "challenger": {"data_fingerprint": challenger.fingerprint_, "created": challenger.created_},
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    history = list(getattr(model, "lineage_", {}).get("retrains", []))
    winner.lineage_ = {**getattr(winner, "lineage_", {}), "retrains": [*history, record]}
    return winner


def _drop_missing_target(frame: pl.DataFrame, target: str, *, warn: bool = True) -> pl.DataFrame:
    col = pl.col(target)
    keep = col.is_not_null()
    if frame.schema[target].is_float():
        keep = keep & col.is_not_nan()
    kept = frame.filter(keep)
    dropped = frame.height - kept.height
    if kept.height == 0:
        raise DataError(f"The target column {target!r} has no values: every row is missing.")
    if dropped and warn:
        warnings.warn(
            f"Dropped {dropped} rows whose target {target!r} is missing.", MlwfWarning, stacklevel=3
        )
    return kept


def _encode(y: pl.Series, classes: list[Any]) -> np.ndarray:
    codes = y.replace_strict(
        classes, list(range(len(classes))), default=None, return_dtype=pl.Int64
    )
    unseen = y.filter(codes.is_null() & y.is_not_null())
    if len(unseen):
        raise DataError(
            f"The target column {y.name!r} holds label {unseen[0]!r}, which the model was not trained on "
            f"(known labels: {classes})."
        )
    return codes.cast(pl.Float64).to_numpy()


def _mixed(values: list[Any]) -> bool:
    return len({type(v) for v in values}) > 1


def _fingerprint(frame: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([[n, str(t)] for n, t in frame.schema.items()]).encode())
    digest.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()


@contextmanager
def _thread_limit(n_jobs: int) -> Iterator[None]:
    """Cap mlwf's own compiled kernels at ``n_jobs`` threads for the duration of a fit."""
    from mlwf_core import _core

    previous = _core.get_metric_threads()
    _core.set_metric_threads(min(previous, n_jobs))
    try:
        yield
    finally:
        _core.set_metric_threads(previous)


# Measured on a 2-core machine: OpenMP threads of one fit spin and wait on each other,
# so below this many matrix cells (rows x features) one thread per fit is as fast as
# two, and with the other core busy two threads ran up to 17x slower.
_THREADED_FIT_MIN_CELLS = 2_000_000
_THREADS_REASON = (
    "one thread per fit below 2e6 matrix cells or when the machine is busy; "
    "all n_jobs threads for larger data on an idle machine"
)


def _threads_per_fit(n_jobs: int, shape: tuple[int, int]) -> int:
    if n_jobs <= 1 or shape[0] * shape[1] < _THREADED_FIT_MIN_CELLS:
        return 1
    try:
        busy = os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1)
    except OSError:
        busy = False
    return 1 if busy else n_jobs


def _default_trial(learner: str, info: Any) -> Any:
    from mlwf_core.models import get_adapter
    from mlwf_core.search import Trial

    params = get_adapter(learner).defaults(info)[0]
    return Trial(
        number=0,
        learner=learner,
        params={"learner": learner, **params},
        state="stopped",
        n_rounds=[100],
    )


def _fit_in_time(
    chosen: list[tuple[Any, float]], deadline: float, fraction: float
) -> list[tuple[Any, float]]:
    """Drop the lightest members until the predicted refit time fits before the deadline."""
    chosen = sorted(chosen, key=lambda tw: -tw[1])
    while len(chosen) > 1:
        cost = sum(t.fit_seconds / max(1, len(t.n_rounds)) / fraction for t, _ in chosen)
        if time.monotonic() + 1.2 * cost <= deadline:
            break
        chosen = chosen[:-1]
    total = sum(w for _, w in chosen)
    return [(t, w / total) for t, w in chosen]


class _Progress:
    """Live display of the search: trials done, best score, time left (rich)."""

    def __init__(self, verbose: int, metric: str, deadline: float) -> None:
        self.verbose, self.metric, self.deadline = verbose, metric, deadline
        self._live: Any = None

    def __enter__(self) -> _Progress:
        if self.verbose:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                self._text(0, None, ""),
                console=Console(stderr=True),
                refresh_per_second=4,
                transient=False,
            )
            self._live.__enter__()
        return self

    def _text(self, n: int, best: float | None, learner: str) -> str:
        left = max(0.0, self.deadline - time.monotonic())
        score = f"{best:.5g} ({learner})" if best is not None else "-"
        return f"[bold]mlwf[/bold] trials {n}  best {self.metric} {score}  {left:.1f} s left"

    def update(self, trial: Any, result: Any) -> None:
        if self._live is None:
            return
        done = result.complete
        best = done[0] if done else None
        self._live.update(
            self._text(
                len(result.trials), best.score if best else None, best.learner if best else ""
            )
        )

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
