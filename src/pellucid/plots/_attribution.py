"""Plots of attributions (Explanation) and global importance (FeatureImportance)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._results import Explanation, FeatureImportance
from ._base import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    axis_title,
    check_result,
    check_units,
    color_by,
    color_codes,
    compact_ticks,
    feature_index,
    feature_label,
    get_ax,
    model_categories,
    numeric_column,
    row_name,
    select_output,
    tabular_only,
    top_features,
    value_cmap,
    value_ticks,
    with_unit,
    wrap,
)


def importance(
    result: FeatureImportance,
    *,
    ax: Any = None,
    max_features: int = 20,
    title: str | None = None,
) -> Any:
    """Horizontal bars of mean importance with 95% intervals, largest at the top.

    The axis names the score behind the importance ("drop in ROC AUC when
    the feature is shuffled") from ``result.params["scoring"]``.
    """
    check_result(result, FeatureImportance, "importance()")
    mean = result.importances_mean
    idx = top_features(mean, max_features)
    ax = get_ax(ax, (6.4, 0.8 + 0.3 * len(idx)))
    y = np.arange(len(idx))[::-1]
    low, high = result.ci_low[idx], result.ci_high[idx]
    has_ci = np.isfinite(low).all() and np.isfinite(high).all()
    xerr = np.vstack([mean[idx] - low, high - mean[idx]]) if has_ci else None
    ax.barh(
        y,
        mean[idx],
        xerr=xerr,
        color=NEGATIVE,
        ecolor="black",
        capsize=2,
        error_kw={"linewidth": 0.8},
    )
    ax.set_yticks(y, [wrap(result.feature_names[i]) for i in idx])
    ax.axvline(0, color="black", linewidth=0.6)
    if result.method == "permutation_importance":
        from ..effects import score_change  # words only; effects load when drawn

        what = score_change(result.params.get("scoring")) + " when shuffled"
    else:
        what = f"{result.method or 'feature'} importance"
    ax.set_xlabel(wrap(what + (" (mean, 95% interval)" if has_ci else " (mean)"), 60))
    ax.set_ylabel("feature")
    compact_ticks(ax.xaxis)
    ax.set_title(title or "Feature importance")
    return ax


def bar(
    explanation: Explanation,
    *,
    ax: Any = None,
    max_features: int = 20,
    output: int | str | None = None,
    units: Mapping[str, str] | None = None,
    labels: Sequence[str] | None = None,
    target: str | None = None,
    row_id: Any = None,
    title: str | None = None,
) -> Any:
    """Mean |attribution| per feature over the rows; a single row shows its signed values,
    labelled "feature = value" (or by ``labels``, one per feature, e.g. LIME's conditions),
    each bar's value printed beside it."""
    tabular_only(explanation, "bar()")
    check_units(units, explanation.feature_names, "bar()")
    exp, subject = select_output(explanation, output, target)
    values = np.asarray(exp.values, dtype=float)
    single = exp.n_rows == 1
    scores = np.abs(values[0]) if single else np.abs(values).mean(axis=0)
    heights = values[0] if single else scores
    idx = top_features(scores, max_features)
    ax = get_ax(ax, (6.4, 0.8 + 0.3 * len(idx)))
    y = np.arange(len(idx))[::-1]
    colors = [POSITIVE if h > 0 else NEGATIVE for h in heights[idx]] if single else NEGATIVE
    ax.barh(y, heights[idx], color=colors)
    if labels is not None:
        if len(labels) != len(exp.feature_names):
            raise ValueError(f"Got {len(labels)} labels for {len(exp.feature_names)} features.")
        shown = [wrap(str(labels[i])) for i in idx]
    elif single and exp.data is not None and exp.data.ndim == 2:
        shown = [feature_label(exp.feature_names[i], exp.data[0, i], units) for i in idx]
    else:
        shown = [wrap(exp.feature_names[i]) for i in idx]
    ax.set_yticks(y, shown)
    ax.set_ylim(-0.5, len(idx) - 0.5)
    ax.axvline(0, color="black", linewidth=0.6)
    what = "attribution" if single else "mean |attribution|"
    method = exp.method or "attribution"
    ax.set_xlabel(wrap(axis_title(f"{method}: {what}", subject), 60))
    ax.set_ylabel("feature")
    compact_ticks(ax.xaxis)
    h = np.asarray(heights[idx], dtype=float)
    _value_labels(ax, h, h, y, data_lo=0.0)
    default = (
        f"Attributions for {row_name(exp, 0, row_id)}" if single else "Mean absolute attribution"
    )
    ax.set_title(title or default)
    return ax


def _swarm_offsets(values: np.ndarray, n_bins: int = 100, height: float = 0.4) -> np.ndarray:
    """Vertical offsets that spread points with similar values apart (deterministic).

    Values are cut into ``n_bins`` bins; the k-th point of a bin goes to layer
    k, alternating above and below the line, scaled so the widest bin fills
    ``height`` either side.
    """
    n = len(values)
    if n == 0:
        return np.zeros(0)
    span = np.ptp(values)
    bins = (
        np.zeros(n, dtype=int)
        if span == 0
        else np.minimum(((values - values.min()) / span * n_bins).astype(int), n_bins - 1)
    )
    order = np.lexsort((values, bins))
    layer = np.zeros(n)
    # rank of each point within its bin, in value order
    sorted_bins = bins[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_bins)) + 1]
    ranks = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    side = np.where(ranks % 2 == 0, 1.0, -1.0)
    layer[order] = np.ceil(ranks / 2.0) * side
    widest = np.abs(layer).max()
    return layer * (height / widest) if widest > 0 else layer


def beeswarm(
    explanation: Explanation,
    *,
    ax: Any = None,
    max_features: int = 15,
    output: int | str | None = None,
    target: str | None = None,
    title: str | None = None,
) -> Any:
    """SHAP summary: one row of points per feature (largest mean |value| at the top),
    x the attribution, colour the feature's value: numeric features from low (blue,
    their 5th percentile) to high (vermillion, 95th), categorical ones one colour per
    category (legend below), missing values grey."""
    tabular_only(explanation, "beeswarm()")
    exp, subject = select_output(explanation, output, target)
    values = np.asarray(exp.values, dtype=float)
    d = values.shape[1]
    idx = list(top_features(np.abs(values).mean(axis=0), min(max_features, d)))
    rest = [j for j in range(d) if j not in idx]
    legend_rows = _legend_rows(exp, idx)
    ax = get_ax(ax, (6.4, 1.0 + 0.4 * (len(idx) + bool(rest)) + 0.2 * legend_rows))
    import matplotlib as mpl

    cmap = value_cmap()
    n_rows = len(idx) + bool(rest)
    legend: list[tuple[str, str]] = []
    for pos, j in enumerate(idx):
        x = values[:, j]
        y = (n_rows - 1 - pos) + _swarm_offsets(x)
        legend += _swarm_row(ax, x, y, exp, j, cmap)
    if rest:
        x = values[:, rest].sum(axis=1)
        ax.scatter(x, _swarm_offsets(x), s=8, c=NEUTRAL, linewidths=0, rasterized=len(x) > 500)
    names = [wrap(exp.feature_names[j]) for j in idx] + (
        [f"{len(rest)} other features"] if rest else []
    )
    ax.set_yticks(np.arange(n_rows)[::-1], names)
    ax.set_ylim(-0.6, n_rows - 0.4)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel(wrap(axis_title(f"{exp.method or 'attribution'} value", subject), 60))
    ax.set_ylabel("feature")
    compact_ticks(ax.xaxis)
    if exp.data is not None and exp.data.ndim == 2:
        numeric = any(numeric_column(exp.data, j) is not None for j in idx)
        if numeric:
            cbar = ax.figure.colorbar(
                mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 1), cmap=cmap), ax=ax, aspect=40
            )
            cbar.set_ticks([0, 1], labels=["low\n(5th pct)", "high\n(95th pct)"])
            cbar.set_label("numeric feature's value")
        if legend:
            from matplotlib.lines import Line2D

            handles = [
                Line2D([], [], marker="o", linestyle="", color=c, label=wrap(t, 24))
                for t, c in legend
            ]
            ax.legend(
                handles=handles,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.25),
                ncol=min(2, len(handles)),
                fontsize="small",
                title="categorical feature's value",
                title_fontsize="small",
                frameon=False,
            )
    ax.set_title(title or "Attribution summary")
    return ax


def _legend_rows(exp: Explanation, idx: list[Any]) -> int:
    """Rows the categorical legend under a beeswarm takes (two entries a row), plus its title."""
    from ._base import category_order

    if exp.data is None or exp.data.ndim != 2:
        return 0
    entries = sum(
        len(category_order(exp.data[:, j], model_categories(exp, exp.feature_names[j])))
        for j in idx
        if numeric_column(exp.data, j) is None
    )
    return 0 if entries == 0 else 2 + -(-entries // 2)


def _swarm_row(
    ax: Any, x: np.ndarray, y: np.ndarray, exp: Explanation, j: int, cmap: Any
) -> list[tuple[str, str]]:
    """One feature's points; returns the legend entries of a categorical feature."""
    from ._base import category_color, category_order

    many = len(x) > 500
    if exp.data is None or exp.data.ndim != 2:
        ax.scatter(x, y, s=8, c=NEUTRAL, linewidths=0, rasterized=many)
        return []
    if numeric_column(exp.data, j) is None:
        column = exp.data[:, j]
        name = exp.feature_names[j]
        entries = []
        colors = np.full(len(x), NEUTRAL, dtype=object)
        for c, cat in enumerate(category_order(column, model_categories(exp, name))):
            colors[np.array([v == cat for v in column], dtype=bool)] = category_color(c)
            entries.append((f"{name} = {cat}", category_color(c)))
        ax.scatter(x, y, s=8, c=list(colors), linewidths=0, rasterized=many)
        return entries
    codes = color_codes(exp.data, j)
    assert codes is not None
    missing = np.isnan(codes)
    if missing.any():
        ax.scatter(x[missing], y[missing], s=8, c=NEUTRAL, linewidths=0, rasterized=many)
    ax.scatter(
        x[~missing],
        y[~missing],
        s=8,
        c=codes[~missing],
        cmap=cmap,
        vmin=0,
        vmax=1,
        linewidths=0,
        rasterized=many,
    )
    return []


def waterfall(
    explanation: Explanation,
    row: int = 0,
    *,
    ax: Any = None,
    max_features: int = 10,
    output: int | str | None = None,
    units: Mapping[str, str] | None = None,
    target: str | None = None,
    row_id: Any = None,
    title: str | None = None,
) -> Any:
    """How one row's prediction is built from the base value, one feature at a time.

    Features are ordered by |attribution| (largest at the top); the rest are
    pooled into one bar at the bottom. Each bar starts where the previous
    one ended, so the top bar ends at base + sum(values). The base value is
    marked E[f(X)] below the bars and the prediction f(x) above them. When
    the bars do not add up to the model's own prediction (LIME: they add up
    to its surrogate's), both are marked: the surrogate's g(x) and the model's f(x).
    """
    tabular_only(explanation, "waterfall()")
    check_units(units, explanation.feature_names, "waterfall()")
    exp, subject = select_output(explanation, output, target, _valid(explanation, row))
    if not -exp.n_rows <= row < exp.n_rows:
        raise IndexError(f"row {row} is out of range for {exp.n_rows} explained rows.")
    values = np.asarray(exp.values[row], dtype=float)
    base = float(exp.base_values[row]) if exp.base_values is not None else 0.0
    d = len(values)
    keep = top_features(np.abs(values), max_features if d > max_features else d)
    if d > max_features:
        keep = keep[: max_features - 1]
    rest = np.setdiff1d(np.arange(d), keep)
    labels = [
        feature_label(exp.feature_names[j], exp.data[row, j], units)
        if exp.data is not None and exp.data.ndim == 2
        else wrap(exp.feature_names[j])
        for j in keep
    ]
    widths = list(values[keep])
    if rest.size:
        labels.append(f"{rest.size} other features")
        widths.append(float(values[rest].sum()))
    # draw from the bottom (the pooled rest, then smallest) to the top (largest)
    widths_up = np.asarray(widths[::-1], dtype=float)
    lefts = base + np.concatenate([[0.0], np.cumsum(widths_up)[:-1]])
    ends = lefts + widths_up
    total = base + float(np.sum(widths))
    model_out = _model_prediction(exp, row, total)
    surrogate = model_out is not None
    marks = [(base, "surrogate intercept" if surrogate else "E[f(X)]", NEUTRAL, "--")]
    marks.append((total, "surrogate g(x)" if surrogate else "f(x)", "black", ":"))
    if model_out is not None:
        marks.append((model_out, "model f(x)", POSITIVE, "-."))
    m = len(widths_up)
    ax = get_ax(ax, (6.4, 1.6 + 0.35 * (m + len(marks))))
    y = np.arange(m)
    colors = [POSITIVE if w > 0 else NEGATIVE for w in widths_up]
    ax.barh(y, widths_up, left=lefts, color=colors)
    ax.set_yticks(y, labels[::-1])
    mark_rows = [-1.0] + [m + i for i in range(len(marks) - 1)]
    for (x, _, color, style), yy in zip(marks, mark_rows, strict=True):
        ax.plot(
            [x, x], [min(yy, -0.5), max(yy, m - 0.5)], color=color, linestyle=style, linewidth=0.9
        )
    ax.set_ylim(-1.5, m - 0.5 + len(marks) - 1)
    ax.set_xlabel(wrap(subject, 60))
    ax.set_ylabel("feature = value")
    compact_ticks(ax.xaxis)
    shown = model_out if model_out is not None else total
    ax.set_title(title or wrap(f"{row_name(exp, row, row_id)}: {subject} = {shown:.3g}", 60))
    specs: list[_Spec] = [
        (float(e), float(yy), f"{w:+.3g}", bool(w >= 0), {})
        for e, w, yy in zip(ends, widths_up, y, strict=True)
    ]
    lo = min(float(lefts.min()), base)
    hi = max(float(ends.max()), base, total)
    xs = [mk[0] for mk in marks]
    mid = 0.5 * (min(lo, *xs) + max(hi, *xs))
    for (x, name, color, _), yy in zip(marks, mark_rows, strict=True):
        specs.append(
            (
                x,
                yy,
                f"{name} = {x:.3g}",
                x <= mid,
                {"color": color if color != NEUTRAL else "#555555"},
            )
        )
    _place_labels(ax, specs, min(lo, *xs), max(hi, *xs))
    return ax


def _valid(exp: Explanation, row: int) -> int | None:
    """``row`` when it indexes the explained rows (the range error comes later, by name)."""
    return row if -exp.n_rows <= row < exp.n_rows else None


def _model_prediction(exp: Explanation, row: int, total: float) -> float | None:
    """The model's own prediction when the attributions do not add up to it (a surrogate's
    weights, or an approximation), else None: then f(x) is the bars' end."""
    if exp.output is None:
        return None
    out = float(np.asarray(exp.output)[row])
    scale = max(abs(out), abs(total), 1e-12)
    if exp.method.startswith("lime") or abs(out - total) > 1e-6 * scale:
        return out
    return None


# A label: anchor x, row y, text, whether it reaches right, text style.
_Spec = tuple[float, float, str, bool, dict[str, Any]]
_LABEL_GAP_PT = 3.0  # between a bar's end and its value label
_LABEL_FONT = 8.0


def _value_labels(
    ax: Any, ends: np.ndarray, widths: np.ndarray, y: np.ndarray, data_lo: float
) -> None:
    """Each bar's value beside its end (right of a rise, left of a fall)."""
    specs: list[_Spec] = [
        (float(e), float(yy), f"{w:+.3g}", bool(w >= 0), {})
        for e, w, yy in zip(ends, widths, y, strict=True)
    ]
    data_hi = max(float(np.max(ends)), float(data_lo))
    data_lo = min(float(np.min(ends)), float(data_lo))
    _place_labels(ax, specs, data_lo, data_hi)


def _place_labels(
    ax: Any,
    specs: list[_Spec],
    data_lo: float,
    data_hi: float,
) -> None:
    """Labels ``(x, y, text, rightward, style)`` beside their anchors, clear of every bar
    and of the feature names.

    A label sits a fixed gap past its anchor (right of it when ``rightward``,
    else left), so it never covers its own bar. It is kept inside the axes,
    away from the feature names: once the layout is known, the x limits are
    widened just enough for the widest labels (measured with the renderer).
    Neighbouring rows' bars start and end at this bar's ends, so a label must
    also be shorter than the gap between rows allows: the font shrinks when
    rows are packed tighter than the text is tall.
    """
    texts = [
        ax.annotate(
            text,
            xy=(x, yy),
            xytext=(_LABEL_GAP_PT if right else -_LABEL_GAP_PT, 0),
            textcoords="offset points",
            va="center",
            ha="left" if right else "right",
            fontsize=_LABEL_FONT,
            annotation_clip=False,
            **style,
        )
        for x, yy, text, right, style in specs
    ]
    anchors = np.array([s[0] for s in specs], dtype=float)
    rightward = np.array([s[3] for s in specs], dtype=bool)
    ax.figure.draw_without_rendering()
    _fit_names(ax)
    for _ in range(2):  # the layout can move once more after the limits change
        ax.figure.draw_without_rendering()
        _fit_font(ax, texts)
        _fit_xlim(ax, texts, anchors, rightward, data_lo, data_hi)


def _fit_names(ax: Any) -> None:
    """Feature names one row tall at most: rows packed tighter than a wrapped name is
    tall get the name on one line, then a smaller font (measured with the renderer)."""
    labels = [t for t in ax.get_yticklabels() if t.get_text()]
    if not labels:
        return
    lo, hi = ax.get_ylim()
    row_px = ax.get_window_extent().height / max(abs(hi - lo), 1e-12)

    def tallest() -> float:
        return max(t.get_window_extent().height for t in labels)

    if tallest() <= 0.95 * row_px:
        return
    wrapped = [t.get_text() for t in ax.get_yticklabels()]
    if any("\n" in w for w in wrapped) and _room_to_unwrap(ax, labels):
        ax.set_yticks(ax.get_yticks(), [w.replace("\n", "") for w in wrapped])
        ax.figure.draw_without_rendering()
        labels = [t for t in ax.get_yticklabels() if t.get_text()]
    height = tallest()
    if height > 0.95 * row_px:
        size = max(labels[0].get_fontsize() * 0.95 * row_px / height, 1.0)
        ax.tick_params(axis="y", labelsize=size)


def _room_to_unwrap(ax: Any, labels: list[Any]) -> bool:
    """Whether the names on one line each still leave the bars 40% of the figure's width."""
    probe = ax.figure.text(0, 0, "", fontproperties=labels[0].get_fontproperties())
    widest = 0.0
    for t in labels:
        probe.set_text(t.get_text().replace("\n", ""))
        widest = max(widest, probe.get_window_extent().width)
    probe.remove()
    growth = widest - max(t.get_window_extent().width for t in labels)
    return bool(ax.get_window_extent().width - growth >= 0.4 * ax.figure.bbox.width)


def _fit_font(ax: Any, texts: list[Any]) -> None:
    """Shrink the labels until each is at most 90% of a row tall (bars fill 80%)."""
    box = ax.get_window_extent()
    lo, hi = ax.get_ylim()
    row_px = box.height / max(abs(hi - lo), 1e-12)
    tallest = max(t.get_window_extent().height for t in texts)
    if tallest > 0.9 * row_px:
        size = max(texts[0].get_fontsize() * 0.9 * row_px / tallest, 1.0)
        for t in texts:
            t.set_fontsize(size)


def _fit_xlim(
    ax: Any,
    texts: list[Any],
    anchors: np.ndarray,
    rightward: np.ndarray,
    data_lo: float,
    data_hi: float,
) -> None:
    """The narrowest x limits that keep every bar and every label inside the axes.

    With ``s`` pixels per data unit, a label anchored at data ``x`` reaching
    ``w`` pixels right needs ``(x - left) * s + w <= W`` and one reaching left
    needs ``(x - left) * s - w >= 0``. The largest ``s`` that fits all labels
    (found by bisection: the room needed grows with ``s``) gives the limits.
    """
    width_px = ax.get_window_extent().width
    pad = 4.0  # pixels between the outermost label and the axes frame
    reach = np.array([t.get_window_extent().width for t in texts]) + _LABEL_GAP_PT * (
        ax.figure.dpi / 72.0
    )
    xs = np.r_[anchors, data_lo, data_hi]
    right = np.r_[np.where(rightward, reach, 0.0), 0.0, 0.0] + pad
    left = np.r_[np.where(rightward, 0.0, reach), 0.0, 0.0] + pad

    def limits(s: float) -> tuple[float, float]:
        return float(np.min(xs - left / s)), float(np.max(xs + right / s))

    span = max(data_hi - data_lo, 1e-12 * max(abs(data_hi), abs(data_lo), 1.0))
    lo_s, hi_s = 1e-12, width_px / span
    for _ in range(60):
        mid = 0.5 * (lo_s + hi_s)
        a, b = limits(mid)
        if (b - a) * mid <= width_px:
            lo_s = mid
        else:
            hi_s = mid
    ax.set_xlim(*limits(lo_s))


def _interaction_partner(values: np.ndarray, data: np.ndarray, j: int) -> int | None:
    """The feature whose value best explains the spread of feature j's attributions.

    Rows are sorted by feature j and cut into chunks; within each chunk the
    attribution's correlation with every other feature is measured, and the
    feature with the largest total |correlation| wins (shap's
    ``approximate_interactions`` heuristic).
    """
    n, d = values.shape
    if d < 2 or n < 4:
        return None
    xj = numeric_column(data, j)
    order = np.argsort(xj if xj is not None else np.arange(n), kind="stable")
    chunk = max(min(50, n // 4), 4)
    scores = np.zeros(d)
    for k in range(d):
        if k == j:
            continue
        other = color_codes(data, k)
        if other is None:
            continue
        total = 0.0
        for start in range(0, n - chunk + 1, chunk):
            sl = order[start : start + chunk]
            a, b = values[sl, j], other[sl]
            ok = np.isfinite(b)
            if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
                continue
            total += abs(np.corrcoef(a[ok], b[ok])[0, 1])
        scores[k] = total
    scores[j] = -np.inf
    best = int(np.argmax(scores))
    return best if scores[best] > 0 else None


def dependence(
    explanation: Explanation,
    feature: str | int,
    *,
    color: str | int | None = "auto",
    ax: Any = None,
    output: int | str | None = None,
    units: Mapping[str, str] | None = None,
    target: str | None = None,
    title: str | None = None,
) -> Any:
    """Feature value against its attribution, one point per row, coloured by
    the feature it interacts with most (``color="auto"``), a named feature, or nothing (None).

    A numeric colour feature gets a colour bar whose ends print its real
    values; a categorical one a legend of its categories.
    """
    tabular_only(explanation, "dependence()")
    check_units(units, explanation.feature_names, "dependence()")
    names = list(explanation.feature_names)
    j = feature_index(names, feature, "dependence()")
    partner = None
    if color not in ("auto", None):
        partner = feature_index(names, color, "dependence()", param="color feature")
    exp, subject = select_output(explanation, output, target)
    if exp.data is None or exp.data.ndim != 2:
        raise ValueError("dependence() needs the explained data (Explanation.data).")
    values = np.asarray(exp.values, dtype=float)
    if color == "auto":
        k = _interaction_partner(values, exp.data, j)
    else:
        k = partner
    return _dependence_scatter(exp, values[:, j], j, k, subject, ax, units, title)


def _dependence_scatter(
    exp: Explanation,
    y: np.ndarray,
    j: int,
    k: int | None,
    subject: str,
    ax: Any,
    units: Mapping[str, str] | None,
    title: str | None,
    quantity: str | None = None,
) -> Any:
    """Feature j's values (x) against ``y``, coloured by feature k (or plain)."""
    from ._base import category_order

    names = list(exp.feature_names)
    assert exp.data is not None
    x = numeric_column(exp.data, j)
    ticks = None
    if x is None:
        column = exp.data[:, j]
        ticks = category_order(column, model_categories(exp, names[j]))
        where = {c: i for i, c in enumerate(ticks)}
        x = np.array([where.get(v, np.nan) for v in column], dtype=float)
    ax = get_ax(ax, (6.4, 4.2))
    if k is None:
        ax.scatter(x, y, s=10, c=NEGATIVE, linewidths=0)
    else:
        unit = (units or {}).get(names[k])
        color_by(
            ax, x, y, exp.data, k, names[k], unit=unit, categories=model_categories(exp, names[k])
        )
    if ticks is not None:
        ax.set_xticks(np.arange(len(ticks)), [wrap(str(t), 12) for t in ticks])
    else:
        value_ticks(ax.xaxis, x)
    compact_ticks(ax.yaxis)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel(with_unit(names[j], units))
    ax.set_ylabel(wrap(axis_title(quantity or f"attribution of {names[j]}", subject), 40))
    ax.set_title(title or f"Dependence on {names[j]}")
    return ax
