"""What every engine shares: the target outcome, answers, and rows with changes applied."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Answer", "Checker", "OutputBound", "Target", "with_changes"]

# Below the relaxed bound's slack no model output is trusted to be on one side of a
# decision boundary: the solver's own feasibility tolerance is 1e-7.
RELAXED_SLACK = 1e-6
# Safety margins tried in turn when an answer found on the boundary fails the model's check.
TIGHTENINGS = (1e-6, 1e-4, 1e-2)
# An answer whose cost is within this (relative) of the proven lower bound is "optimal":
# a strict decision boundary is never attained, only approached.
OPTIMAL_GAP = 1e-6


@dataclass(frozen=True)
class Target:
    """The outcome sought: a class (``kind="class"``), a range of the positive class's
    probability (``"probability"``, binary classifiers) or of the prediction (``"value"``)."""

    kind: str
    class_index: int = -1
    label: Any = None
    low: float = -math.inf
    high: float = math.inf

    def satisfied(self, labels: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Rows whose model labels / values (positive-class probability or prediction) meet it."""
        if self.kind == "class":
            return np.asarray(labels == self.label, dtype=bool)
        v = np.asarray(values, dtype=np.float64)
        return (v >= self.low) & (v <= self.high)

    def describe(self) -> Any:
        return self.label if self.kind == "class" else (self.low, self.high)


@dataclass(frozen=True)
class OutputBound:
    """``low <= coef . output <= high`` on a model's raw outputs (margin, log-rate, ...)."""

    coef: np.ndarray
    low: float
    high: float

    def violation(self, out: np.ndarray) -> np.ndarray:
        z = out @ self.coef
        return np.maximum(np.maximum(self.low - z, z - self.high), 0.0)


def _logit(p: float) -> float:
    if p <= 0:
        return -math.inf
    if p >= 1:
        return math.inf
    return math.log(p) - math.log1p(-p)


def output_bounds(target: Target, n_outputs: int, link: str, margin: float) -> list[OutputBound]:
    """The target as bounds on raw outputs under ``link``, pulled inward by ``margin``
    (a negative margin relaxes them). ``link`` is how raw outputs become the model's
    own output: "logistic" (one margin column), "identity" or "exp"."""
    unit = np.eye(n_outputs)
    if target.kind == "class":
        if n_outputs == 1 and link == "logistic":
            return [
                OutputBound(unit[0], margin, math.inf)
                if target.class_index == 1
                else OutputBound(unit[0], -math.inf, -margin)
            ]
        ci = target.class_index
        return [
            OutputBound(unit[ci] - unit[c], margin, math.inf) for c in range(n_outputs) if c != ci
        ]
    low, high = target.low, target.high
    if target.kind == "probability":
        if n_outputs == 1 and link == "logistic":
            low, high = _logit(low), _logit(high)
            return [OutputBound(unit[0], low + margin, high - margin)]
        return [OutputBound(unit[1], low + margin, high - margin)]
    if link == "exp":
        low = math.log(low) if low > 0 else -math.inf
        high = math.log(high) if high > 0 else -math.inf
    return [OutputBound(unit[0], low + margin, high - margin)]


@dataclass(frozen=True)
class Answer:
    """An engine's answer for one row: new values by column position, cost, certificate."""

    changes: dict[int, Any]
    cost: float
    certificate: str
    gap: float | None = None


# rows (DataFrame) -> whether the model's own prediction meets the target, per row
Checker = Callable[[pd.DataFrame], np.ndarray]


def with_changes(row: pd.DataFrame, changes: Sequence[dict[int, Any]]) -> pd.DataFrame:
    """Copies of the one-row frame ``row``, the i-th with ``changes[i]`` applied,
    keeping every column's dtype (categories stay categories, integers integers)."""
    out = pd.DataFrame(
        {c: np.repeat(row.iloc[:, j].to_numpy(), len(changes)) for j, c in enumerate(row.columns)}
    )
    columns: dict[int, list[int]] = {}
    for i, change in enumerate(changes):
        for j in change:
            columns.setdefault(j, []).append(i)
    for j, rows in columns.items():
        col = out.iloc[:, j].to_numpy(copy=True)
        for i in rows:
            col[i] = changes[i][j]
        out.isetitem(j, col)
    for j, dtype in enumerate(row.dtypes):
        if out.dtypes.iloc[j] != dtype:
            out.isetitem(j, out.iloc[:, j].astype(dtype))
    out.index = pd.RangeIndex(len(changes))
    return out


def certified(
    solve: Callable[[float], Any],
    decode: Callable[[Any], tuple[dict[int, Any], float]],
    check: Callable[[dict[int, Any]], bool],
    *,
    slack: float = RELAXED_SLACK,
    tightenings: Sequence[float] = TIGHTENINGS,
) -> tuple[Answer | None, str]:
    """Solve relaxed, then tightened until the model's own check passes, and certify.

    ``solve(margin)`` returns a scipy ``milp`` result for the target pulled inward by
    ``margin`` (negative: relaxed); ``decode`` turns a solution into (changes, cost);
    ``check`` asks the model. The relaxed optimum bounds every answer's cost from
    below, so an answer is "optimal" when its cost reaches that bound; an infeasible
    relaxation proves that no allowed change reaches the target.
    """
    relaxed = solve(-slack)
    if relaxed.status == 2:
        return None, "infeasible"
    if relaxed.x is None:
        return None, "unknown"
    lower = float(relaxed.fun)
    if relaxed.status != 0:
        dual = getattr(relaxed, "mip_dual_bound", None)
        lower = float(dual) if dual is not None and np.isfinite(dual) else 0.0
    result = relaxed
    changes, cost = decode(result)
    margins = iter(tightenings)
    while not check(changes):
        margin = next(margins, None)
        if margin is None:
            return None, "unknown"
        result = solve(margin)
        if result.x is None:
            return None, "unknown"
        changes, cost = decode(result)
    proven = (
        result.status == 0 and relaxed.status == 0 and cost <= lower + OPTIMAL_GAP * max(1.0, cost)
    )
    if proven:
        return Answer(changes, cost, "optimal", 0.0), "optimal"
    gap = max(0.0, (cost - lower) / cost) if cost > 0 else 0.0
    return Answer(changes, cost, "feasible", gap), "feasible"
