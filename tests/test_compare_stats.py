"""The statistics of pellucid.comparison against textbook formulas and reference libraries."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from pellucid.comparison import (
    brier_decomposition,
    corrected_ttest,
    delong,
    delong_test,
    holm,
    mcnemar,
)
from pellucid.comparison._metrics import BINARY_METRICS, BinaryScores
from pellucid.comparison._stats import bootstrap_counts, midrank, percentile_interval

# ---------------------------------------------------------------- DeLong


def textbook_delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """DeLong et al. (1988) with structural components by the O(n^2) kernel, written out.

    psi(x, y) = 1 if x > y, 1/2 if equal, 0 otherwise; V10_i = mean_j psi(X_i, Y_j),
    V01_j = mean_i psi(X_i, Y_j); S = S10 / m + S01 / n; var(b - a) = S_aa + S_bb - 2 S_ab.
    """
    pos, neg = y == 1, y == 0
    m, n = pos.sum(), neg.sum()
    v10, v01, auc = [], [], []
    for s in (a, b):
        x, z = s[pos], s[neg]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
        auc.append(psi.mean())
    s10 = np.cov(np.vstack(v10))  # ddof=1, as in the paper
    s01 = np.cov(np.vstack(v01))
    cov = s10 / m + s01 / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    z = (auc[1] - auc[0]) / np.sqrt(var)
    return auc[1] - auc[0], var, 2 * stats.norm.sf(abs(z))


def _two_models(n: int, seed: int, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    shared = rng.normal(size=n)
    a = 0.9 * y + shared + rng.normal(size=n)
    b = 1.2 * y + shared + rng.normal(size=n)
    if ties:  # coarse scores: many tied values within and across classes
        a, b = np.round(a), np.round(b * 2) / 2
    return y, a, b


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_equals_textbook_structural_components(seed, ties):
    y, a, b = _two_models(700, seed, ties)
    diff, var, p = textbook_delong(y, a, b)
    got = delong_test(y, a, b)
    np.testing.assert_allclose(got.difference, diff, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.variance, var, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(got.p_value, p, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(
        [got.auc_a, got.auc_b], [skm.roc_auc_score(y, a), skm.roc_auc_score(y, b)], atol=1e-12
    )


def test_delong_single_model_variance_and_identical_models():
    y, a, _ = _two_models(300, 5, ties=True)
    aucs, cov = delong(y, a)
    assert cov.shape == (1, 1)
    np.testing.assert_allclose(aucs[0], skm.roc_auc_score(y, a), atol=1e-12)
    same = delong_test(y, a, a)
    assert same.difference == 0 and same.p_value == 1.0


def test_delong_rejects_non_binary_labels():
    with pytest.raises(ValueError, match="both labels 0 and 1"):
        delong(np.array([0, 1, 2]), np.array([0.1, 0.2, 0.3]))


def test_midrank_equals_scipy_average_ranks():
    x = np.random.default_rng(0).integers(0, 20, size=500).astype(float)
    np.testing.assert_array_equal(midrank(x), stats.rankdata(x, method="average"))


# ---------------------------------------------------------------- McNemar


@pytest.mark.parametrize("seed", range(6))
def test_mcnemar_exact_equals_statsmodels(seed):
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    a = rng.random(n) < 0.8
    b = np.where(rng.random(n) < 0.3, rng.random(n) < 0.75, a)
    got = mcnemar(a, b)
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    ref = sm_mcnemar(table, exact=True)
    np.testing.assert_allclose(got.p_exact, ref.pvalue, rtol=1e-12)
    # mid-p: the exact p less the probability of the observed table (Fagerland et al. 2013)
    k, m = min(got.only_a, got.only_b), got.only_a + got.only_b
    np.testing.assert_allclose(
        got.p_mid,
        min(1.0, ref.pvalue - stats.binom.pmf(k, m, 0.5)) if got.only_a != got.only_b else 1.0,
        rtol=1e-12,
    )
    assert got.p_mid <= got.p_exact


def test_mcnemar_no_discordant_pairs_and_shape_check():
    same = np.array([True, False, True])
    assert mcnemar(same, same).p_exact == 1.0
    with pytest.raises(ValueError, match="must match"):
        mcnemar(same, same[:2])


# ---------------------------------------------------------------- Holm


@pytest.mark.parametrize("seed", range(4))
def test_holm_equals_statsmodels_multipletests(seed):
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(seed).random(12) ** 3
    p[3] = p[7]  # a tie
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=1e-12)


def test_holm_keeps_nan_out_of_the_family():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, np.nan, 0.04, 0.03])
    got = holm(p)
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2, 3]], multipletests(p[[0, 2, 3]], method="holm")[1])


# ---------------------------------------------------------------- Nadeau-Bengio


def test_corrected_ttest_matches_its_formula():
    d = np.random.default_rng(0).normal(0.01, 0.02, size=50)
    n_train, n_test = 800.0, 200.0
    got = corrected_ttest(d, n_train, n_test)
    se = np.sqrt((1 / 50 + n_test / n_train) * np.var(d, ddof=1))
    t = d.mean() / se
    np.testing.assert_allclose(got.t, t, rtol=1e-12)
    np.testing.assert_allclose(got.p_value, 2 * stats.t.sf(abs(t), 49), rtol=1e-12)
    half = stats.t.ppf(0.975, 49) * se
    np.testing.assert_allclose(
        [got.lower, got.upper], [d.mean() - half, d.mean() + half], rtol=1e-12
    )
    assert got.df == 49
    # the correction widens the naive paired t-test
    naive = stats.ttest_1samp(d, 0.0)
    assert got.p_value > naive.pvalue


# ---------------------------------------------------------------- resampled metrics


def test_resampled_metrics_equal_sklearn_with_counts_as_weights():
    rng = np.random.default_rng(3)
    n = 400
    y = (rng.random(n) < 0.3).astype(float)
    p = np.round(rng.random(n), 2)  # ties
    scores = BinaryScores(y, np.c_[1 - p, p], (p >= 0.4).astype(float))
    counts = rng.integers(0, 3, size=(5, n)).astype(float)
    got = scores.metrics(counts, BINARY_METRICS)
    yhat = scores.predicted
    for b, w in enumerate(counts):
        ref = {
            "accuracy": skm.accuracy_score(y, yhat, sample_weight=w),
            "balanced_accuracy": skm.balanced_accuracy_score(y, yhat, sample_weight=w),
            "precision": skm.precision_score(y, yhat, sample_weight=w),
            "recall": skm.recall_score(y, yhat, sample_weight=w),
            "f1": skm.f1_score(y, yhat, sample_weight=w),
            "roc_auc": skm.roc_auc_score(y, p, sample_weight=w),
            "pr_auc": skm.average_precision_score(y, p, sample_weight=w),
            "brier": skm.brier_score_loss(y, p, sample_weight=w),
            "log_loss": skm.log_loss(y, np.c_[1 - p, p], sample_weight=w),
        }
        for name, value in ref.items():
            np.testing.assert_allclose(got[name][b], value, rtol=1e-12, atol=1e-14, err_msg=name)


def test_bootstrap_counts_keep_strata_sizes_and_repeat_with_a_seed():
    strata = np.repeat([0, 1, 2], [50, 30, 20])
    draw = lambda: np.vstack(list(bootstrap_counts(strata, 300, np.random.default_rng(7))))  # noqa: E731
    counts = draw()
    assert counts.shape == (300, 100)
    for s, size in ((0, 50), (1, 30), (2, 20)):
        np.testing.assert_array_equal(counts[:, strata == s].sum(axis=1), size)
    np.testing.assert_array_equal(counts, draw())


def _coverage(metric: str, true_diff: float, reps: int, n: int, n_boot: int) -> float:
    """Share of paired percentile intervals (the code path of compare) covering the true difference."""
    rng = np.random.default_rng(2024)
    mu_a, mu_b = 1.0, 1.4
    covered = 0
    for _ in range(reps):
        y = np.repeat([0.0, 1.0], n // 2)
        e_a, other = rng.standard_normal((2, n))
        e_b = 0.5 * e_a + np.sqrt(0.75) * other  # correlation 0.5: the models share errors
        models = []
        for mu, e in ((mu_a, e_a), (mu_b, e_b)):
            p = 1 / (1 + np.exp(-(mu * y + e - mu / 2)))
            models.append(BinaryScores(y, np.c_[1 - p, p], (p >= 0.5).astype(float)))
        diffs = [
            models[1].metrics(c, (metric,))[metric] - models[0].metrics(c, (metric,))[metric]
            for c in bootstrap_counts(y, n_boot, rng)
        ]
        lo, hi = percentile_interval(np.concatenate(diffs))
        covered += lo <= true_diff <= hi
    return covered / reps


def test_paired_bootstrap_intervals_cover_the_true_difference():
    # Binormal scores: positives N(mu, 1), negatives N(0, 1), so AUC = Phi(mu / sqrt 2), and
    # predicting positive above mu / 2 gives accuracy Phi(mu / 2) (both classes alike).
    mu_a, mu_b = 1.0, 1.4
    true_auc = stats.norm.cdf(mu_b / np.sqrt(2)) - stats.norm.cdf(mu_a / np.sqrt(2))
    true_acc = stats.norm.cdf(mu_b / 2) - stats.norm.cdf(mu_a / 2)
    auc_cover = _coverage("roc_auc", true_auc, reps=400, n=400, n_boot=300)
    acc_cover = _coverage("accuracy", true_acc, reps=400, n=400, n_boot=300)
    assert 0.93 <= auc_cover <= 0.97, auc_cover
    assert 0.93 <= acc_cover <= 0.97, acc_cover


# ---------------------------------------------------------------- calibration


def test_brier_decomposition_is_exact_for_forecasts_constant_within_bins():
    rng = np.random.default_rng(1)
    p = rng.choice([0.05, 0.25, 0.55, 0.85], size=2000)
    y = (rng.random(2000) < np.clip(p + 0.1, 0, 1)).astype(float)
    _, parts = brier_decomposition(y, p, n_bins=10)
    np.testing.assert_allclose(parts["brier"], skm.brier_score_loss(y, p), rtol=1e-12)
    np.testing.assert_allclose(parts["residual"], 0.0, atol=1e-12)
    np.testing.assert_allclose(
        parts["reliability"] - parts["resolution"] + parts["uncertainty"],
        parts["brier"],
        rtol=1e-12,
    )
    np.testing.assert_allclose(parts["uncertainty"], y.mean() * (1 - y.mean()), rtol=1e-12)
