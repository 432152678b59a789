"""Plots of a ModelComparison draw exactly the numbers the result holds: intervals,
differences coloured by the adjusted test, calibration points and importance bars."""

from __future__ import annotations

import numpy as np
import pytest

from pellucid import FeatureImportance, plots
from pellucid.comparison import ModelComparison

mpl = pytest.importorskip("matplotlib")
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

METRICS = ("accuracy", "roc_auc", "brier")


def _comparison(*, importance: bool = True) -> ModelComparison:
    """Three models with hand-set numbers: B clearly better on ROC AUC, C clearly worse on
    Brier (a loss: its positive difference is worse), everything else unclear."""
    estimates = np.array([[0.80, 0.70, 0.15], [0.81, 0.75, 0.15], [0.79, 0.69, 0.18]])
    diffs = {
        "model": np.array(["B"] * 3 + ["C"] * 3, dtype=object),
        "metric": np.array(list(METRICS) * 2, dtype=object),
        "difference": (estimates[1:] - estimates[0]).ravel(),
        "lower": (estimates[1:] - estimates[0]).ravel() - 0.02,
        "upper": (estimates[1:] - estimates[0]).ravel() + 0.02,
        "test": np.array(["McNemar mid-p", "DeLong", "paired bootstrap"] * 2, dtype=object),
        "p_value": np.array([0.5, 0.001, 0.9, 0.4, 0.3, 0.002]),
        "higher_is_better": np.array([True, True, False] * 2),
        "p_holm": np.array([1.0, 0.006, 1.0, 1.0, 1.0, 0.01]),
    }
    counts = np.array([4.0, 0.0, 6.0])
    calibration = {
        m: {
            "prob_pred": np.array([0.1 + k, np.nan, 0.8 - k]),
            "prob_true": np.array([0.2, np.nan, 0.7 + k]),
            "count": counts,
        }
        for k, m in zip((0.0, 0.02, 0.04), "ABC", strict=True)
    }
    extra = {}
    if importance:
        extra["importance"] = {
            "feature": np.array(["age", "income", "debt"], dtype=object),
            **{
                f"{m}: permutation": np.array([0.1, 0.3, 0.2]) * (k + 1)
                for k, m in enumerate("ABC")
            },
            **{f"{m}: mean |SHAP|": np.array([0.05, 0.01, 0.02]) + k for k, m in enumerate("ABC")},
        }
        extra["agreement"] = {
            "model": np.array(["B", "C", "B", "C"], dtype=object),
            "kind": np.array(["permutation"] * 2 + ["mean |SHAP|"] * 2, dtype=object),
            "spearman": np.array([1.0, 0.5, 1.0, -0.5]),
            "kendall": np.array([1.0, 0.33, 1.0, -0.33]),
        }
    return ModelComparison(
        models=("A", "B", "C"),
        reference="A",
        n_rows=100,
        threshold=0.5,
        base_rate=0.3,
        metric_names=METRICS,
        estimates=estimates,
        lower=estimates - 0.03,
        upper=estimates + 0.04,
        differences=diffs,
        calibration=calibration,
        brier_decomposition={
            "model": np.array(list("ABC"), dtype=object),
            "brier": estimates[:, 2],
        },
        params={"confidence": 0.95, "importance_scoring": "roc_auc", "positive_class": 1},
        **extra,
    )


def _ax() -> object:
    return Figure(figsize=(6, 5), layout="constrained").add_subplot()


def _errorbars(ax) -> list:
    return [c for c in ax.containers if isinstance(c, mpl.container.ErrorbarContainer)]


def test_metric_intervals_are_the_estimates_and_bounds():
    cmp = _comparison()
    ax = plots.compare_metrics(cmp, ax=_ax())
    bars = _errorbars(ax)
    assert len(bars) == 3
    for i, bar in enumerate(bars):
        x = bar.lines[0].get_xdata()
        np.testing.assert_allclose(x, cmp.estimates[i], rtol=0, atol=1e-12)
        segments = bar.lines[2][0].get_segments()
        np.testing.assert_allclose([s[0][0] for s in segments], cmp.lower[i], atol=1e-12)
        np.testing.assert_allclose([s[1][0] for s in segments], cmp.upper[i], atol=1e-12)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["accuracy", "ROC AUC", "Brier score\n(lower is better)"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["A (reference)", "B", "C"]
    assert "95% interval" in ax.get_xlabel()


def test_metric_subset_and_unknown_metric():
    cmp = _comparison()
    ax = plots.compare_metrics(cmp, metrics="roc_auc", ax=_ax())
    np.testing.assert_allclose(_errorbars(ax)[1].lines[0].get_xdata(), [0.75])
    with pytest.raises(ValueError, match=r"unknown metrics \['auc'\]"):
        plots.compare_metrics(cmp, metrics=["auc"], ax=_ax())


def test_differences_colour_by_adjusted_p_and_direction():
    cmp = _comparison()
    ax = plots.compare_differences(cmp, ax=_ax())
    bars = _errorbars(ax)
    drawn = [float(b.lines[0].get_xdata()[0]) for b in bars]
    np.testing.assert_allclose(drawn, cmp.differences["difference"], atol=1e-12)
    colours = [to_hex(b.lines[0].get_color()) for b in bars]
    grey, green, red = "#7f7f7f", "#009e73", "#d55e00"
    # B's ROC AUC rise is clear and better; C's Brier rise is clear and worse (a loss)
    assert colours == [grey, green, grey, grey, grey, red]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[1] == "B: ROC AUC\nDeLong, adj. p = 0.006"
    assert labels[5] == "C: Brier score\npaired bootstrap, adj. p = 0.01"
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert legend == {"no clear difference", "challenger better", "challenger worse"}
    # a stricter alpha turns both clear differences grey
    strict = plots.compare_differences(cmp, alpha=0.001, ax=_ax())
    assert {to_hex(b.lines[0].get_color()) for b in _errorbars(strict)} == {grey}


def test_calibration_draws_the_non_empty_bins_of_each_model():
    cmp = _comparison()
    ax = plots.compare_calibration(cmp, ax=_ax())
    lines = ax.get_lines()[:3]
    for line, model in zip(lines, "ABC", strict=True):
        curve = cmp.calibration[model]
        np.testing.assert_allclose(line.get_xdata(), curve["prob_pred"][[0, 2]])
        np.testing.assert_allclose(line.get_ydata(), curve["prob_true"][[0, 2]])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["A, Brier 0.150", "B, Brier 0.150", "C, Brier 0.180"]


@pytest.mark.parametrize(
    ("kind", "column"), [("permutation", "permutation"), ("shap", "mean |SHAP|")]
)
def test_importance_bars_are_the_importances(kind, column):
    cmp = _comparison()
    ax = plots.compare_importance(cmp, kind=kind, ax=_ax())
    features = list(cmp.importance["feature"])
    order = [t.get_text() for t in ax.get_yticklabels()]
    for k, model in enumerate("ABC"):
        bars = ax.containers[k]
        widths = [b.get_width() for b in bars]
        expected = [cmp.importance[f"{model}: {column}"][features.index(f)] for f in order]
        np.testing.assert_allclose(widths, expected, atol=1e-12)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    rho = {"permutation": ("1.00", "0.50"), "shap": ("1.00", "-0.50")}[kind]
    assert legend == ["A (reference)", f"B (Spearman {rho[0]})", f"C (Spearman {rho[1]})"]
    if kind == "permutation":
        assert ax.get_xlabel().startswith("drop in ROC AUC")


def test_importance_orders_features_by_largest_value_and_caps_them():
    cmp = _comparison()
    ax = plots.compare_importance(cmp, max_features=2, ax=_ax())
    # C's permutation values are 3 x (0.1, 0.3, 0.2): income, then debt
    assert [t.get_text() for t in ax.get_yticklabels()] == ["income", "debt"]


def test_errors_are_one_clear_exception():
    cmp = _comparison(importance=False)
    for fn in (
        "compare_metrics",
        "compare_differences",
        "compare_calibration",
        "compare_importance",
    ):
        with pytest.raises(
            TypeError, match=rf"{fn}\(\) takes a ModelComparison; got FeatureImportance"
        ):
            getattr(plots, fn)(FeatureImportance(np.ones((2, 2)), ("a", "b")), ax=_ax())
    with pytest.raises(ValueError, match="no permutation importance"):
        plots.compare_importance(cmp, ax=_ax())
    with pytest.raises(ValueError, match="kind must be one of"):
        plots.compare_importance(_comparison(), kind="gain", ax=_ax())
    with pytest.raises(ValueError, match="alpha"):
        plots.compare_differences(cmp, alpha=1.5, ax=_ax())


def test_draws_a_real_comparison_without_pyplot_state():
    """End to end on compare()'s own output; nothing is left open in pyplot."""
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    import pellucid

    X, y = pellucid.datasets.credit(n_rows=400, random_state=1)
    X = X[["age", "income", "late_payments"]]
    cmp = pellucid.compare(
        {
            "logistic": LogisticRegression(max_iter=500).fit(X, y),
            "tree": DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y),
        },
        X,
        y,
        n_boot=200,
        random_state=0,
        explain_rows=20,
        importance_rows=100,
    )
    before = plt.get_fignums()
    for fn in (plots.compare_metrics, plots.compare_differences, plots.compare_calibration):
        ax = fn(cmp, ax=_ax())
        ax.figure.canvas.draw()
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    for kind in ("permutation", "shap"):
        plots.compare_importance(cmp, kind=kind, ax=_ax()).figure.canvas.draw()
    assert plt.get_fignums() == before
