"""TreeShap explains the model exactly as the user runs it, or refuses by name.

Each case below gave wrong numbers with ``additivity_gap`` ~1e-16 and no warning
before the reading guard; the oracle is always the library's own prediction.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pellucid
from pellucid import ModelReadingError, TreeShap, UnsupportedModelError
from pellucid.tree import partial_dependence_recursion

LABELS = ["w", "x", "y", "z"]


def _frame(n: int = 400, seed: int = 0, spaces: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = "mean radius" if spaces else "a"
    df = pd.DataFrame(
        {
            a: rng.normal(size=n),
            "c": pd.Categorical(rng.choice(LABELS, n), categories=LABELS),
            "e": rng.normal(size=n),
        }
    )
    y = df[a] + 2.0 * (df["c"] == "y") - 1.0 * (df["c"] == "w") + 0.5 * (df["c"] == "z") * df["e"]
    return df, y.to_numpy()


# a request built apart from the training frame: its own categories
REQUESTS = {
    "subset": ["y", "w"],
    "reordered": ["z", "y", "x", "w"],
    "superset": ["q", "z", "y", "x", "w"],
}


def _request(kind: str) -> pd.DataFrame:
    cats = REQUESTS[kind]
    labels = ["y", "w", "y", "w"] if kind == "subset" else ["x", "y", None, "w"]
    if kind == "superset":
        labels = ["q", "y", "w", "z"]  # "q": a label the model never saw
    return pd.DataFrame(
        {
            "a": [0.3, -0.2, 1.1, 0.0],
            "c": pd.Categorical(labels, categories=cats),
            "e": [0.5, 1.5, -1.0, 2.0],
        }
    )


def _xgb_cat() -> object:
    import xgboost as xgb

    df, y = _frame()
    return xgb.XGBRegressor(
        n_estimators=20, max_depth=3, enable_categorical=True, tree_method="hist", n_jobs=1
    ).fit(df, y)


def _lgb_cat() -> object:
    import lightgbm as lgb

    df, y = _frame()
    return lgb.LGBMRegressor(
        n_estimators=20, num_leaves=8, min_child_samples=5, verbose=-1, n_jobs=1
    ).fit(df, y)


def _own(model: object, X: object) -> np.ndarray:
    """The library's own raw output, the oracle."""
    lib = type(model).__module__.split(".")[0]
    if lib == "xgboost":
        return np.asarray(model.predict(X, output_margin=True), dtype=float)  # type: ignore[attr-defined]
    return np.asarray(model.predict(X, raw_score=True), dtype=float)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(REQUESTS))
@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_category_frame_built_apart_is_read_by_label(library, kind):
    model = _xgb_cat() if library == "xgboost" else _lgb_cat()
    req = _request(kind)
    if library == "xgboost" and kind == "superset":
        # XGBoost predicts "q" as "w" (the next known label in sort order), "zz" it refuses:
        # no consistent rule to follow, so the label is refused by name
        with pytest.raises(pellucid.DataError, match=r"Column 'c'.*\['q'\], row 0"):
            TreeShap(model).explain(req)
        req = req.iloc[1:]
    exp = TreeShap(model).explain(req)
    np.testing.assert_allclose(exp.output, _own(model, req), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(exp.additivity_gap, 0.0, atol=1e-6)
    # the same rows in the training categories: identical values where the label is known
    known = req["c"].isin(LABELS).to_numpy()
    same = req.assign(c=pd.Categorical(req["c"].astype(object), categories=LABELS))
    ref = TreeShap(model).explain(same)
    np.testing.assert_allclose(exp.values[known], ref.values[known], rtol=1e-12, atol=1e-12)


def test_xgboost_missing_sentinel_is_missing():
    import xgboost as xgb

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    X[::5, 1] = -999.0
    y = X[:, 0] + np.where(X[:, 1] == -999.0, 3.0, X[:, 1])
    model = xgb.XGBRegressor(n_estimators=15, max_depth=3, missing=-999.0, n_jobs=1).fit(X, y)
    exp = TreeShap(model).explain(X[:40])
    np.testing.assert_allclose(exp.output, model.predict(X[:40], output_margin=True), rtol=1e-6)
    with_nan = np.where(X[:40] == -999.0, np.nan, X[:40])
    np.testing.assert_array_equal(exp.values, TreeShap(model).explain(with_nan).values)


def _early_stopped() -> tuple[object, np.ndarray]:
    import xgboost as xgb

    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 4))
    y = X[:, 0] + rng.normal(size=400)
    model = xgb.XGBRegressor(
        n_estimators=200, early_stopping_rounds=5, learning_rate=0.3, max_depth=3, n_jobs=1
    )
    model.fit(X[:300], y[:300], eval_set=[(X[300:], y[300:])], verbose=False)
    assert model.best_iteration + 1 < model.get_booster().num_boosted_rounds()
    return model, X


def test_xgboost_early_stopping_explains_what_predict_uses():
    model, X = _early_stopped()
    exp = TreeShap(model).explain(X[:30])
    np.testing.assert_allclose(exp.output, model.predict(X[:30], output_margin=True), rtol=1e-6)
    # an explicit iteration_range, as predict takes it
    ranged = TreeShap(model, iteration_range=(1, 3)).explain(X[:30])
    want = model.predict(X[:30], output_margin=True, iteration_range=(1, 3))
    np.testing.assert_allclose(ranged.output, want, rtol=1e-6)
    np.testing.assert_allclose(ranged.additivity_gap, 0.0, atol=1e-6)
    with pytest.raises(UnsupportedModelError, match="XGBoost models only"):
        TreeShap(_lgb_cat(), iteration_range=(0, 2))


def test_lightgbm_linear_trees_are_refused_by_name():
    import lightgbm as lgb

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    model = lgb.LGBMRegressor(n_estimators=5, linear_tree=True, verbose=-1, n_jobs=1)
    model.fit(X, X[:, 0] * 3 + X[:, 1])
    with pytest.raises(UnsupportedModelError, match="linear_tree"):
        TreeShap(model)


def test_lightgbm_column_names_with_spaces():
    import lightgbm as lgb

    df, y = _frame(spaces=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LightGBM warns that it renames the column
        model = lgb.LGBMRegressor(n_estimators=10, num_leaves=8, verbose=-1, n_jobs=1).fit(df, y)
    exp = TreeShap(model).explain(df.iloc[:20])
    assert exp.feature_names == ("mean radius", "c", "e")
    np.testing.assert_allclose(exp.output, _own(model, df.iloc[:20]), rtol=1e-9)


def test_summarize_background_is_accepted_with_its_weights():
    """Interventional values are linear in the background distribution: with weights w,
    each row's values are sum_b w_b phi(x; {b})."""
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    model = GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0)
    model.fit(X, X[:, 0] * X[:, 1] + X[:, 2])
    bg = pellucid.summarize(X, 6, random_state=0)
    assert not np.allclose(bg.weights, bg.weights[0])  # k-means weights differ
    exp = TreeShap(model, data=bg).explain(X[:10])
    rows = np.asarray(bg.data)
    per_row = [TreeShap(model, data=rows[b : b + 1]).explain(X[:10]) for b in range(6)]
    want = sum(w * e.values for w, e in zip(bg.weights, per_row, strict=True))
    np.testing.assert_allclose(exp.values, want, atol=1e-12)
    np.testing.assert_allclose(exp.base_values, np.average(model.predict(rows), weights=bg.weights))
    np.testing.assert_allclose(exp.additivity_gap, 0.0, atol=1e-9)
    # the same through the pairwise kernel (probability output)
    from sklearn.ensemble import GradientBoostingClassifier

    clf = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0)
    clf.fit(X, X[:, 0] > 0)
    p = TreeShap(clf, data=bg, output="probability").explain(X[:5])
    per = [TreeShap(clf, rows[b : b + 1], output="probability").explain(X[:5]) for b in range(6)]
    want = sum(w * e.values for w, e in zip(bg.weights, per, strict=True))
    np.testing.assert_allclose(p.values, want, atol=1e-12)


def _kind_cases() -> list[tuple[str, object, np.ndarray, str]]:
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
    )

    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 3))
    binary = (X[:, 0] > 0).astype(int)
    three = (X[:, 0] > -0.5).astype(int) + (X[:, 1] > 0.5)
    counts = rng.poisson(np.exp(X[:, 0] / 2))
    kw = dict(n_estimators=5, max_depth=3, n_jobs=1)
    return [
        ("xgb binary", xgb.XGBClassifier(**kw).fit(X, binary), X, "log_odds"),
        ("xgb multiclass", xgb.XGBClassifier(**kw).fit(X, three), X, "raw_margin"),
        ("xgb poisson", xgb.XGBRegressor(objective="count:poisson", **kw).fit(X, counts), X,
         "raw_margin"),
        ("xgb regression", xgb.XGBRegressor(**kw).fit(X, X[:, 0]), X, "regression"),
        ("lgb binary", lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, binary), X,
         "log_odds"),
        ("rf probability", RandomForestClassifier(5, max_depth=3).fit(X, binary), X,
         "probability"),
        ("gb multiclass", GradientBoostingClassifier(n_estimators=5).fit(X, three), X,
         "raw_margin"),
        ("hgb poisson", HistGradientBoostingRegressor(loss="poisson", max_iter=5).fit(X, counts),
         X, "raw_margin"),
    ]  # fmt: skip


def test_output_kind_names_the_unit():
    for label, model, X, kind in _kind_cases():
        assert TreeShap(model).explain(X[:3]).output_kind == kind, label
    model, X = _kind_cases()[0][1], _kind_cases()[0][2]
    assert TreeShap(model, X[:20], output="probability").explain(X[:3]).output_kind == "probability"


# ---------------------------------------------------------------- the guard itself


def _corrupted(model: object) -> TreeShap:
    """A TreeShap whose reading is off by one leaf (as an unread model option would be)."""
    ts = TreeShap(model)
    leaf = int(np.flatnonzero(ts.ensemble.left < 0)[0])
    ts.ensemble.value[leaf] += 0.5
    return ts


def test_guard_refuses_a_reading_that_is_not_the_model(monkeypatch):
    from sklearn.ensemble import GradientBoostingRegressor

    from pellucid.tree import _explainer

    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 3))
    model = GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0)
    model.fit(X, X[:, 0])
    ts = _corrupted(model)
    with pytest.raises(ModelReadingError, match=r"row \d+, output 0.*difference 0\.5"):
        ts.explain(X)
    with pytest.raises(ModelReadingError, match="does not reproduce"):
        ts.predict(X)  # a fixed sample of the rows
    with pytest.raises(ModelReadingError, match="does not reproduce"):
        ts.explain_interactions(X)
    monkeypatch.setattr(_explainer, "read_ensemble", lambda model, **kw: ts.ensemble)
    with pytest.raises(ModelReadingError, match="does not reproduce"):
        partial_dependence_recursion(model, np.zeros((2, 1)), [0], rows=X)
    with pytest.raises(ModelReadingError, match="does not reproduce"):
        pellucid.partial_dependence(pellucid.Model(model), X, [0], method="recursion")


def test_guard_names_the_model_options():
    import xgboost as xgb

    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 3))
    model = xgb.XGBRegressor(n_estimators=5, max_depth=3, missing=-5.0, n_jobs=1).fit(X, X[:, 0])
    ts = _corrupted(model)
    with pytest.raises(ModelReadingError, match=r"missing=-5\.0"):
        ts.explain(X[:10])


def test_guard_passes_a_bare_ensemble_through():
    from sklearn.tree import DecisionTreeRegressor

    X = np.random.default_rng(8).normal(size=(100, 2))
    model = DecisionTreeRegressor(max_depth=3).fit(X, X[:, 0])
    ts = TreeShap(pellucid.tree.read_ensemble(model))
    np.testing.assert_allclose(ts.explain(X).output, model.predict(X), rtol=1e-12)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm", "sklearn"])
def test_guard_calls_the_library_with_data_in_the_form_it_was_fitted_on(library):
    """An array for a model fitted on a frame (and the reverse) is explained as before: the
    guard's reference call raises no feature-name warning (warnings are errors here)."""
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.ensemble import GradientBoostingRegressor

    X = np.random.default_rng(9).normal(size=(200, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    make = {
        "xgboost": lambda: xgb.XGBRegressor(n_estimators=3, n_jobs=1),
        "lightgbm": lambda: lgb.LGBMRegressor(n_estimators=3, verbose=-1, n_jobs=1),
        "sklearn": lambda: GradientBoostingRegressor(n_estimators=3),
    }[library]
    on_frame = make().fit(frame, X[:, 0])
    np.testing.assert_allclose(TreeShap(on_frame).explain(X[:5]).additivity_gap, 0, atol=1e-6)
    if library != "lightgbm":  # LightGBM names an array's columns Column_0...: a frame must match
        on_array = make().fit(X, X[:, 0])
        gap = TreeShap(on_array).explain(frame.iloc[:5]).additivity_gap
        np.testing.assert_allclose(gap, 0, atol=1e-6)
