"""Compiled kernels for interventional TreeSHAP: values against background rows, pair by
pair or from per-leaf tables of background patterns (see ``_kernels.py``)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._kernels import CHUNK, goes_left, rows_kernel


@rows_kernel
def interventional_kernel(
    X, Xdir, Bdir, nodes, coef_a, coef_b, fx, fb, transform, max_depth, bg_mass, norm, out
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
    left, right, feature = nodes.left, nodes.right, nodes.feature
    value, tree_start, tree_output = nodes.value, nodes.tree_start, nodes.tree_output
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
    X, nodes, node_slot, leaf_pos, feats, n_feats, offsets, Z, out, pred
):  # fmt: skip
    """Interventional SHAP values from the per-leaf background tables, linear in the rows,
    and the raw model output ``pred`` from the same directions.

    Loops run leaf by leaf over a chunk of rows, so one leaf's table (2^m (m + 1)
    numbers) stays in cache while every row of the chunk looks its pattern up in it:
    row by row, each leaf's lookup would be a cache miss into the whole table.
    """
    left, right, feature = nodes.left, nodes.right, nodes.feature
    value, tree_start, tree_output = nodes.value, nodes.tree_start, nodes.tree_output
    base_out = nodes.base
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
                    went[v - start, i] = goes_left(X[r0 + i, f], v, nodes)
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


@njit(inline="always", cache=True)
def _popcount(x):
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


@rows_kernel
def interventional_pattern_kernel(
    X, nodes, node_slot, leaf_pos, feats, n_feats, leaf_groups, group_pattern, group_start,
    members, table_start, table, fx, fb, transform, bg_mass, weighted, norm, coef_a, coef_b, out,
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
    left, right, feature = nodes.left, nodes.right, nodes.feature
    value, tree_start = nodes.value, nodes.tree_start
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
                    went[v - start, i] = goes_left(X[r0 + i, f], v, nodes)
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
