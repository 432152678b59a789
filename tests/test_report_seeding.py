"""The report seeds each section on its own: giving y does not change the rows explained."""

from __future__ import annotations

import numpy as np
import pytest

import pellucid
from pellucid.reporting import compute

SMALL = {
    "shap_rows": 40,
    "effect_rows": 30,
    "importance_rows": 60,
    "importance_repeats": 2,
    "lime_samples": 200,
    "top_features": 2,
    "trust_rows": 3,
    "counterfactual_rows": 0,
}


@pytest.fixture(scope="module")
def with_and_without_y():
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = pellucid.datasets.credit(n_rows=300, random_state=2)
    X = X.select_dtypes("number")
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    methods = ["tree_shap", "permutation_importance", "partial_dependence"]
    kw = dict(methods=methods, random_state=7, settings=SMALL)
    return compute(model, X, y, **kw), compute(model, X, **kw)


def test_rows_explained_do_not_depend_on_y(with_and_without_y):
    with_y, without_y = with_and_without_y
    assert with_y.permutation is not None and without_y.permutation is None  # y was used
    np.testing.assert_array_equal(with_y.shap_rows, without_y.shap_rows)
    assert with_y.shap.to_json() == without_y.shap.to_json()
    assert [lr.row for lr in with_y.local] == [lr.row for lr in without_y.local]
    assert [p.to_json() for p in with_y.pd] == [p.to_json() for p in without_y.pd]


def test_the_report_reads_the_old_name_treeshap_as_tree_shap():
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = pellucid.datasets.credit(n_rows=200, random_state=3)
    X = X.select_dtypes("number")
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    kw = dict(random_state=7, settings=SMALL)
    old, new = (compute(model, X, methods=[name], **kw) for name in ("treeshap", "tree_shap"))
    assert old.shap is not None and old.shap.method == "tree_shap"
    assert len(old.shap_rows) == SMALL["shap_rows"]  # TreeShap's row count, not the agnostic one
    assert old.shap.to_json() == new.shap.to_json()
