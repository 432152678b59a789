"""evaluate() never answers a silent NaN: float32 probabilities are renormalised in
float64 before the log loss, a metric that cannot be computed says why, and the
target may be named as a column of X."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from pellucid import DataError, evaluate


class Float32Proba(LogisticRegression):
    """A classifier whose probabilities are float32, as XGBoost's are."""

    def predict_proba(self, X):
        return super().predict_proba(X).astype(np.float32)


def _oracle_log_loss(y, proba, labels):
    """scikit-learn's log loss of the model's own probabilities, renormalised in float64."""
    p = np.asarray(proba, dtype=np.float64)
    return skm.log_loss(y, p / p.sum(axis=1, keepdims=True), labels=labels)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_float32_probabilities_give_the_log_loss(n_classes):
    X, y = make_classification(
        n_samples=600, n_features=6, n_informative=4, n_classes=n_classes, random_state=0
    )
    clf = Float32Proba(max_iter=500).fit(X, y)
    proba = clf.predict_proba(X)
    # The float32 rows miss 1 by more than scikit-learn's float64 tolerance...
    assert np.abs(proba.astype(np.float64).sum(axis=1) - 1).max() > 1e-9
    ev = evaluate(clf, X, y)
    # ...and the log loss is still the model's own, not NaN.
    np.testing.assert_allclose(
        ev.metrics["log_loss"], _oracle_log_loss(y, proba, clf.classes_), rtol=1e-12
    )
    # Renormalising moves it by float32 rounding only.
    exact = skm.log_loss(y, LogisticRegression.predict_proba(clf, X), labels=clf.classes_)
    np.testing.assert_allclose(ev.metrics["log_loss"], exact, rtol=1e-5)
    assert "log_loss" not in ev.notes


@pytest.mark.parametrize("objective", ["binary:logistic", "multi:softprob"])
def test_xgboost_classifier_in_memory_has_a_log_loss(objective):
    xgb = pytest.importorskip("xgboost")
    n_classes = 2 if objective.startswith("binary") else 3
    X, y = make_classification(
        n_samples=500, n_features=6, n_informative=4, n_classes=n_classes, random_state=1
    )
    model = xgb.XGBClassifier(n_estimators=30, max_depth=3, objective=objective).fit(X, y)
    ev = evaluate(model, X, y)
    expected = _oracle_log_loss(y, model.predict_proba(X), model.classes_)
    np.testing.assert_allclose(ev.metrics["log_loss"], expected, rtol=1e-12)
    assert ev.notes == {}


def test_probabilities_that_are_not_probabilities_say_why():
    X, y = make_classification(n_samples=100, n_features=4, random_state=2)

    class Broken(LogisticRegression):
        def predict_proba(self, X):
            p = super().predict_proba(X)
            p[3] *= 1.3
            return p

    ev = evaluate(Broken().fit(X, y), X, y)
    assert np.isnan(ev.metrics["log_loss"])
    assert "row 3 are not probabilities" in ev.notes["log_loss"]
    assert ev.to_dict()["notes"]["log_loss"] == ev.notes["log_loss"]


def test_undefined_metric_in_a_subgroup_says_why():
    X, y = make_classification(n_samples=200, n_features=4, random_state=5)
    ev = evaluate(LogisticRegression().fit(X, y), X, y, subgroups=np.where(y == 1, "pos", "neg"))
    only_pos = ev.by_group["pos"]
    assert np.isnan(only_pos.metrics["roc_auc"])
    assert "one class" in only_pos.notes["roc_auc"].lower()
    assert "roc_auc" not in ev.notes


def test_target_named_as_a_column_of_X():
    X, y = make_classification(n_samples=300, n_features=4, random_state=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = LogisticRegression().fit(frame, y)
    with_target = frame.assign(default=y)
    by_name = evaluate(clf, with_target, "default")
    by_values = evaluate(clf, frame, y)
    assert by_name.metrics == by_values.metrics
    np.testing.assert_array_equal(by_name.confusion_matrix, by_values.confusion_matrix)
    grouped = evaluate(clf, with_target, "default", subgroups="a")
    assert len(grouped.by_group) == 300
    with pytest.raises(DataError, match=r"y='target' is not a column of X; columns: \['a', 'b'"):
        evaluate(clf, with_target, "target")
    with pytest.raises(DataError, match="names a target column, but X is a ndarray"):
        evaluate(clf, X, "default")
