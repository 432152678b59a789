"""The quality metrics on pellucid's own registered explainers, where answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pellucid._registry import available, get
from pellucid.quality import (
    agreement,
    deletion,
    faithfulness_correlation,
    infidelity,
    linear_problem,
    sanity_check,
    stability,
    tree_problem,
)

needs = pytest.mark.skipif(
    not {"exact_shap", "kernel_shap", "lime", "tree_shap"} <= set(available()),
    reason="needs the Shapley, tree and LIME explainers",
)


@pytest.fixture(scope="module")
def lin():
    return linear_problem(n_features=6, n_rows=10, n_background=30, random_state=11)


@needs
def test_exact_shap_of_linear_model_is_perfectly_faithful(lin):
    exp = get("exact_shap")(lin.model, lin.background).explain(lin.X)
    kw = {"background": lin.background}
    assert np.all(infidelity(lin.model, lin.X, exp, **kw).per_row < 1e-20)
    np.testing.assert_allclose(
        faithfulness_correlation(lin.model, lin.X, exp, **kw).per_row, 1.0, atol=1e-9
    )
    dele = deletion(lin.model, lin.X, exp, **kw)
    assert np.all(dele.area <= dele.random_area + 1e-9)


@needs
def test_shapley_estimators_agree_and_lime_less_so(lin):
    exact = get("exact_shap")(lin.model, lin.background).explain(lin.X)
    kernel = get("kernel_shap")(lin.model, lin.background, random_state=0).explain(lin.X)
    lime = get("lime")(lin.model, lin.background, random_state=0).explain(lin.X)
    same = agreement(exact, kernel, k=3)
    np.testing.assert_allclose(same.rank_correlation, 1.0)
    np.testing.assert_allclose(same.top_k_overlap, 1.0)
    other = agreement(exact, lime, k=3)
    assert other.rank_correlation_mean < same.rank_correlation_mean


@needs
def test_treeshap_on_classifier_margin_detected_and_exact():
    from sklearn.ensemble import GradientBoostingClassifier

    p = tree_problem(n_features=5, n_rows=8, n_background=25, n_train=300, random_state=2)
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(300, 5)), columns=p.X.columns)
    y = (train["x0"] + train["x1"] * train["x2"] > 0).astype(int)
    clf = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(train, y)
    exp = get("tree_shap")(clf, p.background).explain(p.X)  # explains the raw margin
    # The raw classifier is passed: the metrics find the margin output the values explain.
    corr = faithfulness_correlation(clf, p.X, exp, background=p.background)
    assert corr.mean > 0.8
    from pellucid import Model
    from pellucid.quality import brute_force_shapley

    truth = brute_force_shapley(Model(clf, output="raw"), p.X, p.background)
    np.testing.assert_allclose(exp.values, truth, atol=1e-8)


@needs
def test_sanity_and_stability_of_registered_methods():
    p = tree_problem(n_features=5, n_rows=8, n_background=30, n_train=300, random_state=3)
    y = p.model.predict(p.background)
    check = sanity_check("exact_shap", p.model, p.X, data=p.background, y=y)
    assert check.passed
    stab = stability("kernel_shap", p.model, p.X, data=p.background, seeds=3, budget=12)
    assert stab.seed_variation is not None and stab.seed_variation_mean > 0
    exact = stability("exact_shap", p.model, p.X, data=p.background)
    assert exact.seed_variation is None  # takes no seed: nothing to vary


@needs
def test_unknown_option_is_refused(lin):
    with pytest.raises(TypeError, match="nonsense"):
        stability("kernel_shap", lin.model, lin.X, data=lin.background, nonsense=1)
