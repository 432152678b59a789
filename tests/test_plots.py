"""Plot functions: tests on the artists they draw, from result objects built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from pellucid import Anchor, Explanation, FeatureImportance, PartialDependence, Predicate, plots
from pellucid.plots._base import NEGATIVE, POSITIVE

mpl = pytest.importorskip("matplotlib")
from matplotlib.collections import PathCollection, QuadMesh  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402


@pytest.fixture
def ax():
    # A Figure outside pyplot: nothing to close, nothing shown.
    return Figure(figsize=(6, 4)).add_subplot()


def _bars(ax) -> list[Rectangle]:
    from matplotlib.container import BarContainer

    return [p for c in ax.containers if isinstance(c, BarContainer) for p in c.patches]


def _yticklabels(ax) -> list[str]:
    """Tick labels from the bottom of the axes to the top."""
    pairs = zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)
    return [t.get_text() for _, t in sorted(pairs, key=lambda p: p[0])]


def _explanation(n=40, seed=0, names=("income", "age", "debt", "noise"), outputs=None):
    rng = np.random.default_rng(seed)
    d = len(names)
    data = rng.normal(size=(n, d))
    scale = np.array([3.0, 2.0, 1.0, 0.1])[:d]
    values = data * scale
    base = np.full(n, 0.5)
    if outputs:
        values = np.stack([-values, values], axis=-1)
        base = np.column_stack([1 - base, base])
        return Explanation(
            values, base, data=data, feature_names=names, output_names=outputs, method="m"
        )
    return Explanation(
        values, base, data=data, feature_names=names, output=base + values.sum(1), method="m"
    )


# ------------------------------------------------------------------ importance


def test_importance_bars_equal_means_sorted_with_intervals(ax):
    rng = np.random.default_rng(1)
    imp = np.array([0.1, 0.5, 0.3])[:, None] + 0.01 * rng.normal(size=(3, 8))
    fi = FeatureImportance(imp, ("a", "b", "c"), method="permutation")
    out = plots.importance(fi, ax=ax)
    assert out is ax
    bars = _bars(ax)
    # top to bottom: b, c, a
    order = np.argsort([-b.get_y() for b in bars])
    np.testing.assert_allclose([bars[i].get_width() for i in order], fi.importances_mean[[1, 2, 0]])
    labels = _yticklabels(ax)
    assert labels[::-1] == ["b", "c", "a"]
    # error bars span the 95% interval
    err = [c for c in ax.containers if hasattr(c, "errorbar")][0].errorbar
    segs = err.lines[2][0].get_segments()
    lows = sorted(s[0][0] for s in segs)
    np.testing.assert_allclose(lows, sorted(fi.ci_low))


def test_importance_max_features_and_type_error(ax):
    fi = FeatureImportance(np.arange(30.0), tuple(f"f{i}" for i in range(30)))
    plots.importance(fi, ax=ax, max_features=5)
    assert len(_bars(ax)) == 5
    assert _yticklabels(ax)[-1] == "f29"
    with pytest.raises(TypeError, match="FeatureImportance"):
        plots.importance(_explanation(), ax=ax)


def test_long_names_are_wrapped(ax):
    name = "a_very_long_feature_name_that_goes_on_and_on_forever"
    fi = FeatureImportance(np.array([1.0]), (name,))
    plots.importance(fi, ax=ax)
    label = _yticklabels(ax)[0]
    assert "\n" in label
    assert label.replace("\n", "") == name


# ------------------------------------------------------------------ bar


def test_bar_mean_abs_sorted(ax):
    exp = _explanation()
    plots.bar(exp, ax=ax)
    bars = sorted(_bars(ax), key=lambda r: -r.get_y())
    expected = np.sort(np.abs(exp.values).mean(0))[::-1]
    np.testing.assert_allclose([b.get_width() for b in bars], expected)
    assert _yticklabels(ax)[::-1][0] == "income"


def test_bar_single_row_signed_with_values_in_labels(ax):
    exp = _explanation()[3]
    plots.bar(exp, ax=ax)
    bars = sorted(_bars(ax), key=lambda r: -r.get_y())
    order = np.argsort(-np.abs(exp.values[0]))
    np.testing.assert_allclose([b.get_width() for b in bars], exp.values[0][order])
    for b in bars:  # red pushes up, blue down
        expected = POSITIVE.lower() if b.get_width() > 0 else NEGATIVE.lower()
        assert mpl.colors.to_hex(b.get_facecolor()) == expected
    top = _yticklabels(ax)[-1]
    assert top.startswith(exp.feature_names[order[0]] + " = ")


def test_multi_output_defaults_to_last_and_names_it(ax):
    exp = _explanation(outputs=("no", "yes"))
    plots.bar(exp, ax=ax)
    assert ax.get_xlabel().endswith("(model output for yes)")  # the class; unit unknown
    ax2 = Figure().add_subplot()
    plots.bar(exp, ax=ax2, output="no")
    assert ax2.get_xlabel().endswith("(model output for no)")
    with pytest.raises(KeyError, match="maybe"):
        plots.bar(exp, ax=ax, output="maybe")


# ------------------------------------------------------------------ beeswarm


def test_beeswarm_points_are_the_values_by_row(ax):
    exp = _explanation(n=200)
    plots.beeswarm(exp, ax=ax)
    colls = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(colls) == 4
    labels = _yticklabels(ax)[::-1]  # top first
    assert labels == ["income", "age", "debt", "noise"]
    for c in colls:
        xy = np.asarray(c.get_offsets())
        row = int(np.round(np.median(xy[:, 1])))
        feature = labels[len(labels) - 1 - row]
        j = exp.feature_names.index(feature)
        np.testing.assert_allclose(np.sort(xy[:, 0]), np.sort(exp.values[:, j]))
        assert np.all(np.abs(xy[:, 1] - row) <= 0.4 + 1e-12)


def test_beeswarm_pools_the_rest_and_colours_by_value(ax):
    exp = _explanation(n=100)
    plots.beeswarm(exp, ax=ax, max_features=2)
    labels = _yticklabels(ax)[::-1]
    assert labels == ["income", "age", "2 other features"]
    colls = [c for c in ax.collections if isinstance(c, PathCollection)]
    rest = [c for c in colls if np.median(np.asarray(c.get_offsets())[:, 1]) < 0.5][0]
    np.testing.assert_allclose(
        np.sort(np.asarray(rest.get_offsets())[:, 0]), np.sort(exp.values[:, 2:].sum(1))
    )
    top = [c for c in colls if np.median(np.asarray(c.get_offsets())[:, 1]) > 1.5][0]
    # colour follows the value: the highest income point is the reddest
    x = np.asarray(top.get_offsets())[:, 0]
    colours = top.get_array()
    assert np.argmax(colours) == np.argmax(x) or colours[np.argmax(x)] == 1.0


def test_swarm_offsets_separate_equal_values():
    from pellucid.plots._attribution import _swarm_offsets

    off = _swarm_offsets(np.zeros(5))
    assert len(np.unique(off)) == 5
    assert np.abs(off).max() == pytest.approx(0.4)


# ------------------------------------------------------------------ waterfall


def test_waterfall_bars_chain_from_base_to_prediction(ax):
    exp = _explanation()
    row = 5
    plots.waterfall(exp, row, ax=ax)
    bars = sorted(_bars(ax), key=lambda r: r.get_y())  # bottom to top
    widths = np.array([b.get_width() for b in bars])
    lefts = np.array([b.get_x() for b in bars])
    np.testing.assert_allclose(np.sort(widths), np.sort(exp.values[row]))
    assert lefts[0] == pytest.approx(exp.base_values[row])
    np.testing.assert_allclose(lefts[1:], lefts[:-1] + widths[:-1])
    assert lefts[-1] + widths[-1] == pytest.approx(exp.output[row])
    # largest |value| at the top, labelled with its value
    assert abs(widths[-1]) == pytest.approx(np.abs(exp.values[row]).max())
    j = int(np.argmax(np.abs(exp.values[row])))
    assert _yticklabels(ax)[-1].startswith(f"{exp.feature_names[j]} = ")


def test_waterfall_pools_small_features_and_uses_units(ax):
    exp = _explanation()
    plots.waterfall(exp, 0, ax=ax, max_features=3, units={"income": "USD"})
    labels = _yticklabels(ax)
    assert labels[0] == "2 other features"
    bars = sorted(_bars(ax), key=lambda r: r.get_y())
    total = exp.base_values[0] + sum(b.get_width() for b in bars)
    assert total == pytest.approx(exp.output[0])
    ax2 = Figure().add_subplot()
    one = Explanation(
        np.array([[2.0, -1.0]]),
        np.array([0.0]),
        data=np.array([[52000.0, 3.0]]),
        feature_names=("income", "age"),
    )
    plots.waterfall(one, ax=ax2, units={"income": "USD"})
    assert "income = 52,000 USD" in _yticklabels(ax2)
    with pytest.raises(IndexError):
        plots.waterfall(one, 3, ax=ax2)


# ------------------------------------------------------------------ dependence


def test_dependence_scatter_and_interaction_partner(ax):
    rng = np.random.default_rng(0)
    n = 400
    data = rng.normal(size=(n, 3))
    # feature 0's attribution depends on feature 2's value: the partner is "c"
    values = np.column_stack([data[:, 0] * data[:, 2], data[:, 1], 0.1 * data[:, 2]])
    exp = Explanation(values, np.zeros(n), data=data, feature_names=("a", "b", "c"))
    plots.dependence(exp, "a", ax=ax)
    pts = np.vstack(
        [np.asarray(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)]
    )
    np.testing.assert_allclose(np.sort(pts[:, 0]), np.sort(data[:, 0]))
    np.testing.assert_allclose(np.sort(pts[:, 1]), np.sort(values[:, 0]))
    cbar_label = ax.figure.axes[-1].get_ylabel()
    assert cbar_label == "c"
    ax2 = Figure().add_subplot()
    plots.dependence(exp, "a", color=None, ax=ax2)
    assert len(ax2.figure.axes) == 1


def test_dependence_categorical_feature(ax):
    data = np.array([["x", 1.0], ["y", 2.0], ["x", 3.0], ["z", 4.0]], dtype=object)
    exp = Explanation(np.ones((4, 2)), data=data, feature_names=("cat", "num"))
    plots.dependence(exp, "cat", color=None, ax=ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]


# ------------------------------------------------------------------ effects


def _pd(kind="both", categorical=False):
    grid = np.array(["a", "b", "c"]) if categorical else np.linspace(0, 1, 5)
    g = len(grid)
    ice = np.arange(10)[:, None] + np.linspace(0, 2, g)[None, :]
    return PartialDependence(
        features=("x",),
        grid_values=(grid,),
        average=ice.mean(0)[None, :],
        individual=ice[None],
        kind=kind,
        categorical=(categorical,),
    )


def test_pd_with_ice_lines(ax):
    res = _pd()
    plots.partial_dependence(res, ax=ax, max_ice=4)
    lines = ax.get_lines()
    assert len(lines) == 5  # 4 ICE + average
    avg = lines[-1]
    np.testing.assert_allclose(avg.get_xdata(), res.grid_values[0])
    np.testing.assert_allclose(avg.get_ydata(), res.average[0])
    assert avg.get_linewidth() > lines[0].get_linewidth()
    ice_rows = sorted(line.get_ydata()[0] for line in lines[:-1])
    np.testing.assert_allclose(ice_rows, [0, 3, 6, 9])  # evenly spaced rows


def test_pd_centered_and_categorical(ax):
    plots.partial_dependence(_pd(), ax=ax, centered=True)
    for line in ax.get_lines():
        assert line.get_ydata()[0] == pytest.approx(0)
    ax2 = Figure().add_subplot()
    plots.partial_dependence(_pd(categorical=True), ax=ax2)
    assert [t.get_text() for t in ax2.get_xticklabels()] == ["a", "b", "c"]


def test_ale_line_and_bars(ax):
    res = PartialDependence(
        ("x",), (np.linspace(0, 1, 4),), np.array([[-1.0, 0, 0.5, 1]]), kind="ale"
    )
    plots.ale(res, ax=ax)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [-1, 0, 0.5, 1])
    ax2 = Figure().add_subplot()
    cat = PartialDependence(
        ("c",), (np.array(["u", "v"]),), np.array([[0.2, -0.3]]), kind="ale", categorical=(True,)
    )
    plots.ale(cat, ax=ax2)
    np.testing.assert_allclose([b.get_height() for b in _bars(ax2)], [0.2, -0.3])
    with pytest.raises(ValueError, match="one feature"):
        plots.ale(_pd2(), ax=ax)


def _pd2():
    g0, g1 = np.linspace(0, 1, 3), np.linspace(10, 20, 4)
    avg = g0[:, None] * g1[None, :]
    return PartialDependence(("a", "b"), (g0, g1), avg[None])


def test_pd_heatmap_mesh_is_the_average(ax):
    res = _pd2()
    plots.pd_heatmap(res, ax=ax)
    mesh = [c for c in ax.collections if isinstance(c, QuadMesh)][0]
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(4, 3), res.average[0].T)
    assert ax.get_xlabel() == "a" and ax.get_ylabel() == "b"


# ------------------------------------------------------------------ local


def test_image_overlay_sums_channels(ax):
    rng = np.random.default_rng(0)
    vals = rng.normal(size=(2, 3, 8, 8))
    pics = rng.random((2, 3, 8, 8))
    exp = Explanation(vals, data=pics)
    plots.image(exp, 1, ax=ax)
    images = ax.get_images()
    assert len(images) == 2
    np.testing.assert_allclose(images[0].get_array(), pics[1].mean(0))
    np.testing.assert_allclose(images[1].get_array(), vals[1].sum(0))
    lo, hi = images[1].get_clim()
    assert lo == pytest.approx(-hi)


def test_text_highlight_colours_follow_sign(ax):
    toks = ["good", "movie", "but", "terrible", "ending"]
    vals = np.array([[0.8, 0.0, -0.1, -1.0, 0.2]])
    exp = Explanation(vals, feature_names=toks)
    plots.text(exp, ax=ax)
    texts = [t for t in ax.texts]
    assert [t.get_text() for t in texts] == toks
    reds = [t.get_bbox_patch().get_facecolor()[0] for t in texts]
    blues = [t.get_bbox_patch().get_facecolor()[2] for t in texts]
    assert reds[0] > blues[0] and blues[3] > reds[3]
    ax2 = Figure().add_subplot()
    plots.text(exp, ax=ax2, width=10)
    ys = {t.get_position()[1] for t in ax2.texts}
    assert len(ys) > 1  # wrapped over several lines


def test_anchor_card_lists_rule(ax):
    rule = Anchor(
        (Predicate("income", ">", 50000.0), Predicate("housing", "==", "own")),
        precision=0.97,
        coverage=0.21,
        prediction="approve",
    )
    plots.anchor(rule, ax=ax)
    texts = [t.get_text() for t in ax.texts]
    assert "income > 50,000" in texts
    assert "AND housing == 'own'" in texts
    assert "THEN predict 'approve'" in texts
    assert any("precision 0.97" in t and "coverage 0.21" in t for t in texts)


# ------------------------------------------------------------------ evaluation


@pytest.fixture(scope="module")
def binary_eval():
    from sklearn.linear_model import LogisticRegression

    from pellucid import evaluate
    from pellucid.datasets import breast_cancer

    X, y = breast_cancer()
    X = X.iloc[:, :5]
    model = LogisticRegression(max_iter=2000).fit(X, y)
    return evaluate(model, X, y)


def test_confusion_matrix_cells(ax, binary_eval):
    plots.confusion_matrix(binary_eval, ax=ax)
    cm = binary_eval.confusion_matrix
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), cm)
    cells = [t.get_text() for t in ax.texts]
    assert cells == [f"{v:,}" for v in cm.ravel()]
    ax2 = Figure().add_subplot()
    plots.confusion_matrix(binary_eval, ax=ax2, normalize="true")
    np.testing.assert_allclose(ax2.get_images()[0].get_array().sum(1), [1, 1])


def test_roc_pr_calibration(ax, binary_eval):
    plots.roc_curve(binary_eval, ax=ax)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), binary_eval.roc_curve.fpr)
    auc = np.trapezoid(binary_eval.roc_curve.tpr, binary_eval.roc_curve.fpr)
    assert f"{auc:.3f}" in line.get_label()
    ax2 = Figure().add_subplot()
    plots.precision_recall_curve(binary_eval, ax=ax2)
    np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(), binary_eval.pr_curve.precision)
    ax3 = Figure().add_subplot()
    plots.calibration_curve(binary_eval, ax=ax3)
    np.testing.assert_allclose(ax3.get_lines()[0].get_ydata(), binary_eval.calibration.prob_true)


def test_regression_residuals_and_errors(ax):
    from sklearn.linear_model import LinearRegression

    from pellucid import evaluate
    from pellucid.datasets import diabetes

    X, y = diabetes()
    ev = evaluate(LinearRegression().fit(X, y), X, y)
    plots.residuals(ev, ax=ax)
    assert sum(b.get_height() for b in _bars(ax)) == len(y)
    with pytest.raises(ValueError, match="regression"):
        plots.confusion_matrix(ev, ax=ax)
    with pytest.raises(TypeError, match="ModelEvaluation"):
        plots.roc_curve(_explanation(), ax=ax)


def test_no_axes_uses_pyplot_and_never_shows(monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("show() was called"))
    out = plots.bar(_explanation())
    try:
        assert out.figure in [plt.figure(n) for n in plt.get_fignums()]
    finally:
        plt.close("all")


def test_importing_plots_and_report_loads_no_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys, pellucid, pellucid.plots, pellucid.reporting; pellucid.report; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'jinja2')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bar_custom_labels_and_compact_ticks(ax):
    exp = _explanation()[0]
    conditions = ["income > 62,000", "age <= 30", "debt in (0.2, 0.4]", "noise > 0"]
    plots.bar(exp, ax=ax, labels=conditions)
    assert set(_yticklabels(ax)) == set(conditions)
    with pytest.raises(ValueError, match="labels"):
        plots.bar(exp, ax=ax, labels=["one"])
    # large grid values get short tick labels (20k, not 20000) so they never run together
    big = PartialDependence(("income",), (np.linspace(20_000, 100_000, 9),), np.ones((1, 9)))
    ax2 = Figure().add_subplot()
    plots.partial_dependence(big, ax=ax2)
    ax2.figure.canvas.draw()
    labels = [t.get_text() for t in ax2.get_xticklabels() if t.get_text()]
    assert labels and all(lab.endswith("k") for lab in labels if lab != "0")
    assert len(labels) <= 7
