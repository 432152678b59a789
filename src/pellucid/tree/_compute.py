"""Array-level computations over a TreeEnsemble (the compiled kernels' drivers)."""

from __future__ import annotations

import numpy as np

from ._ensemble import TreeEnsemble

__all__ = [
    "PathTables",
    "expected_value",
    "interventional_shap",
    "path_dependent_interactions",
    "path_dependent_shap",
    "quadrature",
]


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
        self.parent, self.prev, self.qcomb, self.F, self.invF, self.H = path_tables(
            ens.left, ens.right, ens.feature, ens.cover, ens.tree_start, self.t_nodes, self.w_nodes
        )
        self.max_nodes = int(np.diff(ens.tree_start).max(initial=1))
        self.max_depth = ens.max_depth


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


def path_dependent_interactions(
    ens: TreeEnsemble, Xa: np.ndarray, tables: PathTables
) -> np.ndarray:
    """SHAP interaction values (n, d, d, n_outputs) for prepared rows ``Xa``."""
    from ._kernels import path_interactions_kernel

    d = ens.n_features
    out = np.zeros((Xa.shape[0], d, d, ens.n_outputs), dtype=np.float64)
    path_interactions_kernel(
        Xa,
        *ens.kernel_arrays(),
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
    from ._kernels import decisions_kernel

    a = ens.kernel_arrays()
    out = np.zeros((Xa.shape[0], ens.n_nodes), dtype=np.bool_)
    decisions_kernel(Xa, ens.left, ens.feature, *a[3:10], out)
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


def interventional_shap(
    ens: TreeEnsemble,
    Xa: np.ndarray,
    Ba: np.ndarray,
    *,
    transform: int = 0,
    background_dirs: np.ndarray | None = None,
) -> np.ndarray:
    """Interventional SHAP values (n, d, n_outputs) of prepared rows against background ``Ba``.

    ``transform`` 0 explains the raw output, 1 the logistic of it (shap's rescaling).
    """
    from ._kernels import interventional_kernel

    depth = ens.max_depth
    coef_a, coef_b = _shapley_coefficients(depth)
    Bdir = decisions(ens, Ba) if background_dirs is None else background_dirs
    Xdir = decisions(ens, Xa)
    fx = np.empty((Xa.shape[0], ens.n_outputs))
    fb = np.empty((Ba.shape[0], ens.n_outputs))
    if transform:
        from ._kernels import predict_kernel

        predict_kernel(Xa, *ens.kernel_arrays(), ens.base, fx)
        predict_kernel(Ba, *ens.kernel_arrays(), ens.base, fb)
    out = np.zeros((Xa.shape[0], ens.n_features, ens.n_outputs), dtype=np.float64)
    interventional_kernel(
        Xa, Xdir, Bdir, ens.left, ens.right, ens.feature, ens.value, ens.tree_start,
        ens.tree_output, coef_a, coef_b, fx, fb, int(transform), depth, out,
    )  # fmt: skip
    return out
