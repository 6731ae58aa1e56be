"""Time-boxed hyper-parameter search with Optuna.

:func:`run_search` orchestrates learner adapters (:mod:`mlwf_core.models`) and
knows none of their internals: it asks a seeded sampler for a learner and its
parameters, cross-validates with early stopping inside every fit, keeps each
finished trial's out-of-fold margins for the ensemble, and stops on the wall
clock. Known-good configurations are enqueued before the sampler takes over.
A trial is only started when its predicted cost fits in the time left.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mlwf_core._link import apply_link
from mlwf_core.exceptions import ParameterError
from mlwf_core.metrics import get_metric
from mlwf_core.models import Adapter, DataInfo, get_adapter

__all__ = ["LEADERBOARD_COLUMNS", "SearchResult", "Trial", "make_splits", "run_search"]

LEADERBOARD_COLUMNS = [
    "trial",
    "model",
    "learner",
    "params",
    "cv_score",
    "fold_scores",
    "n_rounds",
    "fit_seconds",
    "state",
]

SEARCHES = ("tpe", "random", "grid")
# Rows below which k-fold CV is affordable; above, a single holdout.
_KFOLD_MAX_ROWS = 100_000
# Rows below which k-fold is repeated (small folds make noisy scores).
_REPEAT_MAX_ROWS = 1_500
_HOLDOUT_FRACTION = 0.2
# A trial starts only when this multiple of its predicted cost fits in the time left.
_SAFETY = 1.25
# Repeated folds are kept only if the budget still allows this many trials with them.
_MIN_TRIALS_FOR_REPEATS = 25
# Most of the remaining search time one trial may use (the first trial included).
_TRIAL_SHARE = 0.4

log = logging.getLogger(__name__)


@dataclass
class Trial:
    """One evaluated configuration."""

    number: int
    learner: str
    params: dict[str, Any]
    state: Literal["complete", "pruned", "stopped", "failed"]
    fold_scores: list[float] = field(default_factory=list)
    score: float = float("nan")
    n_rounds: list[int] = field(default_factory=list)
    fit_seconds: float = 0.0
    oof: np.ndarray | None = None

    @property
    def refit_rounds(self) -> int:
        """Boosting rounds for a refit on all rows: the folds' mean, scaled up a little for more data."""
        return max(1, int(round(float(np.mean(self.n_rounds)) * 1.1))) if self.n_rounds else 1

    def to_row(self) -> dict[str, Any]:
        """Leaderboard row."""
        return {
            "trial": self.number,
            "model": f"{self.learner}#{self.number}",
            "learner": self.learner,
            "params": json.dumps(self.params, sort_keys=True),
            "cv_score": self.score,
            "fold_scores": json.dumps([round(s, 6) for s in self.fold_scores]),
            "n_rounds": self.refit_rounds,
            "fit_seconds": round(self.fit_seconds, 3),
            "state": self.state,
        }


@dataclass
class SearchResult:
    """Trials and the validation layout they were scored on."""

    trials: list[Trial]
    splits: list[tuple[np.ndarray, np.ndarray]]
    oof_index: np.ndarray
    direction: str
    strategy: str

    @property
    def complete(self) -> list[Trial]:
        """Finished trials, best first."""
        done = [t for t in self.trials if t.state == "complete"]
        reverse = self.direction == "maximize"
        return sorted(done, key=lambda t: t.score, reverse=reverse)

    @property
    def best(self) -> Trial:
        """The best finished trial."""
        return self.complete[0]


def make_splits(
    y: np.ndarray,
    task: str,
    *,
    seed: int,
    n_folds: int | None = None,
    n_repeats: int | None = None,
    groups: np.ndarray | None = None,
    time_order: np.ndarray | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Validation splits chosen by data size, or grouped / time-ordered on request.

    By default: repeated 5-fold below 1,500 rows (two repeats, so the small
    validation folds do not decide by noise), 5-fold below 10,000, 3-fold below
    100,000 and a 20 % holdout above; stratified by class for classification.

    Parameters
    ----------
    y
        Encoded target.
    task
        Stratify unless ``"regression"``.
    seed
        Seed of the shuffles.
    n_folds, n_repeats
        Override the size-based choice (``n_folds=1`` is a holdout).
    groups
        Group label per row: all rows of a group fall in the same fold.
    time_order
        Sortable value per row (e.g. a timestamp): expanding-window splits that
        always validate on rows later than every training row.

    Returns
    -------
    splits, strategy
        ``[(train_index, valid_index), ...]`` and a description such as ``"5-fold"``.
    """
    n = len(y)
    rng = np.random.default_rng(seed)
    if time_order is not None:
        k = n_folds or 5
        order = np.argsort(np.asarray(time_order), kind="stable")
        chunks = np.array_split(order, k + 1)
        splits = [
            (np.sort(np.concatenate(chunks[: i + 1])), np.sort(chunks[i + 1])) for i in range(k)
        ]
        return splits, f"time-ordered {k} expanding windows"
    if groups is not None:
        k = n_folds or 5
        labels, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
        if len(labels) < k:
            raise ParameterError(
                f"Grouped validation needs at least {k} groups; the 'groups' column has {len(labels)}."
            )
        sizes = np.bincount(inverse)
        # largest groups first, each to the currently smallest fold: balanced folds
        fold_size = np.zeros(k)
        group_fold = np.empty(len(labels), dtype=np.int64)
        for g in sorted(rng.permutation(len(labels)), key=lambda g: -sizes[g]):
            f = int(np.argmin(fold_size))
            group_fold[g] = f
            fold_size[f] += sizes[g]
        fold_of = group_fold[inverse]
        return [
            (np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)
        ], f"grouped {k}-fold"
    if n_folds is None:
        n_folds = 5 if n < 10_000 else 3 if n < _KFOLD_MAX_ROWS else 1
    if n_repeats is None:
        n_repeats = 2 if n < _REPEAT_MAX_ROWS and n_folds > 1 else 1
    k = 5 if n_folds == 1 else n_folds
    splits: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(n_repeats):
        if task != "regression":
            fold_of = _stratified_assignment(y, k, rng)
        else:
            fold_of = rng.permutation(n) % k
        if n_folds == 1:
            # holdout: one fifth of the rows, stratified through the 5-way assignment
            return [
                (np.flatnonzero(fold_of != 0), np.flatnonzero(fold_of == 0))
            ], f"holdout {_HOLDOUT_FRACTION:.0%}"
        splits.extend(
            (np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)
        )
    return splits, f"{n_folds}-fold" + (f" x {n_repeats} repeats" if n_repeats > 1 else "")


def _stratified_assignment(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    fold_of = np.empty(len(y), dtype=np.int64)
    offset = 0
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        # continue the round-robin across classes so small classes spread over folds
        fold_of[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)
    return fold_of


class _FoldData:
    """Per-fold learner datasets, built once and reused by every trial."""

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        splits: Sequence[tuple[np.ndarray, np.ndarray]],
        info: DataInfo,
    ):
        self.X, self.y, self.splits, self.info = X, y, splits, info
        self._cache: dict[tuple[str, int], tuple[Any, Any]] = {}

    def get(self, adapter: Adapter, fold: int, n_jobs: int) -> tuple[Any, Any]:
        key = (adapter.name, fold)
        if key not in self._cache:
            train_idx, valid_idx = self.splits[fold]
            train = adapter.dataset(self.X[train_idx], self.y[train_idx], self.info, n_jobs)
            valid = adapter.dataset(
                self.X[valid_idx], self.y[valid_idx], self.info, n_jobs, reference=train
            )
            self._cache[key] = (train, valid)
        return self._cache[key]


def run_search(
    X: np.ndarray,
    y: np.ndarray,
    info: DataInfo,
    *,
    deadline: float,
    reserve: Callable[[list[Trial]], float],
    seed: int = 0,
    n_jobs: int = 1,
    learners: Sequence[str] = ("lightgbm", "xgboost"),
    search: str = "tpe",
    n_trials: int | None = None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
    strategy: str = "",
    on_trial: Callable[[Trial, SearchResult], None] | None = None,
    initial_configs: Sequence[dict[str, Any]] = (),
    storage: str | None = None,
    study_name: str | None = None,
) -> SearchResult:
    """Search learners and parameters until the deadline (or ``n_trials``).

    Parameters
    ----------
    X, y
        Feature matrix (float32) and encoded target (class codes or values).
    info
        Task, classes, categorical columns and metric.
    deadline
        ``time.monotonic()`` value by which the search must have ended.
    reserve
        Seconds to keep free after the search (refit and ensembling), given the
        trials so far; the search never eats into it.
    seed, n_jobs
        Sampler / learner seed and threads per fit.
    learners
        Adapters to search over.
    search
        ``"tpe"`` (seeded multivariate TPE), ``"random"`` or ``"grid"`` (each
        learner's small grid, in order).
    n_trials
        Stop after this many trials (the deadline still applies).
    splits, strategy
        Validation layout; by default from :func:`make_splits`.
    on_trial
        Called after every trial (progress display).
    initial_configs
        Configurations (``{"learner": ..., <params>}``) evaluated first, e.g. a
        champion's best ones when retraining; then the learners' defaults.
    storage, study_name
        Optuna RDB storage URL (``"sqlite:///study.db"``) and study name: every
        finished trial, its out-of-fold predictions included, is stored, and a
        later call with the same storage and name resumes from them.

    Returns
    -------
    SearchResult
    """
    import optuna

    if search not in SEARCHES:
        raise ParameterError(
            f"The 'search' parameter must be one of {list(SEARCHES)}. Got {search!r} instead."
        )
    metric = get_metric(info.metric, info.task)
    if splits is None:
        splits, strategy = make_splits(y, info.task, seed=seed)
    oof_index = np.unique(np.concatenate([v for _, v in splits]))
    result = SearchResult(
        trials=[], splits=splits, oof_index=oof_index, direction=metric.direction, strategy=strategy
    )
    adapters = {name: get_adapter(name) for name in learners}
    folds = _FoldData(X, y, splits, info)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if search == "tpe":
        with warnings.catch_warnings():
            # multivariate / group are flagged experimental but are the right TPE for conditional spaces
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler: Any = optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, n_startup_trials=8
            )
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    # The portfolio runs unpruned: its configurations are there for the ensemble too.
    n_portfolio = len(initial_configs) + sum(len(a.defaults(info)) for a in adapters.values())
    pruner = optuna.pruners.MedianPruner(n_startup_trials=n_portfolio, n_warmup_steps=0)
    try:
        study = optuna.create_study(
            direction=metric.direction,
            sampler=sampler,
            pruner=pruner,
            storage=storage,
            study_name=study_name,
            load_if_exists=storage is not None,
        )
    except Exception as exc:  # a bad URL or an unreachable database
        raise ParameterError(f"The 'storage' parameter {storage!r} cannot be used: {exc}") from exc
    restored = _restore(study, result, info) if storage is not None else 0
    grid = _grid_configs(adapters, info) if search == "grid" else []
    if restored == 0 and not _has_waiting(study):
        for config in [*initial_configs, *grid]:
            if config.get("learner") in adapters:
                study.enqueue_trial(dict(config))
        if search != "grid":
            _enqueue_defaults(study, adapters, info)
    if grid:
        n_trials = len(grid) if n_trials is None else min(n_trials, len(grid))

    # seconds per fold of each learner, for predicting whether a trial fits
    fold_cost: dict[str, float] = {}
    for trial in result.trials:
        if trial.n_rounds:
            fold_cost[trial.learner] = trial.fit_seconds / len(trial.n_rounds)
    while n_trials is None or len(result.trials) < n_trials:
        now = time.monotonic()
        budget_end = deadline - reserve(result.complete)
        if now >= budget_end:
            break
        otrial = study.ask()
        learner = otrial.suggest_categorical("learner", list(adapters))
        adapter = adapters[learner]
        params = adapter.suggest(otrial, info)
        expected = fold_cost.get(learner)
        left = budget_end - now
        if expected is not None and _SAFETY * expected * len(splits) > left:
            # A full trial no longer fits. One cut short by its deadline still
            # searches something when a third of it fits; else stop.
            if left < 0.3 * expected * len(splits):
                study.tell(otrial, state=optuna.trial.TrialState.FAIL)
                if all(left < 0.3 * c * len(splits) for c in fold_cost.values()):
                    break
                continue
        trial = _evaluate(
            otrial,
            adapter,
            params,
            folds,
            info,
            metric,
            budget_end,
            n_jobs,
            seed,
            len(result.trials),
        )
        result.trials.append(trial)
        if len(result.trials) == 1 and trial.n_rounds:
            fewer = _fewer_repeats(splits, trial, len(y), deadline - time.monotonic())
            if len(fewer) < len(splits):
                splits = folds.splits = result.splits = fewer
                result.strategy = f"{len(fewer)}-fold (repeats dropped: too slow for the budget)"
        if trial.n_rounds:
            per_fold = trial.fit_seconds / max(1, len(trial.fold_scores))
            fold_cost[learner] = max(per_fold, 0.8 * fold_cost.get(learner, per_fold))
        if storage is not None:
            otrial.set_user_attr("mlwf", _trial_attrs(trial))
        if trial.state == "complete":
            study.tell(otrial, trial.score)
        elif trial.state == "pruned":
            study.tell(otrial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(otrial, state=optuna.trial.TrialState.FAIL)
        if on_trial is not None:
            on_trial(trial, result)
    return result


def _fewer_repeats(
    splits: list[tuple[np.ndarray, np.ndarray]], first: Trial, n_rows: int, left: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Drop repeated folds when the first trial shows they would leave room for few trials."""
    covered, per_repeat = 0, len(splits)
    for i, (_, valid) in enumerate(splits):
        covered += len(valid)
        if covered >= n_rows:
            per_repeat = i + 1
            break
    if per_repeat == len(splits):
        return splits
    per_fold = first.fit_seconds / max(1, len(first.n_rounds))
    if per_fold * len(splits) * _MIN_TRIALS_FOR_REPEATS <= left:
        return splits
    return splits[:per_repeat]


def _trial_attrs(trial: Trial) -> dict[str, Any]:
    """What a stored study keeps of a trial so a resumed search can ensemble it."""
    attrs: dict[str, Any] = {
        "learner": trial.learner,
        "params": trial.params,
        "state": trial.state,
        "fold_scores": trial.fold_scores,
        "n_rounds": trial.n_rounds,
        "fit_seconds": trial.fit_seconds,
        "score": trial.score if np.isfinite(trial.score) else None,
    }
    if trial.oof is not None:
        raw = np.ascontiguousarray(trial.oof, dtype=np.float32)
        attrs["oof_shape"] = list(raw.shape)
        attrs["oof"] = base64.b64encode(zlib.compress(raw.tobytes(), 6)).decode()
    return attrs


def _restore(study: Any, result: SearchResult, info: DataInfo) -> int:
    """Rebuild finished trials of a stored study (resuming an interrupted search)."""
    import optuna

    count = 0
    for frozen in study.get_trials(deepcopy=False):
        attrs = frozen.user_attrs.get("mlwf")
        if attrs is None or frozen.state not in (
            optuna.trial.TrialState.COMPLETE,
            optuna.trial.TrialState.PRUNED,
        ):
            continue
        oof = None
        if "oof" in attrs:
            raw = zlib.decompress(base64.b64decode(attrs["oof"]))
            oof = (
                np.frombuffer(raw, dtype=np.float32).astype(np.float64).reshape(attrs["oof_shape"])
            )
            if oof.shape[0] != info.n_rows:
                raise ParameterError(
                    f"The stored study {study.study_name!r} was run on {oof.shape[0]} rows, not {info.n_rows}; "
                    "use another storage or study name for other data."
                )
        trial = Trial(
            number=len(result.trials),
            learner=attrs["learner"],
            params=attrs["params"],
            state=attrs["state"],
            fold_scores=list(attrs["fold_scores"]),
            score=float("nan") if attrs["score"] is None else float(attrs["score"]),
            n_rounds=list(attrs["n_rounds"]),
            fit_seconds=float(attrs["fit_seconds"]),
            oof=oof,
        )
        result.trials.append(trial)
        count += 1
    return count


def _has_waiting(study: Any) -> bool:
    import optuna

    return any(t.state == optuna.trial.TrialState.WAITING for t in study.get_trials(deepcopy=False))


def _interleave(configs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Learners' configuration lists, round-robin, so each learner is represented early."""
    out: list[dict[str, Any]] = []
    for rank in range(max((len(c) for c in configs.values()), default=0)):
        for name, queue in configs.items():
            if rank < len(queue):
                out.append({"learner": name, **queue[rank]})
    return out


def _grid_configs(adapters: dict[str, Adapter], info: DataInfo) -> list[dict[str, Any]]:
    return _interleave({name: adapter.grid(info) for name, adapter in adapters.items()})


def _enqueue_defaults(study: Any, adapters: dict[str, Adapter], info: DataInfo) -> None:
    for config in _interleave({name: a.defaults(info) for name, a in adapters.items()}):
        study.enqueue_trial(config)


def _evaluate(
    otrial: Any,
    adapter: Adapter,
    params: dict[str, Any],
    folds: _FoldData,
    info: DataInfo,
    metric: Any,
    budget_end: float,
    n_jobs: int,
    seed: int,
    number: int,
) -> Trial:
    trial = Trial(
        number=number,
        learner=adapter.name,
        params={"learner": adapter.name, **params},
        state="complete",
    )
    shape = (len(folds.y), info.n_outputs) if info.n_outputs > 1 else (len(folds.y),)
    # summed over repeats, then averaged: each row's out-of-fold margin
    oof = np.zeros(shape)
    seen = np.zeros(len(folds.y))
    n_folds = len(folds.splits)
    # No single trial may take more than a share of the time left, so a slow
    # configuration (many rounds on big data) is cut short instead of eating the budget;
    # each fold gets an even slice of the trial's allowance.
    trial_end = min(budget_end, time.monotonic() + _TRIAL_SHARE * (budget_end - time.monotonic()))
    for k, (_, valid_idx) in enumerate(folds.splits):
        now = time.monotonic()
        if k > 0 and now + trial.fit_seconds / k > budget_end:
            trial.state = "stopped"
            return trial
        fold_end = now + max(0.0, trial_end - now) / (n_folds - k)
        train, valid = folds.get(adapter, k, n_jobs)
        try:
            fit = adapter.fit(
                params,
                train,
                valid,
                info,
                n_rounds=None,
                deadline=fold_end,
                n_jobs=n_jobs,
                seed=seed,
            )
        except Exception as exc:  # a learner rejecting a configuration must not end the search
            log.warning("trial %d (%s) failed: %s", number, adapter.name, exc)
            trial.state = "failed"
            return trial
        trial.fit_seconds += fit.seconds
        trial.n_rounds.append(fit.n_rounds)
        margin = adapter.predict_margin(fit.booster, folds.X[valid_idx], fit.n_rounds, n_jobs)
        oof[valid_idx] += margin
        seen[valid_idx] += 1
        fold_score = metric(folds.y[valid_idx], apply_link(margin, info.task))
        trial.fold_scores.append(fold_score)
        otrial.report(float(np.mean(trial.fold_scores)), k)
        if k + 1 < len(folds.splits) and otrial.should_prune():
            trial.state = "pruned"
            return trial
        if time.monotonic() > budget_end and k + 1 < len(folds.splits):
            trial.state = "stopped"
            return trial
    covered = seen > 0
    oof[covered] /= seen[covered].reshape(-1, *([1] * (oof.ndim - 1)))
    oof[~covered] = np.nan
    trial.oof = oof
    index = np.flatnonzero(covered)
    trial.score = metric(folds.y[index], apply_link(oof[index], info.task))
    return trial
