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
    check_result,
    check_units,
    color_codes,
    compact_ticks,
    feature_index,
    feature_label,
    get_ax,
    numeric_column,
    select_output,
    tabular_only,
    top_features,
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
    """Horizontal bars of mean importance with 95% intervals, largest at the top."""
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
    score = "score drop" if result.method == "permutation_importance" else "importance"
    ax.set_xlabel(f"{score} (mean" + (", 95% interval)" if has_ci else ")"))
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
    title: str | None = None,
) -> Any:
    """Mean |attribution| per feature over the rows; a single row shows its signed values,
    labelled "feature = value" (or by ``labels``, one per feature, e.g. LIME's conditions)."""
    tabular_only(explanation, "bar()")
    check_units(units, explanation.feature_names, "bar()")
    exp, out_name = select_output(explanation, output)
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
    ax.axvline(0, color="black", linewidth=0.6)
    what = "attribution" if single else "mean |attribution|"
    ax.set_xlabel(f"{exp.method or 'attribution'}: {what}" + (f" ({out_name})" if out_name else ""))
    ax.set_title(title or ("Attributions for one row" if single else "Mean absolute attribution"))
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
    title: str | None = None,
) -> Any:
    """SHAP summary: one row of points per feature (largest mean |value| at the top),
    x the attribution, colour the feature's value (low blue to high red, grey missing)."""
    tabular_only(explanation, "beeswarm()")
    exp, out_name = select_output(explanation, output)
    values = np.asarray(exp.values, dtype=float)
    d = values.shape[1]
    idx = list(top_features(np.abs(values).mean(axis=0), min(max_features, d)))
    rest = [j for j in range(d) if j not in idx]
    ax = get_ax(ax, (6.4, 1.0 + 0.4 * (len(idx) + bool(rest))))
    import matplotlib as mpl

    cmap = mpl.colormaps["coolwarm"]
    rows: list[tuple[str, np.ndarray, np.ndarray | None]] = [
        (wrap(exp.feature_names[j]), values[:, j], color_codes(exp.data, j)) for j in idx
    ]
    if rest:
        rows.append((f"{len(rest)} other features", values[:, rest].sum(axis=1), None))
    n_rows = len(rows)
    for pos, (_, x, codes) in enumerate(rows):
        y = (n_rows - 1 - pos) + _swarm_offsets(x)
        if codes is None:
            ax.scatter(x, y, s=8, c=NEUTRAL, linewidths=0, rasterized=len(x) > 500)
            continue
        missing = np.isnan(codes)
        if missing.any():
            ax.scatter(x[missing], y[missing], s=8, c=NEUTRAL, linewidths=0)
        ax.scatter(
            x[~missing],
            y[~missing],
            s=8,
            c=codes[~missing],
            cmap=cmap,
            vmin=0,
            vmax=1,
            linewidths=0,
            rasterized=len(x) > 500,
        )
    ax.set_yticks(np.arange(n_rows)[::-1], [r[0] for r in rows])
    ax.set_ylim(-0.6, n_rows - 0.4)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel(f"{exp.method or 'attribution'} value" + (f" ({out_name})" if out_name else ""))
    if exp.data is not None:
        cbar = ax.figure.colorbar(
            mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 1), cmap=cmap), ax=ax, aspect=40
        )
        cbar.set_ticks([0, 1], labels=["low", "high"])
        cbar.set_label("feature value")
    ax.set_title(title or "Attribution summary")
    return ax


def waterfall(
    explanation: Explanation,
    row: int = 0,
    *,
    ax: Any = None,
    max_features: int = 10,
    output: int | str | None = None,
    units: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Any:
    """How one row's prediction is built from the base value, one feature at a time.

    Features are ordered by |attribution| (largest at the top); the rest are
    pooled into one bar at the bottom. Each bar starts where the previous
    one ended, so the top bar ends at base + sum(values) = the prediction.
    """
    tabular_only(explanation, "waterfall()")
    check_units(units, explanation.feature_names, "waterfall()")
    exp, out_name = select_output(explanation, output)
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
        feature_label(exp.feature_names[j], exp.data[row, j] if exp.data is not None else "", units)
        if exp.data is not None
        else wrap(exp.feature_names[j])
        for j in keep
    ]
    widths = list(values[keep])
    if rest.size:
        labels.append(f"{rest.size} other features")
        widths.append(float(values[rest].sum()))
    # draw from the bottom (the pooled rest, then smallest) to the top (largest)
    widths_up = widths[::-1]
    labels_up = labels[::-1]
    lefts = base + np.concatenate([[0.0], np.cumsum(widths_up)[:-1]])
    ax = get_ax(ax, (6.4, 1.2 + 0.35 * len(widths)))
    y = np.arange(len(widths_up))
    colors = [POSITIVE if w > 0 else NEGATIVE for w in widths_up]
    ax.barh(y, widths_up, left=lefts, color=colors)
    ax.set_yticks(y, labels_up)
    total = base + float(np.sum(widths))
    ax.axvline(base, color=NEUTRAL, linestyle="--", linewidth=0.8)
    ax.axvline(total, color="black", linestyle=":", linewidth=0.8)
    ax.set_xlabel(
        f"base {base:.4g} → prediction {total:.4g}" + (f" ({out_name})" if out_name else "")
    )
    ax.set_title(title or f"How row {row}'s prediction is reached")
    ax.set_ylim(-0.5, len(widths_up) - 0.5)
    ends = lefts + np.asarray(widths_up)
    _value_labels(ax, ends, np.asarray(widths_up), y, data_lo=min(lefts.min(), ends.min(), base))
    return ax


_LABEL_GAP_PT = 3.0  # between a bar's end and its value label
_LABEL_FONT = 8.0


def _value_labels(
    ax: Any, ends: np.ndarray, widths: np.ndarray, y: np.ndarray, data_lo: float
) -> None:
    """Each bar's value beside its end, clear of every bar and of the feature names.

    A label sits a fixed gap past the end of its bar (right of a rise, left
    of a fall), so it never covers its own bar. It is kept inside the axes,
    away from the feature names: once the layout is known, the x limits are
    widened just enough for the widest labels (measured with the renderer).
    Neighbouring rows' bars start and end at this bar's ends, so a label must
    also be shorter than the gap between rows allows: the font shrinks when
    rows are packed tighter than the text is tall.
    """
    texts = [
        ax.annotate(
            f"{w:+.3g}",
            xy=(end, yy),
            xytext=(_LABEL_GAP_PT if w >= 0 else -_LABEL_GAP_PT, 0),
            textcoords="offset points",
            va="center",
            ha="left" if w >= 0 else "right",
            fontsize=_LABEL_FONT,
            annotation_clip=False,
        )
        for end, w, yy in zip(ends, widths, y, strict=True)
    ]
    data_hi = max(float(ends.max()), float(data_lo))
    data_lo = min(float(ends.min()), float(data_lo))
    for _ in range(2):  # the layout can move once more after the limits change
        ax.figure.draw_without_rendering()
        _fit_font(ax, texts)
        _fit_xlim(ax, texts, ends, widths >= 0, data_lo, data_hi)


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
    title: str | None = None,
) -> Any:
    """Feature value against its attribution, one point per row, coloured by
    the feature it interacts with most (``color="auto"``), a named feature, or nothing (None)."""
    tabular_only(explanation, "dependence()")
    check_units(units, explanation.feature_names, "dependence()")
    names = list(explanation.feature_names)
    j = feature_index(names, feature, "dependence()")
    partner = None
    if color not in ("auto", None):
        partner = feature_index(names, color, "dependence()", param="color feature")
    exp, out_name = select_output(explanation, output)
    if exp.data is None or exp.data.ndim != 2:
        raise ValueError("dependence() needs the explained data (Explanation.data).")
    values = np.asarray(exp.values, dtype=float)
    x = numeric_column(exp.data, j)
    ticks = None
    if x is None:
        import pandas as pd

        codes, uniques = pd.factorize(pd.Series(exp.data[:, j]), sort=True)
        x = codes.astype(float)
        ticks = list(uniques)
    if color == "auto":
        k = _interaction_partner(values, exp.data, j)
    elif color is None:
        k = None
    else:
        k = partner
    ax = get_ax(ax, (6.4, 4.2))
    y = values[:, j]
    if k is None:
        ax.scatter(x, y, s=10, c=NEGATIVE, linewidths=0)
    else:
        import matplotlib as mpl

        codes = color_codes(exp.data, k)
        assert codes is not None
        missing = np.isnan(codes)
        ax.scatter(x[missing], y[missing], s=10, c=NEUTRAL, linewidths=0)
        ax.scatter(
            x[~missing],
            y[~missing],
            s=10,
            c=codes[~missing],
            cmap="coolwarm",
            vmin=0,
            vmax=1,
            linewidths=0,
        )
        cbar = ax.figure.colorbar(
            mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 1), cmap="coolwarm"),
            ax=ax,
            aspect=40,
        )
        cbar.set_ticks([0, 1], labels=["low", "high"])
        cbar.set_label(wrap(names[k]))
    if ticks is not None:
        ax.set_xticks(np.arange(len(ticks)), [wrap(str(t), 12) for t in ticks])
    else:
        compact_ticks(ax.xaxis)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel(with_unit(names[j], units))
    ax.set_ylabel(f"attribution of {names[j]}" + (f" ({out_name})" if out_name else ""))
    ax.set_title(title or f"Dependence on {names[j]}")
    return ax
