"""Robustness, sanity checks and agreement on cases with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression

from pellucid import Explanation, FeatureImportance
from pellucid.quality import (
    agreement,
    linear_problem,
    max_sensitivity,
    random_function,
    rank_correlation,
    sanity_check,
    stability,
)
from pellucid.quality._common import numeric_scales, perturb
from quality_helpers import BruteShap, FixedPattern, NoisyShap, SeededInExplain


@pytest.fixture(scope="module")
def lin():
    p = linear_problem(n_features=5, n_rows=12, n_background=30, random_state=5)
    return p


# ---------------------------------------------------------------- robustness


def test_linear_exact_shap_lipschitz_is_bounded_by_weights(lin):
    # phi(x') - phi(x) = w * (x' - x): the Lipschitz ratio in standard units is at most max|w_j| std_j.
    cols = list(lin.X.columns)
    w = lin.model(pd.DataFrame(np.eye(5), columns=cols)) - lin.model(
        pd.DataFrame(np.zeros((1, 5)), columns=cols)
    )
    res = stability(
        BruteShap, lin.model, lin.X, data=lin.background, seeds=2, radius=0.1, n_samples=4
    )
    _, std = numeric_scales(lin.X, lin.background)
    bound = np.max(np.abs(w) * std)
    assert res.seed_variation is None  # BruteShap takes no seed
    assert np.all(res.lipschitz <= bound * (1 + 1e-9))
    assert np.all(res.lipschitz >= np.min(np.abs(w) * std) * (1 - 1e-9))
    # The relative change: ||w * delta|| / ||phi||, delta at most 0.1 std per feature.
    phi = BruteShap(lin.model, lin.background).explain(lin.X).values
    upper = np.linalg.norm(np.abs(w) * std * 0.1) / np.linalg.norm(phi, axis=1)
    assert np.all(res.sensitivity <= upper * (1 + 1e-9))
    assert np.all(res.sensitivity > 0)


def test_model_ignoring_explainer_has_zero_sensitivity(lin):
    ms = max_sensitivity(FixedPattern(lin.model), lin.X, radius=0.2, n_samples=3)
    np.testing.assert_array_equal(ms.per_row, 0.0)


def test_seed_variation_measures_sampling_noise(lin):
    quiet = stability(NoisyShap, lin.model, lin.X, data=lin.background, seeds=4, noise=1e-3)
    loud = stability(NoisyShap, lin.model, lin.X, data=lin.background, seeds=4, noise=0.5)
    assert quiet.seed_variation is not None and loud.seed_variation is not None
    assert 0 < quiet.seed_variation_mean < 0.01 < loud.seed_variation_mean
    exact = stability(NoisyShap, lin.model, lin.X, data=lin.background, seeds=3, noise=0.0)
    np.testing.assert_array_equal(exact.seed_variation, 0.0)
    again = stability(NoisyShap, lin.model, lin.X, data=lin.background, seeds=4, noise=0.5)
    assert again.seed_variation.tobytes() == loud.seed_variation.tobytes()
    # A class seeded in explain() (the old protocol) declares no seed: run as deterministic.
    old = stability(SeededInExplain, lin.model, lin.X, data=lin.background, seeds=4, noise=0.5)
    assert old.seed_variation is None
    assert max_sensitivity(NoisyShap(lin.model, lin.background), lin.X).per_row.tobytes() == (
        max_sensitivity(NoisyShap(lin.model, lin.background), lin.X).per_row.tobytes()
    )


def test_perturb_keeps_dtypes_and_categories(credit_small):
    X = credit_small.X.iloc[:6].reset_index(drop=True)
    numeric, std = numeric_scales(X)
    moved, step = perturb(X, 0.3, 4, np.random.default_rng(0), numeric, std)
    assert list(moved.dtypes) == list(X.dtypes)
    rows = np.repeat(np.arange(6), 4)
    for col in ("employment", "housing", "sex"):
        assert (moved[col].to_numpy() == X[col].to_numpy()[rows]).all()
    assert (
        moved["savings"].isna().to_numpy().tolist() == X["savings"].isna().to_numpy()[rows].tolist()
    )
    assert np.all(np.abs(step) <= 0.3 + 0.5 / std.min())  # integers round by at most half a unit
    assert step.shape == (24, 10)


# ---------------------------------------------------------------- sanity


def test_sanity_check_flags_model_ignoring_explainer(lin):
    res = sanity_check(FixedPattern, lin.model, lin.X, data=lin.background)
    np.testing.assert_allclose(res.model_randomization, 1.0)
    assert res.label_permutation is None
    assert not res.passed


def test_sanity_check_passes_exact_shap_on_a_fitted_model():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(200, 5)), columns=[f"f{j}" for j in range(5)])
    y = 3 * X["f0"] - 2 * X["f1"] + X["f2"] * X["f3"] + 0.1 * rng.normal(size=200)
    model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    rows, bg = X.iloc[:12].reset_index(drop=True), X.iloc[100:130].reset_index(drop=True)
    res = sanity_check(BruteShap, model, rows, data=bg, y=y.iloc[100:130])
    assert res.label_permutation is not None
    assert res.model_randomization_mean < 0.5 and res.label_permutation_mean < 0.5
    assert res.passed
    fixed = sanity_check(FixedPattern, model, rows, data=bg, y=y.iloc[100:130])
    assert fixed.model_randomization_mean == pytest.approx(1.0)
    assert fixed.label_permutation_mean == pytest.approx(1.0)
    assert not fixed.passed


def test_random_function_handles_categories(credit_small):
    f = random_function(credit_small.X, random_state=0)
    out = f(credit_small.X.iloc[:50])
    assert out.shape == (50,) and np.isfinite(out).all()
    g = random_function(credit_small.X, random_state=0)
    assert g(credit_small.X.iloc[:50]).tobytes() == out.tobytes()


def test_sanity_check_labels_must_match_rows(lin):
    model = LinearRegression().fit(lin.background, lin.model(lin.background))
    with pytest.raises(ValueError, match="labels"):
        sanity_check(BruteShap, model, lin.X, data=lin.background, y=np.zeros(3))


# ---------------------------------------------------------------- agreement


def test_agreement_with_itself_is_one(lin):
    exp = BruteShap(lin.model, lin.background).explain(lin.X)
    res = agreement(exp, exp, top_k=3)
    np.testing.assert_array_equal(res.rank_correlation, 1.0)
    np.testing.assert_array_equal(res.top_k_overlap, 1.0)
    np.testing.assert_array_equal(res.sign_agreement, 1.0)


def test_agreement_known_cases():
    names = list("abcd")
    a = Explanation(values=np.array([[4.0, 3.0, 2.0, 1.0]]), feature_names=names)
    flipped = Explanation(values=-a.values, feature_names=names)
    reverse = Explanation(values=np.array([[1.0, 2.0, 3.0, 4.0]]), feature_names=names)
    res = agreement(a, flipped, top_k=2)
    assert res.rank_correlation[0] == 1.0 and res.sign_agreement[0] == 0.0
    res = agreement(a, reverse, top_k=2)
    assert res.rank_correlation[0] == pytest.approx(-1.0) and res.top_k_overlap[0] == 0.0
    assert np.isnan(res.sign_agreement[0])  # no common top-k feature
    assert agreement(a, reverse, top_k=3).top_k_overlap[0] == pytest.approx(2 / 3)
    # Matched by name, not position.
    shuffled = Explanation(values=np.array([[1.0, 2.0, 4.0, 3.0]]), feature_names=list("dcab"))
    assert agreement(a, shuffled).rank_correlation[0] == 1.0


def test_agreement_with_global_importance(lin):
    exp = BruteShap(lin.model, lin.background).explain(lin.X)
    imp = FeatureImportance(importances=np.abs(exp.values).mean(0), feature_names=exp.feature_names)
    res = agreement(exp, imp, top_k=2)
    assert res.rank_correlation.shape == (1,) and res.rank_correlation[0] == 1.0
    assert np.isnan(res.sign_agreement[0])


def test_rank_correlation_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 7))
    b = a + rng.normal(size=(20, 7))
    b[3, :3] = b[3, 0]  # ties
    want = [spearmanr(a[i], b[i]).statistic for i in range(20)]
    np.testing.assert_allclose(rank_correlation(a, b), want, rtol=1e-12)
    const = np.ones((1, 4))
    assert rank_correlation(const, const)[0] == 1.0
    assert rank_correlation(const, a[:1, :4])[0] == 0.0
