"""ALE and the H-statistic against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pellucid import DataError
from pellucid.effects import ale, h_statistic

COMPONENTS = {
    0: lambda x: x**2,
    1: lambda x: 3.0 * x,
    2: lambda x: np.sin(2.0 * x),
}


def additive(Z):
    Z = np.asarray(Z, dtype=float)
    return sum(g(Z[:, j]) for j, g in COMPONENTS.items())


def product(Z):
    Z = np.asarray(Z, dtype=float)
    return Z[:, 0] * Z[:, 1]


@pytest.fixture(scope="module")
def uniform():
    return np.random.default_rng(0).uniform(-1, 1, size=(4000, 3))


@pytest.mark.parametrize("j", [0, 1, 2])
def test_ale_recovers_additive_components(uniform, j):
    X = uniform
    res = ale(additive, X, j, bins=20)
    z = res.grid_values[0]
    g = COMPONENTS[j](z)
    # Exact for an additive model: each bin's local effect is g(z_k) - g(z_{k-1});
    # the centring constant is the count-weighted mean of bin mid-values.
    k = np.clip(np.searchsorted(z, X[:, j], side="left"), 1, len(z) - 1)
    centre = np.mean((g[k - 1] + g[k]) / 2)
    np.testing.assert_allclose(res.average[0], g - centre, rtol=0, atol=1e-12)
    # And against the population form g(z) - E[g(X_j)] for X_j ~ U(-1, 1):
    # E[x^2] = 1/3, E[3x] = 0, E[sin 2x] = 0, up to sampling error (~0.01 here).
    population = {0: 1 / 3, 1: 0.0, 2: 0.0}[j]
    np.testing.assert_allclose(res.average[0], g - population, atol=0.03)
    assert res.kind == "ale" and res.features == (f"x{j}",)


def test_categorical_ale_is_exact_for_additive_model():
    rng = np.random.default_rng(1)
    n = 3000
    effect = {"low": -1.0, "mid": 0.5, "high": 2.0, "top": 2.5}
    city = rng.choice(list(effect), n)
    X = pd.DataFrame(
        {
            "level": pd.Categorical(city),
            # A feature whose distribution differs by level, so the ordering is informative.
            "income": pd.Series(city).map({"low": 0, "mid": 1, "high": 2, "top": 3}).to_numpy()
            + rng.normal(0, 0.3, n),
        }
    )

    def model(frame):
        assert isinstance(frame["level"].dtype, pd.CategoricalDtype)
        return frame["level"].astype(str).map(effect).to_numpy() + 0.1 * frame["income"].to_numpy()

    res = ale(model, X, "level")
    levels = list(res.grid_values[0])
    assert levels in (["low", "mid", "high", "top"], ["top", "high", "mid", "low"])
    g = np.array([effect[v] for v in levels])
    counts = np.array([(city == v).sum() for v in levels])
    np.testing.assert_allclose(res.average[0], g - (counts * g).sum() / n, rtol=0, atol=1e-12)
    assert res.categorical == (True,)


def test_second_order_ale(uniform):
    X = uniform
    flat = ale(additive, X, [0, 1], bins=8)
    assert flat.average.shape == (1, 9, 9)
    np.testing.assert_allclose(flat.average, 0.0, atol=1e-12)
    # x0 * x1 with independent centred features: main effects are ~0, so the
    # pure interaction is ~ z0 * z1 (sampling error of the bin means ~0.05).
    res = ale(product, X, ["x0", "x1"], bins=8)
    z0, z1 = res.grid_values
    np.testing.assert_allclose(res.average[0], np.outer(z0, z1), atol=0.1)
    assert np.abs(res.average[0]).max() > 0.8


def test_ale_dataframe_with_missing_values_and_jobs(uniform):
    frame = pd.DataFrame(uniform[:500], columns=["a", "b", "c"])
    frame.loc[::7, "a"] = np.nan

    def model(Z):
        return Z["a"].fillna(0).to_numpy() * 2 + Z["b"].to_numpy()

    res = ale(model, frame, "a", bins=5)
    np.testing.assert_allclose(np.diff(res.average[0]), 2 * np.diff(res.grid_values[0]), atol=1e-12)
    par = ale(model, frame, "a", bins=5, n_jobs=2, batch_rows=400)
    np.testing.assert_array_equal(par.average, res.average)
    with pytest.raises(ValueError, match="numeric"):
        ale(model, frame.assign(c=list("xy") * 250), ["a", "c"])
    with pytest.raises(DataError, match="constant"):
        ale(model, frame.assign(c=1.0), "c")


def test_h_is_zero_for_additive_model(uniform):
    X = uniform[:200]
    assert h_statistic(additive, X, [0, 1]).value < 1e-20
    assert h_statistic(additive, X, 2).value < 1e-20


def test_h_for_product_matches_closed_form(uniform):
    X = uniform[:150]
    x0, x1 = X[:, 0], X[:, 1]
    m0, m1 = x0.mean(), x1.mean()
    # On the sample: PD_01 = x0 x1, PD_0 = x0 m1, PD_1 = m0 x1 (all centred);
    # f itself equals PD_01 and PD_-0 = m0 x1, so H_0^2 is the same ratio.
    f = x0 * x1 - np.mean(x0 * x1)
    rest = f - (x0 - m0) * m1 - (x1 - m1) * m0
    expected = (rest**2).sum() / (f**2).sum()
    assert h_statistic(product, X, [0, 1]).value == pytest.approx(expected, rel=1e-10)
    assert h_statistic(product, X, "x0").value == pytest.approx(expected, rel=1e-10)
    assert expected > 0.9
    assert h_statistic(product, X, 2).value == pytest.approx(0.0, abs=1e-20)


def test_h_subsamples_reproducibly_and_reports_per_output(uniform):
    X = uniform

    def two_outputs(Z):
        return np.column_stack([product(Z), additive(Z)])

    import pellucid

    model = pellucid.Model(two_outputs)
    h = h_statistic(model, X, [0, 1], max_rows=80, random_state=3).values
    assert h.shape == (2,)
    assert h[0] > 0.9 and h[1] < 1e-20
    again = h_statistic(model, X, [0, 1], max_rows=80, random_state=3).values
    np.testing.assert_array_equal(h, again)
    assert h_statistic(lambda Z: np.ones(len(Z)), X[:50], [0, 1]).value == 0.0
