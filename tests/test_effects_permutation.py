"""Permutation importance: closed form, scikit-learn, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import make_scorer, mean_absolute_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import pellucid
from pellucid import DataError
from pellucid.effects import permutation_importance


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def linear():
    # Independent features with different scales; noise-free target.
    rng = np.random.default_rng(0)
    n = 2000
    X = rng.normal(size=(n, 4)) * np.array([1.0, 2.0, 0.5, 1.0])
    coef = np.array([1.5, -0.7, 3.0, 0.0])
    y = X @ coef + 2.0
    return LinearRegression().fit(X, y), X, y, coef


def test_linear_model_matches_closed_form(linear):
    # For MSE, shuffling column j adds coef_j^2 * mean((x_pi - x)^2), whose
    # expectation over permutations is exactly 2 * coef_j^2 * var(x_j)
    # (population variance). One repeat's relative spread is 1/sqrt(n - 1),
    # so the mean of R repeats is within 1/sqrt(R (n - 1)) = 0.7% (1 sigma)
    # for n = 2000, R = 10; rtol 5% is about 7 sigma.
    model, X, y, coef = linear
    res = permutation_importance(
        model, X, y, scoring="neg_mean_squared_error", n_repeats=10, random_state=0
    )
    expected = 2 * coef**2 * X.var(axis=0)
    np.testing.assert_allclose(res.importances_mean[:3], expected[:3], rtol=0.05)
    np.testing.assert_allclose(res.importances[3], 0.0, atol=1e-12)
    assert np.all(res.ci_low[:3] < expected[:3] * 1.05)
    assert np.all(res.ci_high[:3] > expected[:3] * 0.95)


def test_group_is_permuted_jointly(linear):
    # One row order for both columns: the closed form is 2 * var(a x0 + b x1).
    model, X, y, coef = linear
    res = permutation_importance(
        model,
        X,
        y,
        scoring="neg_mean_squared_error",
        n_repeats=10,
        random_state=0,
        feature_groups={"first two": ["x0", "x1"], "third": [2]},
    )
    assert res.feature_names == ("first two", "third")
    expected = 2 * np.var(X[:, :2] @ coef[:2])
    np.testing.assert_allclose(res.importances_mean[0], expected, rtol=0.05)
    single = permutation_importance(
        model, X, y, scoring="neg_mean_squared_error", n_repeats=10, random_state=0
    )
    np.testing.assert_array_equal(res.importances[1], single.importances[2])


def test_constant_model_has_zero_importance(linear):
    _, X, y, _ = linear
    dummy = DummyRegressor(constant=1.0, strategy="constant").fit(X, y)
    res = permutation_importance(dummy, X, y, scoring="neg_mean_squared_error", random_state=0)
    np.testing.assert_array_equal(res.importances, 0.0)
    res = permutation_importance(lambda Z: np.full(len(Z), 3.0), X, y, random_state=0)
    np.testing.assert_array_equal(res.importances, 0.0)


def test_sequential_and_parallel_are_identical(linear):
    model, X, y, _ = linear
    kw = dict(scoring="neg_mean_absolute_error", n_repeats=4, random_state=7)
    seq = permutation_importance(model, X, y, **kw)
    par = permutation_importance(model, X, y, n_jobs=2, **kw)
    small = permutation_importance(model, X, y, batch_rows=3000, **kw)
    assert seq.importances.tobytes() == par.importances.tobytes()
    assert seq.importances.tobytes() == small.importances.tobytes()
    other = permutation_importance(model, X, y, **{**kw, "random_state": 8})
    assert not np.array_equal(other.importances, seq.importances)


@pytest.mark.parametrize(
    "scoring", [None, "neg_mean_squared_error", "r2", make_scorer(mean_absolute_error)]
)
def test_regressor_equals_sklearn(linear, scoring):
    model, X, y, _ = linear
    X, y = X[:300], y[:300] + np.random.default_rng(1).normal(size=300)
    ours = permutation_importance(model, X, y, scoring=scoring, n_repeats=3, random_state=4)
    ref = sk_permutation_importance(model, X, y, scoring=scoring, n_repeats=3, random_state=4)
    np.testing.assert_allclose(ours.importances, ref.importances, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def credit_pipeline():
    rng = np.random.default_rng(5)
    n = 400
    X = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "city": rng.choice(["Oslo", "Rome", "Lima"], n),
            "age": rng.integers(18, 80, n).astype(float),
        }
    )
    logit = (X["income"] - 50) / 10 + (X["city"] == "Rome") - (X["age"] - 50) / 20
    y = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-logit)), "bad", "good")
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(), ["city"]), ("num", StandardScaler(), ["income", "age"])]
    )
    return make_pipeline(pre, LogisticRegression()).fit(X, y), X, y


@pytest.mark.parametrize(
    "scoring", [None, "roc_auc", "neg_log_loss", "f1_macro", "balanced_accuracy"]
)
def test_classifier_pipeline_equals_sklearn(credit_pipeline, scoring):
    model, X, y = credit_pipeline
    w = np.linspace(0.5, 1.5, len(y))
    ours = permutation_importance(
        model, X, y, scoring=scoring, n_repeats=3, random_state=1, sample_weight=w
    )
    ref = sk_permutation_importance(
        model, X, y, scoring=scoring, n_repeats=3, random_state=1, sample_weight=w
    )
    np.testing.assert_allclose(ours.importances, ref.importances, rtol=0, atol=1e-12)
    assert ours.feature_names == ("income", "city", "age")


def test_plain_callable_scorer_is_called_per_copy(credit_pipeline):
    model, X, y = credit_pipeline
    seen = []

    def accuracy(estimator, Z, target):
        seen.append(Z.dtypes.copy())
        return float(np.mean(estimator.predict(Z) == target))

    ours = permutation_importance(model, X, y, scoring=accuracy, n_repeats=2, random_state=2)
    ref = sk_permutation_importance(model, X, y, scoring=accuracy, n_repeats=2, random_state=2)
    np.testing.assert_allclose(ours.importances, ref.importances, rtol=0, atol=1e-12)
    for dtypes in seen:
        pd.testing.assert_series_equal(dtypes, X.dtypes)


def test_booster_like_callable_classifier():
    # A non-sklearn classifier through pellucid.Model: accuracy from argmax of probabilities.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    wrapped = pellucid.Model(clf.predict_proba, task="binary", classes=[0, 1])
    ours = permutation_importance(wrapped, X, y, n_repeats=3, random_state=0)
    ref = sk_permutation_importance(clf, X, y, n_repeats=3, random_state=0)
    np.testing.assert_allclose(ours.importances, ref.importances, rtol=0, atol=1e-12)
    auc = permutation_importance(wrapped, X, y, scoring="roc_auc", n_repeats=3, random_state=0)
    ref = sk_permutation_importance(clf, X, y, scoring="roc_auc", n_repeats=3, random_state=0)
    np.testing.assert_allclose(auc.importances, ref.importances, rtol=0, atol=1e-12)


def test_result_and_errors(linear):
    model, X, y, _ = linear
    res = permutation_importance(model, X[:200], y[:200], n_repeats=3, random_state=0)
    assert res.importances.shape == (4, 3)
    assert res.baseline_score == pytest.approx(model.score(X[:200], y[:200]))
    frame = res.to_frame()
    assert list(frame.columns) == ["feature", "importance", "std", "ci_low", "ci_high"]
    back = pellucid.FeatureImportance.from_json(res.to_json())
    np.testing.assert_array_equal(back.importances, res.importances)
    with pytest.raises(DataError, match="rows"):
        permutation_importance(model, X, y[:10])
    with pytest.raises(ValueError, match="Unknown scoring"):
        permutation_importance(model, X, y, scoring="not_a_scorer")
    with pytest.raises(DataError, match="'zz'"):
        permutation_importance(model, X, y, feature_groups={"g": ["zz"]})
    with pytest.raises(ValueError, match="n_repeats"):
        permutation_importance(model, X, y, n_repeats=0)
