"""PermutationShap: Shapley values as mean marginal contributions over permutations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._results import Explanation
from ..scale import scalable
from ._base import SampledShapleyExplainer
from ._kernel import _plain

__all__ = ["PermutationShap"]


@dataclass(frozen=True)
class _Plan:
    masks: np.ndarray  # (m, count, p): per pair p - 1 forward, then p - 1 reverse prefixes
    orders: np.ndarray  # (count, pairs, p) the forward permutations


class PermutationShap(SampledShapleyExplainer):
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

    @scalable()
    def explain(
        self, X: Any, *, budget: Any = "auto", random_state: Any = None, first_row: int = 0
    ) -> Explanation:
        """Shapley value estimates and standard errors for each row of X.

        ``first_row`` is the position of X's first row in a larger table split
        into chunks: row seeds follow it, so chunked runs give identical numbers.
        """
        nbudget = self._budget(budget)
        pairs = self._pairs(nbudget)
        return self._explain(
            X,
            nbudget,
            random_state,
            {
                "budget": nbudget,
                "n_pairs": pairs,
                "random_state": _plain(random_state),
                "design": self.design,
            },
            first_row=first_row,
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

    def _plan(self, rng: np.random.Generator | None, budget: int, count: int) -> _Plan:
        assert rng is not None
        p = self.game.n_players
        pairs = self._pairs(budget)
        orders = np.argsort(rng.random((count, pairs, p)), axis=2)
        # rank[c, o, j] = position of player j in permutation o of game c
        rank = np.empty_like(orders)
        np.put_along_axis(rank, orders, np.arange(p), axis=2)
        sizes = np.arange(1, p)
        forward = rank[:, :, None, :] < sizes[:, None]  # (count, pairs, p-1, p)
        # The reverse permutation's prefix of size j is the complement of the forward
        # prefix of size p - j.
        backward = ~forward[:, :, ::-1, :]
        masks = np.concatenate([forward, backward], axis=2).reshape(count, -1, p)
        return _Plan(masks.transpose(1, 0, 2), orders)

    def _solve(
        self, plan: _Plan, f: np.ndarray, f_empty: np.ndarray, f_full: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        p, k = self.game.n_players, f_full.shape[0]
        count, pairs = plan.orders.shape[:2]
        delta = f_full[None, :] - f_empty  # (count, k)
        if p == 1:
            return delta[:, None, :], np.zeros((count, 1, k))
        v = f.transpose(1, 0, 2).reshape(count, pairs, 2, p - 1, k)
        edge0 = np.broadcast_to(f_empty[:, None, None, :], (count, pairs, 1, k))
        edge1 = np.broadcast_to(f_full, (count, pairs, 1, k))
        est = np.zeros((count, pairs, p, k))
        for direction, order in ((0, plan.orders), (1, plan.orders[:, :, ::-1])):
            steps = np.diff(np.concatenate([edge0, v[:, :, direction], edge1], axis=2), axis=2)
            # step j of the walk adds player order[..., j]
            contrib = np.empty_like(steps)
            np.put_along_axis(contrib, order[..., None], steps, axis=2)
            est += contrib / 2
        phi = est.mean(axis=1)
        se = est.std(axis=1, ddof=1) / np.sqrt(pairs)
        return phi, se
