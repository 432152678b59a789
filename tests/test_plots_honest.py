"""Plots state what they draw: tick labels read back as the plotted values, value
labels clear of bars and names, one clear error for a wrong feature or result type."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pellucid import Anchor, Explanation, FeatureImportance, PartialDependence, Predicate, plots

mpl = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

import _plot_cases as _cases  # noqa: E402

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


# ------------------------------------------------------------------ waterfall labels


def _waterfall_30(seed: int = 0) -> Explanation:
    rng = np.random.default_rng(seed)
    d = 30
    values = rng.normal(size=(1, d)) * np.geomspace(5.0, 0.01, d) * rng.choice([-1, 1], size=d)
    values[0, :4] = [4.0, -3.9, 3.8, -3.7]  # long runs both ways: labels beside long bars
    data = rng.normal(50_000, 20_000, size=(1, d))
    names = tuple(f"feature_number_{j}_with_a_long_name" for j in range(d))
    return Explanation(values, np.array([0.5]), data=data, feature_names=names, method="m")


def _overlaps(a, b, tol: float = 0.5) -> bool:
    """Two display boxes share area (beyond half a pixel)."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


@pytest.mark.parametrize(
    "figsize", [None, (6.4, 4.8), (4.0, 6.0), (8.0, 12.0)], ids=["auto", "6x5", "4x6", "8x12"]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_waterfall_value_labels_clear_bars_and_names(figsize, seed):
    exp = _waterfall_30(seed)
    if figsize is None:
        import matplotlib.pyplot as plt

        ax = plots.waterfall(exp, ax=None, max_features=30)
    else:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = Figure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(fig)  # a real renderer: text extents as drawn
        ax = fig.add_subplot()
        plots.waterfall(exp, ax=ax, max_features=30)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    bars = [p.get_window_extent(renderer) for p in ax.patches]
    names = [t.get_window_extent(renderer) for t in ax.get_yticklabels() if t.get_text()]
    labels = [t for t in ax.texts if t.get_text()]
    # 30 value labels, and E[f(X)] and f(x) marked
    assert len(labels) == 32 and len(bars) == 30 and len(names) == 30
    assert {t.get_text().split(" = ")[0] for t in labels[30:]} == {"E[f(X)]", "f(x)"}
    axes_box = ax.get_window_extent(renderer)
    for text in labels:
        box = text.get_window_extent(renderer)
        assert axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1, text.get_text()
        for bar in bars:
            assert not _overlaps(box, bar), (text.get_text(), box, bar)
        for name in names:
            assert not _overlaps(box, name), (text.get_text(), box, name)
    if figsize is None:
        plt.close(fig)


# ------------------------------------------------------------------ one clear error


def _exp() -> Explanation:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(20, 3))
    return Explanation(data * 2.0, np.zeros(20), data=data, feature_names=("income", "age", "debt"))


def _comparison() -> object:
    """The smallest ModelComparison: two models, no metrics (a type check reads nothing else)."""
    from pellucid.comparison import ModelComparison

    empty = np.zeros((2, 0))
    return ModelComparison(
        models=("A", "B"),
        reference="A",
        n_rows=0,
        threshold=0.5,
        base_rate=0.5,
        metric_names=(),
        estimates=empty,
        lower=empty,
        upper=empty,
        differences={},
    )


def _results() -> dict[str, object]:
    from pellucid.metrics import ModelEvaluation

    return {
        "Explanation": _exp(),
        "FeatureImportance": FeatureImportance(np.ones((3, 2)), ("a", "b", "c")),
        "PartialDependence": PartialDependence(("a",), (np.arange(3.0),), np.zeros((1, 3))),
        "Anchor": Anchor((Predicate("a", ">", 1.0),), 0.9, 0.1),
        "ModelEvaluation": ModelEvaluation(task="regression", metrics={}, n_rows=0),
        "ModelComparison": _comparison(),
        "CounterfactualSet": _cases.counterfactual_set(),
    }


PLOT_TYPES = {
    "importance": "FeatureImportance",
    "bar": "Explanation",
    "beeswarm": "Explanation",
    "waterfall": "Explanation",
    "dependence": "Explanation",
    "image": "Explanation",
    "text": "Explanation",
    "partial_dependence": "PartialDependence",
    "ale": "PartialDependence",
    "pd_heatmap": "PartialDependence",
    "anchor": "Anchor",
    "confusion_matrix": "ModelEvaluation",
    "roc_curve": "ModelEvaluation",
    "precision_recall_curve": "ModelEvaluation",
    "calibration_curve": "ModelEvaluation",
    "residuals": "ModelEvaluation",
    "force": "Explanation",
    "decision": "Explanation",
    "heatmap": "Explanation",
    "interactions": "Explanation",
    "cohorts": "Explanation",
    "compare_metrics": "ModelComparison",
    "compare_differences": "ModelComparison",
    "compare_calibration": "ModelComparison",
    "compare_importance": "ModelComparison",
    "counterfactual": "CounterfactualSet",
}
# helpers that draw nothing
NOT_PLOTS = {"labelled", "shared_xlim", "calibration_bins"}


def test_every_plot_function_is_covered():
    assert set(PLOT_TYPES) | NOT_PLOTS == set(plots.__all__)


@pytest.mark.parametrize("name", sorted(PLOT_TYPES))
def test_wrong_result_type_is_one_type_error(name):
    fn = getattr(plots, name)
    expected = PLOT_TYPES[name]
    args = ("income",) if name in ("dependence", "cohorts") else ()
    for kind, result in _results().items():
        if kind == expected:
            continue
        ax = Figure().add_subplot()
        with pytest.raises(TypeError, match=rf"{name}\(\) takes an? {expected}; got {kind}"):
            fn(result, *args, ax=ax)
    ax = Figure().add_subplot()
    with pytest.raises(TypeError, match=rf"{name}\(\) takes an? {expected}; got ndarray"):
        fn(np.zeros((3, 3)), *args, ax=ax)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"feature": "incme"},
            r"unknown feature 'incme'\. Did you mean 'income'\? Available features: \['income', 'age', 'debt'\]",
        ),
        (
            {"feature": "salary"},
            r"unknown feature 'salary'\. Available features: \['income', 'age', 'debt'\]",
        ),
        (
            {"feature": 7},
            r"feature=7 is out of range for 3 features \(\['income', 'age', 'debt'\]\)",
        ),
        (
            {"feature": "age", "color": "dbt"},
            r"unknown color feature 'dbt'\. Did you mean 'debt'\?",
        ),
        ({"feature": "age", "color": 3}, r"color feature=3 is out of range"),
        (
            {"feature": "age", "units": {"incom": "USD"}},
            r"units names unknown feature\(s\) \['incom'\]",
        ),
    ],
)
def test_unknown_feature_in_dependence_is_one_value_error(kwargs, message):
    ax = Figure().add_subplot()
    with pytest.raises(ValueError, match=message):
        plots.dependence(_exp(), ax=ax, **kwargs)


@pytest.mark.parametrize("name", ["bar", "waterfall"])
def test_units_for_unknown_features_are_refused(name):
    with pytest.raises(ValueError, match=r"units names unknown feature\(s\) \['agee'\]"):
        getattr(plots, name)(_exp(), ax=Figure().add_subplot(), units={"agee": "years"})


def test_row_out_of_range_in_image_and_text():
    exp = Explanation(np.zeros((2, 4)), np.zeros(2), feature_names=tuple("abcd"))
    for fn in (plots.image, plots.text):
        with pytest.raises(IndexError, match="row 5 is out of range for 2"):
            fn(exp, 5, ax=Figure().add_subplot())


# ------------------------------------------------------------------ the unit of the output


@pytest.mark.parametrize(
    ("kind", "unit", "two_outputs"),
    [
        ("probability", "probability", "P(yes)"),
        ("log_odds", "log-odds", "log-odds of yes"),
        ("raw_margin", "raw margin", "raw margin for yes"),
        ("regression", "predicted value", "predicted yes"),
    ],
)
def test_axes_name_the_output_kind(kind, unit, two_outputs):
    from dataclasses import replace

    exp = replace(_exp(), output_kind=kind)
    two = Explanation(
        np.stack([exp.values, -exp.values], axis=-1),
        np.zeros((20, 2)),
        data=exp.data,
        feature_names=exp.feature_names,
        output_names=("no", "yes"),
        output_kind=kind,
    )
    labels = {
        "bar": plots.bar(exp, ax=Figure().add_subplot()).get_xlabel(),
        "beeswarm": plots.beeswarm(exp, ax=Figure().add_subplot()).get_xlabel(),
        "waterfall": plots.waterfall(exp, ax=Figure().add_subplot()).get_xlabel(),
        "dependence": plots.dependence(exp, "age", ax=Figure().add_subplot()).get_ylabel(),
    }
    for name, label in labels.items():
        assert label.replace("\n", " ").endswith(unit if name == "waterfall" else f"({unit})"), (
            name,
            label,
        )
    assert plots.bar(two, ax=Figure().add_subplot()).get_xlabel().endswith(f"({two_outputs})")


@pytest.mark.parametrize(
    ("kind", "output", "expected"),
    [
        ("probability", "1", "P(default)"),
        ("probability", "0", "P(default = 0)"),
        ("log_odds", "1", "log-odds of default"),
        ("probability", "setosa", "P(default = setosa)"),
        ("regression", None, "predicted default"),
        (None, None, "model output for default"),
    ],
)
def test_axes_name_the_target(kind, output, expected):
    from pellucid.plots._base import output_subject

    assert output_subject(kind, output, "default") == expected
    exp = Explanation(np.ones((2, 3)), np.zeros(2), feature_names=("a", "b", "c"), output_kind=kind)
    if output is None:
        label = plots.waterfall(exp, ax=Figure().add_subplot(), target="default").get_xlabel()
        assert label == expected


def test_without_output_kind_the_labels_say_the_unit_is_unknown():
    assert (
        plots.bar(_exp(), ax=Figure().add_subplot()).get_xlabel()
        == "attribution: mean |attribution| (model output)"
    )
    assert plots.waterfall(_exp(), ax=Figure().add_subplot()).get_xlabel() == "model output"
