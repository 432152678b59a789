"""scikit-learn trees -> TreeEnsemble.

Raw outputs: regressors their prediction; decision trees and forests of
classifiers the class probabilities (averaged leaf class fractions);
GradientBoosting and HistGradientBoosting their ``_raw_predict`` margin;
IsolationForest the mean path length ``-log2(-score_samples) * c(max_samples)``.
Trees built by sklearn compare in float32, HistGradientBoosting in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import UnsupportedModelError
from ._ensemble import CATEGORICAL, LEFT, MISSING, RIGHT, Tree, TreeEnsemble

__all__ = ["read_sklearn"]


def _names(model: Any) -> tuple[str, ...] | None:
    names = getattr(model, "feature_names_in_", None)
    return tuple(str(n) for n in names) if names is not None else None


def _tree_from_sklearn(
    est: Any, values: np.ndarray, *, output: int = -1, features: np.ndarray | None = None
) -> Tree:
    t = est.tree_
    feature = np.asarray(t.feature, dtype=np.int64)
    if features is not None:  # trees fitted on a feature subset (IsolationForest, Bagging)
        feature = np.where(feature >= 0, np.asarray(features)[np.maximum(feature, 0)], -1)
    missing_left = getattr(t, "missing_go_to_left", None)
    default_left = (
        np.asarray(missing_left, dtype=bool)
        if missing_left is not None
        else np.ones(t.node_count, dtype=bool)
    )
    return Tree(
        left=np.asarray(t.children_left),
        right=np.asarray(t.children_right),
        feature=feature,
        threshold=np.asarray(t.threshold, dtype=np.float64),
        default_left=default_left,
        cover=np.asarray(t.weighted_n_node_samples, dtype=np.float64),
        value=values,
        output=output,
    )


def _class_fractions(est: Any) -> np.ndarray:
    v = np.asarray(est.tree_.value[:, 0, :], dtype=np.float64)
    total = v.sum(axis=1, keepdims=True)
    return np.divide(v, total, out=np.zeros_like(v), where=total > 0)


def _is_classifier(model: Any) -> bool:
    from sklearn.base import is_classifier

    return bool(is_classifier(model))


def read_sklearn(model: Any) -> TreeEnsemble:
    """Read a fitted scikit-learn tree model."""
    from sklearn import ensemble, tree

    name = type(model).__name__
    if isinstance(
        model, ensemble.HistGradientBoostingRegressor | ensemble.HistGradientBoostingClassifier
    ):
        return _read_hist(model)
    if isinstance(model, ensemble.IsolationForest):
        return _read_iforest(model)
    if isinstance(model, ensemble.GradientBoostingRegressor | ensemble.GradientBoostingClassifier):
        return _read_gb(model)
    if isinstance(model, tree.BaseDecisionTree):
        estimators, scale = [model], 1.0
    elif isinstance(model, ensemble.RandomForestClassifier | ensemble.RandomForestRegressor
                    | ensemble.ExtraTreesClassifier | ensemble.ExtraTreesRegressor):  # fmt: skip
        estimators = list(model.estimators_)
        scale = 1.0 / len(estimators)
    else:
        raise UnsupportedModelError(f"Unsupported scikit-learn model {name!r} for TreeShap.")
    n_features = int(model.n_features_in_)
    trees = []
    if _is_classifier(model):
        if getattr(model, "n_outputs_", 1) != 1:
            raise UnsupportedModelError(
                f"Multi-output classifiers ({name}) are not supported; explain one output at a time."
            )
        for est in estimators:
            trees.append(_tree_from_sklearn(est, _class_fractions(est) * scale))
        output_names: tuple[str, ...] | None = tuple(str(c) for c in model.classes_)
        n_out = len(model.classes_)
        kind = "probability"  # averaged leaf class fractions
    else:
        kind = "regression"
        n_out = int(getattr(model, "n_outputs_", 1))
        for est in estimators:
            trees.append(_tree_from_sklearn(est, est.tree_.value[:, :, 0] * scale))
        output_names = tuple(f"y{j}" for j in range(n_out)) if n_out > 1 else None
    return TreeEnsemble.from_trees(
        trees,
        base=np.zeros(n_out),
        n_features=n_features,
        input_dtype="float32",
        output_names=output_names,
        feature_names=_names(model),
        source=name,
        output_kind=kind,
    )


def _read_gb(model: Any) -> TreeEnsemble:
    from sklearn.dummy import DummyClassifier, DummyRegressor

    n_features = int(model.n_features_in_)
    init = model.init_
    if init != "zero" and not isinstance(init, DummyClassifier | DummyRegressor):
        raise UnsupportedModelError(
            "GradientBoosting with a non-constant init estimator (init=...) cannot be read as trees."
        )
    base = np.asarray(model._raw_predict_init(np.zeros((1, n_features))), dtype=np.float64)[0]
    trees = []
    n_k = model.estimators_.shape[1]
    for stage in model.estimators_:
        for k, est in enumerate(stage):
            values = est.tree_.value[:, 0, :1] * model.learning_rate
            trees.append(_tree_from_sklearn(est, values, output=k))
    is_clf = _is_classifier(model)
    if is_clf and n_k > 1:
        output_names: tuple[str, ...] | None = tuple(str(c) for c in model.classes_)
        link = "softmax"
    else:
        output_names = None
        link = "logistic" if is_clf else "identity"
    return TreeEnsemble.from_trees(
        trees,
        base=base,
        n_features=n_features,
        input_dtype="float32",
        link=link,
        output_names=output_names,
        feature_names=_names(model),
        source=type(model).__name__,
        # the exponential loss's margin is half the log-odds
        output_kind="raw_margin" if getattr(model, "loss", "") == "exponential" else "",
    )


def _read_iforest(model: Any) -> TreeEnsemble:
    from sklearn.ensemble._iforest import _average_path_length

    n_trees = len(model.estimators_)
    trees = []
    for est, features in zip(model.estimators_, model.estimators_features_, strict=True):
        t = est.tree_
        depth = t.compute_node_depths()
        leaf_value = depth + _average_path_length(t.n_node_samples) - 1.0
        tree = _tree_from_sklearn(est, (leaf_value / n_trees)[:, None], features=features)
        tree.cover = np.asarray(t.n_node_samples, dtype=np.float64)
        trees.append(tree)
    return TreeEnsemble.from_trees(
        trees,
        base=np.zeros(1),
        n_features=int(model.n_features_in_),
        input_dtype="float32",
        feature_names=_names(model),
        source="IsolationForest",
        output_kind="raw_margin",  # mean path length
    )


def _in_bitset(bitset: np.ndarray, values: np.ndarray) -> np.ndarray:
    words = np.asarray(bitset, dtype=np.uint32)
    return ((words[values // 32] >> (values % 32).astype(np.uint32)) & 1).astype(bool)


def _hist_categories(model: Any) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The user's column of each internal column, and each category column's values.

    With categorical features, HistGradientBoosting ordinal-encodes them first
    (codes are positions in the encoder's sorted categories; unknown values
    become missing) and moves them to the front.
    """
    n = int(model.n_features_in_)
    pre = getattr(model, "_preprocessor", None)
    if pre is None:
        return np.arange(n), {}
    is_cat = np.asarray(model.is_categorical_, dtype=bool)
    perm = np.r_[np.flatnonzero(is_cat), np.flatnonzero(~is_cat)]
    encoder = pre.named_transformers_["encoder"]
    values = {}
    for pos, cats in enumerate(encoder.categories_):
        cats = np.asarray(cats)
        values[int(perm[pos])] = cats[~_isna(cats)]
    return perm, values


def _isna(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def _read_hist(model: Any) -> TreeEnsemble:
    known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    perm, input_categories = _hist_categories(model)
    cats = np.arange(256)
    trees = []
    for iteration in model._predictors:
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            categories = {}
            for n in np.flatnonzero(nodes["is_categorical"] & ~leaf):
                f = int(nodes["feature_idx"][n])
                goes_left = _in_bitset(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][n]], cats)
                is_known = _in_bitset(known[f_idx_map[f]], cats)
                table = np.where(goes_left, LEFT, np.where(is_known, RIGHT, MISSING))
                categories[int(n)] = (table, MISSING)
            kind = np.where(nodes["is_categorical"].astype(bool), CATEGORICAL, 0).astype(np.uint8)
            trees.append(
                Tree(
                    left=np.where(leaf, -1, nodes["left"].astype(np.int64)),
                    right=np.where(leaf, -1, nodes["right"].astype(np.int64)),
                    feature=perm[nodes["feature_idx"].astype(np.int64)],
                    threshold=nodes["num_threshold"].astype(np.float64),
                    default_left=nodes["missing_go_to_left"].astype(bool),
                    cover=nodes["count"].astype(np.float64),
                    value=nodes["value"].astype(np.float64)[:, None],
                    output=k,
                    kind=kind,
                    categories=categories,
                )
            )
    n_k = model.n_trees_per_iteration_
    is_clf = _is_classifier(model)
    if is_clf and n_k > 1:
        output_names: tuple[str, ...] | None = tuple(str(c) for c in model.classes_)
        link = "softmax"
    else:
        output_names = None
        link = "logistic" if is_clf else "identity"
    if not is_clf and getattr(model, "loss", "") in ("poisson", "gamma"):
        link = "exp"
    return TreeEnsemble.from_trees(
        trees,
        base=np.asarray(model._baseline_prediction, dtype=np.float64).ravel(),
        n_features=int(model.n_features_in_),
        input_dtype="float64",
        link=link,
        output_names=output_names,
        feature_names=_names(model),
        source=type(model).__name__,
        input_categories=input_categories,
    )
