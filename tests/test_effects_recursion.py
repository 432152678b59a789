"""partial_dependence(method="recursion") reads tree models through pellucid.tree."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.linear_model import LinearRegression

import pellucid
from pellucid import Model


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=400, n_features=4, random_state=0)
    model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    return model, X


def test_recursion_equals_sklearn_plus_the_constant(regression):
    model, X = regression
    ours = pellucid.partial_dependence(model, X, [1], method="recursion")
    ref = sk_partial_dependence(model, X, [1], method="recursion")
    np.testing.assert_allclose(ours.grid_values[0], ref["grid_values"][0], rtol=1e-12)
    # scikit-learn's recursion leaves out the init prediction (the mean of y); ours includes it.
    constant = model.init_.constant_.ravel()[0]
    np.testing.assert_allclose(ours.average, ref["average"] + constant, rtol=1e-9, atol=1e-9)
    two = pellucid.partial_dependence(model, X, [0, 2], method="recursion", grid_resolution=7)
    ref2 = sk_partial_dependence(model, X, [0, 2], method="recursion", grid_resolution=7)
    np.testing.assert_allclose(two.average, ref2["average"] + constant, rtol=1e-9, atol=1e-9)


def test_recursion_close_to_brute_for_a_tree_model_on_its_training_data(regression):
    model, X = regression
    rec = pellucid.partial_dependence(model, X, [3], method="recursion", grid_resolution=10)
    brute = pellucid.partial_dependence(model, X, [3], method="brute", grid_resolution=10)
    # Equal when the other features are independent of the target feature and the
    # trees' cover is the training data (Friedman 2001); both hold here up to sampling.
    spread = np.ptp(brute.average)
    np.testing.assert_allclose(rec.average, brute.average, atol=0.1 * spread)


def test_recursion_refuses_probabilities_and_non_trees(regression):
    _, X = regression
    y = (X[:, 0] > 0).astype(int)
    clf = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="output='raw'"):
        pellucid.partial_dependence(clf, X, [0], method="recursion")
    raw = pellucid.partial_dependence(Model(clf, output="raw"), X, [0], method="recursion")
    ref = sk_partial_dependence(
        clf, X, [0], method="recursion", response_method="decision_function"
    )
    constant = clf._raw_predict_init(X[:1]).ravel()[0]
    np.testing.assert_allclose(raw.average, ref["average"] + constant, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="needs a tree model"):
        pellucid.partial_dependence(LinearRegression().fit(X, X[:, 0]), X, [0], method="recursion")
