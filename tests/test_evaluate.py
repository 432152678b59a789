"""evaluate() equals sklearn.metrics to 1e-12, overall and per subgroup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from pellucid import DataError, Model, evaluate

TOL = dict(rtol=1e-12, atol=1e-12)


def _close(a, b):
    np.testing.assert_allclose(a, b, **TOL)


def _check_binary(ev, clf, X, y):
    proba = clf.predict_proba(X)
    p1 = proba[:, 1]
    pred = clf.classes_[proba.argmax(axis=1)]
    m = ev.metrics
    _close(m["accuracy"], skm.accuracy_score(y, pred))
    _close(m["balanced_accuracy"], skm.balanced_accuracy_score(y, pred))
    _close(m["precision"], skm.precision_score(y, pred, zero_division=0))
    _close(m["recall"], skm.recall_score(y, pred, zero_division=0))
    _close(m["f1"], skm.f1_score(y, pred, zero_division=0))
    _close(m["roc_auc"], skm.roc_auc_score(y, p1))
    _close(m["pr_auc"], skm.average_precision_score(y, p1))
    _close(m["log_loss"], skm.log_loss(y, proba, labels=clf.classes_))
    _close(m["brier"], skm.brier_score_loss(y, p1))
    np.testing.assert_array_equal(ev.confusion_matrix, skm.confusion_matrix(y, pred))
    # below 1,000 rows quantile bins (evenly cut ones are nearly empty), as scikit-learn's
    strategy = "quantile" if len(y) < 1000 else "uniform"
    prob_true, prob_pred = calibration_curve(y, p1, n_bins=10, strategy=strategy)
    _close(ev.calibration.prob_true, prob_true)
    _close(ev.calibration.prob_pred, prob_pred)
    counts = ev.calibration.counts
    assert counts.sum() == len(y) and counts.shape == prob_true.shape
    assert np.all(ev.calibration.low <= prob_true + 1e-12)
    assert np.all(prob_true <= ev.calibration.high + 1e-12)


def test_binary_overall_and_by_group():
    X, y = make_classification(n_samples=600, n_features=5, random_state=1)
    groups = np.where(X[:, 0] > 0, "a", "b")
    clf = LogisticRegression().fit(X, y)
    ev = evaluate(clf, X, y, subgroups=groups)
    _check_binary(ev, clf, X, y)
    assert set(ev.by_group) == {"a", "b"}
    for g, sub in ev.by_group.items():
        idx = groups == g
        _check_binary(sub, clf, X[idx], y[idx])
        assert sub.n_rows == idx.sum()
    frame = ev.to_frame()
    assert list(frame.index) == ["all", *ev.by_group]
    _close(frame.loc["a", "f1"], ev.by_group["a"].metrics["f1"])


def test_binary_string_labels_and_group_column():
    X, y = make_classification(n_samples=400, n_features=4, random_state=2)
    frame = pd.DataFrame(X, columns=list("abcd")).assign(region=np.where(X[:, 1] > 0, "n", "s"))
    labels = np.where(y == 1, "bad", "good")
    clf = LogisticRegression().fit(frame[list("abcd")], labels)

    def model(Xf):
        return clf.predict_proba(Xf[list("abcd")])

    m = Model(model, task="binary", classes=clf.classes_)
    ev = evaluate(m, frame, labels, subgroups="region")
    pos = clf.classes_[1]
    proba = clf.predict_proba(frame[list("abcd")])
    pred = clf.classes_[proba.argmax(axis=1)]
    _close(ev.metrics["f1"], skm.f1_score(labels, pred, pos_label=pos))
    _close(ev.metrics["roc_auc"], skm.roc_auc_score(labels == pos, proba[:, 1]))
    assert ev.group_name == "region" and set(ev.by_group) == {"n", "s"}


def test_multiclass():
    X, y = make_classification(
        n_samples=500, n_features=6, n_informative=4, n_classes=3, random_state=3
    )
    clf = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    groups = (X[:, 2] > 0).astype(int)
    ev = evaluate(clf, X, y, subgroups=groups)
    for sub, idx in [(ev, slice(None)), *((ev.by_group[g], groups == g) for g in (0, 1))]:
        Xs, ys = X[idx], y[idx]
        proba = clf.predict_proba(Xs)
        pred = proba.argmax(axis=1)
        m = sub.metrics
        _close(m["accuracy"], skm.accuracy_score(ys, pred))
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            _close(m[name], fn(ys, pred, average="macro", zero_division=0))
            _close(m[f"{name}_weighted"], fn(ys, pred, average="weighted", zero_division=0))
            _close(
                [m[f"{name}_class_{c}"] for c in range(3)],
                fn(ys, pred, average=None, zero_division=0),
            )
        _close(m["roc_auc"], skm.roc_auc_score(ys, proba, multi_class="ovr"))
        onehot = np.eye(3)[ys]
        _close(m["pr_auc"], skm.average_precision_score(onehot, proba))
        _close(m["log_loss"], skm.log_loss(ys, proba, labels=[0, 1, 2]))
        _close(m["brier"], np.mean(((proba - onehot) ** 2).sum(axis=1)))
        np.testing.assert_array_equal(sub.confusion_matrix, skm.confusion_matrix(ys, pred))


def test_regression_and_weights():
    X, y = make_regression(n_samples=300, n_features=4, noise=5.0, random_state=4)
    y = y + 500  # keep MAPE finite
    reg = LinearRegression().fit(X, y)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    groups = np.where(X[:, 0] > 0, "hi", "lo")
    ev = evaluate(reg, X, y, subgroups=groups, sample_weight=w)
    for sub, idx in [(ev, slice(None)), *((ev.by_group[g], groups == g) for g in ("hi", "lo"))]:
        pred = reg.predict(X[idx])
        ys, ws = y[idx], w[idx]
        _close(sub.metrics["r2"], skm.r2_score(ys, pred, sample_weight=ws))
        _close(sub.metrics["mae"], skm.mean_absolute_error(ys, pred, sample_weight=ws))
        _close(sub.metrics["rmse"], skm.root_mean_squared_error(ys, pred, sample_weight=ws))
        _close(sub.metrics["mape"], skm.mean_absolute_percentage_error(ys, pred, sample_weight=ws))
        _close(sub.metrics["median_ae"], skm.median_absolute_error(ys, pred, sample_weight=ws))
    assert ev.task == "regression"


def test_single_class_subgroup_gives_nan_auc_not_error():
    X, y = make_classification(n_samples=200, n_features=4, random_state=5)
    clf = LogisticRegression().fit(X, y)
    groups = np.where(y == 1, "only_pos", "only_neg")
    ev = evaluate(clf, X, y, subgroups=groups)
    assert np.isnan(ev.by_group["only_pos"].metrics["roc_auc"])
    assert np.isfinite(ev.metrics["roc_auc"])


def test_bad_inputs_named():
    X, y = make_classification(n_samples=50, n_features=4, random_state=6)
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(DataError, match="X has 50 rows but y has 49"):
        evaluate(clf, X, y[:-1])
    with pytest.raises(DataError, match="label 7 at row 0"):
        evaluate(clf, X, np.r_[7, y[1:]])
    with pytest.raises(DataError, match="subgroups='zone' is not a column"):
        evaluate(clf, X, y, subgroups="zone")
    with pytest.raises(DataError, match="subgroups has shape"):
        evaluate(clf, X, y, subgroups=np.zeros(3))
    with pytest.raises(DataError, match="sample_weight has shape"):
        evaluate(clf, X, y, sample_weight=np.ones(3))


def test_to_dict_is_json_ready():
    import json

    X, y = make_classification(n_samples=100, n_features=4, random_state=7)
    ev = evaluate(LogisticRegression().fit(X, y), X, y, subgroups=(X[:, 0] > 0))
    payload = json.loads(json.dumps(ev.to_dict()))
    assert payload["task"] == "binary" and "by_group" in payload
