"""The report's render step: result objects in, one self-contained HTML document out.

Reads :class:`ReportResults` only; never the model or the data. Figures are
drawn with :mod:`pellucid.plots` on figures outside pyplot and inlined as
base64 PNG; the stylesheet is inlined; there is no script and no link to
any other host, so the file works offline and prints cleanly.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any

import numpy as np

from .. import plots
from ._results import SECTIONS, ColumnSummary, LocalResult, ReportResults

DPI = 100
# Figures are drawn at most this many inches wide: the page's column is ~ 60rem.
WIDTH = 6.4


# ---------------------------------------------------------------- title


_LIBRARY_NAMES = {"xgboost": "XGBoost", "lightgbm": "LightGBM", "catboost": "CatBoost"}


def model_description(model: Any) -> str:
    """The model in a few words: its library or class and its size ("XGBoost, 500 trees")."""
    raw = getattr(model, "raw_model", model)
    kind = getattr(model, "kind", "")
    steps = getattr(raw, "steps", None)
    if steps:  # a scikit-learn Pipeline: the estimator at its end
        raw = steps[-1][1]
    name = _LIBRARY_NAMES.get(kind, type(raw).__name__)
    n = _tree_count(raw)
    return f"{name}, {n:,} tree{'s' if n != 1 else ''}" if n else name


def _tree_count(raw: Any) -> int | None:
    """Trees in a tree ensemble (boosting rounds for XGBoost), None when not one."""
    for attempt in (
        lambda: raw.get_booster().num_boosted_rounds(),
        lambda: raw.num_boosted_rounds(),
        lambda: raw.booster_.current_iteration(),
        lambda: raw.current_iteration(),
        lambda: raw.tree_count_,
        lambda: raw.n_iter_,
        lambda: len(raw.estimators_),
    ):
        try:
            n = attempt()
        except Exception:  # noqa: BLE001, S112 - not this library's API: try the next
            continue
        if isinstance(n, (int, np.integer)) and n > 0:
            return int(n)
    return None


def report_title(model: Any, y: Any, task: str) -> str:
    """A readable title: the target's name and the model's ("Default risk: XGBoost, 500 trees").

    ``y`` is the target (a named Series) or the name of X's target column;
    without a name the title names the model only.
    """
    name = y if isinstance(y, str) else getattr(y, "name", None)
    what = model_description(model)
    if name is None or str(name).strip().lower() in ("", "y", "target", "label", "0"):
        return f"Model report: {what}"
    words = str(name).replace("_", " ").strip()
    if task == "regression":
        subject = f"Predicted {words}"
    elif task == "binary":
        subject = f"{words[0].upper()}{words[1:]} risk"
    else:
        subject = f"{words[0].upper()}{words[1:]} class"
    return f"{subject}: {what}"


# ---------------------------------------------------------------- figures and blocks


def figure_uri(fig: Any, fmt: str = "png") -> str:
    """A drawn figure as a data: URI (PNG or SVG), with no run-dependent metadata."""
    buf = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    fig.savefig(buf, format=fmt, dpi=DPI, metadata=metadata, facecolor="white")
    mime = "image/png" if fmt == "png" else "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def _plot(
    notes: list[str],
    fn: Callable[..., Any],
    result: Any,
    size: tuple[float, float],
    alt: str,
    *args: Any,
    caption: str = "",
    **kwargs: Any,
) -> dict[str, Any] | None:
    """``fn(result, *args, ax=..., **kwargs)`` drawn on a figure outside pyplot, as a
    figure block; or, if drawing fails, a note saying why (the report goes on)."""
    from matplotlib.figure import Figure

    try:
        fig = Figure(figsize=size, layout="constrained")
        fn(result, *args, ax=fig.add_subplot(), **kwargs)
        src = figure_uri(fig)
    except Exception as exc:  # noqa: BLE001 - one bad plot must not lose the report
        notes.append(f"Could not draw {alt}: {type(exc).__name__}: {exc}")
        return None
    return {"type": "figure", "src": src, "alt": alt, "caption": caption}


def _fmt(v: Any) -> str:
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return "—"  # missing: a dash, never "None" or "nan"
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if not np.isfinite(x):
            return "—"
        if x.is_integer() and abs(x) < 1e15:
            return f"{int(x):,}"
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"{int(v):,}"
    return str(v)


def _cell(v: Any) -> dict[str, Any]:
    """A table cell: its text, and whether it is a number (numbers align right)."""
    numeric = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
    return {"v": _fmt(v), "num": numeric}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _table(header: list[str], rows: Iterable[Iterable[Any]], caption: str = "", **kw: Any):
    return {
        "type": "table",
        "header": header,
        "rows": [[_cell(c) for c in r] for r in rows],
        "caption": caption,
        **kw,
    }


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _grid(*items: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "grid", "items": [i for i in items if i is not None]}


def sparkline(summary: ColumnSummary, width: int = 120, height: int = 28) -> str:
    """A tiny inline SVG bar chart of a column's histogram (no matplotlib, no script)."""
    counts = np.asarray(summary.counts, dtype=float)
    if counts.size == 0 or counts.max() <= 0:
        return ""
    bar_w = width / counts.size
    bars = []
    for i, c in enumerate(counts):
        h = max(c / counts.max() * (height - 2), 0.5 if c > 0 else 0)
        bars.append(
            f'<rect x="{i * bar_w:.2f}" y="{height - h:.2f}" width="{max(bar_w - 0.6, 0.4):.2f}" '
            f'height="{h:.2f}"/>'
        )
    label = (
        f"histogram of {summary.name}"
        if summary.kind == "numeric"
        else f"counts of the most common values of {summary.name}"
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(label)}">{"".join(bars)}</svg>'
    )


# ---------------------------------------------------------------- sections


def _overview(res: ReportResults, notes: list[str]) -> list[dict[str, Any]]:
    ov = res.overview
    blocks: list[dict[str, Any]] = [
        _text(
            f"{_plural(ov.n_rows, 'row')} and {_plural(ov.n_features, 'feature')} "
            f"({sum(c.kind == 'numeric' for c in ov.columns)} numeric, "
            f"{sum(c.kind != 'numeric' for c in ov.columns)} categorical); "
            f"{_plural(sum(c.n_missing > 0 for c in ov.columns), 'feature')} with missing values."
        )
    ]
    rows = []
    for c in ov.columns:
        share = c.n_missing / ov.n_rows if ov.n_rows else 0.0
        missing = f"{c.n_missing:,} ({share:.1%})" if c.n_missing else "0"
        if c.kind == "numeric":
            s = c.stats
            summary = (
                f"mean {_fmt(s['mean'])}, sd {_fmt(s['std'])}; "
                f"{_fmt(s['min'])} … {_fmt(s['median'])} … {_fmt(s['max'])}"
            )
        else:
            summary = (
                f"{c.stats['unique']} values; most common {c.stats['top']} "
                f"({c.stats['top share']:.0%})"
            )
        rows.append(
            {
                "cells": [
                    _cell(c.name),
                    _cell(c.kind),
                    {"v": missing, "num": True},
                    _cell(summary),
                ],
                "svg": sparkline(c),
                "flag": c.n_missing > 0,
            }
        )
    blocks.append(
        {
            "type": "columns",
            "header": ["feature", "kind", "missing", "summary", "distribution"],
            "rows": rows,
            "caption": "Every feature: kind, missing values, summary (min … median … max) and distribution.",
        }
    )
    if ov.target is not None:
        t = ov.target
        if t.kind == "numeric":
            desc = f"numeric, mean {_fmt(t.stats['mean'])}, sd {_fmt(t.stats['std'])}"
        else:
            total = float(np.sum(t.counts)) or 1.0
            desc = ", ".join(
                f"{c}: {n / total:.1%}" for c, n in zip(t.categories, t.counts, strict=True)
            )
        blocks.append(_text(f"Target {t.name}: {desc}."))
    if ov.correlated_pairs:
        blocks.append(
            _text(
                f"Strongly correlated pairs (|Spearman ρ| ≥ {ov.corr_threshold:g}). "
                "Partial dependence moves one feature while holding the other fixed, "
                "so it averages over combinations the data never shows: for these "
                "features read the ALE curves, which stay within the data."
            )
        )
        blocks.append(
            _table(
                ["feature", "feature", "Spearman ρ"],
                ov.correlated_pairs,
                cls="narrow",
            )
        )
    else:
        blocks.append(
            _text(
                f"No pair of numeric features has |Spearman ρ| ≥ {ov.corr_threshold:g}, "
                "so partial dependence and ALE should tell the same story."
            )
        )
    return blocks


def _performance(res: ReportResults, notes: list[str]) -> list[dict[str, Any]]:
    ev = res.evaluation
    if ev is None:
        return []
    frame = ev.to_frame()
    groups = [str(g) for g in frame.index]
    header = ["metric"] + (
        ["all"] + [f"{ev.group_name or 'group'} = {g}" for g in groups[1:]]
        if len(groups) > 1
        else ["value"]
    )
    rows = [[m] + list(frame[m].to_numpy()) for m in frame.columns]
    blocks: list[dict[str, Any]] = [
        _table(
            header,
            rows,
            "Metrics on the given data" + (", overall and per group" if len(groups) > 1 else ""),
        )
    ]
    figs = []
    if ev.confusion_matrix is not None:
        k = ev.confusion_matrix.shape[0]
        size = (2.2 + 0.5 * k, 1.8 + 0.5 * k)
        figs.append(_plot(notes, plots.confusion_matrix, ev, size, "confusion matrix"))
    if ev.roc_curve is not None:
        figs.append(_plot(notes, plots.roc_curve, ev, (3.6, 3.6), "ROC curve"))
    if ev.pr_curve is not None:
        figs.append(
            _plot(notes, plots.precision_recall_curve, ev, (3.6, 3.6), "precision-recall curve")
        )
    if ev.calibration is not None:
        figs.append(_plot(notes, plots.calibration_curve, ev, (3.6, 3.6), "calibration curve"))
    if ev.residuals is not None:
        figs.append(_plot(notes, plots.residuals, ev, (4.6, 3.4), "residual histogram"))
    blocks.append(_grid(*figs))
    return blocks


def _importance(res: ReportResults, notes: list[str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    perm, shap = res.permutation, res.shap
    if perm is None and shap is None:
        return blocks
    blocks.append(
        _text(
            "Two views of which features matter. Permutation importance: how much the "
            "model's score drops when a feature's values are shuffled (bars: mean, "
            "whiskers: 95% interval over repeats). Mean |SHAP|: the average size of a "
            "feature's contribution to single predictions."
        )
    )
    names = perm.feature_names if perm is not None else shap.feature_names  # type: ignore[union-attr]
    size = (4.6, 1.0 + 0.3 * min(len(names), 15))
    items = []
    if perm is not None:
        items.append(
            _plot(
                notes,
                plots.importance,
                perm,
                size,
                "permutation importance bars",
                max_features=15,
                title="Permutation importance",
            )
        )
    if shap is not None:
        items.append(
            _plot(
                notes,
                plots.bar,
                shap,
                size,
                "mean absolute SHAP bars",
                max_features=15,
                title="Mean |SHAP|",
            )
        )
    blocks.append(_grid(*items))
    if perm is not None and shap is not None:
        mean_shap = dict(
            zip(shap.feature_names, np.abs(np.asarray(shap.values)).mean(0), strict=True)
        )
        pm = perm.importances_mean
        rank_p = {
            perm.feature_names[i]: r + 1 for r, i in enumerate(np.argsort(-pm, kind="stable"))
        }
        ordered = sorted(mean_shap, key=lambda f: -mean_shap[f])
        rank_s = {f: r + 1 for r, f in enumerate(ordered)}
        rows = []
        for i in np.argsort(-pm, kind="stable"):
            f = perm.feature_names[i]
            rows.append(
                [
                    f,
                    f"{_fmt(pm[i])} [{_fmt(perm.ci_low[i])}, {_fmt(perm.ci_high[i])}]",
                    rank_p[f],
                    mean_shap.get(f, float("nan")),
                    rank_s.get(f, "—"),
                ]
            )
        blocks.append(
            _table(
                ["feature", "permutation (95% interval)", "rank", "mean |SHAP|", "rank"],
                rows,
                "Both measures side by side; a large rank difference is worth a closer look.",
                scroll=True,
            )
        )
    return blocks


def _shap(res: ReportResults, notes: list[str]) -> list[dict[str, Any]]:
    shap = res.shap
    if shap is None:
        return []
    d = len(shap.feature_names)
    shown = min(d, 15) + (d > 15)
    blocks: list[dict[str, Any]] = [
        _text(
            f"Each point is one row's SHAP value for a feature ({shap.method}, "
            f"{shap.n_rows:,} rows): right of zero raises the prediction, left lowers it. "
            "Colour is the feature's value (blue low, red high, grey missing)."
            + (f" The values add up to {res.shap_output}." if res.shap_output else "")
        ),
    ]
    swarm = _plot(
        notes,
        plots.beeswarm,
        shap,
        (WIDTH, 1.2 + 0.38 * shown),
        "SHAP beeswarm summary",
        max_features=15,
    )
    if swarm is not None:
        blocks.append(swarm)
    dep = [
        _plot(notes, plots.dependence, shap, (4.4, 3.4), f"SHAP dependence of {f}", f)
        for f in res.top_features[:2]
        if f in shap.feature_names
    ]
    if dep:
        blocks.append(
            _text(
                "Dependence plots: a feature's value against its SHAP value, coloured by the "
                "feature it interacts with most; vertical spread at one value means interaction."
            )
        )
        blocks.append(_grid(*dep))
    return [b for b in blocks if b is not None]


def _effects(res: ReportResults, notes: list[str]) -> list[dict[str, Any]]:
    if not res.pd and not res.ale:
        return []
    blocks: list[dict[str, Any]] = [
        _text(
            "How the prediction changes with each of the most important features. "
            "Partial dependence (thick line) is the average over rows of the "
            "individual conditional expectation curves (thin lines); ALE accumulates "
            "local changes and stays valid when features are correlated."
        )
    ]
    pd_by = {p.features[0]: p for p in res.pd}
    ale_by = {a.features[0]: a for a in res.ale}
    for f in res.top_features:
        items = []
        # side by side, PD and ALE of one feature share their x range
        xlim = plots.shared_xlim(*(r for r in (pd_by.get(f), ale_by.get(f)) if r is not None))
        if f in pd_by:
            items.append(
                _plot(
                    notes,
                    plots.partial_dependence,
                    pd_by[f],
                    (4.4, 3.3),
                    f"partial dependence and ICE of {f}",
                    output=_out(pd_by[f], res),
                    xlim=xlim,
                )
            )
        if f in ale_by:
            items.append(
                _plot(
                    notes,
                    plots.ale,
                    ale_by[f],
                    (4.4, 3.3),
                    f"ALE of {f}",
                    output=_out(ale_by[f], res),
                    xlim=xlim,
                )
            )
        warn = res.overview.correlated_with(f)
        block: dict[str, Any] = {"type": "subsection", "title": f, "blocks": [_grid(*items)]}
        if warn:
            partners = ", ".join(f"{g} (ρ = {rho:+.2f})" for g, rho in warn)
            block["blocks"].insert(
                0,
                {
                    "type": "note",
                    "text": f"{f} is strongly correlated with {partners}: its partial "
                    "dependence may mislead; read the ALE curve.",
                },
            )
        blocks.append(block)
    if res.pd2 is not None:
        a, b = res.pd2.features
        heat = _plot(
            notes,
            plots.pd_heatmap,
            res.pd2,
            (5.2, 4.0),
            f"two-feature partial dependence of {a} and {b}",
            output=_out(res.pd2, res),
        )
        text = _text(
            "Two-feature partial dependence of the two most important features; "
            "an interaction shows as colour bands that are not parallel to the axes' grid."
        )
        blocks.append({"type": "subsection", "title": f"{a} × {b}", "blocks": [text, _grid(heat)]})
    return blocks


def _out(p: Any, res: ReportResults) -> Any:
    names = p.output_names
    if names and res.explained_output in names:
        return res.explained_output
    return None


def _local_block(lr: LocalResult, res: ReportResults, notes: list[str]) -> dict[str, Any]:
    what = res.explained_output
    pred = "" if lr.prediction is None else f"prediction {lr.prediction:.4g}"
    if what is not None and pred:
        pred += f" (probability of {what})" if res.task != "regression" else ""
    items = []
    if lr.shap is not None:
        items.append(
            _plot(
                notes,
                plots.waterfall,
                lr.shap,
                (4.6, 4.4),
                f"SHAP waterfall for row {lr.row}",
                0,
                caption=f"in units of {res.shap_output}" if res.shap_output else "",
                max_features=10,
                title="SHAP waterfall",
            )
        )
    if lr.lime is not None:
        fidelity = lr.lime.diagnostics.get("fidelity")
        caption = f"local fit R² {float(np.ravel(fidelity)[0]):.2f}" if fidelity is not None else ""
        conditions = lr.lime.diagnostics.get("conditions")
        labels = None if conditions is None else [str(c) for c in np.ravel(conditions[0])]
        items.append(
            _plot(
                notes,
                plots.bar,
                lr.lime,
                (4.6, 4.4),
                f"LIME weights for row {lr.row}",
                caption=caption,
                max_features=10,
                labels=labels,
                title="LIME weights",
            )
        )
    if lr.anchor is not None:
        n_pred = len(lr.anchor.predicates)
        size = (4.6, 1.6 + 0.32 * max(n_pred, 1))
        items.append(_plot(notes, plots.anchor, lr.anchor, size, f"anchor rule for row {lr.row}"))
    blocks: list[dict[str, Any]] = [_grid(*items)]
    if lr.disagreements:
        blocks.append({"type": "list", "items": list(lr.disagreements)})
    return {
        "type": "subsection",
        "title": f"Row {lr.row}: {lr.label}" + (f", {pred}" if pred else ""),
        "blocks": blocks,
    }


def _local(res: ReportResults, notes: list[str]) -> list[dict[str, Any]]:
    if not res.local:
        return []
    blocks: list[dict[str, Any]] = [
        _text(
            "Single predictions explained three ways, side by side: the SHAP waterfall "
            "(exact contributions from the average prediction), LIME (a linear model "
            "fitted around the row) and an anchor (a rule under which the prediction "
            "rarely changes). Their scales differ, so compare which features they name "
            "and in which direction; disagreements are listed under each row."
        )
    ]
    for lr in res.local:
        try:
            blocks.append(_local_block(lr, res, notes))
        except Exception as exc:  # noqa: BLE001 - keep the other rows
            notes.append(f"Could not render row {lr.row}: {type(exc).__name__}: {exc}")
    return blocks


#: What each certificate means, in words, for rows without a counterfactual too.
CERTIFICATE_WORDS = {
    "optimal": "optimal: no cheaper allowed change gives another decision (proven)",
    "feasible": "feasible: the time limit ran out before a cheaper change was ruled out",
    "infeasible": "infeasible: no allowed change gives another decision (proven)",
    "unknown": "unknown: nothing was found within the time limit, and nothing was proven",
    "not_needed": "not needed: the row already has the outcome sought",
}


def _counterfactual_block(cfs: Any, i: int, row: int, label: str) -> dict[str, Any]:
    """One row: its sentence, the changes as a table, cost, certificate and validity."""
    found = cfs.for_row(i)
    title = f"Row {row}" + (f": {label}" if label else "")
    title += f", predicted {_fmt(cfs.predictions[i])}"
    if not found:
        certificate = cfs.certificates[i]
        return {
            "type": "subsection",
            "title": title,
            "blocks": [_text(f"No counterfactual. Certificate: {CERTIFICATE_WORDS[certificate]}.")],
        }
    cf = found[0]
    facts = [
        ["cost", cf.cost],
        ["certificate", CERTIFICATE_WORDS[cf.certificate]],
        ["new prediction", cf.prediction],
        ["valid (the model's own prediction changes)", "yes" if cf.valid else "no"],
    ]
    if cf.gap is not None and cf.certificate == "feasible":
        facts.append(["optimality gap", cf.gap])
    return {
        "type": "subsection",
        "title": title,
        "blocks": [
            _text(cfs.sentence(cf)),
            _grid(
                _table(
                    ["feature", "from", "to"],
                    [[c.feature, c.before, c.after] for c in cf.changes],
                    cls="changes",
                ),
                _table(["", ""], facts, cls="record"),
            ),
        ],
    }


def _counterfactual(res: ReportResults, notes: list[str]) -> list[dict[str, Any]]:
    cfs = res.counterfactuals
    if cfs is None:
        return []
    immutable = cfs.params.get("immutable") or []
    limit = cfs.params.get("time_limit")
    blocks: list[dict[str, Any]] = [
        _text(
            "For each row explained above, the cheapest change to its features that gives "
            "another decision: cost is the distance in median absolute deviations of each "
            "column (a category switch costs 1). The changed row is put back through the "
            "model, so 'valid' is the model's own answer, not the search's. "
            + (f"Columns kept fixed: {', '.join(immutable)}. " if immutable else "")
            + (f"Time limit: {_fmt(limit)} s per row ({cfs.method})." if limit else "")
        )
    ]
    labels = {lr.row: lr.label for lr in res.local}
    for i, row in enumerate(res.counterfactual_rows):
        try:
            blocks.append(_counterfactual_block(cfs, i, row, labels.get(row, "")))
        except Exception as exc:  # noqa: BLE001 - keep the other rows
            notes.append(f"Could not render the counterfactual of row {row}: {exc}")
    timed_out = [
        row
        for i, row in enumerate(res.counterfactual_rows)
        if cfs.certificates[i] in ("feasible", "unknown") and cfs.method != "search"
    ]
    if timed_out:
        notes.append(
            f"The time limit ran out for row(s) {', '.join(map(str, timed_out))}: "
            "their answers are valid but may not be the cheapest, or missing."
        )
    return blocks


def _trust(res: ReportResults, notes: list[str]) -> list[dict[str, Any]]:
    summary = res.trust
    if summary is None:
        return []
    notes.extend(summary.notes)
    frame = summary.to_frame()
    shown = [c for c in frame.columns if c != "reading"]
    blocks: list[dict[str, Any]] = [
        _text(
            "Each method's explanations of a few rows, scored against the model itself: "
            "removing the features a method ranks first should move the prediction most "
            "(deletion and insertion gain over a random order, faithfulness correlation), "
            "and the attributions should not change much across seeds or under tiny input "
            "changes. The verdict reads these numbers in plain words."
        ),
        # Headers break between words and cells anywhere, so the table fits a
        # 1,000 px page; the scroll wrapper is only a fallback for phones.
        _table(
            [c.replace("_", " ") for c in shown],
            frame[shown].itertuples(index=False),
            cls="trust",
            scroll=True,
        ),
        {"type": "list", "items": [f"{r.method}: {r.reading}" for r in summary.rows]},
    ]
    return blocks


def record_blocks(record: Mapping[str, Any], what: str) -> list[dict[str, Any]]:
    """A reproducibility record as a two-column table: mappings as "k: v; ...", lists joined."""
    rows = []
    for key, value in record.items():
        if isinstance(value, Mapping):
            value = "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value) or "—"
        rows.append([key, value])
    return [
        _text(f"What produced this {what}, so it can be produced again and checked."),
        _table(["", ""], rows, cls="record", scroll=True),
    ]


def _record(res: ReportResults, notes: list[str]) -> list[dict[str, Any]]:
    return record_blocks(res.record, "report")


RENDERERS = {
    "overview": _overview,
    "performance": _performance,
    "importance": _importance,
    "shap": _shap,
    "effects": _effects,
    "local": _local,
    "counterfactual": _counterfactual,
    "trust": _trust,
}


# ---------------------------------------------------------------- document


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _template_source(name: str) -> str:
    return resources.files("pellucid.reporting").joinpath("templates", name).read_text("utf-8")


def target_name(res: ReportResults) -> str | None:
    """The target's name as the data call it, unless it is a placeholder ("target", "y")."""
    target = res.overview.target
    name = None if target is None else str(target.name)
    return None if name is None or name.strip().lower() in ("", "y", "target", "label") else name


def _label(result: Any, **names: Any) -> Any:
    """plots.labelled, or the result as it is when it cannot take the names (a result
    shaped unlike its row, say): naming is for the reader, the plot's own check decides."""
    try:
        return plots.labelled(result, **names)
    except (TypeError, ValueError):
        return result


def named(res: ReportResults) -> ReportResults:
    """The results with their target and units named for the plots (see plots.labelled):
    axes then read "P(default)" or "predicted price" rather than "model output"."""
    from dataclasses import replace

    target = target_name(res)
    # the report's effects are computed on the model's default output
    unit = "regression" if res.task == "regression" else "probability"

    def effect(p: Any) -> Any:
        return _label(p, target=target, output_kind=unit)

    def local(lr: LocalResult) -> LocalResult:
        return replace(
            lr,
            shap=None if lr.shap is None else _label(lr.shap, target=target, row_ids=[lr.row]),
            lime=None if lr.lime is None else _label(lr.lime, target=target, row_ids=[lr.row]),
        )

    return replace(
        res,
        shap=None if res.shap is None else _label(res.shap, target=target),
        pd=[effect(p) for p in res.pd],
        ale=[effect(a) for a in res.ale],
        pd2=None if res.pd2 is None else effect(res.pd2),
        local=[local(lr) for lr in res.local],
    )


def sections(res: ReportResults) -> list[dict[str, Any]]:
    """The sections as plain data for the template (figures already encoded)."""
    res = named(res)
    out = []
    for key, heading in (*SECTIONS, ("record", "Reproducibility")):
        notes = list(res.notes.get(key, []))
        fn = RENDERERS.get(key, _record)
        try:
            blocks = fn(res, notes)
        except Exception as exc:  # noqa: BLE001 - keep every other section
            blocks = []
            notes.append(f"Could not render this section: {type(exc).__name__}: {exc}")
        out.append({"id": key, "title": heading, "blocks": blocks, "notes": notes})
    return out


def render(res: ReportResults, *, standalone: bool = True) -> str:
    """The report as HTML: a whole document, or a fragment for notebooks (scoped styles)."""
    env = _environment()
    css = _template_source("report.css")
    body = env.get_template("report.html.j2").render(
        res=res,
        sections=sections(res),
        css=css,
        # "<" escaped so no value can close the script element early
        record_json=json.dumps(res.record, default=str, sort_keys=True).replace("<", "\\u003c"),
    )
    if not standalone:
        return body
    return env.get_template("page.html.j2").render(title=res.title, body=body)
