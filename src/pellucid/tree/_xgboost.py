"""XGBoost (Booster or sklearn API) -> TreeEnsemble, from the model's JSON.

XGBoost compares float32 inputs with ``x < split_condition``; the reader turns
that into ``x <= nextafter(split_condition, -inf)`` in float32. Categorical
splits send the listed categories right and everything else (including
unseen or negative values) left; NaN follows ``default_left``. ``base_score``
is stored in probability space and is mapped to the margin with the
objective's link.

What is read is what the model's own ``predict`` uses: the sklearn wrapper's
``missing`` value (treated as missing, like NaN), its ``best_iteration`` after
early stopping (a bare Booster predicts with every round, as here), or an
explicit ``iteration_range``; and the training categories XGBoost 3 stores
with the model, to which a pandas category column is re-coded by label. A
label not seen in training is refused: XGBoost refuses it ("Found a category
not in the training set") where it sorts after every known label, and
otherwise silently predicts with the next known label in sort order.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .._errors import UnsupportedModelError
from ._ensemble import CATEGORICAL, LEFT, RIGHT, Tree, TreeEnsemble

__all__ = ["read_xgboost"]

_LOGIT = {"binary:logistic", "reg:logistic", "binary:hinge"}
_LOG = {"count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft"}
_SOFTMAX = {"multi:softprob", "multi:softmax"}


def _base_margin(objective: str, base_score: np.ndarray) -> np.ndarray:
    if objective in ("binary:logistic", "reg:logistic"):
        p = np.clip(base_score, 1e-16, 1 - 1e-16)
        return np.log(p / (1 - p))
    if objective in _LOG:
        return np.log(base_score)
    return base_score


def _link(objective: str) -> str:
    if objective in ("binary:logistic", "reg:logistic"):
        return "logistic"
    if objective in _SOFTMAX:
        return "softmax"
    if objective in _LOG:
        return "exp"
    return "identity"


def _parse_floats(text: str) -> np.ndarray:
    return np.asarray(json.loads(text) if text.strip().startswith("[") else [float(text)], float)


def _output_kind(objective: str) -> str:
    if objective == "binary:hinge" or objective.startswith(("rank:", "binary:logitraw")):
        return "raw_margin"
    return ""  # the link's unit


def iteration_range(model: Any, explicit: tuple[int, int] | None) -> tuple[int, int]:
    """The rounds ``model.predict(X, iteration_range=explicit)`` uses, by XGBoost's rule:
    the sklearn wrapper takes ``(0, best_iteration + 1)`` after early stopping when no
    end is given (``explicit`` None or ending at 0); otherwise ``explicit``, where
    ``(0, 0)`` means every round."""
    if explicit is not None:
        start, stop = (int(v) for v in explicit)
        if start < 0 or stop < 0 or (stop and stop <= start):
            raise ValueError(
                f"iteration_range must be (start, stop) with 0 <= start < stop (stop 0: to "
                f"the last round); got {explicit!r}."
            )
    if hasattr(model, "get_booster") and (explicit is None or stop == 0):
        try:
            return 0, int(model.best_iteration) + 1
        except AttributeError:
            return 0, 0
    return (start, stop) if explicit is not None else (0, 0)


def _trees_in(gb_model: dict[str, Any], rounds: tuple[int, int]) -> range:
    """Indices of the trees of rounds ``rounds`` (``(0, 0)``: all)."""
    n = len(gb_model["trees"])
    indptr = gb_model.get("iteration_indptr")
    start, stop = rounds
    if stop == 0 and start == 0:
        return range(n)
    if indptr is None:
        raise UnsupportedModelError(
            "This XGBoost model stores no round boundaries (iteration_indptr); "
            "iteration_range cannot be applied."
        )
    n_rounds = len(indptr) - 1
    stop = n_rounds if stop == 0 else stop
    if stop > n_rounds:
        raise ValueError(
            f"iteration_range {rounds} asks for {stop} rounds; the model has {n_rounds}."
        )
    return range(int(indptr[start]), int(indptr[stop]))


def _categories(gb_model: dict[str, Any]) -> dict[int, np.ndarray]:
    """The training categories XGBoost stored per column (empty for a model fitted on codes)."""
    cats = gb_model.get("cats") or {}
    out = {}
    for j, enc in enumerate(cats.get("enc", [])):
        values = enc.get("values", [])
        if not len(values):
            continue
        if "offsets" in enc:  # strings: UTF-8 bytes cut at the offsets
            raw = bytes(int(b) for b in values)
            off = enc["offsets"]
            labels: Any = [raw[off[i] : off[i + 1]].decode("utf-8") for i in range(len(off) - 1)]
            out[j] = np.asarray(labels, dtype=object)
        else:
            out[j] = np.asarray(values)
    return out


def read_xgboost(model: Any, rounds: tuple[int, int] | None = None) -> TreeEnsemble:
    """The trees ``model.predict`` uses (see the module docstring); ``rounds`` as
    ``predict``'s ``iteration_range``."""
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    doc = json.loads(booster.save_raw("json"))
    learner = doc["learner"]
    params = learner["learner_model_param"]
    objective = learner["objective"]["name"]
    gb = learner["gradient_booster"]
    weights = None
    if gb["name"] == "dart":
        weights = np.asarray(gb["weight_drop"], dtype=np.float64)
        gb = gb["gbtree"]
    elif gb["name"] != "gbtree":
        raise UnsupportedModelError(
            f"XGBoost booster={gb['name']!r} has no trees to explain; TreeShap reads gbtree "
            "and dart boosters."
        )
    trees_doc = gb["model"]["trees"]
    tree_info = gb["model"]["tree_info"]
    used = _trees_in(gb["model"], iteration_range(model, rounds))
    n_features = int(params["num_feature"])
    n_class = int(params.get("num_class", "0"))
    n_target = int(params.get("num_target", "1"))
    if n_target > 1:
        raise UnsupportedModelError(
            "Multi-target XGBoost models (num_target > 1) are not supported by TreeShap yet."
        )
    n_out = max(n_class, 1)
    base = _parse_floats(params["base_score"])
    base = np.broadcast_to(base, (n_out,)) if base.size == 1 else base
    trees = []
    for t in used:
        tree_doc = trees_doc[t]
        tree = _read_tree(tree_doc, output=int(tree_info[t]) if n_out > 1 else 0)
        if weights is not None:
            tree.value = tree.value * weights[t]
        trees.append(tree)
    names = booster.feature_names
    output_names = tuple(f"class_{k}" for k in range(n_out)) if n_out > 1 else None
    if hasattr(model, "classes_") and n_out > 1:
        output_names = tuple(str(c) for c in model.classes_)
    missing = getattr(model, "missing", np.nan)  # the sklearn wrapper's; a Booster has none
    missing = np.nan if missing is None else float(missing)
    return TreeEnsemble.from_trees(
        trees,
        base=_base_margin(objective, np.asarray(base, dtype=np.float64)),
        n_features=n_features,
        input_dtype="float32",
        link=_link(objective),
        output_names=output_names,
        feature_names=names,
        source=f"xgboost:{objective}",
        label_categories=_categories(gb["model"]),
        unseen_labels="error",
        missing=missing,
        output_kind=_output_kind(objective),
    )


def _read_tree(doc: dict[str, Any], output: int) -> Tree:
    left = np.asarray(doc["left_children"], dtype=np.int64)
    right = np.asarray(doc["right_children"], dtype=np.int64)
    cond = np.asarray(doc["split_conditions"], dtype=np.float32)
    is_leaf = left < 0
    # x < c  <=>  x <= the largest float32 below c (inputs are float32)
    threshold = np.nextafter(cond, np.float32(-np.inf)).astype(np.float64)
    split_type = np.asarray(doc.get("split_type", np.zeros(len(left))), dtype=np.int64)
    kind = np.where((split_type == 1) & ~is_leaf, CATEGORICAL, 0).astype(np.uint8)
    categories = {}
    cats = np.asarray(doc.get("categories", []), dtype=np.int64)
    nodes = doc.get("categories_nodes", [])
    segs = doc.get("categories_segments", [])
    sizes = doc.get("categories_sizes", [])
    for node, seg, size in zip(nodes, segs, sizes, strict=True):
        right_cats = cats[int(seg) : int(seg) + int(size)]
        table = np.full(int(right_cats.max(initial=-1)) + 1, LEFT, dtype=np.uint8)
        table[right_cats] = RIGHT
        categories[int(node)] = (table, LEFT)
    return Tree(
        left=left,
        right=right,
        feature=np.asarray(doc["split_indices"], dtype=np.int64),
        threshold=threshold,
        default_left=np.asarray(doc["default_left"], dtype=bool),
        cover=np.asarray(doc["sum_hessian"], dtype=np.float64),
        value=np.where(is_leaf, cond.astype(np.float64), 0.0)[:, None],
        output=output,
        kind=kind,
        categories=categories,
    )
