"""Binary-classification metrics of ``evaluate`` for many bootstrap resamples at once.

A resample is a row of multiplicities (``counts``), so a metric is a
function of ``counts (b, n) -> (b,)``. With ``counts`` all ones it equals
``pellucid.evaluate``'s value (tests/test_compare_stats.py checks each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._stats import TieGroups

__all__ = ["BINARY_METRICS", "BinaryScores"]

BINARY_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
)
# Lower is better for these; every other metric is better higher.
LOSSES = frozenset({"brier", "log_loss"})


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


@dataclass(frozen=True, eq=False)
class BinaryScores:
    """One model's predictions on the compared rows, ready for resampled metrics.

    ``y``: 0/1 truth (1 = the positive class); ``proba``: ``(n, 2)``
    probabilities; ``predicted``: 0/1 decisions at the threshold.
    """

    y: np.ndarray
    proba: np.ndarray
    predicted: np.ndarray
    positive_class: Any = 1

    @property
    def positive_score(self) -> np.ndarray:
        return self.proba[:, 1]

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.y

    def metrics(self, counts: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """``{metric: (b,)}`` for the resamples in ``counts (b, n)``."""
        # every linear quantity in one pass over counts: a (b, n) x (n, 6) product
        pos, tp, fp, total, squared, log_loss = (counts @ self._linear()).T
        neg = total - pos
        tn, fn = neg - fp, pos - tp
        out: dict[str, np.ndarray] = {}
        wanted = set(names)
        if "accuracy" in wanted:
            out["accuracy"] = (tp + tn) / total
        if "balanced_accuracy" in wanted:
            out["balanced_accuracy"] = (_ratio(tp, pos) + _ratio(tn, neg)) / 2.0
        if "precision" in wanted:
            out["precision"] = _ratio(tp, tp + fp)
        if "recall" in wanted:
            out["recall"] = _ratio(tp, pos)
        if "f1" in wanted:
            out["f1"] = _ratio(2.0 * tp, 2.0 * tp + fp + fn)
        if wanted & {"roc_auc", "pr_auc"}:
            out.update(self._ranking(counts, wanted))
        if "brier" in wanted:
            out["brier"] = squared / total
        if "log_loss" in wanted:
            out["log_loss"] = log_loss / total
        return {name: out[name] for name in names}

    def _linear(self) -> np.ndarray:
        """Per-row columns summed by the linear metrics (cached)."""
        cached = self.__dict__.get("_linear_columns")
        if cached is None:
            y, yhat = self.y, self.predicted
            columns = (y, y * yhat, (1.0 - y) * yhat, np.ones_like(y))
            squared = (self.positive_score - y) ** 2
            cached = np.column_stack([*columns, squared, self._row_log_loss()])
            object.__setattr__(self, "_linear_columns", cached)
        return cached

    def _row_log_loss(self) -> np.ndarray:
        eps = np.finfo(float).eps  # scikit-learn's clip
        p_true = np.where(self.y == 1, self.proba[:, 1], self.proba[:, 0])
        return -np.log(np.clip(p_true, eps, 1.0 - eps))

    def _ranking(self, counts: np.ndarray, wanted: set[str]) -> dict[str, np.ndarray]:
        """ROC AUC and average precision from counts summed per tie group of the score."""
        groups = self._groups()
        ordered = np.take(counts, groups.order, axis=1)
        pos = groups.sums_sorted(ordered * self.y[groups.order])
        neg = groups.sums_sorted(ordered) - pos  # counts are whole numbers: exact
        n_pos = pos.sum(axis=1)
        n_neg = neg.sum(axis=1)
        out = {}
        cum_neg = np.cumsum(neg, axis=1)
        if "roc_auc" in wanted:
            neg_below = cum_neg - neg / 2.0
            auc = (pos * neg_below).sum(axis=1) / (n_pos * n_neg)
            out["roc_auc"] = np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)
        if "pr_auc" in wanted:
            # groups ascend; precision at a threshold counts the groups at or above it
            tp_above = n_pos[:, None] - np.cumsum(pos, axis=1) + pos
            fp_above = n_neg[:, None] - cum_neg + neg
            precision = _ratio(tp_above, tp_above + fp_above)
            ap = (pos * precision).sum(axis=1) / np.where(n_pos > 0, n_pos, 1.0)
            out["pr_auc"] = np.where(n_pos > 0, ap, np.nan)
        return out

    def _groups(self) -> TieGroups:
        cached = self.__dict__.get("_tie_groups")
        if cached is None:
            cached = TieGroups.of(self.positive_score)
            object.__setattr__(self, "_tie_groups", cached)
        return cached
