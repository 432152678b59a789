"""Weighted ridge surrogates for LIME, fitted from one weighted Gram matrix.

The surrogate of one row is a ridge regression (``alpha=1``, intercept, as
in the lime package) of the model outputs ``Y`` on the interpretable
representation ``Z``, weighted by the proximity kernel. Centring by weighted
means and solving the normal equations on the ``p x p`` Gram matrix gives
the same coefficients as ``sklearn.linear_model.Ridge(...).fit(Z, y,
sample_weight=w)``, and every feature-selection step (forward selection
tries many subsets) reuses the same Gram matrix instead of refitting on the
samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SELECTIONS = ("auto", "forward_selection", "highest_weights", "lasso_path", "none")


@dataclass
class Surrogate:
    coef: np.ndarray  # (p, k); zeros for unselected features
    intercept: np.ndarray  # (k,)
    score: np.ndarray  # (k,) weighted R^2
    local_prediction: np.ndarray  # (k,) surrogate at the explained row (Z[0])


class _Gram:
    def __init__(self, Z: np.ndarray, Y: np.ndarray, w: np.ndarray) -> None:
        wsum = w.sum()
        self.z0 = Z[0]
        self.mz = w @ Z / wsum
        self.my = w @ Y / wsum
        Zc = Z - self.mz
        Yc = Y - self.my
        Zw = Zc * w[:, None]
        self.G = Zc.T @ Zw  # (p, p)
        self.c = Zw.T @ Yc  # (p, k)
        self.syy = (w[:, None] * Yc * Yc).sum(axis=0)  # (k,)
        self.Z, self.Y, self.w = Z, Y, w

    def solve(self, S: np.ndarray, k: int, alpha: float) -> np.ndarray:
        if len(S) == 0:
            return np.empty(0)
        A = self.G[np.ix_(S, S)] + alpha * np.eye(len(S))
        b = self.c[S, k]
        if alpha > 0:
            return np.linalg.solve(A, b)
        return np.linalg.lstsq(A, b, rcond=None)[0]

    def r2(self, S: np.ndarray, k: int, beta: np.ndarray) -> float:
        if self.syy[k] <= 0:
            return 1.0 if len(S) == 0 or np.allclose(beta, 0) else 0.0
        sse = self.syy[k] - 2 * beta @ self.c[S, k] + beta @ self.G[np.ix_(S, S)] @ beta
        return float(1.0 - sse / self.syy[k])


def _forward_selection(g: _Gram, k: int, max_features: int) -> np.ndarray:
    p = g.G.shape[0]
    used: list[int] = []
    for _ in range(min(max_features, p)):
        best, best_score = -1, -np.inf
        for f in range(p):
            if f in used:
                continue
            S = np.array(used + [f])
            score = g.r2(S, k, g.solve(S, k, 0.0))
            if score > best_score:
                best, best_score = f, score
        used.append(best)
    return np.array(used, dtype=np.intp)


def _highest_weights(g: _Gram, k: int, max_features: int) -> np.ndarray:
    S = np.arange(g.G.shape[0])
    beta = g.solve(S, k, 0.01)
    order = np.argsort(-np.abs(beta * g.z0), kind="stable")
    return order[:max_features]


def _lasso_path(g: _Gram, k: int, max_features: int) -> np.ndarray:
    from sklearn.linear_model import lars_path

    sw = np.sqrt(g.w)[:, None]
    X = (g.Z - g.mz) * sw
    y = (g.Y[:, k] - g.my[k]) * sw[:, 0]
    _, _, coefs = lars_path(X, y, method="lasso", verbose=False)
    nonzero = np.arange(X.shape[1])
    for i in range(coefs.shape[1] - 1, 0, -1):
        nonzero = np.flatnonzero(coefs[:, i])
        if len(nonzero) <= max_features:
            break
    return nonzero


def select_features(g: _Gram, k: int, max_features: int, method: str) -> np.ndarray:
    p = g.G.shape[0]
    if method == "none" or max_features >= p:
        return np.arange(p)
    if method == "auto":
        method = "forward_selection" if max_features <= 6 else "highest_weights"
    if method == "forward_selection":
        return _forward_selection(g, k, max_features)
    if method == "highest_weights":
        return _highest_weights(g, k, max_features)
    return _lasso_path(g, k, max_features)


def fit_surrogate(
    Z: np.ndarray,
    Y: np.ndarray,
    w: np.ndarray,
    *,
    max_features: int,
    feature_selection: str = "auto",
    alpha: float = 1.0,
) -> Surrogate:
    """Weighted ridge of each column of ``Y`` (m, k) on ``Z`` (m, p); row 0 is the instance."""
    g = _Gram(Z, Y, w)
    p, k = Z.shape[1], Y.shape[1]
    coef = np.zeros((p, k))
    intercept = np.empty(k)
    score = np.empty(k)
    local = np.empty(k)
    for j in range(k):
        S = np.sort(select_features(g, j, max_features, feature_selection))
        beta = g.solve(S, j, alpha)
        coef[S, j] = beta
        intercept[j] = g.my[j] - g.mz[S] @ beta
        score[j] = g.r2(S, j, beta)
        local[j] = intercept[j] + g.z0[S] @ beta
    return Surrogate(coef, intercept, score, local)


def exp_kernel(distances: np.ndarray, width: float) -> np.ndarray:
    """lime's default kernel: ``sqrt(exp(-d**2 / width**2))``."""
    return np.sqrt(np.exp(-(distances**2) / width**2))
