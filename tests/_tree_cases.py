"""Small fitted tree models of every supported library, shared by the tree tests.

Each case: (fitted model, X to explain, the library's own raw output function,
its own SHAP function or None). Data are synthetic with missing values and a
categorical column (integer codes) where the library supports them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

N = 300


def _data(seed: int = 0, nan: bool = True, cat: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 4))
    if nan:
        X[::7, 1] = np.nan
    s = X[:, 0] + np.nan_to_num(X[:, 1], nan=1.0) * X[:, 2]
    if cat:
        c = rng.integers(0, 6, N).astype(float)
        s = s + (c % 3 == 1)
        X = np.c_[X, c]
    return X, s


def _classes(s: np.ndarray, k: int) -> np.ndarray:
    if k == 2:
        return (s > 0).astype(int)
    return (s > -0.5).astype(int) + (s > 0.8).astype(int)


def _shap_tree(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    def f(X: np.ndarray) -> np.ndarray:
        import shap

        sv = np.asarray(shap.TreeExplainer(model).shap_values(X))
        return sv if sv.ndim == 3 else sv[..., None]

    return f


def _sk(name: str) -> tuple[Any, np.ndarray, Callable, Callable | None]:
    from sklearn import ensemble, tree
    from sklearn.ensemble._iforest import _average_path_length

    X, s = _data(nan=True, cat=False)
    Xc, sc = _data(seed=1, nan=True, cat=True)
    if name == "dt_reg_nan":
        m = tree.DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, s)
        return m, X, lambda Z: m.predict(Z)[:, None], _shap_tree(m)
    if name == "dt_clf3":
        m = tree.DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, _classes(s, 3))
        return m, X, m.predict_proba, _shap_tree(m)
    if name == "rf_reg_multi":
        m = ensemble.RandomForestRegressor(8, max_depth=5, random_state=0).fit(X, np.c_[s, -2 * s])
        return m, X, m.predict, _shap_tree(m)
    if name == "rf_clf2":
        m = ensemble.RandomForestClassifier(8, max_depth=5, random_state=0).fit(X, _classes(s, 2))
        return m, X, m.predict_proba, _shap_tree(m)
    if name == "et_reg_multi":
        Xf = np.nan_to_num(X)
        m = ensemble.ExtraTreesRegressor(8, max_depth=5, random_state=0).fit(Xf, np.c_[s, s**2])
        return m, Xf, m.predict, _shap_tree(m)
    if name == "et_clf3":
        Xf = np.nan_to_num(X)
        m = ensemble.ExtraTreesClassifier(8, max_depth=5, random_state=0).fit(Xf, _classes(s, 3))
        return m, Xf, m.predict_proba, _shap_tree(m)
    if name == "gb_reg":
        Xf = np.nan_to_num(X)
        m = ensemble.GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0)
        m.fit(Xf, s)
        return m, Xf, lambda Z: m.predict(Z)[:, None], _shap_tree(m)
    if name == "gb_clf2":
        Xf = np.nan_to_num(X)
        m = ensemble.GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0)
        m.fit(Xf, _classes(s, 2))
        return m, Xf, lambda Z: m.decision_function(Z)[:, None], _shap_tree(m)
    if name == "gb_clf3":
        Xf = np.nan_to_num(X)
        m = ensemble.GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0)
        m.fit(Xf, _classes(s, 3))
        return m, Xf, m.decision_function, None
    if name == "hgb_reg_nan_cat":
        m = ensemble.HistGradientBoostingRegressor(
            max_iter=15, max_depth=4, categorical_features=[4], random_state=0
        ).fit(Xc, sc)
        return m, Xc, lambda Z: m.predict(Z)[:, None], None
    if name == "hgb_clf2_labels":  # category labels: strings (unsorted, missing) and numbers
        import pandas as pd

        rng = np.random.default_rng(2)
        df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
        df["tier"] = pd.Categorical(
            rng.choice(["gold", "bronze", "silver", None], N),
            categories=["silver", "gold", "bronze"],
        )
        df["zone"] = pd.Categorical(rng.choice([9, 2, 5], N), categories=[9, 2, 5])
        y = _classes(s + (df["tier"] == "gold") - (df["zone"] == 2), 2)
        m = ensemble.HistGradientBoostingClassifier(
            max_iter=10, max_depth=4, categorical_features="from_dtype", random_state=0
        ).fit(df, y)
        return m, df, lambda Z: m.decision_function(Z)[:, None], None
    if name == "hgb_clf3_nan":
        m = ensemble.HistGradientBoostingClassifier(max_iter=8, max_depth=4, random_state=0)
        m.fit(X, _classes(s, 3))
        return m, X, m.decision_function, None
    if name == "iforest":
        Xf = np.nan_to_num(X)
        m = ensemble.IsolationForest(n_estimators=10, max_features=3, random_state=0).fit(Xf)
        c = _average_path_length([m._max_samples])[0]
        return m, Xf, lambda Z: (-np.log2(-m.score_samples(Z)) * c)[:, None], None
    raise KeyError(name)


def _xgb(name: str) -> tuple[Any, np.ndarray, Callable, Callable | None]:
    import pandas as pd
    import xgboost as xgb

    X, s = _data(seed=2, nan=True, cat=True)
    kw: dict[str, Any] = dict(
        n_estimators=10, max_depth=4, tree_method="hist", random_state=0, n_jobs=1
    )
    D: Any = X
    if name.endswith("_cat"):
        D = pd.DataFrame(X[:, :4], columns=list("abcd"))
        D["e"] = pd.Categorical(X[:, 4].astype(int), categories=range(6))
        kw.update(enable_categorical=True, max_cat_to_onehot=1)
    if name.startswith("xgb_reg"):
        m = xgb.XGBRegressor(base_score=0.3, **kw).fit(D, s)
    elif name.startswith("xgb_bin"):
        m = xgb.XGBClassifier(**kw).fit(D, _classes(s, 2))
    else:
        m = xgb.XGBClassifier(**kw).fit(D, _classes(s, 3))
    booster = m.get_booster()

    def dm(Z: Any) -> Any:
        return xgb.DMatrix(Z, enable_categorical=name.endswith("_cat"), nthread=1)

    def raw(Z: Any) -> np.ndarray:
        return booster.predict(dm(Z), output_margin=True).reshape(len(Z), -1)

    def contribs(Z: Any) -> np.ndarray:
        c = booster.predict(dm(Z), pred_contribs=True)
        c = c[:, None, :] if c.ndim == 2 else c
        return c.transpose(0, 2, 1)[:, :-1]

    return m, D, raw, contribs


def _lgb(name: str) -> tuple[Any, np.ndarray, Callable, Callable | None]:
    import lightgbm as lgb

    X, s = _data(seed=3, nan=True, cat=True)
    X[::11, 2] = 0.0
    X[::13, 4] = np.nan
    kw: dict[str, Any] = dict(
        n_estimators=10, num_leaves=10, verbose=-1, min_child_samples=5, cat_smooth=1,
        min_data_per_group=5, random_state=0, n_jobs=1, zero_as_missing=name.endswith("zero"),
    )  # fmt: skip
    if name.startswith("lgb_reg"):
        m: Any = lgb.LGBMRegressor(**kw)
        y = s
    elif name.startswith("lgb_bin"):
        m = lgb.LGBMClassifier(**kw)
        y = _classes(s, 2)
    else:
        m = lgb.LGBMClassifier(**kw)
        y = _classes(s, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, y, categorical_feature=[4])
    k = max(1, m.booster_.num_model_per_iteration())

    def raw(Z: np.ndarray) -> np.ndarray:
        return m.booster_.predict(Z, raw_score=True, num_threads=1).reshape(len(Z), -1)

    def contribs(Z: np.ndarray) -> np.ndarray:
        c = m.booster_.predict(Z, pred_contrib=True, num_threads=1).reshape(len(Z), k, -1)
        return c.transpose(0, 2, 1)[:, :-1]

    return m, X, raw, contribs


def _cb(name: str) -> tuple[Any, np.ndarray, Callable, Callable | None]:
    import catboost as cb

    X, s = _data(seed=4, nan=True, cat=False)
    kw: dict[str, Any] = dict(
        iterations=10, depth=4, verbose=0, random_seed=0, thread_count=1, allow_writing_files=False
    )
    if name == "cb_reg":
        m: Any = cb.CatBoostRegressor(nan_mode="Max", **kw).fit(X, s)
    elif name == "cb_bin":
        m = cb.CatBoostClassifier(**kw).fit(X, _classes(s, 2))
    else:
        m = cb.CatBoostClassifier(loss_function="MultiClass", **kw).fit(X, _classes(s, 3))

    def raw(Z: np.ndarray) -> np.ndarray:
        return np.asarray(m.predict(Z, prediction_type="RawFormulaVal")).reshape(len(Z), -1)

    def contribs(Z: np.ndarray) -> np.ndarray:
        sv = m.get_feature_importance(cb.Pool(Z), type="ShapValues")
        sv = sv[:, None, :] if sv.ndim == 2 else sv
        return sv.transpose(0, 2, 1)[:, :-1]

    return m, X, raw, contribs


SKLEARN = [
    "dt_reg_nan", "dt_clf3", "rf_reg_multi", "rf_clf2", "et_reg_multi", "et_clf3", "gb_reg",
    "gb_clf2", "gb_clf3", "hgb_reg_nan_cat", "hgb_clf2_labels", "hgb_clf3_nan", "iforest",
]  # fmt: skip
XGBOOST = ["xgb_reg", "xgb_bin", "xgb_multi", "xgb_reg_cat", "xgb_multi_cat"]
LIGHTGBM = ["lgb_reg", "lgb_bin", "lgb_multi", "lgb_reg_zero"]
CATBOOST = ["cb_reg", "cb_bin", "cb_multi"]
ALL = SKLEARN + XGBOOST + LIGHTGBM + CATBOOST


@cache
def case(name: str) -> tuple[Any, Any, Callable, Callable | None]:
    if name.startswith("xgb"):
        return _xgb(name)
    if name.startswith("lgb"):
        return _lgb(name)
    if name.startswith("cb"):
        return _cb(name)
    return _sk(name)
