"""Partial dependence and ICE: held against scikit-learn's brute method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import pellucid
from pellucid import DataError
from pellucid.effects import partial_dependence

ATOL = 1e-10


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tree models' OpenMP threads spin badly on a shared 2-core machine.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X[:, 0] + X[:, 1] * X[:, 2] + np.sin(X[:, 3])
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    return model, X


@pytest.fixture(scope="module")
def multiclass():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(240, 3))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.5, 0.5])
    return LogisticRegression().fit(X, y), X


@pytest.mark.parametrize("features", [[0], [1, 2]])
def test_regressor_equals_sklearn_brute(regression, features):
    model, X = regression
    res = 15 if len(features) == 1 else 6
    ours = partial_dependence(model, X, features, kind="both", grid_resolution=res)
    ref = sk_partial_dependence(
        model, X, features, kind="both", grid_resolution=res, method="brute"
    )
    for g, rg in zip(ours.grid_values, ref["grid_values"], strict=True):
        np.testing.assert_array_equal(g, rg)
    np.testing.assert_allclose(ours.average, ref["average"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.individual, ref["individual"], rtol=0, atol=ATOL)
    assert ours.average.shape == (1, *(res,) * len(features))
    assert ours.output_names is None


def test_multiclass_equals_sklearn_brute(multiclass):
    model, X = multiclass
    ours = partial_dependence(model, X, [0, 1], kind="both", grid_resolution=8)
    ref = sk_partial_dependence(model, X, [0, 1], kind="both", grid_resolution=8, method="brute")
    assert ours.average.shape == ref["average"].shape == (3, 8, 8)
    np.testing.assert_allclose(ours.average, ref["average"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.individual, ref["individual"], rtol=0, atol=ATOL)
    assert ours.output_names == ("0", "1", "2")


def test_binary_classifier_maps_to_sklearns_positive_class(regression):
    # Ours keeps both class probabilities (pellucid.Model's outputs); sklearn
    # reports the positive class only: ours[1] == sklearn[0], ours[0] == 1 - ours[1].
    _, X = regression
    y = X[:, 0] + X[:, 1] > 0
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    ours = partial_dependence(model, X, 1, kind="both", grid_resolution=10)
    ref = sk_partial_dependence(model, X, [1], kind="both", grid_resolution=10, method="brute")
    assert ref["average"].shape == (1, 10) and ours.average.shape == (2, 10)
    np.testing.assert_allclose(ours.average[1], ref["average"][0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.individual[1], ref["individual"][0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.average[0], 1 - ours.average[1], rtol=0, atol=ATOL)
    assert ours.output_names == ("False", "True")
    # With a one-output view of the classifier the shapes agree with sklearn's.
    log_odds = pellucid.Model(model, output="log_odds")
    assert partial_dependence(log_odds, X, 1, grid_resolution=10).average.shape == (1, 10)


def test_sample_weight_equals_sklearn(regression):
    model, X = regression
    w = np.random.default_rng(3).uniform(0, 2, size=X.shape[0])
    ours = partial_dependence(model, X, 0, grid_resolution=12, sample_weight=w)
    ref = sk_partial_dependence(model, X, [0], grid_resolution=12, method="brute", sample_weight=w)
    np.testing.assert_allclose(ours.average, ref["average"], rtol=0, atol=ATOL)


def test_pipeline_with_categorical_column_keeps_dtypes():
    rng = np.random.default_rng(2)
    n = 200
    X = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "city": pd.Series(rng.choice(["Oslo", "Rome", "Lima"], n), dtype="category"),
            "age": rng.integers(18, 80, n),
            "debt": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.normal(5, 2, n)),
        }
    )
    y = X["income"] / 10 + (X["city"] == "Rome") * 2.0 + X["age"] / 30 + rng.normal(size=n)
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", SimpleImputer(), ["income", "age", "debt"]),
        ]
    )
    pipe = make_pipeline(pre, HistGradientBoostingRegressor(max_iter=20, random_state=0))
    pipe.fit(X, y)
    seen = []

    def spy(frame):
        seen.append(frame.dtypes.copy())
        return pipe.predict(frame)

    ours = partial_dependence(spy, X, ["city", "income"], kind="both", grid_resolution=6)
    ref = sk_partial_dependence(
        pipe,
        X,
        ["city", "income"],
        kind="both",
        grid_resolution=6,
        method="brute",
        categorical_features=["city"],
    )
    np.testing.assert_array_equal(ours.grid_values[0], ["Lima", "Oslo", "Rome"])
    np.testing.assert_allclose(ours.average, ref["average"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.individual, ref["individual"], rtol=0, atol=ATOL)
    assert ours.categorical == (True, False)
    for dtypes in seen:
        pd.testing.assert_series_equal(dtypes, X.dtypes)
    # An integer column keeps its dtype: the grid is integer, not rounded inside the model.
    age = partial_dependence(spy, X, "age", grid_resolution=10)
    assert age.grid_values[0].dtype.kind == "i"
    assert seen[-1]["age"] == X["age"].dtype
    # NaN is not a grid point; the rows with NaN still take part in the average.
    debt = partial_dependence(spy, X, "debt", grid_resolution=5)
    assert not np.isnan(debt.grid_values[0]).any()


def test_batching_and_jobs_do_not_change_the_numbers(multiclass):
    # A BLAS-backed model: the chunk plan, not n_jobs, decides the calls.
    model, X = multiclass
    base = partial_dependence(model, X, [0, 2], kind="both", grid_resolution=9)
    for batch_rows, n_jobs in [(1, None), (700, 2)]:
        other = partial_dependence(
            model, X, [0, 2], kind="both", grid_resolution=9, batch_rows=batch_rows, n_jobs=n_jobs
        )
        np.testing.assert_array_equal(other.individual, base.individual)
        np.testing.assert_array_equal(other.average, base.average)


def test_model_called_once_per_batch(regression):
    model, X = regression
    calls = []

    def counted(Z):
        calls.append(len(Z))
        return model.predict(Z)

    partial_dependence(counted, X, 0, grid_resolution=20)
    assert calls == [20 * X.shape[0]]
    calls.clear()
    partial_dependence(counted, X, 0, grid_resolution=20, batch_rows=7 * X.shape[0])
    assert calls == [7 * X.shape[0]] * 2 + [6 * X.shape[0]]


def test_recursion_options_and_auto_is_brute(regression):
    model, X = regression
    with pytest.raises(ValueError, match="kind='average'"):
        partial_dependence(model, X, 0, method="recursion", kind="both")
    # auto is brute force, exact for the rows given (recursion: tests/test_effects_recursion.py)
    auto = partial_dependence(model, X, 0, grid_resolution=5)
    assert auto.params["method"] == "brute"


def test_bad_input_is_named(regression):
    model, X = regression
    frame = pd.DataFrame(X, columns=list("abcd"))
    with pytest.raises(DataError, match="'nope'"):
        partial_dependence(model.predict, frame, "nope")
    with pytest.raises(ValueError, match="kind"):
        partial_dependence(model, X, 0, kind="mean")
    with pytest.raises(ValueError, match="percentiles"):
        partial_dependence(model, X, 0, percentiles=(0.9, 0.1))
    with pytest.raises(ValueError, match="one or 2"):
        partial_dependence(model, X, [0, 1, 2])
    with pytest.raises(DataError, match="sample_weight"):
        partial_dependence(model, X, 0, sample_weight=np.ones(3))


def test_result_round_trips_through_json(regression):
    model, X = regression
    res = partial_dependence(model, X, [0, 1], kind="both", grid_resolution=4)
    back = pellucid.PartialDependence.from_json(res.to_json())
    np.testing.assert_array_equal(back.average, res.average)
    np.testing.assert_array_equal(back.individual, res.individual)
    assert len(res.to_frame()) == 16


def test_nullable_and_string_dtypes_through_every_method():
    # pandas' string dtype with missing values and nullable Int64 reach the
    # Pipeline unchanged in every perturbed copy.
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(4)
    n = 150
    X = pd.DataFrame(
        {
            "s": pd.Series(rng.choice(["a", "b", None], n), dtype="str"),
            "i": pd.array(
                np.where(rng.uniform(size=n) < 0.1, None, rng.integers(0, 500, n)), dtype="Int64"
            ),
            "f": rng.normal(size=n),
        }
    )
    y = rng.normal(size=n)
    pre = ColumnTransformer(
        [
            (
                "c",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="z"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["s"],
            ),
            ("n", SimpleImputer(), ["i", "f"]),
        ]
    )
    pipe = make_pipeline(pre, LinearRegression()).fit(X, y)
    seen = []

    def spy(frame):
        seen.append(frame.dtypes.copy())
        return pipe.predict(frame)

    two_way = partial_dependence(spy, X, ["s", "i"], grid_resolution=5)
    np.testing.assert_array_equal(two_way.grid_values[0], ["a", "b"])
    assert two_way.grid_values[1].dtype.kind == "i"
    pellucid.ale(spy, X, "s")
    pellucid.ale(spy, X, ["i", "f"], bins=4)
    pellucid.permutation_importance(spy, X, y, n_repeats=2, random_state=0)
    pellucid.h_statistic(spy, X, ["s", "i"])
    assert len(seen) > 5
    for dtypes in seen:
        pd.testing.assert_series_equal(dtypes, X.dtypes)
