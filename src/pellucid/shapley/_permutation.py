"""PermutationShap: Shapley values as mean marginal contributions over permutations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._protocol import UNSET
from .._results import Explanation
from ..scale import scalable
from ._base import SampledShapleyExplainer
from ._kernel import _plain

__all__ = ["PermutationShap"]

#: Fewer pairs per game than this give no standard error (NaN): a standard deviation
#: from so few pairs of a step function's sparse contributions misses too often (95%
#: intervals covered 0.78-0.89 of exact values with 2-4 pairs, 0.93-0.95 from 5, over
#: 20 background rows). With fewer than POOLED_GAMES (effective) games, e.g. one
#: background row or design="shared", nothing averages over games: 10 pairs.
MIN_PAIRS_POOLED = 5
MIN_PAIRS_SINGLE = 10
POOLED_GAMES = 10


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
    deviation over the square root of the number of pairs, widened so that
    ``values +- 1.96 * std_errors`` is the Student-t 95% interval (a standard
    deviation from a few pairs is itself uncertain). With fewer than
    ``MIN_PAIRS_POOLED`` (5) pairs per background row's game (10 when fewer than
    10 background rows share the work, or ``design="shared"``) the error cannot
    be estimated honestly and is NaN: at 10 players, a budget of 64 is 3 pairs.
    ``PermutationShap(model, data, budget="auto", random_state=None, ...)``;
    ``explain(X)``. ``budget`` counts coalitions per row (at least two pairs are
    drawn); "auto" is about ``2048 + 2 * n_players``. The other settings:
    :class:`~pellucid.shapley._base.ShapleyExplainer`.
    """

    method = "permutation_shap"

    @scalable()
    def explain(
        self, X: Any, *, first_row: int = 0, budget: Any = UNSET, random_state: Any = UNSET
    ) -> Explanation:
        """Shapley value estimates and standard errors for each row of X.

        ``first_row`` is the position of X's first row in a larger table split
        into chunks: row seeds follow it, so chunked runs give identical numbers.
        ``budget`` and ``random_state`` here are deprecated: they belong to the constructor.
        """
        settings = self._with_overrides(budget=budget, random_state=random_state)
        nbudget = self._budget(settings["budget"])
        seed = settings["random_state"]
        pairs = self._pairs(nbudget)
        return self._explain(
            X,
            nbudget,
            seed,
            {
                "budget": nbudget,
                "n_pairs": pairs,
                "random_state": _plain(seed),
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
        # The per-pair estimates themselves: the errors are computed from them once all
        # games are in (see _combine_errors).
        return est.mean(axis=1), est

    def _combine_errors(self, plan: _Plan, weights: np.ndarray, se_c: np.ndarray) -> np.ndarray:
        """The standard error of the games' weighted mean from the per-pair estimates
        ``se_c`` (count, pairs, p, k), widened to a Student-t 95% interval."""
        return replicate_error(weights, se_c)


def replicate_error(weights: np.ndarray, est: np.ndarray) -> np.ndarray:
    """Standard error (p, k) of ``sum_c w_c mean_j est[c, j]`` from est (count, pairs, p, k).

    Replicate j is the weighted sum over games of their j-th pair: the replicates are
    independent and identically distributed, and each is a sum over games, so
    much closer to normal than one game's pairs (a tree model's marginal
    contributions in one game are mostly zero, sometimes large). The larger of this
    and the pooled per-game variance, each widened to its Student-t quantile.
    """
    pairs = est.shape[1]
    n_games = 1.0 / float(np.sum(weights**2))  # the effective number of games
    if pairs < (MIN_PAIRS_POOLED if n_games >= POOLED_GAMES else MIN_PAIRS_SINGLE):
        return np.full(est.shape[2:], np.nan)
    reps = np.einsum("c,cjpk->jpk", weights, est)
    rep_se = reps.std(axis=0, ddof=1) / np.sqrt(pairs)
    from scipy.stats import norm, t

    rep_se = rep_se * (t.ppf(0.975, pairs - 1) / norm.ppf(0.975))
    game_se = t_widened(weights, est.std(axis=1, ddof=1) / np.sqrt(pairs), pairs - 1)
    return np.maximum(rep_se, game_se)


def t_widened(weights: np.ndarray, se_c: np.ndarray, df_game: int) -> np.ndarray:
    """sqrt(sum_c w_c^2 se_c^2), widened from a normal to a Student-t 95% interval."""
    from scipy.stats import norm, t

    parts = weights[:, None, None] ** 2 * se_c**2  # (count, p, k)
    var = parts.sum(axis=0)
    denom = (parts**2).sum(axis=0) / df_game
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denom > 0, var**2 / np.where(denom > 0, denom, 1.0), np.inf)
    factor = t.ppf(0.975, np.maximum(df, 1.0)) / norm.ppf(0.975)
    return np.sqrt(var) * np.where(np.isfinite(df), factor, 1.0)
