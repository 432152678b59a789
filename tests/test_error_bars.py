"""Honest error bars: 95% intervals of every sampled Shapley method cover 0.9-0.99 of
the exact values at budgets from 64 up, or are NaN where they cannot be estimated.

Sizes: 12 rows x 16 seeds x 6 or 10 features give >= 1,000 checked values per case,
so a coverage of 0.75 (the old PermutationShap at 64) cannot land in [0.9, 0.99]
by chance (its binomial sd is ~0.014)."""

from __future__ import annotations

import numpy as np
import pytest

import pellucid


def _problem(p: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(2, p))

    def f(Z):  # smooth, an interaction and a kink
        Z = np.asarray(Z, dtype=float)
        return (
            np.tanh(Z @ W[0])
            + Z[:, 0] * Z[:, 1]
            + 2 * np.maximum(Z[:, 2] - 0.5, 0)
            + (0.3 * (Z**2) @ W[1])
        )

    X = rng.normal(size=(60, p))
    return f, X[:20], X[40:52]


def _coverage(cls, p, budget, seeds=16, **options):
    f, bg, rows = _problem(p)
    exact = pellucid.ExactShap(f, bg).explain(rows).values
    hits, se_all, err_all = [], [], []
    for seed in range(seeds):
        exp = cls(f, bg, **options, budget=budget, random_state=seed).explain(rows)
        err = np.abs(exp.values - exact)
        assert np.isfinite(exp.std_errors).all()
        hits.append(err <= 1.96 * exp.std_errors)
        se_all.append(exp.std_errors)
        err_all.append(err)
    hits = np.array(hits)
    assert hits.size >= 1000
    return hits.mean(), np.sqrt(np.mean(np.square(err_all))), np.sqrt(np.mean(np.square(se_all)))


@pytest.mark.parametrize("budget", [64, 256])
@pytest.mark.parametrize(
    ("name", "p"),
    [("permutation_shap", 6), ("kernel_shap", 10)],  # neither exact at these budgets
)
def test_intervals_cover_exact_values(name, p, budget):
    cls = pellucid.get_method(name)
    coverage, rms_error, rms_se = _coverage(cls, p, budget)
    assert 0.9 <= coverage <= 0.99, coverage
    assert rms_error > 1e-6  # sampled, not exact: the check means something
    # errors of the right size, not just wide enough: within a factor 2.5 of the error
    assert rms_se < 2.5 * rms_error


def test_too_few_permutations_give_no_interval():
    f, bg, rows = _problem(10)
    # 10 players at budget 64: 3 antithetic pairs per background row's game, too few
    exp = pellucid.PermutationShap(f, bg, budget=64, random_state=0).explain(rows)
    assert np.isnan(exp.std_errors).all() and np.isfinite(exp.values).all()
    exp = pellucid.PermutationShap(f, bg, budget=256, random_state=0).explain(rows)
    assert np.isfinite(exp.std_errors).all()
