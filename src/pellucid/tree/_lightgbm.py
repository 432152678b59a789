"""LightGBM (Booster or sklearn API) -> TreeEnsemble, from ``dump_model()``.

Numeric splits go left when ``x <= threshold`` in float64. Missing values
follow the split's ``missing_type``: "NaN" sends NaN the default way, "Zero"
sends NaN and zeros (|x| <= 1e-35) the default way, "None" treats NaN as 0.
Categorical splits send the listed categories left and everything else
(unseen, negative, NaN) right. Node cover is the training row count, as
LightGBM's own ``pred_contrib`` uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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


def read_lightgbm(model: Any) -> TreeEnsemble:
    booster = model.booster_ if hasattr(model, "booster_") else model
    doc = booster.dump_model()
    k = int(doc["num_tree_per_iteration"])
    infos = doc["tree_info"]
    if any("leaf_features" in info.get("tree_structure", {}) for info in infos):
        raise ValueError("LightGBM linear trees are not supported by TreeShap.")
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
