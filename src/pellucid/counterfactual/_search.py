"""Model-agnostic counterfactual search: growing spheres with a repair step.

For any model with a predict: candidates are drawn in growing MAD-scaled
neighbourhoods of the row, changing a few allowed columns at a time (every
candidate obeys immutables, actions, steps and categories by construction),
and the whole layer goes to the model in one call. The cheapest valid
candidate is then repaired: changes are reverted one column at a time while
the outcome holds, and each remaining numeric change is shortened along its
line. Answers are valid by the model's own prediction but carry only a
"feasible" certificate: nothing proves them cheapest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._common import Answer, Checker, Target, with_changes
from ._space import FeatureSpace

__all__ = ["SearchEngine"]

SAMPLES_PER_LAYER = 400
FIRST_RADIUS = 0.25  # in median absolute deviations
GROWTH = 1.6
LAST_RADIUS = 64.0
LINE_POINTS = 16


@dataclass(frozen=True)
class _Column:
    index: int
    value: Any
    categorical: bool
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    scale: float = 1.0
    others: tuple[Any, ...] = ()


class SearchEngine:
    """Counterfactuals of any model by seeded search (see the module docstring)."""

    name = "search"

    def __init__(self, model: Any, space: FeatureSpace, random_state: int | None) -> None:
        self.model = model
        self.space = space
        self.random_state = random_state

    def _columns(self, row: pd.DataFrame) -> list[_Column]:
        space = self.space
        out = []
        for f in space.features:
            value = row.iloc[0, f.index]
            if space.is_fixed(f.index, value):
                continue
            if f.categorical:
                others = tuple(space.allowed_categories(f.index, value)[1:])
                if others:
                    out.append(_Column(f.index, value, True, others=others))
                continue
            low, high = space.bounds(f.index, float(value))
            if high > low:
                step = space.actions[f.name].step
                out.append(_Column(f.index, float(value), False, low, high, step, f.scale))
        return out

    def _cost(self, row: pd.DataFrame, changes: list[dict[int, Any]]) -> np.ndarray:
        space = self.space
        if space.cost_fn is not None:
            costs = np.asarray(space.cost_fn(row, with_changes(row, changes)), dtype=np.float64)
            if costs.shape != (len(changes),):
                raise ValueError(
                    f"The cost callable returned shape {costs.shape}; expected ({len(changes)},)."
                )
            return costs
        out = np.zeros(len(changes))
        for i, change in enumerate(changes):
            for j, new in change.items():
                if space.features[j].categorical:
                    out[i] += space.change_cost(j)
                else:
                    out[i] += space.value_cost(j, float(row.iloc[0, j]), float(new))
        return out

    # ------------------------------------------------------------------ sampling
    def _move(self, col: _Column, delta: float) -> float:
        new = float(np.clip(col.value + delta, col.low, col.high))
        if col.step is not None:
            n = np.round((new - col.value) / col.step)
            new = col.value + col.step * n
            if new > col.high:
                new -= col.step
            if new < col.low:
                new += col.step
        return new

    def _layer(
        self, rng: np.random.Generator, cols: list[_Column], radius: float
    ) -> list[dict[int, Any]]:
        p = min(1.0, 2.0 / len(cols))
        out = []
        for _ in range(SAMPLES_PER_LAYER):
            chosen = np.flatnonzero(rng.random(len(cols)) < p)
            if len(chosen) == 0:
                chosen = rng.integers(len(cols), size=1)
            change: dict[int, Any] = {}
            for c in chosen:
                col = cols[int(c)]
                if col.categorical:
                    change[col.index] = col.others[int(rng.integers(len(col.others)))]
                else:
                    new = self._move(col, radius * col.scale * rng.uniform(-1.0, 1.0))
                    if new != col.value:
                        change[col.index] = new
            if change:
                out.append(change)
        return out

    # ------------------------------------------------------------------ solving
    def solve(
        self, row: pd.DataFrame, target: Target, k: int, check: Checker, *, index: int = 0
    ) -> tuple[list[Answer], str]:
        rng = np.random.default_rng([self.random_state or 0, index])
        cols = self._columns(row)
        answers: list[Answer] = []
        excluded: list[frozenset[int]] = []
        if not cols:
            return [], "unknown"
        for _ in range(k):
            found = self._find(rng, row, cols, check, excluded)
            if found is None:
                break
            change = self._repair(row, cols, found, check, excluded)
            cost = float(self._cost(row, [change])[0])
            answers.append(Answer(change, cost, "feasible", None))
            excluded.append(frozenset(change))
        return answers, ("feasible" if answers else "unknown")

    @staticmethod
    def _allowed(change: dict[int, Any], excluded: list[frozenset[int]]) -> bool:
        return not any(s <= set(change) for s in excluded)

    def _find(
        self,
        rng: np.random.Generator,
        row: pd.DataFrame,
        cols: list[_Column],
        check: Checker,
        excluded: list[frozenset[int]],
    ) -> dict[int, Any] | None:
        radius = FIRST_RADIUS
        while radius <= LAST_RADIUS:
            layer = [c for c in self._layer(rng, cols, radius) if self._allowed(c, excluded)]
            if layer:
                valid = check(with_changes(row, layer))
                if valid.any():
                    good = [c for c, ok in zip(layer, valid, strict=True) if ok]
                    return good[int(np.argmin(self._cost(row, good)))]
            radius *= GROWTH
        return None

    def _repair(
        self,
        row: pd.DataFrame,
        cols: list[_Column],
        change: dict[int, Any],
        check: Checker,
        excluded: list[frozenset[int]],
    ) -> dict[int, Any]:
        """Revert columns while the outcome holds, then shorten each numeric move."""
        while len(change) > 1:
            trials = [{j: v for j, v in change.items() if j != drop} for drop in change]
            trials = [t for t in trials if self._allowed(t, excluded)]
            if not trials:
                break
            valid = check(with_changes(row, trials))
            if not valid.any():
                break
            good = [t for t, ok in zip(trials, valid, strict=True) if ok]
            change = good[int(np.argmin(self._cost(row, good)))]
        by_index = {c.index: c for c in cols}
        for _ in range(3):
            trials = []
            for j, new in change.items():
                col = by_index[j]
                if col.categorical:
                    continue
                for t in np.linspace(0.0, 1.0, LINE_POINTS, endpoint=False)[1:]:
                    moved = self._move(col, t * (float(new) - col.value))
                    if moved != col.value and moved != new:
                        trials.append({**change, j: moved})
            if not trials:
                break
            valid = check(with_changes(row, trials))
            good = [t for t, ok in zip(trials, valid, strict=True) if ok]
            if not good:
                break
            costs = self._cost(row, good)
            best = int(np.argmin(costs))
            if not costs[best] < self._cost(row, [change])[0]:
                break
            change = good[best]
        return change
