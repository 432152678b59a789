"""select(): estimators compared by repeated cross-validation and the corrected t-test."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np

from .._data import check_X_y
from ._results import Selection
from ._stats import corrected_ttest, holm

__all__ = ["select"]


def select(
    estimators: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    cv: Any = None,
    scoring: Any = None,
    n_splits: int = 5,
    n_repeats: int = 10,
    groups: Any = None,
    random_state: Any = None,
    n_jobs: int | None = None,
    confidence: float = 0.95,
) -> Selection:
    """Compare unfitted estimators by repeated cross-validation on the same splits.

    Parameters
    ----------
    estimators:
        ``{name: unfitted scikit-learn estimator}``, at least two.
    cv:
        A scikit-learn splitter; default ``RepeatedStratifiedKFold`` for
        classifiers (``RepeatedKFold`` otherwise) with ``n_splits`` x
        ``n_repeats`` and ``random_state``. Every estimator sees the same splits.
    scoring:
        A scorer name, a list of names, or a dict as ``cross_validate``
        takes; default ``"roc_auc"`` for binary classifiers, ``"accuracy"``
        for other classifiers, ``"r2"`` for regressors.

    Returns
    -------
    Selection
        Test scores per split; for every pair (a, b) and metric the mean
        difference b - a with the corrected resampled t-test (Nadeau & Bengio
        2003) and its interval, Holm-adjusted p-values, and a sentence.
    """
    from sklearn.base import is_classifier
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, cross_validate

    if not isinstance(estimators, Mapping) or len(estimators) < 2:
        raise ValueError("estimators must be a dict of at least two {name: estimator}.")
    X, y_arr = check_X_y(X, y)
    first = next(iter(estimators.values()))
    classifier = is_classifier(first)
    if cv is None:
        splitter = RepeatedStratifiedKFold if classifier else RepeatedKFold
        cv = splitter(n_splits=n_splits, n_repeats=n_repeats, random_state=random_state)
    splits = list(cv.split(X, y_arr, groups))
    if len(splits) < 2:
        raise ValueError(f"cv gives {len(splits)} split; the t-test needs at least 2.")
    scoring = _default_scoring(scoring, classifier, y_arr)
    metric_names = (scoring,) if isinstance(scoring, str) else tuple(scoring)
    scorers = scoring if isinstance(scoring, (str, Mapping)) else list(scoring)
    names = tuple(str(n) for n in estimators)
    scores = np.empty((len(names), len(metric_names), len(splits)))
    for i, est in enumerate(estimators.values()):
        run = cross_validate(
            est, X, y_arr, cv=splits, scoring=scorers, n_jobs=n_jobs, error_score="raise"
        )
        for j, metric in enumerate(metric_names):
            key = "test_score" if isinstance(scoring, str) else f"test_{metric}"
            scores[i, j] = run[key]
    n_test = float(np.mean([len(test) for _, test in splits]))
    n_train = float(np.mean([len(train) for train, _ in splits]))
    comparisons = _pairwise(names, metric_names, scores, n_train, n_test, confidence)
    return Selection(
        estimators=names,
        metric_names=metric_names,
        scores=scores,
        comparisons=comparisons,
        n_train=n_train,
        n_test=n_test,
        params={
            "cv": repr(cv),
            "n_splits_total": len(splits),
            "random_state": random_state if isinstance(random_state, (int, type(None))) else None,
            "confidence": confidence,
            "test": "corrected resampled t-test (Nadeau & Bengio 2003)",
        },
    )


def _default_scoring(scoring: Any, classifier: bool, y: np.ndarray) -> Any:
    if scoring is not None:
        return scoring
    if not classifier:
        return "r2"
    return "roc_auc" if len(np.unique(y)) == 2 else "accuracy"


def _pairwise(
    names: tuple[str, ...],
    metric_names: tuple[str, ...],
    scores: np.ndarray,
    n_train: float,
    n_test: float,
    confidence: float,
) -> dict[str, np.ndarray]:
    rows = []
    for (ia, a), (ib, b) in combinations(enumerate(names), 2):
        for j, metric in enumerate(metric_names):
            test = corrected_ttest(
                scores[ib, j] - scores[ia, j], n_train, n_test, confidence=confidence
            )
            rows.append((a, b, metric, test))
    text = {"a": 0, "b": 1, "metric": 2}
    table: dict[str, np.ndarray] = {
        k: np.array([r[i] for r in rows], dtype=object) for k, i in text.items()
    }
    for k in ("mean", "std_error", "t", "df", "p_value", "lower", "upper"):
        table["difference" if k == "mean" else k] = np.array([getattr(r[3], k) for r in rows])
    table["p_holm"] = holm(table["p_value"])
    return table
