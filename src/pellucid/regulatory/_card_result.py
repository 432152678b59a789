"""The model card as a result: typed fields and the shared versioned JSON.

:func:`pellucid.model_card` (``_card.py``) computes a :class:`ModelCard`;
``_card_render.py`` writes it as Markdown or HTML. This module imports neither:
the card names its renderer by import path, as the registry names methods.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from .. import _protocol
from .._provenance import Provenance
from .._results import (
    SCHEMA_VERSION,
    FeatureImportance,
    _clip,
    _decode,
    _encode,
    _JsonMixin,
    renderer,
)
from ..metrics import FairnessGaps

__all__ = ["GroupSection", "IntendedUse", "ModelCard", "ModelDetails"]

# The module whose card_markdown / card_html write a card: named, never imported here.
_RENDERER = "pellucid.regulatory._card_render"


@dataclass(frozen=True, eq=False)
class ModelDetails(_JsonMixin):
    """What the model is: class, task, version, owners, description, features, training data;
    for classifiers the classes, and for binary ones the decision rule the metrics use."""

    model_class: str
    task: str
    version: str
    owners: str
    description: str
    features: tuple[str, ...]
    training_data: str
    classes: tuple[str, ...] | None = None
    decision_rule: str | None = None

    _tuple_fields = ("features", "classes")

    def items(self) -> list[tuple[str, Any]]:
        """(field, value) of the stated details, in order (classes and rule when set)."""
        return [
            (f.name, getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        ]


@dataclass(frozen=True, eq=False)
class IntendedUse(_JsonMixin):
    """The fields the card's author fills: what the model is for, for whom, and not for."""

    primary_uses: str = ""
    primary_users: str = ""
    out_of_scope_uses: str = ""

    def items(self) -> list[tuple[str, str]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


@dataclass(frozen=True, eq=False)
class GroupSection(_JsonMixin):
    """Metrics and fairness for one subgroup column (e.g. ``sex``); ``fairness`` and ``gaps``
    are None for models other than binary classifiers."""

    attribute: str
    metrics: pd.DataFrame
    fairness: pd.DataFrame | None
    gaps: FairnessGaps | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "type": type(self).__name__,
            "attribute": self.attribute,
            "metrics": encode_frame(self.metrics),
            "fairness": encode_frame(self.fairness),
            "gaps": None if self.gaps is None else self.gaps.to_dict(),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> GroupSection:
        cls._check_header(payload)
        gaps = payload.get("gaps")
        return cls(
            attribute=payload["attribute"],
            metrics=decode_frame(payload["metrics"]),
            fairness=decode_frame(payload.get("fairness")),
            gaps=None if gaps is None else FairnessGaps.from_dict(gaps),
        )


@dataclass(frozen=True, eq=False)
class ModelCard(_JsonMixin):
    """A model card (Mitchell et al., 2019): a result with the shared versioned JSON
    (``to_json``/``from_json``); render with :meth:`to_markdown` / :meth:`to_html`.

    ``subgroups``: one :class:`GroupSection` per subgroup column.
    ``reproducibility``: the :class:`~pellucid._provenance.Provenance` record the
    report shares.
    """

    name: str
    details: ModelDetails
    intended_use: IntendedUse
    data_summary: pd.DataFrame
    metrics: pd.DataFrame
    subgroups: tuple[GroupSection, ...] = ()
    importance: FeatureImportance | None = None
    limitations: tuple[str, ...] = ()
    ethical_considerations: str = ""
    reproducibility: Provenance | None = None

    @property
    def groups(self) -> tuple[GroupSection, ...]:
        """Deprecated name of :attr:`subgroups`."""
        if _protocol.WARN_DEPRECATED:
            warnings.warn(
                "ModelCard.groups is deprecated: use ModelCard.subgroups. "
                "groups will stop working in the next release.",
                FutureWarning,
                stacklevel=2,
            )
        return self.subgroups

    # ------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {
            **self._header(),
            "name": self.name,
            "details": self.details.to_dict(),
            "intended_use": self.intended_use.to_dict(),
            "data_summary": encode_frame(self.data_summary),
            "metrics": encode_frame(self.metrics),
            "subgroups": [s.to_dict() for s in self.subgroups],
            "importance": None if self.importance is None else self.importance.to_dict(),
            "limitations": list(self.limitations),
            "ethical_considerations": self.ethical_considerations,
            "reproducibility": None
            if self.reproducibility is None
            else self.reproducibility.to_dict(),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> ModelCard:
        cls._check_header(payload)
        importance = payload.get("importance")
        record = payload.get("reproducibility")
        return cls(
            name=payload["name"],
            details=ModelDetails.from_dict(payload["details"]),
            intended_use=IntendedUse.from_dict(payload["intended_use"]),
            data_summary=decode_frame(payload["data_summary"]),
            metrics=decode_frame(payload["metrics"]),
            subgroups=tuple(GroupSection.from_dict(s) for s in payload.get("subgroups", [])),
            importance=None if importance is None else FeatureImportance.from_dict(importance),
            limitations=tuple(payload.get("limitations", ())),
            ethical_considerations=payload.get("ethical_considerations", ""),
            reproducibility=None if record is None else Provenance.from_dict(record),
        )

    def _header(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "type": type(self).__name__}

    # ------------------------------------------------------------ rendering
    def to_markdown(self) -> str:
        return str(_render("markdown")(self))

    def to_html(self, *, full: bool = True) -> str:
        """Self-contained HTML (no scripts, no external assets); ``full=False`` gives a
        ``<section>`` to embed in another page (the report)."""
        return str(_render("html")(self, full=full))

    def _repr_html_(self) -> str:
        return self.to_html(full=False)

    def __repr__(self) -> str:
        subgroups = ", ".join(s.attribute for s in self.subgroups) or "none"
        return _clip(
            f"ModelCard(name={self.name!r}, task={self.details.task!r}, "
            f"{len(self.metrics.columns) - 1} metrics, subgroups: {subgroups})"
        )

    def save(self, path: str | Path) -> Path:
        """Write the card as ``.md``, ``.html`` or ``.json`` (chosen by the suffix)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".md", ".markdown"):
            text = self.to_markdown()
        elif suffix in (".html", ".htm"):
            text = self.to_html()
        elif suffix == ".json":
            text = self.to_json(indent=2)
        else:
            raise ValueError(f"Unknown model card file type {suffix!r}; use .md, .html or .json.")
        path.write_text(text, encoding="utf-8")
        return path


def _render(kind: str) -> Any:
    return renderer(f"{_RENDERER}:card_{kind}")


# ---------------------------------------------------------------- tables in JSON


def encode_frame(frame: pd.DataFrame | None) -> dict[str, Any] | None:
    """A table as JSON: its index and each column with values and pandas dtype."""
    if frame is None:
        return None
    return {
        "index": _encode(frame.index.to_numpy()),
        "index_dtype": str(frame.index.dtype),
        "index_name": frame.index.name,
        "columns": [str(c) for c in frame.columns],
        "dtypes": [str(frame[c].dtype) for c in frame.columns],
        "data": [_encode(frame[c].to_numpy()) for c in frame.columns],
    }


def decode_frame(payload: Mapping[str, Any] | None) -> pd.DataFrame | None:
    """The table :func:`encode_frame` wrote, with the same dtypes."""
    if payload is None:
        return None
    index = pd.Index(
        _decode(payload["index"]), dtype=payload["index_dtype"], name=payload["index_name"]
    )
    columns = {
        name: pd.Series(_decode(data), index=index).astype(dtype)
        for name, dtype, data in zip(
            payload["columns"], payload["dtypes"], payload["data"], strict=True
        )
    }
    return pd.DataFrame(columns, index=index, columns=payload["columns"])
