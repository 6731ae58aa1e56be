"""LightGBM adapter: defaults, search space, training and export."""

from __future__ import annotations

import time
from typing import Any

import lightgbm as lgb
import numpy as np

from mlwf_core.models._base import Adapter, DataInfo, FitResult

MAX_ROUNDS = 3000
PATIENCE = 50
# Dataset-level parameters are fixed so a fold's Dataset is binned once and
# reused by every trial.
_DATASET_PARAMS = {"max_bin": 255, "feature_pre_filter": False, "verbose": -1}
_EARLY_STOP_METRIC = {
    "roc_auc": "auc",
    "log_loss": None,
    "mae": "l1",
}


class LightGBMAdapter(Adapter):
    """LightGBM gradient-boosted trees (leaf-wise growth, native categoricals)."""

    name = "lightgbm"
    suffix = "txt"

    def defaults(self, info: DataInfo) -> list[dict[str, Any]]:
        # A portfolio of configurations that are strong across tabular data sets
        # (in the spirit of AutoGluon's and FLAML's zero-shot defaults), ordered
        # by how often they win, and clamped to the data size.
        def config(lr, leaves, child, ff, bf, l1, l2, xt=False):
            return {
                "lgb_learning_rate": lr,
                "lgb_num_leaves": min(leaves, _max_leaves(info)),
                "lgb_min_child_samples": child,
                "lgb_feature_fraction": ff,
                "lgb_bagging_fraction": bf,
                "lgb_lambda_l1": l1,
                "lgb_lambda_l2": l2,
                "lgb_extra_trees": xt,
            }

        small = info.n_rows < 2000
        return [
            config(0.05, 15 if small else 31, 10 if small else 20, 0.9, 1.0, 1e-3, 1e-3),
            config(0.05, 31, 10, 0.8, 0.9, 1e-3, 1.0, xt=True),
            config(0.03, 128, 3, 0.9, 1.0, 1e-3, 1e-3),
            config(0.05, 8, 10, 0.6, 0.8, 1e-3, 5.0),
        ]

    def grid(self, info: DataInfo) -> list[dict[str, Any]]:
        base = self.defaults(info)[0]
        return [
            {
                **base,
                "lgb_learning_rate": lr,
                "lgb_num_leaves": min(leaves, _max_leaves(info)),
                "lgb_min_child_samples": child,
            }
            for lr in (0.05, 0.1)
            for leaves in (15, 63)
            for child in (5, 20)
        ]

    def suggest(self, trial: Any, info: DataInfo) -> dict[str, Any]:
        max_leaves = _max_leaves(info)
        return {
            "lgb_learning_rate": trial.suggest_float("lgb_learning_rate", 0.01, 0.3, log=True),
            "lgb_num_leaves": trial.suggest_int("lgb_num_leaves", 4, max_leaves, log=True),
            "lgb_min_child_samples": trial.suggest_int("lgb_min_child_samples", 2, 100, log=True),
            "lgb_feature_fraction": trial.suggest_float("lgb_feature_fraction", 0.3, 1.0),
            "lgb_bagging_fraction": trial.suggest_float("lgb_bagging_fraction", 0.5, 1.0),
            "lgb_lambda_l1": trial.suggest_float("lgb_lambda_l1", 1e-3, 10.0, log=True),
            "lgb_lambda_l2": trial.suggest_float("lgb_lambda_l2", 1e-3, 10.0, log=True),
            "lgb_extra_trees": trial.suggest_categorical("lgb_extra_trees", [False, True]),
        }

    def dataset(
        self, X: np.ndarray, y: np.ndarray, info: DataInfo, n_jobs: int, reference: Any = None
    ) -> Any:
        data = lgb.Dataset(
            X,
            label=y,
            categorical_feature=list(info.categorical) or "auto",
            free_raw_data=False,
            reference=reference,
            params={**_DATASET_PARAMS, "num_threads": n_jobs},
        )
        return data.construct()

    def _params(
        self, params: dict[str, Any], info: DataInfo, n_jobs: int, seed: int
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verbosity": -1,
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": n_jobs,
            "bagging_freq": 1,
            **_DATASET_PARAMS,
        }
        for key, value in params.items():
            if key.startswith("lgb_"):
                out[key[4:]] = value
        if info.task == "binary":
            out["objective"] = "binary"
        elif info.task == "multiclass":
            out["objective"] = "multiclass"
            out["num_class"] = info.n_classes
        else:
            out["objective"] = "l1" if info.metric == "mae" else "regression"
        metric = _EARLY_STOP_METRIC.get(info.metric)
        if metric:
            out["metric"] = metric
        return out

    def fit(
        self,
        params: dict[str, Any],
        train: Any,
        valid: Any | None,
        info: DataInfo,
        *,
        n_rounds: int | None,
        deadline: float,
        n_jobs: int,
        seed: int,
    ) -> FitResult:
        start = time.monotonic()
        callbacks = [_deadline_callback(deadline)]
        kwargs: dict[str, Any] = {}
        if valid is not None:
            callbacks.append(lgb.early_stopping(PATIENCE, first_metric_only=True, verbose=False))
            kwargs["valid_sets"] = [valid]
            kwargs["valid_names"] = ["valid"]
        booster = lgb.train(
            self._params(params, info, n_jobs, seed),
            train,
            num_boost_round=n_rounds or MAX_ROUNDS,
            callbacks=callbacks,
            **kwargs,
        )
        rounds = (
            booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
        )
        return FitResult(booster=booster, n_rounds=max(1, rounds), seconds=time.monotonic() - start)

    def predict_margin(
        self, booster: Any, X: np.ndarray, n_rounds: int | None, n_jobs: int
    ) -> np.ndarray:
        out = booster.predict(X, raw_score=True, num_iteration=n_rounds, num_threads=n_jobs)
        return np.asarray(out, dtype=np.float64)

    def dumps(self, booster: Any) -> bytes:
        return booster.model_to_string().encode()

    def loads(self, data: bytes) -> Any:
        return lgb.Booster(model_str=data.decode())


def _max_leaves(info: DataInfo) -> int:
    # Leaves beyond a tenth of the rows only memorise small data.
    return int(np.clip(info.n_rows // 10, 8, 256))


def _deadline_callback(deadline: float) -> Any:
    def callback(env: Any) -> None:
        if time.monotonic() > deadline:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    callback.order = 40  # type: ignore[attr-defined]
    return callback
