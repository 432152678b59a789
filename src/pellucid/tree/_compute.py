"""Array-level computations over a TreeEnsemble (the compiled kernels' drivers)."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ._ensemble import TreeEnsemble

__all__ = [
    "InterventionalTables",
    "PathTables",
    "background_mass",
    "expected_value",
    "interventional_shap",
    "path_dependent_interactions",
    "path_dependent_shap",
    "quadrature",
]


def quadrature(depth: int, multiple: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1], exact for polynomials of degree < depth.

    Padded with zero-weight points at t = 1/2 to a multiple of ``multiple``
    (the kernels' block width).
    """
    k = max(1, (int(depth) + 1) // 2)
    x, w = np.polynomial.legendre.leggauss(k)
    pad = (-k) % multiple
    t = np.r_[(x + 1.0) / 2.0, np.full(pad, 0.5)]
    return t, np.r_[w / 2.0, np.zeros(pad)]


def expected_value(ens: TreeEnsemble) -> np.ndarray:
    """Cover-weighted mean output (the path-dependent base value), shape (n_outputs,)."""
    out = ens.base.astype(np.float64).copy()
    for t in range(ens.n_trees):
        s, e = int(ens.tree_start[t]), int(ens.tree_start[t + 1])
        leaf = np.flatnonzero(ens.left[s:e] < 0) + s
        root_cover = ens.cover[s]
        w = ens.cover[leaf] / root_cover if root_cover > 0 else np.zeros(len(leaf))
        contrib = w @ ens.value[leaf]
        o = int(ens.tree_output[t])
        if o >= 0:
            out[o] += contrib[0]
        else:
            out += contrib[: ens.n_outputs]
    return out


class PathTables:
    """Row-independent tables for path-dependent TreeSHAP, computed once per ensemble."""

    def __init__(self, ens: TreeEnsemble) -> None:
        from ._kernels_path import path_tables

        self.t_nodes, self.w_nodes = quadrature(ens.max_depth)
        n, K = ens.n_nodes, self.t_nodes.shape[0]
        self.parent = np.full(n, -1, np.int64)
        self.prev = np.full(n, -1, np.int64)
        self.qcomb = np.ones(n)
        self.F = np.ones((n, 2, K))
        self.invF = np.ones((n, 2, K))
        self.H = np.zeros((n, 2, K))
        # the table builders run once per ensemble and read a few arrays: passed alone, they
        # compile faster than with the whole NodeArrays (a cold start's cost)
        path_tables(
            ens.left, ens.right, ens.feature, ens.cover, ens.tree_start, self.t_nodes,
            self.w_nodes, self.parent, self.prev, self.qcomb, self.F, self.invF, self.H,
        )  # fmt: skip
        self.max_nodes = int(np.diff(ens.tree_start).max(initial=1))
        self.max_depth = ens.max_depth
        # every tree adds one column to one output: the split-wise rows kernel applies
        self.single = bool(ens.value.shape[1] == 1 or np.all(ens.tree_output >= 0))
        if self.single:
            self._split_tables(ens)

    @cached_property
    def T(self) -> np.ndarray:
        """The per-row kernel's table, one contiguous block per node: F, 1/F, H for p = 0, 1
        (built only when that kernel runs: multi-column trees)."""
        return np.ascontiguousarray(np.concatenate([self.F, self.invF, self.H], axis=1))

    def _split_tables(self, ens: TreeEnsemble) -> None:
        """Per internal node j (parents first): its children's path factors M[j, s, child]
        and edge weights H[j, s, child] for s = 2 pp + g (g: the row goes left, pp: the
        indicator of the nearest ancestor edge on the same feature, 1 if none)."""
        inode = np.flatnonzero(ens.left >= 0)
        tree = np.searchsorted(ens.tree_start, inode, side="right") - 1
        ts = ens.tree_start[tree]
        lc, rc = ens.left[inode], ens.right[inode]
        pv = self.prev[lc]  # the same for both children: they split on the node's feature
        has = pv >= 0
        pvs = np.where(has, pv, 0)
        K = self.t_nodes.shape[0]
        M = np.empty((inode.shape[0], 4, 2, K))
        H = np.empty((inode.shape[0], 4, 2, K))
        leaf_value = np.where(ens.left < 0, ens.value[:, 0], 1.0)
        for pp in (0, 1):
            inv = np.where(has[:, None], self.invF[pvs, pp], 1.0)
            hprev = np.where(has[:, None], self.H[pvs, pp], 0.0)
            for g in (0, 1):
                for side, c, pe in ((0, lc, g), (1, rc, 1 - g)):
                    p = np.where(has, pe * pp, pe)
                    M[:, 2 * pp + g, side] = self.F[c, p] * inv * leaf_value[c][:, None]
                    H[:, 2 * pp + g, side] = self.H[c, p] - hprev
        # splits with two leaf children finish in the down pass (see the kernel)
        bottom = (ens.left[lc] < 0) & (ens.left[rc] < 0)
        M0, M1 = M[bottom, :, 0].copy(), M[bottom, :, 1]
        M[bottom, :, 1] = M0 * H[bottom, :, 0] + M1 * H[bottom, :, 1]
        M[bottom, :, 0] = M0 + M1
        ploc = np.where(has, pv - ts, self.max_nodes)
        zero = np.zeros_like(inode)
        self.I = np.ascontiguousarray(
            np.stack(
                [inode, ens.feature[inode], inode - ts, lc - ts, rc - ts, ploc, bottom, zero], 1
            ),
            dtype=np.int64,
        )
        self.istart = np.searchsorted(inode, ens.tree_start).astype(np.int64)
        self.up = np.flatnonzero(~bottom).astype(np.int64)
        self.ustart = np.searchsorted(self.up, self.istart).astype(np.int64)
        self.M, self.H_split = M, H
        self.tree_out = np.maximum(ens.tree_output, 0)  # one column: output 0 when -1


def _chunk(n_rows: int, per_row: int) -> int:
    """Rows per parallel task: up to 32 (a tree's tables are read once per task and its
    ``per_row`` products per row stay in cache, within 4 MiB), but at least four tasks
    per thread so that threads finish together."""
    import numba

    cap = max(1, min(32, (4 << 20) // (8 * max(per_row, 1))))
    return max(1, min(cap, -(-n_rows // (4 * numba.get_num_threads()))))


def path_dependent_shap(ens: TreeEnsemble, Xa: np.ndarray, tables: PathTables) -> np.ndarray:
    """SHAP values (n, n_features, n_outputs) for prepared rows ``Xa``."""
    from ._kernels_path import path_shap_kernel, path_shap_rows_kernel

    out = np.zeros((Xa.shape[0], ens.n_features, ens.n_outputs), dtype=np.float64)
    if tables.single:
        path_shap_rows_kernel(
            Xa, ens.nodes, tables.I, tables.istart, tables.up, tables.ustart, tables.tree_out, tables.M, tables.H_split, tables.max_nodes,
            _chunk(Xa.shape[0], tables.max_nodes * tables.M.shape[3]), out,
        )  # fmt: skip
        return out
    path_shap_kernel(Xa, ens.nodes, tables.parent, tables.prev, tables.T, tables.max_nodes, out)
    return out


def path_dependent_interactions(
    ens: TreeEnsemble, Xa: np.ndarray, tables: PathTables
) -> np.ndarray:
    """SHAP interaction values (n, d, d, n_outputs) for prepared rows ``Xa``."""
    from ._kernels_path import path_interactions_kernel

    d = ens.n_features
    out = np.zeros((Xa.shape[0], d, d, ens.n_outputs), dtype=np.float64)
    path_interactions_kernel(
        Xa,
        ens.nodes,
        tables.parent,
        tables.prev,
        tables.qcomb,
        tables.F,
        tables.invF,
        tables.w_nodes,
        tables.max_nodes,
        tables.max_depth,
        out,
    )
    return out


def decisions(ens: TreeEnsemble, Xa: np.ndarray) -> np.ndarray:
    """(n, n_nodes) booleans: does each row go left at each internal node."""
    from ._kernels_predict import decisions_kernel

    out = np.zeros((Xa.shape[0], ens.n_nodes), dtype=np.bool_)
    decisions_kernel(Xa, ens.nodes, out)
    return out


def _shapley_coefficients(depth: int) -> tuple[np.ndarray, np.ndarray]:
    """coef_a[a, b] = (a-1)! b! / (a+b)!, coef_b[a, b] = a! (b-1)! / (a+b)!."""
    from math import factorial

    n = depth + 2
    coef_a = np.zeros((n, n))
    coef_b = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a + b == 0:
                continue
            total = factorial(a + b)
            if a > 0:
                coef_a[a, b] = factorial(a - 1) * factorial(b) / total
            if b > 0:
                coef_b[a, b] = factorial(a) * factorial(b - 1) / total
    return coef_a, coef_b


# Per-leaf tables hold 2^m (m + 1) numbers for a path with m distinct features; above this
# many numbers in all the pairwise kernel is used instead.
MAX_TABLE_SIZE = 20_000_000


class LeafPaths:
    """Each leaf's path: its edges (child nodes, leaf up), each edge's slot among the
    path's distinct features, those features and their count, and each internal node's
    slot (see ``_kernels_interventional.leaf_paths``)."""

    def __init__(self, ens: TreeEnsemble, tables: PathTables) -> None:
        from ._kernels_interventional import leaf_paths

        depth = ens.max_depth
        self.leaves = np.flatnonzero(ens.left < 0)
        n, n_leaves = ens.n_nodes, self.leaves.shape[0]
        self.leaf_pos = np.full(n, -1, np.int64)
        self.node_slot = np.full(n, -1, np.int64)
        self.edges = np.full((n_leaves, depth + 1), -1, np.int64)
        self.slots = np.zeros((n_leaves, depth + 1), np.int64)
        self.feats = np.full((n_leaves, depth + 1), -1, np.int64)
        self.n_edges = np.zeros(n_leaves, np.int64)
        self.n_feats = np.zeros(n_leaves, np.int64)
        leaf_paths(
            ens.left, ens.feature, tables.parent, self.leaves, self.leaf_pos, self.edges,
            self.slots, self.feats, self.n_edges, self.n_feats, self.node_slot,
        )  # fmt: skip
        self.parent = tables.parent


# background patterns are int64 bit sets over a path's distinct features
MAX_PATTERN_SLOTS = 62
MAX_PATTERN_TABLE = 1 << 24


class BackgroundPatterns:
    """Per leaf, the background rows grouped by which of the path's features' conditions
    they meet (bit s: every condition on the path's feature s), for
    ``_kernels_interventional.interventional_pattern_kernel``."""

    def __init__(self, ens: TreeEnsemble, background_dirs: np.ndarray, paths: LeafPaths) -> None:
        n_leaves, n_bg = paths.leaves.shape[0], background_dirs.shape[0]
        one = np.int64(1)
        pattern = np.repeat((np.left_shift(one, paths.n_feats) - one)[:, None], n_bg, axis=1)
        for e in range(paths.edges.shape[1]):
            on = np.flatnonzero(paths.edges[:, e] >= 0)
            child = paths.edges[on, e]
            par = paths.parent[child]
            failed = background_dirs[:, par].T != (ens.left[par] == child)[:, None]
            bit = np.left_shift(one, paths.slots[on, e])[:, None]
            pattern[on] &= ~np.where(failed, bit, np.int64(0))
        leaf = np.repeat(np.arange(n_leaves), n_bg)
        flat = pattern.ravel()
        rows = np.tile(np.arange(n_bg), n_leaves)
        order = np.lexsort((rows, flat, leaf))
        leaf, flat = leaf[order], flat[order]
        first = np.flatnonzero(np.r_[True, (leaf[1:] != leaf[:-1]) | (flat[1:] != flat[:-1])])
        self.group_pattern = np.ascontiguousarray(flat[first])
        self.group_start = np.r_[first, flat.shape[0]].astype(np.int64)
        self.members = rows[order].astype(np.int64)
        self.leaf_groups = np.searchsorted(leaf[first], np.arange(n_leaves + 1)).astype(np.int64)
        self.paths = paths
        # each leaf's group per pattern, where the 2^m entries per leaf fit in 128 MiB
        sizes = np.left_shift(np.int64(1), np.minimum(paths.n_feats, 40))
        self.table_start = np.r_[0, np.cumsum(sizes)].astype(np.int64)
        self.table = np.empty(0, np.int64)
        if self.table_start[-1] <= MAX_PATTERN_TABLE:
            self.table = np.full(self.table_start[-1], -1, np.int64)
            group_leaf = leaf[first]
            self.table[self.table_start[group_leaf] + self.group_pattern] = np.arange(
                first.shape[0]
            )

    @staticmethod
    def applies(ens: TreeEnsemble) -> bool:
        """One output from one value column, and paths of at most 62 distinct features."""
        return ens.n_outputs == 1 and ens.value.shape[1] == 1 and ens.max_depth <= MAX_PATTERN_SLOTS


class InterventionalTables:
    """Row-independent tables for interventional TreeSHAP with one background set.

    Each leaf gets, for every pattern of which path features a row meets, the
    Shapley weights summed over the background rows (grouped by which path
    features each fails), so a row costs O(nodes + leaves x depth) however many
    background rows there are.
    """

    def __init__(
        self,
        ens: TreeEnsemble,
        background_dirs: np.ndarray,
        tables: PathTables,
        background_weights: np.ndarray | None = None,
    ) -> None:
        from ._kernels_interventional import interventional_leaf_tables

        # the paths' edges are needed to build the tables only; a row's lookup walks the
        # tree with the nodes' slots
        p = LeafPaths(ens, tables)
        self.leaf_pos, self.node_slot, self.feats, self.n_feats = (
            p.leaf_pos,
            p.node_slot,
            p.feats,
            p.n_feats,
        )
        sizes = (np.left_shift(1, self.n_feats)) * (self.n_feats + 1)
        self.offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
        coef_a, coef_b = _shapley_coefficients(ens.max_depth)
        mass, norm = background_mass(background_dirs.shape[0], background_weights)
        self.Z = interventional_leaf_tables(
            background_dirs, ens.left, tables.parent, p.leaves, p.edges, p.slots, p.n_edges,
            self.n_feats, self.offsets, coef_a, coef_b, mass, norm,
        )  # fmt: skip

    @staticmethod
    def size(ens: TreeEnsemble) -> int:
        """Upper bound on the table size: 2^depth (depth + 1) per leaf."""
        depth = min(ens.max_depth, 40)
        return int(ens.n_leaves) * (2**depth) * (depth + 1)


def background_mass(n_bg: int, weights: np.ndarray | None) -> tuple[np.ndarray, float]:
    """What each background row counts and the divisor: (ones, n) for equal weights (the
    plain mean, bytes as before), (weights, 1) for weights that sum to one."""
    if weights is None:
        return np.ones(n_bg), float(n_bg)
    return np.ascontiguousarray(weights, dtype=np.float64), 1.0


def interventional_shap(
    ens: TreeEnsemble,
    Xa: np.ndarray,
    Ba: np.ndarray,
    *,
    transform: int = 0,
    background_weights: np.ndarray | None = None,
    background_dirs: np.ndarray | None = None,
    agg_tables: InterventionalTables | None = None,
    raw_out: np.ndarray | None = None,
    patterns: BackgroundPatterns | None = None,
) -> np.ndarray:
    """Interventional SHAP values (n, d, n_outputs) of prepared rows against background ``Ba``.

    ``transform`` 0 explains the raw output, 1 the logistic of it (shap's
    pair-by-pair rescaling, which needs every (row, background row) pair).
    With ``agg_tables`` (raw output only) the cost is linear in the rows, and
    ``raw_out`` (n, n_outputs), if given, receives the raw model output.
    ``background_weights`` (summing to one) weight the background rows; None: equal.
    With ``patterns`` (``transform`` 1) the pairs are summed leaf by leaf over the
    background's patterns (``_kernels_interventional.interventional_pattern_kernel``), not walked.
    """
    from ._kernels_interventional import interventional_agg_kernel, interventional_kernel

    out = np.zeros((Xa.shape[0], ens.n_features, ens.n_outputs), dtype=np.float64)
    if agg_tables is not None and transform == 0:
        t = agg_tables
        interventional_agg_kernel(
            Xa, ens.nodes, t.node_slot, t.leaf_pos, t.feats, t.n_feats, t.offsets, t.Z, out,
            np.empty((Xa.shape[0], ens.n_outputs)) if raw_out is None else raw_out,
        )  # fmt: skip
        return out
    if transform and patterns is not None:
        return _pattern_shap(ens, Xa, Ba, transform, background_weights, patterns)
    Xdir = decisions(ens, Xa)
    depth = ens.max_depth
    coef_a, coef_b = _shapley_coefficients(depth)
    Bdir = decisions(ens, Ba) if background_dirs is None else background_dirs
    fx = np.empty((Xa.shape[0], ens.n_outputs))
    fb = np.empty((Ba.shape[0], ens.n_outputs))
    if transform:
        from ._kernels_predict import predict_kernel

        predict_kernel(Xa, ens.nodes, fx)
        predict_kernel(Ba, ens.nodes, fb)
    mass, norm = background_mass(Ba.shape[0], background_weights)
    interventional_kernel(
        Xa, Xdir, Bdir, ens.nodes, coef_a, coef_b, fx, fb, int(transform), depth, mass, norm, out,
    )  # fmt: skip
    return out


def _pattern_shap(
    ens: TreeEnsemble,
    Xa: np.ndarray,
    Ba: np.ndarray,
    transform: int,
    background_weights: np.ndarray | None,
    patterns: BackgroundPatterns,
) -> np.ndarray:
    from ._kernels_interventional import interventional_pattern_kernel

    out = np.zeros((Xa.shape[0], ens.n_features, 1), dtype=np.float64)
    fx = ens.predict_raw(Xa)
    fb = ens.predict_raw(Ba)
    coef_a, coef_b = _shapley_coefficients(ens.max_depth)
    mass, norm = background_mass(Ba.shape[0], background_weights)
    p, g = patterns.paths, patterns
    interventional_pattern_kernel(
        Xa, ens.nodes, p.node_slot, p.leaf_pos, p.feats, p.n_feats, g.leaf_groups, g.group_pattern, g.group_start, g.members,
        g.table_start, g.table, fx, fb,
        int(transform), mass, bool(background_weights is not None), norm, coef_a, coef_b, out,
    )  # fmt: skip
    return out
