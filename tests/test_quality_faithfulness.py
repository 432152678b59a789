"""Faithfulness metrics on cases with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from pellucid import DataError, Explanation, Model
from pellucid.quality import (
    deletion,
    faithfulness_correlation,
    infidelity,
    insertion,
    linear_problem,
)
from pellucid.quality._common import Composer
from quality_helpers import BruteShap, random_explanation


@pytest.fixture(scope="module")
def linear():
    """A fitted linear regression, its rows, background and exact SHAP w (x - mean_b)."""
    p = linear_problem(n_features=6, n_rows=15, n_background=40, random_state=3)
    train = pd.concat([p.X, p.background], ignore_index=True)
    model = LinearRegression().fit(train, p.model(train))
    phi = model.coef_ * (p.X.to_numpy() - p.background.to_numpy().mean(axis=0))
    out = model.predict(p.X)
    exp = Explanation(
        values=phi, base_values=out - phi.sum(1), output=out, feature_names=list(p.X.columns)
    )
    return model, p.X, p.background, exp


def test_deletion_and_insertion_curves_match_closed_form(linear):
    model, X, bg, exp = linear
    d = X.shape[1]
    dele = deletion(model, X, exp, background=bg, n_random=0)
    ins = insertion(model, X, exp, background=bg, n_random=0)
    sorted_phi = -np.sort(-exp.values, axis=1)
    start = model.predict(X)
    end = model.predict(bg).mean()
    # Additive model: removing the top-k features lowers f(x) by exactly their attributions.
    expected_del = start[:, None] - np.concatenate(
        [np.zeros((len(X), 1)), np.cumsum(sorted_phi, 1)], 1
    )
    expected_ins = end + np.concatenate([np.zeros((len(X), 1)), np.cumsum(sorted_phi, 1)], 1)
    np.testing.assert_allclose(dele.curves, expected_del, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ins.curves, expected_ins, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dele.fractions, np.arange(d + 1) / d)
    assert dele.random_area is None and np.isnan(dele.improvement)


def test_perfect_explanation_beats_random_ordering(linear):
    model, X, bg, exp = linear
    rand = random_explanation(len(X), X.shape[1], names=list(X.columns))
    good_del = deletion(model, X, exp, background=bg, random_state=0)
    bad_del = deletion(model, X, rand, background=bg, random_state=0)
    good_ins = insertion(model, X, exp, background=bg, random_state=0)
    bad_ins = insertion(model, X, rand, background=bg, random_state=0)
    # For an additive model the attribution order is optimal at every step, row by row.
    assert np.all(good_del.curves <= bad_del.curves + 1e-9)
    assert np.all(good_ins.curves >= bad_ins.curves - 1e-9)
    assert np.all(good_del.area <= good_del.random_area + 1e-9)
    assert good_del.mean < bad_del.mean and good_ins.mean > bad_ins.mean
    assert good_del.improvement > 0.2 and good_ins.improvement > 0.2
    assert abs(bad_del.improvement) < good_del.improvement / 2


def test_faithfulness_correlation_and_infidelity_of_exact_shap(linear):
    model, X, bg, exp = linear
    corr = faithfulness_correlation(model, X, exp, background=bg, n_subsets=30)
    np.testing.assert_allclose(corr.per_row, 1.0, atol=1e-9)
    infid = infidelity(model, X, exp, background=bg, n_perturbations=30)
    scale = np.mean(exp.values**2)
    assert np.all(infid.per_row <= 1e-20 * scale * X.shape[1] ** 2 + 1e-24)
    rand = random_explanation(len(X), X.shape[1], names=list(X.columns))
    assert faithfulness_correlation(model, X, rand, background=bg).mean < 0.5
    assert infidelity(model, X, rand, background=bg).mean > 0.1 * scale


def test_infidelity_normalize_ignores_scale(linear):
    model, X, bg, exp = linear
    doubled = Explanation(values=2 * exp.values, feature_names=exp.feature_names)
    raw = infidelity(model, X, doubled, background=bg, n_perturbations=20)
    norm = infidelity(model, X, doubled, background=bg, n_perturbations=20, normalize=True)
    assert raw.mean > 1e-3
    np.testing.assert_allclose(norm.per_row, 0.0, atol=1e-18)


def test_same_seed_same_bytes(linear):
    model, X, bg, exp = linear
    a = deletion(model, X, exp, random_state=7)
    b = deletion(model, X, exp, random_state=7)
    assert a.random_area.tobytes() == b.random_area.tobytes()
    c = faithfulness_correlation(model, X, exp, random_state=7)
    d = faithfulness_correlation(model, X, exp, random_state=7)
    assert c.per_row.tobytes() == d.per_row.tobytes()


def test_classifier_output_selection_and_margin_detection():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    y = (X["a"] - 2 * X["b"] + rng.normal(size=300) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    rows, bg = X.iloc[:10].reset_index(drop=True), X.iloc[100:140].reset_index(drop=True)
    # Exact SHAP of the log-odds is linear, so the correlation is 1 on that output.
    margin = Model(clf, output="log_odds")
    exp = BruteShap(margin, bg).explain(rows)
    corr = faithfulness_correlation(clf, rows, exp, background=bg)  # raw clf: margin detected
    np.testing.assert_allclose(corr.per_row, 1.0, atol=1e-9)
    # Probability explanation (n, d, 2): class 1 by default, class "0" by name.
    proba = Model(clf)
    phi1 = BruteShap(proba, bg, output=1).explain(rows).values
    phi0 = BruteShap(proba, bg, output=0).explain(rows).values
    exp2 = Explanation(
        values=np.stack([phi0, phi1], axis=2), feature_names=list("abcd"), output_names=("0", "1")
    )
    d1 = deletion(clf, rows, exp2, background=bg, n_random=0)
    d0 = deletion(clf, rows, exp2, background=bg, n_random=0, output="0")
    np.testing.assert_allclose(d1.curves[:, 0], proba.predict(rows)[:, 1])
    np.testing.assert_allclose(d0.curves[:, 0], proba.predict(rows)[:, 0])
    np.testing.assert_allclose(d1.curves[:, 0] + d0.curves[:, 0], 1.0)


def test_explanation_of_other_output_is_refused(linear):
    model, X, bg, exp = linear
    wrong = Explanation(values=exp.values, output=exp.output + 1.0, feature_names=exp.feature_names)
    with pytest.raises(ValueError, match="recorded model output differs"):
        deletion(model, X, wrong, background=bg)


def test_bad_inputs_named(linear):
    model, X, bg, exp = linear
    with pytest.raises(DataError, match="rows"):
        deletion(model, X.iloc[:5], exp)
    with pytest.raises(DataError, match="columns"):
        deletion(model, X, exp, background=bg[bg.columns[::-1]])
    with pytest.raises(ValueError, match="subset_size"):
        faithfulness_correlation(model, X, exp, subset_size=99)


def test_composer_keeps_dtypes(credit_small):
    X = credit_small.X.iloc[:4].reset_index(drop=True)
    bg = credit_small.X.iloc[100:110].reset_index(drop=True)
    comp = Composer(X, bg)
    keep = np.array([[True, False] * 5, [False, True] * 5])
    out = comp(np.array([0, 3]), np.array([1, 9]), keep)
    assert list(out.dtypes) == list(X.dtypes)
    for j, col in enumerate(X.columns):
        want0 = X[col].iloc[0] if keep[0, j] else bg[col].iloc[1]
        got0 = out[col].iloc[0]
        assert (pd.isna(want0) and pd.isna(got0)) or want0 == got0


def test_credit_metrics_run_on_mixed_types(credit_small):
    from pellucid.datasets import credit_logit

    X = credit_small.X.iloc[:5].reset_index(drop=True)
    bg = credit_small.X.iloc[200:230].reset_index(drop=True)
    from pellucid.quality import credit_problem

    p = credit_problem(n_rows=5, n_background=30, random_state=1)
    exp = Explanation(values=p.truth, feature_names=list(p.X.columns))
    corr = faithfulness_correlation(credit_logit, p.X, exp, background=p.background)
    # Additive but for one small interaction: close to, not exactly, 1.
    assert corr.mean > 0.95
    dele = deletion(
        credit_logit, X, random_explanation(5, 10, names=list(X.columns)), background=bg
    )
    assert np.isfinite(dele.area).all()
