"""The split-wise, rows-innermost path-dependent kernel against the per-row kernel."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from _tree_cases import case
from pellucid.tree import read_ensemble
from pellucid.tree._compute import PathTables, path_dependent_shap
from pellucid.tree._explainer import to_matrix
from pellucid.tree._kernels_path import path_shap_kernel


def _per_row(ens, Xa, tables):
    out = np.zeros((Xa.shape[0], ens.n_features, ens.n_outputs))
    path_shap_kernel(Xa, ens.nodes, tables.parent, tables.prev, tables.T, tables.max_nodes, out)
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


# every split kind (NaN, categorical, zero-as-missing), multi-column trees
# (tree_output -1) and per-class trees (tree_output >= 0)
PREDICT_CASES = [
    "hgb_reg_nan_cat", "xgb_reg_cat", "xgb_multi_cat", "lgb_reg_zero", "dt_reg_nan",
    "rf_reg_multi", "et_clf3", "gb_clf3", "cb_multi", "iforest",
]  # fmt: skip


@pytest.mark.parametrize("name", PREDICT_CASES)
def test_numpy_predict_is_the_kernel_bytes(name):
    """Small inputs are predicted in numpy (no compile on a cold start); the sums must be
    the kernel's bytes, since the probability path feeds them back into a kernel."""
    from pellucid.tree._kernels_predict import predict_kernel

    model, X, _, _ = case(name)
    ens = read_ensemble(model)
    Xa, _ = to_matrix(X, ens)
    kernel = np.empty((Xa.shape[0], ens.n_outputs))
    predict_kernel(Xa, ens.nodes, kernel)
    ours = np.empty_like(kernel)
    ens._predict_numpy(Xa, ours)
    assert ours.tobytes() == kernel.tobytes()


@pytest.mark.parametrize(
    "name", ["xgb_reg_cat", "gb_clf3", "rf_reg_multi", "lgb_reg_zero", "xgb_bin", "gb_clf2"]
)
def test_serial_and_parallel_kernels_give_the_same_bytes(name):
    """Small problems run the serial compilation of each rows kernel, others the parallel
    one: both must answer the same bytes (path-dependent, interventional tables, the
    probability rescaling)."""
    from contextlib import nullcontext

    from pellucid import TreeShap
    from pellucid.tree._kernels import small_problem

    model, X, _, _ = case(name)
    rows, bg = X[:70], X[100:130]
    threads = numba.get_num_threads()
    answers = []
    try:
        for t in (1, 2):
            numba.set_num_threads(min(t, numba.config.NUMBA_NUM_THREADS))
            serial = small_problem() if t == 1 else nullcontext()
            ens = read_ensemble(model)
            Xa, _ = to_matrix(rows, ens)
            tables = PathTables(ens)
            Ba = to_matrix(bg, ens)[0]
            outputs = ["raw", "probability"] if ens.link == "logistic" else ["raw"]
            with serial:
                answers.append(
                    [path_dependent_shap(ens, Xa, tables), _per_row(ens, Xa, tables)]
                    + [TreeShap(ens, Ba, output=o)._explain(rows, Xa, ()).values for o in outputs]
                )
    finally:
        numba.set_num_threads(threads)
    from pellucid.tree._kernels_path import path_shap_rows_kernel

    assert path_shap_rows_kernel._serial is not None  # the serial twin did run
    assert path_shap_rows_kernel._parallel is not None
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread: the parallel kernels never run")
    for serial, parallel in zip(*answers, strict=True):
        assert serial.tobytes() == parallel.tobytes()


# one-output ensembles: NaN and categorical splits, zero-as-missing, deep trees with
# repeated features, symmetric trees, and binary classifiers
PATTERN_CASES = [
    "gb_clf2", "xgb_bin", "lgb_bin", "cb_bin", "hgb_reg_nan_cat", "xgb_reg_cat",
    "lgb_reg_zero", "dt_reg_nan", "gb_reg",
]  # fmt: skip


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", PATTERN_CASES)
def test_pattern_kernel_equals_pairwise_kernel(name, weighted):
    """The leaf-by-leaf sum over background patterns gives the pairwise walk's
    pair-rescaled values (shap's probability definition) on every row, over several
    chunks of rows and with weighted background rows."""
    from pellucid.tree._compute import (
        BackgroundPatterns,
        LeafPaths,
        decisions,
        interventional_shap,
    )

    model, X, _, _ = case(name)
    ens = read_ensemble(model)
    Xa, _ = to_matrix(X, ens)
    background, rows = Xa[200:237], Xa[:150]
    weights = None
    if weighted:
        weights = np.random.default_rng(0).random(background.shape[0])
        weights /= weights.sum()
    dirs = decisions(ens, background)
    patterns = BackgroundPatterns(ens, dirs, LeafPaths(ens, PathTables(ens)))
    assert BackgroundPatterns.applies(ens)
    kw = dict(transform=1, background_weights=weights, background_dirs=dirs)
    assert patterns.table.size > 0
    fast = interventional_shap(ens, rows, background, patterns=patterns, **kw)
    pairwise = interventional_shap(ens, rows, background, **kw)
    scale = np.abs(pairwise).max()
    assert scale > 0
    np.testing.assert_allclose(fast, pairwise, rtol=1e-10, atol=1e-12 * scale)
    patterns.table = np.empty(0, np.int64)  # too many patterns for a table: scan them
    scanned = interventional_shap(ens, rows, background, patterns=patterns, **kw)
    np.testing.assert_allclose(scanned, pairwise, rtol=1e-10, atol=1e-12 * scale)


def test_kernels_take_the_ensembles_arrays_as_one_named_structure():
    """``TreeEnsemble.nodes`` hands the kernels the ensemble's own arrays (no copies), by
    name, and every compiled kernel family reads them through it."""
    import inspect

    from pellucid.tree import _kernels_interventional, _kernels_path, _kernels_predict
    from pellucid.tree._kernels import NodeArrays, RowsKernel

    model, _, _, _ = case("xgb_reg_cat")
    ens = read_ensemble(model)
    nodes = ens.nodes
    assert isinstance(nodes, NodeArrays)
    assert nodes is ens.nodes  # built once
    for name in NodeArrays._fields:
        assert getattr(nodes, name) is getattr(ens, name), name
    kernels = [
        obj
        for module in (_kernels_predict, _kernels_path, _kernels_interventional)
        for obj in vars(module).values()
        if (isinstance(obj, RowsKernel) or hasattr(obj, "py_func"))
        and obj.py_func.__module__ == module.__name__  # not the shared helpers imported
    ]
    assert len(kernels) >= 12
    split_arrays = {"threshold", "default_left", "kind", "cat_start", "cat_len", "cs", "cd"}
    walkers = 0
    for kernel in kernels:
        params = set(inspect.signature(kernel.py_func).parameters)
        assert not split_arrays & params, kernel.py_func.__name__
        walkers += "nodes" in params
    # every kernel that walks rows down the trees; the table builders take a few arrays
    assert walkers >= 10
