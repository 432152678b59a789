"""Tree readers and the TreeShap explainer, against each library's own numbers."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from _tree_cases import ALL, case
from pellucid import DataError, Explanation
from pellucid.tree import TreeShap, partial_dependence_recursion, read_ensemble
from pellucid.tree._compute import decisions
from pellucid.tree._explainer import to_matrix

ROWS = 40  # rows explained per case: enough to hit NaN rows and every category


def gap_tol(name: str) -> float:
    """additivity_gap is measured against the model's own output: XGBoost's is float32."""
    return 1e-6 if name.startswith("xgb") else 1e-9


@pytest.mark.parametrize("name", ALL)
def test_reader_reproduces_library_raw_output(name):
    model, X, raw, _ = case(name)
    ens = read_ensemble(model)
    Xa, _ = to_matrix(X, ens)
    # XGBoost and CatBoost sum leaves in float32; 1e-6 covers their rounding
    np.testing.assert_allclose(ens.predict_raw(Xa), raw(X), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_values_equal_library_shap_and_add_up(name):
    model, X, raw, ref = case(name)
    rows = X.iloc[:ROWS] if isinstance(X, pd.DataFrame) else X[:ROWS]
    exp = TreeShap(model).explain(rows)
    assert isinstance(exp, Explanation)
    assert exp.method == "tree_shap"
    values = exp.values if exp.values.ndim == 3 else exp.values[..., None]
    if ref is not None:
        np.testing.assert_allclose(values, ref(rows), rtol=1e-6, atol=1e-6)
    assert exp.additivity_gap is not None
    np.testing.assert_allclose(exp.additivity_gap, 0.0, atol=1e-6)
    output = exp.output if exp.output.ndim == 2 else exp.output[:, None]
    np.testing.assert_allclose(output, raw(rows), rtol=1e-6, atol=1e-6)


def _path_expectation(ens, Xa_row_dirs, S, t):
    """E[f_t(x) | x_S] by the cover-weighted recursion, one tree (reference)."""
    out = np.zeros(ens.value.shape[1])

    def walk(node, w):
        nonlocal out
        if ens.left[node] < 0:
            out = out + w * ens.value[node]
            return
        if ens.feature[node] in S:
            walk(ens.left[node] if Xa_row_dirs[node] else ens.right[node], w)
        else:
            c = ens.cover[node]
            fl = ens.cover[ens.left[node]] / c
            walk(ens.left[node], w * fl)
            walk(ens.right[node], w * (1 - fl))

    walk(int(ens.tree_start[t]), 1.0)
    return out


def _shapley(v, d):
    phi = np.zeros((d,) + np.shape(v(frozenset())))
    for i in range(d):
        others = [j for j in range(d) if j != i]
        for size in range(d):
            w = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for S in itertools.combinations(others, size):
                S = frozenset(S)
                phi[i] += w * (v(S | {i}) - v(S))
    return phi


@pytest.mark.parametrize(
    "name",
    ["hgb_reg_nan_cat", "hgb_clf2_labels", "hgb_clf3_nan", "gb_clf3", "iforest", "lgb_multi"],
)
def test_path_dependent_equals_enumeration(name):
    model, X, _, _ = case(name)
    ens = read_ensemble(model)
    Xa, _ = to_matrix(X, ens)
    rows = Xa[:6]
    dirs = decisions(ens, rows)
    exp = TreeShap(model).explain(X.iloc[:6] if isinstance(X, pd.DataFrame) else rows)
    values = exp.values if exp.values.ndim == 3 else exp.values[..., None]
    for r in range(len(rows)):

        def v(S, r=r):
            total = np.zeros(ens.n_outputs)
            for t in range(ens.n_trees):
                e = _path_expectation(ens, dirs[r], S, t)
                o = ens.tree_output[t]
                if o >= 0:
                    total[o] += e[0]
                else:
                    total += e[: ens.n_outputs]
            return total

        np.testing.assert_allclose(values[r], _shapley(v, ens.n_features), atol=1e-9)


@pytest.mark.parametrize("name", ["xgb_reg", "xgb_multi", "xgb_multi_cat"])
def test_interactions_equal_xgboost(name):
    import xgboost as xgb

    model, X, _, _ = case(name)
    rows = X.iloc[:ROWS] if isinstance(X, pd.DataFrame) else X[:ROWS]
    ts = TreeShap(model)
    inter = ts.explain_interactions(rows)
    ref = model.get_booster().predict(
        xgb.DMatrix(rows, enable_categorical=name.endswith("_cat")), pred_interactions=True
    )
    ref = ref[..., None] if ref.ndim == 3 else np.moveaxis(ref, 1, -1)
    got = inter.values if inter.values.ndim == 4 else inter.values[..., None]
    np.testing.assert_allclose(got, ref[:, :-1, :-1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["rf_clf2", "gb_clf3", "hgb_reg_nan_cat", "lgb_multi", "cb_reg"])
def test_interactions_symmetric_and_sum_to_values(name):
    model, X, _, _ = case(name)
    ts = TreeShap(model)
    inter = ts.explain_interactions(X[:ROWS])
    values = ts.explain(X[:ROWS]).values
    I = inter.values if inter.values.ndim == 4 else inter.values[..., None]
    phi = values if values.ndim == 3 else values[..., None]
    np.testing.assert_allclose(I, I.transpose(0, 2, 1, 3), atol=1e-12)
    np.testing.assert_allclose(I.sum(axis=2), phi, atol=1e-9)
    np.testing.assert_allclose(inter.additivity_gap, 0.0, atol=1e-9)


def test_interactions_equal_shap_for_a_forest():
    import shap

    model, X, _, _ = case("rf_clf2")
    got = TreeShap(model).explain_interactions(X[:10]).values
    ref = np.asarray(shap.TreeExplainer(model).shap_interaction_values(X[:10]))
    ref = ref if ref.shape[-1] == 2 else np.moveaxis(ref, 0, -1)
    np.testing.assert_allclose(got, ref, atol=1e-9)


@pytest.mark.parametrize("name", ["gb_clf2", "lgb_reg", "xgb_multi", "rf_reg_multi"])
def test_interventional_equals_enumeration(name):
    model, X, raw, _ = case(name)
    ens = read_ensemble(model)
    Xa, _ = to_matrix(X, ens)
    background, rows = Xa[100:130], Xa[:4]
    exp = TreeShap(model, background).explain(rows)
    values = exp.values if exp.values.ndim == 3 else exp.values[..., None]
    d = ens.n_features
    subsets = [frozenset(S) for k in range(d + 1) for S in itertools.combinations(range(d), k)]
    for r in range(len(rows)):
        # every hybrid (x on S, background elsewhere) in one library call
        Z = np.tile(background, (len(subsets), 1))
        for s, S in enumerate(subsets):
            cols = sorted(S)
            Z[s * len(background) : (s + 1) * len(background), cols] = rows[r, cols]
        f = raw(Z).reshape(len(subsets), len(background), -1).mean(axis=1)
        table = dict(zip(subsets, f, strict=True))
        np.testing.assert_allclose(values[r], _shapley(table.__getitem__, d), atol=1e-6)
    np.testing.assert_allclose(exp.additivity_gap, 0.0, atol=gap_tol(name))
    np.testing.assert_allclose(
        exp.base_values[0], np.squeeze(ens.predict_raw(background).mean(axis=0)), atol=1e-12
    )


@pytest.mark.parametrize("name", ["hgb_reg_nan_cat", "xgb_multi_cat", "rf_reg_multi"])
def test_interventional_tables_equal_pairwise_kernel(name):
    """The per-leaf tables (raw output's fast path) against every (row, background) pair,
    over several row chunks with a partial last one, with NaN and categorical splits."""
    from pellucid.tree._compute import InterventionalTables, PathTables, interventional_shap

    model, X, _, _ = case(name)
    ens = read_ensemble(model)
    Xa, _ = to_matrix(X, ens)
    background, rows = Xa[200:240], Xa[:150]
    tables = InterventionalTables(ens, decisions(ens, background), PathTables(ens))
    fast = interventional_shap(ens, rows, background, agg_tables=tables)
    pairwise = interventional_shap(ens, rows, background)
    np.testing.assert_allclose(fast, pairwise, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("name", "output"),
    [("gb_clf2", "raw"), ("gb_clf2", "probability"), ("xgb_bin", "probability")],
)  # fmt: skip
def test_interventional_equals_shap(name, output):
    import shap

    model, X, _, _ = case(name)
    background, rows = X[100:150], X[:20]
    got = TreeShap(model, background, output=output).explain(rows)
    ex = shap.TreeExplainer(
        model, data=background, feature_perturbation="interventional", model_output=output
    )
    ref = np.asarray(ex.shap_values(rows))
    np.testing.assert_allclose(got.values, ref, atol=1e-6)
    np.testing.assert_allclose(
        got.base_values, np.broadcast_to(ex.expected_value, (20,)), atol=1e-6
    )
    # output is the model's own: XGBoost sums its trees in float32 (1e-7 relative and more)
    tol = 1e-6 if name.startswith("xgb") else 1e-12
    np.testing.assert_allclose(got.additivity_gap, 0.0, atol=max(tol, 1e-9))
    np.testing.assert_allclose(
        TreeShap(model, background, output=output).predict(rows), got.output, rtol=tol
    )
    if output == "probability":
        np.testing.assert_allclose(got.output, model.predict_proba(rows)[:, 1], atol=max(tol, 1e-9))


@pytest.mark.parametrize("name", ["gb_reg", "gb_clf2", "gb_clf3", "hgb_clf3_nan"])
@pytest.mark.parametrize("features", [[1], [0, 2]])
def test_pd_recursion_equals_sklearn(name, features):
    from sklearn.inspection import partial_dependence

    model, X, _, _ = case(name)
    Xf = np.nan_to_num(X)
    ref = partial_dependence(model, Xf, features, method="recursion", grid_resolution=8)
    grid = np.stack(np.meshgrid(*ref["grid_values"], indexing="ij"), -1).reshape(-1, len(features))
    got = partial_dependence_recursion(model, grid, features, include_base=False)
    expected = ref["average"].reshape(ref["average"].shape[0], -1).T
    np.testing.assert_allclose(got.reshape(len(grid), -1), expected, atol=1e-9)
    with_base = partial_dependence_recursion(model, grid, features)
    base = read_ensemble(model).base
    np.testing.assert_allclose(with_base.reshape(len(grid), -1), expected + base, atol=1e-9)


def test_explanation_shapes_names_and_outputs():
    model, X, _, _ = case("xgb_multi_cat")
    exp = TreeShap(model).explain(X.iloc[:5])
    assert exp.values.shape == (5, 5, 3)
    assert exp.feature_names == ("a", "b", "c", "d", "e")
    assert exp.output_names == ("0", "1", "2")
    assert exp.base_values.shape == (5, 3)
    single = TreeShap(case("gb_reg")[0]).explain(case("gb_reg")[1][:3])
    assert single.values.shape == (3, 4) and single.output_names is None
    assert single.feature_names == ("x0", "x1", "x2", "x3")


def test_registry_and_public_name():
    import pellucid
    from pellucid import _registry

    spec = _registry.spec("tree_shap")
    assert spec.kind == "attribution" and spec.exact and spec.additive
    assert pellucid.get_method("tree_shap") is pellucid.TreeShap is TreeShap


def test_explain_reads_the_old_name_treeshap_as_tree_shap():
    import pellucid

    model, X, _, _ = case("gb_reg")
    by_alias = pellucid.explain(model, X[:5], method="treeshap")
    by_name = pellucid.explain(model, X[:5], method="tree_shap")
    assert by_alias.method == by_name.method == "tree_shap"
    np.testing.assert_array_equal(by_alias.values, by_name.values)  # the same method


def test_an_old_result_saved_as_treeshap_loads_as_tree_shap():
    model, X, _, _ = case("gb_reg")
    exp = TreeShap(model).explain(X[:3])
    # A result saved before the rename: the same JSON, method "treeshap".
    old = exp.to_json().replace('"method": "tree_shap"', '"method": "treeshap"')
    assert '"method": "treeshap"' in old
    loaded = Explanation.from_json(old)
    assert loaded.method == "tree_shap"
    np.testing.assert_array_equal(loaded.values, exp.values)
    assert Explanation.from_json(exp.to_json()).method == "tree_shap"


def test_bad_input_is_named():
    model, X, _, _ = case("gb_reg")
    ts = TreeShap(model)
    with pytest.raises(DataError, match="3 columns but the model uses 4"):
        ts.explain(X[:, :3])
    frame = pd.DataFrame(X[:3], columns=list("abcd")).assign(d=["u", "v", "w"])
    with pytest.raises(DataError, match="Column 'd'"):
        TreeShap(case("gb_reg")[0]).explain(frame)
    with pytest.raises(ValueError, match="needs background"):
        TreeShap(model, output="probability")
    with pytest.raises(ValueError, match="logistic link"):
        TreeShap(model, X[:10], output="probability")
    with pytest.raises(TypeError, match="cannot read"):
        TreeShap(object())
    xmodel, Xx, _, _ = case("xgb_reg_cat")
    with pytest.raises(DataError, match="different order"):
        TreeShap(xmodel).explain(Xx.iloc[:3, ::-1])


def test_pellucid_import_does_not_load_numba():
    code = "import pellucid, pellucid.tree, sys; assert 'numba' not in sys.modules, 'numba loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_category_labels_map_as_the_model_encodes_them():
    model, X, raw, _ = case("hgb_clf2_labels")
    ts = TreeShap(model)
    rows = X.iloc[:ROWS]
    exp = ts.explain(rows)
    assert exp.data[0, 4] == rows["tier"].iloc[0] or pd.isna(rows["tier"].iloc[0])
    np.testing.assert_array_equal(ts.predict(rows), exp.output)
    # the same labels as plain objects, and unknown labels (missing to the model, too)
    plain = rows.astype({"tier": object, "zone": "int64"})
    np.testing.assert_array_equal(ts.explain(plain).values, exp.values)
    unknown = rows.astype({"tier": object})
    unknown.loc[unknown.index[:3], "tier"] = "platinum"
    np.testing.assert_allclose(ts.explain(unknown).output, raw(unknown)[:, 0], atol=1e-9)
    with pytest.raises(DataError, match="'a'"):
        ts.explain(rows.assign(a="x"))
