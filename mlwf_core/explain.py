"""Explanations: per-prediction contributions (TreeSHAP) and global feature importance.

Contributions are computed in C++ (``cpp/include/mlwf/shap.hpp``) on the same forest the
scorer runs, by path-dependent TreeSHAP (Lundberg et al. 2020, Algorithm 2), so any
weighted ensemble and the deployed :class:`~mlwf_core.Scorer` explain a prediction the same
way. They are in raw-margin space (log-odds for binary, class scores for multiclass, the
value before the link for regression) and each row adds up to its raw margin. On a single
booster they equal LightGBM ``predict(X, pred_contrib=True)`` and XGBoost
``predict(DMatrix, pred_contribs=True)`` (XGBoost computes them in float32, so it agrees to
float32 precision; these are exact in double).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import polars as pl

from mlwf_core.exceptions import ArtifactError, DataError, NotFittedError, ParameterError

__all__ = ["contributions", "explain_record", "global_importance", "shap_values"]

BASE_COLUMN = "base_value"


def _core() -> Any:
    from mlwf_core import _core

    return _core


def _is_scorer(obj: Any) -> bool:
    from mlwf_core.deploy._scorer import Scorer

    return isinstance(obj, Scorer)


def _check_model(model: Any, func: str) -> None:
    if _is_scorer(model):
        return
    if not hasattr(model, "_forest_arrays") or not hasattr(model, "transform"):
        raise ParameterError(
            f"The 'model' parameter of {func} must be a fitted AutoModel or a Scorer. "
            f"Got {type(model).__name__} instead."
        )
    if not hasattr(model, "members_"):
        raise NotFittedError("This AutoModel is not fitted yet; call fit (or fit_auto) first.")


def _model_arrays(model: Any) -> dict[str, np.ndarray]:
    arrays = model._forest_arrays()
    if "cover" not in arrays:
        # loaded from an artifact saved before the forest carried its cover: re-export
        from mlwf_core.deploy._forest import forest_arrays

        members = [
            {"learner": m.learner, "booster": m.booster, "weight": m.weight} for m in model.members_
        ]
        arrays = forest_arrays(members, model.task_, len(model.classes_))
    return arrays


def _tree_shap(arrays: Mapping[str, np.ndarray]) -> Any:
    core = _core()
    try:
        return core.TreeShap(dict(arrays))
    except (core.ForestError, ValueError) as exc:
        raise ArtifactError(f"The model's forest cannot be explained: {exc}") from exc


def _matrix(model: Any, data: Any, n_features: int) -> np.ndarray:
    if isinstance(data, np.ndarray) and data.ndim == 2 and data.dtype.kind in "fiub":
        if data.shape[1] != n_features:
            raise DataError(
                f"The model reads {n_features} feature columns. Got an array with "
                f"{data.shape[1]} instead; pass a frame of raw columns or the model's features."
            )
        return np.ascontiguousarray(data, dtype=np.float32)
    return np.ascontiguousarray(model.transform(data), dtype=np.float32)


def shap_values(model: Any, data: Any, *, n_threads: int | None = None) -> np.ndarray:
    """Contributions as an array, in the layout of the learners' own TreeSHAP.

    Parameters
    ----------
    model
        A fitted :class:`~mlwf_core.AutoModel` or a :class:`~mlwf_core.Scorer`.
    data
        Raw rows (a frame or anything ``model.transform`` reads) or a 2-D numeric array of
        the model's features.
    n_threads
        Threads to use; ``None`` uses all cores (a Scorer uses its own setting).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(n, n_features + 1)``, or ``(n, n_classes, n_features + 1)`` for
        multiclass; the last column is the expected value (base value).
    """
    _check_model(model, "shap_values")
    if _is_scorer(model):
        return model.explain(data)
    if n_threads is not None and (
        isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1
    ):
        raise ParameterError(
            "The 'n_threads' parameter of shap_values must be a positive integer or None. "
            f"Got {n_threads!r} instead."
        )
    shap = _tree_shap(_model_arrays(model))
    X = _matrix(model, data, int(shap.n_features))
    out = np.empty((X.shape[0], int(shap.n_groups), int(shap.n_features) + 1))
    shap.explain_into(X, out, n_threads or 0)
    return out if out.shape[1] > 1 else out[:, 0, :]


def _names_and_classes(model: Any) -> tuple[list[str], list[Any] | None]:
    if _is_scorer(model):
        classes = model.classes_ if model.task == "multiclass" else None
        return list(model._explain_names), classes
    classes = list(model.classes_) if model.task_ == "multiclass" else None
    return [str(f) for f in model.plan_.features], classes


def contributions(model_or_scorer: Any, data: Any, *, n_threads: int | None = None) -> pl.DataFrame:
    """Per-feature contributions (TreeSHAP) of each row, in raw-margin space.

    Parameters
    ----------
    model_or_scorer
        A fitted :class:`~mlwf_core.AutoModel` (any weighted ensemble) or a
        :class:`~mlwf_core.Scorer`.
    data
        Raw rows (a Polars / pandas frame, or a path for an AutoModel) or a 2-D numeric
        array of the model's features.
    n_threads
        Threads to use; ``None`` uses all cores.

    Returns
    -------
    polars.DataFrame
        One Float64 column per model feature (the plan's features, engineered ones
        included) and ``base_value``, the expected raw margin over the training data. Binary
        and regression: one row per input row; the values of a row sum to its raw margin
        (log-odds, or the value before the link). Multiclass: one row per (input row, class),
        ordered by row then class, with leading columns ``row`` (the input row's position)
        and ``class`` (the label); each row sums to that class's raw score.

    Examples
    --------
    >>> contrib = model.explain(frame)  # doctest: +SKIP
    >>> contrib.drop("base_value").sum_horizontal() + contrib["base_value"]  # doctest: +SKIP
    """
    _check_model(model_or_scorer, "contributions")
    phi = shap_values(model_or_scorer, data, n_threads=n_threads)
    names, classes = _names_and_classes(model_or_scorer)
    clash = {"row", "class", BASE_COLUMN} & set(names)
    if clash:
        raise DataError(
            f"The model has a feature named {sorted(clash)[0]!r}, which the contributions frame "
            "uses for its own column; rename that column in the training data."
        )
    columns = [*names, BASE_COLUMN]
    if phi.ndim == 2:
        return pl.DataFrame(
            {c: phi[:, j] for j, c in enumerate(columns)},
            schema={c: pl.Float64 for c in columns},
        )
    n, k, _ = phi.shape
    flat = phi.reshape(n * k, -1)
    frame = pl.DataFrame({c: flat[:, j] for j, c in enumerate(columns)})
    labels = pl.Series("class", list(classes) * n if classes is not None else np.tile(range(k), n))
    return frame.select(
        pl.Series("row", np.repeat(np.arange(n, dtype=np.int64), k)), labels, pl.all()
    )


def explain_record(scorer: Any, record: Mapping[str, Any], output: Any = None) -> dict[str, float]:
    """Contributions of one raw record: ``{feature: value, ..., "base_value": value}``.

    Parameters
    ----------
    scorer
        A :class:`~mlwf_core.Scorer` (compiled record path, microseconds) or a fitted
        :class:`~mlwf_core.AutoModel`.
    record
        ``{"column": value, ...}``; missing keys and ``None`` are missing values.
    output
        Multiclass only: the class label to explain; ``None`` explains the predicted class.

    Returns
    -------
    dict of str to float
        One entry per model feature and ``"base_value"``; they sum to the raw margin of the
        explained output.
    """
    if not isinstance(record, Mapping):
        raise ParameterError(
            "The 'record' parameter of explain_record must be a mapping of column names to "
            f"values. Got {type(record).__name__} instead."
        )
    _check_model(scorer, "explain_record")
    if _is_scorer(scorer):
        return scorer.explain_record(record, output)
    frame = pl.DataFrame([dict(record)], infer_schema_length=None)
    missing = [c for c in scorer.plan_.input_columns if c not in frame.columns]
    if missing:
        frame = frame.with_columns(pl.lit(None).alias(c) for c in missing)
    phi = shap_values(scorer, frame)[0]
    names, classes = _names_and_classes(scorer)
    if phi.ndim == 2:
        if output is None:
            phi = phi[int(phi.sum(axis=1).argmax())]
        elif classes is not None and output in classes:
            phi = phi[classes.index(output)]
        else:
            raise ParameterError(
                "The 'output' parameter of explain_record must be one of the classes "
                f"{classes}. Got {output!r} instead."
            )
    out = {name: float(v) for name, v in zip(names, phi[:-1], strict=True)}
    out[BASE_COLUMN] = float(phi[-1])
    return out


def global_importance(
    model: Any,
    data: Any = None,
    *,
    kind: Literal["gain", "permutation"] = "gain",
    n_repeats: int = 5,
    seed: int = 0,
) -> pl.DataFrame:
    """Global feature importance of a fitted model.

    Parameters
    ----------
    model
        A fitted :class:`~mlwf_core.AutoModel`.
    data
        ``kind="permutation"`` only: labelled holdout rows (they must hold the target
        column); rows without a label are left out.
    kind
        ``"gain"``: the members' split gain, normalised per member and blended with the
        ensemble weights (sums to 1). ``"permutation"``: the loss of the model's metric on
        ``data`` when one model feature (a column of the feature matrix, engineered
        features included) is shuffled, averaged over ``n_repeats`` seeded shuffles;
        positive means the feature helps, whatever the metric's direction.
    n_repeats
        Shuffles per feature (permutation only).
    seed
        Seed of the shuffles.

    Returns
    -------
    polars.DataFrame
        ``feature`` and ``importance`` (and ``std`` over repeats for permutation), most
        important first.
    """
    _check_model(model, "global_importance")
    if _is_scorer(model):
        raise ParameterError(
            "The 'model' parameter of global_importance must be a fitted AutoModel (a Scorer "
            "carries neither split gains nor the metric). Got a Scorer instead."
        )
    if kind == "gain":
        return model.feature_importance()
    if kind != "permutation":
        raise ParameterError(
            "The 'kind' parameter of global_importance must be 'gain' or 'permutation'. "
            f"Got {kind!r} instead."
        )
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int) or n_repeats < 1:
        raise ParameterError(
            "The 'n_repeats' parameter of global_importance must be a positive integer. "
            f"Got {n_repeats!r} instead."
        )
    if data is None:
        raise ParameterError(
            "The 'data' parameter of global_importance must be labelled holdout rows for "
            "kind='permutation'. Got None instead."
        )
    return _permutation_importance(model, data, n_repeats, seed)


def _labels(model: Any, frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    target = model.target_
    if target not in frame.columns:
        raise DataError(
            f"The data for permutation importance lacks the target column {target!r}; "
            "pass labelled holdout rows."
        )
    frame = frame.filter(pl.col(target).is_not_null())
    if frame.height == 0:
        raise DataError(f"The target column {target!r} has no labelled rows to score.")
    y = frame[target]
    if model.task_ == "regression":
        return frame, y.cast(pl.Float64).to_numpy()
    codes = y.replace_strict(
        model.classes_, list(range(len(model.classes_))), default=None, return_dtype=pl.Int64
    )
    unseen = y.filter(codes.is_null())
    if len(unseen):
        raise DataError(
            f"The target column {target!r} holds label {unseen[0]!r}, which the model was not "
            f"trained on (known labels: {list(model.classes_)}). Drop those rows."
        )
    return frame, codes.cast(pl.Float64).to_numpy()


def _permutation_importance(model: Any, data: Any, n_repeats: int, seed: int) -> pl.DataFrame:
    from mlwf_core.io import read
    from mlwf_core.metrics import get_metric

    frame, y = _labels(model, data if isinstance(data, pl.DataFrame) else read(data))
    metric = get_metric(model.metric_, model.task_)
    forest = model.forest_
    X = np.ascontiguousarray(model.transform(frame), dtype=np.float32)
    sign = 1.0 if metric.direction == "maximize" else -1.0
    baseline = metric(y, forest.predict(X))
    rng = np.random.default_rng(seed)
    names = [str(f) for f in model.plan_.features]
    drops = np.zeros((len(names), n_repeats))
    work = X.copy()
    for j in range(len(names)):
        for r in range(n_repeats):
            work[:, j] = X[rng.permutation(X.shape[0]), j]
            drops[j, r] = sign * (baseline - metric(y, forest.predict(work)))
        work[:, j] = X[:, j]
    return pl.DataFrame(
        {"feature": names, "importance": drops.mean(axis=1), "std": drops.std(axis=1)}
    ).sort("importance", descending=True, maintain_order=True)
