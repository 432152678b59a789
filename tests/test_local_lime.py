"""LIME for tabular data: closed form, the lime package in float64, determinism, raw data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pellucid
from pellucid import DataError
from pellucid.local import Lime
from pellucid.local import _lime as lime_module
from pellucid.local._surrogate import exp_kernel, fit_surrogate

COEF = np.array([3.0, -2.0, 1.0, 0.5, 0.0])


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(0)
    # Different scales per column, so weights (per training std) are not the coefficients.
    scales = np.array([1.0, 2.0, 0.5, 3.0, 1.0])
    X = rng.normal(size=(1000, 5)) * scales + np.array([0.0, 5.0, -1.0, 2.0, 0.0])
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])


def _linear(X):
    return np.asarray(X, dtype=float) @ COEF + 1.0


def test_linear_model_continuous_recovers_coefficients(gaussian):
    lime = Lime(_linear, gaussian, discretize=None, random_state=0, max_features=5)
    exp = lime.explain(gaussian.iloc[:4])
    std = gaussian.to_numpy().std(axis=0)
    # Closed form: in the standardised representation the model is linear with slopes
    # coef * std; ridge (alpha=1) against a weighted Gram matrix with eigenvalues in the
    # hundreds moves each slope by about alpha * |slope| / eigenvalue: well under 1e-2.
    np.testing.assert_allclose(exp.values, np.tile(COEF * std, (4, 1)), rtol=1e-2, atol=1e-2)
    assert (np.sign(exp.values[:, :4]) == np.sign(COEF[:4])).all()
    expected_rank = np.argsort(-np.abs(COEF * std))[:4]
    for row in exp.values:
        assert list(np.argsort(-np.abs(row))[:4]) == list(expected_rank)
    assert (exp.diagnostics["fidelity"] > 0.99).all()
    # The surrogate's prediction at the row is the model's prediction.
    np.testing.assert_allclose(exp.diagnostics["local_prediction"], exp.output, rtol=1e-3)


def test_logistic_regression_log_odds_signs_and_ranking(gaussian):
    from sklearn.linear_model import LogisticRegression

    eta = _linear(gaussian)
    y = (eta + np.random.default_rng(1).logistic(size=len(gaussian)) > np.median(eta)).astype(int)
    clf = LogisticRegression().fit(gaussian, y)
    model = pellucid.Model(clf, output="log_odds")
    exp = Lime(model, gaussian, discretize=None, max_features=5, random_state=1).explain(
        gaussian.iloc[:3]
    )
    slopes = clf.coef_[0] * gaussian.to_numpy().std(axis=0)
    np.testing.assert_allclose(exp.values, np.tile(slopes, (3, 1)), rtol=1e-2, atol=1e-3)
    assert (exp.diagnostics["fidelity"] > 0.99).all()


def test_same_seed_identical_bytes_and_chunking_does_not_matter(gaussian, monkeypatch):
    lime = Lime(_linear, gaussian, random_state=7, num_samples=500)
    a = lime.explain(gaussian.iloc[:5])
    b = lime.explain(gaussian.iloc[:5])
    assert a.values.tobytes() == b.values.tobytes()
    assert a.base_values.tobytes() == b.base_values.tobytes()
    c = lime.with_settings(random_state=8).explain(gaussian.iloc[:5])
    assert not np.array_equal(a.values, c.values)
    # One row per model call instead of all five in one: same bytes.
    monkeypatch.setattr(lime_module, "_ROWS_PER_CALL", 500)
    d = lime.explain(gaussian.iloc[:5])
    assert a.values.tobytes() == d.values.tobytes()


@pytest.mark.parametrize(
    "selection", ["none", "forward_selection", "highest_weights", "lasso_path", "auto"]
)
def test_surrogate_matches_lime_base_float64(selection):
    """Same samples, distances and kernel: our Gram-matrix surrogate equals lime's sklearn fits."""
    from lime.lime_base import LimeBase

    rng = np.random.default_rng(3)
    Z = (rng.random((800, 8)) < 0.6).astype(float)
    Z[0] = 1.0
    Y = np.column_stack([Z @ rng.normal(size=8) + 0.3 * rng.normal(size=800), rng.random(800)])
    dist = np.sqrt(((Z - Z[0]) ** 2).sum(axis=1))
    width = 0.75 * np.sqrt(8)
    base = LimeBase(lambda d: exp_kernel(d, width), random_state=0)
    ours = fit_surrogate(Z, Y, exp_kernel(dist, width), max_features=4, feature_selection=selection)
    for k in range(2):
        intercept, weights, score, local = base.explain_instance_with_data(
            Z, Y, dist, k, 4, feature_selection=selection
        )
        ref = np.zeros(8)
        for f, w in weights:
            ref[f] = w
        np.testing.assert_allclose(ours.coef[:, k], ref, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.intercept[k], intercept, rtol=1e-9)
        np.testing.assert_allclose(ours.score[k], score, rtol=1e-9)
        np.testing.assert_allclose(ours.local_prediction[k], local[0], rtol=1e-9)


def test_quartile_weights_agree_with_lime_package(gaussian):
    """Same discretisation and kernel: weights agree within lime's own seed-to-seed spread."""
    from lime.lime_tabular import LimeTabularExplainer

    X = gaussian.to_numpy()
    q = np.quantile(X, [0.25, 0.5, 0.75], axis=0)

    def model(A):
        A = np.asarray(A, dtype=float)
        # Steps at quartile edges (the value within a bin does not matter) plus a linear term.
        return 2.0 * (A[:, 0] > q[1, 0]) - 1.5 * (A[:, 1] <= q[0, 1]) + 0.3 * A[:, 2]

    rows = X[[3, 11]]
    ours = Lime(model, X, feature_selection="none", random_state=0).explain(rows).values
    ref_runs = []
    for seed in range(4):
        explainer = LimeTabularExplainer(
            X,
            mode="regression",
            discretizer="quartile",
            feature_selection="none",
            random_state=seed,
        )
        run = np.zeros((2, 5))
        for i, r in enumerate(rows):
            e = explainer.explain_instance(r, model, num_features=5, num_samples=5000)
            for f, w in e.local_exp[1]:
                run[i, f] = w
        ref_runs.append(run)
    ref = np.stack(ref_runs)
    spread = ref.std(axis=0, ddof=1)
    # Monte Carlo error only: 4 sd of lime's run-to-run spread, floor 0.02 for near-zero spread.
    tol = 4 * spread + 0.02
    assert (np.abs(ours - ref.mean(axis=0)) <= tol).all(), (ours, ref.mean(axis=0), tol)
    # The two step features dominate, with the model's signs.
    assert (np.sign(ours[:, 0]) == np.sign(ref.mean(axis=0)[:, 0])).all()


@pytest.fixture(scope="module")
def credit_pipeline():
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from pellucid.datasets import credit

    X, y = credit(n_rows=1500, random_state=0)
    X = X.astype({"employment": object, "housing": str})  # plain strings, not Categorical
    cats = ["employment", "housing", "sex"]
    nums = [c for c in X.columns if c not in cats]
    pre = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), cats),
        (make_pipeline(SimpleImputer(), StandardScaler()), nums),
    )
    return X, make_pipeline(pre, LogisticRegression(max_iter=500)).fit(X, y)


def test_raw_dataframe_with_strings_nan_and_pipeline(credit_pipeline):
    X, pipe = credit_pipeline
    seen = []

    def model(frame):
        seen.append(frame)
        return pipe.predict_proba(frame)

    lime = Lime(
        pellucid.Model(model, task="binary", classes=[0, 1]),
        X,
        max_features=4,
        num_samples=1000,
        random_state=0,
    )
    rows = X.iloc[[0, 1, 2]]
    assert rows["savings"].isna().any() or X["savings"].isna().any()
    exp = lime.explain(rows)
    assert exp.values.shape == (3, 10, 2)
    assert exp.output_names == ("0", "1")
    np.testing.assert_allclose(exp.values[..., 0], -exp.values[..., 1], atol=1e-10)
    assert ((exp.values[..., 1] != 0).sum(axis=1) == 4).all()
    assert ((exp.diagnostics["fidelity"] >= 0) & (exp.diagnostics["fidelity"] <= 1)).all()
    np.testing.assert_allclose(exp.output, pipe.predict_proba(rows))
    # Samples reach the model in raw space with the training dtypes, NaN included.
    frame = seen[-1]
    assert list(frame.columns) == list(X.columns)
    assert (frame.dtypes == X.dtypes).all()
    assert frame["savings"].isna().any()
    assert set(frame["employment"].dropna()) <= set(X["employment"])
    conditions = exp.diagnostics["conditions"]
    assert conditions.shape == (3, 10)
    assert conditions[0, 7] == f"employment = {X['employment'].iloc[0]!r}"


def test_stability_reports_agreement(gaussian):
    stab = Lime(_linear, gaussian, discretize=None).stability(
        gaussian.iloc[:3], seeds=3, top_k=3, num_samples=1000
    )
    assert stab.top_k_jaccard.shape == (3,)
    # A linear model: the top features never depend on the seed.
    np.testing.assert_allclose(stab.top_k_jaccard, 1.0)
    np.testing.assert_allclose(stab.rank_correlation, 1.0, atol=1e-12)
    assert stab.top_features.shape == (3, 3, 3)


def test_stability_of_a_noisy_model_is_below_one(credit_pipeline):
    X, pipe = credit_pipeline
    stab = Lime(pipe, X).stability(X.iloc[:2], seeds=3, top_k=5, num_samples=300)
    assert ((stab.top_k_jaccard > 0) & (stab.top_k_jaccard <= 1)).all()
    assert stab.mean_jaccard < 1.0


def test_bad_input_errors(gaussian):
    with pytest.raises(ValueError, match="discretize"):
        Lime(_linear, gaussian, discretize="octile")
    with pytest.raises(ValueError, match="feature_selection"):
        Lime(_linear, gaussian, feature_selection="best")
    lime = Lime(_linear, gaussian)
    with pytest.raises(DataError, match="f4"):
        lime.explain(gaussian.iloc[:2].rename(columns={"f4": "f9"}))
    with pytest.raises(ValueError, match="max_features"):
        Lime(_linear, gaussian, max_features=0)
    with pytest.raises(DataError, match="'f0' is not numeric"):
        Lime(_linear, gaussian.assign(f0=["a"] * len(gaussian)), categorical_features=[])


def test_registry_and_protocol(gaussian):
    cls = pellucid.get_method("lime")
    assert cls is Lime
    exp = cls(_linear, gaussian, random_state=0, num_samples=200).explain(gaussian.iloc[:2])
    assert exp.method == "lime" and exp.values.shape == (2, 5)
    again = pellucid.Explanation.from_json(exp.to_json())
    np.testing.assert_array_equal(again.values, exp.values)


# ------------------------------------------------------------ no worker processes for a few rows


def _wide_problem(d=20):
    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.normal(size=(400, d)), columns=[f"x{j}" for j in range(d)])
    coef = np.linspace(-1.0, 1.0, d)
    return X, (lambda A: np.asarray(A, dtype=float) @ coef)


def _same_bytes(a, b):
    for name in ("values", "base_values", "output"):
        assert np.asarray(getattr(a, name)).tobytes() == np.asarray(getattr(b, name)).tobytes()


@pytest.mark.parametrize("n_rows", [3, 40])
def test_a_few_rows_start_no_worker_processes(monkeypatch, n_rows):
    import time

    import pellucid.scale

    X, model = _wide_problem()
    lime = Lime(model, X, num_samples=500, random_state=0)
    one = lime.with_settings(n_jobs=1).explain(X.iloc[:n_rows])

    def no_fan_out(*args, **kwargs):
        raise AssertionError("explain fanned rows out to worker processes")

    monkeypatch.setattr(pellucid.scale, "explain_rows", no_fan_out)
    start = time.perf_counter()
    default = lime.explain(X.iloc[:n_rows])
    elapsed = time.perf_counter() - start
    _same_bytes(default, one)
    # Measured, not asserted tightly: a process pool would cost seconds here.
    print(f"LIME, {n_rows} rows, n_jobs default: {elapsed:.3f} s")
    assert lime_module.FAN_OUT_ROWS > n_rows


@pytest.mark.parametrize("kind", ["series", "array"])
def test_one_row_given_as_a_vector_is_one_row(kind):
    # 20 features: the vector's length once counted as 20 rows and fanned out (and failed).
    X, model = _wide_problem()
    data = X if kind == "series" else X.to_numpy()
    lime = Lime(model, data, num_samples=500, random_state=1)
    reference = lime.explain(data[7:8] if kind == "array" else X.iloc[[7]])
    vector = X.iloc[7] if kind == "series" else data[7]
    for n_jobs in (None, 1, 2):
        got = lime.with_settings(n_jobs=n_jobs).explain(vector)
        assert got.values.shape == (1, 20)
        _same_bytes(got, reference)
