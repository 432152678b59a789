"""Fairness of a binary classifier across subgroups: per-group rates and the gaps between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError
from .._results import _JsonMixin
from ._subgroups import UNSET, subgroups_argument

__all__ = ["FairnessGaps", "fairness_table"]


@dataclass(frozen=True, eq=False)
class FairnessGaps(_JsonMixin):
    """Largest minus smallest value over subgroups of each rate (NaN when fewer than two
    groups define it).

    ``demographic_parity_difference``: selection rate; ``equal_opportunity_difference``:
    true positive rate; ``equalized_odds_difference``: the larger of the TPR and FPR
    gaps; ``calibration_difference``: expected calibration error;
    ``calibration_in_the_large_difference``: mean predicted minus observed rate.
    """

    demographic_parity_difference: float
    equal_opportunity_difference: float
    equalized_odds_difference: float
    calibration_difference: float
    calibration_in_the_large_difference: float

    def __post_init__(self) -> None:
        # JSON has no NaN: an undefined gap comes back as None.
        for name in self.names():
            value = getattr(self, name)
            object.__setattr__(self, name, float("nan") if value is None else float(value))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(cls.__dataclass_fields__)

    def items(self) -> list[tuple[str, float]]:
        """(name, gap) in the order of the fields, for tables and lists."""
        return [(name, getattr(self, name)) for name in self.names()]


def _ece(y: np.ndarray, p: np.ndarray, n_bins: int) -> float:
    """Expected calibration error with equal-width bins: sum_b (n_b/n) |mean(y_b) - mean(p_b)|."""
    if len(y) == 0:
        return float("nan")
    bins = np.clip((p * n_bins).astype(int), 0, n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        m = bins == b
        total += m.sum() / len(y) * abs(y[m].mean() - p[m].mean())
    return float(total)


def fairness_table(
    y_true: Any,
    proba: Any,
    subgroups: Any = None,
    *,
    threshold: float = 0.5,
    n_bins: int = 10,
    groups: Any = UNSET,
) -> tuple[pd.DataFrame, FairnessGaps]:
    """Per-subgroup rates of a binary classifier and the gaps between subgroups.

    ``y_true`` is 0/1 (1 = the positive class, e.g. default), ``proba`` the
    predicted probability of 1, the decision ``proba >= threshold``,
    ``subgroups`` one label per row (``groups=``, its old name, warns).
    Per group: ``n``, ``selection_rate`` P(decision=1), ``tpr``
    P(decision=1 | y=1), ``fpr`` P(decision=1 | y=0), ``mean_predicted``,
    ``observed_rate`` and ``ece`` (expected calibration error). The gaps are a
    :class:`FairnessGaps`. Groups where a rate is undefined (no positives, say)
    get NaN and are left out of that gap.
    """
    g = subgroups_argument("fairness_table", subgroups, groups)
    if g is None:
        raise TypeError("fairness_table() needs subgroups: one label per row.")
    y = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=float)
    g = np.asarray(g)
    if not (len(y) == len(p) == len(g)):
        raise DataError(
            f"y ({len(y)}), proba ({len(p)}) and subgroups ({len(g)}) differ in length."
        )
    pred = (p >= threshold).astype(int)
    rows = {}
    for value in pd.unique(g):
        m = np.asarray(pd.isna(g)) if pd.isna(value) else g == value
        yy, pp, dd = y[m], p[m], pred[m]
        pos, neg = yy == 1, yy == 0
        rows[value] = {
            "n": int(m.sum()),
            "selection_rate": float(dd.mean()),
            "tpr": float(dd[pos].mean()) if pos.any() else np.nan,
            "fpr": float(dd[neg].mean()) if neg.any() else np.nan,
            "mean_predicted": float(pp.mean()),
            "observed_rate": float(yy.mean()),
            "ece": _ece(yy, pp, n_bins),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "group"
    return table, _gaps(table)


def _gap(col: pd.Series) -> float:
    col = col.dropna()
    return float(col.max() - col.min()) if len(col) >= 2 else float("nan")


def _gaps(table: pd.DataFrame) -> FairnessGaps:
    odds_defined = table[["tpr", "fpr"]].notna().sum().max() >= 2
    return FairnessGaps(
        demographic_parity_difference=_gap(table["selection_rate"]),
        equal_opportunity_difference=_gap(table["tpr"]),
        equalized_odds_difference=float(np.nanmax([_gap(table["tpr"]), _gap(table["fpr"])]))
        if odds_defined
        else float("nan"),
        calibration_difference=_gap(table["ece"]),
        calibration_in_the_large_difference=_gap(table["mean_predicted"] - table["observed_rate"]),
    )
