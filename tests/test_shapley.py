"""ExactShap, KernelShap, PermutationShap: definition, axioms, convergence, coverage."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

import pellucid
from pellucid.shapley import Background

# ---------------------------------------------------------------- helpers


def nonlinear_game(d: int, seed: int = 1):
    """A model with interactions of every order (so paired sampling is not exact)."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d, 6))
    a = rng.normal(size=6)

    def f(Z):
        Z = np.asarray(Z, dtype=float)
        return np.tanh(Z @ W) @ a + Z[:, 0] * Z[:, 1] * Z[:, 2]

    return f


def brute_force(f, x, background, weights=None, players=None):
    """Shapley values by their definition, from an independent value function."""
    d = background.shape[1]
    players = players or [[j] for j in range(d)]
    p = len(players)
    w = np.full(len(background), 1 / len(background)) if weights is None else weights

    def v(S):
        Z = np.array(background, dtype=float)
        cols = [c for i in S for c in players[i]]
        Z[:, cols] = x[cols]
        return w @ np.asarray(f(Z))

    phi = np.zeros(p)
    for i in range(p):
        others = [j for j in range(p) if j != i]
        for r in range(p):
            for S in itertools.combinations(others, r):
                weight = math.factorial(r) * math.factorial(p - r - 1) / math.factorial(p)
                phi[i] += weight * (v(S + (i,)) - v(S))
    return phi


@pytest.fixture(scope="module")
def game8():
    rng = np.random.default_rng(1)
    d = 8
    f = nonlinear_game(d)
    background = rng.normal(size=(15, d))
    X = rng.normal(size=(10, d))
    truth = pellucid.ExactShap(f, background).explain(X).values
    return f, background, X, truth


# ---------------------------------------------------------------- ExactShap


def test_exact_equals_brute_force_definition_with_weights():
    rng = np.random.default_rng(0)
    d = 5
    f = nonlinear_game(d, seed=3)
    background = rng.normal(size=(7, d))
    weights = rng.uniform(0.1, 2.0, size=7)
    X = rng.normal(size=(3, d))
    exp = pellucid.ExactShap(f, background, background_weights=weights).explain(X)
    want = np.array([brute_force(f, x, background, weights / weights.sum()) for x in X])
    np.testing.assert_allclose(exp.values, want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(exp.base_values, weights @ f(background) / weights.sum(), atol=1e-12)
    np.testing.assert_allclose(exp.output, f(X), atol=1e-12)
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)
    assert exp.std_errors is None
    assert exp.method == "exact_shap"


def test_weights_equal_repeated_rows():
    rng = np.random.default_rng(2)
    f = nonlinear_game(4, seed=5)
    background = rng.normal(size=(3, 4))
    X = rng.normal(size=(2, 4))
    weighted = pellucid.ExactShap(f, background, background_weights=[1, 2, 3]).explain(X)
    repeated = pellucid.ExactShap(f, np.repeat(background, [1, 2, 3], axis=0)).explain(X)
    np.testing.assert_allclose(weighted.values, repeated.values, atol=1e-12)
    np.testing.assert_allclose(weighted.base_values, repeated.base_values, atol=1e-12)


def test_exact_matches_shap_kernel_explainer_full_enumeration():
    shap = pytest.importorskip("shap")
    rng = np.random.default_rng(4)
    d = 6
    f = nonlinear_game(d, seed=7)
    background = rng.normal(size=(12, d))
    X = rng.normal(size=(3, d))
    # With every coalition evaluated shap's kernel regression is the exact Shapley value.
    ref = shap.KernelExplainer(f, background).shap_values(X, nsamples=2**d, silent=True)
    ours = pellucid.ExactShap(f, background).explain(X)
    np.testing.assert_allclose(ours.values, ref, atol=1e-8)
    np.testing.assert_allclose(ours.base_values, f(background).mean(), atol=1e-12)


def test_symmetry_and_dummy_axioms():
    rng = np.random.default_rng(5)
    col = rng.normal(size=20)
    background = np.column_stack([col, col, rng.normal(size=20), rng.normal(size=20)])

    def f(Z):  # symmetric in x0, x1; x3 is a dummy
        Z = np.asarray(Z)
        return Z[:, 0] * Z[:, 1] + np.sin(Z[:, 0] + Z[:, 1]) * Z[:, 2]

    X = np.array([[0.7, 0.7, -1.2, 3.0], [-0.3, -0.3, 0.5, -2.0]])
    exact = pellucid.ExactShap(f, background).explain(X)
    np.testing.assert_allclose(exact.values[:, 0], exact.values[:, 1], atol=1e-12)
    np.testing.assert_allclose(exact.values[:, 3], 0, atol=1e-12)
    perm = pellucid.PermutationShap(f, background, budget=120, random_state=0).explain(X)
    np.testing.assert_allclose(perm.values[:, 3], 0, atol=1e-12)  # every contribution is 0
    kern = pellucid.KernelShap(f, background, budget=14, random_state=0).explain(X)
    np.testing.assert_allclose(kern.values, exact.values, atol=1e-10)  # 14 = all coalitions


def test_exact_refuses_too_many_players():
    background = np.zeros((3, 17))
    with pytest.raises(ValueError, match="max_players"):
        pellucid.ExactShap(lambda Z: np.asarray(Z).sum(axis=1), background)


# ---------------------------------------------------------------- estimators


@pytest.mark.parametrize("cls", [pellucid.KernelShap, pellucid.PermutationShap])
def test_efficiency_is_exact_and_seed_gives_same_bytes(cls, game8):
    f, background, X, _ = game8
    a = cls(f, background, budget=64, random_state=3).explain(X)
    b = cls(f, background, max_batch_rows=40, model_threads=2, budget=64, random_state=3).explain(X)
    np.testing.assert_allclose(a.additivity_gap, 0, atol=1e-10)
    assert a.values.tobytes() == b.values.tobytes()  # batching does not change the numbers
    assert a.std_errors is not None and a.std_errors.tobytes() == b.std_errors.tobytes()
    c = cls(f, background, budget=64, random_state=4).explain(X)
    assert not np.array_equal(a.values, c.values)
    # a Generator seeds too, drawn once
    g1 = cls(f, background, budget=64, random_state=np.random.default_rng(9)).explain(X)
    g2 = cls(f, background, budget=64, random_state=np.random.default_rng(9)).explain(X)
    assert g1.values.tobytes() == g2.values.tobytes()


@pytest.mark.parametrize(
    ("cls", "budgets"),
    [(pellucid.KernelShap, (32, 128, 224)), (pellucid.PermutationShap, (56, 224, 896))],
)
def test_error_falls_as_budget_grows(cls, budgets, game8):
    f, background, X, truth = game8
    errors = []
    for budget in budgets:
        err = [
            (
                (cls(f, background, budget=budget, random_state=s).explain(X).values - truth) ** 2
            ).sum()
            / (truth**2).sum()
            for s in range(6)
        ]
        errors.append(np.mean(err))
    assert errors[0] > 2 * errors[1] > 0
    assert errors[1] > 2 * errors[2]


def test_kernel_with_full_budget_is_exact(game8):
    f, background, X, truth = game8
    exp = pellucid.KernelShap(f, background, budget=10_000, random_state=0).explain(X)
    np.testing.assert_allclose(exp.values, truth, atol=1e-10)
    np.testing.assert_array_equal(exp.std_errors, 0.0)
    assert exp.params["budget"] == 254


@pytest.mark.parametrize(
    ("p", "s", "n"), [(7, 3, 10), (6, 3, 4), (7, 1, 6), (70, 5, 40), (70, 35, 5)]
)
def test_stratum_pairs_are_distinct_and_uniform(p, s, n):
    """Each game's pairs of a stratum are n distinct coalitions of size s (holding
    player 0 when 2s == p), and every coalition is drawn equally often across games."""
    from pellucid.shapley._kernel import _draw_pairs

    games = 3000 if p < 70 else 50
    out = np.zeros((games, n + 2, p), dtype=bool)
    _draw_pairs(np.random.default_rng(0), p, s, n, out, 1, replace=False)
    assert not out[:, 0].any() and not out[:, -1].any()  # nothing outside its slot
    drawn = out[:, 1:-1]
    assert (drawn.sum(axis=2) == s).all()
    if 2 * s == p:
        assert drawn[:, :, 0].all()
    if p >= 63:  # too many players for an int64 code: compare the masks' bytes
        assert all(len({r.tobytes() for r in game}) == n for game in drawn)
        return
    codes = drawn.astype(np.int64) @ (np.int64(1) << np.arange(p, dtype=np.int64))
    assert (np.diff(np.sort(codes, axis=1), axis=1) > 0).all()  # distinct within a game
    population = math.comb(p - 1, s - 1) if 2 * s == p else math.comb(p, s)
    _, freq = np.unique(codes, return_counts=True)
    assert freq.size == population
    expected = games * n / population
    # Chi-square with population - 1 degrees of freedom (at most 34): 80 is p < 1e-5.
    assert ((freq - expected) ** 2 / expected).sum() < 80


@pytest.mark.parametrize(
    ("cls", "budget", "design"),
    [
        (pellucid.KernelShap, 64, "per_background"),
        (pellucid.KernelShap, 160, "per_background"),
        (pellucid.KernelShap, 64, "shared"),
        (pellucid.KernelShap, 160, "shared"),
        (pellucid.PermutationShap, 280, "per_background"),
        (pellucid.PermutationShap, 280, "shared"),
    ],
)
def test_standard_errors_cover_95_percent(cls, budget, design, game8):
    """About 95% of exact values lie within 1.96 standard errors (10 rows x 8 features x 25 seeds)."""
    f, background, X, truth = game8
    covered = []
    for seed in range(25):
        exp = cls(f, background, design=design, budget=budget, random_state=100 + seed).explain(X)
        assert np.isfinite(exp.std_errors).all() and (exp.std_errors > 0).all()
        covered.append(np.abs(exp.values - truth) <= 1.96 * exp.std_errors)
    coverage = np.mean(covered)
    # 2000 intervals, correlated within a run: a band, not a point.
    assert 0.91 <= coverage <= 0.985, coverage


def test_kernel_tiny_budget_reports_unknown_error():
    f = nonlinear_game(8)
    background = np.random.default_rng(0).normal(size=(5, 8))
    exp = pellucid.KernelShap(f, background, budget=6, random_state=0).explain(background[:2])
    assert np.isnan(exp.std_errors).all()
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)


def test_budget_validation():
    # Settings are checked where they are set: in the constructor.
    f, background = nonlinear_game(5), np.zeros((3, 5))
    with pytest.raises(ValueError, match="at least 4"):
        pellucid.KernelShap(f, background, budget=2)
    with pytest.raises(TypeError, match="budget"):
        pellucid.KernelShap(f, background, budget=1.5)
    with pytest.raises(TypeError, match="random_state"):
        pellucid.KernelShap(f, background, random_state="x")


# ---------------------------------------------------------------- classifiers, links


@pytest.fixture(scope="module")
def classifier():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(size=300) > 0).astype(int) + (X[:, 3] > 1)
    return LogisticRegression().fit(X, y), X


def test_classifier_explained_per_class_probability(classifier):
    model, X = classifier
    exp = pellucid.ExactShap(model, X[:20]).explain(X[:5])
    assert exp.values.shape == (5, 4, 3)
    assert exp.output_names == ("0", "1", "2")
    proba = model.predict_proba(X[:5])
    np.testing.assert_allclose(exp.output, proba, atol=1e-12)
    np.testing.assert_allclose(exp.base_values[0], model.predict_proba(X[:20]).mean(0), atol=1e-12)
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)
    np.testing.assert_allclose(exp.values.sum(axis=2), 0, atol=1e-10)  # probabilities sum to 1
    ks = pellucid.KernelShap(model, X[:20], budget=8, random_state=0).explain(X[:5])
    assert ks.values.shape == ks.std_errors.shape == (5, 4, 3)


def test_logit_link(classifier):
    from scipy.special import logit

    model, X = classifier
    exp = pellucid.ExactShap(model, X[:20], link="logit").explain(X[:3])
    np.testing.assert_allclose(exp.output, logit(model.predict_proba(X[:3])), atol=1e-10)
    np.testing.assert_allclose(
        exp.base_values[0], logit(model.predict_proba(X[:20]).mean(0)), atol=1e-10
    )
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)
    with pytest.raises(ValueError, match="link"):
        pellucid.ExactShap(lambda Z: np.asarray(Z)[:, 0], X[:5], link="logit")
    with pytest.raises(ValueError, match="link must be"):
        pellucid.ExactShap(model, X[:5], link="probit")


# ---------------------------------------------------------------- user feature space


@pytest.fixture(scope="module")
def pipeline_data():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(3)
    n = 200
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "city": pd.Series(rng.choice(["paris", "lyon", "nice"], n), dtype="string"),
            "plan": pd.Categorical(rng.choice(["a", "b"], n)),
            "income": rng.normal(50, 10, n),
        }
    )
    y = frame["age"] * 0.1 + (frame["city"] == "lyon").astype(float) * 2.0 + frame["income"] * 0.05
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    model = make_pipeline(pre, Ridge(alpha=0.1)).fit(frame, y)
    return model, frame


def test_pipeline_explained_per_original_column(pipeline_data):
    model, frame = pipeline_data
    background, X = frame.iloc[:12], frame.iloc[100:103]
    exp = pellucid.ExactShap(model, background).explain(X)
    assert exp.feature_names == ("age", "city", "plan", "income")
    assert exp.values.shape == (3, 4)
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)
    # Independent value function: hybrid frames built row by row, with the right dtypes.
    players = [[0], [1], [2], [3]]

    def v(x, S):
        rows = background.copy()
        for i in S:
            name = frame.columns[players[i][0]]
            rows[name] = pd.Series([x[name]] * len(rows), index=rows.index).astype(
                frame[name].dtype
            )
        return model.predict(rows).mean()

    x = X.iloc[0]
    for i in range(4):
        others = [j for j in range(4) if j != i]
        phi = 0.0
        for r in range(4):
            for S in itertools.combinations(others, r):
                w = math.factorial(r) * math.factorial(3 - r) / math.factorial(4)
                phi += w * (v(x, S + (i,)) - v(x, S))
        np.testing.assert_allclose(exp.values[0, i], phi, atol=1e-10)
    # The model is additive in its (one-hot) columns: kernel estimates are exact too.
    ks = pellucid.KernelShap(model, background, budget=8, random_state=0).explain(X)
    np.testing.assert_allclose(ks.values, exp.values, atol=1e-10)


def test_groups_are_single_players():
    rng = np.random.default_rng(6)
    f = nonlinear_game(6, seed=2)
    background = rng.normal(size=(8, 6))
    X = rng.normal(size=(2, 6))
    groups = {"g1": ["x0", "x2"], "g2": ["x3", "x4", "x5"]}
    exp = pellucid.ExactShap(f, background, feature_groups=groups).explain(X)
    assert exp.feature_names == ("g1", "x1", "g2")
    players = [[0, 2], [1], [3, 4, 5]]
    want = np.array([brute_force(f, x, background, players=players) for x in X])
    np.testing.assert_allclose(exp.values, want, atol=1e-10)
    assert exp.data is None and exp.params["feature_groups"] == groups
    perm = pellucid.PermutationShap(f, background, feature_groups=groups, random_state=0).explain(X)
    assert perm.values.shape == (2, 3)


def test_group_errors_name_the_column():
    background = pd.DataFrame(np.zeros((3, 3)), columns=["a", "b", "c"])

    def f(Z):
        return np.zeros(len(Z))

    with pytest.raises(pellucid.DataError, match="'a' is in two groups"):
        pellucid.ExactShap(f, background, feature_groups={"g": ["a", "b"], "h": ["a"]})
    with pytest.raises(pellucid.DataError, match="'zz'"):
        pellucid.ExactShap(f, background, feature_groups={"g": ["zz"]})
    ex = pellucid.ExactShap(f, background)
    with pytest.raises(pellucid.DataError, match="differ"):
        ex.explain(background[["b", "a", "c"]])


def test_background_weight_errors():
    with pytest.raises(ValueError, match="weight"):
        pellucid.ExactShap(lambda Z: np.zeros(len(Z)), np.zeros((3, 2)), background_weights=[1, 2])
    with pytest.raises(ValueError, match="row 1"):
        pellucid.ExactShap(
            lambda Z: np.zeros(len(Z)), np.zeros((3, 2)), background_weights=[1, -1, 2]
        )
    with pytest.raises(ValueError, match="background"):
        pellucid.KernelShap(lambda Z: np.zeros(len(Z)), None)


# ---------------------------------------------------------------- summarize


def test_summarize_kmeans_gives_weighted_real_rows(pipeline_data):
    _, frame = pipeline_data
    bg = pellucid.summarize(frame, 10, random_state=0)
    assert isinstance(bg, Background) and len(bg) == 10
    assert set(bg.data.index) <= set(frame.index)  # medoids are real rows
    assert list(bg.data.dtypes) == list(frame.dtypes)
    np.testing.assert_allclose(bg.weights.sum(), 1.0)
    assert (bg.weights > 0).all()
    # cluster shares: weights are multiples of 1/n
    np.testing.assert_allclose(bg.weights * len(frame), np.round(bg.weights * len(frame)))
    again = pellucid.summarize(frame, 10, random_state=0)
    pd.testing.assert_frame_equal(bg.data, again.data)


def test_summarize_sample_and_small_data():
    X = np.arange(40.0).reshape(20, 2)
    bg = pellucid.summarize(X, 5, method="sample", random_state=1)
    assert bg.data.shape == (5, 2) and np.allclose(bg.weights, 0.2)
    whole = pellucid.summarize(X, 50)
    assert whole.data is X and np.allclose(whole.weights, 1 / 20)
    with pytest.raises(ValueError, match="method"):
        pellucid.summarize(X, 5, method="median")


def test_summarized_background_used_with_weights(pipeline_data):
    model, frame = pipeline_data
    bg = pellucid.summarize(frame, 8, random_state=0)
    exp = pellucid.ExactShap(model, bg).explain(frame.iloc[:2])
    np.testing.assert_allclose(exp.base_values, bg.weights @ model.predict(bg.data), atol=1e-12)
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)


# ---------------------------------------------------------------- explain (auto)


def test_explain_auto_picks_exact_then_kernel():
    rng = np.random.default_rng(0)
    small = rng.normal(size=(30, 4))
    f4 = nonlinear_game(4)
    exp = pellucid.explain(f4, small[:2], background=small)
    assert exp.method == "exact_shap"
    np.testing.assert_allclose(
        exp.values, pellucid.ExactShap(f4, small).explain(small[:2]).values, atol=1e-12
    )
    wide = rng.normal(size=(150, 12))
    f12 = nonlinear_game(12)
    exp = pellucid.explain(f12, wide[:40], budget=64, random_state=0)
    assert exp.method == "kernel_shap" and exp.params["n_background"] == 40  # X itself
    assert exp.params["background"] == "X itself (40 rows -> 40 weighted rows)"
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)
    exp = pellucid.explain(f12, wide[:2], background=wide[:10], method="permutation_shap")
    assert exp.method == "permutation_shap"


def test_explain_auto_uses_treeshap_for_trees_and_model_agnostic_for_groups():
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    tree = DecisionTreeRegressor(max_depth=3).fit(X, X[:, 0])
    path = pellucid.explain(tree, X[:5])  # no background: the trees' own cover
    assert path.method == "tree_shap" and path.output_kind == "regression"
    assert path.params["feature_perturbation"] == "path_dependent"
    assert pellucid.explain(tree, X[:5], background=X).method == "tree_shap"
    grouped = pellucid.explain(tree, X[:5], background=X, groups={"g": [0, 1]})
    assert grouped.method == "exact_shap" and grouped.output_kind == "regression"


@pytest.mark.parametrize("d", [1, 2, 3])
def test_few_players_are_exact_for_every_estimator(d):
    rng = np.random.default_rng(d)
    f = nonlinear_game(max(d, 3), seed=d)
    background = rng.normal(size=(6, d))

    def g(Z):  # pad to three columns so the game has interactions when d == 3
        Z = np.asarray(Z)
        return f(np.hstack([Z, np.zeros((len(Z), 3 - d))]))

    X = rng.normal(size=(2, d))
    want = np.array([brute_force(g, x, background) for x in X])
    for cls in (pellucid.ExactShap, pellucid.KernelShap):
        np.testing.assert_allclose(cls(g, background).explain(X).values, want, atol=1e-10)
    perm = pellucid.PermutationShap(g, background, random_state=0).explain(X)
    np.testing.assert_allclose(perm.additivity_gap, 0, atol=1e-10)
    if d <= 2:  # antithetic pairs are exact for up to two players
        np.testing.assert_allclose(perm.values, want, atol=1e-10)


def test_mixed_dtypes_with_threads_match_one_thread(pipeline_data):
    model, frame = pipeline_data
    one = pellucid.KernelShap(model, frame.iloc[:10], budget=8, random_state=1).explain(
        frame.iloc[50:53]
    )
    two = pellucid.KernelShap(
        model, frame.iloc[:10], model_threads=2, max_batch_rows=30, budget=8, random_state=1
    ).explain(frame.iloc[50:53])
    assert one.values.tobytes() == two.values.tobytes()
    with pytest.raises(ValueError, match="model_threads"):
        pellucid.KernelShap(model, frame.iloc[:10], model_threads=0)


@pytest.mark.parametrize("kind", ["xgboost", "mlp"])
def test_threads_never_change_the_bytes(kind):
    """Model calls shared by 1, 2 or 3 threads (and the default) give identical numbers."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 6))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + X[:, 3:].sum(axis=1)
    if kind == "xgboost":
        import xgboost as xgb

        model = xgb.XGBRegressor(n_estimators=20, max_depth=3, n_jobs=1).fit(X, y)
    else:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        with warnings.catch_warnings():  # a few iterations are enough for this test
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = MLPRegressor(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(X, y)
    background, rows = X[:20], X[100:105]
    # max_batch_rows=400: 20 coalitions per model call, so each row takes several calls
    # and the threads interleave them.
    runs = [
        pellucid.KernelShap(
            model,
            background,
            model_threads=model_threads,
            max_batch_rows=400,
            budget=64,
            random_state=5,
        ).explain(rows)
        for model_threads in (1, 2, 3, None)
    ]
    for run in runs[1:]:
        assert run.values.tobytes() == runs[0].values.tobytes()
        assert run.std_errors is not None and runs[0].std_errors is not None
        assert run.std_errors.tobytes() == runs[0].std_errors.tobytes()
    np.testing.assert_allclose(runs[0].additivity_gap, 0, atol=1e-10)
    exact = pellucid.ExactShap(model, background, model_threads=1).explain(rows)
    threaded = pellucid.ExactShap(model, background, model_threads=-1, max_batch_rows=400).explain(
        rows
    )
    assert threaded.values.tobytes() == exact.values.tobytes()
    with pytest.raises(ValueError, match="model_threads"):
        pellucid.KernelShap(model, background, model_threads=-2)


def test_a_failing_model_call_on_a_thread_is_raised_to_the_caller(game8):
    f, background, X, _ = game8
    calls = []

    def flaky(rows):
        calls.append(len(rows))
        if len(calls) == 4:  # the first is the background; later ones run on threads
            raise RuntimeError("model server went away")
        return f(rows)

    explainer = pellucid.KernelShap(
        flaky, background, model_threads=2, max_batch_rows=150, budget=64, random_state=0
    )
    with pytest.raises(RuntimeError, match="model server went away"):
        explainer.explain(X)
    # The calls after the failure were skipped: far fewer than the 72 of a full run.
    assert len(calls) < 20


def test_model_calls_run_in_threads_by_default_only_for_thread_safe_models(game8):
    from pellucid.shapley._game import available_cores

    f, background, _, _ = game8
    assert pellucid.KernelShap(f, background).game.threads() == 1  # a callable: one thread
    from sklearn.linear_model import LinearRegression

    lin = LinearRegression().fit(background, f(background))
    assert pellucid.KernelShap(lin, background).game.threads() == available_cores()
    assert pellucid.KernelShap(lin, background, model_threads=1).game.threads() == 1
    assert pellucid.KernelShap(f, background, model_threads=-1).game.threads() == available_cores()


@pytest.mark.parametrize("cls", [pellucid.KernelShap, pellucid.PermutationShap])
def test_per_background_design_beats_shared_at_equal_model_calls(cls, game8):
    f, background, X, truth = game8

    def error(design):
        return np.mean(
            [
                (
                    (
                        cls(f, background, design=design, budget=64, random_state=s)
                        .explain(X)
                        .values
                        - truth
                    )
                    ** 2
                ).sum()
                for s in range(4)
            ]
        )

    assert error("shared") > 1.5 * error("per_background")


def test_design_validation(classifier):
    model, X = classifier
    with pytest.raises(ValueError, match="design must be"):
        pellucid.KernelShap(model, X[:5], design="x")
    with pytest.raises(ValueError, match="per_background"):
        pellucid.KernelShap(model, X[:5], link="logit", design="per_background")
    ks = pellucid.KernelShap(model, X[:5], link="logit", budget=8, random_state=0)
    assert ks.design == "shared"
    exp = ks.explain(X[:2])
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)


def test_paired_regression_kernel_matches_plain_weighted_least_squares():
    """The compiled solve = the constrained WLS over both rows of each pair, solved
    densely, and its variance = the stratified HC3 sandwich written out in full."""
    from pellucid.shapley._kernels import paired_regression

    rng = np.random.default_rng(0)
    c, u, p, k = 3, 40, 6, 2
    first = rng.random((c, u, p)) < rng.uniform(0.2, 0.6, size=(c, u, 1))
    w = rng.uniform(0.5, 2.0, u)
    y_in, y_out = rng.normal(size=(c, u, k)), rng.normal(size=(c, u, k))
    delta = rng.normal(size=(c, k))
    stratum = rng.integers(-1, 3, u)
    factor = np.array([0.9, 1.1, 0.5])
    phi, var, ok, _, _ = paired_regression(first, w, y_in, y_out, delta, stratum, factor)
    assert ok.all()
    for g in range(c):
        Z = np.concatenate([first[g], ~first[g]]).astype(float)  # S rows, then complements
        W = np.concatenate([w, w])
        Y = np.concatenate([y_in[g], y_out[g]])
        A = Z.T @ (W[:, None] * Z)
        kkt = np.block([[2 * A, np.ones((p, 1))], [np.ones((1, p)), np.zeros((1, 1))]])
        rhs = np.vstack([2 * Z.T @ (W[:, None] * Y), delta[g][None, :]])
        want = np.linalg.solve(kkt, rhs)[:p]
        np.testing.assert_allclose(phi[g], want, rtol=1e-10, atol=1e-12)
        Ainv = np.linalg.inv(A)
        a = Ainv.sum(axis=1)
        P = Ainv - np.outer(a, a) / a.sum()
        resid = Y - Z @ want
        want_var = np.zeros((p, k))
        for h in range(3):
            units = np.flatnonzero(stratum == h)
            scores = []
            for t in units:
                rows = (t, u + t)  # the pair's two rows
                lev = sum(W[r] * Z[r] @ P @ Z[r] for r in rows)
                score = sum(W[r] * np.outer(P @ Z[r], resid[r]) for r in rows)
                scores.append(score / (1 - np.clip(lev, 0, 0.9)))
            dev = np.array(scores) - np.mean(scores, axis=0)
            want_var += factor[h] * (dev**2).sum(axis=0)
        np.testing.assert_allclose(var[g], want_var, rtol=1e-9)
    # A singular regression (one pair cannot pin six players down) is flagged, not solved.
    _, _, ok1, _, _ = paired_regression(
        first[:, :1], w[:1], y_in[:, :1], y_out[:, :1], delta, stratum[:1], factor
    )
    assert not ok1.any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int16, np.uint8, bool])
@pytest.mark.parametrize("shared", [True, False])
def test_hybrid_rows_are_np_where_to_the_bit(dtype, shared):
    """The compiled hybrid builder copies raw bits: same values (NaN, -inf, -0.0
    included), same dtype as np.where, with one coalition for all background rows
    or one per background row."""
    from pellucid.shapley._kernels import hybrid_rows

    rng = np.random.default_rng(4)
    masks = rng.random((40, 1 if shared else 9, 5)) < 0.5
    rows = (rng.normal(size=(40, 5)) * 50).astype(dtype)
    background = (rng.normal(size=(9, 5)) * 50).astype(dtype)
    if dtype is np.float64:
        rows[0, :3] = [np.nan, -0.0, np.inf]
        background[1, :2] = [-np.inf, np.nan]
    want = np.where(masks, rows[:, None, :], background[None, :, :])
    got = hybrid_rows(masks, rows, background)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    # Mixed dtypes promote as np.where does.
    ints = rng.integers(-9, 9, size=background.shape)
    mixed = hybrid_rows(masks, rows, ints)
    ref = np.where(masks, rows[:, None, :], ints[None, :, :])
    assert mixed.dtype == ref.dtype and mixed.tobytes() == ref.tobytes()


@pytest.mark.parametrize("cls", [pellucid.KernelShap, pellucid.PermutationShap])
def test_a_callable_is_called_from_the_callers_thread_while_a_helper_solves(
    cls, game8, monkeypatch
):
    """A plain callable (not known to be thread-safe) is called only from the calling
    thread, one call at a time, while the solves run on a helper thread: the second
    core does our own work, and the bytes are those of one thread."""
    import threading

    from pellucid.shapley import _game

    f, background, X, _ = game8
    monkeypatch.setattr(_game, "available_cores", lambda: 2)
    model_threads: set[int] = set()
    active = [0]

    def model(rows):
        active[0] += 1
        assert active[0] == 1, "two model calls at once"
        model_threads.add(threading.get_ident())
        out = f(rows)
        active[0] -= 1
        return out

    explainer = cls(model, background, max_batch_rows=150, budget=64, random_state=3)
    solve_threads: set[int] = set()
    solve = explainer._solve

    def recording_solve(*args, **kwargs):
        solve_threads.add(threading.get_ident())
        return solve(*args, **kwargs)

    monkeypatch.setattr(explainer, "_solve", recording_solve)
    piped = explainer.explain(X)
    assert model_threads == {threading.get_ident()}
    assert solve_threads and threading.get_ident() not in solve_threads
    one = cls(
        f, background, max_batch_rows=150, model_threads=1, budget=64, random_state=3
    ).explain(X)
    assert piped.values.tobytes() == one.values.tobytes()
    assert piped.std_errors is not None and one.std_errors is not None
    assert piped.std_errors.tobytes() == one.std_errors.tobytes()


def test_a_failing_solve_on_the_helper_thread_is_raised_to_the_caller(game8, monkeypatch):
    from pellucid.shapley import _game

    f, background, X, _ = game8
    monkeypatch.setattr(_game, "available_cores", lambda: 2)
    explainer = pellucid.KernelShap(f, background, max_batch_rows=150, budget=64, random_state=0)

    def broken(*args, **kwargs):
        raise FloatingPointError("solver broke")

    monkeypatch.setattr(explainer, "_solve", broken)
    with pytest.raises(FloatingPointError, match="solver broke"):
        explainer.explain(X)
