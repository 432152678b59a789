"""The report and the model card state the decision threshold their metrics use and the
scorer behind permutation importance ("importance: drop in ROC AUC"), and measure at them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

import pellucid
from pellucid.effects import permutation_importance
from pellucid.regulatory import model_card


@pytest.fixture(scope="module")
def fitted():
    X, y = pellucid.datasets.credit(n_rows=600, random_state=0)
    X = X[["age", "income", "debt_to_income", "late_payments"]]
    return LogisticRegression(max_iter=1000).fit(X, y), X, y


def test_card_measures_at_its_threshold_and_says_so(fitted):
    model, X, y = fitted
    card = model_card(model, X, y, threshold=0.3, importance=False)
    predicted = (model.predict_proba(X)[:, 1] >= 0.3).astype(int)
    metrics = card.metrics.iloc[:, 0] if card.metrics.shape[1] == 1 else card.metrics.iloc[0]
    np.testing.assert_allclose(metrics["recall"], skm.recall_score(y, predicted), rtol=1e-12)
    np.testing.assert_allclose(metrics["accuracy"], skm.accuracy_score(y, predicted), rtol=1e-12)
    sentence = "Decision threshold: a row is predicted positive when P(1) >= 0.3"
    assert sentence in card.to_markdown()
    assert sentence.replace(">", "&gt;") in card.to_html()


def test_card_names_the_importance_scorer(fitted):
    model, X, y = fitted
    card = model_card(model, X, y, n_repeats=2)
    assert card.importance.params["scoring"] == "roc_auc"
    assert "Permutation importance (importance: drop in ROC AUC)" in card.to_markdown()


def test_report_states_threshold_and_scorer_and_uses_roc_auc(fitted):
    model, X, y = fitted
    settings = {
        "importance_rows": 600,
        "importance_repeats": 2,
        "shap_rows_agnostic": 10,
        "shap_background_rows": 5,
        "shap_budget": 32,
        "effect_rows": 30,
        "grid_points": 5,
        "grid_points_2d": 4,
        "local_rows": 1,
        "lime_samples": 100,
        "trust_rows": 2,
    }
    methods = ["permutation_importance"]
    rep = pellucid.report(model, X, y, methods=methods, random_state=0, settings=settings)
    res = rep.results
    expected = permutation_importance(
        model, X, y.to_numpy(), scoring="roc_auc", n_repeats=2, random_state=0
    )
    np.testing.assert_allclose(
        res.permutation.importances_mean, expected.importances_mean, rtol=1e-12
    )
    assert res.record["decision threshold"] == "P(1) >= 0.5"
    html = rep.html
    assert "Decision threshold: a row is predicted 1 when P(1) &gt;= 0.5" in html
    assert "Permutation importance: drop in ROC AUC when shuffled." in html
