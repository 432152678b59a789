"""The report's results: everything the renderer reads, and nothing that calls a model.

``_compute.py`` fills a :class:`ReportResults`; ``_render.py`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._results import Anchor, Explanation, FeatureImportance, PartialDependence

__all__ = ["SECTIONS", "ColumnSummary", "DataOverview", "LocalResult", "ReportResults"]

#: The report's sections, in order; the CLI's progress bar counts them.
SECTIONS = (
    ("overview", "Data overview"),
    ("performance", "Model performance"),
    ("importance", "Global importance"),
    ("shap", "SHAP summary"),
    ("effects", "Effects"),
    ("local", "Local explanations"),
    ("counterfactual", "What would change the decision"),
    ("trust", "How far to trust these explanations"),
)


@dataclass(frozen=True, eq=False)
class ColumnSummary:
    """One column of the data: kind, missing values, statistics and a histogram."""

    name: str
    kind: str  # "numeric" or "categorical"
    n_missing: int
    stats: dict[str, Any]
    counts: np.ndarray  # histogram counts, or counts per category
    edges: np.ndarray | None = None  # numeric bin edges (len(counts) + 1)
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class DataOverview:
    """The data at a glance: sizes, one summary per column, strongly correlated pairs."""

    n_rows: int
    columns: tuple[ColumnSummary, ...]
    correlated_pairs: tuple[tuple[str, str, float], ...]
    corr_threshold: float
    target: ColumnSummary | None = None

    @property
    def n_features(self) -> int:
        return len(self.columns)

    def correlated_with(self, feature: str) -> list[tuple[str, float]]:
        out = []
        for a, b, rho in self.correlated_pairs:
            if feature in (a, b):
                out.append((b if a == feature else a, rho))
        return out


@dataclass(frozen=True, eq=False)
class LocalResult:
    """Local explanations of one row, side by side, with where they disagree."""

    row: int
    label: str
    prediction: float | None
    shap: Explanation | None = None
    lime: Explanation | None = None
    anchor: Anchor | None = None
    disagreements: tuple[str, ...] = ()


@dataclass(eq=False)
class ReportResults:
    """Everything the renderer reads."""

    title: str
    task: str
    explained_output: str | None
    overview: DataOverview
    shap_output: str = ""  # what the SHAP values add up to, in words
    shap_rows: np.ndarray | None = None  # positions in X of the rows in ``shap``
    evaluation: Any = None  # ModelEvaluation
    permutation: FeatureImportance | None = None
    shap: Explanation | None = None
    top_features: tuple[str, ...] = ()
    pd: list[PartialDependence] = field(default_factory=list)
    ale: list[PartialDependence] = field(default_factory=list)
    pd2: PartialDependence | None = None
    local: list[LocalResult] = field(default_factory=list)
    counterfactuals: Any = None  # pellucid.counterfactual.CounterfactualSet of the rows below
    counterfactual_rows: tuple[int, ...] = ()  # positions in X of its rows, in order
    trust: Any = None  # pellucid.quality.TrustSummary
    notes: dict[str, list[str]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    def note(self, section: str, message: str) -> None:
        self.notes.setdefault(section, []).append(message)
