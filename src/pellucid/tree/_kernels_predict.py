"""Compiled kernels that walk rows down the trees: raw predictions, leaf indices, split
decisions, partial dependence by recursion and exact ICE (see ``_kernels.py``)."""

from __future__ import annotations

import numpy as np
from numba import prange

from ._kernels import CHUNK, goes_left, leaf_of, rows_kernel


@rows_kernel
def predict_kernel(X, nodes, out):
    """out[r, j] = the raw model output j of row r (``TreeEnsemble.predict_raw``)."""
    value, tree_start, tree_output, base = (
        nodes.value,
        nodes.tree_start,
        nodes.tree_output,
        nodes.base,
    )
    n_rows = X.shape[0]
    n_trees = tree_start.shape[0] - 1
    n_out = out.shape[1]
    for r in prange(n_rows):
        x = X[r]
        for j in range(n_out):
            out[r, j] = base[j]
        for t in range(n_trees):
            leaf = leaf_of(x, tree_start[t], nodes)
            o = tree_output[t]
            if o >= 0:
                out[r, o] += value[leaf, 0]
            else:
                for j in range(n_out):
                    out[r, j] += value[leaf, j]


@rows_kernel
def leaf_index_kernel(X, nodes, out):
    """out[r, t] = the leaf row r reaches in tree t."""
    tree_start = nodes.tree_start
    for r in prange(X.shape[0]):
        for t in range(tree_start.shape[0] - 1):
            out[r, t] = leaf_of(X[r], tree_start[t], nodes)


@rows_kernel
def decisions_kernel(X, nodes, out):
    """out[r, n] = whether row r goes left at internal node n."""
    left, feature = nodes.left, nodes.feature
    for r in prange(X.shape[0]):
        for n in range(left.shape[0]):
            if left[n] >= 0:
                out[r, n] = goes_left(X[r, feature[n]], n, nodes)


@rows_kernel
def pd_recursion_kernel(grid, targets, nodes, base, out):
    """Partial dependence by recursion: out[g, j] = base[j] + sum over trees of the leaf values
    reached following grid point g on target features and cover fractions elsewhere
    (``base`` is the ensemble's, or zeros as scikit-learn's recursion leaves it out)."""
    left, right, feature, cover = nodes.left, nodes.right, nodes.feature, nodes.cover
    value, tree_start, tree_output = nodes.value, nodes.tree_start, nodes.tree_output
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
                    if goes_left(grid[g, pos], n, nodes):
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


@rows_kernel
def ice_kernel(X, target, split_pos, n_grid, nodes, link, out):
    """ICE of one numeric feature: out[r, g, :] = link(model output of row r with x_target = grid[g]).

    The grid is sorted; ``split_pos[n]`` is the number of grid values ``<= threshold[n]`` for
    splits on the target. Each tree is walked once per row carrying the index range of grid
    values that reach the node: x's own branch at other splits, both (range cut at
    ``split_pos``) at target splits. A leaf adds its value to its range through a difference
    array, so the cost is rows x reachable leaves, not rows x grid x depth.
    link: 0 identity, 1 exp, 2 binary logistic (out gets [1 - p, p]), 3 softmax.
    """
    left, right, feature, value = nodes.left, nodes.right, nodes.feature, nodes.value
    tree_start, tree_output, base = nodes.tree_start, nodes.tree_output, nodes.base
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
                        if goes_left(x[feature[n]], n, nodes):
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
