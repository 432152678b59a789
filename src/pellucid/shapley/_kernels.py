"""Kernels of the Shapley estimators: KernelShap's coalition sampler and its paired,
constrained kernel regression, and the hybrid rows every estimator sends to the model.

The regression, the distinct draws and the hybrid rows have two forms that give the
same bytes: numpy here and compiled in ``_kernels_numba`` (the regression's algebra
is written out there). Importing numba and compiling the regression costs seconds
in a fresh process (3.5 s of CPU with an empty cache, 0.5 s with a filled one),
more than a small explanation takes in all, so a call runs in numpy unless it is
large or this process has already spent enough time in numpy to repay the
compilation (``_Tiering``). Which form runs never changes a number: the numpy forms
add every sum term by term in the compiled loops' order, from +0.0 (where the loop
skips a non-member, numpy adds +0.0, which leaves a sum begun at +0.0 unchanged),
and numba compiles without ``fastmath``; the tests hold the two equal byte for byte.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

__all__ = ["distinct_draws", "hybrid_rows", "pair_masks", "paired_regression", "table_rows"]

#: Above this 1-norm condition number of A the regression is treated as singular.
MAX_CONDITION = 1e12  # the same in _kernels_numba


class _Tiering:
    """Chooses numpy or the compiled form per call, from the call's estimated numpy
    time and the numpy time this process has spent so far (estimates fitted on a
    2-core VM: the loop over pairs costs microseconds a step, an array element
    nanoseconds)."""

    #: A call estimated to take longer than this in numpy compiles.
    CALL_LIMIT_S = 0.05
    #: Numpy time after which compiling is repaid (it costs 0.5-4 s once).
    PROCESS_LIMIT_S = 2.0

    def __init__(self) -> None:
        self.spent_s = 0.0
        self.lock = threading.Lock()

    def compiled(self, numpy_s: float) -> bool:
        """True when the compiled form should run a call estimated at ``numpy_s``."""
        with self.lock:
            if numpy_s > self.CALL_LIMIT_S or self.spent_s > self.PROCESS_LIMIT_S:
                return True
            self.spent_s += numpy_s
            return False


TIERING = _Tiering()


def _sequential_sum(terms: np.ndarray, axis: int) -> np.ndarray:
    """The sum along ``axis`` added one term at a time in index order from +0.0, as a
    compiled ``acc = 0.0; for ...: acc += term`` loop adds it (numpy's ``sum`` adds
    pairwise, which rounds differently)."""
    terms = np.moveaxis(terms, axis, 0)
    acc = np.zeros(terms.shape[1:])
    for term in terms:
        acc += term
    return acc


# ---------------------------------------------------------------- the regression


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
    if TIERING.compiled(15e-6 * u + 3e-6 * p * p + 8e-9 * c * u * p * p * k):
        from . import _kernels_numba

        return _kernels_numba.paired_regression(
            first, w, y_in, y_out, delta, unit_stratum, stratum_factor
        )
    with np.errstate(all="ignore"):  # singular games compute garbage, then NaN
        A, b = _normal_equations(first, w, y_in, y_out)
        Ainv, ok = _spd_inverse(A)
        phi, phi_total, P = _constrained_solution(Ainv, b, delta)
        var = _sandwich(P, first, w, y_in, y_out, phi, phi_total, unit_stratum, stratum_factor)
    phi[~ok] = np.nan
    var[~ok] = np.nan
    return phi, var, ok, A, b


def _normal_equations(
    first: np.ndarray, w: np.ndarray, y_in: np.ndarray, y_out: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A (c, p, p) and b (c, p, k), summed over the pairs in order (each pair adds to
    its members' entries only, as the loop does)."""
    c, u, p = first.shape
    k = y_in.shape[2]
    by_pair = first.transpose(1, 0, 2)  # (u, c, p)
    both = by_pair[:, :, :, None] & by_pair[:, :, None, :]  # (u, c, p, p): both in S
    wd = (w[None, :, None] * (y_in - y_out)).transpose(1, 0, 2)  # (u, c, k)
    wy_out = (w[None, :, None] * y_out).transpose(1, 0, 2)
    M, s, b = np.zeros((c, p, p)), np.zeros((c, p)), np.zeros((c, p, k))
    out_sum, total_w = np.zeros((c, k)), 0.0
    for t in range(u):  # a non-member adds +0.0 (w is finite), which changes no sum
        s += w[t] * by_pair[t]
        b += np.where(by_pair[t][:, :, None], wd[t][:, None, :], 0.0)
        M += w[t] * both[t]
        out_sum += wy_out[t]
        total_w += w[t]
    # z z' + (1 - z)(1 - z)' = 2 z z' - z 1' - 1 z' + 1 1', written on the upper
    # triangle (i <= j) and mirrored, as the loop writes it.
    full = 2.0 * M - s[:, :, None] - s[:, None, :] + total_w
    upper = np.triu(np.ones((p, p), dtype=bool))
    A = np.where(upper, full, full.transpose(0, 2, 1))
    return A, b + out_sum[:, None, :]


def _spd_inverse(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A^-1 (c, p, p) by Cholesky and ok (c,): False where A is singular or its
    condition exceeds MAX_CONDITION (the inverse is then garbage)."""
    c, p, _ = A.shape
    ok = np.ones(c, dtype=bool)
    L = np.zeros_like(A)
    for j in range(p):
        pivot = A[:, j, j].copy()
        acc = A[:, j + 1 :, j].copy()
        for m in range(j):
            pivot -= L[:, j, m] * L[:, j, m]
            acc -= L[:, j + 1 :, m] * L[:, j, m][:, None]
        ok &= pivot > 0.0
        L[:, j, j] = np.sqrt(np.where(ok, pivot, 1.0))
        L[:, j + 1 :, j] = acc / L[:, j, j][:, None]
    # L^-1 (lower triangular) a row at a time, then A^-1 = L^-T L^-1.
    Li = np.zeros_like(A)
    diagonal = np.arange(p)
    Li[:, diagonal, diagonal] = 1.0 / L[:, diagonal, diagonal]
    for i in range(1, p):
        acc = np.zeros((c, i))  # entries j < i of row i
        for m in range(i):
            acc[:, : m + 1] -= L[:, i, m][:, None] * Li[:, m, : m + 1]
        Li[:, i, :i] = acc / L[:, i, i][:, None]
    inverse = np.zeros_like(A)
    for m in range(p):  # entry (i, j) adds m >= max(i, j), in order
        row = Li[:, m, : m + 1]
        inverse[:, : m + 1, : m + 1] += row[:, :, None] * row[:, None, :]
    norm_A = _max_column_sum(A)
    norm_inv = _max_column_sum(inverse)
    ok &= norm_A * norm_inv < MAX_CONDITION
    return inverse, ok


def _max_column_sum(A: np.ndarray) -> np.ndarray:
    """The 1-norm of each matrix, summed and compared as the loop does."""
    cols = np.zeros((A.shape[0], A.shape[2]))
    for i in range(A.shape[1]):
        cols += np.abs(A[:, i, :])
    norm = np.zeros(A.shape[0])
    for j in range(A.shape[2]):  # max(norm, col): a NaN column is passed over
        norm = np.where(cols[:, j] > norm, cols[:, j], norm)
    return norm


def _constrained_solution(
    Ainv: np.ndarray, b: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """phi (c, p, k), its sum over players (c, k), and the constrained inverse P."""
    a1 = _sequential_sum(Ainv, axis=2)  # A^-1 1, (c, p)
    a1_total = _sequential_sum(a1, axis=1)  # (c,)
    P = Ainv - a1[:, :, None] * a1[:, None, :] / a1_total[:, None, None]
    Ab = _sequential_sum(Ainv[:, :, :, None] * b[:, None, :, :], axis=2)  # (c, p, k)
    shift = -delta
    for i in range(Ab.shape[1]):
        shift = shift + Ab[:, i, :]
    shift = shift / a1_total[:, None]
    phi = Ab - a1[:, :, None] * shift[:, None, :]
    return phi, _sequential_sum(phi, axis=1), P


def _sandwich(
    P: np.ndarray,
    first: np.ndarray,
    w: np.ndarray,
    y_in: np.ndarray,
    y_out: np.ndarray,
    phi: np.ndarray,
    phi_total: np.ndarray,
    unit_stratum: np.ndarray,
    stratum_factor: np.ndarray,
) -> np.ndarray:
    """Every game's stratified HC3 sandwich variance (c, p, k); see
    ``_kernels_numba._sandwich`` for the algebra."""
    c, u, p = first.shape
    k = y_in.shape[2]
    # z'Pz of each pair: S's members' entries in row-major upper-triangle order.
    quad = np.zeros((c, u))
    for i in range(p):
        for j in range(i, p):
            term = P[:, i, j] if i == j else 2.0 * P[:, i, j]
            quad += np.where(first[:, :, i] & first[:, :, j], term[:, None], 0.0)
    lev = np.minimum(np.maximum(2.0 * w[None, :] * quad, 0.0), 0.9)
    # Residual of S minus residual of its complement, less 2 phi of each member.
    r = y_in - y_out + phi_total[:, None, :]  # (c, u, k)
    for j in range(p):
        r = np.where(first[:, :, j, None], r - 2.0 * phi[:, None, j, :], r)
    r = r * (w[None, :] / (1.0 - lev))[:, :, None]
    by_pair = first.transpose(1, 0, 2)  # (u, c, p)
    r_by_pair = r.transpose(1, 0, 2)  # (u, c, k)
    G = np.zeros((c, k, p, p))
    g_sum = np.zeros((stratum_factor.shape[0], c, k, p))
    counts = np.zeros(stratum_factor.shape[0], dtype=np.int64)
    for t in np.flatnonzero(unit_stratum >= 0):
        h = unit_stratum[t]
        counts[h] += 1
        z = by_pair[t]
        weighted = stratum_factor[h] * r_by_pair[t] * r_by_pair[t]  # (c, k)
        g_sum[h] += np.where(z[:, None, :], r_by_pair[t][:, :, None], 0.0)
        both = z[:, None, :, None] & z[:, None, None, :]
        G += np.where(both, weighted[:, :, None, None], 0.0)
    PG = np.zeros_like(G)
    for m in range(p):
        PG += P[:, None, :, m, None] * G[:, :, None, m, :]
    acc = np.zeros((c, G.shape[1], p))
    for j in range(p):
        acc += PG[:, :, :, j] * P[:, None, j, :]
    for h in np.flatnonzero(counts):
        Pg = np.zeros_like(acc)  # (c, k, p)
        for j in range(p):
            Pg += P[:, None, :, j] * g_sum[h, :, :, j, None]
        acc -= stratum_factor[h] * Pg * Pg / counts[h]
    return np.maximum(acc, 0.0).transpose(0, 2, 1)  # a sum of squares, up to rounding


# ---------------------------------------------------------------- the sampler


def distinct_draws(uniform: np.ndarray, population: int) -> np.ndarray:
    """(count, n) distinct integers below ``population`` per row, from ``uniform``
    (count, n) numbers in [0, 1): Floyd's algorithm, so every n-subset is equally
    likely and each row costs n steps, however large the population."""
    count, n = uniform.shape
    if TIERING.compiled(3e-6 * n + 1e-9 * count * n * n):
        from . import _kernels_numba

        return _kernels_numba.distinct_draws(uniform, population)
    out = np.empty((count, n), dtype=np.int64)
    for i in range(n):
        j = population - n + i
        t = np.minimum((uniform[:, i] * (j + 1)).astype(np.int64), j)  # uniform on 0..j
        taken = (out[:, :i] == t[:, None]).any(axis=1)
        out[:, i] = np.where(taken, j, t)  # j is new: only numbers below it were taken
    return out


def table_rows(members: np.ndarray, pick: np.ndarray, out: np.ndarray, lead: int, at: int) -> None:
    """out[g, at + i] = the mask of subset ``members[pick[g, i]]`` of the players after
    the first ``lead``, which are on (1: a half-size stratum, where S holds player 0)."""
    count, n = pick.shape
    block = out[:, at : at + n]
    block[:, :, :lead] = True
    block[:, :, lead:] = False
    chosen = members[pick]  # (count, n, size)
    g, i = np.indices((count, n))
    block[g[:, :, None], i[:, :, None], lead + chosen] = True


def pair_masks(first: np.ndarray) -> np.ndarray:
    """(2u, count, p) coalitions from S's masks ``first`` (count, u, p): pair t is
    rows 2t (S) and 2t + 1 (its complement), as the model calls take them."""
    count, u, p = first.shape
    both = np.empty((2 * u, count, p), dtype=np.bool_)
    both[0::2] = first.transpose(1, 0, 2)
    np.logical_not(first.transpose(1, 0, 2), out=both[1::2])
    return both


# ---------------------------------------------------------------- hybrid rows


_BITS: dict[int, type[np.unsignedinteger]] = {
    1: np.uint8,
    2: np.uint16,
    4: np.uint32,
    8: np.uint64,
}


def hybrid_rows(masks: np.ndarray, rows: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``np.where(masks, rows[:, None, :], background[None])`` for masks (m, 1 or B, p),
    rows (m, p) and background (B, p) of numeric dtypes: (m, B, p), the same values
    and dtype; compiled (ten times faster) for large problems. Both forms copy raw
    bits (unsigned integer views), so the copy is exact for any value, NaN included."""
    dtype = np.result_type(rows.dtype, background.dtype)
    bits = _BITS.get(dtype.itemsize) if dtype.kind in "biuf" else None
    if bits is None:
        return np.where(masks, rows[:, None, :], background[None, :, :])
    m, B, p = masks.shape[0], background.shape[0], background.shape[1]
    out = np.empty((m, B, p), dtype=dtype)

    def raw(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=dtype).view(bits)

    if TIERING.compiled(1e-5 + 9e-9 * m * B * p):
        from . import _kernels_numba

        ones: Any = ~bits(0)  # every bit on
        _kernels_numba.select_bits(
            np.ascontiguousarray(masks), raw(rows), raw(background), out.view(bits), ones
        )
        return out
    np.copyto(out.view(bits), np.where(masks, raw(rows)[:, None, :], raw(background)[None]))
    return out
