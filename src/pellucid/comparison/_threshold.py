"""Decision thresholds: metrics across thresholds and a threshold chosen by a stated rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._results import ThresholdChoice
from ._stats import TieGroups, _binary_labels, bootstrap_counts, percentile_interval

__all__ = ["choose_threshold", "threshold_table"]

RULES = ("youden", "cost", "recall", "precision")


def _curve(groups: TieGroups, counts: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Confusion counts when predicting positive at each candidate (score >= group value).

    ``counts (b, n)`` -> arrays ``(b, n_groups)``, candidates ascending.
    """
    pos = groups.sums(counts * y)
    neg = groups.sums(counts * (1.0 - y))
    tp = pos.sum(axis=1, keepdims=True) - np.cumsum(pos, axis=1) + pos
    fp = neg.sum(axis=1, keepdims=True) - np.cumsum(neg, axis=1) + neg
    return {
        "tp": tp,
        "fp": fp,
        "fn": pos.sum(axis=1, keepdims=True) - tp,
        "tn": neg.sum(axis=1, keepdims=True) - fp,
    }


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b > 0)
    return out


def _criterion(
    c: Mapping[str, np.ndarray], rule: str, target: float | None, costs: Mapping[str, float]
) -> np.ndarray:
    """Score to maximise per candidate (-inf where the rule's target is missed)."""
    tpr = _ratio(c["tp"], c["tp"] + c["fn"])
    fpr = _ratio(c["fp"], c["fp"] + c["tn"])
    if rule == "youden":
        return tpr - fpr
    if rule == "cost":
        total = c["tp"] + c["fp"] + c["tn"] + c["fn"]
        cost = sum(costs[k] * c[k] for k in ("tp", "fp", "tn", "fn")) / total
        return -cost
    # candidates ascend, so the last one meeting a recall target is the highest threshold
    # that does; for precision the first one meeting it keeps the most recall
    assert target is not None
    n = c["tp"].shape[1]
    position = np.arange(n, dtype=float)
    if rule == "recall":
        met = tpr >= target
        return np.where(met, position, -np.inf)
    precision = _ratio(c["tp"], c["tp"] + c["fp"])
    met = (precision >= target) & (c["tp"] + c["fp"] > 0)
    return np.where(met, -position, -np.inf)


def _check(rule: str, target: float | None, costs: Any) -> dict[str, float]:
    if rule not in RULES:
        raise ValueError(f"rule must be one of {list(RULES)}; got {rule!r}.")
    if rule in ("recall", "precision") and (target is None or not 0.0 < target <= 1.0):
        raise ValueError(f"rule={rule!r} needs target= in (0, 1]; got {target!r}.")
    if rule != "cost":
        return {}
    if costs is None:
        raise ValueError("rule='cost' needs costs={'fp': ..., 'fn': ...} (tp, tn optional).")
    if not isinstance(costs, Mapping):
        matrix = np.asarray(costs, dtype=float)
        if matrix.shape != (2, 2):
            raise ValueError(
                f"costs as a matrix must be 2x2 [[tn, fp], [fn, tp]]; got {matrix.shape}."
            )
        costs = {"tn": matrix[0, 0], "fp": matrix[0, 1], "fn": matrix[1, 0], "tp": matrix[1, 1]}
    unknown = set(costs) - {"tp", "fp", "tn", "fn"}
    if unknown:
        raise ValueError(f"Unknown cost keys {sorted(unknown)}; use tp, fp, tn, fn.")
    return {k: float(costs.get(k, 0.0)) for k in ("tp", "fp", "tn", "fn")}


def choose_threshold(
    y: Any,
    scores: Any,
    rule: str = "youden",
    *,
    target: float | None = None,
    costs: Any = None,
    n_boot: int = 1000,
    random_state: Any = None,
    confidence: float = 0.95,
) -> ThresholdChoice:
    """Pick a decision threshold by a stated rule, with a bootstrap interval.

    ``y``: 0/1 labels; ``scores``: the positive class's probability (or any
    score). A row is predicted positive when its score is at least the
    threshold; the candidates are the distinct scores.

    Rules: ``"youden"`` maximises TPR - FPR; ``"cost"`` minimises the mean
    cost with ``costs={"fp": c, "fn": c}`` (``tp``/``tn`` optional) or a 2x2
    matrix ``[[tn, fp], [fn, tp]]``; ``"recall"``: the highest threshold whose
    recall is at least ``target``; ``"precision"``: the lowest threshold whose
    precision is at least ``target`` (the most recall at that precision).
    The interval is the percentile interval of the threshold the same rule
    picks on stratified bootstrap resamples.
    """
    cost_map = _check(rule, target, costs)
    y01 = _binary_labels(y)
    s = np.asarray(scores, dtype=float)
    if s.shape != y01.shape:
        raise ValueError(f"scores have shape {s.shape}; y has {y01.shape}.")
    if not np.isfinite(s).all():
        row = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ValueError(f"scores has a non-finite value {s[row]!r} at row {row}.")
    groups = TieGroups.of(s)
    point = _criterion(_curve(groups, np.ones((1, len(s))), y01), rule, target, cost_map)[0]
    if not np.isfinite(point).any():
        raise ValueError(f"No threshold reaches {rule} >= {target}.")
    best = int(np.argmax(point))
    picks = []
    for counts in bootstrap_counts(y01, int(n_boot), np.random.default_rng(random_state)):
        crit = _criterion(_curve(groups, counts, y01), rule, target, cost_map)
        chosen = groups.values[np.argmax(crit, axis=1)]
        picks.append(np.where(np.isfinite(crit).any(axis=1), chosen, np.nan))
    lower, upper = percentile_interval(np.concatenate(picks), confidence)
    threshold = float(groups.values[best])
    return ThresholdChoice(
        threshold=threshold,
        rule=rule,
        lower=lower,
        upper=upper,
        metrics=_at(y01, s, threshold, cost_map),
        target=None if target is None else float(target),
        costs=cost_map or None,
        params={
            "n_boot": int(n_boot),
            "confidence": confidence,
            "random_state": random_state if isinstance(random_state, (int, type(None))) else None,
        },
    )


def _at(
    y: np.ndarray, s: np.ndarray, threshold: float, costs: Mapping[str, float]
) -> dict[str, float]:
    yhat = s >= threshold
    tp = float(np.sum(yhat & (y == 1)))
    fp = float(np.sum(yhat & (y == 0)))
    fn = float(np.sum(~yhat & (y == 1)))
    tn = float(np.sum(~yhat & (y == 0)))
    out = {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn),
        "false_positive_rate": fp / (fp + tn),
        "specificity": tn / (fp + tn),
        "accuracy": (tp + tn) / len(y),
        "predicted_positive_rate": (tp + fp) / len(y),
    }
    if costs:
        out["mean_cost"] = (
            costs["tp"] * tp + costs["fp"] * fp + costs["tn"] * tn + costs["fn"] * fn
        ) / len(y)
    return out


def threshold_table(y: Any, scores: Any, thresholds: Any = None) -> Any:
    """Metrics across thresholds (default 0.05, 0.10, ..., 0.95): one row per threshold."""
    import pandas as pd

    y01 = _binary_labels(y)
    s = np.asarray(scores, dtype=float)
    grid = (
        np.round(np.arange(0.05, 1.0, 0.05), 2)
        if thresholds is None
        else np.asarray(thresholds, float)
    )
    rows = [{"threshold": float(t), **_at(y01, s, float(t), {})} for t in grid]
    return pd.DataFrame(rows)
