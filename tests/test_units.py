"""One unit rule: pellucid.explain explains a classifier's class probabilities, the
same shape for a bare model, a Pipeline, a tree ensemble or any other model, and
records the unit in Explanation.output_kind; output= asks for the others."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import pellucid
from pellucid.shapley._explain import CostWarning


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] + X["b"] * X["c"] > 0).astype(int)
    return X, y


def _classifiers():
    out = {
        "gbc": lambda: GradientBoostingClassifier(n_estimators=20, random_state=0),
        "rf": lambda: RandomForestClassifier(n_estimators=20, random_state=0),
        "svc": lambda: SVC(probability=True, random_state=0),
        "logistic": lambda: LogisticRegression(),
    }
    try:
        import xgboost

        out["xgboost"] = lambda: xgboost.XGBClassifier(n_estimators=20)
    except ImportError:  # pragma: no cover - optional
        pass
    try:
        import lightgbm

        out["lightgbm"] = lambda: lightgbm.LGBMClassifier(n_estimators=20, verbose=-1)
    except ImportError:  # pragma: no cover - optional
        pass
    return out


CLASSIFIERS = _classifiers()


@pytest.mark.parametrize("wrapped", ["bare", "pipeline"])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_binary_classifiers_are_explained_as_both_class_probabilities(data, name, wrapped):
    X, y = data
    model = CLASSIFIERS[name]()
    if wrapped == "pipeline":
        model = make_pipeline(StandardScaler(), model)
    model.fit(X, y)
    rows = X.iloc[:6]
    exp = pellucid.explain(model, rows, background=X.iloc[:40], random_state=0)
    assert exp.output_kind == "probability"
    assert exp.values.shape == (6, 4, 2) and exp.output_names == ("0", "1")
    # the model's own predict_proba is the oracle (float32 libraries: their precision)
    np.testing.assert_allclose(exp.output, model.predict_proba(rows), rtol=0, atol=1e-6)
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-6)
    np.testing.assert_allclose(exp.values[..., 0], -exp.values[..., 1], atol=1e-6)


@pytest.mark.parametrize("name", ["gbc", "logistic", "xgboost", "lightgbm"])
def test_log_odds_on_request(data, name):
    if name not in CLASSIFIERS:
        pytest.skip(f"{name} not installed")
    X, y = data
    model = CLASSIFIERS[name]().fit(X, y)
    rows = X.iloc[:6]
    exp = pellucid.explain(model, rows, background=X.iloc[:40], output="log_odds")
    assert exp.output_kind == "log_odds" and exp.values.shape == (6, 4)
    np.testing.assert_allclose(
        exp.output, logit(model.predict_proba(rows)[:, 1].astype(float)), atol=1e-5
    )
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-6)


def test_raw_margin_of_an_svm_is_named_so(data):
    X, y = data
    svc = SVC(random_state=0).fit(X, y)  # no predict_proba: raw is the only unit
    exp = pellucid.explain(svc, X.iloc[:3], background=X.iloc[:30], output="raw")
    assert exp.output_kind == "raw_margin"
    np.testing.assert_allclose(exp.output, svc.decision_function(X.iloc[:3]), atol=1e-12)


def test_regressors_are_explained_as_their_prediction(data):
    from sklearn.ensemble import GradientBoostingRegressor

    X, _ = data
    reg = GradientBoostingRegressor(n_estimators=10, random_state=0).fit(X, X["a"])
    pipe = make_pipeline(StandardScaler(), GradientBoostingRegressor(n_estimators=10)).fit(
        X, X["a"]
    )
    for model in (reg, pipe):
        exp = pellucid.explain(model, X.iloc[:4], background=X.iloc[:30])
        assert exp.output_kind == "regression" and exp.values.shape == (4, 4)
        np.testing.assert_allclose(exp.output, model.predict(X.iloc[:4]), atol=1e-12)


def test_the_sampled_and_exact_explainers_record_the_unit(data):
    X, y = data
    clf = LogisticRegression().fit(X, y)
    bg = X.iloc[:20]
    for cls in (pellucid.ExactShap, pellucid.KernelShap, pellucid.PermutationShap):
        assert cls(clf, bg).explain(X.iloc[:2]).output_kind == "probability"
        margin = pellucid.Model(clf, output="raw")  # logistic margin: log-odds, checked
        assert cls(margin, bg).explain(X.iloc[:2]).output_kind == "log_odds"
    assert pellucid.KernelShap(clf, bg, link="logit").explain(X.iloc[:2]).output_kind == (
        "log_odds"
    )


def test_a_unit_treeshap_cannot_give_falls_back_with_its_cost(data):
    X, y = data
    rf = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    with pytest.warns(CostWarning, match=r"exact_shap instead: about 4,200 model evaluations"):
        exp = pellucid.explain(rf, X.iloc[:3], background=X.iloc[:100], output="log_odds")
    assert exp.method == "exact_shap" and exp.output_kind == "log_odds"


def test_output_must_be_a_known_unit(data):
    X, y = data
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="output must be one of"):
        pellucid.explain(clf, X.iloc[:2], background=X, output="logit")
    with pytest.raises(ValueError, match="needs a classifier"):
        pellucid.explain(
            lambda Z: np.asarray(Z)[:, 0], X.to_numpy()[:2], X.to_numpy(), output="probability"
        )
