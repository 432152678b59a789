"""summarize: a small weighted background from a large data set."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, as_frame, check_X, is_categorical
from ._base import seed_entropy
from ._game import Background

__all__ = ["summarize"]


def summarize(
    X: Any,
    k: int = 100,
    *,
    method: str = "kmeans",
    weights: Any = None,
    random_state: Any = None,
) -> Background:
    """A weighted background of at most ``k`` real rows of ``X``.

    ``method="kmeans"``: k-means on standardised numeric columns and one-hot
    categories; each cluster is represented by its medoid (the real row
    nearest the centre, so categories and dtypes stay valid) weighted by the
    cluster's share of the (weighted) rows. ``method="sample"``: ``k`` rows
    drawn without replacement (with probability proportional to ``weights``
    when given), equally weighted. With ``k >= len(X)`` X is returned whole
    with its weights. Pass the result as the background of any Shapley
    explainer.
    """
    if method not in ("kmeans", "sample"):
        raise ValueError(f"method must be 'kmeans' or 'sample'; got {method!r}.")
    X = check_X(X)
    n = X.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    w = np.full(n, 1.0) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape[0] != n:
        raise ValueError(f"X has {n} rows but {w.shape[0]} weights were given.")
    if (~np.isfinite(w) | (w < 0)).any() or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero.")
    w = w / w.sum()
    if k >= n:
        return Background(X, w)
    seed = seed_entropy(random_state)
    if method == "sample":
        rng = np.random.default_rng(seed)
        picked = np.sort(rng.choice(n, size=k, replace=False, p=w))
        return Background(_take(X, picked), np.full(k, 1.0 / k))
    from sklearn.cluster import KMeans

    Z = _encode(X)
    km = KMeans(n_clusters=k, n_init=3, random_state=seed % 2**32)
    labels = km.fit_predict(Z, sample_weight=w)
    idx: list[int] = []
    mass: list[float] = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if members.size == 0:
            continue
        dist = ((Z[members] - km.cluster_centers_[c]) ** 2).sum(axis=1)
        idx.append(int(members[np.argmin(dist)]))
        mass.append(float(w[members].sum()))
    order = np.argsort(idx)
    chosen = np.asarray(idx)[order]
    mass_arr = np.asarray(mass)[order]
    return Background(_take(X, chosen), mass_arr / mass_arr.sum())


def _take(X: Any, idx: np.ndarray) -> Any:
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else np.asarray(X)[idx]


def _encode(X: Any) -> np.ndarray:
    """Numeric matrix for clustering: standardised numbers (NaN -> mean), one-hot categories."""
    frame = as_frame(X)
    parts = []
    for name in frame.columns:
        col = frame[name]
        if is_categorical(col) and not pd.api.types.is_bool_dtype(col.dtype):
            dummies = pd.get_dummies(col.astype("object"), dummy_na=True, dtype=float)
            parts.append(dummies.to_numpy() / np.sqrt(2.0))
            continue
        try:
            x = col.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(f"Column {name!r} cannot be summarised: {exc}") from None
        mean = np.nanmean(x)
        sd = np.nanstd(x)
        x = np.where(np.isnan(x), mean, x)
        parts.append(((x - mean) / (sd if sd > 0 else 1.0))[:, None])
    return np.hstack(parts)
