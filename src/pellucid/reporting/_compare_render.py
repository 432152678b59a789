"""The model-comparison report: a ModelComparison in, one self-contained HTML document out.

Built on the report's render layer (figures drawn outside pyplot and inlined
as base64 PNG, the report's stylesheet inlined, the same table and figure
blocks). Reads the ModelComparison and a plain record of what produced it;
never a model. No script and no link to any other host.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .. import plots
from ._render import (
    _environment,
    _fmt,
    _grid,
    _plot,
    _table,
    _template_source,
    _text,
    record_blocks,
)

__all__ = ["comparison_record", "render_comparison"]

WIDTH = 6.4


def _p(p: Any) -> str:
    """A p-value as the page prints it: three significant digits, a dash when undefined."""
    value = float(p)
    return f"{value:.3g}" if np.isfinite(value) else "—"


def _interval(lo: Any, hi: Any) -> str:
    if not (np.isfinite(float(lo)) and np.isfinite(float(hi))):
        return "—"
    return f"[{_fmt(float(lo))}, {_fmt(float(hi))}]"


def _label(metric: str) -> str:
    from ..comparison._results import metric_label

    return metric_label(metric)


def _level(cmp: Any) -> str:
    return f"{float(cmp.params.get('confidence', 0.95)):.0%}"


# ---------------------------------------------------------------- sections


def _summary(cmp: Any, notes: list[str]) -> list[dict[str, Any]]:
    challengers = ", ".join(cmp.challengers)
    blocks: list[dict[str, Any]] = [
        _text(
            f"{cmp.reference} (the reference) against {challengers} on the same "
            f"{cmp.n_rows:,} rows (base rate {cmp.base_rate:.3f}). A row is predicted "
            f"positive when its probability of class {cmp.params.get('positive_class', 1)} "
            f"is at least {cmp.threshold:g}. Intervals: {_level(cmp)} stratified bootstrap "
            f"({int(cmp.params.get('n_boot', 0)):,} resamples, shared by the models so "
            "differences are paired); p-values adjusted over every comparison (Holm)."
        ),
        {"type": "list", "items": cmp.verdicts()},
    ]
    return blocks


def _metrics(cmp: Any, notes: list[str]) -> list[dict[str, Any] | None]:
    rows = [
        [_label(metric)]
        + [
            f"{_fmt(cmp.estimates[i, j])} {_interval(cmp.lower[i, j], cmp.upper[i, j])}"
            for i in range(len(cmp.models))
        ]
        for j, metric in enumerate(cmp.metric_names)
    ]
    height = 0.9 + 0.22 * len(cmp.metric_names) * len(cmp.models) + 0.2 * len(cmp.metric_names)
    return [
        _table(
            ["metric", *cmp.models],
            rows,
            f"Each metric with its {_level(cmp)} interval (Brier score and log loss: lower is better).",
            scroll=True,
        ),
        _plot(
            notes, plots.compare_metrics, cmp, (WIDTH, height), "metrics per model with intervals"
        ),
    ]


def _differences(cmp: Any, notes: list[str]) -> list[dict[str, Any] | None]:
    d = cmp.differences
    rows = [
        [
            str(d["model"][i]),
            _label(str(d["metric"][i])),
            float(d["difference"][i]),
            _interval(d["lower"][i], d["upper"][i]),
            str(d["test"][i]),
            _p(d["p_value"][i]),
            _p(d["p_holm"][i]),
        ]
        for i in range(len(d["model"]))
    ]
    height = 1.0 + 0.48 * len(rows)
    return [
        _text(
            f"Each challenger minus {cmp.reference}. ROC AUC: DeLong's test (its interval is "
            "DeLong's normal interval); accuracy: McNemar's mid-p test on the rows the models "
            "get right and wrong; other metrics: the paired bootstrap."
        ),
        _table(
            [
                "challenger",
                "metric",
                f"difference (− {cmp.reference})",
                f"{_level(cmp)} interval",
                "test",
                "p-value",
                "Holm-adjusted p",
            ],
            rows,
            "Paired differences",
            scroll=True,
        ),
        _plot(notes, plots.compare_differences, cmp, (WIDTH, height), "paired differences chart"),
    ]


def _calibration(cmp: Any, notes: list[str]) -> list[dict[str, Any] | None]:
    b = cmp.brier_decomposition
    blocks: list[dict[str, Any] | None] = [
        _text(
            "Reliability curves on ten equal-width bins, and Murphy's decomposition: "
            "Brier = reliability − resolution + uncertainty (+ the spread of the predictions "
            "within bins). Smaller reliability: better calibrated; larger resolution: sharper."
        )
    ]
    if b:
        keys = ("brier", "reliability", "resolution", "uncertainty", "residual")
        rows = [
            [str(b["model"][i]), *(float(b[k][i]) for k in keys)] for i in range(len(b["model"]))
        ]
        blocks.append(_table(["model", *keys], rows, "Brier decomposition", scroll=True))
    blocks.append(
        _plot(notes, plots.compare_calibration, cmp, (4.6, 4.4), "calibration curves side by side")
    )
    return blocks


def _groups(cmp: Any, notes: list[str]) -> list[dict[str, Any]]:
    gaps = cmp.group_gaps
    if gaps is None:
        return []
    name = cmp.params.get("group_name") or "group"
    rows = [
        [
            str(gaps["model"][i]),
            _label(str(gaps["metric"][i])),
            float(gaps["gap"][i]),
            float(gaps["change"][i]) if str(gaps["verdict"][i]) != "reference" else "—",
            _interval(gaps["lower"][i], gaps["upper"][i]),
            str(gaps["verdict"][i]),
        ]
        for i in range(len(gaps["model"]))
    ]
    blocks = [
        _text(
            f"The gap is the largest minus the smallest value over the {name} groups. "
            f"A challenger widens it when the {_level(cmp)} interval of its change lies above "
            "zero, narrows it when below."
        ),
        _table(
            ["model", "metric", "gap", "change vs reference", "interval", "verdict"],
            rows,
            f"Gaps between {name} groups",
            scroll=True,
        ),
    ]
    per = cmp.group_metrics
    if per is not None:
        shown = [m for m in ("accuracy", "recall", "roc_auc") if m in per]
        header = ["model", name, "rows", "base rate", *(_label(m) for m in shown)]
        table = [
            [
                str(per["model"][i]),
                str(per["group"][i]),
                int(per["n_rows"][i]),
                float(per["base_rate"][i]),
                *(float(per[m][i]) for m in shown),
            ]
            for i in range(len(per["model"]))
        ]
        blocks.append(_table(header, table, f"Metrics per {name} group", scroll=True))
    return blocks


def _agreement(cmp: Any, notes: list[str]) -> list[dict[str, Any]]:
    if cmp.importance is None:
        notes.append("Explanation agreement was not computed (explain_rows=importance_rows=0).")
        return []
    from ..effects import score_change

    scoring = cmp.params.get("importance_scoring")
    n_features = len(cmp.importance["feature"])
    size = (WIDTH / 1.3, 0.9 + (0.12 * len(cmp.models) + 0.12) * min(n_features, 15))
    figures = [
        _plot(
            notes,
            plots.compare_importance,
            cmp,
            size,
            f"{word} importance per model",
            kind=kind,
        )
        for kind, word in (("permutation", "permutation"), ("shap", "mean |SHAP|"))
        if f"{cmp.reference}: {word}" in cmp.importance
    ]
    blocks: list[dict[str, Any]] = [
        _text(
            "Do the models decide for the same reasons? Permutation importance "
            f"(importance: {score_change(scoring)} when a feature is shuffled) and mean |SHAP| "
            "per model, and the rank correlation of each challenger's importances with the "
            "reference's."
        ),
        _grid(*figures),
    ]
    a = cmp.agreement
    if a is not None and len(a.get("model", ())):
        rows = [
            [str(a["model"][i]), str(a["kind"][i]), float(a["spearman"][i]), float(a["kendall"][i])]
            for i in range(len(a["model"]))
        ]
        blocks.append(
            _table(
                ["challenger", "importance", "Spearman", "Kendall"],
                rows,
                f"Rank correlation with {cmp.reference}",
            )
        )
    dis = cmp.disagreements
    if dis is not None and len(dis.get("row", ())):
        rows = [
            [
                int(dis["row"][i]),
                str(dis["model"][i]),
                float(dis["rank_correlation"][i]),
                str(dis["reference_reasons"][i]),
                str(dis["model_reasons"][i]),
            ]
            for i in range(len(dis["row"]))
        ]
        blocks.append(
            _table(
                [
                    "row",
                    "challenger",
                    "rank correlation",
                    f"{cmp.reference}'s top reasons",
                    "challenger's top reasons",
                ],
                rows,
                "Rows where the models' reasons (Shapley values) disagree most",
                scroll=True,
            )
        )
    return blocks


SECTIONS = (
    ("summary", "Verdicts", _summary),
    ("metrics", "Metrics per model", _metrics),
    ("differences", "Paired differences", _differences),
    ("calibration", "Calibration", _calibration),
    ("groups", "Group gaps", _groups),
    ("agreement", "Explanation agreement", _agreement),
)


def _sections(cmp: Any, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, heading, fn in SECTIONS:
        notes: list[str] = []
        try:
            blocks = [b for b in fn(cmp, notes) if b is not None]
        except Exception as exc:  # noqa: BLE001 - keep every other section
            blocks = []
            notes.append(f"Could not render this section: {type(exc).__name__}: {exc}")
        if blocks or notes:
            out.append({"id": key, "title": heading, "blocks": blocks, "notes": notes})
    out.append(
        {
            "id": "record",
            "title": "Reproducibility",
            "blocks": record_blocks(record, "comparison"),
            "notes": [],
        }
    )
    return out


# ---------------------------------------------------------------- record and document


def comparison_record(
    cmp: Any,
    *,
    models: Mapping[str, Any] | None = None,
    X: Any = None,
    y: Any = None,
    sources: Mapping[str, Any] | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """What produced a comparison: settings, notes, and (when given) content hashes of the
    models and data and the files they came from. Hashing reads no prediction."""
    from importlib import metadata

    from .._provenance import data_hash, model_hash

    p = cmp.params
    record: dict[str, Any] = {
        "created (UTC)": (created or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S"),
        "reference": cmp.reference,
        "rows": f"{cmp.n_rows:,}",
        "decision threshold": f"P(class {p.get('positive_class', 1)}) >= {cmp.threshold:g}",
        "bootstrap": f"{p.get('n_boot')} resamples, stratified by {p.get('stratified_by')}",
        "confidence": p.get("confidence"),
        "random_state": p.get("random_state"),
        "importance scorer": p.get("importance_scoring") or "—",
    }
    for key, value in (sources or {}).items():
        record[key] = value
    if models is not None:
        record["model hashes"] = {str(n): model_hash(m) for n, m in models.items()}
    if X is not None:
        record["data hash"] = data_hash(X)
    if y is not None:
        record["target hash"] = data_hash(y)
    versions = {}
    for name in ("pellucid", "numpy", "scipy", "scikit-learn"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    record["versions"] = versions
    record["notes"] = list(p.get("notes", [])) or ["—"]
    return record


def comparison_title(cmp: Any) -> str:
    return f"Model comparison: {cmp.reference} against {', '.join(cmp.challengers)}"


def render_comparison(
    cmp: Any,
    *,
    title: str | None = None,
    record: Mapping[str, Any] | None = None,
    standalone: bool = True,
) -> str:
    """The comparison as HTML: a whole document, or a fragment with scoped styles."""
    from ..comparison import ModelComparison

    if not isinstance(cmp, ModelComparison):
        raise TypeError(f"render_comparison() takes a ModelComparison; got {type(cmp).__name__}.")
    record = dict(record) if record is not None else comparison_record(cmp)
    title = title or comparison_title(cmp)
    env = _environment()
    body = env.get_template("compare.html.j2").render(
        title=title,
        cmp=cmp,
        created=record.get("created (UTC)", ""),
        sections=_sections(cmp, record),
        css=_template_source("report.css"),
    )
    if not standalone:
        return body
    return env.get_template("page.html.j2").render(title=title, body=body)
