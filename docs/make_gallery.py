"""Draw every plot in pellucid.plots from the bundled data into a gallery page.

    python docs/make_gallery.py [OUT_DIR]      # default: docs/gallery

Writes one PNG per plot and ``index.md`` showing them all, each with the
call that drew it. Everything comes from :mod:`pellucid.datasets` (no
download) with fixed seeds, so a rerun redraws the same pictures.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DPI = 90


def _credit_model() -> dict[str, Any]:
    """A gradient-boosted credit model and what the tabular plots need from it."""
    import xgboost as xgb

    import pellucid
    from pellucid import datasets, plots

    data = datasets.credit(n_rows=800, random_state=0)
    X, y = data.X, data.y
    X.index = np.arange(100_001, 100_001 + len(X))  # applicant ids, not positions
    model = xgb.XGBClassifier(
        n_estimators=60, max_depth=3, learning_rate=0.2, enable_categorical=True, random_state=0
    ).fit(X, y)
    rows = X.iloc[:200]
    tree = pellucid.TreeShap(model)
    shap = plots.labelled(tree.explain(rows), target="default", row_ids=rows.index, categories=X)
    inter = plots.labelled(
        tree.explain_interactions(rows.iloc[:120]), target="default", categories=X
    )
    proba = pellucid.TreeShap(model, rows.iloc[:100], output="probability")
    shap_p = plots.labelled(proba.explain(rows.iloc[:3]), target="default", row_ids=rows.index[:3])
    lime = pellucid.Lime(model, X, num_samples=2000, random_state=0).explain(rows.iloc[[0]])
    lime = plots.labelled(lime, target="default", row_ids=rows.index[:1])
    anchor = pellucid.Anchors(model, X, random_state=0).explain(rows.iloc[0])
    perm = pellucid.permutation_importance(
        model, X.iloc[:400], y.iloc[:400], scoring="roc_auc", n_repeats=5, random_state=0
    )
    pd_income = pellucid.partial_dependence(
        model, X.iloc[:300], "income", kind="both", grid_resolution=30
    )
    pd_late = pellucid.partial_dependence(model, X.iloc[:300], "late_payments", kind="both")
    ale_income = pellucid.ale(model, X.iloc[:300], "income")
    pd_emp = pellucid.partial_dependence(model, X.iloc[:300], "employment")
    pd2 = pellucid.partial_dependence(
        model, X.iloc[:300], ["income", "debt_to_income"], grid_resolution=15
    )
    holdout = X.iloc[400:]
    ev = pellucid.evaluate(model, holdout, y.iloc[400:])
    p_holdout = model.predict_proba(holdout)[:, 1]
    return {
        "shap": shap,
        "inter": inter,
        "shap_p": shap_p,
        "lime": lime,
        "anchor": anchor,
        "perm": perm,
        "pd_income": plots.labelled(pd_income, target="default", output_kind="probability"),
        "pd_late": plots.labelled(pd_late, target="default", output_kind="probability"),
        "ale_income": plots.labelled(ale_income, target="default", output_kind="probability"),
        "pd_emp": plots.labelled(pd_emp, target="default", output_kind="probability"),
        "pd2": plots.labelled(pd2, target="default", output_kind="probability"),
        "ev": ev,
        "y_holdout": y.iloc[400:].to_numpy(),
        "p_holdout": p_holdout,
    }


def _regression() -> Any:
    from sklearn.ensemble import RandomForestRegressor

    import pellucid
    from pellucid import datasets

    data = datasets.diabetes()
    model = RandomForestRegressor(n_estimators=30, max_depth=4, random_state=0)
    model.fit(data.X, data.y)
    return pellucid.evaluate(model, data.X, data.y)


def _digit() -> Any:
    """LIME on one handwritten digit: the image is kept with the explanation."""
    from sklearn.linear_model import LogisticRegression

    import pellucid
    from pellucid import datasets

    data = datasets.digits()
    X = np.asarray(data.X, dtype=float)
    clf = LogisticRegression(max_iter=2000).fit(X / 16.0, data.y)

    def predict(images: np.ndarray) -> np.ndarray:
        flat = np.asarray(images, dtype=float).reshape(len(images), -1) / 16.0
        return clf.predict_proba(flat)

    image = X[0].reshape(8, 8)
    explainer = pellucid.LimeImage(
        predict,
        segmentation=lambda img: (np.arange(64).reshape(8, 8) // 2) % 32,
        num_samples=500,
        random_state=0,
    )
    return explainer.explain(image)


def _text() -> Any:
    """LIME on a tiny keyword model of a loan officer's note."""
    import pellucid

    good = {"stable": 1.5, "savings": 1.0, "owns": 0.8}
    bad = {"late": -1.6, "missed": -1.2, "unemployed": -1.4, "debt": -0.6}

    def predict(texts: list[str]) -> np.ndarray:
        score = np.array(
            [sum({**good, **bad}.get(w.strip(".,").lower(), 0.0) for w in t.split()) for t in texts]
        )
        p = 1.0 / (1.0 + np.exp(score))  # P(default)
        return np.column_stack([1 - p, p])

    note = (
        "Applicant owns a home and has stable income but missed two payments last year "
        "and carries credit card debt; savings are modest and one loan was late."
    )
    return pellucid.LimeText(predict, num_samples=1000, random_state=0).explain(note)


def _comparison() -> Any:
    """A logistic regression against a shallow tree, both fitted on 600 credit rows and
    compared on 400 others (300 seeded bootstrap resamples)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    import pellucid
    from pellucid import datasets

    data = datasets.credit(n_rows=1000, random_state=2)
    numeric = [
        "age",
        "income",
        "debt_to_income",
        "credit_history_years",
        "late_payments",
        "loan_amount",
    ]  # the numeric columns without missing values
    X, y = data.X[numeric], data.y
    fit_X, fit_y, X_test, y_test = X.iloc[:600], y.iloc[:600], X.iloc[600:], y.iloc[600:]
    models = {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "tree": DecisionTreeClassifier(max_depth=4, min_samples_leaf=20, random_state=0),
    }
    return pellucid.compare(
        {name: model.fit(fit_X, fit_y) for name, model in models.items()},
        X_test,
        y_test,
        metrics=["accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "brier", "log_loss"],
        n_boot=300,
        random_state=0,
        explain_rows=40,
        importance_rows=400,
    )


def _counterfactuals() -> Any:
    """The certified cheapest change for the first declined applicant of a gradient-boosted
    model on the credit data's numeric columns (age and sex frozen, income only up)."""
    from sklearn.ensemble import GradientBoostingClassifier

    import pellucid
    from pellucid import datasets

    data = datasets.credit(n_rows=800, random_state=0)
    X = data.X.select_dtypes("number").fillna(0.0)
    model = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0)
    model.fit(X, data.y)
    declined = X[model.predict(X) == 1].iloc[:1]
    cf = pellucid.Counterfactuals(
        model, X, immutable=("age",), actions={"income": "increase"}, random_state=0
    )
    return cf.explain(declined, desired=0)


def gallery() -> list[tuple[str, str, str, Callable[[Any], Any]]]:
    """(file stem, title, the call shown, draw(ax) -> Axes) for every plot."""
    from pellucid import plots

    c = _credit_model()
    reg = _regression()
    digit = _digit()
    note = _text()
    cmp = _comparison()
    cfs = _counterfactuals()
    shared = plots.shared_xlim(c["pd_income"], c["ale_income"])
    return [
        ("importance", "Permutation importance", "plots.importance(fi)",
         lambda ax: plots.importance(c["perm"], ax=ax)),
        ("bar", "Mean |SHAP|", "plots.bar(exp)", lambda ax: plots.bar(c["shap"], ax=ax)),
        ("beeswarm", "SHAP summary", "plots.beeswarm(exp)",
         lambda ax: plots.beeswarm(c["shap"], ax=ax)),
        ("waterfall", "One prediction (log-odds)", "plots.waterfall(exp, 0)",
         lambda ax: plots.waterfall(c["shap"], 0, ax=ax)),
        ("waterfall_probability", "One prediction (probability)", "plots.waterfall(exp_p, 1)",
         lambda ax: plots.waterfall(c["shap_p"], 1, ax=ax)),
        ("waterfall_lime", "LIME: model and surrogate", "plots.waterfall(lime, 0)",
         lambda ax: plots.waterfall(c["lime"], 0, ax=ax)),
        ("force", "Force plot", "plots.force(exp, 0)", lambda ax: plots.force(c["shap"], 0, ax=ax)),
        ("decision", "Decision plot", "plots.decision(exp)",
         lambda ax: plots.decision(c["shap"], ax=ax)),
        ("heatmap", "Heat map", "plots.heatmap(exp)", lambda ax: plots.heatmap(c["shap"], ax=ax)),
        ("dependence", "Dependence", 'plots.dependence(exp, "debt_to_income")',
         lambda ax: plots.dependence(c["shap"], "debt_to_income", ax=ax)),
        ("dependence_categorical", "Dependence, coloured by a category",
         'plots.dependence(exp, "age", color="employment")',
         lambda ax: plots.dependence(c["shap"], "age", color="employment", ax=ax)),
        ("interactions", "Interaction matrix", "plots.interactions(inter)",
         lambda ax: plots.interactions(c["inter"], ax=ax)),
        ("interactions_dependence", "Dependence by strongest partner",
         'plots.interactions(inter, "debt_to_income")',
         lambda ax: plots.interactions(c["inter"], "debt_to_income", ax=ax)),
        ("cohorts", "Cohorts", 'plots.cohorts(exp, "housing")',
         lambda ax: plots.cohorts(c["shap"], "housing", ax=ax)),
        ("partial_dependence", "PD and ICE", "plots.partial_dependence(pd, xlim=shared)",
         lambda ax: plots.partial_dependence(c["pd_income"], ax=ax, xlim=shared)),
        ("ale", "ALE (same x range as the PD)", "plots.ale(ale, xlim=shared)",
         lambda ax: plots.ale(c["ale_income"], ax=ax, xlim=shared)),
        ("partial_dependence_integer", "PD of a count", "plots.partial_dependence(pd_late)",
         lambda ax: plots.partial_dependence(c["pd_late"], ax=ax)),
        ("partial_dependence_categorical", "PD of a category",
         "plots.partial_dependence(pd_emp)",
         lambda ax: plots.partial_dependence(c["pd_emp"], ax=ax)),
        ("pd_heatmap", "Two-feature PD", "plots.pd_heatmap(pd2)",
         lambda ax: plots.pd_heatmap(c["pd2"], ax=ax)),
        ("image", "LIME on an image", "plots.image(exp)", lambda ax: plots.image(digit, ax=ax)),
        ("text", "LIME on a text", "plots.text(exp)",
         lambda ax: plots.text(note, ax=ax, target="default")),
        ("anchor", "Anchor rule", "plots.anchor(rule)",
         lambda ax: plots.anchor(c["anchor"], ax=ax)),
        ("counterfactual", "What would change the decision", "plots.counterfactual(cfs)",
         lambda ax: plots.counterfactual(cfs, ax=ax)),
        ("confusion_matrix", "Confusion matrix", "plots.confusion_matrix(ev)",
         lambda ax: plots.confusion_matrix(c["ev"], ax=ax)),
        ("roc_curve", "ROC", "plots.roc_curve(ev)", lambda ax: plots.roc_curve(c["ev"], ax=ax)),
        ("precision_recall_curve", "Precision-recall", "plots.precision_recall_curve(ev)",
         lambda ax: plots.precision_recall_curve(c["ev"], ax=ax)),
        ("calibration_curve", "Calibration with bin counts",
         "plots.calibration_curve(ev, y=y, proba=p)",
         lambda ax: plots.calibration_curve(c["ev"], y=c["y_holdout"], proba=c["p_holdout"], ax=ax)),
        ("residuals", "Residuals", "plots.residuals(ev)", lambda ax: plots.residuals(reg, ax=ax)),
        ("compare_metrics", "Two models' metrics with intervals", "plots.compare_metrics(cmp)",
         lambda ax: plots.compare_metrics(cmp, ax=ax)),
        ("compare_differences", "Paired differences and tests",
         "plots.compare_differences(cmp)", lambda ax: plots.compare_differences(cmp, ax=ax)),
        ("compare_calibration", "Two models' calibration", "plots.compare_calibration(cmp)",
         lambda ax: plots.compare_calibration(cmp, ax=ax)),
        ("compare_importance", "Two models' permutation importance",
         "plots.compare_importance(cmp)", lambda ax: plots.compare_importance(cmp, ax=ax)),
        ("compare_importance_shap", "Two models' mean |SHAP|",
         'plots.compare_importance(cmp, kind="shap")',
         lambda ax: plots.compare_importance(cmp, kind="shap", ax=ax)),
    ]  # fmt: skip


def main(out: str | Path = Path(__file__).parent / "gallery") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Plot gallery",
        "",
        "Every plot in `pellucid.plots`, drawn from the bundled data (`pellucid.datasets`:",
        "the synthetic credit data, diabetes, digits) by `docs/make_gallery.py`.",
        "`cmp` is `pellucid.compare()` of a logistic regression and a shallow tree.",
        "Regenerate with `python docs/make_gallery.py`.",
        "",
    ]
    written = []
    for stem, title, call, draw in gallery():
        fig = _drawn(draw)
        path = out / f"{stem}.png"
        fig.savefig(path, dpi=DPI, metadata={"Software": None}, facecolor="white")
        written.append(path)
        lines += [f"## {title}", "", f"`{call}`", "", f"![{title}]({stem}.png)", ""]
    (out / "index.md").write_text("\n".join(lines), encoding="utf-8")
    return written


def _drawn(draw: Callable[[Any], Any]) -> Any:
    """Draw on a new figure sized as the plot asks (its default figsize), closed in pyplot."""
    import matplotlib.pyplot as plt

    ax = draw(None)
    fig = ax.figure
    plt.close(fig)
    return fig


if __name__ == "__main__":
    for p in main(*sys.argv[1:2]):
        print(p)
