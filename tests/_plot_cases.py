"""Fixed, hand-built results and one drawing per plot, shared by the image tests.

Every case draws on a small pyplot-free figure with the Agg canvas, a fixed
font (DejaVu Sans, shipped with matplotlib), size and dpi, so the pixels
depend only on pellucid and matplotlib.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from pellucid import Anchor, Explanation, FeatureImportance, PartialDependence, Predicate, plots

DPI = 50
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10.0,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "axes.unicode_minus": True,
}

NAMES = ("age", "income", "debt_to_income", "late_payments", "employment", "housing")
EMPLOYMENT = ("employed", "self_employed", "unemployed", "retired")
HOUSING = ("own", "mortgage", "rent")


def credit_like(n: int = 60, seed: int = 0) -> Explanation:
    """A mixed-type Explanation in log-odds of default, rows named by applicant id."""
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 76, n)
    income = np.round(np.exp(rng.normal(np.log(50_000), 0.4, n)), -2)
    dti = np.round(rng.beta(2, 5, n) * 0.8, 3)
    late = rng.poisson(0.8, n)
    emp = rng.choice(EMPLOYMENT, n)
    housing = rng.choice(HOUSING, n)
    data = np.empty((n, 6), dtype=object)
    for j, col in enumerate((age, income, dti, late, emp, housing)):
        data[:, j] = list(col)
    values = np.column_stack(
        [
            -0.02 * (age - 48),
            -0.8 * np.log(income / 50_000),
            4.0 * (dti - 0.23),
            0.5 * (late - 0.8),
            np.select([emp == "unemployed", emp == "retired"], [0.9, 0.2], -0.1),
            np.select([housing == "rent", housing == "own"], [0.25, -0.2], 0.0),
        ]
    )
    values[:, 3] += 1.5 * (dti - 0.23) * (late - 0.8)  # an interaction
    base = np.full(n, -1.3)
    return Explanation(
        values,
        base,
        data=data,
        feature_names=NAMES,
        output=base + values.sum(axis=1),
        method="tree_shap",
        output_kind="log_odds",
        params={
            "target": "default",
            "categories": {"employment": list(EMPLOYMENT), "housing": list(HOUSING)},
        },
        diagnostics={"row_id": np.arange(1001, 1001 + n)},
    )


def interactions_like(n: int = 40) -> Explanation:
    """Symmetric interaction values whose rows sum to credit_like's attributions."""
    exp = credit_like(n)
    d = len(NAMES)
    phi = np.zeros((n, d, d))
    rng = np.random.default_rng(3)
    for i in range(d):
        for j in range(i + 1, d):
            strength = 0.3 if (i, j) == (2, 3) else 0.03
            half = 0.5 * strength * rng.normal(size=n)
            phi[:, i, j] = phi[:, j, i] = half
    for i in range(d):  # main effects make each row sum to the attribution
        phi[:, i, i] = exp.values[:, i] - (phi[:, i, :].sum(axis=1) - phi[:, i, i])
    return Explanation(
        phi,
        exp.base_values,
        data=exp.data,
        feature_names=NAMES,
        method="tree_shap",
        output_kind="log_odds",
        params=exp.params,
    )


def lime_like() -> Explanation:
    """One row explained by a surrogate whose value (0.43) is not the model's (0.95)."""
    values = np.array([[0.21, -0.08, 0.15, 0.05, -0.02, 0.01]])
    data = np.array([[35, 41_000.0, 0.41, 3, "unemployed", "rent"]], dtype=object)
    return Explanation(
        values,
        np.array([0.11]),
        data=data,
        feature_names=NAMES,
        output=np.array([0.95]),
        method="lime",
        params={"model_output": "probability", "target": "default"},
        diagnostics={"row_id": np.array([1245]), "local_prediction": np.array([0.43])},
    )


def waterfall_30(seed: int = 0) -> Explanation:
    rng = np.random.default_rng(seed)
    d = 30
    values = rng.normal(size=(1, d)) * np.geomspace(5.0, 0.01, d) * rng.choice([-1, 1], size=d)
    values[0, :4] = [4.0, -3.9, 3.8, -3.7]
    data = rng.normal(50_000, 20_000, size=(1, d))
    names = tuple(f"feature_number_{j}_with_a_long_name" for j in range(d))
    return Explanation(
        values, np.array([0.5]), data=data, feature_names=names, method="m", output_kind="log_odds"
    )


def importance_fi() -> FeatureImportance:
    rng = np.random.default_rng(1)
    means = np.array([0.02, 0.01, 0.12, 0.05, 0.03, 0.0])
    return FeatureImportance(
        means[:, None] + 0.004 * rng.normal(size=(6, 5)),
        NAMES,
        method="permutation_importance",
        params={"scoring": "roc_auc"},
    )


def pd_income() -> PartialDependence:
    grid = np.linspace(20_000, 120_000, 21)
    rng = np.random.default_rng(2)
    ice = 0.3 - 0.15 * np.tanh((grid - 50_000) / 30_000) + 0.05 * rng.normal(size=(30, 1))
    return PartialDependence(
        ("income",),
        (grid,),
        ice.mean(axis=0)[None],
        individual=ice[None],
        kind="both",
        params={"target": "default", "output_kind": "probability"},
    )


def ale_income() -> PartialDependence:
    grid = np.linspace(15_000, 180_000, 15)
    effect = -0.12 * np.tanh((grid - 50_000) / 40_000)
    return PartialDependence(
        ("income",),
        (grid,),
        (effect - effect.mean())[None],
        kind="ale",
        params={"target": "default", "output_kind": "probability"},
    )


def pd_late() -> PartialDependence:
    grid = np.arange(0.0, 6.0)
    return PartialDependence(
        ("late_payments",),
        (grid,),
        (0.15 + 0.05 * grid)[None],
        params={"target": "default", "output_kind": "probability"},
    )


def pd_employment() -> PartialDependence:
    return PartialDependence(
        ("employment",),
        (np.array(EMPLOYMENT, dtype=object),),
        np.array([[0.18, 0.24, 0.45, 0.22]]),
        categorical=(True,),
        params={"target": "default", "output_kind": "probability"},
    )


def pd_two() -> PartialDependence:
    g0 = np.linspace(20_000, 120_000, 8)
    g1 = np.linspace(0.0, 0.6, 7)
    z = 0.4 - 0.2 * (g0[:, None] - 20_000) / 100_000 + 0.4 * g1[None, :]
    return PartialDependence(
        ("income", "debt_to_income"),
        (g0, g1),
        z[None],
        params={"target": "default", "output_kind": "probability"},
    )


def evaluation(task: str = "binary") -> Any:
    from pellucid.metrics import Calibration, ModelEvaluation, PrCurve, RocCurve

    if task == "regression":
        rng = np.random.default_rng(4)
        return ModelEvaluation(
            task="regression", metrics={"r2": 0.5}, n_rows=200, residuals=rng.normal(size=200)
        )
    fpr = np.array([0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0])
    tpr = np.array([0.0, 0.35, 0.55, 0.72, 0.86, 0.95, 1.0])
    return ModelEvaluation(
        task="binary",
        metrics={"roc_auc": 0.84, "pr_auc": 0.61},
        n_rows=171,
        classes=(0, 1),
        confusion_matrix=np.array([[118, 12], [19, 22]]),
        calibration=Calibration(
            prob_true=np.array([0.1, 0.2, 0.6]), prob_pred=np.array([0.1, 0.3, 0.5])
        ),
        roc_curve=RocCurve(fpr, tpr),
        pr_curve=PrCurve(
            recall=np.array([1.0, 0.8, 0.6, 0.4, 0.2, 0.0]),
            precision=np.array([0.24, 0.45, 0.55, 0.66, 0.8, 1.0]),
        ),
    )


def calibration_data(n: int = 171) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    p = rng.beta(1.5, 4.0, n)
    y = (rng.random(n) < p).astype(int)
    return y, p


def image_like() -> Explanation:
    """An 8x8 'image' (a ring) kept with its attributions, as LimeImage keeps it."""
    yy, xx = np.mgrid[:8, :8]
    ring = (np.abs(np.hypot(yy - 3.5, xx - 3.5) - 2.5) < 0.9).astype(float) * 16
    values = np.where(ring > 0, 0.02, -0.005) * np.sign(xx - 3.5)
    return Explanation(
        values[None],
        np.array([0.1]),
        data=ring[None],
        method="lime_image",
        params={"model_output": "probability"},
        diagnostics={"row_id": np.array(["digit #17"], dtype=object)},
    )


def text_like() -> Explanation:
    words = ("owns", "a", "home", "but", "missed", "two", "payments", "and", "carries", "debt")
    values = np.array([[-0.3, 0.0, -0.05, 0.02, 0.45, 0.03, 0.2, 0.0, 0.05, 0.25]])
    return Explanation(
        values,
        np.array([0.2]),
        feature_names=words,
        method="lime_text",
        params={"model_output": "probability", "target": "default"},
    )


def anchor_rule() -> Anchor:
    return Anchor(
        (Predicate("late_payments", ">", 2), Predicate("debt_to_income", ">", 0.35)),
        precision=0.96,
        coverage=0.08,
        prediction="default",
    )


def counterfactual_set() -> Any:
    """One declined applicant and its certified cheapest change: income up, late payments
    down, housing switched (a category), with a negative-valued column moving up."""
    from pellucid.counterfactual import Change, Counterfactual, CounterfactualSet

    names = ("income", "late_payments", "housing", "balance_change", "age")
    before = (3200.0, 3.0, "rent", -120.0, 41.0)
    after = (7450.0, 1.0, "own", 35.0, 41.0)
    changes = tuple(Change(n, b, a) for n, b, a in zip(names, before, after, strict=True) if b != a)
    answer = Counterfactual(0, 0, changes, after, 2.37, 0, True, "optimal", 0.0)
    return CounterfactualSet(names, np.array([before], dtype=object), np.array([1]), 0,
                             (answer,), ("optimal",), method="milp_tree")  # fmt: skip


@functools.cache
def comparison() -> Any:
    """compare() on 400 rows of the bundled credit data: a logistic regression against a
    depth-3 tree, four metrics, 200 seeded bootstrap resamples (built once; about half a
    second). The tree's lower Brier score is the one clear difference (Holm p = 0.04)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    import pellucid

    X, y = pellucid.datasets.credit(n_rows=400, random_state=1)
    X = X[["age", "income", "debt_to_income", "late_payments"]]
    return pellucid.compare(
        {
            "logistic": LogisticRegression(max_iter=1000).fit(X, y),
            "tree": DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y),
        },
        X,
        y,
        metrics=["accuracy", "roc_auc", "pr_auc", "brier"],
        n_boot=200,
        random_state=0,
        explain_rows=20,
        importance_rows=100,
    )


# name -> (figsize, draw(ax))
CASES: dict[str, tuple[tuple[float, float], Callable[[Any], Any]]] = {
    "importance": ((5.0, 3.0), lambda ax: plots.importance(importance_fi(), ax=ax)),
    "bar": ((5.0, 3.0), lambda ax: plots.bar(credit_like(), ax=ax)),
    "bar_row": ((5.0, 3.0), lambda ax: plots.bar(credit_like()[3], ax=ax)),
    "beeswarm": ((5.5, 6.0), lambda ax: plots.beeswarm(credit_like(), ax=ax)),
    "waterfall": ((5.5, 4.0), lambda ax: plots.waterfall(credit_like(), 3, ax=ax)),
    "waterfall_lime": ((5.5, 4.0), lambda ax: plots.waterfall(lime_like(), ax=ax)),
    "force": ((7.0, 2.6), lambda ax: plots.force(credit_like(), 3, ax=ax)),
    "decision": ((5.5, 4.0), lambda ax: plots.decision(credit_like(), ax=ax)),
    "heatmap": ((5.5, 4.0), lambda ax: plots.heatmap(credit_like(), ax=ax)),
    "dependence": ((5.0, 3.5), lambda ax: plots.dependence(credit_like(), "debt_to_income", ax=ax)),
    "dependence_categorical": (
        (5.0, 3.5),
        lambda ax: plots.dependence(credit_like(), "employment", color="housing", ax=ax),
    ),
    "interactions": ((5.0, 4.2), lambda ax: plots.interactions(interactions_like(), ax=ax)),
    "interactions_dependence": (
        (5.0, 3.5),
        lambda ax: plots.interactions(interactions_like(), "debt_to_income", ax=ax),
    ),
    "cohorts": ((5.0, 4.5), lambda ax: plots.cohorts(credit_like(), "housing", ax=ax)),
    "partial_dependence": (
        (4.0, 3.0),
        lambda ax: plots.partial_dependence(
            pd_income(), ax=ax, xlim=plots.shared_xlim(pd_income(), ale_income())
        ),
    ),
    "ale": (
        (4.0, 3.0),
        lambda ax: plots.ale(
            ale_income(), ax=ax, xlim=plots.shared_xlim(pd_income(), ale_income())
        ),
    ),
    "partial_dependence_integer": (
        (4.0, 3.0),
        lambda ax: plots.partial_dependence(pd_late(), ax=ax),
    ),
    "partial_dependence_categorical": (
        (4.0, 3.0),
        lambda ax: plots.partial_dependence(pd_employment(), ax=ax),
    ),
    "pd_heatmap": ((4.5, 3.5), lambda ax: plots.pd_heatmap(pd_two(), ax=ax)),
    "image": ((3.5, 3.0), lambda ax: plots.image(image_like(), ax=ax)),
    "text": ((5.5, 2.0), lambda ax: plots.text(text_like(), ax=ax, width=40)),
    "anchor": ((4.5, 2.0), lambda ax: plots.anchor(anchor_rule(), ax=ax)),
    "counterfactual": ((6.0, 3.6), lambda ax: plots.counterfactual(counterfactual_set(), ax=ax)),
    "confusion_matrix": ((3.5, 3.0), lambda ax: plots.confusion_matrix(evaluation(), ax=ax)),
    "roc_curve": ((3.5, 3.5), lambda ax: plots.roc_curve(evaluation(), ax=ax)),
    "precision_recall_curve": (
        (3.5, 3.5),
        lambda ax: plots.precision_recall_curve(evaluation(), ax=ax),
    ),
    "calibration_curve": (
        (3.5, 3.5),
        lambda ax: plots.calibration_curve(
            evaluation(), y=calibration_data()[0], proba=calibration_data()[1], ax=ax
        ),
    ),
    "residuals": ((4.0, 3.0), lambda ax: plots.residuals(evaluation("regression"), ax=ax)),
    "compare_metrics": ((5.5, 3.8), lambda ax: plots.compare_metrics(comparison(), ax=ax)),
    "compare_differences": (
        (5.5, 3.2),
        lambda ax: plots.compare_differences(comparison(), ax=ax),
    ),
    "compare_calibration": (
        (4.0, 4.0),
        lambda ax: plots.compare_calibration(comparison(), ax=ax),
    ),
    "compare_importance": (
        (5.5, 3.2),
        lambda ax: plots.compare_importance(comparison(), ax=ax),
    ),
    "compare_importance_shap": (
        (5.5, 3.2),
        lambda ax: plots.compare_importance(comparison(), kind="shap", ax=ax),
    ),
}


@functools.cache
def draw(name: str) -> Any:
    """The case's figure, drawn once with the fixed settings (the first call inside
    ``rc()``); tests only read and save it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size, fn = CASES[name]
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fn(fig.add_subplot())
    fig.canvas.draw()
    # Freeze the layout: saving would run constrained layout again, and a layout
    # with an equal-aspect axes or an inset moves a little on each pass.
    fig.set_layout_engine("none")
    return fig


def rc() -> Any:
    import matplotlib as mpl

    return mpl.rc_context(RC)
