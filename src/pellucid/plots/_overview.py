"""Plots shap users reach for: force, decision, heatmap, interactions and cohorts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._results import Explanation
from ._attribution import _dependence_scatter, _valid
from ._base import (
    DIVERGING,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    axis_title,
    category_color,
    category_order,
    check_units,
    compact_labels,
    compact_ticks,
    feature_index,
    feature_label,
    get_ax,
    model_categories,
    round_out,
    row_name,
    select_output,
    tabular_only,
    target_of,
    top_features,
    value_cmap,
    wrap,
)


def _check_row(exp: Explanation, row: int, what: str) -> int:
    if not -exp.n_rows <= int(row) < exp.n_rows:
        raise IndexError(f"{what}: row {row} is out of range for {exp.n_rows} explained rows.")
    return int(row) % exp.n_rows


def force(
    explanation: Explanation,
    row: int = 0,
    *,
    ax: Any = None,
    max_labels: int = 6,
    output: int | str | None = None,
    units: Mapping[str, str] | None = None,
    target: str | None = None,
    row_id: Any = None,
    title: str | None = None,
) -> Any:
    """One prediction as shap's force plot, drawn statically: features pushing the
    output up (vermillion, from the left) and down (blue, from the right) meet at f(x).

    Segment widths are the attributions; the ``max_labels`` largest are named
    below the band ("feature = value"), staggered onto as many lines as needed
    so no two names overlap (measured with the renderer).
    """
    tabular_only(explanation, "force()")
    check_units(units, explanation.feature_names, "force()")
    exp, subject = select_output(explanation, output, target, _valid(explanation, row))
    row = _check_row(exp, row, "force()")
    values = np.asarray(exp.values[row], dtype=float)
    base = float(exp.base_values[row]) if exp.base_values is not None else 0.0
    total = base + float(values.sum())
    ax = get_ax(ax, (8.0, 2.6))
    from matplotlib.patches import Polygon

    up = [j for j in np.argsort(values)[::-1] if values[j] > 0]  # largest next to f(x)
    down = [j for j in np.argsort(values) if values[j] < 0]
    segments: list[tuple[int, float, float]] = []
    right = total
    for j in up:  # rises end at f(x), stacked leftwards
        segments.append((j, right - values[j], right))
        right -= values[j]
    left = total
    for j in down:  # falls start at f(x), stacked rightwards
        segments.append((j, left, left - values[j]))
        left -= values[j]
    span = max(
        max((b for _, _, b in segments), default=total)
        - min((a for _, a, _ in segments), default=total),
        1e-12,
    )
    tip = 0.012 * span
    for j, a, b in segments:
        rising = values[j] > 0
        color = POSITIVE if rising else NEGATIVE
        t = min(tip, 0.5 * (b - a))
        # a chevron pointing the way the feature pushes
        if rising:
            pts = [(a, 0), (b - t, 0), (b, 0.5), (b - t, 1), (a, 1), (a + t, 0.5)]
        else:
            pts = [(a + t, 0), (b, 0), (b - t, 0.5), (b, 1), (a + t, 1), (a, 0.5)]
        ax.add_patch(Polygon(pts, closed=True, facecolor=color, edgecolor="white", linewidth=0.8))
    ax.axvline(base, color=NEUTRAL, linestyle="--", linewidth=0.9)
    ax.axvline(total, color="black", linewidth=1.2)
    top = top_features(np.abs(values), min(max_labels, len(values)))
    named = [int(j) for j in top if values[j] != 0]
    lo = min([a for _, a, _ in segments] + [base, total])
    hi = max([b for _, _, b in segments] + [base, total])
    pad = 0.04 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.2, 1.9)
    white = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}
    ax.text(
        total, 1.15, f"f(x) = {total:.3g}", ha="center", va="bottom", fontweight="bold", bbox=white
    )
    ax.text(
        base, 1.55, f"E[f(X)] = {base:.3g}", ha="center", va="bottom", color="#555555", bbox=white
    )
    _stagger_names(ax, exp, row, named, segments, units)
    ax.set_yticks([])
    ax.set_xlabel(wrap(subject, 60))
    compact_ticks(ax.xaxis)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or wrap(f"{row_name(exp, row, row_id)}: {subject} = {total:.3g}", 70))
    return ax


def _stagger_names(
    ax: Any,
    exp: Explanation,
    row: int,
    named: list[int],
    segments: list[tuple[int, float, float]],
    units: Mapping[str, str] | None,
) -> list[Any]:
    """Names under their segments, each on the first line below the band where it
    clears every name already placed; the axes grow downwards for more lines."""
    where = {j: 0.5 * (a + b) for j, a, b in segments}
    texts: list[Any] = []
    lines: list[list[Any]] = []
    fig = ax.figure
    for j in sorted(named, key=lambda j: where[j]):
        value = exp.data[row, j] if exp.data is not None and exp.data.ndim == 2 else None
        text = (
            feature_label(exp.feature_names[j], value, units).replace("\n", " ")
            if value is not None
            else exp.feature_names[j]
        )
        color = POSITIVE if exp.values[row, j] > 0 else NEGATIVE
        for level in range(len(lines) + 1):
            y = -0.15 - 0.32 * level
            t = ax.text(where[j], y, text, ha="center", va="top", fontsize=8, color=color)
            fig.draw_without_rendering()
            box = t.get_window_extent()
            if level == len(lines):
                lines.append([])
            if all(_apart(box, other.get_window_extent()) for other in lines[level]):
                lines[level].append(t)
                texts.append(t)
                break
            t.remove()
    ax.set_ylim(-0.35 - 0.32 * max(len(lines), 1), 1.9)
    return texts


def _apart(a: Any, b: Any, gap: float = 4.0) -> bool:
    return a.x1 + gap <= b.x0 or b.x1 + gap <= a.x0


def decision(
    explanation: Explanation,
    *,
    ax: Any = None,
    max_features: int = 12,
    max_rows: int = 200,
    output: int | str | None = None,
    target: str | None = None,
    title: str | None = None,
) -> Any:
    """Many rows' predictions built feature by feature (shap's decision plot).

    Each line starts at its row's base value at the bottom and adds one
    feature's attribution per step, most important feature last, ending at
    the row's prediction at the top; lines are coloured by that prediction
    (colour bar with its real range). Up to ``max_rows`` evenly spaced rows.
    """
    tabular_only(explanation, "decision()")
    exp, subject = select_output(explanation, output, target)
    values = np.asarray(exp.values, dtype=float)
    n, d = values.shape
    pick = np.unique(np.linspace(0, n - 1, min(max_rows, n)).astype(int))
    values = values[pick]
    base = (
        np.asarray(exp.base_values, dtype=float)[pick]
        if exp.base_values is not None
        else np.zeros(len(pick))
    )
    order = list(top_features(np.abs(values).mean(axis=0), min(max_features, d)))[::-1]
    rest = [j for j in range(d) if j not in order]
    steps = ([values[:, rest].sum(axis=1)] if rest else []) + [values[:, j] for j in order]
    names = ([f"{len(rest)} other features"] if rest else []) + [
        wrap(exp.feature_names[j]) for j in order
    ]
    paths = base[:, None] + np.cumsum(np.column_stack(steps), axis=1)
    paths = np.column_stack([base, paths])  # (rows, steps + 1)
    ax = get_ax(ax, (6.4, 1.4 + 0.32 * len(names)))
    import matplotlib as mpl
    from matplotlib.collections import LineCollection

    y = np.arange(len(names) + 1) - 0.5
    final = paths[:, -1]
    lo, hi = round_out(float(final.min()), True), round_out(float(final.max()), False)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    cmap = value_cmap()
    lines = LineCollection(
        [np.column_stack([p, y]) for p in paths],
        array=final,
        cmap=cmap,
        norm=mpl.colors.Normalize(lo, hi),
        linewidths=0.9,
        alpha=0.8,
    )
    ax.add_collection(lines)
    ax.axvline(float(np.mean(base)), color=NEUTRAL, linestyle="--", linewidth=0.8)
    ax.set_xlim(float(paths.min()), float(paths.max()))
    ax.margins(x=0.04)
    ax.set_ylim(-0.5, len(names) - 0.5)
    ax.set_yticks(np.arange(len(names)), names)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_xlabel(wrap(f"{subject}, built up from E[f(X)] (dashed)", 60))
    ax.set_ylabel("feature (most important at the top)")
    compact_ticks(ax.xaxis)
    cbar = ax.figure.colorbar(lines, ax=ax, aspect=40)
    cbar.set_ticks([lo, hi], labels=compact_labels([lo, hi]))
    cbar.set_label(wrap(f"prediction: {subject}", 30))
    ax.set_title(title or f"Decision paths of {len(pick):,} rows")
    return ax


def heatmap(
    explanation: Explanation,
    *,
    ax: Any = None,
    max_features: int = 12,
    order: str = "output",
    output: int | str | None = None,
    target: str | None = None,
    title: str | None = None,
) -> Any:
    """Rows (x) by features (y) coloured by attribution, with each row's prediction drawn
    above them.

    ``order="output"`` sorts the rows by their prediction; ``"cluster"`` by a
    hierarchical clustering of their attributions (rows explained alike sit
    together). Features: largest mean |attribution| at the top.
    """
    tabular_only(explanation, "heatmap()")
    if order not in ("output", "cluster"):
        raise ValueError(f"heatmap(): order must be 'output' or 'cluster'; got {order!r}.")
    exp, subject = select_output(explanation, output, target)
    values = np.asarray(exp.values, dtype=float)
    n, d = values.shape
    base = np.asarray(exp.base_values, dtype=float) if exp.base_values is not None else np.zeros(n)
    prediction = base + values.sum(axis=1)
    if order == "output" or n < 3:
        rows = np.argsort(prediction, kind="stable")
    else:
        from scipy.cluster.hierarchy import leaves_list, linkage

        rows = leaves_list(linkage(values, method="average", optimal_ordering=True))
    feats = list(top_features(np.abs(values).mean(axis=0), min(max_features, d)))
    ax = get_ax(ax, (6.4, 2.0 + 0.3 * len(feats)))
    limit = round_out(float(np.abs(values[:, feats]).max()), False, 2) or 1.0
    image = ax.imshow(
        values[rows][:, feats].T,
        aspect="auto",
        cmap=DIVERGING,
        vmin=-limit,
        vmax=limit,
        interpolation="nearest",
        extent=(0.5, n + 0.5, len(feats) - 0.5, -0.5),
    )
    ax.set_yticks(np.arange(len(feats)), [wrap(exp.feature_names[j]) for j in feats])
    ax.set_xlabel(
        "rows, ordered by prediction" if order == "output" else "rows, clustered by attribution"
    )
    ax.set_ylabel("feature")
    compact_ticks(ax.xaxis, integer=True)
    top = ax.inset_axes((0.0, 1.04, 1.0, 0.22), sharex=ax)
    top.plot(np.arange(1, n + 1), prediction[rows], color="black", linewidth=1.0)
    top.axhline(float(np.mean(base)), color=NEUTRAL, linestyle="--", linewidth=0.8)
    top.tick_params(labelbottom=False, labelsize=7)
    top.set_ylabel("f(x)", fontsize=8)
    compact_ticks(top.yaxis)
    cbar = ax.figure.colorbar(image, ax=ax, aspect=30)
    cbar.set_label(wrap(axis_title(f"{exp.method or 'attribution'} value", subject), 30))
    if title is not False:
        top.set_title(title or f"Attributions of {n:,} rows")
    return ax


def interactions(
    explanation: Explanation,
    feature: str | int | None = None,
    *,
    ax: Any = None,
    max_features: int = 10,
    output: int | str | None = None,
    units: Mapping[str, str] | None = None,
    target: str | None = None,
    title: str | None = None,
) -> Any:
    """What :meth:`TreeShap.explain_interactions` computes, drawn.

    Without ``feature``: a matrix of mean |interaction| between the features
    with the largest interactions (off-diagonal: ``phi[i, j] + phi[j, i]``,
    the whole pairwise effect; the diagonal, main effects, left blank).
    With ``feature``: its SHAP value (``phi[i, :]`` summed) against its value,
    coloured by the partner it interacts with most.
    """
    exp = _check_interactions(explanation)
    names = list(exp.feature_names)
    one, subject = select_output(exp, output, target_of(explanation, target))
    values = np.asarray(one.values, dtype=float)
    pair = np.abs(values + np.swapaxes(values, 1, 2)).mean(axis=0)  # (d, d)
    np.fill_diagonal(pair, 0.0)
    if feature is None:
        return _interaction_matrix(pair, names, max_features, subject, ax, title)
    check_units(units, names, "interactions()")
    j = feature_index(names, feature, "interactions()")
    if exp.data is None or exp.data.ndim != 2:
        raise ValueError("interactions() needs the explained data (Explanation.data).")
    partner = int(np.argmax(pair[j])) if pair[j].max() > 0 else None
    flat = Explanation(
        values.sum(axis=2),
        data=exp.data,
        feature_names=tuple(names),
        method=exp.method,
        params=exp.params,
    )
    return _dependence_scatter(
        flat,
        values[:, j, :].sum(axis=1),
        j,
        partner,
        subject,
        ax,
        units,
        title
        or (
            f"{names[j]}, coloured by its strongest partner {names[partner]}"
            if partner is not None
            else f"{names[j]} (no interaction found)"
        ),
        quantity=f"SHAP value of {names[j]}",
    )


def _check_interactions(exp: Any) -> Explanation:
    from ._base import check_result

    check_result(exp, Explanation, "interactions()")
    shape = exp.feature_shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(
            "interactions() needs SHAP interaction values (n_rows, n_features, n_features) "
            f"from TreeShap.explain_interactions; got values of shape {exp.values.shape}."
        )
    return exp


def _interaction_matrix(
    pair: np.ndarray,
    names: list[str],
    max_features: int,
    subject: str,
    ax: Any,
    title: str | None,
) -> Any:
    keep = sorted(top_features(pair.sum(axis=1), min(max_features, len(names))))
    sub = pair[np.ix_(keep, keep)]
    masked = np.ma.masked_array(sub, mask=np.eye(len(keep), dtype=bool))
    k = len(keep)
    ax = get_ax(ax, (2.2 + 0.45 * k, 1.6 + 0.45 * k))
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"].with_extremes(bad="#eeeeee")
    image = ax.imshow(masked, cmap=cmap, vmin=0)
    ax.set_xticks(
        np.arange(k), [names[i] for i in keep], rotation=45, ha="right", rotation_mode="anchor"
    )
    ax.set_yticks(np.arange(k), [wrap(names[i]) for i in keep])
    ax.set_xlabel("feature")
    ax.set_ylabel("feature")
    cbar = ax.figure.colorbar(image, ax=ax, shrink=0.85)
    cbar.set_label(wrap(f"mean |interaction| ({subject})", 30))
    ax.set_title(title or "Pairwise interactions")
    return ax


def cohorts(
    explanation: Explanation,
    groups: Any,
    *,
    ax: Any = None,
    max_features: int = 10,
    output: int | str | None = None,
    target: str | None = None,
    categories: Any = None,
    title: str | None = None,
) -> Any:
    """Mean attribution per subgroup, side by side for each feature.

    ``groups``: a feature name (its values in ``Explanation.data`` are the
    cohorts) or one label per row. Cohorts keep the model's category order
    (``categories``, else the recorded one, else sorted); the legend gives
    each cohort's size. Features: largest mean |attribution| overall at the top.
    """
    tabular_only(explanation, "cohorts()")
    exp, subject = select_output(explanation, output, target)
    names = list(exp.feature_names)
    if isinstance(groups, str) and groups in names:
        if exp.data is None or exp.data.ndim != 2:
            raise ValueError("cohorts() by a feature needs the explained data (Explanation.data).")
        g = names.index(groups)
        labels = np.asarray(exp.data[:, g], dtype=object)
        legend_title = groups
        categories = categories if categories is not None else model_categories(exp, groups)
    else:
        labels = np.asarray(groups, dtype=object).ravel()
        if isinstance(groups, str):
            feature_index(names, groups, "cohorts()", param="groups")  # names the features
        if len(labels) != exp.n_rows:
            raise ValueError(f"cohorts(): got {len(labels)} group labels for {exp.n_rows} rows.")
        legend_title = str(getattr(groups, "name", None) or "cohort")
    order = category_order(labels, categories)
    if len(order) > 8:
        raise ValueError(
            f"cohorts() draws at most 8 cohorts side by side; got {len(order)}: {order[:10]}."
        )
    values = np.asarray(exp.values, dtype=float)
    feats = list(top_features(np.abs(values).mean(axis=0), min(max_features, values.shape[1])))
    k = len(order)
    ax = get_ax(ax, (6.4, 1.2 + 0.2 * len(feats) * max(k, 2)))
    height = 0.8 / k
    y = np.arange(len(feats))[::-1].astype(float)
    for c, cat in enumerate(order):
        hit = np.array([v == cat for v in labels], dtype=bool)
        if not hit.any():
            continue
        mean = values[hit][:, feats].mean(axis=0)
        ax.barh(
            y + 0.4 - (c + 0.5) * height,
            mean,
            height=height,
            color=category_color(c),
            label=f"{cat} (n = {int(hit.sum()):,})",
        )
    ax.set_yticks(y, [wrap(names[j]) for j in feats])
    ax.set_ylim(-0.5, len(feats) - 0.5)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel(wrap(axis_title(f"mean {exp.method or 'attribution'} value", subject), 60))
    ax.set_ylabel("feature")
    compact_ticks(ax.xaxis)
    ax.legend(
        title=legend_title,
        fontsize="small",
        title_fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    ax.set_title(title or f"Attributions by {legend_title}")
    return ax
