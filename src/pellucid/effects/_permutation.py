"""Permutation importance: how much the score drops when a feature is shuffled.

The random scheme is scikit-learn's (one seed drawn from ``random_state``,
then the same cumulative shuffles for every feature), so with the same
scorer and ``random_state`` the numbers equal
``sklearn.inspection.permutation_importance``. The difference is in the
calls: all repeats of a feature are stacked into as few model calls as the
memory cap allows. The seed is drawn once, before any fan-out, so
``n_jobs`` never changes the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, check_X_y, feature_names_of
from .._model import Model, as_model
from .._protocol import UNSET, renamed_argument
from .._results import FeatureImportance
from ._batching import predict_replicas, stack
from ._common import feature_position
from ._partial_dependence import _weights
from ._scoring import PredictionScorer, resolve_scoring, response

__all__ = ["permutation_importance"]


def _units(
    names: Sequence[str], groups: Mapping[str, Sequence[Any]] | None
) -> list[tuple[str, list[int]]]:
    """(name, column positions) per importance row: each feature, or each group."""
    if groups is None:
        return [(n, [j]) for j, n in enumerate(names)]
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError("feature_groups must be a non-empty mapping of name -> list of columns.")
    units = []
    for name, cols in groups.items():
        if isinstance(cols, (str, int, np.integer)):
            cols = [cols]
        positions = [feature_position(names, c) for c in cols]
        if not positions:
            raise ValueError(f"Group {name!r} has no columns.")
        units.append((str(name), sorted(set(positions))))
    return units


def _permutations(random_state: Any, n: int, n_repeats: int) -> np.ndarray:
    """``(n_repeats, n)`` row orders, exactly as scikit-learn draws them."""
    from sklearn.utils import check_random_state

    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max + 1)
    rs = np.random.RandomState(seed)
    shuffled = np.arange(n)
    current = np.arange(n)
    out = np.empty((n_repeats, n), dtype=np.intp)
    for r in range(n_repeats):
        # scikit-learn shuffles the index in place and re-permutes the already
        # permuted column, so repeat r applies the composition of r shuffles.
        rs.shuffle(shuffled)
        current = current[shuffled]
        out[r] = current
    return out


def _unit_scores(
    model: Model,
    X: Any,
    y: np.ndarray,
    cols: list[int],
    perms: np.ndarray,
    scorer: Any,
    weights: np.ndarray | None,
    batch_rows: int | None,
) -> np.ndarray:
    n_repeats = perms.shape[0]
    if isinstance(scorer, PredictionScorer):

        def overrides(a: int, b: int) -> tuple[dict, dict]:
            idx = perms[a:b].ravel()
            return {j: idx for j in cols}, {}

        def predict(Z: Any) -> np.ndarray:
            return response(model, scorer.response_method, scorer.pos_label, Z)

        out = predict_replicas(predict, X, n_repeats, overrides, batch_rows=batch_rows)
        return np.array([scorer.score(y, out[r], weights) for r in range(n_repeats)])
    estimator = model.raw_model if model.kind != "callable" else model
    scores = []
    for r in range(n_repeats):
        Z = stack(X, 1, {j: perms[r] for j in cols})
        if isinstance(X, pd.DataFrame):
            Z.index = X.index
        kwargs = {} if weights is None else {"sample_weight": weights}
        scores.append(float(scorer(estimator, Z, y, **kwargs)))
    return np.array(scores)


def _baseline(
    model: Model, X: Any, y: np.ndarray, scorer: Any, weights: np.ndarray | None
) -> float:
    if isinstance(scorer, PredictionScorer):
        return scorer.score(
            y, response(model, scorer.response_method, scorer.pos_label, X), weights
        )
    estimator = model.raw_model if model.kind != "callable" else model
    kwargs = {} if weights is None else {"sample_weight": weights}
    return float(scorer(estimator, X, y, **kwargs))


def permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    scoring: Any = None,
    n_repeats: int = 10,
    random_state: Any = None,
    n_jobs: int | None = None,
    feature_groups: Mapping[str, Sequence[Any]] | None = None,
    sample_weight: Any = None,
    batch_rows: int | None = None,
    groups: Any = UNSET,
) -> FeatureImportance:
    """Permutation importance of each feature (or group of features).

    Parameters
    ----------
    model:
        Any fitted model or :class:`pellucid.Model`.
    X, y:
        Data to score on (held-out data gives the honest answer).
    scoring:
        None (R^2 for regressors, accuracy for classifiers), a scikit-learn
        scorer name (``"neg_mean_squared_error"``, ``"roc_auc"``, ...), a
        scorer from ``make_scorer``, or any callable ``scorer(estimator, X, y)``
        (called once per permuted copy, without batching).
    n_repeats:
        Shuffles per feature.
    random_state:
        Seed; the same seed gives the same numbers, whatever ``n_jobs``.
    n_jobs:
        Features scored in parallel with joblib.
    feature_groups:
        ``{name: [columns]}``: each group's columns are permuted jointly (the
        same row order) and reported as one row; columns not named are not scored.
        ``groups=`` is its deprecated name.
    sample_weight:
        Weights for the scorer.
    batch_rows:
        Rows per model call (default: as many as a 256 MiB cap allows, at most 2**18).

    Returns
    -------
    FeatureImportance
        ``importances`` (features x repeats) = baseline score - permuted score,
        so larger means more important whatever the scorer.
    """
    feature_groups = renamed_argument(
        "permutation_importance", "groups", "feature_groups", groups, feature_groups
    )
    if int(n_repeats) < 1:
        raise ValueError(f"n_repeats must be a positive integer; got {n_repeats!r}.")
    m = as_model(model)
    X, y_arr = check_X_y(X, y)
    X = m.prepare(X)
    names = feature_names_of(X)
    units = _units(names, feature_groups)
    weights = _weights(sample_weight, X.shape[0])
    scorer = resolve_scoring(scoring, m)
    if X.shape[0] < 2:
        raise DataError("Permutation importance needs at least 2 rows.")
    perms = _permutations(random_state, X.shape[0], int(n_repeats))
    baseline = _baseline(m, X, y_arr, scorer, weights)

    def one(cols: list[int]) -> np.ndarray:
        return _unit_scores(m, X, y_arr, cols, perms, scorer, weights, batch_rows)

    from ._batching import _n_jobs

    jobs = _n_jobs(n_jobs)
    if jobs == 1 or len(units) == 1:
        scores = [one(cols) for _, cols in units]
    else:
        scores = _in_parallel(one, [cols for _, cols in units], jobs, m)
    importances = baseline - np.vstack(scores)
    scoring_name = scoring if isinstance(scoring, str) or scoring is None else repr(scoring)
    return FeatureImportance(
        importances=importances,
        feature_names=tuple(name for name, _ in units),
        method="permutation_importance",
        params={
            "scoring": scoring_name,
            "n_repeats": int(n_repeats),
            "random_state": random_state if isinstance(random_state, (int, type(None))) else None,
            "feature_groups": (
                {k: [names[j] for j in c] for k, c in units} if feature_groups else None
            ),
        },
        baseline_score=baseline,
    )


def _in_parallel(one: Any, units: list[list[int]], jobs: int, m: Any) -> list[np.ndarray]:
    """``[one(u) for u in units]`` on ``jobs`` workers.

    Tree libraries release the GIL while predicting, so threads serve them
    without copying the data to worker processes; each thread's model gets an
    equal share of the cores (no OpenMP oversubscription). Other models get
    processes. A ``joblib.parallel_config`` backend (Dask, say) takes precedence.
    """
    from joblib import Parallel, delayed

    from .._model import THREAD_SAFE_KINDS, available_cores

    if m.kind not in THREAD_SAFE_KINDS:
        return list(Parallel(n_jobs=jobs)(delayed(one)(u) for u in units))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(max(1, available_cores() // jobs)):
        return list(Parallel(n_jobs=jobs, prefer="threads")(delayed(one)(u) for u in units))
