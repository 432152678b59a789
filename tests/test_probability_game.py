"""Two readings of "SHAP values of a probability" for a tree classifier.

``TreeShap(model, background, output="probability")`` follows shap's definition:
per (row, background row) pair, the raw-margin interventional values rescaled by
(sigmoid(f(x)) - sigmoid(f(b))) / (f(x) - f(b)). That is not the Shapley value of
the probability game v(S) = mean_b sigmoid(f(x_S, b_rest)). The exact values of
that game are what ``ExactShap(model, background)`` computes for a classifier (it
explains predict_proba). Both add up to the same total; they share out differently.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

import pellucid


def _brute_force_probability_game(model, x, background):
    """Shapley values of v(S) = mean_b P(y=1 | x_S, b_rest), by enumerating coalitions."""
    d = len(x)

    def v(S):
        Z = background.copy()
        Z[:, list(S)] = x[list(S)]
        return model.predict_proba(Z)[:, 1].mean()

    phi = np.zeros(d)
    for i in range(d):
        others = [j for j in range(d) if j != i]
        for size in range(d):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for S in itertools.combinations(others, size):
                phi[i] += weight * (v(S + (i,)) - v(S))
    return phi


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    logit = 2 * X[:, 0] * X[:, 1] + 1.5 * X[:, 2] - X[:, 3]
    y = (rng.random(400) < 1 / (1 + np.exp(-logit))).astype(int)
    model = GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0).fit(X, y)
    return model, X[:30], X[300:303]


def test_exact_shap_gives_the_probability_games_shapley_values(problem):
    model, background, rows = problem
    exact = pellucid.ExactShap(model, background).explain(rows)
    assert exact.output_kind == "probability"
    for r, x in enumerate(rows):
        np.testing.assert_allclose(
            exact.values[r, :, 1], _brute_force_probability_game(model, x, background), atol=1e-12
        )


def test_shaps_probability_definition_differs_but_adds_up_the_same(problem):
    model, background, rows = problem
    game = pellucid.ExactShap(model, background).explain(rows).values[:, :, 1]
    rescaled = pellucid.TreeShap(model, background, output="probability").explain(rows).values
    # the same total: P(x) minus the background's mean probability
    total = model.predict_proba(rows)[:, 1] - model.predict_proba(background)[:, 1].mean()
    np.testing.assert_allclose(game.sum(axis=1), total, atol=1e-12)
    np.testing.assert_allclose(rescaled.sum(axis=1), total, atol=1e-9)
    # shared out differently where the features interact (x0 * x1 in the logit)
    assert np.abs(game - rescaled).max() > 1e-3
