"""Report results built by hand (no model behind them), for testing the render step alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pellucid import Anchor, Explanation, FeatureImportance, PartialDependence, Predicate

# Report settings for tests: model-agnostic SHAP (when TreeShap does not cover the model)
# on a small budget.
FAST = {"shap_rows_agnostic": 20, "shap_background_rows": 8, "shap_budget": 64}


def full_results(n_rows: int = 300, seed: int = 0):
    """A ReportResults with every section filled, from synthetic numbers."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from pellucid import evaluate
    from pellucid.datasets import credit
    from pellucid.reporting import LocalResult, ReportResults, compare_local, data_overview

    rng = np.random.default_rng(seed)
    X, y = credit(n_rows=n_rows, random_state=seed)
    # a correlated pair so the overview and the effects section warn about PD
    X = X.assign(income_after_tax=(X["income"] * 0.7 + rng.normal(0, 500, n_rows)).round())
    num = X.select_dtypes("number").fillna(0)
    evaluation = evaluate(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(num, y),
        num,
        y,
        subgroups=X["sex"],
    )
    names = tuple(X.columns)
    d = len(names)
    values = rng.normal(size=(n_rows, d)) * np.linspace(2, 0.1, d)
    shap = Explanation(
        values,
        np.full(n_rows, -1.2),
        data=X.to_numpy(dtype=object),
        feature_names=names,
        output=-1.2 + values.sum(1),
        method="tree_shap",
    )
    perm = FeatureImportance(
        np.abs(rng.normal(size=(d, 5))) * np.linspace(0.2, 0.01, d)[:, None],
        names,
        method="permutation_importance",
    )
    top = ("age", "income", "debt_to_income", "employment")
    pds, ales = [], []
    for f in top:
        cat = f == "employment"
        grid = (
            np.array(["employed", "self_employed", "unemployed", "retired"])
            if cat
            else np.linspace(0, 1, 12)
        )
        ice = rng.normal(size=(40, len(grid))).cumsum(1) * 0.05 + 0.3
        pds.append(
            PartialDependence(
                (f,),
                (grid,),
                ice.mean(0)[None],
                ice[None],
                kind="both",
                categorical=(cat,),
                output_names=("1",),
                method="partial_dependence",
            )
        )
        ales.append(
            PartialDependence(
                (f,),
                (grid,),
                (ice.mean(0) - ice.mean())[None],
                kind="ale",
                categorical=(cat,),
                method="ale",
            )
        )
    g0, g1 = np.linspace(21, 75, 8), np.linspace(9000, 200000, 8)
    pd2 = PartialDependence(
        ("age", "income"), (g0, g1), (np.outer(g0, 1 / g1) * 1e3)[None], method="partial_dependence"
    )
    local = []
    for r, label in ((3, "highest prediction"), (7, "lowest prediction")):
        lime = Explanation(
            values[[r]][:, ::-1] * 0.1,
            np.array([0.2]),
            data=X.iloc[[r]].to_numpy(dtype=object),
            feature_names=names,
            diagnostics={"fidelity": np.array([0.81])},
            method="lime",
        )
        rule = Anchor(
            (Predicate("late_payments", ">", 1.0), Predicate("housing", "==", "rent")),
            precision=0.95,
            coverage=0.12,
            prediction=1,
        )
        s = shap[r]
        local.append(LocalResult(r, label, 0.42, s, lime, rule, compare_local(s, lime, rule)))
    res = ReportResults(
        title="Hand-made report",
        task="binary",
        explained_output="1",
        overview=data_overview(X, y, classification=True),
        evaluation=evaluation,
        permutation=perm,
        shap=shap,
        top_features=top,
        pd=pds,
        ale=ales,
        pd2=pd2,
        local=local,
        notes={"shap": ["SHAP values of 300 rows."]},
        record={
            "created (UTC)": "2026-01-01 00:00:00",
            "random_state": 0,
            "versions": {"pellucid": "0.1.0"},
        },
    )
    return res


def minimal_results():
    """Only the data overview: renders in a blink, for tests of the document around it."""
    from pellucid.reporting import ReportResults, data_overview

    X = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": ["x", "y", "x", "x"]})
    return ReportResults(
        title="Minimal report",
        task="regression",
        explained_output=None,
        overview=data_overview(X),
        record={"created (UTC)": "2026-01-01 00:00:00", "random_state": 0},
    )
