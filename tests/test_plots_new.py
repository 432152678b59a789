"""force, decision, heatmap, interactions, cohorts and calibration bins: what they draw
equals what the numbers say (closed forms on hand-built results)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from _plot_cases import EMPLOYMENT, HOUSING, credit_like, interactions_like  # noqa: E402
from pellucid import Explanation, plots  # noqa: E402


def _ax(size=(6.0, 4.0)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def test_force_segments_tile_the_way_from_base_to_prediction():
    exp = credit_like()
    ax = plots.force(exp, 3, ax=_ax((8, 2.6)))
    values = exp.values[3]
    total = exp.base_values[3] + values.sum()
    widths = [p.get_xy()[:, 0].max() - p.get_xy()[:, 0].min() for p in ax.patches]
    np.testing.assert_allclose(sorted(widths), sorted(np.abs(values[values != 0])), atol=1e-12)
    # rises end at f(x) from the left, falls start there to the right
    lefts = [p.get_xy()[:, 0].min() for p in ax.patches]
    rights = [p.get_xy()[:, 0].max() for p in ax.patches]
    np.testing.assert_allclose(min(lefts), total - values[values > 0].sum())
    np.testing.assert_allclose(max(rights), total - values[values < 0].sum())
    texts = [t.get_text() for t in ax.texts]
    assert f"f(x) = {total:.3g}" in texts and f"E[f(X)] = {exp.base_values[3]:.3g}" in texts


def test_decision_paths_start_at_the_base_and_end_at_each_prediction():
    exp = credit_like()
    ax = plots.decision(exp, ax=_ax())
    (lines,) = ax.collections
    paths = lines.get_segments()
    assert len(paths) == exp.n_rows
    np.testing.assert_allclose([p[0, 0] for p in paths], exp.base_values)
    np.testing.assert_allclose([p[-1, 0] for p in paths], exp.output)
    # colours follow the prediction
    np.testing.assert_allclose(lines.get_array(), exp.output)


@pytest.mark.parametrize("order", ["output", "cluster"])
def test_heatmap_shows_every_attribution_in_row_order(order):
    exp = credit_like()
    ax = plots.heatmap(exp, ax=_ax(), order=order)
    shown = ax.images[0].get_array()  # (features, rows)
    feats = np.argsort(-np.abs(exp.values).mean(axis=0), kind="stable")
    assert shown.shape == (6, exp.n_rows)
    if order == "output":
        rows = np.argsort(exp.output, kind="stable")
        np.testing.assert_allclose(shown, exp.values[rows][:, feats].T)
    else:  # a permutation of the rows
        np.testing.assert_allclose(np.sort(shown, axis=1), np.sort(exp.values[:, feats].T, axis=1))
    with pytest.raises(ValueError, match="order must be"):
        plots.heatmap(exp, ax=_ax(), order="random")


def test_interaction_matrix_is_mean_absolute_pairwise_effect():
    inter = interactions_like()
    ax = plots.interactions(inter, ax=_ax((5, 4.5)))
    shown = ax.images[0].get_array()
    phi = inter.values
    expected = np.abs(phi + np.swapaxes(phi, 1, 2)).mean(axis=0)
    np.fill_diagonal(expected, 0)
    keep = sorted(np.argsort(-expected.sum(axis=1), kind="stable")[:10])
    np.testing.assert_allclose(shown.data[~shown.mask], expected[np.ix_(keep, keep)][~shown.mask])
    assert shown.mask.diagonal().all()  # main effects left blank


def test_interaction_dependence_is_coloured_by_the_strongest_partner():
    inter = interactions_like()
    ax = plots.interactions(inter, "debt_to_income", ax=_ax())
    assert "late_payments" in ax.get_title()  # the planted strong pair
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    np.testing.assert_allclose(np.sort(ys), np.sort(inter.values[:, 2, :].sum(axis=1)))
    with pytest.raises(ValueError, match="interaction values"):
        plots.interactions(credit_like(), ax=_ax())


def test_cohort_bars_are_group_means_in_the_models_category_order():
    exp = credit_like()
    ax = plots.cohorts(exp, "housing", ax=_ax((6, 5)))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [t.split(" (")[0] for t in legend] == list(HOUSING)  # own, mortgage, rent
    housing = exp.data[:, 5]
    feats = np.argsort(-np.abs(exp.values).mean(axis=0), kind="stable")
    for c, container in enumerate(ax.containers):
        hit = housing == HOUSING[c]
        assert legend[c].endswith(f"(n = {hit.sum()})")
        widths = [b.get_width() for b in container]
        np.testing.assert_allclose(widths, exp.values[hit][:, feats].mean(axis=0))
    labels = np.array(["a", "b"] * (exp.n_rows // 2))
    plots.cohorts(exp, labels, ax=_ax())  # labels per row work too
    with pytest.raises(ValueError, match="2 group labels for 60 rows"):
        plots.cohorts(exp, ["a", "b"], ax=_ax())


def test_dependence_orders_categories_as_the_model_does():
    exp = credit_like()
    ax = plots.dependence(exp, "employment", color="housing", ax=_ax())
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "employed",
        "self_employ\ned",
        "unemployed",
        "retired",
    ]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(HOUSING)
    assert list(EMPLOYMENT) == exp.params["categories"]["employment"]


def test_calibration_bins_count_rows_and_use_quantiles_when_small():
    rng = np.random.default_rng(0)
    p = rng.beta(1.5, 4.0, 171)
    y = (rng.random(171) < p).astype(int)
    bins = plots.calibration_bins(y, p)
    assert bins["counts"].sum() == 171
    assert bins["counts"].max() - bins["counts"].min() <= 2  # quantile bins: ~equal counts
    # each point is its bin's mean prediction and observed rate
    edges = np.quantile(p, np.linspace(0, 1, len(bins["counts"]) + 1))
    which = np.clip(np.searchsorted(edges[1:-1], p, side="right"), 0, len(edges) - 2)
    for b in range(len(bins["counts"])):
        np.testing.assert_allclose(bins["prob_pred"][b], p[which == b].mean())
        np.testing.assert_allclose(bins["prob_true"][b], y[which == b].mean())
    assert np.all(bins["low"] <= bins["prob_true"]) and np.all(bins["prob_true"] <= bins["high"])
    uniform = plots.calibration_bins(y, p, n_bins=10, strategy="uniform")
    assert uniform["counts"].sum() == 171 and len(uniform["counts"]) <= 10
    with pytest.raises(ValueError, match="0/1 labels"):
        plots.calibration_bins(y + 1, p)


def test_wilson_interval_matches_the_closed_form():
    from pellucid.metrics import wilson_interval as _wilson

    low, high = _wilson(np.array([0.0, 5.0]), np.array([10.0, 10.0]))
    # 0/10: (0, z^2/(n+z^2)) ; 5/10: 0.5 -/+ (z/(1+z^2/n)) sqrt(0.25/n + z^2/(4n^2))
    z = 1.959963984540054
    np.testing.assert_allclose([low[0], high[0]], [0.0, z * z / (10 + z * z)], atol=1e-12)
    half = z / (1 + z * z / 10) * np.sqrt(0.025 + z * z / 400)
    np.testing.assert_allclose([low[1], high[1]], [0.5 - half, 0.5 + half])


def test_labelled_names_target_rows_categories_and_unit():
    import pandas as pd

    exp = Explanation(np.ones((2, 2)), np.zeros(2), feature_names=("a", "b"))
    frame = pd.DataFrame({"a": pd.Categorical(["y", "x"], categories=["y", "x"]), "b": [1, 2]})
    out = plots.labelled(
        exp, target="default", row_ids=["A-1", "B-2"], categories=frame, output_kind="probability"
    )
    assert out.params["target"] == "default" and out.output_kind == "probability"
    assert out.params["categories"] == {"a": ["y", "x"]}
    assert list(out[1].diagnostics["row_id"]) == ["B-2"]  # survives slicing
    ax = plots.waterfall(out, 1, ax=_ax())
    assert ax.get_title().startswith("B-2: P(default) = ")
    with pytest.raises(ValueError, match="3 row_ids for 2"):
        plots.labelled(exp, row_ids=[1, 2, 3])
    with pytest.raises(ValueError, match="output_kind must be one of"):
        plots.labelled(exp, output_kind="odds")


def test_lime_image_keeps_the_image_and_the_plot_draws_on_it():
    from pellucid import LimeImage

    img = np.zeros((8, 8, 3))
    img[2:6, 2:6] = 1.0

    def model(batch):
        p = np.asarray(batch, dtype=float)[:, 2:6, 2:6].mean(axis=(1, 2, 3))
        return np.column_stack([1 - p, p])

    seg = np.arange(64).reshape(8, 8) // 4
    exp = LimeImage(model, segmentation=lambda _: seg, num_samples=50, random_state=0).explain(img)
    np.testing.assert_array_equal(exp.data[0], img)
    ax = plots.image(exp, ax=_ax((4, 4)))
    assert len(ax.images) == 2  # the picture, then the overlay
    np.testing.assert_allclose(ax.images[0].get_array(), img.mean(axis=2))


def test_lime_waterfall_shows_the_models_prediction_apart_from_the_surrogates():
    from _plot_cases import lime_like

    exp = lime_like()
    ax = plots.waterfall(exp, ax=_ax())
    texts = {t.get_text() for t in ax.texts}
    surrogate = exp.base_values[0] + exp.values.sum()
    assert "model f(x) = 0.95" in texts
    assert f"surrogate g(x) = {surrogate:.3g}" in texts
    assert "surrogate intercept = 0.11" in texts
