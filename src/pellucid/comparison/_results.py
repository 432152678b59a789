"""Result objects of model comparison: ModelComparison, Selection, ThresholdChoice.

Frozen dataclasses with versioned JSON (the mixin of ``pellucid._results``).
Tables are stored column-wise (``{column: array}``), so they round-trip
through JSON with their dtypes and become DataFrames with ``to_frame``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._results import _JsonMixin, renderer

__all__ = ["ModelComparison", "Selection", "ThresholdChoice", "metric_label", "verdict"]

LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "brier": "Brier score",
    "log_loss": "log loss",
}


def metric_label(name: str) -> str:
    """A metric's name in words ('roc_auc' -> 'ROC AUC'); sklearn's 'neg_' losses keep theirs."""
    return LABELS.get(name, name.replace("_", " "))


def verdict(
    a: str,
    b: str,
    metric: str,
    difference: float,
    lower: float,
    upper: float,
    p_value: float,
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
) -> str:
    """One sentence: is ``b`` better than ``a`` (difference = b - a), by how much, how sure."""
    label = metric_label(metric)
    interval = f"95% interval {lower:+.3f} to {upper:+.3f}"
    if not np.isfinite(p_value) or p_value >= alpha:
        # The interval is not adjusted for the other comparisons; the p-value is (Holm).
        # Say so when they seem to disagree, rather than leave the reader to guess.
        adjusted_away = lower > 0 or upper < 0
        return (
            f"No significant difference between {b} and {a} on {label}"
            f"{' once adjusted for the other comparisons' if adjusted_away else ''} "
            f"({b} - {a} = {difference:+.3f}, {'unadjusted ' if adjusted_away else ''}"
            f"{interval}, adjusted p = {p_value:.3g})."
        )
    b_better = (difference > 0) == higher_is_better
    winner, loser = (b, a) if b_better else (a, b)
    lo, hi = sorted((abs(lower), abs(upper)))
    return (
        f"{winner} is better than {loser} on {label} by {abs(difference):.3f}, "
        f"95% interval {lo:.3f} to {hi:.3f} (adjusted p = {p_value:.3g})."
    )


def _frame(table: Mapping[str, np.ndarray] | None) -> Any:
    import pandas as pd

    if table is None:
        return pd.DataFrame()
    return pd.DataFrame({k: np.asarray(v) for k, v in table.items()})


def _html_table(frame: Any) -> str:
    return str(frame.to_html(index=False, float_format=lambda v: f"{v:.4g}"))


@dataclass(frozen=True, eq=False)
class ModelComparison(_JsonMixin):
    """Several models on the same rows, side by side, with paired statistics.

    ``estimates``, ``lower``, ``upper``: ``(n_models, n_metrics)`` point
    values and stratified-bootstrap intervals. ``differences``: one row per
    (challenger, metric) against ``reference``: the difference (challenger -
    reference), its interval, the test used (DeLong for ROC AUC, McNemar's
    mid-p for accuracy, paired bootstrap otherwise), its p-value and the Holm
    adjusted p-value over all rows. The other tables (column-wise) hold
    calibration, group gaps and explanation agreement; ``params`` records
    every setting and note (what was subsampled, which scorer).
    """

    models: tuple[str, ...]
    reference: str
    n_rows: int
    threshold: float
    base_rate: float
    metric_names: tuple[str, ...]
    estimates: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    differences: Mapping[str, np.ndarray]
    calibration: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)
    brier_decomposition: Mapping[str, np.ndarray] = field(default_factory=dict)
    group_metrics: Mapping[str, np.ndarray] | None = None
    group_gaps: Mapping[str, np.ndarray] | None = None
    importance: Mapping[str, np.ndarray] | None = None
    agreement: Mapping[str, np.ndarray] | None = None
    disagreements: Mapping[str, np.ndarray] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    _tuple_fields = ("models", "metric_names")

    def __post_init__(self) -> None:
        shape = (len(self.models), len(self.metric_names))
        for name in ("estimates", "lower", "upper"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape}; got {arr.shape}.")
            object.__setattr__(self, name, arr)
        if self.reference not in self.models:
            raise ValueError(f"reference {self.reference!r} is not one of {list(self.models)}.")

    @property
    def challengers(self) -> tuple[str, ...]:
        return tuple(m for m in self.models if m != self.reference)

    def verdicts(self) -> list[str]:
        """One sentence per (challenger, metric) in plain words, using the Holm-adjusted p."""
        d = self.differences
        return [
            verdict(
                self.reference,
                str(d["model"][i]),
                str(d["metric"][i]),
                float(d["difference"][i]),
                float(d["lower"][i]),
                float(d["upper"][i]),
                float(d["p_holm"][i]),
                higher_is_better=bool(d["higher_is_better"][i]),
            )
            for i in range(len(d["model"]))
        ]

    def to_frame(self, table: str = "metrics") -> Any:
        """A DataFrame of one table.

        ``"metrics"`` (default): one row per model and metric with its interval,
        and for challengers the paired difference, test and p-values.
        Otherwise one of ``"differences"``, ``"brier_decomposition"``,
        ``"group_metrics"``, ``"group_gaps"``, ``"importance"``,
        ``"agreement"``, ``"disagreements"``, ``"calibration"``.
        """
        import pandas as pd

        if table == "metrics":
            rows = [
                {
                    "model": m,
                    "metric": metric,
                    "estimate": self.estimates[i, j],
                    "lower": self.lower[i, j],
                    "upper": self.upper[i, j],
                }
                for i, m in enumerate(self.models)
                for j, metric in enumerate(self.metric_names)
            ]
            frame = pd.DataFrame(rows)
            diffs = _frame(self.differences).drop(columns="higher_is_better")
            diffs = diffs.rename(columns={"lower": "difference_lower", "upper": "difference_upper"})
            return frame.merge(diffs, on=["model", "metric"], how="left")
        if table == "calibration":
            parts = [
                _frame(curve).assign(model=m)[["model", *curve.keys()]]
                for m, curve in self.calibration.items()
            ]
            return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        tables = {
            "differences": self.differences,
            "brier_decomposition": self.brier_decomposition,
            "group_metrics": self.group_metrics,
            "group_gaps": self.group_gaps,
            "importance": self.importance,
            "agreement": self.agreement,
            "disagreements": self.disagreements,
        }
        if table not in tables:
            raise ValueError(
                f"Unknown table {table!r}; one of {['metrics', 'calibration', *tables]}."
            )
        return _frame(tables[table])

    def to_html(self, *, title: str | None = None, record: Mapping[str, Any] | None = None) -> str:
        """A self-contained HTML page of the comparison (figures and styles inline, no script).

        ``record``: what produced it (files, hashes; see
        ``pellucid.reporting._compare_render.comparison_record``); by default the settings.
        """
        render = renderer("pellucid.reporting._compare_render:render_comparison")
        return str(render(self, title=title, record=record))

    def save_html(
        self, path: Any, *, title: str | None = None, record: Mapping[str, Any] | None = None
    ) -> Any:
        """Write :meth:`to_html` to ``path`` (.html) and return the path."""
        from pathlib import Path

        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"Save the comparison as .html; got {path.name!r}.")
        path.write_text(self.to_html(title=title, record=record), encoding="utf-8")
        return path

    def __repr__(self) -> str:
        lines = [
            f"ModelComparison(reference={self.reference!r}, challengers={list(self.challengers)}, "
            f"n_rows={self.n_rows}, threshold={self.threshold:g}, n_boot={self.params.get('n_boot')})"
        ]
        lines += [f"  {v}" for v in self.verdicts()[: 2 * len(self.metric_names)]]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(v)}</li>" for v in self.verdicts())
        return f"<ul>{items}</ul>" + _html_table(self.to_frame())


@dataclass(frozen=True, eq=False)
class Selection(_JsonMixin):
    """Repeated cross-validation of several estimators on the same splits.

    ``scores``: ``(n_estimators, n_metrics, n_splits)`` test scores
    (scikit-learn's sign: greater is better). ``comparisons``: one row per
    pair and metric, difference = b - a, with the corrected resampled t-test
    (Nadeau & Bengio) and Holm-adjusted p-values over all rows.
    """

    estimators: tuple[str, ...]
    metric_names: tuple[str, ...]
    scores: np.ndarray
    comparisons: Mapping[str, np.ndarray]
    n_train: float
    n_test: float
    params: Mapping[str, Any] = field(default_factory=dict)

    _tuple_fields = ("estimators", "metric_names")

    def __post_init__(self) -> None:
        scores = np.asarray(self.scores, dtype=float)
        if scores.ndim != 3 or scores.shape[:2] != (len(self.estimators), len(self.metric_names)):
            raise ValueError(
                f"scores must have shape (n_estimators, n_metrics, n_splits); got {scores.shape}."
            )
        object.__setattr__(self, "scores", scores)

    @property
    def best(self) -> dict[str, str]:
        """The estimator with the highest mean score, per metric."""
        means = self.scores.mean(axis=2)
        return {
            m: self.estimators[int(np.argmax(means[:, j]))] for j, m in enumerate(self.metric_names)
        }

    def verdicts(self) -> list[str]:
        c = self.comparisons
        return [
            verdict(
                str(c["a"][i]),
                str(c["b"][i]),
                str(c["metric"][i]),
                float(c["difference"][i]),
                float(c["lower"][i]),
                float(c["upper"][i]),
                float(c["p_holm"][i]),
            )
            for i in range(len(c["a"]))
        ]

    def to_frame(self, table: str = "scores") -> Any:
        """``"scores"``: mean and std per estimator and metric; ``"comparisons"``: the tests."""
        import pandas as pd

        if table == "comparisons":
            return _frame(self.comparisons)
        if table != "scores":
            raise ValueError(f"Unknown table {table!r}; one of ['scores', 'comparisons'].")
        return pd.DataFrame(
            [
                {
                    "estimator": e,
                    "metric": m,
                    "mean": self.scores[i, j].mean(),
                    "std": self.scores[i, j].std(ddof=1),
                    "n_splits": self.scores.shape[2],
                }
                for i, e in enumerate(self.estimators)
                for j, m in enumerate(self.metric_names)
            ]
        )

    def __repr__(self) -> str:
        head = (
            f"Selection(estimators={list(self.estimators)}, metrics={list(self.metric_names)}, "
            f"n_splits={self.scores.shape[2]})"
        )
        return "\n".join([head, *(f"  {v}" for v in self.verdicts())])

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(v)}</li>" for v in self.verdicts())
        return f"<ul>{items}</ul>" + _html_table(self.to_frame())


@dataclass(frozen=True, eq=False)
class ThresholdChoice(_JsonMixin):
    """A decision threshold chosen by a stated rule, with a bootstrap interval.

    A row is predicted positive when its score is at least ``threshold``.
    ``metrics``: precision, recall, false-positive rate, specificity,
    accuracy (and cost for the cost rule) at the threshold on the data given.
    """

    threshold: float
    rule: str
    lower: float
    upper: float
    metrics: Mapping[str, float]
    target: float | None = None
    costs: Mapping[str, float] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        stated = self.rule if self.target is None else f"{self.rule} >= {self.target:g}"
        shown = ", ".join(f"{k}={v:.3f}" for k, v in self.metrics.items())
        return (
            f"ThresholdChoice(threshold={self.threshold:.4g} [{self.lower:.4g}, {self.upper:.4g}], "
            f"rule={stated!r}, {shown})"
        )
