"""Array-level computations over a TreeEnsemble (the compiled kernels' drivers)."""

from __future__ import annotations

import numpy as np

from ._ensemble import TreeEnsemble

__all__ = ["PathTables", "expected_value", "path_dependent_shap", "quadrature"]


def quadrature(depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1], exact for polynomials of degree < depth."""
    k = max(1, (int(depth) + 1) // 2)
    x, w = np.polynomial.legendre.leggauss(k)
    return (x + 1.0) / 2.0, w / 2.0


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
        from ._kernels import path_tables

        self.t_nodes, self.w_nodes = quadrature(ens.max_depth)
        self.parent, self.prev, self.F, self.invF, self.H = path_tables(
            ens.left, ens.right, ens.feature, ens.cover, ens.tree_start, self.t_nodes, self.w_nodes
        )
        self.max_nodes = int(np.diff(ens.tree_start).max(initial=1))


def path_dependent_shap(ens: TreeEnsemble, Xa: np.ndarray, tables: PathTables) -> np.ndarray:
    """SHAP values (n, n_features, n_outputs) for prepared rows ``Xa``."""
    from ._kernels import path_shap_kernel

    out = np.zeros((Xa.shape[0], ens.n_features, ens.n_outputs), dtype=np.float64)
    path_shap_kernel(
        Xa,
        *ens.kernel_arrays(),
        tables.parent,
        tables.prev,
        tables.F,
        tables.invF,
        tables.H,
        tables.max_nodes,
        out,
    )
    return out
