"""Plots state what they draw: tick labels read back as the plotted values, value
labels clear of bars and names, one clear error for a wrong feature or result type."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pellucid import PartialDependence, plots

mpl = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

_SUFFIX = {"": 1.0, "k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def _read_tick(label: str) -> float:
    """A tick label as a reader takes it: '20k' is 20,000, '1.5M' 1,500,000."""
    text = label.replace("\u2212", "-").replace(",", "")
    match = re.fullmatch(r"(-?[0-9.]+)([kMBT]?)", text)
    assert match, f"unreadable tick label {label!r}"
    return float(match[1]) * _SUFFIX[match[2]]


def _drawn_ticks(ax, axis: str = "x") -> tuple[np.ndarray, list[str]]:
    ax.figure.canvas.draw()
    which = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = sorted(which.get_view_interval())
    slack = 1e-9 * abs(hi - lo)
    pairs = [
        (loc, label.get_text())
        for loc, label in zip(which.get_majorticklocs(), which.get_majorticklabels(), strict=True)
        if lo - slack <= loc <= hi + slack
    ]
    return np.array([p[0] for p in pairs]), [p[1] for p in pairs]


RANGES = {
    "0-1": (0.0, 1.0),
    "0-100": (0.0, 100.0),
    "1e3-1e5": (1e3, 1e5),
    "income": (20_000.0, 100_000.0),
    "1e6-1e8": (1e6, 1e8),
    "negative": (-45_000.0, -2_000.0),
    "around zero": (-0.03, 0.07),
    "narrow, large": (1_000_000.0, 1_000_050.0),
}


@pytest.mark.parametrize("span", RANGES.values(), ids=RANGES.keys())
def test_pd_tick_labels_read_back_as_the_plotted_values(span):
    grid = np.linspace(*span, 9)
    pd_ = PartialDependence(("x",), (grid,), np.linspace(span[0], span[1], 9)[None] / 3)
    ax = Figure(figsize=(5, 3.6)).add_subplot()
    plots.partial_dependence(pd_, ax=ax)
    locs, labels = _drawn_ticks(ax)
    assert len(locs) >= 2
    step = np.diff(np.sort(locs)).min()
    read = np.array([_read_tick(lab) for lab in labels])
    np.testing.assert_allclose(read, locs, rtol=0, atol=1e-6 * step)


@pytest.mark.parametrize("span", [(20_000.0, 100_000.0), (-1e7, 1e7), (0.0, 1.0)])
def test_ale_and_heatmap_ticks_read_back(span):
    grid = np.linspace(*span, 7)
    ale = PartialDependence(("x",), (grid,), np.zeros((1, 7)), kind="ale")
    ax = Figure().add_subplot()
    plots.ale(ale, ax=ax)
    locs, labels = _drawn_ticks(ax)
    np.testing.assert_allclose([_read_tick(t) for t in labels], locs, atol=1e-9 * np.ptp(span))
    two = PartialDependence(("x", "y"), (grid, grid * 2), np.zeros((1, 7, 7)))
    ax = Figure().add_subplot()
    plots.pd_heatmap(two, ax=ax)
    for axis in ("x", "y"):
        locs, labels = _drawn_ticks(ax, axis)
        np.testing.assert_allclose(
            [_read_tick(t) for t in labels], locs, atol=1e-9 * 2 * np.ptp(span)
        )


def test_twenty_thousand_reads_twenty_thousand():
    from pellucid.plots._base import compact_labels

    assert compact_labels([0, 20_000, 40_000]) == ["0", "20k", "40k"]
    assert compact_labels([0, 2_000, 4_000, 8_000]) == ["0", "2,000", "4,000", "8,000"]
    assert compact_labels([1.5e6, 3e6]) == ["1.5M", "3.0M"]
    assert compact_labels([-0.2, 0.0, 0.2]) == ["-0.2", "0", "0.2"]
