"""The report's results: everything the renderer reads, and nothing that calls a model.

``_compute.py`` fills a :class:`ReportResults`; ``_render.py`` reads it. Each type
has the shared versioned JSON: nested results are written by their own protocol and
found again by their type name, so a saved report's results can be rendered again
without the model.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .._results import (
    SCHEMA_VERSION,
    Anchor,
    Explanation,
    FeatureImportance,
    PartialDependence,
    _decode,
    _encode,
    _JsonMixin,
)

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


# Result types a report holds, by name -> the module that defines them (imported when read).
_RESULT_MODULES = {
    "Explanation": "pellucid._results",
    "FeatureImportance": "pellucid._results",
    "PartialDependence": "pellucid._results",
    "Anchor": "pellucid._results",
    "ModelEvaluation": "pellucid.metrics",
    "TrustSummary": "pellucid.quality",
    "CounterfactualSet": "pellucid.counterfactual",
    "ColumnSummary": __name__,
    "DataOverview": __name__,
    "LocalResult": __name__,
}


def _write(value: Any) -> Any:
    """JSON of any field: results by their protocol, tuples kept apart from lists,
    NaN and infinities as floats."""
    if isinstance(value, _JsonMixin):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return {"__seq__": type(value).__name__, "items": [_write(v) for v in value]}
    if isinstance(value, Mapping):
        return {"__map__": [[_write(k), _write(v)] for k, v in value.items()]}
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return {"__float__": repr(float(value))}
    return _encode(value)


def _read(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "schema_version" in value and value.get("type") in _RESULT_MODULES:
        module = importlib.import_module(_RESULT_MODULES[value["type"]])
        return getattr(module, value["type"]).from_dict(value)
    if "__seq__" in value:
        items = [_read(v) for v in value["items"]]
        return tuple(items) if value["__seq__"] == "tuple" else items
    if "__map__" in value:
        return {_read(k): _read(v) for k, v in value["__map__"]}
    if "__float__" in value:
        return float(value["__float__"])
    return _decode(value)


class _Nested(_JsonMixin):
    """The shared JSON for dataclasses whose fields hold other results."""

    def to_dict(self) -> dict[str, Any]:
        body = {f.name: _write(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]
        return {"schema_version": SCHEMA_VERSION, "type": type(self).__name__, **body}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Any:
        cls._check_header(payload)
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(**{name: _read(payload[name]) for name in names if name in payload})


@dataclass(frozen=True, eq=False)
class ColumnSummary(_Nested):
    """One column of the data: kind, missing values, statistics and a histogram."""

    name: str
    kind: str  # "numeric" or "categorical"
    n_missing: int
    stats: dict[str, Any]
    counts: np.ndarray  # histogram counts, or counts per category
    edges: np.ndarray | None = None  # numeric bin edges (len(counts) + 1)
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class DataOverview(_Nested):
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
class LocalResult(_Nested):
    """Local explanations of one row, side by side, with where they disagree."""

    row: int
    label: str
    prediction: float | None
    shap: Explanation | None = None
    lime: Explanation | None = None
    anchor: Anchor | None = None
    disagreements: tuple[str, ...] = ()


@dataclass(eq=False)
class ReportResults(_Nested):
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
