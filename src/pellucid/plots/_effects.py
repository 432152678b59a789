"""Plots of effects (PartialDependence): PD with ICE, ALE, and the two-feature heat map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._results import PartialDependence
from ._base import (
    NEGATIVE,
    NEUTRAL,
    compact_ticks,
    get_ax,
    output_subject,
    select_pd_output,
    target_of,
    value_ticks,
    with_unit,
    wrap,
)


def _subject(result: PartialDependence, out_name: str | None, target: str | None) -> str:
    """The predicted quantity in words, from the unit the result records (if any)."""
    kind = result.params.get("output_kind")
    return output_subject(
        kind if isinstance(kind, str) else None, out_name, target_of(result, target)
    )


def shared_xlim(*results: PartialDependence) -> tuple[float, float] | None:
    """One x range for one-feature results drawn side by side (PD and ALE of one feature).

    Numeric results: from the smallest to the largest grid value of any of
    them. Categorical ones (drawn at positions 0..k-1): half a slot beyond
    the first and last category. None when there is nothing to share.
    """
    ones = [r for r in results if r is not None and len(r.features) == 1]
    cats = [bool(r.categorical and r.categorical[0]) for r in ones]
    if not ones:
        return None
    if all(cats):
        k = max(len(r.grid_values[0]) for r in ones)
        return -0.5, k - 0.5
    spans = [
        (float(np.nanmin(g)), float(np.nanmax(g)))
        for r, cat in zip(ones, cats, strict=True)
        if not cat
        for g in [np.asarray(r.grid_values[0], dtype=float)]
        if g.size
    ]
    if not spans or any(cats):
        return None  # a numeric and a categorical view of one feature share no axis
    return min(a for a, _ in spans), max(b for _, b in spans)


def _numeric_axis(ax: Any, grid: np.ndarray, xlim: tuple[float, float] | None) -> None:
    value_ticks(ax.xaxis, grid)
    if xlim is not None:
        ax.set_xlim(*xlim)


def _check_one_feature(result: PartialDependence, what: str) -> None:
    if not isinstance(result, PartialDependence):
        raise TypeError(f"{what} takes a PartialDependence; got {type(result).__name__}.")
    if len(result.features) != 1:
        raise ValueError(
            f"{what} draws one feature; this result has {len(result.features)} "
            f"({list(result.features)}). Use plots.pd_heatmap for two."
        )


def _categorical_ticks(ax: Any, grid: np.ndarray) -> np.ndarray:
    x = np.arange(len(grid), dtype=float)
    ax.set_xticks(x, [wrap(str(g), 12) for g in grid])
    return x


def partial_dependence(
    result: PartialDependence,
    *,
    ax: Any = None,
    output: int | str | None = None,
    max_ice: int = 100,
    centered: bool = False,
    units: Mapping[str, str] | None = None,
    target: str | None = None,
    xlim: tuple[float, float] | None = None,
    title: str | None = None,
) -> Any:
    """Partial dependence (thick line) over up to ``max_ice`` ICE curves (thin lines).

    ICE curves are drawn for evenly spaced rows, so the choice is reproducible.
    ``centered=True`` starts every curve at zero (c-ICE), which shows
    interactions as fanning lines. ``xlim``: the x range, to match an ALE plot
    of the same feature drawn beside it (see :func:`shared_xlim`).
    """
    _check_one_feature(result, "partial_dependence()")
    o, out_name = select_pd_output(result, output)
    grid = result.grid_values[0]
    feature = result.features[0]
    categorical = bool(result.categorical[0]) if result.categorical else False
    ax = get_ax(ax, (5.0, 3.6))
    x = _categorical_ticks(ax, grid) if categorical else np.asarray(grid, dtype=float)
    if categorical and xlim is not None:
        ax.set_xlim(*xlim)
    average = None if result.average is None else np.asarray(result.average[o], dtype=float)
    ice = None if result.individual is None else np.asarray(result.individual[o], dtype=float)
    if centered:
        if ice is not None:
            ice = ice - ice[:, :1]
        if average is not None:
            average = average - average[0]
    if ice is not None and max_ice > 0:
        pick = np.unique(np.linspace(0, ice.shape[0] - 1, min(max_ice, ice.shape[0])).astype(int))
        style = {"marker": "o", "markersize": 2, "linestyle": ":"} if categorical else {}
        ax.plot(x, ice[pick].T, color=NEUTRAL, alpha=0.25, linewidth=0.6, **style)
    if average is not None:
        if categorical:
            ax.plot(x, average, color=NEGATIVE, marker="o", linewidth=0, markersize=7)
        else:
            ax.plot(x, average, color=NEGATIVE, linewidth=2.5, label="average (PD)")
    if not categorical:
        _numeric_axis(ax, x, xlim)
    compact_ticks(ax.yaxis)
    ax.set_xlabel(with_unit(feature, units))
    subject = _subject(result, out_name, target)
    ax.set_ylabel(wrap(f"centred {subject}" if centered else f"average {subject}", 40))
    kind = (
        "PD and ICE" if ice is not None and average is not None else "PD" if ice is None else "ICE"
    )
    ax.set_title(title or wrap(f"{kind}: {feature}", 40))
    return ax


def ale(
    result: PartialDependence,
    *,
    ax: Any = None,
    output: int | str | None = None,
    units: Mapping[str, str] | None = None,
    target: str | None = None,
    xlim: tuple[float, float] | None = None,
    title: str | None = None,
) -> Any:
    """Accumulated local effects of one feature (centred on zero); bars for categories.
    ``xlim``: the x range, to match a PD plot of the same feature (:func:`shared_xlim`)."""
    _check_one_feature(result, "ale()")
    if result.average is None:
        raise ValueError("This result has no average curve to draw.")
    o, out_name = select_pd_output(result, output)
    grid = result.grid_values[0]
    feature = result.features[0]
    values = np.asarray(result.average[o], dtype=float)
    ax = get_ax(ax, (5.0, 3.6))
    if result.categorical and result.categorical[0]:
        x = _categorical_ticks(ax, grid)
        ax.bar(x, values, color=NEGATIVE)
        if xlim is not None:
            ax.set_xlim(*xlim)
    else:
        ax.plot(np.asarray(grid, dtype=float), values, color=NEGATIVE, linewidth=2.5)
        _numeric_axis(ax, np.asarray(grid, dtype=float), xlim)
    compact_ticks(ax.yaxis)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel(with_unit(feature, units))
    subject = _subject(result, out_name, target)
    ax.set_ylabel(wrap(f"accumulated local effect ({subject})", 40))
    ax.set_title(title or wrap(f"ALE: {feature}", 40))
    return ax


def pd_heatmap(
    result: PartialDependence,
    *,
    ax: Any = None,
    output: int | str | None = None,
    units: Mapping[str, str] | None = None,
    target: str | None = None,
    title: str | None = None,
) -> Any:
    """Two-feature partial dependence as a heat map with a colour bar.

    Rows of the image follow the second feature, columns the first, so the
    first feature reads along the x axis.
    """
    if not isinstance(result, PartialDependence):
        raise TypeError(f"pd_heatmap() takes a PartialDependence; got {type(result).__name__}.")
    if len(result.features) != 2 or result.average is None:
        raise ValueError(
            f"pd_heatmap() needs a two-feature average; got features {list(result.features)}."
        )
    o, out_name = select_pd_output(result, output)
    z = np.asarray(result.average[o], dtype=float)  # (len(grid0), len(grid1))
    ax = get_ax(ax, (5.4, 4.2))
    g0, g1 = result.grid_values
    cat = result.categorical or (False, False)
    x = np.arange(len(g0)) if cat[0] else np.asarray(g0, dtype=float)
    y = np.arange(len(g1)) if cat[1] else np.asarray(g1, dtype=float)
    mesh = ax.pcolormesh(x, y, z.T, shading="nearest", cmap="viridis")
    cbar = ax.figure.colorbar(mesh, ax=ax)
    cbar.set_label(wrap(f"average {_subject(result, out_name, target)}", 30))
    if cat[0]:
        ax.set_xticks(x, [wrap(str(g), 12) for g in g0])
    else:
        value_ticks(ax.xaxis, x)
    if cat[1]:
        ax.set_yticks(y, [wrap(str(g), 12) for g in g1])
    else:
        value_ticks(ax.yaxis, y)
    ax.set_xlabel(with_unit(result.features[0], units))
    ax.set_ylabel(with_unit(result.features[1], units))
    ax.set_title(title or wrap(f"PD: {result.features[0]} × {result.features[1]}", 40))
    return ax
