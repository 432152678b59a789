from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pellucid import datasets


def test_credit_is_deterministic_and_documented():
    a = datasets.credit(n_rows=500, random_state=3)
    b = datasets.credit(n_rows=500, random_state=3)
    pd.testing.assert_frame_equal(a.X, b.X)
    pd.testing.assert_series_equal(a.y, b.y)
    assert not a.X.equals(datasets.credit(n_rows=500, random_state=4).X)
    X, y = a
    assert X.shape == (500, 10) and y.name == "default"
    assert X["savings"].isna().mean() == pytest.approx(0.2, abs=0.06)
    for col in a.categorical:
        assert isinstance(X[col].dtype, pd.CategoricalDtype)
    terms = datasets.credit_terms(X)
    np.testing.assert_allclose(
        datasets.credit_logit(X), datasets.INTERCEPT + terms.sum(axis=1).to_numpy(), rtol=1e-12
    )
    np.testing.assert_array_equal(terms["sex"], 0.0)  # the protected attribute has no effect


def test_credit_labels_follow_the_true_probability():
    X, y = datasets.credit(n_rows=40_000, random_state=0)
    p = expit(datasets.credit_logit(X))
    # Mean of Bernoulli(p) draws: standard error sqrt(sum p(1-p))/n ~ 0.002.
    assert abs(y.mean() - p.mean()) < 0.01
    high = p > 0.5
    assert abs(y[high].mean() - p[high].mean()) < 0.03


def test_credit_true_effects_have_the_documented_signs():
    X, _ = datasets.credit(n_rows=2000, random_state=1)
    base = X.iloc[[0]].copy()
    logit = datasets.credit_logit
    more_debt = base.assign(debt_to_income=base["debt_to_income"] + 0.1)
    assert logit(more_debt)[0] > logit(base)[0]
    richer = base.assign(income=base["income"] * 2)
    assert logit(richer)[0] < logit(base)[0]


def test_bad_n_rows():
    with pytest.raises(ValueError, match="n_rows"):
        datasets.credit(n_rows=0)


@pytest.mark.parametrize(
    "loader, shape, task",
    [
        (datasets.breast_cancer, (569, 30), "binary"),
        (datasets.diabetes, (442, 10), "regression"),
        (datasets.digits, (1797, 64), "multiclass"),
    ],
)
def test_bundled_sklearn_sets(loader, shape, task):
    ds = loader()
    assert ds.X.shape == shape and ds.task == task and len(ds.y) == shape[0]
    assert isinstance(ds.X, pd.DataFrame) and ds.description
    assert ds.frame.shape == (shape[0], shape[1] + 1)
