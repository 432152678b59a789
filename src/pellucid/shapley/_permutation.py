"""PermutationShap: Shapley values as mean marginal contributions over permutations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._results import Explanation
from ._base import ShapleyExplainer
from ._kernel import _plain

__all__ = ["PermutationShap"]


@dataclass(frozen=True)
class _Plan:
    masks: np.ndarray  # per pair: p - 1 forward prefixes, then p - 1 reverse prefixes
    orders: np.ndarray  # (pairs, p) the forward permutations


class PermutationShap(ShapleyExplainer):
    """Antithetic permutation sampling of Shapley values.

    Each sampled permutation is walked forwards and backwards (its reverse
    is the antithetic partner): ``2 * (n_players - 1)`` coalitions per pair.
    Every permutation's contributions add up to ``output - base_values``,
    so efficiency holds exactly; ``std_errors`` are the across-pair standard
    deviation over the square root of the number of pairs.
    ``explain(X, budget="auto", random_state=None)``: ``budget`` counts
    coalitions per row (at least two pairs are drawn); "auto" is about
    ``2048 + 2 * n_players``.
    """

    method = "permutation_shap"

    def explain(self, X: Any, *, budget: Any = "auto", random_state: Any = None) -> Explanation:
        """Shapley value estimates and standard errors for each row of X."""
        nbudget = self._budget(budget)
        pairs = self._pairs(nbudget)
        return self._explain(
            X,
            nbudget,
            random_state,
            {"budget": nbudget, "n_pairs": pairs, "random_state": _plain(random_state)},
        )

    def _budget(self, budget: Any) -> int:
        p = self.game.n_players
        if isinstance(budget, str) and budget == "auto":
            return 2048 + 2 * p
        if not isinstance(budget, (int, np.integer)) or isinstance(budget, bool):
            raise TypeError(f"budget must be 'auto' or an int; got {budget!r}.")
        if budget < 1:
            raise ValueError(f"budget must be positive; got {budget}.")
        return int(budget)

    def _pairs(self, budget: int) -> int:
        p = self.game.n_players
        return max(2, budget // max(1, 2 * (p - 1)))

    def _plan(self, rng: np.random.Generator | None, budget: int) -> _Plan:
        assert rng is not None
        p = self.game.n_players
        pairs = self._pairs(budget)
        orders = np.argsort(rng.random((pairs, p)), axis=1)
        # rank[o, j] = position of player j in permutation o
        rank = np.empty_like(orders)
        np.put_along_axis(rank, orders, np.arange(p)[None, :], axis=1)
        sizes = np.arange(1, p)
        forward = rank[:, None, :] < sizes[None, :, None]  # (pairs, p-1, p)
        # The reverse permutation's prefix of size j is the complement of the forward
        # prefix of size p - j.
        backward = ~forward[:, ::-1, :]
        masks = np.concatenate([forward, backward], axis=1).reshape(-1, p)
        return _Plan(masks, orders)

    def _solve(
        self, plan: _Plan, v: np.ndarray, v_empty: np.ndarray, v_full: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        p, k = self.game.n_players, v_full.shape[0]
        if p == 1:
            return (v_full - v_empty)[None, :], np.zeros((1, k))
        pairs = plan.orders.shape[0]
        v = v.reshape(pairs, 2, p - 1, k)
        edge0 = np.broadcast_to(v_empty, (pairs, 1, k))
        edge1 = np.broadcast_to(v_full, (pairs, 1, k))
        fwd = np.diff(np.concatenate([edge0, v[:, 0], edge1], axis=1), axis=1)  # (pairs, p, k)
        bwd = np.diff(np.concatenate([edge0, v[:, 1], edge1], axis=1), axis=1)
        est = np.zeros((pairs, p, k))
        rows = np.arange(pairs)[:, None]
        # forward step j adds orders[:, j]; backward step j adds orders[:, p - 1 - j]
        est[rows, plan.orders] += fwd / 2
        est[rows, plan.orders[:, ::-1]] += bwd / 2
        phi = est.mean(axis=0)
        se = est.std(axis=0, ddof=1) / np.sqrt(pairs)
        return phi, se
