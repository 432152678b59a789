"""Compiled kernels over the flat tree arrays (numba, cached, rows in parallel).

Path-dependent TreeSHAP here follows the integral form of the Shapley
weights: for a leaf ``v`` whose path holds features with "x follows the
path" indicators ``p_j`` (0/1, multiplied over repeated splits on a feature)
and cover fractions ``q_j``,

    phi_i += value_v * (p_i - q_i) * Int_0^1 prod_{j != i} (q_j + (p_j - q_j) t) dt,

a polynomial of degree < depth in ``t``, so Gauss-Legendre quadrature with
``ceil(depth / 2)`` points is exact (the idea behind Quadrature TreeSHAP and
Linear TreeSHAP). One pass down the tree multiplies the path product at the
quadrature points, one pass up sums it over the leaves below every edge, and
each edge adds its feature's term; a feature split again lower down replaces
its factor, and the telescoping of those replacements is exact point by point.
Every ratio that depends on the tree only (cover fractions, their reciprocals,
quadrature weights) is tabulated once per ensemble, so the per-row work is
multiply-adds over ``nodes x points``.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numba import njit, prange

# Rows per parallel chunk: buffers are allocated per chunk, never per row.
CHUNK = 64


_small = threading.local()


@contextmanager
def small_problem() -> Iterator[None]:
    """Within this block (on this thread) rows kernels run their serial compilations."""
    before = getattr(_small, "on", False)
    _small.on = True
    try:
        yield
    finally:
        _small.on = before


class RowsKernel:
    """A kernel over rows compiled two ways, each only when first called: with
    ``parallel=True`` (rows spread over numba's threads), and serially, used inside
    :func:`small_problem` (work too small to wake threads for: see ``tree._explainer``).

    A serial compile takes a fraction of a parallel one (no parfor passes, no gufunc),
    so the first explanation of a small problem on a new install compiles only the
    serial kernels. Both run the same code on each row, so their answers are the
    same bytes. The serial twin is a copy of the function under another name, so
    numba's on-disk cache (keyed by qualified name, not by the parallel flag) keeps
    the two apart. Large problems always run the parallel compilation, whatever the
    thread count: LLVM vectorises the serial one's inner loops less (up to 5x slower
    per row), which costs little on the small problems it runs.
    """

    def __init__(self, fn: Any) -> None:
        self.py_func = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self._parallel: Any = None
        self._serial: Any = None

    @property
    def parallel(self) -> Any:
        if self._parallel is None:
            self._parallel = njit(parallel=True, cache=True)(self.py_func)
        return self._parallel

    @property
    def serial(self) -> Any:
        if self._serial is None:
            fn = self.py_func
            twin = types.FunctionType(
                fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__
            )
            twin.__qualname__ = fn.__qualname__ + "_serial"
            self._serial = njit(cache=True)(twin)
        return self._serial

    def __call__(self, *args: Any) -> Any:
        if getattr(_small, "on", False):
            return self.serial(*args)
        return self.parallel(*args)


def rows_kernel(fn: Any) -> RowsKernel:
    return RowsKernel(fn)


@njit(inline="always", cache=True)
def by_state(s, x0, x2, x3):
    """The term for a row's state at a node, s = 2 * (on the path) + (goes left): x3,
    x2, or x0 for a row off the path (s 0 or 1); a select, no branch, in inner loops."""
    return x3 if s == 3 else (x2 if s == 2 else x0)


@njit(inline="always", cache=True)
def goes_left(v, n, threshold, default_left, kind, cat_start, cat_len, cat_other, cat_dir):
    if np.isnan(v):
        return default_left[n]
    k = kind[n]
    if k == 0:
        return v <= threshold[n]
    if k == 2:
        if -1e-35 <= v <= 1e-35:
            return default_left[n]
        return v <= threshold[n]
    d = cat_other[n]
    if v >= 0.0 and v < cat_len[n]:
        d = cat_dir[cat_start[n] + np.int64(v)]
    if d == 2:
        return default_left[n]
    return d == 0


@njit(cache=True)
def _leaf_of(x, root, left, right, feature, threshold, default_left, kind, cs, cl, co, cd):
    n = root
    while left[n] >= 0:
        if goes_left(x[feature[n]], n, threshold, default_left, kind, cs, cl, co, cd):
            n = left[n]
        else:
            n = right[n]
    return n


@rows_kernel
def predict_kernel(
    X, left, right, feature, threshold, default_left, kind, cs, cl, co, cd,
    value, tree_start, tree_output, base, out,
):  # fmt: skip
    n_rows = X.shape[0]
    n_trees = tree_start.shape[0] - 1
    n_out = out.shape[1]
    for r in prange(n_rows):
        x = X[r]
        for j in range(n_out):
            out[r, j] = base[j]
        for t in range(n_trees):
            leaf = _leaf_of(
                x,
                tree_start[t],
                left,
                right,
                feature,
                threshold,
                default_left,
                kind,
                cs,
                cl,
                co,
                cd,
            )
            o = tree_output[t]
            if o >= 0:
                out[r, o] += value[leaf, 0]
            else:
                for j in range(n_out):
                    out[r, j] += value[leaf, j]


@rows_kernel
def leaf_index_kernel(
    X, left, right, feature, threshold, default_left, kind, cs, cl, co, cd, tree_start, out
):
    for r in prange(X.shape[0]):
        for t in range(tree_start.shape[0] - 1):
            out[r, t] = _leaf_of(
                X[r],
                tree_start[t],
                left,
                right,
                feature,
                threshold,
                default_left,
                kind,
                cs,
                cl,
                co,
                cd,
            )


@njit(cache=True)
def path_tables(
    left, right, feature, cover, tree_start, t_nodes, w_nodes, parent, prev, qcomb, F, invF, H
):  # fmt: skip
    """Row-independent tables for path-dependent TreeSHAP, written into arrays the caller
    allocates and initialises (parent, prev -1; qcomb, F, invF 1; H 0): allocating here
    would compile numba's np.full/ones/zeros, a large part of a cold start.

    parent: parent node (-1 at roots); prev: the nearest ancestor edge on the
    same feature (-1 if none); F[c, p, k] = q + (p - q) t_k with q the cover
    fraction multiplied over the same-feature edges down to c; invF its
    reciprocal (0 where F is 0: the path product is 0 there anyway);
    H[c, p, k] = w_k (p - q) / F.
    """
    n = left.shape[0]
    K = t_nodes.shape[0]
    for t in range(tree_start.shape[0] - 1):
        ts = tree_start[t]
        for c in range(ts, tree_start[t + 1]):
            if left[c] >= 0:
                parent[left[c]] = c
                parent[right[c]] = c
    for c in range(n):
        par = parent[c]
        if par < 0:
            continue
        f = feature[par]
        a = par
        # walk up to find the previous edge on the same feature (depth is small)
        while parent[a] >= 0:
            if feature[parent[a]] == f:
                prev[c] = a
                break
            a = parent[a]
        q = cover[c] / cover[par] if cover[par] > 0 else 0.0
        if prev[c] >= 0:
            q *= qcomb[prev[c]]
        qcomb[c] = q
        for k in range(K):
            tk = t_nodes[k]
            for p in range(2):
                fv = q + (p - q) * tk
                F[c, p, k] = fv
                if fv > 0.0:
                    invF[c, p, k] = 1.0 / fv
                    H[c, p, k] = w_nodes[k] * (p - q) / fv
                else:
                    invF[c, p, k] = 0.0
                    H[c, p, k] = 0.0


@rows_kernel
def path_shap_kernel(
    X, left, right, feature, threshold, default_left, kind, cs, cl, co, cd,
    value, tree_start, tree_output, parent, prev, T, max_nodes, out,
):  # fmt: skip
    """out[r, i, j] += path-dependent SHAP value of feature i for output j (out zeroed by caller).

    ``T[c]`` stacks F (rows 0-1), 1/F (rows 2-3) and H (rows 4-5) for p = 0, 1.
    The number of quadrature points is padded to a multiple of 4 (zero weights),
    so the inner loops run in blocks of 4 that LLVM unrolls and vectorises. Rows are processed in chunks tree by tree, so one
    tree's tables stay in cache while the chunk's rows pass through it.
    """
    K = T.shape[2]
    n_rows = X.shape[0]
    n_trees = tree_start.shape[0] - 1
    n_cols = value.shape[1]
    n_chunks = (n_rows + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        G = np.empty((max_nodes, K))
        S = np.empty((max_nodes, n_cols, K))
        pc = np.empty(max_nodes, np.int64)
        gl = np.empty(max_nodes, np.bool_)
        r0 = ch * CHUNK
        r1 = min(n_rows, r0 + CHUNK)
        for t in range(n_trees):
            ts = tree_start[t]
            te = tree_start[t + 1]
            o = tree_output[t]
            nc = 1 if o >= 0 else n_cols
            for r in range(r0, r1):
                x = X[r]
                # down: path products at the quadrature points
                pc[0] = 1
                for kb in range(0, K, 4):
                    for k in range(kb, kb + 4):
                        G[0, k] = 1.0
                if left[ts] >= 0:
                    gl[0] = goes_left(
                        x[feature[ts]], ts, threshold, default_left, kind, cs, cl, co, cd
                    )
                for c in range(ts + 1, te):
                    lc = c - ts
                    par = parent[c]
                    lp = par - ts
                    pe = 1 if gl[lp] == (left[par] == c) else 0
                    pv = prev[c]
                    if pv >= 0:
                        pp = pc[pv - ts]
                        p = pe * pp
                        pc[lc] = p
                        for kb in range(0, K, 4):
                            for k in range(kb, kb + 4):
                                G[lc, k] = G[lp, k] * T[c, p, k] * T[pv, 2 + pp, k]
                    else:
                        pc[lc] = pe
                        for kb in range(0, K, 4):
                            for k in range(kb, kb + 4):
                                G[lc, k] = G[lp, k] * T[c, pe, k]
                    if left[c] >= 0:
                        gl[lc] = goes_left(
                            x[feature[c]], c, threshold, default_left, kind, cs, cl, co, cd
                        )
                # up: sums over the leaves below each edge, and the edge's term
                for c in range(te - 1, ts, -1):
                    lc = c - ts
                    if left[c] < 0:
                        for j in range(nc):
                            vj = value[c, j]
                            for kb in range(0, K, 4):
                                for k in range(kb, kb + 4):
                                    S[lc, j, k] = vj * G[lc, k]
                    else:
                        a = left[c] - ts
                        b = right[c] - ts
                        for j in range(nc):
                            for kb in range(0, K, 4):
                                for k in range(kb, kb + 4):
                                    S[lc, j, k] = S[a, j, k] + S[b, j, k]
                    i = feature[parent[c]]
                    p = pc[lc]
                    pv = prev[c]
                    if pv >= 0:
                        pp = pc[pv - ts]
                        for j in range(nc):
                            acc = 0.0
                            for kb in range(0, K, 4):
                                for k in range(kb, kb + 4):
                                    acc += S[lc, j, k] * (T[c, 4 + p, k] - T[pv, 4 + pp, k])
                            out[r, i, o if o >= 0 else j] += acc
                    else:
                        for j in range(nc):
                            acc = 0.0
                            for kb in range(0, K, 4):
                                for k in range(kb, kb + 4):
                                    acc += S[lc, j, k] * T[c, 4 + p, k]
                            out[r, i, o if o >= 0 else j] += acc


@rows_kernel
def path_shap_rows_kernel(
    X, feature, threshold, default_left, kind, cs, cl, co, cd,
    I, istart, up, ustart, tree_out, M, H, max_nodes, chunk, out,
):  # fmt: skip
    """Single-column path-dependent SHAP values: ``path_shap_kernel``'s sums,
    reorganised around splits, with the rows of a chunk innermost.

    Row ``j`` of ``I`` describes split j (tree by tree, parents first): node id,
    feature, the tree-local slots of the node and its two children, the slot of the
    nearest ancestor edge on the same feature (or the spare slot ``max_nodes``, whose
    indicator stays 1), and whether both children are leaves. The row's outcome ``g``
    at the split and that ancestor's indicator ``pp`` select ``s = 2 pp + g``;
    ``M[j, s, child, k]`` is the child's factor of the path product (the replaced
    ancestor factor divided out; a leaf's value folded in) and ``H[j, s, child, k]``
    the child's edge weight minus the replaced one (for ``pp = 0`` both outcomes
    share one factor, so two selects pick it). So the down pass writes both
    children's products, leaves come out already scaled by their value, and the up
    pass (over the splits listed in ``up``) sums children into parents. A split
    whose children are both leaves is finished in the down pass: its
    ``M[j, s, 0]`` holds M0 + M1 (the node's sum) and ``M[j, s, 1]`` holds
    M0 H0 + M1 H1 (its edges' terms). Both edges of a split belong to its feature,
    so their terms go point by point into ``acc[feature, output, k, row]``; the
    quadrature points are summed once per row at the end.

    Each split is visited once per chunk, not once per row: its outcomes for the
    chunk's rows are computed first (scalar, any split kind), then every
    multiply-add runs over the rows with the split's factors in registers, a loop
    LLVM vectorises (numba leaves LLVM's SLP vectoriser off, so short loops over
    the quadrature points would stay scalar).
    """
    K = M.shape[3]
    n_rows = X.shape[0]
    n_trees = istart.shape[0] - 1
    d = out.shape[1]
    n_out = out.shape[2]
    n_chunks = (n_rows + chunk - 1) // chunk
    for ch in prange(n_chunks):
        A = np.empty((max_nodes, K, chunk))
        P = np.ones((max_nodes + 1, chunk), np.int64)
        S = np.empty((max_nodes, chunk), np.int64)
        acc = np.zeros((d, n_out, K, chunk))
        r0 = ch * chunk
        nr = min(n_rows, r0 + chunk) - r0
        for t in range(n_trees):
            i0 = istart[t]
            i1 = istart[t + 1]
            if i0 == i1:
                continue
            o = tree_out[t]
            a0 = I[i0, 2]
            for k in range(K):
                for r in range(nr):
                    A[a0, k, r] = 1.0
            for r in range(nr):
                P[a0, r] = 1
            # down: outcomes, then both children's path products
            for j in range(i0, i1):
                n = I[j, 0]
                f = I[j, 1]
                a = I[j, 2]
                lc = I[j, 3]
                rc = I[j, 4]
                pl = I[j, 5]
                Sj = S[j - i0]
                for r in range(nr):
                    g = 0
                    if goes_left(X[r0 + r, f], n, threshold, default_left, kind, cs, cl, co, cd):
                        g = 1
                    pp = P[pl, r]
                    Sj[r] = 2 * pp + g
                    P[lc, r] = g * pp
                    P[rc, r] = (1 - g) * pp
                bottom = I[j, 6]
                for k in range(K):
                    v0, v2, v3 = M[j, 0, 0, k], M[j, 2, 0, k], M[j, 3, 0, k]
                    w0, w2, w3 = M[j, 0, 1, k], M[j, 2, 1, k], M[j, 3, 1, k]
                    Aa = A[a, k]
                    if bottom:
                        # both children leaves: the node's sum and its edges' terms at once
                        Ac = acc[f, o, k]
                        for r in range(nr):
                            s = Sj[r]
                            v = by_state(s, v0, v2, v3)
                            w = by_state(s, w0, w2, w3)
                            ga = Aa[r]
                            Ac[r] += ga * w
                            Aa[r] = ga * v
                    else:
                        Al = A[lc, k]
                        Ar = A[rc, k]
                        for r in range(nr):
                            s = Sj[r]
                            v = by_state(s, v0, v2, v3)
                            w = by_state(s, w0, w2, w3)
                            ga = Aa[r]
                            Al[r] = ga * v
                            Ar[r] = ga * w
            # up: value-weighted sums below each node, and both edges' terms
            for u in range(ustart[t + 1] - 1, ustart[t] - 1, -1):
                j = up[u]
                f = I[j, 1]
                a = I[j, 2]
                lc = I[j, 3]
                rc = I[j, 4]
                Sj = S[j - i0]
                for k in range(K):
                    h0, h2, h3 = H[j, 0, 0, k], H[j, 2, 0, k], H[j, 3, 0, k]
                    q0, q2, q3 = H[j, 0, 1, k], H[j, 2, 1, k], H[j, 3, 1, k]
                    Aa = A[a, k]
                    Al = A[lc, k]
                    Ar = A[rc, k]
                    Ac = acc[f, o, k]
                    for r in range(nr):
                        s = Sj[r]
                        h = by_state(s, h0, h2, h3)
                        q = by_state(s, q0, q2, q3)
                        sl = Al[r]
                        sr = Ar[r]
                        Ac[r] += sl * h + sr * q
                        Aa[r] = sl + sr
        for f in range(d):
            for o in range(n_out):
                for r in range(nr):
                    total = 0.0
                    for k in range(K):
                        total += acc[f, o, k, r]
                    out[r0 + r, f, o] += total


@rows_kernel
def path_interactions_kernel(
    X, left, right, feature, threshold, default_left, kind, cs, cl, co, cd,
    value, tree_start, tree_output, parent, prev, qcomb, F, invF, w_nodes, max_nodes, max_depth, out,
):  # fmt: skip
    """out[r, i, j, o] += SHAP interaction values (path-dependent), out zeroed by the caller.

    Per leaf: Phi_ab = 1/2 value (p_a - q_a)(p_b - q_b) Int prod_{j != a, b} f_j(t) dt
    for a != b, and the diagonal makes each row sum to the SHAP value.
    """
    n_rows = X.shape[0]
    n_trees = tree_start.shape[0] - 1
    K = F.shape[2]
    n_cols = value.shape[1]
    d = X.shape[1]
    n_chunks = (n_rows + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        G = np.empty((max_nodes, K))
        pc = np.empty(max_nodes, np.int64)
        gl = np.empty(max_nodes, np.bool_)
        stamp = np.full(d, -1, np.int64)
        feats = np.empty(max_depth + 1, np.int64)
        hn = np.empty((max_depth + 1, K))
        g = np.empty(K)
        phi = np.empty(max_depth + 1)
        rowsum = np.empty(max_depth + 1)
        tag = 0
        for r in range(ch * CHUNK, min(n_rows, (ch + 1) * CHUNK)):
            x = X[r]
            for t in range(n_trees):
                ts = tree_start[t]
                te = tree_start[t + 1]
                o = tree_output[t]
                nc = 1 if o >= 0 else n_cols
                for c in range(ts, te):
                    lc = c - ts
                    if c == ts:
                        pc[0] = 1
                        for k in range(K):
                            G[0, k] = 1.0
                    else:
                        lp = parent[c] - ts
                        pe = 1 if gl[lp] == (left[parent[c]] == c) else 0
                        pv = prev[c]
                        if pv >= 0:
                            pp = pc[pv - ts]
                            p = pe * pp
                            pc[lc] = p
                            for k in range(K):
                                G[lc, k] = G[lp, k] * F[c, p, k] * invF[pv, pp, k]
                        else:
                            pc[lc] = pe
                            for k in range(K):
                                G[lc, k] = G[lp, k] * F[c, pe, k]
                    if left[c] >= 0:
                        gl[lc] = goes_left(
                            x[feature[c]], c, threshold, default_left, kind, cs, cl, co, cd
                        )
                        continue
                    # a leaf: its path's features, deepest occurrence first
                    tag += 1
                    m = 0
                    a = c
                    while a != ts:
                        f = feature[parent[a]]
                        if stamp[f] != tag:
                            stamp[f] = tag
                            feats[m] = f
                            p = pc[a - ts]
                            for k in range(K):
                                hn[m, k] = (p - qcomb[a]) * invF[a, p, k]
                            m += 1
                        a = parent[a]
                    for j in range(nc):
                        oj = o if o >= 0 else j
                        vj = value[c, j]
                        for k in range(K):
                            g[k] = vj * G[lc, k] * w_nodes[k]
                        for u in range(m):
                            acc = 0.0
                            for k in range(K):
                                acc += g[k] * hn[u, k]
                            phi[u] = acc
                            rowsum[u] = 0.0
                        for u in range(m):
                            for v in range(u + 1, m):
                                acc = 0.0
                                for k in range(K):
                                    acc += g[k] * hn[u, k] * hn[v, k]
                                acc *= 0.5
                                out[r, feats[u], feats[v], oj] += acc
                                out[r, feats[v], feats[u], oj] += acc
                                rowsum[u] += acc
                                rowsum[v] += acc
                        for u in range(m):
                            out[r, feats[u], feats[u], oj] += phi[u] - rowsum[u]


@rows_kernel
def decisions_kernel(X, left, feature, threshold, default_left, kind, cs, cl, co, cd, out):
    """out[r, n] = whether row r goes left at internal node n."""
    for r in prange(X.shape[0]):
        for n in range(left.shape[0]):
            if left[n] >= 0:
                out[r, n] = goes_left(
                    X[r, feature[n]], n, threshold, default_left, kind, cs, cl, co, cd
                )


@rows_kernel
def interventional_kernel(
    X, Xdir, Bdir, left, right, feature, value, tree_start, tree_output,
    coef_a, coef_b, fx, fb, transform, max_depth, bg_mass, norm, out,
):  # fmt: skip
    """Interventional SHAP values averaged over background rows, out zeroed by the caller.

    For a row x and a background row b, a leaf reachable by a hybrid of x and b
    through features A taken from x and B taken from b adds
    value (|A|-1)!|B|!/(|A|+|B|)! to each feature of A and subtracts
    value |A|!(|B|-1)!/(|A|+|B|)! from each feature of B. With ``transform``
    (1: logistic) the pair's values are rescaled by
    (T(f(x)) - T(f(b))) / (f(x) - f(b)), as shap does for probability output.
    Xdir / Bdir hold every row's left/right decision at every node. Background row
    b's pairs count ``bg_mass[b]`` times and the sum is divided by ``norm`` (ones and
    the row count for equal weights, the weights and 1 for a weighted background).
    """
    n_rows = X.shape[0]
    n_bg = Bdir.shape[0]
    direct = transform == 0 and norm == n_bg  # equal weights: accumulate in place
    n_trees = tree_start.shape[0] - 1
    n_cols = value.shape[1]
    d = X.shape[1]
    n_out = out.shape[2]
    n_chunks = (n_rows + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        side = np.zeros(d, np.int64)
        list_a = np.empty(max_depth + 1, np.int64)
        list_b = np.empty(max_depth + 1, np.int64)
        st_node = np.empty(2 * max_depth + 4, np.int64)
        st_la = np.empty(2 * max_depth + 4, np.int64)
        st_lb = np.empty(2 * max_depth + 4, np.int64)
        st_f = np.empty(2 * max_depth + 4, np.int64)
        st_s = np.empty(2 * max_depth + 4, np.int64)
        tmp = np.zeros((d, n_out))
        for r in range(ch * CHUNK, min(n_rows, (ch + 1) * CHUNK)):
            xd = Xdir[r]
            for bi in range(n_bg):
                bd = Bdir[bi]
                acc = out[r] if direct else tmp
                for t in range(n_trees):
                    o = tree_output[t]
                    nc = 1 if o >= 0 else n_cols
                    top = 0
                    st_node[0] = tree_start[t]
                    st_la[0] = 0
                    st_lb[0] = 0
                    st_f[0] = -1
                    st_s[0] = 0
                    na = 0
                    nb = 0
                    while top >= 0:
                        node = st_node[top]
                        la = st_la[top]
                        lb = st_lb[top]
                        fnew = st_f[top]
                        snew = st_s[top]
                        top -= 1
                        while na > la:
                            na -= 1
                            side[list_a[na]] = 0
                        while nb > lb:
                            nb -= 1
                            side[list_b[nb]] = 0
                        if fnew >= 0:
                            side[fnew] = snew
                            if snew == 1:
                                list_a[na] = fnew
                                na += 1
                            else:
                                list_b[nb] = fnew
                                nb += 1
                        if left[node] < 0:
                            if na + nb == 0:
                                continue
                            ca = coef_a[na, nb]
                            cb = coef_b[na, nb]
                            for j in range(nc):
                                oj = o if o >= 0 else j
                                v = value[node, j]
                                for u in range(na):
                                    acc[list_a[u], oj] += v * ca
                                for u in range(nb):
                                    acc[list_b[u], oj] -= v * cb
                            continue
                        f = feature[node]
                        s = side[f]
                        gx = xd[node]
                        gb = bd[node]
                        if s == 1 or (s == 0 and gx == gb):
                            top += 1
                            st_node[top] = left[node] if gx else right[node]
                            st_la[top] = na
                            st_lb[top] = nb
                            st_f[top] = -1
                        elif s == 2:
                            top += 1
                            st_node[top] = left[node] if gb else right[node]
                            st_la[top] = na
                            st_lb[top] = nb
                            st_f[top] = -1
                        else:
                            top += 1
                            st_node[top] = left[node] if gx else right[node]
                            st_la[top] = na
                            st_lb[top] = nb
                            st_f[top] = f
                            st_s[top] = 1
                            top += 1
                            st_node[top] = left[node] if gb else right[node]
                            st_la[top] = na
                            st_lb[top] = nb
                            st_f[top] = f
                            st_s[top] = 2
                    while na > 0:
                        na -= 1
                        side[list_a[na]] = 0
                    while nb > 0:
                        nb -= 1
                        side[list_b[nb]] = 0
                if not direct:
                    for j in range(n_out):
                        scale = 1.0
                        if transform != 0:
                            dx = fx[r, j] - fb[bi, j]
                            if transform == 1:
                                tx = 1.0 / (1.0 + np.exp(-fx[r, j]))
                                tb = 1.0 / (1.0 + np.exp(-fb[bi, j]))
                            else:
                                tx = fx[r, j]
                                tb = fb[bi, j]
                            scale = (tx - tb) / dx if dx != 0.0 else 0.0
                        if norm != n_bg:
                            scale *= bg_mass[bi]
                        for i in range(d):
                            out[r, i, j] += tmp[i, j] * scale
                            tmp[i, j] = 0.0
            for i in range(d):
                for j in range(n_out):
                    out[r, i, j] /= norm


@rows_kernel
def pd_recursion_kernel(
    grid, targets, left, right, feature, threshold, default_left, kind, cs, cl, co, cd,
    cover, value, tree_start, tree_output, base, out,
):  # fmt: skip
    """Partial dependence by recursion: out[g, j] = base[j] + sum over trees of the leaf values
    reached following grid point g on target features and cover fractions elsewhere."""
    n_trees = tree_start.shape[0] - 1
    n_out = out.shape[1]
    n_cols = value.shape[1]
    n_nodes_max = 0
    for t in range(n_trees):
        n_nodes_max = max(n_nodes_max, tree_start[t + 1] - tree_start[t])
    for g in prange(grid.shape[0]):
        stack = np.empty(n_nodes_max + 1, np.int64)
        weight = np.empty(n_nodes_max + 1)
        for j in range(n_out):
            out[g, j] = base[j]
        for t in range(n_trees):
            o = tree_output[t]
            nc = 1 if o >= 0 else n_cols
            top = 0
            stack[0] = tree_start[t]
            weight[0] = 1.0
            while top >= 0:
                n = stack[top]
                w = weight[top]
                top -= 1
                if left[n] < 0:
                    for j in range(nc):
                        out[g, o if o >= 0 else j] += w * value[n, j]
                    continue
                pos = -1
                for u in range(targets.shape[0]):
                    if targets[u] == feature[n]:
                        pos = u
                        break
                if pos >= 0:
                    top += 1
                    if goes_left(grid[g, pos], n, threshold, default_left, kind, cs, cl, co, cd):
                        stack[top] = left[n]
                    else:
                        stack[top] = right[n]
                    weight[top] = w
                else:
                    frac = cover[left[n]] / cover[n] if cover[n] > 0 else 0.5
                    top += 1
                    stack[top] = left[n]
                    weight[top] = w * frac
                    top += 1
                    stack[top] = right[n]
                    weight[top] = w * (1.0 - frac)


@njit(cache=True)
def leaf_paths(
    left, feature, parent, leaves, leaf_pos, edges, slots, feats, n_edges, n_feats, node_slot
):  # fmt: skip
    """Per leaf (``leaves``: the leaf nodes): its path's edges (child nodes, from the leaf
    up), each edge's slot among the path's distinct features, the distinct features and
    their count; and per internal node the slot of its feature. Slots count features in
    order of first use from the root, so a node's slot is the same on every path through
    it. Written into arrays the caller allocates (edges, feats, leaf_pos, node_slot -1;
    slots, n_edges, n_feats 0), so that no allocation is compiled here."""
    n_leaves = leaves.shape[0]
    for li in range(n_leaves):
        v = leaves[li]
        leaf_pos[v] = li
        a = v
        e = 0
        while parent[a] >= 0:
            edges[li, e] = a
            e += 1
            a = parent[a]
        n_edges[li] = e
        m = 0
        for k in range(e - 1, -1, -1):
            par = parent[edges[li, k]]
            f = feature[par]
            s = -1
            for u in range(m):
                if feats[li, u] == f:
                    s = u
                    break
            if s < 0:
                s = m
                feats[li, m] = f
                m += 1
            slots[li, k] = s
            node_slot[par] = s
        n_feats[li] = m


@rows_kernel
def interventional_leaf_tables(
    Bdir, left, parent, leaves, edges, slots, n_edges, n_feats, offsets, coef_a, coef_b,
    bg_mass, norm,
):  # fmt: skip
    """Per leaf and per pattern alpha of the row (bit s: the row meets every condition on the
    path's feature s): ZA[alpha, s] (to features the row meets, and -ZB[alpha] to the others)
    and ZB[alpha], summed over the background rows' failure patterns delta with delta within alpha
    and divided by the number of background rows (each counted ``bg_mass[b]`` times, the
    sum divided by ``norm``: see :func:`interventional_kernel`). Table of leaf li at offsets[li], of size
    2^m (m + 1), slot-major: ZA[alpha, s] at s 2^m + alpha, ZB[alpha] at m 2^m + alpha."""
    n_bg = Bdir.shape[0]
    total = offsets[-1]
    Z = np.zeros(total)
    for li in prange(leaves.shape[0]):
        m = n_feats[li]
        size = 1 << m
        cnt = np.zeros(size)
        for b in range(n_bg):
            delta = 0
            for e in range(n_edges[li]):
                a = edges[li, e]
                par = parent[a]
                if Bdir[b, par] != (left[par] == a):
                    delta |= 1 << slots[li, e]
            cnt[delta] += bg_mass[b]
        base = offsets[li]
        for alpha in range(size):
            nb = m
            for s in range(m):
                if (alpha >> s) & 1:
                    nb -= 1
            zb = 0.0
            # enumerate delta over subsets of alpha
            delta = alpha
            while True:
                c = cnt[delta]
                if c != 0.0:
                    na = 0
                    for s in range(m):
                        if (delta >> s) & 1:
                            na += 1
                    if nb > 0:
                        zb += c * coef_b[na, nb]
                    if na > 0:
                        ca = c * coef_a[na, nb]
                        for s in range(m):
                            if (delta >> s) & 1:
                                Z[base + s * size + alpha] += ca / norm
                if delta == 0:
                    break
                delta = (delta - 1) & alpha
            Z[base + m * size + alpha] = zb / norm
            for s in range(m):  # features the row fails get -zb: one branch-free sum later
                if not (alpha >> s) & 1:
                    Z[base + s * size + alpha] = -zb / norm
    return Z


@rows_kernel
def interventional_agg_kernel(
    X, left, right, feature, threshold, default_left, kind, cs, cl, co, cd, value, tree_start,
    tree_output, node_slot, leaf_pos, feats, n_feats, offsets, Z, base_out, out, pred,
):  # fmt: skip
    """Interventional SHAP values from the per-leaf background tables, linear in the rows,
    and the raw model output ``pred`` from the same directions.

    Loops run leaf by leaf over a chunk of rows, so one leaf's table (2^m (m + 1)
    numbers) stays in cache while every row of the chunk looks its pattern up in it:
    row by row, each leaf's lookup would be a cache miss into the whole table.
    """
    n_rows = X.shape[0]
    n_trees = tree_start.shape[0] - 1
    n_cols = value.shape[1]
    n_chunks = (n_rows + CHUNK - 1) // CHUNK
    max_nodes = 1
    for t in range(n_trees):
        max_nodes = max(max_nodes, tree_start[t + 1] - tree_start[t])
    for ch in prange(n_chunks):
        r0 = ch * CHUNK
        nr = min(n_rows, r0 + CHUNK) - r0
        went = np.empty((max_nodes, CHUNK), np.bool_)  # the chunk's directions, node-major
        alpha = np.empty((max_nodes, CHUNK), np.int32)  # int32: the block stays in L1
        acc = np.zeros((out.shape[1], out.shape[2], CHUNK))  # the chunk's values, row-minor
        pred_acc = np.zeros((out.shape[2], CHUNK))
        for j in range(out.shape[2]):
            pred_acc[j, :] = base_out[j]
        for t in range(n_trees):
            start = tree_start[t]
            for v in range(start, tree_start[t + 1]):
                if left[v] < 0:
                    continue
                f = feature[v]
                for i in range(nr):
                    went[v - start, i] = goes_left(
                        X[r0 + i, f], v, threshold, default_left, kind, cs, cl, co, cd
                    )
            # alpha per node, parents first (preorder): the slots of the features whose
            # conditions the row has met on the way down; a leaf the row reaches keeps all bits
            for i in range(nr):
                alpha[0, i] = -1
            for v in range(start, tree_start[t + 1]):
                if left[v] < 0:
                    continue
                bit = np.int32(~(1 << node_slot[v]))
                vv, lv, rv = v - start, left[v] - start, right[v] - start
                for i in range(nr):
                    g = np.int32(went[vv, i])  # 1: the row goes left
                    a = alpha[vv, i]
                    alpha[lv, i] = a & (bit | -g)
                    alpha[rv, i] = a & (bit | (g - np.int32(1)))
            o = tree_output[t]
            nc = 1 if o >= 0 else n_cols
            for v in range(start, tree_start[t + 1]):
                if left[v] >= 0:
                    continue
                vv = v - start
                for i in range(nr):  # the row's own leaf: its output
                    if alpha[vv, i] == -1:
                        for j in range(nc):
                            pred_acc[o if o >= 0 else j, i] += value[v, j]
                li = leaf_pos[v]
                m = n_feats[li]
                if m == 0:
                    continue
                mask = np.int32((1 << m) - 1)
                size = 1 << m
                for j in range(nc):
                    oj = o if o >= 0 else j
                    val = value[v, j]
                    for s in range(m):
                        f = feats[li, s]
                        block = offsets[li] + s * size  # slot s's numbers for every pattern
                        for i in range(nr):
                            acc[f, oj, i] += val * Z[block + (alpha[vv, i] & mask)]
        for f in range(out.shape[1]):
            for oj in range(out.shape[2]):
                for i in range(nr):
                    out[r0 + i, f, oj] = acc[f, oj, i]
        for oj in range(out.shape[2]):
            for i in range(nr):
                pred[r0 + i, oj] = pred_acc[oj, i]


@rows_kernel
def ice_kernel(
    X, target, split_pos, n_grid, left, right, feature, threshold, default_left, kind,
    cs, cl, co, cd, value, tree_start, tree_output, base, link, out,
):  # fmt: skip
    """ICE of one numeric feature: out[r, g, :] = link(model output of row r with x_target = grid[g]).

    The grid is sorted; ``split_pos[n]`` is the number of grid values ``<= threshold[n]`` for
    splits on the target. Each tree is walked once per row carrying the index range of grid
    values that reach the node: x's own branch at other splits, both (range cut at
    ``split_pos``) at target splits. A leaf adds its value to its range through a difference
    array, so the cost is rows x reachable leaves, not rows x grid x depth.
    link: 0 identity, 1 exp, 2 binary logistic (out gets [1 - p, p]), 3 softmax.
    """
    n_rows = X.shape[0]
    n_trees = tree_start.shape[0] - 1
    n_out = base.shape[0]
    n_cols = value.shape[1]
    n_nodes_max = 0
    for t in range(n_trees):
        n_nodes_max = max(n_nodes_max, tree_start[t + 1] - tree_start[t])
    n_chunks = (n_rows + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        diff = np.empty((n_grid + 1, n_out))
        raw = np.empty(n_out)
        s_node = np.empty(n_nodes_max + 1, np.int64)
        s_lo = np.empty(n_nodes_max + 1, np.int64)
        s_hi = np.empty(n_nodes_max + 1, np.int64)
        for r in range(c * CHUNK, min(n_rows, (c + 1) * CHUNK)):
            x = X[r]
            diff[:] = 0.0
            for t in range(n_trees):
                o = tree_output[t]
                nc = 1 if o >= 0 else n_cols
                top = 0
                s_node[0] = tree_start[t]
                s_lo[0] = 0
                s_hi[0] = n_grid
                while top >= 0:
                    n = s_node[top]
                    lo = s_lo[top]
                    hi = s_hi[top]
                    top -= 1
                    if left[n] < 0:
                        for j in range(nc):
                            v = value[n, j]
                            jj = o if o >= 0 else j
                            diff[lo, jj] += v
                            diff[hi, jj] -= v
                        continue
                    if feature[n] == target:
                        p = split_pos[n]
                        if lo < p:
                            top += 1
                            s_node[top] = left[n]
                            s_lo[top] = lo
                            s_hi[top] = min(hi, p)
                        if p < hi:
                            top += 1
                            s_node[top] = right[n]
                            s_lo[top] = max(lo, p)
                            s_hi[top] = hi
                    else:
                        top += 1
                        s_lo[top] = lo
                        s_hi[top] = hi
                        if goes_left(
                            x[feature[n]], n, threshold, default_left, kind, cs, cl, co, cd
                        ):
                            s_node[top] = left[n]
                        else:
                            s_node[top] = right[n]
            for j in range(n_out):
                raw[j] = base[j]
            for g in range(n_grid):
                for j in range(n_out):
                    raw[j] += diff[g, j]
                if link == 0:
                    for j in range(n_out):
                        out[r, g, j] = raw[j]
                elif link == 1:
                    for j in range(n_out):
                        out[r, g, j] = np.exp(raw[j])
                elif link == 2:
                    p1 = 1.0 / (1.0 + np.exp(-raw[0]))
                    out[r, g, 0] = 1.0 - p1
                    out[r, g, 1] = p1
                else:
                    m = raw[0]
                    for j in range(1, n_out):
                        m = max(m, raw[j])
                    total = 0.0
                    for j in range(n_out):
                        total += np.exp(raw[j] - m)
                    for j in range(n_out):
                        out[r, g, j] = np.exp(raw[j] - m) / total


@njit(inline="always", cache=True)
def _popcount(x):
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


@rows_kernel
def interventional_pattern_kernel(
    X, left, right, feature, threshold, default_left, kind, cs, cl, co, cd, value, tree_start,
    node_slot, leaf_pos, feats, n_feats, leaf_groups, group_pattern, group_start, members,
    table_start, table, fx, fb, transform, bg_mass, weighted, norm, coef_a, coef_b, out,
):  # fmt: skip
    """Interventional SHAP values of pair-rescaled output (one output), leaf by leaf.

    For a row x, a background row b and a leaf whose path has m distinct features
    (slots), let a (b's: beta) be the bits of the slots whose conditions x meets. Some
    hybrid of x and b reaches the leaf iff a | beta covers all m slots; then
    A = a & ~beta are the features taken from x, B = ~a those from b, and the leaf adds
    value (|A|-1)!|B|!/(|A|+|B|)! to A's features and subtracts value
    |A|!(|B|-1)!/(|A|+|B|)! from B's, the pair's values being rescaled by
    (T(f(x)) - T(f(b))) / (f(x) - f(b)) (``transform`` 1: logistic T) as in
    :func:`interventional_kernel`, whose values these are. Background rows are grouped
    per leaf by beta (``leaf_groups``: each leaf's groups; ``group_pattern``: their
    beta; ``members[group_start[g]:group_start[g + 1]]``: their rows), so a row scans a
    leaf's few distinct patterns, and sums the rescaling weights of the members of the
    patterns that reach the leaf only: the work is proportional to the leaves times the
    patterns plus the (row, background row, leaf) triples that reach a leaf, where the
    pairwise walk costs pairs x trees x visited nodes. With ``table`` (non-empty: each
    leaf's group per pattern at ``table_start[leaf] + beta``, -1 for none) only the
    patterns that can reach the leaf, supersets of ~a, are looked up: 3^m per tree of
    depth m rather than leaves x patterns.
    """
    n_rows = X.shape[0]
    n_trees = tree_start.shape[0] - 1
    n_bg = fb.shape[0]
    d = out.shape[1]
    use_table = table.shape[0] > 0
    n_chunks = (n_rows + CHUNK - 1) // CHUNK
    max_nodes = 1
    for t in range(n_trees):
        max_nodes = max(max_nodes, tree_start[t + 1] - tree_start[t])
    for ch in prange(n_chunks):
        r0 = ch * CHUNK
        nr = min(n_rows, r0 + CHUNK) - r0
        went = np.empty((max_nodes, CHUNK), np.bool_)
        alpha = np.empty((max_nodes, CHUNK), np.int64)
        scale = np.empty((CHUNK, n_bg))
        acc_a = np.empty(64)
        acc = np.zeros((d, CHUNK))
        for i in range(nr):
            r = r0 + i
            for bi in range(n_bg):
                dx = fx[r, 0] - fb[bi, 0]
                if transform == 1:
                    tx = 1.0 / (1.0 + np.exp(-fx[r, 0]))
                    tb = 1.0 / (1.0 + np.exp(-fb[bi, 0]))
                else:
                    tx = fx[r, 0]
                    tb = fb[bi, 0]
                s = (tx - tb) / dx if dx != 0.0 else 0.0
                if weighted:
                    s *= bg_mass[bi]
                scale[i, bi] = s
        for t in range(n_trees):
            start = tree_start[t]
            for v in range(start, tree_start[t + 1]):
                if left[v] < 0:
                    continue
                f = feature[v]
                for i in range(nr):
                    went[v - start, i] = goes_left(
                        X[r0 + i, f], v, threshold, default_left, kind, cs, cl, co, cd
                    )
            for i in range(nr):
                alpha[0, i] = -1
            for v in range(start, tree_start[t + 1]):
                if left[v] < 0:
                    continue
                bit = ~(np.int64(1) << node_slot[v])
                vv, lv, rv = v - start, left[v] - start, right[v] - start
                for i in range(nr):
                    g = np.int64(went[vv, i])
                    a = alpha[vv, i]
                    alpha[lv, i] = a & (bit | -g)
                    alpha[rv, i] = a & (bit | (g - 1))
            for v in range(start, tree_start[t + 1]):
                if left[v] >= 0:
                    continue
                li = leaf_pos[v]
                m = n_feats[li]
                if m == 0:
                    continue
                full = (np.int64(1) << m) - 1
                val = value[v, 0]
                for i in range(nr):
                    a = alpha[v - start, i] & full
                    nb = m - _popcount(a)
                    sum_b = 0.0
                    for s in range(m):
                        acc_a[s] = 0.0
                    g0 = leaf_groups[li]
                    n_look = leaf_groups[li + 1] - g0
                    need = full & ~a
                    sub = a
                    if use_table:
                        n_look = 1 << 62
                    for look in range(n_look):
                        if use_table:  # supersets need | sub of need, sub running down a
                            g = table[table_start[li] + (need | sub)]
                            done = sub == 0
                            sub = (sub - 1) & a
                            if g < 0:
                                if done:
                                    break
                                continue
                        else:
                            g = g0 + look
                            done = False
                            if (a | group_pattern[g]) != full:
                                continue
                        a_bits = a & ~group_pattern[g]
                        na = _popcount(a_bits)
                        if na + nb > 0:
                            w = 0.0
                            for u in range(group_start[g], group_start[g + 1]):
                                w += scale[i, members[u]]
                            if nb > 0:
                                sum_b += w * coef_b[na, nb]
                            if na > 0:
                                ca = w * coef_a[na, nb]
                                for s in range(m):
                                    if (a_bits >> s) & 1:
                                        acc_a[s] += ca
                        if done:
                            break
                    for s in range(m):
                        if (a >> s) & 1:
                            acc[feats[li, s], i] += val * acc_a[s]
                        else:
                            acc[feats[li, s], i] -= val * sum_b
        for f in range(d):
            for i in range(nr):
                out[r0 + i, f, 0] = acc[f, i] / norm
