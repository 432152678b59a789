"""Every plot, drawn on fixed data, against a committed baseline PNG; and checks a
reader makes at a glance: no text on text, ticks that read back as the plotted values,
highlights readable at WCAG AA, every axis naming what it measures.

Baselines live in tests/baseline_images/. After a deliberate change of a plot,
regenerate them with ``PELLUCID_UPDATE_BASELINES=1 pytest tests/test_plots_images.py``
and look at every changed picture before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.testing.compare import compare_images  # noqa: E402

from _plot_cases import CASES, draw, rc, waterfall_30  # noqa: E402
from pellucid import plots  # noqa: E402
from pellucid.plots._base import contrast_ratio  # noqa: E402

BASELINES = Path(__file__).parent / "baseline_images"
# RMS difference (0-255 grey levels) allowed: identical renders give 0, anti-aliasing
# and FreeType differences stay well below 1; a changed bar, colour or label gives
# 3 or more (test_a_changed_plot_fails measures one).
TOL = 1.5


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=fig.dpi, metadata={"Software": None}, facecolor="white")


@pytest.mark.parametrize("name", sorted(CASES))
def test_plot_matches_its_baseline(name, tmp_path):
    with rc():
        fig = draw(name)
    actual = tmp_path / f"{name}.png"
    _save(fig, actual)
    expected = BASELINES / f"{name}.png"
    if os.environ.get("PELLUCID_UPDATE_BASELINES") == "1":
        BASELINES.mkdir(exist_ok=True)
        _save(fig, expected)
    assert expected.exists(), f"no baseline for {name}: run with PELLUCID_UPDATE_BASELINES=1"
    diff = compare_images(str(expected), str(actual), tol=TOL)
    assert diff is None, diff


def test_every_plot_has_a_baseline_case():
    drawn = {name.split("_row")[0] for name in CASES}
    helpers = {"labelled", "shared_xlim", "calibration_bins"}
    assert set(plots.__all__) - helpers <= drawn | {n for n in CASES}


def test_a_changed_plot_fails(tmp_path):
    """The tolerance lets a real change through: one waterfall bar 20% longer."""
    from dataclasses import replace

    from _plot_cases import credit_like

    exp = credit_like()
    values = np.array(exp.values)
    values[3, 2] *= 1.2
    changed = replace(exp, values=values, output=None)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc():
        size, _ = CASES["waterfall"]
        fig = Figure(figsize=size, dpi=50, layout="constrained")
        FigureCanvasAgg(fig)
        plots.waterfall(changed, 3, ax=fig.add_subplot())
        fig.canvas.draw()
    actual = tmp_path / "waterfall.png"
    _save(fig, actual)
    diff = compare_images(str(BASELINES / "waterfall.png"), str(actual), tol=TOL)
    assert diff is not None and "RMS" in diff


# ------------------------------------------------------------------ text never on text


def _texts(fig):
    """Every visible, non-empty text in the figure with its drawn box."""
    renderer = fig.canvas.get_renderer()
    out = []
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        out.append((t.get_text(), t.get_window_extent(renderer)))
    return out


def _overlaps(a, b, tol: float = 0.5) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


def _clashes(fig) -> list[tuple[str, str]]:
    texts = _texts(fig)
    return [
        (ta, tb) for i, (ta, a) in enumerate(texts) for tb, b in texts[i + 1 :] if _overlaps(a, b)
    ]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("figsize", [(6.4, 4.8), (5.0, 9.0)])
def test_no_two_texts_overlap_in_a_30_feature_waterfall(seed, figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    plots.waterfall(waterfall_30(seed), ax=fig.add_subplot(), max_features=30)
    fig.canvas.draw()
    texts = _texts(fig)
    assert len(texts) >= 30 + 30 + 2  # names, values, E[f(X)] and f(x)
    assert _clashes(fig) == []


@pytest.mark.parametrize(
    "name",
    [
        "bar",
        "bar_row",
        "force",
        "waterfall",
        "waterfall_lime",
        "cohorts",
        "compare_metrics",
        "compare_differences",
        "compare_calibration",
        "compare_importance",
    ],
)
def test_no_two_texts_overlap(name):
    with rc():
        fig = draw(name)
    assert _clashes(fig) == []


# ------------------------------------------------------------------ ticks read back

_SUFFIX = {"": 1.0, "k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def _read(label: str) -> float:
    text = label.replace("\u2212", "-").replace(",", "")
    match = re.fullmatch(r"(-?[0-9.]+)([kMBT]?)", text)
    assert match, f"unreadable tick label {label!r}"
    return float(match[1]) * _SUFFIX[match[2]]


def _ticks(axis):
    lo, hi = sorted(axis.get_view_interval())
    return [
        (loc, lab.get_text())
        for loc, lab in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=True)
        if lo - 1e-9 * (hi - lo) <= loc <= hi + 1e-9 * (hi - lo) and lab.get_text()
    ]


@pytest.mark.parametrize(
    ("name", "which"),
    [
        ("partial_dependence", "x"),
        ("ale", "x"),
        ("partial_dependence_integer", "x"),
        ("dependence", "x"),
        ("waterfall", "x"),
        ("force", "x"),
        ("decision", "x"),
        ("pd_heatmap", "x"),
        ("pd_heatmap", "y"),
        ("importance", "x"),
        ("compare_metrics", "x"),
        ("compare_differences", "x"),
        ("compare_importance", "x"),
        ("compare_importance_shap", "x"),
    ],
)
def test_tick_labels_parse_back_to_the_plotted_values(name, which):
    with rc():
        fig = draw(name)
    ax = fig.axes[0]
    ticks = _ticks(ax.xaxis if which == "x" else ax.yaxis)
    assert len(ticks) >= 2
    values = np.array([loc for loc, _ in ticks])
    step = np.diff(values).min()
    for loc, label in ticks:
        np.testing.assert_allclose(_read(label), loc, atol=1e-6 * step, err_msg=label)


def test_integer_axes_get_integer_ticks_and_categories_their_names():
    with rc():
        counts = draw("partial_dependence_integer").axes[0]
        cats = draw("partial_dependence_categorical").axes[0]
    locs = [loc for loc, _ in _ticks(counts.xaxis)]
    assert locs and all(float(v).is_integer() for v in locs)
    assert [t.get_text() for t in cats.get_xticklabels()] == [
        "employed",
        "self_employ\ned",
        "unemployed",
        "retired",
    ]


def test_colour_bars_print_real_values_at_their_ends():
    from _plot_cases import credit_like

    with rc():
        fig = draw("dependence")
    cbar_ax = fig.axes[1]
    labels = [t.get_text() for t in cbar_ax.get_yticklabels()]
    lo, hi = (_read(t) for t in labels)
    # the colouring feature's 5th and 95th percentiles, rounded outwards to 3 digits
    exp = credit_like()
    partner = [n for n in exp.feature_names if n in cbar_ax.get_ylabel()][0]
    col = exp.data[:, exp.feature_names.index(partner)].astype(float)
    p5, p95 = np.percentile(col, [5, 95])
    assert lo <= p5 and p95 <= hi
    np.testing.assert_allclose([lo, hi], [p5, p95], rtol=0.01, atol=0.01)


# ------------------------------------------------------------------ contrast


def test_contrast_ratio_matches_wcag_values():
    np.testing.assert_allclose(contrast_ratio("black", "white"), 21.0)
    np.testing.assert_allclose(contrast_ratio("white", "white"), 1.0)
    # #777777 on white is the well-known just-failing grey: 4.48:1
    np.testing.assert_allclose(contrast_ratio("#777777", "#ffffff"), 4.478, atol=1e-3)


def test_text_highlights_have_contrast_of_at_least_4_5():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from pellucid import Explanation

    # every shade of the scale, from strongest blue to strongest red
    values = np.linspace(-1, 1, 41)[None]
    exp = Explanation(values, np.zeros(1), feature_names=tuple(f"w{i}" for i in range(41)))
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = plots.text(exp, ax=fig.add_subplot())
    tokens = [t for t in ax.texts if t.get_bbox_patch() is not None]
    assert len(tokens) == 41
    ratios = [contrast_ratio(t.get_color(), t.get_bbox_patch().get_facecolor()) for t in tokens]
    assert min(ratios) >= 4.5, min(ratios)
    # and a key says what the colours mean, with real values at its ends
    key = fig.axes[1]
    assert "attribution" in key.get_xlabel()
    assert [t.get_text() for t in key.get_xticklabels()] == ["-1", "0", "1"]


# ------------------------------------------------------------------ axes say what they show


def _unlabelled(fig) -> list[str]:
    missing = []
    for ax in fig.axes:
        if not ax.axison:
            continue
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            shown = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            if shown and not label.strip():
                missing.append(f"{ax.get_label() or ax.get_title() or 'axes'}: {axis.axis_name}")
    return missing


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_axis_names_what_it_measures(name):
    with rc():
        fig = draw(name)
    assert _unlabelled(fig) == []


def test_axes_name_the_explained_output_row_and_score():
    with rc():
        waterfall = draw("waterfall").axes[0]
        lime = draw("waterfall_lime").axes[0]
        importance = draw("importance").axes[0]
    assert waterfall.get_xlabel() == "log-odds of default"
    assert waterfall.get_title().startswith("row 1,004: log-odds of default = ")
    assert lime.get_xlabel() == "P(default)"
    assert lime.get_title() == "row 1,245: P(default) = 0.95"
    assert importance.get_xlabel().startswith("drop in ROC AUC when shuffled")
