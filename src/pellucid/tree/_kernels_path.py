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

import numpy as np
from numba import njit, prange

from ._kernels import CHUNK, by_state, goes_left, rows_kernel


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
def path_shap_kernel(X, nodes, parent, prev, T, max_nodes, out):
    """out[r, i, j] += path-dependent SHAP value of feature i for output j (out zeroed by caller).

    ``T[c]`` stacks F (rows 0-1), 1/F (rows 2-3) and H (rows 4-5) for p = 0, 1.
    The number of quadrature points is padded to a multiple of 4 (zero weights),
    so the inner loops run in blocks of 4 that LLVM unrolls and vectorises. Rows are processed in chunks tree by tree, so one
    tree's tables stay in cache while the chunk's rows pass through it.
    """
    left, right, feature = nodes.left, nodes.right, nodes.feature
    value, tree_start, tree_output = nodes.value, nodes.tree_start, nodes.tree_output
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
                    gl[0] = goes_left(x[feature[ts]], ts, nodes)
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
                        gl[lc] = goes_left(x[feature[c]], c, nodes)
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
    X, nodes, I, istart, up, ustart, tree_out, M, H, max_nodes, chunk, out
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
                    if goes_left(X[r0 + r, f], n, nodes):
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
    X, nodes, parent, prev, qcomb, F, invF, w_nodes, max_nodes, max_depth, out
):  # fmt: skip
    """out[r, i, j, o] += SHAP interaction values (path-dependent), out zeroed by the caller.

    Per leaf: Phi_ab = 1/2 value (p_a - q_a)(p_b - q_b) Int prod_{j != a, b} f_j(t) dt
    for a != b, and the diagonal makes each row sum to the SHAP value.
    """
    left, feature = nodes.left, nodes.feature
    value, tree_start, tree_output = nodes.value, nodes.tree_start, nodes.tree_output
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
                        gl[lc] = goes_left(x[feature[c]], c, nodes)
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
