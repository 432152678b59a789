"""Counterfactuals: certified optima against brute force, closed forms, constraints, validity."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from pellucid.counterfactual import Counterfactuals, CounterfactualSet, recourse_audit

F32 = np.float32


def _data(n=300, seed=0, d=3):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, d)) * [1.0, 10.0, 0.1][:d], columns=list("abc")[:d])
    logit = X["a"] + 0.1 * X["b"] - (5.0 * X["c"] if d > 2 else 0)
    y = (logit + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return X, y


def _mad(X):
    return {c: float(np.median(np.abs(X[c] - X[c].median()))) for c in X.columns}


def _candidates(v, thresholds, dtype):
    """v, and the values next to every threshold in the precision the model compares in:
    the optimum of any column sits at one of them (the nearest point of an interval)."""
    out = {float(v)}
    for t in thresholds:
        t32 = dtype(t)
        for p in (np.nextafter(t32, dtype(-np.inf)), t32, np.nextafter(t32, dtype(np.inf))):
            out.add(float(p))
    return sorted(out)


def _sklearn_thresholds(model, j):
    trees = getattr(model, "estimators_", [model])
    trees = np.ravel(trees)
    return np.unique(
        np.concatenate([t.tree_.threshold[t.tree_.feature == j] for t in trees] + [np.zeros(0)])
    )


def _xgb_thresholds(model, j):
    df = model.get_booster().trees_to_dataframe()
    return np.unique(df.loc[df["Feature"] == model.feature_names_in_[j], "Split"].to_numpy(float))


def _lgb_thresholds(model, j):
    df = model.booster_.trees_to_dataframe()
    return np.unique(df.loc[df["split_feature"] == model.feature_name_[j], "threshold"].dropna())


def _brute_force(model, X, row, thresholds, desired, valid=None, dtype=F32):
    """Cheapest MAD-L1 change over every combination of candidate points, by the model's
    own predict."""
    mad = _mad(X)
    grids = [_candidates(row[c], thresholds[j], dtype) for j, c in enumerate(X.columns)]
    points = np.array(list(itertools.product(*grids)))
    frame = pd.DataFrame(points, columns=X.columns)
    ok = model.predict(frame) == desired if valid is None else valid(frame)
    cost = sum(np.abs(points[:, j] - row[c]) / mad[c] for j, c in enumerate(X.columns))
    return float(cost[ok].min()) if ok.any() else np.inf


def _tree_models():
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    yield (
        "rf",
        lambda: RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0),
        _sklearn_thresholds,
    )
    yield (
        "gb",
        lambda: GradientBoostingClassifier(n_estimators=6, max_depth=2, random_state=0),
        _sklearn_thresholds,
    )
    yield "dt", lambda: DecisionTreeClassifier(max_depth=4, random_state=0), _sklearn_thresholds
    xgb = pytest.importorskip("xgboost")
    yield (
        "xgb",
        lambda: xgb.XGBClassifier(n_estimators=4, max_depth=3, random_state=0),
        _xgb_thresholds,
    )
    lgb = pytest.importorskip("lightgbm")
    yield "lgb", lambda: lgb.LGBMClassifier(n_estimators=4, num_leaves=6, min_child_samples=5,
                                            random_state=0, verbose=-1), _lgb_thresholds  # fmt: skip


@pytest.mark.parametrize("name", ["rf", "gb", "dt", "xgb", "lgb"])
def test_tree_optimum_equals_brute_force(name):
    make, reader = {n: (m, r) for n, m, r in _tree_models()}[name]
    X, y = _data()
    model = make().fit(X, y)
    cf = Counterfactuals(model, X)
    assert cf.engine.name == "milp_tree"
    rows = X.iloc[:6]
    result = cf.explain(rows)
    thresholds = [reader(model, j) for j in range(X.shape[1])]
    for i in range(len(rows)):
        desired = 1 - model.predict(rows.iloc[[i]])[0]
        dtype = np.float64 if name == "lgb" else F32  # LightGBM compares in float64
        best = _brute_force(model, X, rows.iloc[i], thresholds, desired, dtype=dtype)
        (answer,) = result.for_row(i)
        assert answer.certificate == "optimal"
        assert answer.valid
        np.testing.assert_allclose(answer.cost, best, rtol=1e-9, atol=1e-12)


def test_regression_range_optimum_equals_brute_force():
    from sklearn.ensemble import GradientBoostingRegressor

    X, _ = _data()
    target = X["a"] + 0.1 * X["b"]
    model = GradientBoostingRegressor(n_estimators=5, max_depth=2, random_state=0).fit(X, target)
    low, high = 0.5, 1.0
    rows = X[model.predict(X) < 0].iloc[:4]
    result = Counterfactuals(model, X).explain(rows, desired=(low, high))
    thresholds = [_sklearn_thresholds(model, j) for j in range(3)]

    def valid(frame):
        p = model.predict(frame)
        return (p >= low) & (p <= high)

    for i in range(len(rows)):
        best = _brute_force(model, X, rows.iloc[i], thresholds, None, valid=valid)
        (answer,) = result.for_row(i)
        assert answer.certificate == "optimal" and answer.valid
        assert low <= answer.prediction <= high
        np.testing.assert_allclose(answer.cost, best, rtol=1e-9)


def test_linear_closed_form():
    """Logistic regression, MAD-L1, no bounds: move only the column with the largest
    |w_j| * MAD_j, by exactly what the margin needs."""
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    model = LogisticRegression().fit(X, y)
    cf = Counterfactuals(model, X)
    assert cf.engine.name == "milp_linear"
    rows = X.iloc[:8]
    result = cf.explain(rows)
    mad = np.array(list(_mad(X).values()))
    w = model.coef_[0]
    best = int(np.argmax(np.abs(w) * mad))
    margins = model.decision_function(rows)
    for i in range(len(rows)):
        (answer,) = result.for_row(i)
        assert answer.certificate == "optimal" and answer.valid
        assert [c.feature for c in answer.changes] == [X.columns[best]]
        np.testing.assert_allclose(
            answer.cost, abs(margins[i]) / (abs(w[best]) * mad[best]), rtol=1e-6
        )


def test_linear_pipeline_with_categories(credit_small):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = credit_small.X.drop(columns=["savings"])
    cats = ["employment", "housing", "sex"]
    num = [c for c in X.columns if c not in cats]
    model = make_pipeline(
        ColumnTransformer([("n", StandardScaler(), num), ("c", OneHotEncoder(), cats)]),
        LogisticRegression(max_iter=1000),
    ).fit(X, credit_small.y)
    allowed = ["employed", "self_employed"]
    cf = Counterfactuals(model, X, immutable=["age", "sex"], actions={"employment": allowed})
    assert cf.engine.name == "milp_linear"
    rows = X[model.predict(X) == 1].iloc[:8]
    result = cf.explain(rows, desired=0, k=2)
    _check_answers(result, model, rows, immutable=["age", "sex"], desired=0)
    for cf_ in result.counterfactuals:
        for c in cf_.changes:
            if c.feature == "employment":
                assert c.after in allowed
            if c.feature in cats:
                assert c.after in X[c.feature].cat.categories


def _check_answers(result, model, rows, *, immutable, desired):
    """Every answer flips the real model, immutables keep their bits, categories stay valid."""
    assert len(result) > 0
    frame = pd.DataFrame([cf.values for cf in result.counterfactuals], columns=rows.columns)
    for c in rows.columns:
        frame[c] = frame[c].astype(rows[c].dtype)
    np.testing.assert_array_equal(model.predict(frame), desired)
    assert all(cf.valid for cf in result.counterfactuals)
    for cf_, (_, new) in zip(result.counterfactuals, frame.iterrows(), strict=True):
        old = rows.iloc[cf_.row]
        for c in immutable:
            assert np.asarray(new[c]).tobytes() == np.asarray(old[c]).tobytes()
        changed = {ch.feature for ch in cf_.changes}
        for c in rows.columns:
            if c not in changed:
                assert new[c] == old[c] or (pd.isna(new[c]) and pd.isna(old[c]))


def test_tree_actions_and_categories_respected():
    xgb = pytest.importorskip("xgboost")
    from pellucid import datasets

    ds = datasets.credit(800, random_state=1)
    X = ds.X
    model = xgb.XGBClassifier(
        n_estimators=20, max_depth=3, enable_categorical=True, tree_method="hist", random_state=0
    ).fit(X, ds.y)
    actions = {
        "income": "increase",
        "late_payments": "decrease",
        "loan_amount": (5_000, 30_000),
        "savings": (None, 50_000),  # an open end
        "debt_to_income": (0.05, None),
        "housing": ["own", "mortgage"],
        "credit_history_years": 0.5,
    }
    immutable = ["age", "sex"]
    cf = Counterfactuals(model, X, immutable=immutable, actions=actions)
    assert cf.engine.name == "milp_tree"
    rows = X[model.predict(X) == 1].iloc[:10]
    result = cf.explain(rows, desired=0, k=2)
    _check_answers(result, model, rows, immutable=immutable, desired=0)
    for answer in result.counterfactuals:
        for c in answer.changes:
            if c.feature == "income":
                assert c.after > c.before
            if c.feature == "late_payments":
                assert c.after < c.before and float(c.after).is_integer()
            if c.feature == "loan_amount":
                assert 5_000 <= c.after <= 30_000
            if c.feature == "housing":
                assert c.after in ("own", "mortgage")
            if c.feature == "savings":
                assert c.after <= 50_000
            if c.feature == "debt_to_income":
                assert c.after >= 0.05
            if c.feature in ("employment", "housing"):
                assert c.after in X[c.feature].cat.categories
            if c.feature == "credit_history_years":
                steps = (c.after - c.before) / 0.5
                assert abs(steps - round(steps)) < 1e-9
    # diversity: a later answer never changes every column of an earlier one
    for row in range(len(rows)):
        answers = result.for_row(row)
        for a, b in itertools.combinations(answers, 2):
            assert not {c.feature for c in a.changes} <= {c.feature for c in b.changes}


def test_infeasible_is_proven():
    """Only `a` may move, within a range where the model never flips: no answer, and the
    certificate says so (brute force over the range agrees)."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data()
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    row = X[model.predict(X) == 0].iloc[[0]]
    a = float(row["a"].iloc[0])
    cf = Counterfactuals(model, X, immutable=["b", "c"], actions={"a": (a - 0.01, a + 0.01)})
    result = cf.explain(row, desired=1)
    assert result.certificates == ("infeasible",)
    assert len(result) == 0
    grid = row.loc[row.index.repeat(2001)].reset_index(drop=True)
    grid["a"] = np.linspace(a - 0.01, a + 0.01, 2001)
    assert not (model.predict(grid) == 1).any()


def test_already_desired_rows_need_nothing():
    from sklearn.tree import DecisionTreeClassifier

    X, y = _data()
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    row = X[model.predict(X) == 1].iloc[[0]]
    result = Counterfactuals(model, X).explain(row, desired=1)
    assert result.certificates == ("not_needed",)


def test_search_engine_any_model_seeded():
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _data()
    model = KNeighborsClassifier().fit(X, y)
    cf = Counterfactuals(model, X, immutable=["c"], actions={"a": "increase"}, random_state=3)
    assert cf.engine.name == "search"
    rows = X[model.predict(X) == 0].iloc[:4]
    first = cf.explain(rows, desired=1, k=2)
    again = Counterfactuals(
        model, X, immutable=["c"], actions={"a": "increase"}, random_state=3
    ).explain(rows, desired=1, k=2)
    assert first.to_json() == again.to_json()
    _check_answers(first, model, rows, immutable=["c"], desired=1)
    assert {cf_.certificate for cf_ in first.counterfactuals} == {"feasible"}
    for answer in first.counterfactuals:
        for c in answer.changes:
            if c.feature == "a":
                assert c.after > c.before


def test_search_never_beats_the_certified_optimum():
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = _data()
    model = GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(X, y)
    rows = X.iloc[:5]
    exact = Counterfactuals(model, X).explain(rows)
    search = Counterfactuals(model, X, engine="search", random_state=0).explain(rows)
    for i in range(len(rows)):
        (e,) = exact.for_row(i)
        for s in search.for_row(i):
            assert s.cost >= e.cost * (1 - 1e-9)


def test_result_json_round_trip_and_sentences():
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data()
    X["d"] = pd.Categorical(np.where(X["a"] > 0, "x", "y"))
    X["a"] = X["a"].where(X.index % 7 != 0)  # missing values stay missing
    Xn = X.assign(d=X["d"].cat.codes, a=X["a"].fillna(0))
    model = RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0).fit(Xn, y)
    result = Counterfactuals(model, Xn).explain(Xn.iloc[:5], k=2)
    back = CounterfactualSet.from_json(result.to_json())
    assert back.to_json() == result.to_json()
    assert back.certificates == result.certificates
    assert repr(result).startswith("CounterfactualSet(rows=5")
    frame = result.to_frame()
    assert list(frame.columns[:8]) == [
        "row", "rank", "certificate", "valid", "cost", "gap", "prediction", "changes"
    ]  # fmt: skip
    sentences = result.sentences(outcome="approved")
    assert len(sentences) == len(result)
    assert all(s.startswith("Had ") and s.endswith("the application would have been approved.")
               for s in sentences)  # fmt: skip


def test_sentence_wording():
    from pellucid.counterfactual import Change, Counterfactual

    cf = Counterfactual(
        row=0,
        rank=0,
        changes=(Change("income", 50_000.0, 54_200.0), Change("late_payments", 2, 1)),
        values=(54_200.0, 1),
        cost=1.0,
        prediction=0,
        valid=True,
        certificate="optimal",
    )
    result = CounterfactualSet(
        ("income", "late_payments"), [[50_000.0, 2]], [1], 0, (cf,), ("optimal",)
    )
    assert result.sentence(cf, outcome="approved") == (
        "Had income been 4,200 higher and late payments been 1 lower, the application would "
        "have been approved."
    )


def test_recourse_audit_counts():
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    X["group"] = np.where(np.arange(len(X)) % 3 == 0, 1.0, 0.0)
    model = LogisticRegression().fit(X, y)
    audit = recourse_audit(model, X.iloc[:60], "group", desired=1, data=X)
    negative = model.predict(X.iloc[:60]) == 0
    assert audit["n_rows"].sum() == 60
    assert audit["n_negative"].sum() == negative.sum()
    assert ((audit["share_recourse"] >= 0) & (audit["share_recourse"] <= 1)).all()
    assert (audit["cost_q25"] <= audit["cost_median"]).all()


def test_bad_settings_name_the_column():
    from sklearn.tree import DecisionTreeClassifier

    X, y = _data()
    model = DecisionTreeClassifier(max_depth=2).fit(X, y)
    with pytest.raises(ValueError, match="'zz'"):
        Counterfactuals(model, X, immutable=["zz"])
    with pytest.raises(ValueError, match="'a'"):
        Counterfactuals(model, X, actions={"a": "sideways"})
    with pytest.raises(ValueError, match="positive integer"):
        Counterfactuals(model, X).explain(X.iloc[:1], k=0)


def test_time_limit_returns_a_valid_answer():
    """With almost no time the solver proves nothing: the answer is the best valid one
    known, certified only "feasible" (or "optimal" when the bound closed anyway)."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data(n=600)
    model = RandomForestClassifier(n_estimators=60, max_depth=6, random_state=0).fit(X, y)
    rows = X.iloc[:6]
    result = Counterfactuals(model, X, time_limit=1e-3).explain(rows)
    assert set(result.certificates) <= {"optimal", "feasible", "unknown"}
    assert "feasible" in result.certificates
    flipped = 1 - model.predict(rows)
    _check_answers(
        result, model, rows, immutable=[], desired=[flipped[c.row] for c in result.counterfactuals]
    )
    for cf_ in result.counterfactuals:
        assert cf_.certificate in ("optimal", "feasible")


def _hgb_thresholds(model, j):
    nodes = np.concatenate([p[0].nodes for p in model._predictors])
    split = (nodes["is_leaf"] == 0) & (nodes["feature_idx"] == j)
    return np.unique(nodes["num_threshold"][split])


def _monotone_models():
    """Models trained under monotone constraints (increasing in a, decreasing in c):
    the exact engine reads them like any other trees."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    yield (
        "hgb",
        lambda: HistGradientBoostingClassifier(
            max_iter=5, max_depth=2, monotonic_cst=[1, 0, -1], random_state=0
        ),
        _hgb_thresholds,
        np.float64,
    )
    xgb = pytest.importorskip("xgboost")
    yield (
        "xgb",
        lambda: xgb.XGBClassifier(
            n_estimators=4, max_depth=3, monotone_constraints="(1,0,-1)", random_state=0
        ),
        _xgb_thresholds,
        F32,
    )
    lgb = pytest.importorskip("lightgbm")
    yield (
        "lgb",
        lambda: lgb.LGBMClassifier(
            n_estimators=4,
            num_leaves=6,
            min_child_samples=5,
            monotone_constraints=[1, 0, -1],
            random_state=0,
            verbose=-1,
        ),
        _lgb_thresholds,
        np.float64,
    )


@pytest.mark.parametrize("name", ["hgb", "xgb", "lgb"])
def test_monotone_constrained_models_optimum_equals_brute_force(name):
    make, reader, dtype = {n: rest for n, *rest in _monotone_models()}[name]
    X, y = _data()
    model = make().fit(X, y)
    # the constraint holds in the fitted model: raising a never lowers P(1)
    grid = X.iloc[:50].copy()
    before = model.predict_proba(grid)[:, 1]
    grid["a"] += 0.5
    assert np.all(model.predict_proba(grid)[:, 1] >= before - 1e-12)
    cf = Counterfactuals(model, X)
    assert cf.engine.name == "milp_tree"
    rows = X.iloc[:6]
    result = cf.explain(rows)
    thresholds = [reader(model, j) for j in range(X.shape[1])]
    for i in range(len(rows)):
        desired = 1 - model.predict(rows.iloc[[i]])[0]
        best = _brute_force(model, X, rows.iloc[i], thresholds, desired, dtype=dtype)
        (answer,) = result.for_row(i)
        assert answer.certificate == "optimal" and answer.valid
        np.testing.assert_allclose(answer.cost, best, rtol=1e-9, atol=1e-12)
        # towards class 1 the answer never lowers a or raises c (the model cannot reward it)
        moves = {ch.feature: ch.after - ch.before for ch in answer.changes}
        sign = 1 if desired == 1 else -1
        assert sign * moves.get("a", 0.0) >= 0 and sign * moves.get("c", 0.0) <= 0


def test_plot_draws_the_changes_prediction_and_certificate():
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.ensemble import RandomForestClassifier

    from pellucid import plots

    X, y = _data()
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    result = Counterfactuals(model, X, actions={"a": (-0.5, 0.5)}).explain(X.iloc[:8])
    drawn = next(i for i in range(8) if result.for_row(i))
    (answer,) = result.for_row(drawn)
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = plots.counterfactual(result, drawn, ax=fig.add_subplot())
    assert f"prediction {result.predictions[drawn]} \u2192 {answer.prediction}" in ax.get_title()
    assert answer.certificate in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == [c.feature for c in answer.changes]
    # two bars per numeric change, before (scaled by the larger |value|) then after
    widths = [p.get_width() for p in ax.patches]
    expected = []
    for c in answer.changes:
        scale = max(abs(c.before), abs(c.after))
        expected += [c.before / scale, c.after / scale]
    np.testing.assert_allclose(widths, expected, rtol=1e-12)
    missing = [i for i in range(8) if not result.for_row(i)]
    if missing:
        with pytest.raises(ValueError, match=f"row {missing[0]} has no counterfactual"):
            plots.counterfactual(result, missing[0], ax=fig.add_subplot())
    with pytest.raises(ValueError, match="has ranks \\[0\\]; got rank=1"):
        plots.counterfactual(result, drawn, rank=1, ax=fig.add_subplot())
    with pytest.raises(TypeError, match="takes a CounterfactualSet"):
        plots.counterfactual(answer, ax=fig.add_subplot())


@pytest.mark.parametrize("immutable", ["a", "b", "c"])
def test_tree_optimum_with_an_immutable_column_equals_brute_force(immutable):
    """A frozen column cuts whole subtrees off: thresholds inside them no longer separate
    the other columns' options, and the program keeps one (the cheapest) of each set of
    options that reach the same leaves. The optimum must not change."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data(seed=3)
    model = RandomForestClassifier(n_estimators=6, max_depth=4, random_state=1).fit(X, y)
    cf = Counterfactuals(model, X, immutable=[immutable])
    rows = X.iloc[:8]
    result = cf.explain(rows)
    thresholds = [
        _sklearn_thresholds(model, j) if c != immutable else np.zeros(0)
        for j, c in enumerate(X.columns)
    ]
    for i in range(len(rows)):
        desired = 1 - model.predict(rows.iloc[[i]])[0]
        best = _brute_force(model, X, rows.iloc[i], thresholds, desired)
        answers = result.for_row(i)
        if not np.isfinite(best):
            assert answers == [] and result.certificates[i] == "infeasible"
            continue
        (answer,) = answers
        assert answer.certificate == "optimal" and answer.valid
        assert immutable not in {ch.feature for ch in answer.changes}
        np.testing.assert_allclose(answer.cost, best, rtol=1e-9, atol=1e-12)


def test_catboost_oblivious_trees_optimum_equals_brute_force():
    cb = pytest.importorskip("catboost")
    X, y = _data()
    model = cb.CatBoostClassifier(iterations=4, depth=3, random_seed=0, verbose=0,
                                  thread_count=1, allow_writing_files=False).fit(X, y)  # fmt: skip
    cf = Counterfactuals(model, X)
    assert cf.engine.name == "milp_tree"
    rows = X.iloc[:6]
    result = cf.explain(rows)
    borders = model.get_borders()
    thresholds = [np.asarray(borders.get(j, []), dtype=float) for j in range(X.shape[1])]
    for i in range(len(rows)):
        desired = 1 - model.predict(rows.iloc[[i]])[0]
        best = _brute_force(model, X, rows.iloc[i], thresholds, desired)
        (answer,) = result.for_row(i)
        assert answer.certificate == "optimal" and answer.valid
        np.testing.assert_allclose(answer.cost, best, rtol=1e-9, atol=1e-12)


def _diagonal_data(n=400, seed=0):
    """b follows a closely; the label depends on a alone."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    X = pd.DataFrame({"a": a, "b": a + rng.normal(scale=0.05, size=n)})
    return X, (a > 0).astype(int)


def test_knn_limit_equals_a_plain_leave_one_out_computation():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60) * 10,
                      "c": pd.Categorical(rng.choice(["x", "y", "z"], size=60))})  # fmt: skip
    knn = Counterfactuals(lambda d: np.zeros(len(d)), X, plausibility="knn",
                          engine="search").space.knn  # fmt: skip
    mad = _mad(X[["a", "b"]])
    own = []
    for i in range(len(X)):
        d = [abs(X.a[i] - X.a[j]) / mad["a"] + abs(X.b[i] - X.b[j]) / mad["b"]
             + float(X.c[i] != X.c[j]) for j in range(len(X)) if j != i]  # fmt: skip
        own.append(sorted(d)[4])
    np.testing.assert_allclose(knn.limit, np.quantile(own, 0.95), rtol=1e-12)
    point = X.iloc[[0]].assign(a=50.0)
    assert not knn.plausible(point)[0] and knn.plausible(X.iloc[:5]).all()


@pytest.mark.parametrize("engine", ["tree", "search"])
def test_knn_plausibility_keeps_answers_near_the_data(engine):
    """The tree's optimum moves a alone and lands off the a = b diagonal the data lie
    on; under plausibility='knn' the answer moves b too and stays near real rows."""
    from sklearn.tree import DecisionTreeClassifier

    X, y = _diagonal_data()
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X[["a", "b"]], y)
    rows = X[(X.a < -0.8) & (X.a > -1.2)].iloc[:3]
    plain = Counterfactuals(model, X, engine=engine, random_state=0).explain(rows)
    near = Counterfactuals(model, X, engine=engine, plausibility="knn", random_state=0)
    result = near.explain(rows)
    assert result.params["knn_limit"] == near.space.knn.limit
    for i in range(len(rows)):
        (answer,) = result.for_row(i)
        assert answer.valid
        new = pd.DataFrame([answer.values], columns=X.columns)
        assert near.space.knn.scores(new)[0] <= near.space.knn.limit
        (unconstrained,) = plain.for_row(i)
        old = pd.DataFrame([unconstrained.values], columns=X.columns)
        if engine == "tree":  # the exact optimum was off the data: replaced by the search
            assert near.space.knn.scores(old)[0] > near.space.knn.limit
            assert unconstrained.certificate == "optimal" and answer.certificate == "feasible"
            assert answer.cost >= unconstrained.cost
