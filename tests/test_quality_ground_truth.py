"""Ground truth: known Shapley values three ways, and every registered method against them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pellucid import as_model
from pellucid._registry import available, spec
from pellucid.quality import (
    Problem,
    additive_problem,
    brute_force_shapley,
    credit_problem,
    ground_truth,
    interaction_problem,
    linear_problem,
    tree_problem,
    trust_summary,
)
from pellucid.quality._ground_truth import term_shapley
from quality_helpers import BruteShap, FixedPattern, NoisyShap

SMALL = {"n_rows": 6, "n_background": 15, "random_state": 4}


@pytest.fixture(scope="module")
def small_problems():
    return [
        linear_problem(**SMALL),
        additive_problem(**SMALL),
        interaction_problem(**SMALL),
        credit_problem(n_rows=3, n_background=10, random_state=4),
        tree_problem(**SMALL, n_train=200),
    ]


def test_truth_is_efficient(small_problems):
    # Efficiency axiom: the values add up to f(x) - mean_b f(b), row by row.
    for p in small_problems:
        f = as_model(p.model)
        gap = f.predict(p.X) - f.predict(p.background).mean()
        np.testing.assert_allclose(p.truth.sum(axis=1), gap, rtol=1e-10, atol=1e-10, err_msg=p.name)


def test_truth_matches_brute_force_enumeration(small_problems):
    for p in small_problems:
        brute = brute_force_shapley(p.model, p.X, p.background)
        np.testing.assert_allclose(brute, p.truth, rtol=1e-9, atol=1e-10, err_msg=p.name)


def test_linear_truth_closed_form():
    p = linear_problem(**SMALL)
    cols = list(p.X.columns)
    w = p.model(pd.DataFrame(np.eye(6), columns=cols)) - p.model(
        pd.DataFrame(np.zeros((1, 6)), columns=cols)
    )
    np.testing.assert_allclose(p.truth, w * (p.X - p.background.mean()).to_numpy(), rtol=1e-12)


def test_product_interaction_split():
    # x0 * x1 alone: x0 gets (x0 m1 - m01 + x0 x1 - m0 x1) / 2, the two-player Shapley value.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(4, 2)), columns=["a", "b"])
    bg = pd.DataFrame(rng.normal(size=(9, 2)) + 1, columns=["a", "b"])

    def g(F):
        return F["a"].to_numpy() * F["b"].to_numpy()

    phi = term_shapley(X, bg, [((0, 1), g)])
    m0, m1 = bg.mean()
    m01 = (bg["a"] * bg["b"]).mean()
    x0, x1 = X["a"].to_numpy(), X["b"].to_numpy()
    np.testing.assert_allclose(phi[:, 0], (x0 * m1 - m01 + x0 * x1 - m0 * x1) / 2, rtol=1e-12)
    np.testing.assert_allclose(phi[:, 1], (x1 * m0 - m01 + x0 * x1 - m1 * x0) / 2, rtol=1e-12)


def test_credit_truth_ignores_sex_and_reads_terms():
    p = credit_problem(n_rows=8, n_background=20, random_state=0)
    sex = p.feature_names.index("sex")
    np.testing.assert_array_equal(p.truth[:, sex], 0.0)
    from pellucid.datasets import credit_terms

    age = p.feature_names.index("age")
    t = credit_terms(p.X)["age"] - credit_terms(p.background)["age"].mean()
    np.testing.assert_allclose(p.truth[:, age], t.to_numpy(), rtol=1e-12)


def test_exact_reference_scores_zero_and_noise_shows(small_problems):
    report = ground_truth([BruteShap, NoisyShap], small_problems)
    frame = report.to_frame()
    assert len(frame) == 2 * len(small_problems) and not report.skipped
    brute = frame[frame.method == "BruteShap"]
    assert (brute.max_abs_error < 1e-8).all()
    noisy = frame[frame.method == "NoisyShap"]
    assert (noisy.mean_abs_error > 0.03).all() and (noisy.mean_abs_error < 0.2).all()
    r = report.result("BruteShap", "linear")
    assert r.per_row.shape == (6,) and r.truth.shape == r.estimate.shape == (6, 6)
    json.dumps(r.to_dict())


def test_methods_that_cannot_run_are_listed():
    class TreesOnly(BruteShap):
        def __init__(self, model, data=None):
            if callable(model) and not hasattr(model, "fit"):
                raise TypeError("not a tree model")
            super().__init__(model, data)

    report = ground_truth(TreesOnly, [linear_problem(**SMALL), tree_problem(**SMALL, n_train=200)])
    assert [r.problem for r in report.results] == ["tree_model"]
    assert "not a tree model" in report.skipped[("TreesOnly", "linear")]
    with pytest.raises(KeyError, match="not a tree model"):
        report.result("TreesOnly", "linear")
    with pytest.raises(KeyError, match="Unknown problem"):
        ground_truth(BruteShap, "nonsense")


TABULAR = available(kind="attribution", inputs="tabular")


@pytest.mark.parametrize("name", TABULAR)
def test_registered_method_ground_truth(name):
    probs = [
        linear_problem(**SMALL),
        interaction_problem(**SMALL),
        tree_problem(**SMALL, n_train=200),
    ]
    report = ground_truth(name, probs)
    assert report.results, f"{name} ran on no problem: {dict(report.skipped)}"
    for r in report.results:
        assert np.isfinite(r.relative_error)
        if spec(name).exact:
            assert r.max_abs_error < 1e-8, (name, r.problem, r.max_abs_error)


def test_trust_summary_reads_good_and_bad_methods():
    p = linear_problem(n_features=5, n_rows=10, n_background=25, random_state=1)
    train = pd.concat([p.X, p.background], ignore_index=True)
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(train, p.model(train))
    truth = brute_force_shapley(model, p.X, p.background)
    summary = trust_summary(
        model,
        p.X,
        methods=[BruteShap, FixedPattern],
        data=p.background,
        y=p.model(p.background),
        truth=truth,
        sanity=True,
    )
    frame = summary.to_frame().set_index("method")
    assert list(summary.to_frame().columns) == list(summary.COLUMNS)
    good, bad = frame.loc["BruteShap"], frame.loc["FixedPattern"]
    assert good.verdict == "trust" and good.ground_truth_error < 1e-10
    assert good.faithfulness_correlation == pytest.approx(1.0)
    assert bool(good.sanity_passed) and not bool(bad.sanity_passed)
    assert bad.verdict == "do not rely on"
    assert "Fails the sanity checks" in bad.reading
    json.dumps(summary.to_dict())


def test_problem_is_plain_data():
    p = linear_problem(**SMALL)
    assert isinstance(p, Problem) and p.feature_names == tuple(f"x{j}" for j in range(6))
    with pytest.raises(ValueError, match="at least 6"):
        interaction_problem(n_features=4)
    wide = pd.DataFrame(np.zeros((1, 15)))
    with pytest.raises(ValueError, match="too large"):
        brute_force_shapley(lambda X: np.zeros(len(X)), wide, wide)


def test_the_old_name_treeshap_is_reported_and_configured_as_tree_shap():
    report = ground_truth("treeshap", problems="tree_model")
    assert [r.method for r in report.results] == ["tree_shap"]
    assert report.result("tree_shap", "tree_model").max_abs_error < 1e-9
    # Options given under the old name reach the method (a bad one is reported, not dropped).
    bad = ground_truth("tree_shap", problems="tree_model", options={"treeshap": {"output": "x"}})
    assert not bad.results and "output" in bad.skipped[("tree_shap", "tree_model")]
