"""Compiled (numba) kernels of the Shapley estimators: KernelShap's distinct
draws and its paired, constrained kernel regression, and the hybrid rows every
estimator sends to the model. ``_kernels`` holds their numpy twins, which give the
same bytes, and chooses between them (this module is imported only when a problem
is large enough to repay numba's import and compilation).

For each game (one per background row, or one for the shared design) and its
``u`` coalition pairs (S, complement of S), with S's 0/1 mask z, weight w and
centred values v(S), v(~S):

    A = sum_u w (z z' + (1 - z)(1 - z)'),   b = sum_u w (z v(S) + (1 - z) v(~S))
    phi = argmin phi'A phi - 2 b'phi  subject to  sum(phi) = delta

with P = A^-1 - a a' / (1'a) (a = A^-1 1) the constrained inverse, and the
stratified sandwich (HC3) variance of phi: pair u's score is
w z'P (r(S) - r(~S)) (r the residual), inflated by 1 / (1 - 2 w z'P z).

The masks are 0/1, so each sum over a pair's players runs over S's members
only: for small coalitions that is a few players of p, where dense products
would do p for each. Compiled once and cached on disk; ``nogil`` so one
thread's solves and hybrid rows run while other threads call the model. No
``fastmath``: every sum is added in the order written, which the numpy twins
reproduce.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

__all__ = ["distinct_draws", "paired_regression", "select_bits"]

#: Above this 1-norm condition number of A the regression is treated as singular.
MAX_CONDITION = 1e12  # the same in _kernels


@njit(cache=True, nogil=True)
def _spd_inverse(A: np.ndarray, out: np.ndarray) -> bool:
    """Invert the symmetric positive semi-definite A into ``out`` by Cholesky; False
    (and ``out`` undefined) when A is singular or its condition exceeds MAX_CONDITION."""
    p = A.shape[0]
    L = np.zeros((p, p))
    for j in range(p):
        pivot = A[j, j]
        for m in range(j):
            pivot -= L[j, m] * L[j, m]
        if not pivot > 0.0:
            return False
        L[j, j] = np.sqrt(pivot)
        for i in range(j + 1, p):
            acc = A[i, j]
            for m in range(j):
                acc -= L[i, m] * L[j, m]
            L[i, j] = acc / L[j, j]
    # L^-1 (lower triangular), then A^-1 = L^-T L^-1.
    Li = np.zeros((p, p))
    for j in range(p):
        Li[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, p):
            acc = 0.0
            for m in range(j, i):
                acc -= L[i, m] * Li[m, j]
            Li[i, j] = acc / L[i, i]
    for i in range(p):
        for j in range(i, p):
            acc = 0.0
            for m in range(j, p):
                acc += Li[m, i] * Li[m, j]
            out[i, j] = acc
            out[j, i] = acc
    norm_A = 0.0
    norm_inv = 0.0
    for j in range(p):
        col_A = 0.0
        col_inv = 0.0
        for i in range(p):
            col_A += abs(A[i, j])
            col_inv += abs(out[i, j])
        norm_A = max(norm_A, col_A)
        norm_inv = max(norm_inv, col_inv)
    return norm_A * norm_inv < MAX_CONDITION


@njit(cache=True, nogil=True)
def paired_regression(
    first: np.ndarray,
    w: np.ndarray,
    y_in: np.ndarray,
    y_out: np.ndarray,
    delta: np.ndarray,
    unit_stratum: np.ndarray,
    stratum_factor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve every game's paired regression.

    ``first`` (c, u, p) bool: S of each pair, per game; ``w`` (u,) pair weights;
    ``y_in``/``y_out`` (c, u, k): v(S) and v(~S) minus v(empty); ``delta`` (c, k):
    v(full) - v(empty); ``unit_stratum`` (u,): each pair's sampled stratum (-1:
    enumerated, no variance); ``stratum_factor``: per stratum, fpc * n / (n - 1).

    Returns phi (c, p, k), the sandwich variance (c, p, k), ok (c,) and A (c, p, p),
    b (c, p, k). Where ok is False (A singular) phi and the variance are NaN.
    """
    c, u, p = first.shape
    k = y_in.shape[2]
    n_strata = stratum_factor.shape[0]
    phi = np.empty((c, p, k))
    var = np.empty((c, p, k))
    ok = np.zeros(c, dtype=np.bool_)
    A = np.zeros((c, p, p))
    b = np.zeros((c, p, k))
    members = np.empty((u, p + 1), dtype=np.int64)  # + 1: the branch-free fill's spare
    size = np.empty(u, dtype=np.int64)
    Ainv = np.empty((p, p))
    P = np.empty((p, p))
    G = np.empty((k, p, p))
    g_sum = np.empty((n_strata, k, p))
    counts = np.zeros(n_strata, dtype=np.int64)
    for t in range(u):
        if unit_stratum[t] >= 0:
            counts[unit_stratum[t]] += 1
    total_w = 0.0
    for t in range(u):
        total_w += w[t]
    for g in range(c):
        # S's members, and the sums of A and b over the pairs.
        M = np.zeros((p, p))
        s = np.zeros(p)
        out_sum = np.zeros(k)
        for t in range(u):
            n = 0
            for j in range(p):  # branch-free: the masks are random
                members[t, n] = j
                n += first[g, t, j]
            size[t] = n
            wt = w[t]
            for a in range(n):
                ja = members[t, a]
                s[ja] += wt
                for q in range(k):
                    b[g, ja, q] += wt * (y_in[g, t, q] - y_out[g, t, q])
                for e in range(a, n):
                    M[ja, members[t, e]] += wt
            for q in range(k):
                out_sum[q] += wt * y_out[g, t, q]
        # z z' + (1 - z)(1 - z)' = 2 z z' - z 1' - 1 z' + 1 1'
        for i in range(p):
            for j in range(i, p):
                A[g, i, j] = 2.0 * M[i, j] - s[i] - s[j] + total_w
                A[g, j, i] = A[g, i, j]
            for q in range(k):
                b[g, i, q] += out_sum[q]
        if not _spd_inverse(A[g], Ainv):
            for i in range(p):
                for q in range(k):
                    phi[g, i, q] = np.nan
                    var[g, i, q] = np.nan
            continue
        ok[g] = True
        a1 = np.zeros(p)  # A^-1 1
        for i in range(p):
            for j in range(p):
                a1[i] += Ainv[i, j]
        a1_total = 0.0
        for i in range(p):
            a1_total += a1[i]
        for i in range(p):
            for j in range(p):
                P[i, j] = Ainv[i, j] - a1[i] * a1[j] / a1_total
        Ab = np.zeros((p, k))
        for i in range(p):
            for j in range(p):
                for q in range(k):
                    Ab[i, q] += Ainv[i, j] * b[g, j, q]
        phi_total = np.zeros(k)
        for q in range(k):
            shift = -delta[g, q]
            for i in range(p):
                shift += Ab[i, q]
            shift /= a1_total
            for i in range(p):
                phi[g, i, q] = Ab[i, q] - a1[i] * shift
                phi_total[q] += phi[g, i, q]
        _sandwich(
            P,
            members,
            size,
            w,
            y_in[g],
            y_out[g],
            phi[g],
            phi_total,
            unit_stratum,
            stratum_factor,
            counts,
            G,
            g_sum,
            var[g],
        )
    return phi, var, ok, A, b


@njit(cache=True, nogil=True)
def _sandwich(
    P: np.ndarray,
    members: np.ndarray,
    size: np.ndarray,
    w: np.ndarray,
    y_in: np.ndarray,
    y_out: np.ndarray,
    phi: np.ndarray,
    phi_total: np.ndarray,
    unit_stratum: np.ndarray,
    stratum_factor: np.ndarray,
    counts: np.ndarray,
    G: np.ndarray,
    g_sum: np.ndarray,
    var: np.ndarray,
) -> None:
    """One game's stratified HC3 sandwich variance into ``var`` (p, k).

    Pair t's score is P z c (c: its residual, S's minus its complement's, times
    w / (1 - leverage)); per stratum h, the sum of squared deviations from the
    stratum's mean score is diag(P (sum c^2 z z') P) - (P sum c z)^2 / n_h. So a
    pair costs sums over S's members only (a few of p players), and P is applied
    once per game rather than once per pair. ``G`` (k, p, p) and ``g_sum``
    (strata, k, p) are scratch.
    """
    k, p = G.shape[0], G.shape[1]
    G[:] = 0.0
    g_sum[:] = 0.0
    for t in range(w.shape[0]):
        h = unit_stratum[t]
        if h < 0:
            continue
        n = size[t]
        quad = 0.0  # z'Pz
        for a in range(n):
            ja = members[t, a]
            quad += P[ja, ja]
            for e in range(a + 1, n):
                quad += 2.0 * P[ja, members[t, e]]
        lev = min(max(2.0 * w[t] * quad, 0.0), 0.9)
        for q in range(k):
            # residual of S minus residual of its complement
            r = y_in[t, q] - y_out[t, q] + phi_total[q]
            for a in range(n):
                r -= 2.0 * phi[members[t, a], q]
            r *= w[t] / (1.0 - lev)
            weighted = stratum_factor[h] * r * r
            for a in range(n):
                ja = members[t, a]
                g_sum[h, q, ja] += r
                for e in range(a, n):  # members ascend: the upper triangle
                    G[q, ja, members[t, e]] += weighted
    for q in range(k):
        for i in range(p):
            for j in range(i + 1, p):
                G[q, j, i] = G[q, i, j]
        for i in range(p):
            acc = 0.0
            for j in range(p):
                PG = 0.0
                for m in range(p):
                    PG += P[i, m] * G[q, m, j]
                acc += PG * P[j, i]
            for h in range(g_sum.shape[0]):
                if counts[h] > 0:
                    Pg = 0.0
                    for j in range(p):
                        Pg += P[i, j] * g_sum[h, q, j]
                    acc -= stratum_factor[h] * Pg * Pg / counts[h]
            var[i, q] = max(acc, 0.0)  # a sum of squares, up to rounding


@njit(cache=True, nogil=True)
def distinct_draws(uniform: np.ndarray, population: int) -> np.ndarray:
    """(count, n) distinct integers below ``population`` per row, from ``uniform``
    (count, n) numbers in [0, 1): Floyd's algorithm, so every n-subset is equally
    likely and each row costs n steps, however large the population."""
    count, n = uniform.shape
    out = np.empty((count, n), dtype=np.int64)
    seen = np.zeros(population, dtype=np.bool_)
    for g in range(count):
        for i in range(n):
            j = population - n + i
            t = min(int(uniform[g, i] * (j + 1)), j)  # uniform on 0..j
            if seen[t]:
                t = j  # j is new: only numbers below it were taken so far
            seen[t] = True
            out[g, i] = t
        for i in range(n):
            seen[out[g, i]] = False
    return out


@njit(cache=True, nogil=True)
def select_bits(
    masks: np.ndarray, rows: np.ndarray, background: np.ndarray, out: np.ndarray, ones: Any
) -> None:
    """out[i, b] = rows[i] where masks[i, b or 0] is on, else background[b], on the raw
    bits (unsigned integer views), so the copy is exact for any value, NaN included,
    and branch-free: the masks are random, and a branch per value mispredicts half
    the time (16x slower)."""
    m, B, p = out.shape
    shared = masks.shape[1] == 1
    for i in range(m):
        for b in range(B):
            g = 0 if shared else b
            for j in range(p):
                on = ones * masks[i, g, j]  # every bit on, or none
                out[i, b, j] = (rows[i, j] & on) | (background[b, j] & ~on)
