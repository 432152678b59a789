"""Conformance: TreeShap explains each library's model exactly as the library predicts.

A matrix of libraries x objectives x options. For each case the oracle is the
library's own raw prediction, called here independently of pellucid's guard:
the trees' reading (``TreeShap.predict``), the explanation's total
(``base_values + values.sum(features)``) and ``output`` must all equal it, to
1e-6 (XGBoost sums leaves in float32: 1e-5 of the output's scale). Options
TreeShap cannot reproduce are refused by name.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pellucid
from pellucid import TreeShap, UnsupportedModelError

N = 240
LABELS = ["lo", "mid", "hi", "top"]


def _data(seed: int = 0, nan: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 4))
    if nan:
        X[::6, 1] = np.nan
    s = X[:, 0] + np.nan_to_num(X[:, 1], nan=1.5) * X[:, 2] + 0.5 * X[:, 3]
    return X, s


def _target(s: np.ndarray, objective: str) -> np.ndarray:
    if objective == "binary":
        return (s > 0).astype(int)
    if objective == "multiclass":
        return (s > -0.6).astype(int) + (s > 0.6).astype(int)
    if objective == "poisson":
        return np.random.default_rng(9).poisson(np.exp(s / 3))
    return s


def _frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """A training frame with a category column, and a request frame built apart: its own
    categories (a reordered subset) and one missing label."""
    X, s = _data(seed)
    rng = np.random.default_rng(seed + 1)
    labels = rng.choice(LABELS, N)
    train = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    train["grade"] = pd.Categorical(labels, categories=LABELS)
    s = s + 1.5 * (labels == "hi") - (labels == "lo")
    req_labels = ["top", "hi", "lo", None] * 10
    request = pd.DataFrame(X[:40, :3], columns=["a", "b", "c"])
    request["grade"] = pd.Categorical(req_labels, categories=["top", "lo", "hi"])
    return train, request, s


# ------------------------------------------------------------------ library oracles


def _xgb_own(model: Any, **kw: Any) -> Callable[[Any], np.ndarray]:
    return lambda Z: np.asarray(model.predict(Z, output_margin=True, **kw), dtype=float)


def _lgb_own(model: Any) -> Callable[[Any], np.ndarray]:
    return lambda Z: np.asarray(model.predict(Z, raw_score=True), dtype=float)


def _cb_own(model: Any) -> Callable[[Any], np.ndarray]:
    return lambda Z: np.asarray(model.predict(Z, prediction_type="RawFormulaVal"), dtype=float)


def _sk_own(model: Any) -> Callable[[Any], np.ndarray]:
    if hasattr(model, "predict_proba") and type(model).__name__.startswith(
        ("RandomForest", "ExtraTrees", "DecisionTree")
    ):
        return model.predict_proba
    if hasattr(model, "decision_function"):
        return model.decision_function
    if getattr(model, "loss", "") == "poisson":
        return lambda Z: np.log(model.predict(Z))
    return model.predict


# ------------------------------------------------------------------ cases

Case = tuple[Any, Any, Callable[[Any], np.ndarray]]


def _sklearn(objective: str, option: str) -> Case:
    from sklearn import ensemble, tree

    if option == "cat_apart":
        train, request, s = _frames()
        cls = (
            ensemble.HistGradientBoostingRegressor
            if objective == "regression"
            else ensemble.HistGradientBoostingClassifier
        )
        m = cls(max_iter=10, max_depth=3, categorical_features="from_dtype", random_state=0)
        m.fit(train, _target(s, objective))
        return m, request, _sk_own(m)
    X, s = _data(nan=option == "nan")
    y = _target(s, objective)
    model: Any
    if option == "forest":
        cls = (
            ensemble.RandomForestRegressor
            if objective == "regression"
            else ensemble.RandomForestClassifier
        )
        model = cls(n_estimators=5, max_depth=4, random_state=0)
    elif option == "tree":
        model = tree.DecisionTreeClassifier(max_depth=4, random_state=0)
    elif option == "gbm":
        X = np.nan_to_num(X)
        cls = (
            ensemble.GradientBoostingRegressor
            if objective == "regression"
            else ensemble.GradientBoostingClassifier
        )
        model = cls(n_estimators=8, max_depth=3, random_state=0)
    else:  # HistGradientBoosting, with NaN
        loss = {"poisson": "poisson"}.get(objective, "squared_error")
        if objective in ("binary", "multiclass"):
            model = ensemble.HistGradientBoostingClassifier(max_iter=8, max_depth=3, random_state=0)
        else:
            model = ensemble.HistGradientBoostingRegressor(
                loss=loss, max_iter=8, max_depth=3, random_state=0
            )
    model.fit(X, y)
    return model, X[:40], _sk_own(model)


def _xgboost(objective: str, option: str) -> Case:
    import xgboost as xgb

    obj = {"regression": "reg:squarederror", "poisson": "count:poisson"}
    kw: dict[str, Any] = dict(n_estimators=8, max_depth=3, n_jobs=1, random_state=0)
    cls = xgb.XGBClassifier if objective in ("binary", "multiclass") else xgb.XGBRegressor
    if objective in obj:
        kw["objective"] = obj[objective]
    if option == "cat_apart":
        train, request, s = _frames()
        m = cls(enable_categorical=True, tree_method="hist", max_cat_to_onehot=1, **kw)
        m.fit(train, _target(s, objective))
        return m, request, _xgb_own(m)
    X, s = _data(nan=option == "nan")
    y = _target(s, objective)
    if option == "missing":
        X = X.copy()
        X[::5, 2] = -999.0
        m = cls(missing=-999.0, **kw).fit(X, y)
    elif option == "early_stop":
        kw.update(n_estimators=100, early_stopping_rounds=3, learning_rate=0.5)
        m = cls(**kw).fit(X[:160], y[:160], eval_set=[(X[160:], y[160:])], verbose=False)
    elif option == "iteration_range":
        m = cls(**kw).fit(X, y)
        return (m, (1, 5)), X[:40], _xgb_own(m, iteration_range=(1, 5))
    elif option == "Model":
        m = cls(**kw).fit(X, y)
        return pellucid.Model(m), X[:40], _xgb_own(m)
    else:
        m = cls(**kw).fit(X, y)
    return m, X[:40], _xgb_own(m)


def _lightgbm(objective: str, option: str) -> Case:
    import lightgbm as lgb

    kw: dict[str, Any] = dict(
        n_estimators=8, num_leaves=8, min_child_samples=5, verbose=-1, n_jobs=1, random_state=0
    )
    if objective == "poisson":
        kw["objective"] = "poisson"
    cls = lgb.LGBMClassifier if objective in ("binary", "multiclass") else lgb.LGBMRegressor
    if option == "cat_apart":
        train, request, s = _frames()
        m = cls(**kw).fit(train, _target(s, objective))
        return m, request, _lgb_own(m)
    X, s = _data(nan=option == "nan")
    y = _target(s, objective)
    if option == "renamed":
        frame = pd.DataFrame(X, columns=["mean radius", "worst area", "c", "d"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # LightGBM's note that it renames the columns
            m = cls(**kw).fit(frame, y)
        return m, frame.iloc[:40], _lgb_own(m)
    if option == "early_stop":
        kw["n_estimators"] = 100
        kw["learning_rate"] = 0.5
        m = cls(**kw).fit(
            X[:160], y[:160], eval_set=[(X[160:], y[160:])],
            callbacks=[lgb.early_stopping(3, verbose=False)],
        )  # fmt: skip
        assert m.best_iteration_ < 100
        return m, X[:40], _lgb_own(m)
    m = cls(**kw).fit(X, y)
    return m, X[:40], _lgb_own(m)


def _catboost(objective: str, option: str) -> Case:
    import catboost as cb

    kw: dict[str, Any] = dict(
        iterations=8, depth=3, verbose=0, random_seed=0, thread_count=1, allow_writing_files=False
    )
    loss = {"multiclass": "MultiClass", "poisson": "Poisson"}.get(objective)
    if loss:
        kw["loss_function"] = loss
    cls = cb.CatBoostClassifier if objective in ("binary", "multiclass") else cb.CatBoostRegressor
    X, s = _data(nan=option == "nan")
    y = _target(s, objective)
    if option == "early_stop":
        kw.update(iterations=100, learning_rate=0.5, early_stopping_rounds=3)
        m = cls(**kw).fit(X[:160], y[:160], eval_set=(X[160:], y[160:]))
    else:
        m = cls(**kw).fit(X, y)
    return m, X[:40], _cb_own(m)


OBJECTIVES = ("regression", "binary", "multiclass", "poisson")
MATRIX = {
    "sklearn": [
        *((o, "hist_nan") for o in OBJECTIVES),
        ("regression", "forest"), ("binary", "forest"), ("multiclass", "tree"),
        ("regression", "gbm"), ("binary", "gbm"), ("multiclass", "gbm"),
        ("regression", "cat_apart"), ("binary", "cat_apart"), ("multiclass", "cat_apart"),
    ],
    "xgboost": [
        *((o, "plain") for o in OBJECTIVES),
        *((o, "cat_apart") for o in OBJECTIVES),
        ("regression", "nan"), ("binary", "nan"),
        ("regression", "missing"), ("multiclass", "missing"),
        ("regression", "early_stop"), ("binary", "early_stop"), ("multiclass", "early_stop"),
        ("regression", "iteration_range"), ("binary", "Model"),
    ],
    "lightgbm": [
        *((o, "plain") for o in OBJECTIVES),
        *((o, "cat_apart") for o in OBJECTIVES),
        ("regression", "nan"), ("multiclass", "nan"),
        ("regression", "renamed"), ("binary", "renamed"),
        ("regression", "early_stop"), ("binary", "early_stop"),
    ],
    "catboost": [
        *((o, "plain") for o in OBJECTIVES),
        ("regression", "nan"), ("binary", "nan"),
        ("regression", "early_stop"), ("multiclass", "early_stop"),
    ],
}  # fmt: skip
BUILD = {"sklearn": _sklearn, "xgboost": _xgboost, "lightgbm": _lightgbm, "catboost": _catboost}
CASES = [(lib, o, opt) for lib, pairs in MATRIX.items() for o, opt in pairs]


@cache
def _case(lib: str, objective: str, option: str) -> Case:
    pytest.importorskip(lib)
    return BUILD[lib](objective, option)


def _tolerance(lib: str, own: np.ndarray) -> dict[str, float]:
    if lib == "xgboost":  # float32 sums
        return {"rtol": 1e-5, "atol": 1e-5 * max(1.0, float(np.abs(own).max()))}
    return {"rtol": 1e-6, "atol": 1e-6}


@pytest.mark.parametrize(("lib", "objective", "option"), CASES, ids=["-".join(c) for c in CASES])
def test_treeshap_explains_what_the_model_predicts(lib, objective, option):
    model, X, own = _case(lib, objective, option)
    kw = {}
    if isinstance(model, tuple):
        model, kw["iteration_range"] = model
    ts = TreeShap(model, **kw)
    exp = ts.explain(X)
    want = own(X)
    want = want.reshape(want.shape[0], -1)
    tol = _tolerance(lib, want)
    k = want.shape[1]
    total = exp.base_values.reshape(len(want), -1) + exp.values.reshape(len(want), -1, k).sum(1)
    np.testing.assert_allclose(total, want, **tol)  # the explanation adds up to the model
    np.testing.assert_allclose(ts.predict(X).reshape(len(want), -1), want, **tol)
    np.testing.assert_allclose(exp.output.reshape(len(want), -1), want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(exp.additivity_gap, 0.0, atol=tol["atol"])
    assert exp.output_kind in ("probability", "log_odds", "raw_margin", "regression")


def test_pipelines_and_unsupported_options_are_refused_by_name():
    import catboost as cb
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, s = _data()
    pipe = make_pipeline(StandardScaler(), GradientBoostingRegressor(n_estimators=3)).fit(X, s)
    with pytest.raises(UnsupportedModelError, match="Pipeline"):
        TreeShap(pipe)
    linear = lgb.LGBMRegressor(n_estimators=3, linear_tree=True, verbose=-1).fit(X, s)
    with pytest.raises(UnsupportedModelError, match="linear_tree"):
        TreeShap(linear)
    gblinear = xgb.XGBRegressor(booster="gblinear", n_estimators=3).fit(X, s)
    with pytest.raises(UnsupportedModelError, match="booster='gblinear'"):
        TreeShap(gblinear)
    frame = pd.DataFrame(X[:, :3], columns=list("abc")).assign(g=np.where(s > 0, "u", "v"))
    cat = cb.CatBoostRegressor(iterations=3, verbose=0, cat_features=["g"]).fit(frame, s)
    with pytest.raises(UnsupportedModelError, match="cat_features"):
        TreeShap(cat)
    lossguide = cb.CatBoostRegressor(
        iterations=3, verbose=0, grow_policy="Lossguide", allow_writing_files=False
    ).fit(X, s)
    with pytest.raises(UnsupportedModelError, match="grow_policy"):
        TreeShap(lossguide)
    init = GradientBoostingRegressor(n_estimators=3, init=LinearRegression()).fit(X, s)
    with pytest.raises(UnsupportedModelError, match="init"):
        TreeShap(init)
