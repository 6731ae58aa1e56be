"""Feature generation: promising pairs, group aggregates and PCA, kept only when they help.

:class:`FeatureBuilder` proposes features from a fitted :class:`~mlwf_core.plan.Plan`
and returns them as Plan ops, so every generated feature is plain data the C++
scorer replays:

- ratios, differences and products of numeric pairs, screened cheaply: only pairs
  of the most informative numeric features, and only derived values whose mutual
  information with the target beats both parents';
- group aggregates: the mean of a numeric feature within each level of a native
  categorical (``group_mean``) with the deviation from it (``difference``), and
  the level's row count (``group_count``);
- principal components of the standardised numeric block (``pca``).

Candidates are then selected by null importance: a small LightGBM fitted on the
real target must give a candidate more gain than any fit on shuffled targets.
Screens run on a row sample, so the cost stays small next to the search budget.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from mlwf_core.exceptions import ParameterError

if TYPE_CHECKING:
    from mlwf_core.plan import Plan

__all__ = ["FeatureBuilder"]

_MI_BINS = 32


class FeatureBuilder:
    """Propose and select generated features for a plan.

    Parameters
    ----------
    pairs, groups, pca
        Switch each generator on or off.
    selection
        Keep only candidates that pass the null-importance test; ``False`` keeps
        every candidate that passes the screens.
    max_numeric
        Pairs are formed among this many most informative numeric features.
    max_new
        Most generated features kept.
    n_components
        Principal components proposed.
    sample_rows
        Rows used by the screens and the selection.
    n_null
        Shuffled-target fits of the null-importance test.
    seed, n_jobs
        Seed of the sample, shuffles and learner; its threads.
    op_kinds
        Plan op kinds the generated features may use (``None``: all of them).

    Attributes
    ----------
    ops_
        The selected ops, ready to append to the plan.
    report_
        One row per candidate: name, generator, screen score, kept or not.
    """

    def __init__(
        self,
        *,
        pairs: bool = True,
        groups: bool = True,
        pca: bool = True,
        selection: bool = True,
        max_numeric: int = 8,
        max_new: int = 12,
        n_components: int = 3,
        sample_rows: int = 10_000,
        n_null: int = 2,
        seed: int = 0,
        n_jobs: int = 1,
        op_kinds: Collection[str] | None = None,
    ) -> None:
        self.pairs = pairs
        self.groups = groups
        self.pca = pca
        self.selection = selection
        self.max_numeric = max_numeric
        self.max_new = max_new
        self.n_components = n_components
        self.sample_rows = sample_rows
        self.n_null = n_null
        self.seed = seed
        self.n_jobs = n_jobs
        self.op_kinds = op_kinds

    def fit(self, frame: pl.DataFrame, plan: Plan, y: np.ndarray, task: str) -> FeatureBuilder:
        """Screen and select generated features.

        Parameters
        ----------
        frame
            Training rows.
        plan
            The fitted plan whose features the generators combine.
        y
            Encoded target aligned with ``frame``.
        task
            ``"binary"``, ``"multiclass"`` or ``"regression"``.

        Returns
        -------
        FeatureBuilder
            ``self`` with ``ops_`` and ``report_``.
        """
        from mlwf_core.features import _kernels as k

        for name in ("max_numeric", "max_new", "n_components", "sample_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(
                    f"The '{name}' parameter of FeatureBuilder must be a positive integer. "
                    f"Got {value!r} instead."
                )
        start = time.monotonic()
        rng = np.random.default_rng(self.seed)
        n = frame.height
        idx = (
            np.sort(rng.choice(n, self.sample_rows, replace=False))
            if n > self.sample_rows
            else None
        )
        sub = frame[idx] if idx is not None else frame
        ys = y[idx] if idx is not None else y
        X = plan._apply(sub).astype(np.float64)
        names = plan.features
        y_codes, n_y = _codes(ys, task)
        numeric = [
            j for j in _numeric_features(plan) if np.unique(X[:, j][~np.isnan(X[:, j])]).size > 2
        ]
        mi = {j: _mi(X[:, j], y_codes, n_y) for j in numeric}
        top = sorted(numeric, key=lambda j: -mi[j])[: self.max_numeric]
        taken = set(names) | set(plan.input_columns)
        candidates: list[tuple[float, str, list[dict[str, Any]]]] = []

        from mlwf_core.plan import ALL_OPS

        kinds = frozenset(ALL_OPS if self.op_kinds is None else self.op_kinds)
        if self.pairs and len(top) >= 2 and {"ratio", "difference", "product"} & kinds:
            pairs = np.array(list(itertools.combinations(sorted(top), 2)), dtype=np.int64)
            scores = k.pair_screen(np.ascontiguousarray(X), pairs, y_codes, n_y, _MI_BINS)
            for p, (a, b) in enumerate(pairs):
                parent = max(mi[a], mi[b])
                for o, kind in enumerate(("ratio", "difference", "product")):
                    gain = scores[p, o] - parent
                    if kind in kinds and gain > 0.02 * parent + 1e-3:
                        label = {"ratio": "div", "difference": "minus", "product": "times"}[kind]
                        op = {
                            "op": kind,
                            "inputs": [names[a], names[b]],
                            "output": _unique(f"{names[a]}__{label}__{names[b]}", taken),
                        }
                        candidates.append((gain, "pairs", [op]))

        if self.groups and top and {"group_mean", "difference", "group_count"} <= kinds:
            for j_cat, spec in _native_categoricals(plan):
                codes_full = _category_codes(frame, plan, j_cat)
                n_levels = len(spec["levels"]) + 1
                for j in top[:3]:
                    candidates.extend(
                        self._group_candidates(
                            frame,
                            plan,
                            spec,
                            j_cat,
                            codes_full,
                            n_levels,
                            j,
                            names,
                            X,
                            y_codes,
                            n_y,
                            mi,
                            taken,
                        )
                    )
                counts = k.level_counts(codes_full, n_levels).astype(np.float64)
                op = _lookup_op("group_count", spec, counts, taken, f"{spec['name']}__count")
                candidates.append((0.0, "groups", [op]))

        if self.pca and len(numeric) >= 3 and "pca" in kinds:
            candidates.extend(self._pca_candidates(X, numeric, names, taken))

        self.ops_, self.report_ = self._select(sub, plan, ys, task, candidates)
        self.seconds_ = time.monotonic() - start
        return self

    # ------------------------------------------------------------ generators
    def _group_candidates(
        self,
        frame: pl.DataFrame,
        plan: Plan,
        spec: Mapping[str, Any],
        j_cat: int,
        codes_full: np.ndarray,
        n_levels: int,
        j: int,
        names: list[str],
        X: np.ndarray,
        y_codes: np.ndarray,
        n_y: int,
        mi: dict[int, float],
        taken: set[str],
    ) -> list[tuple[float, str, list[dict[str, Any]]]]:
        from mlwf_core.features import _kernels as k

        values = _feature_column(frame, plan, j)
        means, _ = k.group_stats(codes_full, n_levels, values)
        overall = float(np.nanmean(values)) if np.isfinite(values).any() else 0.0
        means = np.where(np.isnan(means), overall, means)
        gm = _lookup_op("group_mean", spec, means, taken, f"{names[j]}__mean_by__{spec['name']}")
        gm["of"] = names[j]
        codes_sub = X[:, j_cat]
        table = np.array(gm["values"] + [gm["default"]])
        looked_up = table[np.nan_to_num(codes_sub, nan=0.0).astype(np.int64)]
        deviation = X[:, j] - np.where(np.isnan(codes_sub), gm["missing"], looked_up)
        gain = _mi(deviation, y_codes, n_y) - mi[j]
        if gain <= 0.02 * mi[j] + 1e-3:
            return []
        dev = {
            "op": "difference",
            "inputs": [names[j], gm["output"]],
            "output": _unique(f"{names[j]}__minus__{gm['output']}", taken),
        }
        return [(gain, "groups", [gm, dev])]

    def _pca_candidates(
        self, X: np.ndarray, numeric: list[int], names: list[str], taken: set[str]
    ) -> list[tuple[float, str, list[dict[str, Any]]]]:
        block = X[:, numeric]
        mean = np.nanmean(block, axis=0)
        scale = np.nanstd(block, axis=0)
        keep = np.isfinite(mean) & (scale > 0)
        if keep.sum() < 3:
            return []
        cols = [numeric[i] for i in np.flatnonzero(keep)]
        mean, scale = mean[keep], scale[keep]
        z = np.nan_to_num((block[:, keep] - mean) / scale)
        _, _, vt = np.linalg.svd(z, full_matrices=False)
        out = []
        for c in range(min(self.n_components, vt.shape[0])):
            weights = vt[c]
            # the sign of a component is arbitrary; fix it for reproducible plans
            if weights[np.argmax(np.abs(weights))] < 0:
                weights = -weights
            op = {
                "op": "pca",
                "inputs": [names[j] for j in cols],
                "output": _unique(f"pca{c}", taken),
                "mean": mean.tolist(),
                "scale": scale.tolist(),
                "weights": weights.tolist(),
            }
            out.append((0.0, "pca", [op]))
        return out

    # ------------------------------------------------------------ selection
    def _select(
        self,
        sub: pl.DataFrame,
        plan: Plan,
        ys: np.ndarray,
        task: str,
        candidates: list[tuple[float, str, list[dict[str, Any]]]],
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from mlwf_core.plan import DERIVED_OPS, Plan

        if not candidates:
            return [], []
        # screen order: best gain first; at most 3x max_new go to the null-importance test
        candidates = sorted(candidates, key=lambda c: -c[0])[: 3 * self.max_new]
        ops = [op for _, _, group in candidates for op in group]
        raw = [op for op in ops if op["op"] not in DERIVED_OPS]
        trial = Plan(
            columns=plan.columns, ops=plan.ops + raw + [op for op in ops if op["op"] in DERIVED_OPS]
        )
        X = trial._apply(sub)
        names = trial.features
        outputs = [group[-1]["output"] for _, _, group in candidates]
        if self.selection:
            real, null = _null_importance(
                X, ys, task, trial.categorical_features, self.n_null, self.seed, self.n_jobs
            )
            position = {name: j for j, name in enumerate(names)}
            passed = [
                real[position[o]] > null[position[o]] and real[position[o]] > 0 for o in outputs
            ]
            strength = [real[position[o]] for o in outputs]
        else:
            passed = [True] * len(outputs)
            strength = [c[0] for c in candidates]
        order = sorted(range(len(candidates)), key=lambda i: -strength[i])
        chosen = [i for i in order if passed[i]][: self.max_new]
        report = [
            {
                "feature": outputs[i],
                "generator": candidates[i][1],
                "screen_gain": float(candidates[i][0]),
                "kept": i in chosen,
            }
            for i in range(len(candidates))
        ]
        selected: list[dict[str, Any]] = []
        for i in sorted(chosen):
            selected.extend(candidates[i][2])
        raw_sel = [op for op in selected if op["op"] not in DERIVED_OPS]
        derived_sel = [op for op in selected if op["op"] in DERIVED_OPS]
        return raw_sel + derived_sel, report


def _null_importance(
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    categorical: list[int],
    n_null: int,
    seed: int,
    n_jobs: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Gain per feature with the real target, and the largest gain over shuffled targets."""
    import lightgbm as lgb

    params: dict[str, Any] = {
        "objective": {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[
            task
        ],
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.8,
        "verbosity": -1,
        "num_threads": max(1, n_jobs),
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
    }
    rounds = 40
    if task == "multiclass":
        params["num_class"] = int(y.max()) + 1
        # one tree per class and round: keep the total number of trees small
        rounds = max(4, 120 // params["num_class"])
    rng = np.random.default_rng(seed)

    def gains(target: np.ndarray) -> np.ndarray:
        data = lgb.Dataset(
            X,
            target,
            categorical_feature=categorical or "auto",
            free_raw_data=False,
            params={"verbosity": -1},
        )
        booster = lgb.train(params, data, num_boost_round=rounds)
        return np.asarray(booster.feature_importance("gain"), dtype=np.float64)

    real = gains(y)
    null = np.zeros_like(real)
    for _ in range(n_null):
        null = np.maximum(null, gains(rng.permutation(y)))
    return real / max(real.sum(), 1e-12), null / max(real.sum(), 1e-12)


def _codes(y: np.ndarray, task: str) -> tuple[np.ndarray, int]:
    from mlwf_core.features import _kernels as k

    if task == "regression":
        edges = k.quantile_edges(y, 16)
        return k.bin_values(y, edges), edges.size + 1
    codes = y.astype(np.int64)
    return codes, int(codes.max()) + 1


def _mi(values: np.ndarray, y_codes: np.ndarray, n_y: int) -> float:
    from mlwf_core.features import _kernels as k

    values = np.ascontiguousarray(values, dtype=np.float64)
    edges = k.quantile_edges(values, _MI_BINS)
    return float(k.mutual_info(k.bin_values(values, edges), edges.size + 1, y_codes, n_y))


def _numeric_features(plan: Plan) -> list[int]:
    out = [j for j, c in enumerate(plan.columns) if c["kind"] == "numeric"]
    base = len(plan.columns)
    for j, op in enumerate(plan.ops):
        if op["op"] == "parse_number" or (
            op["op"] == "impute" and op["base"] in ("numeric", "parse_number")
        ):
            out.append(base + j)
    return out


def _native_categoricals(plan: Plan) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for j, c in enumerate(plan.columns):
        if c["kind"] == "categorical" and len(c["levels"]) >= 2:
            out.append((j, {"name": c["name"], "levels": c["levels"], "pooled": False}))
    base = len(plan.columns)
    for j, op in enumerate(plan.ops):
        if op["op"] == "category_pooled" and len(op["levels"]) >= 2:
            out.append(
                (base + j, {"name": op["inputs"][0], "levels": op["levels"], "pooled": True})
            )
    return out


def _feature_column(frame: pl.DataFrame, plan: Plan, j: int) -> np.ndarray:
    from mlwf_core.plan import Plan as PlanClass

    spec = plan.columns[j] if j < len(plan.columns) else None
    single = PlanClass(columns=[spec]) if spec else PlanClass(ops=[plan.ops[j - len(plan.columns)]])
    return np.ascontiguousarray(single._apply(frame)[:, 0], dtype=np.float64)


def _category_codes(frame: pl.DataFrame, plan: Plan, j: int) -> np.ndarray:
    """Level codes of a native categorical feature; missing -> -1, pooled -> len(levels)."""
    values = _feature_column(frame, plan, j)
    return np.where(np.isnan(values), -1, values).astype(np.int64)


def _lookup_op(
    kind: str, spec: Mapping[str, Any], values: np.ndarray, taken: set[str], output: str
) -> dict[str, Any]:
    levels = list(spec["levels"])
    n = len(levels)
    other = (
        float(values[n])
        if spec["pooled"]
        else float(np.mean(values[:n]) if kind == "group_mean" else 0.0)
    )
    return {
        "op": kind,
        "inputs": [spec["name"]],
        "output": _unique(output, taken),
        "levels": levels,
        "values": [float(v) for v in values[:n]],
        "default": other,
        "missing": float(np.mean(values[:n])) if kind == "group_mean" else 0.0,
    }


def _unique(name: str, taken: set[str]) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    taken.add(out)
    return out
