"""CatBoost (symmetric / oblivious trees on numeric features) -> TreeEnsemble.

An oblivious tree of depth D applies the same D splits on every path; leaf
``sum_i bit_i << i`` is reached where ``bit_i = x[f_i] > border_i`` (float32).
It is expanded into an ordinary binary tree with the last split at the root,
the order under which CatBoost's own SHAP values are defined. NaN goes the
way the feature's ``nan_value_treatment`` says (AsFalse: left, AsTrue: right).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from .._errors import UnsupportedModelError
from ._ensemble import Tree, TreeEnsemble

__all__ = ["read_catboost"]


def _model_json(model: Any) -> dict[str, Any]:
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        model.save_model(path, format="json")
        with open(path, encoding="utf-8") as fh:
            return dict(json.load(fh))
    finally:
        os.unlink(path)


def _link(loss: str) -> str:
    name = loss.split(":")[0]
    if name in ("Logloss", "CrossEntropy"):
        return "logistic"
    if name in ("MultiClass",):
        return "softmax"
    if name in ("Poisson", "Tweedie"):
        return "exp"
    return "identity"


_RANKING = (
    "YetiRank",
    "PairLogit",
    "QuerySoftMax",
    "QueryCrossEntropy",
    "Lambda",
    "StochasticRank",
)


def read_catboost(model: Any) -> TreeEnsemble:
    doc = _model_json(model)
    info = doc["features_info"]
    if (
        info.get("categorical_features")
        or info.get("text_features")
        or info.get("embedding_features")
    ):
        raise UnsupportedModelError(
            "CatBoost models with categorical, text or embedding features (cat_features, "
            "text_features, embedding_features) are not supported by TreeShap (their splits "
            "use learned statistics); encode categories numerically."
        )
    if "oblivious_trees" not in doc:
        raise UnsupportedModelError(
            "Only CatBoost's symmetric (oblivious) trees are supported by TreeShap; this model "
            "was grown with grow_policy='Depthwise' or 'Lossguide'."
        )
    floats = info.get("float_features", [])
    flat_index = {int(f["feature_index"]): int(f["flat_feature_index"]) for f in floats}
    nan_left = {
        int(f["feature_index"]): f.get("nan_value_treatment", "AsIs") != "AsTrue" for f in floats
    }
    scale, bias = doc.get("scale_and_bias", [1.0, [0.0]])
    bias = np.atleast_1d(np.asarray(bias, dtype=np.float64))
    n_out = int(bias.shape[0])
    trees = []
    for tree_doc in doc["oblivious_trees"]:
        splits = tree_doc.get("splits", [])
        for s in splits:
            if s.get("split_type") != "FloatFeature":
                raise UnsupportedModelError(
                    f"Unsupported CatBoost split type {s.get('split_type')!r}."
                )
        values = np.asarray(tree_doc["leaf_values"], dtype=np.float64).reshape(-1, n_out) * scale
        weights = np.asarray(tree_doc["leaf_weights"], dtype=np.float64)
        trees.append(_expand(splits, values, weights, flat_index, nan_left))
    n_features = max([int(f["flat_feature_index"]) for f in floats], default=-1) + 1
    loss = str(doc.get("model_info", {}).get("params", {}).get("loss_function", {}).get("type", ""))
    names = [str(f.get("feature_id") or f"f{f['flat_feature_index']}") for f in floats]
    output_names = None
    if n_out > 1:
        classes = getattr(model, "classes_", None)
        output_names = (
            tuple(str(c) for c in classes)
            if classes is not None
            else tuple(f"class_{j}" for j in range(n_out))
        )
    return TreeEnsemble.from_trees(
        trees,
        base=bias,
        n_features=n_features,
        input_dtype="float32",
        link=_link(loss),
        output_names=output_names,
        feature_names=names if any(f.get("feature_id") for f in floats) else None,
        source=f"catboost:{loss}",
        output_kind="raw_margin" if loss.startswith(_RANKING) else "",
    )


def _expand(
    splits: list[dict[str, Any]],
    values: np.ndarray,
    weights: np.ndarray,
    flat_index: dict[int, int],
    nan_left: dict[int, bool],
) -> Tree:
    depth = len(splits)
    left: list[int] = []
    right: list[int] = []
    feature: list[int] = []
    threshold: list[float] = []
    default_left: list[bool] = []
    cover: list[float] = []
    value: list[np.ndarray] = []
    n_out = values.shape[1]

    def add(level: int, prefix: int) -> int:
        # level counts from the root; the root applies split depth-1 (the leaf index's top bit)
        idx = len(left)
        left.append(-1)
        right.append(-1)
        if level == depth:
            feature.append(-1)
            threshold.append(0.0)
            default_left.append(True)
            cover.append(float(weights[prefix]))
            value.append(values[prefix])
            return idx
        s = splits[depth - 1 - level]
        f = int(s["float_feature_index"])
        feature.append(flat_index[f])
        threshold.append(float(np.float32(s["border"])))
        default_left.append(nan_left[f])
        cover.append(0.0)
        value.append(np.zeros(n_out))
        bit = 1 << (depth - 1 - level)
        left[idx] = add(level + 1, prefix)
        right[idx] = add(level + 1, prefix | bit)
        cover[idx] = cover[left[idx]] + cover[right[idx]]
        return idx

    add(0, 0)
    return Tree(
        left=np.asarray(left),
        right=np.asarray(right),
        feature=np.asarray(feature),
        threshold=np.asarray(threshold),
        default_left=np.asarray(default_left),
        cover=np.asarray(cover),
        value=np.asarray(value),
    )
