"""Accumulated local effects (Apley and Zhu, 2020).

First order, numeric feature: quantile bins; each row's prediction is taken
at its bin's two edges with the other features kept, the differences are
averaged per bin, accumulated and centred (count-weighted mean over the
data, as in the R package ALEPlot). Categorical feature: levels are ordered
by how similar the other features' distributions are within them
(Kolmogorov-Smirnov distance for numeric, total variation for categorical
columns, 1-D classical scaling), then differenced between neighbouring
levels. Second order, two numeric features: the pure interaction effect on
the grid of both features' bins, with the main effects removed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, check_X, feature_names_of
from .._model import Model, as_model
from .._results import PartialDependence
from ._batching import column, predict_replicas
from ._common import categorical_mask, feature_positions, output_names
from ._partial_dependence import _is_integer, _numeric_values, categories

__all__ = ["ale"]


def _as_2d(out: np.ndarray) -> np.ndarray:
    """(..., n) predictions -> (..., n, k)."""
    return out if out.ndim == 3 else out[..., None]


def _edges(x: np.ndarray, bins: int, integer: bool) -> np.ndarray:
    edges = np.quantile(x, np.linspace(0.0, 1.0, bins + 1))
    if integer:
        edges = np.round(edges)
    return np.unique(edges)


def _bin_of(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin k (1..K) holds (z_{k-1}, z_k]; the lowest value goes to bin 1."""
    return np.clip(np.searchsorted(edges, x, side="left"), 1, len(edges) - 1)


def _predict_at(
    model: Model,
    X: Any,
    settings: list[dict[int, np.ndarray]],
    n_jobs: int | None,
    batch_rows: int | None,
) -> np.ndarray:
    """Predictions of X with, in replica r, column j set row-wise to ``settings[r][j]``."""
    cols = list(settings[0])

    def overrides(a: int, b: int) -> tuple[dict, dict]:
        return {}, {j: np.concatenate([settings[r][j] for r in range(a, b)]) for j in cols}

    out = predict_replicas(
        model.predict_prepared,
        X,
        len(settings),
        overrides,
        n_jobs=n_jobs,
        batch_rows=batch_rows,
    )
    return _as_2d(out)


def _centre_numeric(acc: np.ndarray, counts: np.ndarray) -> np.ndarray:
    mids = (acc[:-1] + acc[1:]) / 2
    return acc - (counts[:, None] * mids).sum(axis=0) / counts.sum()


def _ale_numeric(model, X, j, bins, n_jobs, batch_rows):
    col = column(X, j)
    x = _numeric_values(col)
    keep = ~np.isnan(x)
    if not keep.all():
        # Rows without a value of the feature have no bin; they are left out.
        X = X.iloc[np.flatnonzero(keep)] if isinstance(X, pd.DataFrame) else X[keep]
        x = x[keep]
    edges = _edges(x, bins, _is_integer(col))
    if len(edges) < 2:
        raise DataError(f"Column {feature_names_of(X)[j]!r} is constant: ALE needs two values.")
    k = _bin_of(x, edges)
    out = _predict_at(model, X, [{j: edges[k - 1]}, {j: edges[k]}], n_jobs, batch_rows)
    diffs = out[1] - out[0]  # (n, n_outputs)
    K = len(edges) - 1
    counts = np.bincount(k - 1, minlength=K).astype(float)
    sums = np.stack(
        [np.bincount(k - 1, weights=diffs[:, o], minlength=K) for o in range(diffs.shape[1])],
        axis=1,
    )
    delta = np.divide(sums, counts[:, None], out=np.zeros_like(sums), where=counts[:, None] > 0)
    acc = np.vstack([np.zeros((1, delta.shape[1])), np.cumsum(delta, axis=0)])
    return edges, _centre_numeric(acc, counts).T


def _level_distance(X: Any, j: int, codes: np.ndarray, K: int, is_cat: list[bool]) -> np.ndarray:
    """Sum over the other features of the distance between their distributions per level."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    total = np.zeros((K, K))
    for c in range(frame.shape[1]):
        if c == j:
            continue
        other = frame.iloc[:, c]
        if is_cat[c]:
            table = pd.crosstab(codes, other.astype(object).fillna("<NA>").to_numpy())
            table = table.reindex(range(K), fill_value=0).to_numpy(dtype=float)
            freq = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
            total += np.abs(freq[:, None, :] - freq[None, :, :]).sum(axis=2) / 2
            continue
        v = _numeric_values(other)
        ok = ~np.isnan(v)
        if not ok.any():
            continue
        q = np.quantile(v[ok], np.linspace(0, 1, 100))
        ecdf = np.zeros((K, q.size))
        for level in range(K):
            s = np.sort(v[ok & (codes == level)])
            if s.size:
                ecdf[level] = np.searchsorted(s, q, side="right") / s.size
        total += np.abs(ecdf[:, None, :] - ecdf[None, :, :]).max(axis=2)
    return total


def _order_levels(D: np.ndarray) -> np.ndarray:
    """Order of levels along the first classical-scaling axis of distances D."""
    K = D.shape[0]
    if K <= 2:
        return np.arange(K)
    J = np.eye(K) - 1.0 / K
    B = -0.5 * J @ (D**2) @ J
    vals, vecs = np.linalg.eigh(B)
    axis = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
    if axis[0] > axis[-1]:
        axis = -axis  # fix the arbitrary sign: the first listed level comes first on ties
    return np.argsort(axis, kind="stable")


def _ale_categorical(model, X, j, is_cat, n_jobs, batch_rows):
    col = column(X, j)
    series = col if isinstance(col, pd.Series) else pd.Series(col)
    keep = series.notna().to_numpy()
    if not keep.all():
        X = X.iloc[np.flatnonzero(keep)] if isinstance(X, pd.DataFrame) else X[keep]
        series = series[keep]
    levels = categories(series)
    K = len(levels)
    if K < 2:
        raise DataError(f"Column {feature_names_of(X)[j]!r} has one level: ALE needs two.")
    lookup = {v: i for i, v in enumerate(levels.tolist())}
    codes = np.array([lookup[v] for v in series.tolist()])
    ordered = isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.ordered
    order = np.arange(K) if ordered else _order_levels(_level_distance(X, j, codes, K, is_cat))
    levels = levels[order]
    rank = np.empty(K, dtype=int)
    rank[order] = np.arange(K)
    r = rank[codes]  # each row's position in the ordered levels
    up = levels[np.minimum(r + 1, K - 1)]
    down = levels[np.maximum(r - 1, 0)]
    out = _predict_at(model, X, [{j: levels[r]}, {j: up}, {j: down}], n_jobs, batch_rows)
    base, plus, minus = out
    has_up, has_down = r < K - 1, r > 0
    # Step k (between ordered levels k and k+1): rows at k moved up, rows at k+1 moved down.
    steps = np.concatenate([r[has_up], r[has_down] - 1])
    diffs = np.concatenate([plus[has_up] - base[has_up], base[has_down] - minus[has_down]])
    counts = np.bincount(steps, minlength=K - 1).astype(float)
    sums = np.stack(
        [np.bincount(steps, weights=diffs[:, o], minlength=K - 1) for o in range(diffs.shape[1])],
        axis=1,
    )
    delta = sums / counts[:, None]
    acc = np.vstack([np.zeros((1, delta.shape[1])), np.cumsum(delta, axis=0)])
    n_level = np.bincount(r, minlength=K).astype(float)
    centred = acc - (n_level[:, None] * acc).sum(axis=0) / n_level.sum()
    return levels, centred.T


def _fill_empty(delta: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Give empty cells the value of the nearest non-empty cell (in bin-index units)."""
    empty = counts == 0
    if not empty.any():
        return delta
    K1, K2 = counts.shape
    full = np.argwhere(~empty)
    filled = delta.copy()
    for a, b in np.argwhere(empty):
        d = ((full[:, 0] - a) / K1) ** 2 + ((full[:, 1] - b) / K2) ** 2
        fa, fb = full[int(np.argmin(d))]
        filled[a, b] = delta[fa, fb]
    return filled


def _ale_pair(model, X, j1, j2, bins, n_jobs, batch_rows):
    x1, x2 = _numeric_values(column(X, j1)), _numeric_values(column(X, j2))
    keep = ~(np.isnan(x1) | np.isnan(x2))
    if not keep.all():
        X = X.iloc[np.flatnonzero(keep)] if isinstance(X, pd.DataFrame) else X[keep]
        x1, x2 = x1[keep], x2[keep]
    e1 = _edges(x1, bins, _is_integer(column(X, j1)))
    e2 = _edges(x2, bins, _is_integer(column(X, j2)))
    if len(e1) < 2 or len(e2) < 2:
        raise DataError("Both features need at least two distinct values for ALE.")
    k1, k2 = _bin_of(x1, e1), _bin_of(x2, e2)
    corners = [
        {j1: e1[k1 - 1], j2: e2[k2 - 1]},
        {j1: e1[k1], j2: e2[k2 - 1]},
        {j1: e1[k1 - 1], j2: e2[k2]},
        {j1: e1[k1], j2: e2[k2]},
    ]
    f00, f10, f01, f11 = _predict_at(model, X, corners, n_jobs, batch_rows)
    diffs = (f11 - f01) - (f10 - f00)
    K1, K2 = len(e1) - 1, len(e2) - 1
    cell = (k1 - 1) * K2 + (k2 - 1)
    counts = np.bincount(cell, minlength=K1 * K2).reshape(K1, K2).astype(float)
    results = []
    for o in range(diffs.shape[1]):
        sums = np.bincount(cell, weights=diffs[:, o], minlength=K1 * K2).reshape(K1, K2)
        delta = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        delta = _fill_empty(delta, counts)
        fJ = np.zeros((K1 + 1, K2 + 1))
        fJ[1:, 1:] = np.cumsum(np.cumsum(delta, axis=0), axis=1)
        # Remove the first-order effects contained in fJ (ALEPlot's steps).
        d1 = fJ[1:, :] - fJ[:-1, :]
        avg1 = (counts * (d1[:, :-1] + d1[:, 1:]) / 2).sum(axis=1)
        avg1 = np.divide(
            avg1, counts.sum(axis=1), out=np.zeros_like(avg1), where=counts.sum(axis=1) > 0
        )
        f1 = np.concatenate([[0.0], np.cumsum(avg1)])
        d2 = fJ[:, 1:] - fJ[:, :-1]
        avg2 = (counts * (d2[:-1, :] + d2[1:, :]) / 2).sum(axis=0)
        avg2 = np.divide(
            avg2, counts.sum(axis=0), out=np.zeros_like(avg2), where=counts.sum(axis=0) > 0
        )
        f2 = np.concatenate([[0.0], np.cumsum(avg2)])
        fJ = fJ - f1[:, None] - f2[None, :]
        corners_mean = (fJ[:-1, :-1] + fJ[:-1, 1:] + fJ[1:, :-1] + fJ[1:, 1:]) / 4
        fJ = fJ - (counts * corners_mean).sum() / counts.sum()
        results.append(fJ)
    return (e1, e2), np.stack(results)


def ale(
    model: Any,
    X: Any,
    feature: Any,
    *,
    bins: int = 20,
    categorical_features: Any = "auto",
    n_jobs: int | None = None,
    batch_rows: int | None = None,
) -> PartialDependence:
    """Accumulated local effects of one feature, or the second-order effect of two.

    Parameters
    ----------
    model:
        Any fitted model or :class:`pellucid.Model`.
    X:
        DataFrame or 2-D array (rows missing the feature are left out).
    feature:
        A column name or position; a pair of numeric columns for the
        second-order (pure interaction) effect.
    bins:
        Number of quantile bins (fewer when values repeat).
    categorical_features:
        As in :func:`partial_dependence`; categorical features use ordered levels.

    Returns
    -------
    PartialDependence
        ``kind="ale"``; ``grid_values`` are the bin edges (or ordered levels),
        ``average`` is ``(n_outputs, len(grid))`` (pair: ``(n_outputs, len(g0), len(g1))``),
        centred to mean zero over the data.
    """
    if int(bins) < 1:
        raise ValueError(f"bins must be a positive integer; got {bins!r}.")
    m = as_model(model)
    X = m.prepare(check_X(X))
    names = feature_names_of(X)
    positions = feature_positions(names, feature)
    is_cat = categorical_mask(X, names, categorical_features)
    if len(positions) == 2:
        if any(is_cat[j] for j in positions):
            raise ValueError(
                "Second-order ALE is implemented for two numeric features; "
                f"{[names[j] for j in positions if is_cat[j]]} is categorical."
            )
        grids, values = _ale_pair(m, X, positions[0], positions[1], int(bins), n_jobs, batch_rows)
    else:
        j = positions[0]
        if is_cat[j]:
            grid, values = _ale_categorical(m, X, j, is_cat, n_jobs, batch_rows)
        else:
            grid, values = _ale_numeric(m, X, j, int(bins), n_jobs, batch_rows)
        grids = (grid,)
    return PartialDependence(
        features=tuple(names[j] for j in positions),
        grid_values=tuple(grids),
        average=values,
        kind="ale",
        output_names=output_names(m),
        method="ale",
        params={"bins": int(bins)},
        categorical=tuple(is_cat[j] for j in positions),
    )
