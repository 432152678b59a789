"""Model cards written out: Markdown and self-contained HTML (no scripts, no external assets).

Reads a :class:`ModelCard` only; never the model.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._results import FeatureImportance

if TYPE_CHECKING:
    from ._card_result import ModelCard, ModelDetails

__all__ = ["card_html", "card_markdown"]


def card_markdown(card: ModelCard) -> str:
    """The card as Markdown."""
    out = [f"# Model card: {card.name}", ""]
    out += ["## Model details", ""]
    out += [f"- **{_title(k)}**: {_text(v)}" for k, v in card.details.items()]
    out += ["", "## Intended use", ""]
    out += [f"- **{_title(k)}**: {v}" for k, v in _intended_items(card)]
    out += ["", "## Data", "", _md_table(card.data_summary)]
    out += ["", "## Metrics", ""]
    out += [_threshold_note(card.details), ""] if card.details.decision_rule else []
    out += [_md_table(card.metrics)]
    for s in card.subgroups:
        out += ["", f"## Metrics and fairness by {s.attribute}", "", _md_table(s.metrics)]
        if s.fairness is not None and s.gaps is not None:
            out += ["", _md_table(s.fairness), ""]
            out += [f"- **{_title(k)}**: {_num(v)}" for k, v in s.gaps.items()]
    out += ["", "## Global explanation", ""]
    if card.importance is None:
        out.append("(not computed)")
    else:
        out += [
            _importance_note(card.importance),
            "",
            _md_table(_importance_frame(card.importance)),
        ]
    out += ["", "## Limitations", ""]
    out += [f"- {item}" for item in card.limitations] or ["(none stated)"]
    out += ["", "## Ethical considerations", "", card.ethical_considerations or "(not stated)"]
    out += ["", "## Reproducibility", ""]
    out += [f"- **{_title(k)}**: `{_text(v)}`" for k, v in _reproducibility_items(card)]
    return "\n".join(out) + "\n"


def card_html(card: ModelCard, *, full: bool = True) -> str:
    """Self-contained HTML (no scripts, no external assets); ``full=False`` gives a
    ``<section>`` to embed in another page (the report)."""
    e = html.escape
    parts = [f'<section class="pellucid-model-card"><h1>Model card: {e(card.name)}</h1>']
    parts.append("<h2>Model details</h2>" + _html_list(card.details.items()))
    parts.append("<h2>Intended use</h2>" + _html_list(_intended_items(card)))
    parts.append("<h2>Data</h2>" + _html_table(card.data_summary))
    threshold = _threshold_note(card.details)
    parts.append(
        "<h2>Metrics</h2>"
        + (f"<p>{e(threshold)}</p>" if threshold else "")
        + _html_table(card.metrics)
    )
    for s in card.subgroups:
        parts.append(f"<h2>Metrics and fairness by {e(s.attribute)}</h2>")
        parts.append(_html_table(s.metrics))
        if s.fairness is not None and s.gaps is not None:
            parts.append(_html_table(s.fairness))
            parts.append(_html_list([(k, _num(v)) for k, v in s.gaps.items()]))
    parts.append("<h2>Global explanation</h2>")
    if card.importance is None:
        parts.append("<p>(not computed)</p>")
    else:
        parts.append(f"<p>{e(_importance_note(card.importance))}</p>")
        parts.append(_html_table(_importance_frame(card.importance)))
    items = "".join(f"<li>{e(x)}</li>" for x in card.limitations) or "<li>(none stated)</li>"
    parts.append(f"<h2>Limitations</h2><ul>{items}</ul>")
    parts.append(
        f"<h2>Ethical considerations</h2><p>{e(card.ethical_considerations or '(not stated)')}</p>"
    )
    parts.append("<h2>Reproducibility</h2>" + _html_list(_reproducibility_items(card)))
    parts.append("</section>")
    body = "\n".join(parts)
    if not full:
        return body
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Model card: {e(card.name)}</title><style>{_CSS}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _importance_frame(imp: FeatureImportance) -> pd.DataFrame:
    return imp.to_frame().set_index("feature")


def _reproducibility_items(card: ModelCard) -> list[tuple[str, Any]]:
    record = card.reproducibility
    if record is None:
        return []
    return [(name, getattr(record, name)) for name in record.__dataclass_fields__]


def _intended_items(card: ModelCard) -> list[tuple[str, str]]:
    return [(k, v or "(not stated)") for k, v in card.intended_use.items()]


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;"
    "padding:.2rem .5rem;text-align:right}th:first-child,td:first-child{text-align:left}"
    "h2{border-bottom:1px solid #ddd;margin-top:2rem}code{background:#f4f4f4}"
)


def _title(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _num(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not np.isfinite(f):
            return "n/a"
        return f"{f:.4g}" if abs(f) < 1e4 else f"{f:,.0f}"
    return str(v)


def _text(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={x}" for k, x in v.items())
    return _num(v)


def _md_cell(v: Any) -> str:
    return _num(v).replace("|", "\\|").replace("\n", " ")


def _md_table(frame: pd.DataFrame) -> str:
    header = [str(frame.index.name or "")] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in frame.iterrows():
        cells = [_md_cell(idx)] + [_md_cell(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _html_table(frame: pd.DataFrame) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in [frame.index.name or "", *frame.columns])
    body = "".join(
        "<tr>"
        + f"<td>{e(_num(idx))}</td>"
        + "".join(f"<td>{e(_num(v))}</td>" for v in row.tolist())
        + "</tr>"
        for idx, row in frame.iterrows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_list(items: Iterable[tuple[str, Any]]) -> str:
    e = html.escape
    li = "".join(f"<li><b>{e(_title(k))}</b>: {e(_text(v))}</li>" for k, v in items)
    return f"<ul>{li}</ul>"


def _importance_note(imp: FeatureImportance) -> str:
    from ..effects import score_change

    return (
        f"Permutation importance (importance: {score_change(imp.params.get('scoring'))}): "
        f"the change in the score when one feature's values are shuffled "
        f"({imp.importances.shape[1]} repeats; mean, std and 95% interval)."
    )


def _threshold_note(details: ModelDetails) -> str:
    rule = details.decision_rule
    if rule is None:
        return ""
    return (
        f"Decision threshold: a row is predicted positive when {rule}; accuracy, "
        "precision, recall and F1 are measured at it (ROC AUC, Brier score and log loss "
        "do not depend on it)."
    )
