"""The split-wise, rows-innermost path-dependent kernel against the per-row kernel."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from _tree_cases import case
from pellucid.tree import read_ensemble
from pellucid.tree._compute import PathTables, path_dependent_shap
from pellucid.tree._explainer import to_matrix
from pellucid.tree._kernels import path_shap_kernel


def _per_row(ens, Xa, tables):
    out = np.zeros((Xa.shape[0], ens.n_features, ens.n_outputs))
    path_shap_kernel(
        Xa, *ens.kernel_arrays(), tables.parent, tables.prev, tables.T, tables.max_nodes, out
    )
    return out


# NaN and categorical splits, LightGBM's zero-as-missing, a one-column multi-output
# forest (tree_output -1), symmetric trees, per-class boosting (tree_output >= 0)
@pytest.mark.parametrize(
    "name", ["hgb_reg_nan_cat", "xgb_reg_cat", "lgb_reg_zero", "dt_reg_nan", "cb_reg", "gb_clf3"]
)
def test_split_kernel_equals_per_row_kernel(name):
    model, X, _, _ = case(name)
    ens = read_ensemble(model)
    Xa, _ = to_matrix(X, ens)
    tables = PathTables(ens)
    assert tables.single
    threads = numba.get_num_threads()
    try:
        for t in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(t)
            for n in (1, 7, 67):  # one row, a short chunk, several chunks and a remainder
                rows = np.ascontiguousarray(Xa[:n])
                np.testing.assert_allclose(
                    path_dependent_shap(ens, rows, tables),
                    _per_row(ens, rows, tables),
                    rtol=1e-12,
                    atol=1e-12,
                )
    finally:
        numba.set_num_threads(threads)
