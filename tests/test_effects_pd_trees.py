"""Brute PD/ICE read off the trees: exactly scikit-learn's brute numbers, without model calls."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.inspection import partial_dependence as sk_partial_dependence

import pellucid
from pellucid.effects import partial_dependence

ATOL = 1e-10


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _data(n_classes: int | None, nan: bool):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(250, 4))
    y = X[:, 0] + X[:, 1] * X[:, 2] + np.sin(3 * X[:, 3])
    if n_classes is not None:
        y = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
    if nan:
        X[::5, 1] = np.nan
        X[::7, 0] = np.nan
    return X, y


MODELS = {
    "gbr": (lambda: GradientBoostingRegressor(n_estimators=25, random_state=0), None, False),
    "gbc3": (lambda: GradientBoostingClassifier(n_estimators=10, random_state=0), 3, False),
    "hgbr_nan": (lambda: HistGradientBoostingRegressor(max_iter=25, random_state=0), None, True),
    "hgbc2_nan": (lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0), 2, True),
    "hgbc3_nan": (lambda: HistGradientBoostingClassifier(max_iter=10, random_state=0), 3, True),
    "rfr": (
        lambda: RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0),
        None,
        False,
    ),
    "rfc3": (
        lambda: RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0),
        3,
        False,
    ),
    "xgbr_nan": (lambda: xgb.XGBRegressor(n_estimators=20, max_depth=3, n_jobs=1), None, True),
    "xgbc2_nan": (lambda: xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1), 2, True),
    "xgbc3": (lambda: xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1), 3, False),
    "lgbr_nan": (
        lambda: lgb.LGBMRegressor(n_estimators=20, num_leaves=8, verbose=-1, n_jobs=1),
        None,
        True,
    ),
    "lgbc3": (
        lambda: lgb.LGBMClassifier(n_estimators=10, num_leaves=8, verbose=-1, n_jobs=1),
        3,
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("feature", [0, 1])
def test_trees_equal_sklearn_brute(name, feature):
    make, n_classes, nan = MODELS[name]
    X, y = _data(n_classes, nan)
    model = make().fit(X, y)
    ours = partial_dependence(model, X, feature, kind="both", grid_resolution=20)
    # XGBoost sums its trees and applies the link in float32: the float64 tree walk
    # differs from its predictions by ~1e-7, so the check rows send it to the model.
    assert ours.params["engine"] == ("model" if name.startswith("xgb") else "trees")
    # sklearn's own grid turns NaN when the column has missing values; give it ours.
    ref = sk_partial_dependence(
        model,
        X,
        [feature],
        kind="both",
        method="brute",
        custom_values={feature: ours.grid_values[0]},
    )
    avg, ice = ours.average, ours.individual
    if n_classes == 2:  # sklearn reports the positive class only
        avg, ice = avg[1:], ice[1:]
    # sklearn averages XGBoost's float32 predictions in float32; we average in float64.
    avg_atol = 1e-6 if name.startswith("xgb") else ATOL
    np.testing.assert_allclose(avg, ref["average"], rtol=0, atol=avg_atol)
    np.testing.assert_allclose(ice, ref["individual"], rtol=0, atol=ATOL)
    if n_classes == 2:
        np.testing.assert_allclose(ours.average[0], 1 - ours.average[1], rtol=0, atol=avg_atol)


def test_average_only_weights_and_raw_output():
    X, y = _data(3, True)
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    w = np.random.default_rng(1).uniform(0, 2, size=X.shape[0])
    ours = partial_dependence(model, X, 2, grid_resolution=15, sample_weight=w)
    assert ours.params["engine"] == "trees" and ours.individual is None
    ref = sk_partial_dependence(model, X, [2], grid_resolution=15, method="brute", sample_weight=w)
    np.testing.assert_allclose(ours.average, ref["average"], rtol=0, atol=ATOL)
    raw = pellucid.Model(model, output="raw")
    ours_raw = partial_dependence(raw, X, 2, grid_resolution=15, kind="individual")
    assert ours_raw.params["engine"] == "trees"
    Z = np.repeat(X[None], 15, axis=0)
    Z[:, :, 2] = ours_raw.grid_values[0][:, None]
    expected = model.decision_function(Z.reshape(-1, 4)).reshape(15, len(X), 3)
    np.testing.assert_allclose(ours_raw.individual, expected.transpose(2, 1, 0), rtol=0, atol=ATOL)


def test_unsupported_cases_evaluate_the_model():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "c": pd.Categorical(rng.choice([0, 1, 2], size=200)),
        }
    )
    y = frame["a"] + (frame["c"] == 1)
    model = HistGradientBoostingRegressor(max_iter=10, categorical_features="from_dtype").fit(
        frame, y
    )
    cat = partial_dependence(model, frame, "c")
    assert cat.params["engine"] == "model"
    num = partial_dependence(model, frame, "a", kind="both", grid_resolution=10)
    assert num.params["engine"] == "trees"
    ref = sk_partial_dependence(
        model, frame, ["a"], kind="both", grid_resolution=10, method="brute"
    )
    np.testing.assert_allclose(num.individual, ref["individual"], rtol=0, atol=ATOL)
    pair = partial_dependence(model, frame, ["a", "c"])
    assert pair.params["engine"] == "model"
