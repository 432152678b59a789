"""Backgrounds: refused when none can be built, summarize() results everywhere, large ones
summarised (and said so); unknown method names; fallbacks that say what they cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import pellucid
from pellucid.shapley._explain import MAX_BACKGROUND_ROWS


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 5)), columns=[f"x{i}" for i in range(5)])
    y = (X["x0"] + X["x1"] * X["x2"] > 0).astype(int)
    return X, y, LogisticRegression().fit(X, y)


def test_one_row_without_background_is_refused_naming_background(frame):
    X, _, clf = frame
    # before: the row was its own background and every value exactly 0
    with pytest.raises(ValueError, match=r"explain needs background=: X has 1 row"):
        pellucid.explain(clf, X.iloc[[0]])


def test_a_summarize_result_is_a_background_everywhere(frame):
    X, _, clf = frame
    bg = pellucid.summarize(X, 30, random_state=0)
    rows = X.iloc[:2]
    for cls in (pellucid.ExactShap, pellucid.KernelShap, pellucid.PermutationShap):
        exp = cls(clf, bg).explain(rows)
        np.testing.assert_allclose(exp.base_values[0], bg.weights @ clf.predict_proba(bg.data))
    exp = pellucid.explain(clf, rows, background=bg)
    np.testing.assert_allclose(exp.base_values[0], bg.weights @ clf.predict_proba(bg.data))
    result = pellucid.quality.stability("kernel_shap", clf, rows, data=bg, seeds=2, budget=64)
    assert np.isfinite(result.sensitivity).all()


def test_a_summarize_result_is_a_background_of_treeshap_in_explain(frame):
    from sklearn.ensemble import GradientBoostingClassifier

    X, y, _ = frame
    gbc = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y)
    bg = pellucid.summarize(X, 30, random_state=0)
    exp = pellucid.explain(gbc, X.iloc[:3], background=bg)
    assert exp.method == "tree_shap" and exp.values.shape == (3, 5, 2)
    np.testing.assert_allclose(exp.base_values[0], bg.weights @ gbc.predict_proba(bg.data))


def test_a_large_background_is_summarised_and_said_so(frame):
    X, _, clf = frame
    exp = pellucid.explain(clf, X.iloc[[0]], background=X, random_state=0)
    assert exp.params["background_summarized"] == "400 rows -> 100 weighted medoids"
    assert exp.params["n_background"] == 100
    # the medoids' weighted mean output is close to the full background's
    full = clf.predict_proba(X).mean(axis=0)
    np.testing.assert_allclose(exp.base_values[0], full, atol=0.02)


def test_a_background_up_to_the_threshold_is_used_whole_and_exactly(frame):
    X, _, clf = frame
    bg = X.iloc[:MAX_BACKGROUND_ROWS]
    exp = pellucid.explain(clf, X.iloc[:2], background=bg)
    assert "background_summarized" not in exp.params
    np.testing.assert_allclose(
        exp.values, pellucid.ExactShap(clf, bg).explain(X.iloc[:2]).values, atol=1e-14
    )


def test_unknown_method_names_suggest_the_nearest(frame):
    X, _, clf = frame
    with pytest.raises(
        ValueError, match=r"Unknown method 'kernelshap'\. Did you mean 'kernel_shap'"
    ):
        pellucid.explain(clf, X.iloc[:2], background=X.iloc[:20], method="kernelshap")
    with pytest.raises(KeyError, match=r"Did you mean 'tree_shap'"):
        pellucid.get_method("treeshapp")


def test_an_array_for_a_model_fitted_on_a_frame_is_taken_by_position(frame):
    X, _, clf = frame
    arr = X.to_numpy()
    exp = pellucid.explain(clf, arr[:2], background=arr[:30])
    np.testing.assert_allclose(exp.output, clf.predict_proba(X.iloc[:2]), atol=1e-14)
