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
    select_pd_output,
    with_unit,
    wrap,
)


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
    title: str | None = None,
) -> Any:
    """Partial dependence (thick line) over up to ``max_ice`` ICE curves (thin lines).

    ICE curves are drawn for evenly spaced rows, so the choice is reproducible.
    ``centered=True`` starts every curve at zero (c-ICE), which shows
    interactions as fanning lines.
    """
    _check_one_feature(result, "partial_dependence()")
    o, out_name = select_pd_output(result, output)
    grid = result.grid_values[0]
    feature = result.features[0]
    categorical = bool(result.categorical[0]) if result.categorical else False
    ax = get_ax(ax, (5.0, 3.6))
    x = _categorical_ticks(ax, grid) if categorical else np.asarray(grid, dtype=float)
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
        compact_ticks(ax.xaxis)
    ax.set_xlabel(with_unit(feature, units))
    ylab = "centred prediction" if centered else "prediction"
    ax.set_ylabel(ylab + (f" ({out_name})" if out_name else ""))
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
    title: str | None = None,
) -> Any:
    """Accumulated local effects of one feature (centred on zero); bars for categories."""
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
    else:
        ax.plot(np.asarray(grid, dtype=float), values, color=NEGATIVE, linewidth=2.5)
        compact_ticks(ax.xaxis)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel(with_unit(feature, units))
    ax.set_ylabel("accumulated local effect" + (f" ({out_name})" if out_name else ""))
    ax.set_title(title or wrap(f"ALE: {feature}", 40))
    return ax


def pd_heatmap(
    result: PartialDependence,
    *,
    ax: Any = None,
    output: int | str | None = None,
    units: Mapping[str, str] | None = None,
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
    cbar.set_label("prediction" + (f" ({out_name})" if out_name else ""))
    if cat[0]:
        ax.set_xticks(x, [wrap(str(g), 12) for g in g0])
    else:
        compact_ticks(ax.xaxis)
    if cat[1]:
        ax.set_yticks(y, [wrap(str(g), 12) for g in g1])
    else:
        compact_ticks(ax.yaxis)
    ax.set_xlabel(with_unit(result.features[0], units))
    ax.set_ylabel(with_unit(result.features[1], units))
    ax.set_title(title or wrap(f"PD: {result.features[0]} × {result.features[1]}", 40))
    return ax
