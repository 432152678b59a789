"""What the three Shapley estimators share: the game, seeds, batching, the result.

Each estimator *plans* the coalitions of one row (from that row's own random
generator), the base class evaluates the plans of many rows in a few batched
model calls, and the estimator *solves* each row's plan from its values.
Row i's generator is ``SeedSequence(seed, spawn_key=(i,))``, so a row's
numbers do not depend on how rows are batched or split across workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._results import Explanation
from ._game import DEFAULT_MAX_BATCH_ROWS, Game

__all__ = ["ShapleyExplainer", "row_rng", "seed_entropy"]


def seed_entropy(random_state: Any) -> int:
    """One integer seed drawn once, before any fan-out over rows."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0; got {random_state}.")
        return int(random_state)
    raise TypeError(
        f"random_state must be None, an int or a numpy Generator; got {type(random_state).__name__}."
    )


def row_rng(entropy: int, row: int) -> np.random.Generator:
    """The generator of explained row ``row``: independent of batching."""
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(row,)))


class ShapleyExplainer:
    """Base class: ``Cls(model, background, **options).explain(X) -> Explanation``.

    Parameters
    ----------
    model:
        Any model :class:`pellucid.Model` accepts (or a Model).
    background:
        DataFrame or array of reference rows, or ``pellucid.summarize(X, k)``.
    background_weights:
        Optional weight per background row.
    groups:
        ``{name: [columns]}``: each group is one player; other columns play alone.
    link:
        "identity" or "logit" (classifiers: explain the log-odds of the
        background-averaged probability, like shap's ``link="logit"``).
    max_batch_rows:
        Memory cap: rows (coalitions x background rows) per model call.
    """

    method = ""
    exact = False

    def __init__(
        self,
        model: Any,
        background: Any = None,
        *,
        background_weights: Any = None,
        groups: Mapping[str, Sequence[Any]] | None = None,
        link: str = "identity",
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
    ) -> None:
        self.game = Game(
            model,
            background,
            background_weights=background_weights,
            groups=groups,
            link=link,
            max_batch_rows=max_batch_rows,
        )
        self.groups = {str(k): list(v) for k, v in groups.items()} if groups else None

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The players: column names, with each group as one name."""
        return self.game.player_names

    # -- the two hooks -------------------------------------------------------
    def _plan(self, rng: np.random.Generator | None, budget: int) -> Any:
        """Coalitions of one row: an object with a ``masks`` (m, n_players) bool array."""
        raise NotImplementedError

    def _solve(
        self, plan: Any, v: np.ndarray, v_empty: np.ndarray, v_full: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Shapley values (n_players, k) and standard errors (or None) of one row."""
        raise NotImplementedError

    def _budget(self, budget: Any) -> int:
        return 0

    # -- the lifecycle -------------------------------------------------------
    def _explain(self, X: Any, budget: Any, random_state: Any, params: dict) -> Explanation:
        game = self.game
        X = game.check_rows(X)
        n = X.shape[0]
        p, k = game.n_players, game.n_outputs
        nbudget = self._budget(budget)
        entropy = None if self.exact else seed_entropy(random_state)
        v_empty = game.v_empty
        v_full = game.output_of(X)  # (n, k)
        values = np.zeros((n, p, k))
        errors = None if self.exact else np.zeros((n, p, k))
        n_coal = np.zeros(n, dtype=np.int64)
        row = 0
        while row < n:
            # Fill model calls: as many rows' coalitions as the memory cap allows.
            plans: list[Any] = []
            total = 0
            cap = max(1, game.max_batch_rows // len(game.background))
            while row + len(plans) < n:
                i = row + len(plans)
                plan = self._plan(None if entropy is None else row_rng(entropy, i), nbudget)
                plans.append(plan)
                total += plan.masks.shape[0]
                if total >= cap:
                    break
            masks = np.concatenate([pl.masks for pl in plans]) if total else np.zeros((0, p), bool)
            rows = np.repeat(np.arange(row, row + len(plans)), [pl.masks.shape[0] for pl in plans])
            v = game.values(X, rows, masks) if total else np.zeros((0, k))
            start = 0
            for j, plan in enumerate(plans):
                m = plan.masks.shape[0]
                phi, se = self._solve(plan, v[start : start + m], v_empty, v_full[row + j])
                start += m
                # Efficiency holds exactly: spread the rounding residue evenly.
                phi = phi + (v_full[row + j] - v_empty - phi.sum(axis=0)) / p
                values[row + j] = phi
                if errors is not None and se is not None:
                    errors[row + j] = se
                n_coal[row + j] = m
            row += len(plans)
        return self._result(X, values, errors, v_full, n_coal, params)

    def _result(
        self,
        X: Any,
        values: np.ndarray,
        errors: np.ndarray | None,
        v_full: np.ndarray,
        n_coal: np.ndarray,
        params: dict,
    ) -> Explanation:
        game = self.game
        n = values.shape[0]
        base = np.broadcast_to(game.v_empty, (n, game.n_outputs))
        names = game.output_names if game.n_outputs > 1 else None
        if names is not None and len(names) != game.n_outputs:
            names = tuple(f"y{i}" for i in range(game.n_outputs))
        if names is None:
            values, base, v_full = values[..., 0], base[:, 0], v_full[:, 0]
            errors = None if errors is None else errors[..., 0]
        data = None
        if not game.grouped:
            data = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
        return Explanation(
            values=values,
            base_values=np.array(base),
            data=data,
            feature_names=game.player_names,
            output_names=names,
            method=self.method,
            params={
                **params,
                "link": game.link,
                "n_background": len(game.background),
                "groups": self.groups,
            },
            std_errors=errors,
            output=v_full,
            diagnostics={"n_coalitions": n_coal},
        )
