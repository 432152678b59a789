"""LightGBM (Booster or sklearn API) -> TreeEnsemble, from ``dump_model()``.

Numeric splits go left when ``x <= threshold`` in float64. Missing values
follow the split's ``missing_type``: "NaN" sends NaN the default way, "Zero"
sends NaN and zeros (|x| <= 1e-35) the default way, "None" treats NaN as 0.
Categorical splits send the listed categories left and everything else
(unseen, negative, NaN) right. Node cover is the training row count, as
LightGBM's own ``pred_contrib`` uses.

As the model's own ``predict``: the trees up to ``best_iteration`` after early
stopping (``dump_model``'s default, as ``predict``'s), a pandas category
column re-coded by label to the categories stored at training
(``pandas_categorical``; unknown labels are missing), and column names whose
spaces LightGBM stored as underscores accepted under the user's names. Linear
trees (``linear_tree=True``) are refused: their leaves are linear models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import UnsupportedModelError
from ._ensemble import CATEGORICAL, LEFT, NUMERIC_ZERO_MISSING, RIGHT, Tree, TreeEnsemble

__all__ = ["read_lightgbm"]


def _link(objective: str) -> str:
    name = objective.split(" ")[0]
    if name in ("binary", "cross_entropy", "multiclassova"):
        return "logistic"
    if name == "multiclass":
        return "softmax"
    if name in ("poisson", "gamma", "tweedie"):
        return "exp"
    return "identity"


_MARGIN = ("lambdarank", "rank_xendcg")


def _output_kind(objective: str) -> str:
    name = objective.split(" ")[0]
    return "raw_margin" if name in _MARGIN else ""  # else the link's unit


def _refuse_linear(booster: Any, infos: list[dict[str, Any]]) -> None:
    linear = bool(booster.params.get("linear_tree", False)) if hasattr(booster, "params") else False
    linear = linear or any(_has_linear_leaf(info.get("tree_structure", {})) for info in infos)
    if linear:
        raise UnsupportedModelError(
            "LightGBM linear trees (linear_tree=True) are not supported by TreeShap: each leaf "
            "is a linear model, not a constant. Use a model-agnostic explainer (KernelShap)."
        )


def _has_linear_leaf(node: dict[str, Any]) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if "leaf_features" in n or "leaf_coeff" in n:
            return True
        stack.extend(n[c] for c in ("left_child", "right_child") if c in n)
    return False


def _pandas_categories(doc: dict[str, Any]) -> tuple[np.ndarray, ...] | None:
    cats = doc.get("pandas_categorical")
    if not cats:
        return None
    return tuple(
        np.asarray(c, dtype=object if any(isinstance(v, str) for v in c) else None) for c in cats
    )


def read_lightgbm(model: Any) -> TreeEnsemble:
    booster = model.booster_ if hasattr(model, "booster_") else model
    doc = booster.dump_model()
    k = int(doc["num_tree_per_iteration"])
    infos = doc["tree_info"]
    _refuse_linear(booster, infos)
    scale = 1.0
    if doc.get("average_output", False):
        scale = 1.0 / max(1, len(infos) // k)
    trees = [
        _read_tree(info["tree_structure"], output=i % k, scale=scale)
        for i, info in enumerate(infos)
    ]
    objective = str(doc.get("objective", ""))
    output_names = None
    if k > 1:
        classes = getattr(model, "classes_", None)
        output_names = (
            tuple(str(c) for c in classes)
            if classes is not None
            else tuple(f"class_{j}" for j in range(k))
        )
    return TreeEnsemble.from_trees(
        trees,
        base=np.zeros(k),
        n_features=int(doc["max_feature_idx"]) + 1,
        input_dtype="float64",
        link=_link(objective),
        output_names=output_names,
        feature_names=doc.get("feature_names"),
        source=f"lightgbm:{objective}",
        ordered_categories=_pandas_categories(doc),
        output_kind=_output_kind(objective),
        name_rule="lightgbm",
    )


def _read_tree(root: dict[str, Any], output: int, scale: float) -> Tree:
    left: list[int] = []
    right: list[int] = []
    feature: list[int] = []
    threshold: list[float] = []
    default_left: list[bool] = []
    kind: list[int] = []
    cover: list[float] = []
    value: list[float] = []
    categories: dict[int, tuple[np.ndarray, int]] = {}

    def add(node: dict[str, Any]) -> int:
        idx = len(left)
        left.append(-1)
        right.append(-1)
        if "split_index" not in node:  # leaf (a single-leaf tree has only leaf_value)
            feature.append(-1)
            threshold.append(0.0)
            default_left.append(True)
            kind.append(0)
            cover.append(float(node.get("leaf_count", 1)))
            value.append(float(node["leaf_value"]) * scale)
            return idx
        feature.append(int(node["split_feature"]))
        cover.append(float(node["internal_count"]))
        value.append(0.0)
        missing = node.get("missing_type", "None")
        if node["decision_type"] == "==":
            cats = np.asarray([int(c) for c in str(node["threshold"]).split("||")], dtype=np.int64)
            table = np.full(int(cats.max(initial=-1)) + 1, RIGHT, dtype=np.uint8)
            table[cats] = LEFT
            categories[idx] = (table, RIGHT)
            threshold.append(0.0)
            default_left.append(False)
            kind.append(CATEGORICAL)
        else:
            thr = float(node["threshold"])
            threshold.append(thr)
            if missing == "None":  # NaN is compared as 0.0
                default_left.append(0.0 <= thr)
                kind.append(0)
            else:
                default_left.append(bool(node["default_left"]))
                kind.append(NUMERIC_ZERO_MISSING if missing == "Zero" else 0)
        left[idx] = add(node["left_child"])
        right[idx] = add(node["right_child"])
        return idx

    add(root)
    return Tree(
        left=np.asarray(left),
        right=np.asarray(right),
        feature=np.asarray(feature),
        threshold=np.asarray(threshold),
        default_left=np.asarray(default_left),
        cover=np.asarray(cover),
        value=np.asarray(value)[:, None],
        output=output,
        kind=np.asarray(kind, dtype=np.uint8),
        categories=categories,
    )
