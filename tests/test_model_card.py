"""Model cards: fairness gaps against closed forms and fairlearn, rendering, determinism."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pellucid import FeatureImportance, ModelCard, evaluate, model_card
from pellucid.datasets import credit
from pellucid.metrics._fairness import _ece
from pellucid.regulatory._card import fairness_table

CATS = ["employment", "housing", "sex"]


@pytest.fixture(scope="module")
def credit_model():
    X, y = credit(n_rows=700, random_state=1)
    X = X.drop(columns=["savings"])
    num = [c for c in X.columns if c not in CATS]
    pre = ColumnTransformer([("num", StandardScaler(), num), ("cat", OneHotEncoder(), CATS)])
    model = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=1000))])
    model.fit(X.iloc[:400], y.iloc[:400])
    return model, X.iloc[400:].reset_index(drop=True), y.iloc[400:].reset_index(drop=True)


def test_fairness_table_closed_form():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    p = np.array([0.9, 0.4, 0.6, 0.1, 0.8, 0.7, 0.2, 0.3])
    g = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    table, gaps = fairness_table(y, p, g, threshold=0.5)
    # a: decisions 1,0,1,0 -> selection 1/2, TPR 1/2, FPR 1/2; b: 1,1,0,0 -> 1/2, TPR 1, FPR 1/3
    np.testing.assert_allclose(table.loc["a", ["selection_rate", "tpr", "fpr"]], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(table.loc["b", ["selection_rate", "tpr", "fpr"]], [0.5, 1.0, 1 / 3])
    assert gaps.demographic_parity_difference == pytest.approx(0.0)
    assert gaps.equal_opportunity_difference == pytest.approx(0.5)
    assert gaps.equalized_odds_difference == pytest.approx(0.5)
    # calibration in the large: a mean p 0.5 vs rate 0.5; b 0.5 vs 0.25
    assert gaps.calibration_in_the_large_difference == pytest.approx(0.25)


def test_ece_closed_form():
    # two bins: [0.1, 0.2] with outcomes [0, 1] and [0.9] with [1]
    y = np.array([0, 1, 1])
    p = np.array([0.1, 0.2, 0.9])
    expected = 2 / 3 * abs(0.5 - 0.15) + 1 / 3 * abs(1 - 0.9)
    assert _ece(y, p, n_bins=2) == pytest.approx(expected)


def test_fairness_gaps_match_fairlearn():
    fl = pytest.importorskip("fairlearn.metrics")
    rng = np.random.default_rng(0)
    n = 500
    g = rng.choice(["x", "y", "z"], n)
    y = (rng.random(n) < np.where(g == "x", 0.3, 0.5)).astype(int)
    p = np.clip(rng.random(n) * 0.6 + 0.3 * y + 0.1 * (g == "z"), 0, 1)
    pred = (p >= 0.5).astype(int)
    _, gaps = fairness_table(y, p, g)
    assert gaps.demographic_parity_difference == pytest.approx(
        fl.demographic_parity_difference(y, pred, sensitive_features=g), abs=1e-12
    )
    assert gaps.equalized_odds_difference == pytest.approx(
        fl.equalized_odds_difference(y, pred, sensitive_features=g), abs=1e-12
    )
    tpr = fl.MetricFrame(metrics=fl.true_positive_rate, y_true=y, y_pred=pred, sensitive_features=g)
    assert gaps.equal_opportunity_difference == pytest.approx(tpr.difference(), abs=1e-12)


def test_model_card_contents(credit_model):
    model, X, y = credit_model
    card = model_card(
        model,
        X,
        y,
        subgroups="sex",
        name="Credit default model",
        intended_use={"primary_uses": "Rank applications for manual review."},
        limitations=["Trained on synthetic data."],
        n_repeats=2,
        created="2026-01-01T00:00:00Z",
    )
    assert isinstance(card, ModelCard)
    # metrics overall and per group are pellucid.evaluate's
    ev = evaluate(model, X, y, subgroups="sex")
    assert card.metrics.loc["all", "roc_auc"] == pytest.approx(ev.metrics["roc_auc"])
    section = card.subgroups[0]
    for g, sub in ev.by_group.items():
        assert section.metrics.loc[g, "accuracy"] == pytest.approx(sub.metrics["accuracy"])
    # fairness gaps are those of fairness_table on the model's probabilities
    p = model.predict_proba(X)[:, 1]
    _, gaps = fairness_table(y.to_numpy(), p, X["sex"].to_numpy())
    assert dict(section.gaps.items()) == pytest.approx(dict(gaps.items()), nan_ok=True)
    assert card.limitations[0] == "Trained on synthetic data."
    assert isinstance(card.importance, FeatureImportance)
    assert card.importance.feature_names == tuple(X.columns)
    md = card.to_markdown()
    for heading in (
        "## Model details",
        "## Intended use",
        "## Data",
        "## Metrics",
        "## Metrics and fairness by sex",
        "## Global explanation",
        "## Limitations",
        "## Reproducibility",
    ):
        assert heading in md
    assert "Demographic parity difference" in md
    assert "Rank applications for manual review." in md
    assert card.reproducibility.n_rows == len(X)


def test_model_card_is_deterministic_and_self_contained(credit_model, tmp_path):
    model, X, y = credit_model
    kw = dict(subgroups=["sex", "housing"], n_repeats=2, random_state=3, created="fixed")
    a, b = model_card(model, X, y, **kw), model_card(model, X, y, **kw)
    assert a.to_markdown() == b.to_markdown()
    page = a.to_html()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "http://" not in page and "https://" not in page
    assert "<section" in a.to_html(full=False) and "<html" not in a.to_html(full=False)
    for suffix in (".md", ".html", ".json"):
        path = a.save(tmp_path / f"card{suffix}")
        assert path.read_text(encoding="utf-8")
    payload = json.loads((tmp_path / "card.json").read_text())
    assert [s["attribute"] for s in payload["subgroups"]] == ["sex", "housing"]
    with pytest.raises(ValueError, match="suffix|type"):
        a.save(tmp_path / "card.txt")


def test_small_groups_and_large_gaps_become_limitations(credit_model):
    model, X, y = credit_model
    groups = np.where(np.arange(len(X)) < 10, "tiny", "big")
    card = model_card(model, X, y, subgroups=groups, importance=False)
    assert card.importance is None
    assert any("tiny" in note and "10 rows" in note for note in card.limitations)


def test_regression_card_has_no_fairness_and_closed_form_importance():
    # Permutation importance of a linear model with independent features: permuting x_j
    # adds 2 coef_j^2 var(x_j) to the expected MSE, i.e. drops r2 by that over var(y).
    rng = np.random.default_rng(0)
    n, coef = 4000, np.array([3.0, -2.0, 0.5])
    X = pd.DataFrame(rng.normal(size=(n, 3)) * [1.0, 2.0, 1.0], columns=["a", "b", "c"])
    y = X.to_numpy() @ coef + rng.normal(size=n)
    model = LinearRegression().fit(X, y)
    card = model_card(model, X, y, subgroups=(X["a"] > 0).to_numpy(), n_repeats=5)
    assert "r2" in card.metrics.columns
    assert card.subgroups[0].fairness is None and card.subgroups[0].gaps is None
    expected = 2 * model.coef_**2 * X.var(ddof=0).to_numpy() / np.var(y)
    np.testing.assert_allclose(card.importance.importances_mean, expected, rtol=0.08)


def test_model_card_bad_arguments(credit_model):
    model, X, y = credit_model
    with pytest.raises(ValueError, match="intended_use"):
        model_card(model, X, y, intended_use={"users": "x"}, importance=False)
    with pytest.raises(ValueError, match="nope"):
        model_card(model, X, y, subgroups="nope", importance=False)
    with pytest.raises(ValueError, match="threshold"):
        model_card(model, X, y, threshold=1.5, importance=False)
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="rows"):
        model_card(LinearRegression().fit(frame, [1, 2]), frame, [1, 2, 3])
