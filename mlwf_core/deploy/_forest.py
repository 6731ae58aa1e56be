"""Export LightGBM / XGBoost boosters to the structure-of-arrays forest of the scorer.

The arrays are plain numeric NumPy arrays (stored as ``forest/<name>.npy`` in a ``.mlwf``
artifact) that ``cpp/include/mlwf/forest.hpp`` compiles into its engines. Every decision rule
of the learners is stored as data, node by node:

``kind`` (uint8, one per node)
    0 leaf; 1 LightGBM numeric split (``x <= threshold`` in double, ``missing_type`` in
    ``flags``); 2 XGBoost numeric split (``x < threshold`` in float32, NaN takes the default
    direction); 3 LightGBM categorical split (category in the set goes left; NaN and negative
    go right); 4 XGBoost categorical split (category in the set goes right; NaN takes the
    default direction; negative or too large goes left).
``flags`` (uint8)
    bit 0: default direction is left; bits 1-2: LightGBM missing type (0 None, 1 Zero, 2 NaN).
``threshold`` (float64)
    the split value; for categorical splits the index of the node's category set.
``cover`` (float64)
    the training cover of the node, as the learner's own TreeSHAP weighs it (LightGBM
    ``internal_count`` / ``leaf_count``, XGBoost ``sum_hessian``); read by
    ``cpp/include/mlwf/shap.hpp`` only, the scoring engines ignore it.

Leaf values are already multiplied by the member's ensemble weight, and ``base`` holds the
weighted sum of the members' base margins, so the forest's raw output is the blend in
raw-margin space.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from mlwf_core.exceptions import ParameterError

__all__ = ["FOREST_FORMAT_VERSION", "LINKS", "forest_arrays", "link_for"]

FOREST_FORMAT_VERSION = 1
# Link codes stored in meta[3].
LINKS = {"identity": 0, "sigmoid": 1, "softmax": 2, "exp": 3}

KIND_LEAF, KIND_LGB_NUM, KIND_XGB_NUM, KIND_LGB_CAT, KIND_XGB_CAT = 0, 1, 2, 3, 4
_LOG_LINK_XGB = ("count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft")
_LOG_LINK_LGB = ("poisson", "gamma", "tweedie")


class _Tree:
    """One tree in the export layout: node arrays local to the tree (root is node 0)."""

    __slots__ = (
        "kind",
        "flags",
        "feature",
        "threshold",
        "left",
        "right",
        "value",
        "cat_sets",
        "group",
        "linear",
        "cover",
    )

    def __init__(self, n_nodes: int, group: int) -> None:
        self.kind = np.zeros(n_nodes, dtype=np.uint8)
        self.flags = np.zeros(n_nodes, dtype=np.uint8)
        self.feature = np.full(n_nodes, -1, dtype=np.int32)
        self.threshold = np.zeros(n_nodes, dtype=np.float64)
        self.left = np.full(n_nodes, -1, dtype=np.int32)
        self.right = np.full(n_nodes, -1, dtype=np.int32)
        self.value = np.zeros(n_nodes, dtype=np.float64)
        # node -> sorted category values of its split set
        self.cat_sets: dict[int, np.ndarray] = {}
        self.group = group
        # node -> (constant, features, coefficients) for linear-tree leaves
        self.linear: dict[int, tuple[float, np.ndarray, np.ndarray]] | None = None
        self.cover = np.ones(n_nodes, dtype=np.float64)


def _floats(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=np.float64) if text.strip() else np.zeros(0)


def _ints(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=np.int64) if text.strip() else np.zeros(0, np.int64)


def _bitset_members(words: np.ndarray) -> np.ndarray:
    """Category values whose bit is set in a LightGBM uint32 bitset."""
    bits = np.unpackbits(words.astype("<u4").view(np.uint8), bitorder="little")
    return np.flatnonzero(bits).astype(np.int64)


def _lightgbm_trees(booster: Any) -> tuple[list[_Tree], int, int, str]:
    """Parse LightGBM model text into trees; returns trees, n_features, n_groups, objective."""
    text = booster.model_to_string()
    header, _, body = text.partition("\nTree=")
    head: dict[str, str] = {}
    for line in header.splitlines():
        key, sep, val = line.partition("=")
        if sep:
            head[key.strip()] = val.strip()
        elif line.strip():
            head[line.strip()] = ""
    n_groups = int(head.get("num_tree_per_iteration", head.get("num_class", "1")))
    n_features = int(head["max_feature_idx"]) + 1
    objective = head.get("objective", "regression").split()[0] if head.get("objective") else ""
    trees: list[_Tree] = []
    blocks = ("Tree=" + body).split("\nTree=") if body else []
    for block in blocks:
        block = block.split("end of trees")[0]
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, val = line.partition("=")
            if sep:
                fields[key.strip()] = val
        if "num_leaves" not in fields:
            continue
        trees.append(_lightgbm_tree(fields, len(trees) % n_groups))
    if "average_output" in head and trees:
        # random-forest mode: LightGBM averages the iterations instead of summing them
        n_iter = len(trees) // n_groups
        for tree in trees:
            tree.value /= n_iter
            if tree.linear is not None:
                tree.linear = {
                    k: (c / n_iter, f, w / n_iter) for k, (c, f, w) in tree.linear.items()
                }
    return trees, n_features, n_groups, objective


def _lightgbm_tree(fields: dict[str, str], group: int) -> _Tree:
    n_leaves = int(fields["num_leaves"])
    leaf_value = _floats(fields["leaf_value"])
    n_internal = n_leaves - 1
    tree = _Tree(n_internal + n_leaves, group)
    # LightGBM's TreeSHAP weighs by data counts (not hessians)
    counts = np.concatenate(
        [_floats(fields.get("internal_count", "")), _floats(fields.get("leaf_count", ""))]
    )
    if counts.size == tree.cover.size:
        tree.cover[:] = counts
    # layout: internal nodes 0..L-2 (LightGBM's own numbering, root 0), then leaves
    if n_internal == 0:
        tree.value[0] = leaf_value[0]
    else:
        split_feature = _ints(fields["split_feature"])
        threshold = _floats(fields["threshold"])
        decision = _ints(fields["decision_type"])
        left = _ints(fields["left_child"])
        right = _ints(fields["right_child"])
        tree.value[n_internal:] = leaf_value
        is_cat = (decision & 1) != 0
        tree.kind[:n_internal] = np.where(is_cat, KIND_LGB_CAT, KIND_LGB_NUM)
        default_left = (decision >> 1) & 1
        missing_type = (decision >> 2) & 3
        tree.flags[:n_internal] = (default_left | (missing_type << 1)).astype(np.uint8)
        tree.feature[:n_internal] = split_feature
        tree.threshold[:n_internal] = threshold
        tree.left[:n_internal] = np.where(left >= 0, left, n_internal + ~left)
        tree.right[:n_internal] = np.where(right >= 0, right, n_internal + ~right)
        if is_cat.any():
            bounds = _ints(fields["cat_boundaries"])
            words = _ints(fields["cat_threshold"]).astype(np.uint32)
            for node in np.flatnonzero(is_cat):
                k = int(threshold[node])
                tree.cat_sets[int(node)] = _bitset_members(words[bounds[k] : bounds[k + 1]])
    if fields.get("is_linear", "0").strip() == "1":
        consts = _floats(fields["leaf_const"])
        counts = _ints(fields["num_features"])
        feats = _ints(fields.get("leaf_features", ""))
        coefs = _floats(fields.get("leaf_coeff", ""))
        offsets = np.concatenate([[0], np.cumsum(counts)])
        tree.linear = {
            n_internal + leaf: (
                float(consts[leaf]),
                feats[offsets[leaf] : offsets[leaf + 1]].astype(np.int32),
                coefs[offsets[leaf] : offsets[leaf + 1]],
            )
            for leaf in range(n_leaves)
        }
    return tree


def _xgboost_trees(booster: Any) -> tuple[list[_Tree], int, int, str, np.ndarray]:
    """Parse XGBoost JSON; returns trees, n_features, n_groups, objective, base margins."""
    model = json.loads(bytes(booster.save_raw("json")))["learner"]
    params = model["learner_model_param"]
    objective = model["objective"]["name"]
    gb = model["gradient_booster"]
    if gb["name"] == "gblinear":
        raise ParameterError(
            "The 'booster' parameter must be a tree booster. Got an XGBoost gblinear model "
            "instead; train with booster='gbtree' or 'dart'."
        )
    tree_model = gb["model"] if gb["name"] == "gbtree" else gb["gbtree"]["model"]
    drop = gb.get("weight_drop") if gb["name"] == "dart" else None
    n_features = int(params["num_feature"])
    n_groups = max(1, int(params["num_class"]))
    if int(params.get("num_target", "1")) > 1:
        raise ParameterError(
            "The 'booster' parameter must predict one target. Got a multi-target XGBoost "
            "model instead."
        )
    raw = params["base_score"].strip().strip("[]")
    base = np.array([float(v) for v in raw.split(",")], dtype=np.float64)
    base = np.resize(base, n_groups) if base.size != n_groups else base
    if objective in ("binary:logistic", "reg:logistic", "binary:logitraw"):
        base = np.log(base / (1.0 - base))
    elif objective in _LOG_LINK_XGB:
        base = np.log(base)
    trees: list[_Tree] = []
    info = tree_model["tree_info"]
    for t, js in enumerate(tree_model["trees"]):
        if int(js["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise ParameterError(
                "The 'booster' parameter must have scalar leaves. Got an XGBoost "
                "multi_output_tree model instead."
            )
        left = np.asarray(js["left_children"], dtype=np.int32)
        right = np.asarray(js["right_children"], dtype=np.int32)
        n = left.size
        tree = _Tree(n, int(info[t]))
        cond = np.asarray(js["split_conditions"], dtype=np.float32).astype(np.float64)
        is_leaf = left == -1
        split_type = np.asarray(js.get("split_type", [0] * n), dtype=np.int64)
        tree.kind[:] = np.where(is_leaf, KIND_LEAF, np.where(split_type == 1, KIND_XGB_CAT, 2))
        tree.flags[:] = np.asarray(js["default_left"], dtype=np.uint8) & 1
        tree.feature[:] = np.where(is_leaf, -1, np.asarray(js["split_indices"], dtype=np.int32))
        tree.threshold[:] = np.where(is_leaf, 0.0, cond)
        if "sum_hessian" in js:
            tree.cover[:] = np.asarray(js["sum_hessian"], dtype=np.float32)
        tree.left[:] = np.where(is_leaf, -1, left)
        tree.right[:] = np.where(is_leaf, -1, right)
        scale = float(drop[t]) if drop else 1.0
        # XGBoost leaf values are float32; sums are done in double from the exact values
        tree.value[:] = np.where(is_leaf, cond * scale, 0.0)
        cats = np.asarray(js.get("categories", []), dtype=np.int64)
        seg = js.get("categories_segments", [])
        size = js.get("categories_sizes", [])
        for i, node in enumerate(js.get("categories_nodes", [])):
            tree.cat_sets[int(node)] = np.sort(cats[seg[i] : seg[i] + size[i]])
        trees.append(tree)
    return trees, n_features, n_groups, objective, base


def link_for(task: str, objectives: list[str]) -> str:
    """The link that maps the blended raw margin to the prediction.

    Parameters
    ----------
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    objectives
        The members' objective names (LightGBM or XGBoost spelling).

    Returns
    -------
    str
        A key of :data:`LINKS`.
    """
    if task == "binary":
        return "sigmoid"
    if task == "multiclass":
        return "softmax"
    if task != "regression":
        raise ParameterError(
            "The 'task' parameter of forest_arrays must be 'binary', 'multiclass' or "
            f"'regression'. Got {task!r} instead."
        )
    logs = [o in _LOG_LINK_XGB or o in _LOG_LINK_LGB for o in objectives]
    return "exp" if logs and all(logs) else "identity"


def forest_arrays(members: list[dict], task: str, n_classes: int) -> dict[str, np.ndarray]:
    """Export a weighted ensemble of boosters as one forest of plain arrays.

    Parameters
    ----------
    members
        ``{"learner": "lightgbm" | "xgboost", "booster": Booster, "weight": float}`` dicts.
        The blend is ``sum_i weight_i * raw_i`` in raw-margin space.
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``; chooses the link.
    n_classes
        Number of classes of a classifier (2 for binary); ignored for regression.

    Returns
    -------
    dict of str to numpy.ndarray
        Numeric arrays only (stored as ``forest/<name>.npy``), read back by
        ``Forest.from_arrays`` and by the C++ loader.
    """
    if not members:
        raise ParameterError("The 'members' parameter of forest_arrays must not be empty.")
    n_groups = n_classes if task == "multiclass" else 1
    all_trees: list[_Tree] = []
    base = np.zeros(n_groups, dtype=np.float64)
    n_features = 0
    objectives: list[str] = []
    for member in members:
        learner = member.get("learner")
        weight = float(member.get("weight", 1.0))
        if not math.isfinite(weight):
            raise ParameterError(
                f"The 'weight' of an ensemble member must be a finite number. Got {weight!r}."
            )
        if learner == "lightgbm":
            trees, nf, ng, objective = _lightgbm_trees(member["booster"])
            member_base = np.zeros(ng)
        elif learner == "xgboost":
            trees, nf, ng, objective, member_base = _xgboost_trees(member["booster"])
        else:
            raise ParameterError(
                "The 'learner' of an ensemble member must be 'lightgbm' or 'xgboost'. "
                f"Got {learner!r} instead."
            )
        if ng != n_groups:
            raise ParameterError(
                f"The booster of a {task} model with {n_classes} classes must have "
                f"{n_groups} output(s) per iteration. Got {ng} instead."
            )
        for tree in trees:
            tree.value *= weight
            if tree.linear is not None:
                tree.linear = {
                    k: (c * weight, f, w * weight) for k, (c, f, w) in tree.linear.items()
                }
        base += weight * member_base
        all_trees.extend(trees)
        n_features = max(n_features, nf)
        objectives.append(objective)
    arrays = _pack(all_trees, base, n_features, n_groups, link_for(task, objectives))
    return arrays


def _pack(
    trees: list[_Tree], base: np.ndarray, n_features: int, n_groups: int, link: str
) -> dict[str, np.ndarray]:
    sizes = np.array([t.kind.size for t in trees], dtype=np.int64)
    tree_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    cat_nodes = 0
    cat_ptr = [0]
    cat_values: list[np.ndarray] = []
    thresholds = []
    for tree in trees:
        thr = tree.threshold.copy()
        for node in sorted(tree.cat_sets):
            values = tree.cat_sets[node]
            thr[node] = float(cat_nodes)
            cat_nodes += 1
            cat_values.append(values)
            cat_ptr.append(cat_ptr[-1] + values.size)
        thresholds.append(thr)
    has_linear = any(t.linear is not None for t in trees)
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(
            [FOREST_FORMAT_VERSION, n_features, n_groups, LINKS[link], len(trees)], dtype=np.int64
        ),
        "base": base.astype(np.float64),
        "tree_ptr": tree_ptr,
        "tree_group": np.array([t.group for t in trees], dtype=np.int32),
        "kind": _cat([t.kind for t in trees], np.uint8),
        "flags": _cat([t.flags for t in trees], np.uint8),
        "feature": _cat([t.feature for t in trees], np.int32),
        "threshold": _cat(thresholds, np.float64),
        "left": _cat([t.left for t in trees], np.int32),
        "right": _cat([t.right for t in trees], np.int32),
        "value": _cat([t.value for t in trees], np.float64),
        "cover": _cat([t.cover for t in trees], np.float64),
        "cat_ptr": np.array(cat_ptr, dtype=np.int64),
        "cat_values": _cat(cat_values, np.int64),
    }
    if has_linear:
        n_nodes = int(tree_ptr[-1])
        lin_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
        lin_const = np.zeros(n_nodes, dtype=np.float64)
        tree_linear = np.zeros(len(trees), dtype=np.uint8)
        feats: list[np.ndarray] = []
        coefs: list[np.ndarray] = []
        counts = np.zeros(n_nodes, dtype=np.int64)
        for t, tree in enumerate(trees):
            if tree.linear is None:
                continue
            tree_linear[t] = 1
            for node in sorted(tree.linear):
                const, f, w = tree.linear[node]
                g = int(tree_ptr[t]) + node
                lin_const[g] = const
                counts[g] = f.size
                feats.append(f)
                coefs.append(w)
        lin_ptr[1:] = np.cumsum(counts)
        arrays.update(
            tree_linear=tree_linear,
            linear_ptr=lin_ptr,
            linear_const=lin_const,
            linear_feature=_cat(feats, np.int32),
            linear_coef=_cat(coefs, np.float64),
        )
    return arrays


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=dtype)
    return np.ascontiguousarray(np.concatenate(parts).astype(dtype, copy=False))


def booster_arrays(booster: Any) -> tuple[dict[str, np.ndarray], str, int]:
    """Arrays of a single raw booster (weight 1), with the task and class count it implies.

    Parameters
    ----------
    booster
        A ``lightgbm.Booster`` or an ``xgboost.Booster``.

    Returns
    -------
    tuple
        ``(arrays, task, n_classes)``; ``n_classes`` is 0 for regression.
    """
    module = type(booster).__module__.split(".")[0]
    if module == "lightgbm":
        trees, nf, ng, objective = _lightgbm_trees(booster)
        base = np.zeros(ng)
        binary = objective in ("binary", "cross_entropy", "xentropy")
        multi = objective in ("multiclass", "softmax")
        log_link = objective in _LOG_LINK_LGB
        if objective in ("multiclassova", "multiclass_ova", "ova", "ovr", "cross_entropy_lambda"):
            raise ParameterError(
                f"The 'booster' parameter uses the LightGBM objective {objective!r}, whose "
                "output transform the scorer does not implement. Use 'binary' or 'multiclass'."
            )
    elif module == "xgboost":
        trees, nf, ng, objective, base = _xgboost_trees(booster)
        binary = objective in ("binary:logistic", "reg:logistic")
        multi = objective.startswith("multi:")
        log_link = objective in _LOG_LINK_XGB
    else:
        raise ParameterError(
            "The 'booster' parameter of Scorer.from_booster must be a lightgbm.Booster or an "
            f"xgboost.Booster. Got {type(booster).__name__} instead."
        )
    if binary:
        task, n_classes, link = "binary", 2, "sigmoid"
    elif multi:
        task, n_classes, link = "multiclass", ng, "softmax"
    else:
        task, n_classes, link = "regression", 0, "exp" if log_link else "identity"
    return _pack(trees, base, nf, ng, link), task, n_classes
