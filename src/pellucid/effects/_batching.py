"""Stacked model calls: many perturbed copies of X in as few calls as memory allows.

Every method here asks the same question many times: "what does the model say
about these rows when some columns are set to other values?" Instead of one
model call per grid point or permutation, the copies ("replicas") are stacked
row-wise and predicted together, up to a cap on rows and bytes per call.

The chunk plan depends only on the data and the cap, never on ``n_jobs``, so
a parallel run evaluates exactly the same calls as a sequential one and gives
the same bytes. Replicas keep the user's raw feature space: a DataFrame stays
a DataFrame with every column's dtype (categorical, string, nullable) intact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_MAX_BYTES",
    "column",
    "like",
    "predict_replicas",
    "replicas_per_call",
    "stack",
]

# Rows per model call. Measured on HistGradientBoosting (benchmarks/effects.py):
# calls of ~250k rows already amortise the per-call overhead; larger calls gain
# nothing and cost memory.
DEFAULT_BATCH_ROWS = 2**18
# Upper bound on the bytes of one stacked input, for wide or string-heavy data.
DEFAULT_MAX_BYTES = 256 * 2**20

Overrides = tuple[Mapping[int, np.ndarray], Mapping[int, Any]]


def column(X: Any, j: int) -> Any:
    """Column ``j`` of X: a Series for a DataFrame, a 1-D array otherwise."""
    return X.iloc[:, j] if isinstance(X, pd.DataFrame) else np.asarray(X)[:, j]


def like(col: Any, values: Any) -> Any:
    """``values`` as an array of ``col``'s dtype (categorical stays categorical)."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical(values, dtype=dtype)
    if isinstance(dtype, np.dtype):
        return np.asarray(values, dtype=dtype)
    return pd.array(values, dtype=dtype)


def _row_nbytes(X: Any) -> int:
    if isinstance(X, pd.DataFrame):
        n = max(len(X), 1)
        per_row = int(X.memory_usage(index=False, deep=False).sum()) // n
        # Object/string columns hold pointers; count ~50 bytes for what they point to.
        per_row += 50 * sum(1 for dt in X.dtypes if not isinstance(dt, np.dtype) or dt.kind == "O")
        return max(1, per_row)
    arr = np.asarray(X)
    return max(1, arr.itemsize * (arr.shape[1] if arr.ndim == 2 else 1))


def replicas_per_call(X: Any, batch_rows: int | None = None) -> int:
    """How many stacked copies of X one model call may hold."""
    n = max(int(X.shape[0]), 1)
    if batch_rows is None:
        batch_rows = min(DEFAULT_BATCH_ROWS, DEFAULT_MAX_BYTES // _row_nbytes(X))
    elif int(batch_rows) < 1:
        raise ValueError(f"batch_rows must be a positive integer; got {batch_rows!r}.")
    return max(1, int(batch_rows) // n)


def stack(
    X: Any,
    k: int,
    take: Mapping[int, np.ndarray] | None = None,
    values: Mapping[int, Any] | None = None,
) -> Any:
    """``k`` copies of X stacked row-wise, with some columns replaced.

    ``take[j]`` (length ``k * n``) gives, for each stacked row, the row of X
    whose value of column ``j`` it gets; ``values[j]`` gives the values
    themselves (converted to the column's dtype). Other columns are tiled.
    """
    take = take or {}
    values = values or {}
    n = X.shape[0]
    tiled = np.tile(np.arange(n), k)
    if isinstance(X, pd.DataFrame):
        data = {}
        for j, name in enumerate(X.columns):
            col = X.iloc[:, j]
            if j in values:
                data[name] = like(col, values[j])
                continue
            idx = take.get(j, tiled)
            data[name] = (
                col.to_numpy()[idx] if isinstance(col.dtype, np.dtype) else col.array.take(idx)
            )
        return pd.DataFrame(data, columns=X.columns, copy=False)
    arr = np.asarray(X)
    out = np.tile(arr, (k, 1))
    for j, idx in take.items():
        out[:, j] = arr[idx, j]
    for j, v in values.items():
        out[:, j] = v
    return out


def _n_jobs(n_jobs: int | None) -> int:
    if n_jobs is None:
        return 1
    from joblib import effective_n_jobs

    return int(effective_n_jobs(n_jobs))


def predict_replicas(
    predict: Callable[[Any], np.ndarray],
    X: Any,
    n_replicas: int,
    overrides: Callable[[int, int], Overrides],
    *,
    reduce: Callable[[np.ndarray], np.ndarray] | None = None,
    n_jobs: int | None = None,
    batch_rows: int | None = None,
) -> np.ndarray:
    """Predict ``n_replicas`` perturbed copies of X; returns ``(n_replicas, n, ...)``.

    ``overrides(a, b)`` returns ``(take, values)`` for replicas ``a..b-1`` (see
    :func:`stack`). ``reduce`` maps each chunk's ``(b - a, n, ...)`` block to a
    smaller one (e.g. the mean over rows) before chunks are joined, so large
    ICE-sized intermediates need not be kept.
    """
    n = X.shape[0]
    per = replicas_per_call(X, batch_rows)
    chunks = [(a, min(a + per, n_replicas)) for a in range(0, n_replicas, per)]

    def run(a: int, b: int) -> np.ndarray:
        take, vals = overrides(a, b)
        out = np.asarray(predict(stack(X, b - a, take, vals)))
        out = out.reshape(b - a, n, *out.shape[1:])
        return reduce(out) if reduce is not None else out

    if _n_jobs(n_jobs) == 1 or len(chunks) == 1:
        parts = [run(a, b) for a, b in chunks]
    else:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=n_jobs)(delayed(run)(a, b) for a, b in chunks)
    return np.concatenate(parts, axis=0)
