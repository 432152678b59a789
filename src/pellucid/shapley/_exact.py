"""ExactShap: every coalition evaluated, Shapley values by their definition."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._protocol import UNSET
from .._results import Explanation
from ..scale import scalable
from ._base import ShapleyExplainer
from ._game import DEFAULT_MAX_BATCH_ROWS

__all__ = ["ExactShap"]

MAX_PLAYERS = 16


def all_masks(p: int) -> np.ndarray:
    """Every coalition but the empty and the full one, as bool rows; row r is bitmask r + 1."""
    codes = np.arange(1, 2**p - 1, dtype=np.int64)
    return ((codes[:, None] >> np.arange(p)) & 1).astype(bool)


@dataclass(frozen=True)
class _Plan:
    masks: np.ndarray


class ExactShap(ShapleyExplainer):
    """Exact interventional Shapley values by full enumeration of coalitions.

    ``2**n_players - 2`` coalitions per row (the empty and full coalitions
    are the background mean and the model output), each averaged over the
    weighted background, in batched model calls. Up to ``max_players``
    (default 16) features or groups.

    Examples
    --------
    >>> exp = pellucid.ExactShap(model, X_train[:100]).explain(X_test[:5])
    >>> exp.additivity_gap  # ~1e-16
    """

    method = "exact_shap"
    exact = True

    def __init__(
        self,
        model: Any,
        data: Any = None,
        *,
        max_players: int = MAX_PLAYERS,
        background_weights: Any = None,
        feature_groups: Mapping[str, Sequence[Any]] | None = None,
        link: str = "identity",
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        model_threads: int | None = None,
        n_jobs: int | None = None,
        chunk_rows: int | None = None,
        background: Any = UNSET,
        groups: Any = UNSET,
    ) -> None:
        super().__init__(
            model,
            data,
            background_weights=background_weights,
            feature_groups=feature_groups,
            link=link,
            max_batch_rows=max_batch_rows,
            model_threads=model_threads,
            n_jobs=n_jobs,
            chunk_rows=chunk_rows,
            background=background,
            groups=groups,
        )
        self.max_players = int(max_players)
        p = self.game.n_players
        if p > max_players:
            raise ValueError(
                f"ExactShap enumerates 2**{p} coalitions for {p} players, over max_players="
                f"{max_players}; use KernelShap or PermutationShap, group features with "
                "feature_groups=, or raise max_players."
            )
        self._masks = all_masks(p)[:, None, :]
        self._weights = self._shapley_weights(p)

    @staticmethod
    def _shapley_weights(p: int) -> np.ndarray:
        """w[s] = s! (p - s - 1)! / p!, the weight of a coalition of size s without i."""
        return np.array([1.0 / (p * math.comb(p - 1, s)) for s in range(p)])

    @scalable()
    def explain(self, X: Any) -> Explanation:
        """Exact Shapley values of each row of X (DataFrame or array like the background)."""
        return self._explain(X, None, None, {})

    def _plan(self, rng: np.random.Generator | None, budget: int, count: int) -> _Plan:
        return _Plan(self._masks)

    def _solve(
        self, plan: _Plan, f: np.ndarray, f_empty: np.ndarray, f_full: np.ndarray
    ) -> tuple[np.ndarray, None]:
        return self._shapley(f[:, 0], f_empty[0], f_full)[None], None

    def _shapley(self, v: np.ndarray, v_empty: np.ndarray, v_full: np.ndarray) -> np.ndarray:
        """Shapley values (p, k) from the values of every coalition but the empty and full."""
        p = self.game.n_players
        table = np.concatenate([v_empty[None, :], v, v_full[None, :]])  # indexed by bitmask
        codes = np.arange(2**p, dtype=np.int64)
        sizes = ((codes[:, None] >> np.arange(p)) & 1).sum(axis=1)
        phi = np.empty((p, table.shape[1]))
        for i in range(p):
            bit = 1 << i
            without = codes[(codes & bit) == 0]
            w = self._weights[sizes[without]]
            phi[i] = w @ (table[without | bit] - table[without])
        return phi
