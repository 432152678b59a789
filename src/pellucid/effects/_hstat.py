"""Friedman and Popescu's H-statistic of interaction strength.

Partial dependence functions are evaluated at the data points themselves
(each row's own feature values), centred, and compared:

* pair (j, k):  H^2 = sum_i [PD_jk(x_ij, x_ik) - PD_j(x_ij) - PD_k(x_ik)]^2 / sum_i PD_jk^2
* one feature j: H^2 = sum_i [f(x_i) - PD_j(x_ij) - PD_-j(x_i,-j)]^2 / sum_i f(x_i)^2

Each PD at n points costs n^2 predictions, so X is subsampled to
``max_rows`` rows (with ``random_state``) when larger.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._data import check_X, feature_names_of
from .._model import Model, as_model
from .._results import HStatistic
from ._batching import predict_replicas
from ._common import feature_positions

__all__ = ["h_statistic"]


def _pd_at_rows(
    model: Model, X: Any, cols: list[int], n_jobs: int | None, batch_rows: int | None
) -> np.ndarray:
    """PD of ``cols`` at each row's own values, centred: ``(n, n_outputs)``."""
    n = X.shape[0]

    def overrides(a: int, b: int) -> tuple[dict, dict]:
        idx = np.repeat(np.arange(a, b), n)
        return {j: idx for j in cols}, {}

    out = predict_replicas(
        model.predict_prepared,
        X,
        n,
        overrides,
        reduce=lambda o: o.mean(axis=1),
        n_jobs=n_jobs,
        batch_rows=batch_rows,
    )
    out = out if out.ndim == 2 else out[:, None]
    return out - out.mean(axis=0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num_s, den_s = (num**2).sum(axis=0), (den**2).sum(axis=0)
    # No variation at all means nothing to attribute to an interaction.
    return np.divide(num_s, den_s, out=np.zeros_like(num_s), where=den_s > 0)


def h_statistic(
    model: Any,
    X: Any,
    features: Any,
    *,
    max_rows: int = 300,
    random_state: Any = None,
    n_jobs: int | None = None,
    batch_rows: int | None = None,
) -> HStatistic:
    """Friedman's H-squared: a pair's interaction strength, or one feature's overall.

    Parameters
    ----------
    model:
        Any fitted model or :class:`pellucid.Model`.
    X:
        DataFrame or 2-D array.
    features:
        One feature (its interaction with all others) or a pair.
    max_rows:
        Rows used (a random subsample when X has more); the cost is ``3 * max_rows**2`` predictions.
    random_state:
        Seed of the subsample.

    Returns
    -------
    HStatistic
        ``.values``: H^2 in [0, 1] per model output (0: no interaction; 0 too
        when the model does not vary on X). ``.value`` and ``float(result)``
        give the number of a one-output model.
    """
    if int(max_rows) < 2:
        raise ValueError(f"max_rows must be at least 2; got {max_rows!r}.")
    m = as_model(model)
    X = m.prepare(check_X(X))
    names = feature_names_of(X)
    positions = feature_positions(names, features)
    n_given = X.shape[0]
    if X.shape[0] > max_rows:
        from sklearn.utils import check_random_state

        rows = np.sort(check_random_state(random_state).choice(X.shape[0], max_rows, replace=False))
        X = X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]
    if isinstance(X, pd.DataFrame):
        X = X.reset_index(drop=True)
    if len(positions) == 2:
        j, k = positions
        pd_jk = _pd_at_rows(m, X, [j, k], n_jobs, batch_rows)
        pd_j = _pd_at_rows(m, X, [j], n_jobs, batch_rows)
        pd_k = _pd_at_rows(m, X, [k], n_jobs, batch_rows)
        h2 = _ratio(pd_jk - pd_j - pd_k, pd_jk)
    else:
        j = positions[0]
        rest = [c for c in range(len(names)) if c != j]
        f = m.predict(X)
        f = f if f.ndim == 2 else f[:, None]
        f = f - f.mean(axis=0)
        pd_j = _pd_at_rows(m, X, [j], n_jobs, batch_rows)
        pd_rest = _pd_at_rows(m, X, rest, n_jobs, batch_rows) if rest else np.zeros_like(f)
        h2 = _ratio(f - pd_j - pd_rest, f)
    names_out = m.output_names
    return HStatistic(
        features=tuple(names[p] for p in positions),
        values=h2,
        n_rows=X.shape[0],
        output_names=names_out if h2.shape[0] > 1 and len(names_out or ()) == h2.shape[0] else None,
        params={
            "max_rows": int(max_rows),
            "rows_given": int(n_given),
            # a generator object is not a record of anything; ints and None are
            "random_state": random_state if isinstance(random_state, (int, type(None))) else None,
        },
    )
