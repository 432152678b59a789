"""The statistics of model comparison: DeLong, McNemar, Holm, Nadeau-Bengio, bootstrap.

Every function here is plain numpy/scipy on arrays, with no model in sight,
so each can be tested against its textbook formula or a reference library.

Resampling is vectorised: a bootstrap is a matrix of multiplicities
``counts`` of shape ``(n_boot, n_rows)`` (row ``b`` says how often each row
was drawn in resample ``b``), built in chunks, and every metric is computed
for all resamples of a chunk at once: linear metrics as matrix products,
ranking metrics (ROC AUC, average precision) by sorting the scores once and
summing the counts over tie groups.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "DeLongResult",
    "McNemarResult",
    "TTestResult",
    "bootstrap_counts",
    "corrected_ttest",
    "delong",
    "delong_test",
    "holm",
    "mcnemar",
    "midrank",
]

# Elements of one chunk of the counts matrix (float64: 32 MiB).
CHUNK_ELEMENTS = 4_000_000


# ---------------------------------------------------------------- tie groups


@dataclass(frozen=True)
class TieGroups:
    """Scores sorted ascending and cut into groups of equal value.

    ``order`` sorts the rows; ``starts`` are the first sorted position of each
    group (for ``np.add.reduceat``); ``values`` the score of each group.
    """

    order: np.ndarray
    starts: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray) -> TieGroups:
        order = np.argsort(scores, kind="stable")
        ordered = scores[order]
        new = np.empty(len(ordered), dtype=bool)
        new[:1] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        return cls(order, starts, ordered[starts])

    def sums(self, weights: np.ndarray) -> np.ndarray:
        """Per-group sums of ``weights`` (last axis = rows in the original order)."""
        return self.sums_sorted(np.take(weights, self.order, axis=-1))

    def sums_sorted(self, ordered: np.ndarray) -> np.ndarray:
        """Per-group sums of weights already in sorted order."""
        if len(self.starts) == len(self.order):  # no ties: every row is its own group
            return ordered
        return np.add.reduceat(ordered, self.starts, axis=-1)

    def spread(self, per_group: np.ndarray) -> np.ndarray:
        """A per-group quantity back on the rows, in the original order."""
        sizes = np.diff(np.append(self.starts, len(self.order)))
        out = np.empty(len(self.order), dtype=per_group.dtype)
        out[self.order] = np.repeat(per_group, sizes)
        return out


def midrank(x: Any) -> np.ndarray:
    """Ranks 1..n with ties given their average rank, in O(n log n)."""
    x = np.asarray(x, dtype=float)
    groups = TieGroups.of(x)
    ends = np.append(groups.starts[1:], len(x))
    return groups.spread((groups.starts + 1 + ends) / 2.0)


# ---------------------------------------------------------------- DeLong


@dataclass(frozen=True)
class DeLongResult:
    """Two correlated ROC AUCs, their difference ``auc_b - auc_a`` and its test."""

    auc_a: float
    auc_b: float
    difference: float
    variance: float
    z: float
    p_value: float
    lower: float
    upper: float


def _components(y: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong's structural components V10 (positives), V01 (negatives).

    V10_i is the share of negatives scored below positive i (ties count a
    half); V01_j the share of positives scored above negative j. One sort
    (Sun & Xu 2014): both are counts before and within each tie group.
    """
    groups = TieGroups.of(scores)
    pos = groups.sums(y.astype(float))
    neg = groups.sums(1.0 - y)
    n_pos, n_neg = pos.sum(), neg.sum()
    neg_below = np.cumsum(neg) - neg + neg / 2.0
    pos_above = n_pos - np.cumsum(pos) + pos / 2.0
    v10 = groups.spread(neg_below / n_neg)[y == 1]
    v01 = groups.spread(pos_above / n_pos)[y == 0]
    return float(v10.mean()), v10, v01


def delong(y: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUCs of several score vectors on the same rows and their covariance.

    ``y``: 0/1 labels ``(n,)``; ``scores``: ``(k, n)``. Returns ``aucs (k,)``
    and ``cov (k, k)`` = S10 / m + S01 / n (DeLong, DeLong & Clarke-Pearson
    1988), computed from midranks in O(k n log n) (Sun & Xu 2014).
    """
    y = _binary_labels(y)
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if s.shape[1] != len(y):
        raise ValueError(f"scores have {s.shape[1]} rows; y has {len(y)}.")
    parts = [_components(y, row) for row in s]
    aucs = np.array([p[0] for p in parts])
    v10 = np.vstack([p[1] for p in parts])
    v01 = np.vstack([p[2] for p in parts])
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1] + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return aucs, cov


def delong_test(y: Any, scores_a: Any, scores_b: Any, *, confidence: float = 0.95) -> DeLongResult:
    """DeLong's test of ``AUC_b - AUC_a = 0`` for two models scored on the same rows."""
    aucs, cov = delong(y, np.vstack([np.asarray(scores_a), np.asarray(scores_b)]))
    diff = float(aucs[1] - aucs[0])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    se = np.sqrt(max(var, 0.0))
    if se > 0:
        z = diff / se
        p = float(2.0 * stats.norm.sf(abs(z)))
    else:  # identical rankings: no difference and no spread
        z, p = 0.0, 1.0
    half = float(stats.norm.ppf(0.5 + confidence / 2.0) * se)
    return DeLongResult(
        float(aucs[0]), float(aucs[1]), diff, var, float(z), p, diff - half, diff + half
    )


# ---------------------------------------------------------------- McNemar


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test on paired correctness.

    ``only_a``: rows A gets right and B wrong; ``only_b``: the reverse.
    ``p_exact``: two-sided exact binomial p-value; ``p_mid``: its mid-p
    version (less conservative, close to nominal size; Fagerland, Lydersen &
    Laake 2013).
    """

    only_a: int
    only_b: int
    p_exact: float
    p_mid: float


def mcnemar(correct_a: Any, correct_b: Any) -> McNemarResult:
    """McNemar's exact and mid-p tests that A and B are equally often right."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"correct_a has shape {a.shape}, correct_b {b.shape}; they must match.")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return McNemarResult(only_a, only_b, 1.0, 1.0)
    lower_tail = 2.0 * float(stats.binom.cdf(k, n, 0.5))
    p_exact = min(1.0, lower_tail)
    # mid-p: the observed table counts a half (with only_a == only_b it is exactly 1)
    p_mid = lower_tail - float(stats.binom.pmf(k, n, 0.5))
    return McNemarResult(only_a, only_b, p_exact, min(1.0, p_mid))


# ---------------------------------------------------------------- Holm


def holm(p_values: Any) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control), NaN kept as NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    stepped = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(stepped))
    return out


# ---------------------------------------------------------------- Nadeau-Bengio


@dataclass(frozen=True)
class TTestResult:
    """The corrected resampled t-test of a mean difference over CV folds."""

    mean: float
    std_error: float
    t: float
    df: int
    p_value: float
    lower: float
    upper: float


def corrected_ttest(
    differences: Any, n_train: float, n_test: float, *, confidence: float = 0.95
) -> TTestResult:
    """Nadeau & Bengio's (2003) corrected resampled t-test.

    ``differences``: per-split score differences from repeated CV (``k * r``
    of them). Training sets overlap, so the splits are correlated; the
    variance of the mean is inflated from ``s^2 / J`` to
    ``(1 / J + n_test / n_train) s^2`` (Bouckaert & Frank 2004), with
    ``J - 1`` degrees of freedom.
    """
    d = np.asarray(differences, dtype=float).ravel()
    if d.size < 2:
        raise ValueError(f"The corrected t-test needs at least 2 differences; got {d.size}.")
    j = d.size
    mean = float(d.mean())
    var = float(d.var(ddof=1))
    se = float(np.sqrt((1.0 / j + n_test / n_train) * var))
    df = j - 1
    if se > 0:
        t = mean / se
        p = float(2.0 * stats.t.sf(abs(t), df))
    else:
        t, p = (0.0, 1.0) if mean == 0 else (float(np.sign(mean) * np.inf), 0.0)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df) * se)
    return TTestResult(mean, se, float(t), df, p, mean - half, mean + half)


# ---------------------------------------------------------------- bootstrap


def bootstrap_counts(
    strata: np.ndarray, n_boot: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Chunks of a stratified bootstrap's counts matrix, ``(chunk, n)`` float64.

    Each stratum (a label, or a label-group pair) keeps its size in every
    resample. The chunk size depends on ``n`` only, so a seed gives the same
    resamples whatever else runs.
    """
    n = len(strata)
    _, codes = np.unique(strata, return_inverse=True)
    members = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    chunk = max(1, min(n_boot, CHUNK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        drawn = np.hstack(
            [rows[rng.integers(0, len(rows), size=(b, len(rows)))] for rows in members]
        )
        flat = (np.arange(b)[:, None] * n + drawn).ravel()
        yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)
        done += b


def percentile_interval(draws: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval, ignoring resamples where the metric is undefined."""
    ok = draws[np.isfinite(draws)]
    if ok.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(ok, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_p_value(draws: np.ndarray) -> float:
    """Two-sided p-value of "difference = 0" from the bootstrap distribution of a difference."""
    ok = draws[np.isfinite(draws)]
    if ok.size == 0:
        return float("nan")
    below = (1 + np.sum(ok <= 0)) / (ok.size + 1)
    above = (1 + np.sum(ok >= 0)) / (ok.size + 1)
    return float(min(1.0, 2.0 * min(below, above)))


# ---------------------------------------------------------------- helpers


def _binary_labels(y: Any) -> np.ndarray:
    y = np.asarray(y)
    values = np.unique(y)
    if not np.isin(values, [0, 1]).all() or len(values) != 2:
        raise ValueError(
            f"y must hold both labels 0 and 1 and nothing else; got {values.tolist()}."
        )
    return y.astype(float)
