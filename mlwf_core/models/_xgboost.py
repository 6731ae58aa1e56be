"""XGBoost adapter: defaults, search space, training and export."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import xgboost as xgb

from mlwf_core.models._base import Adapter, DataInfo, FitResult

MAX_ROUNDS = 3000
PATIENCE = 50
MAX_BIN = 256
_EVAL_METRIC = {
    "binary": "logloss",
    "multiclass": "mlogloss",
    "regression": "rmse",
}


class XGBoostAdapter(Adapter):
    """XGBoost gradient-boosted trees (depth-wise growth, histogram method)."""

    name = "xgboost"
    suffix = "json"

    def defaults(self, info: DataInfo) -> list[dict[str, Any]]:
        def config(eta, depth, mcw, sub, col, lam, alpha):
            return {
                "xgb_eta": eta,
                "xgb_max_depth": min(depth, 10 if info.n_rows > 5000 else 8),
                "xgb_min_child_weight": mcw,
                "xgb_subsample": sub,
                "xgb_colsample_bytree": col,
                "xgb_lambda": lam,
                "xgb_alpha": alpha,
            }

        return [
            config(0.1, 6, 1.0, 1.0, 1.0, 1.0, 1e-3),
            config(0.05, 8, 2.0, 0.8, 0.7, 1.0, 1e-3),
            config(0.05, 4, 5.0, 0.8, 0.8, 5.0, 0.1),
        ]

    def grid(self, info: DataInfo) -> list[dict[str, Any]]:
        base = self.defaults(info)[0]
        return [
            {**base, "xgb_eta": eta, "xgb_max_depth": depth}
            for eta in (0.05, 0.1)
            for depth in (4, 6, 8)
        ]

    def suggest(self, trial: Any, info: DataInfo) -> dict[str, Any]:
        max_depth = 10 if info.n_rows > 5000 else 8
        return {
            "xgb_eta": trial.suggest_float("xgb_eta", 0.01, 0.3, log=True),
            "xgb_max_depth": trial.suggest_int("xgb_max_depth", 2, max_depth),
            "xgb_min_child_weight": trial.suggest_float(
                "xgb_min_child_weight", 0.5, 30.0, log=True
            ),
            "xgb_subsample": trial.suggest_float("xgb_subsample", 0.5, 1.0),
            "xgb_colsample_bytree": trial.suggest_float("xgb_colsample_bytree", 0.3, 1.0),
            "xgb_lambda": trial.suggest_float("xgb_lambda", 1e-3, 10.0, log=True),
            "xgb_alpha": trial.suggest_float("xgb_alpha", 1e-3, 10.0, log=True),
        }

    def _feature_types(self, info: DataInfo) -> list[str]:
        cats = set(info.categorical)
        return ["c" if j in cats else "q" for j in range(info.n_features)]

    def dataset(
        self, X: np.ndarray, y: np.ndarray, info: DataInfo, n_jobs: int, reference: Any = None
    ) -> Any:
        return xgb.QuantileDMatrix(
            X,
            label=y,
            feature_types=self._feature_types(info),
            enable_categorical=True,
            max_bin=MAX_BIN,
            ref=reference,
            nthread=n_jobs,
        )

    def _params(
        self, params: dict[str, Any], info: DataInfo, n_jobs: int, seed: int
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tree_method": "hist",
            "max_bin": MAX_BIN,
            "nthread": n_jobs,
            "seed": seed,
            "verbosity": 0,
            "max_cat_to_onehot": 1,
            "eval_metric": _EVAL_METRIC[info.task],
        }
        for key, value in params.items():
            if key.startswith("xgb_"):
                out[key[4:]] = value
        if info.task == "binary":
            out["objective"] = "binary:logistic"
            if info.metric == "roc_auc":
                out["eval_metric"] = "auc"
        elif info.task == "multiclass":
            out["objective"] = "multi:softprob"
            out["num_class"] = info.n_classes
        else:
            out["objective"] = "reg:absoluteerror" if info.metric == "mae" else "reg:squarederror"
            if info.metric == "mae":
                out["eval_metric"] = "mae"
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
        kwargs: dict[str, Any] = {}
        if valid is not None:
            kwargs["evals"] = [(valid, "valid")]
            kwargs["early_stopping_rounds"] = PATIENCE
        booster = xgb.train(
            self._params(params, info, n_jobs, seed),
            train,
            num_boost_round=n_rounds or MAX_ROUNDS,
            callbacks=[_Deadline(deadline)],
            verbose_eval=False,
            **kwargs,
        )
        if valid is not None and "best_iteration" in booster.attributes():
            rounds = int(booster.attr("best_iteration")) + 1
        else:
            rounds = booster.num_boosted_rounds()
        return FitResult(booster=booster, n_rounds=max(1, rounds), seconds=time.monotonic() - start)

    def predict_margin(
        self, booster: Any, X: np.ndarray, n_rounds: int | None, n_jobs: int
    ) -> np.ndarray:
        booster.set_param({"nthread": n_jobs})
        rounds = (0, n_rounds) if n_rounds else (0, 0)
        out = booster.inplace_predict(X, predict_type="margin", iteration_range=rounds)
        return np.asarray(out, dtype=np.float64)

    def dumps(self, booster: Any) -> bytes:
        return bytes(booster.save_raw("json"))

    def loads(self, data: bytes) -> Any:
        booster = xgb.Booster()
        booster.load_model(bytearray(data))
        return booster


class _Deadline(xgb.callback.TrainingCallback):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        return time.monotonic() > self.deadline
