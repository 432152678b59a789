"""Every result type prints a short summary, never its arrays, and has a notebook view.

repr(ModelEvaluation) was 68,807 characters; PartialDependence, quality results
and Anchor printed every array of their generated dataclass repr.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pellucid
from pellucid import (
    Anchor,
    Explanation,
    FeatureImportance,
    HStatistic,
    Predicate,
)
from pellucid.quality import (
    AgreementResult,
    CurveResult,
    GroundTruthResult,
    MethodTrust,
    QualityScore,
    SanityCheckResult,
    StabilityResult,
    TrustSummary,
)

LIMIT = 500


@pytest.fixture(scope="module")
def credit_model():
    from sklearn.linear_model import LogisticRegression

    data = pellucid.datasets.credit(1500)
    X = data.X.select_dtypes("number")
    X = X.fillna(X.median())  # credit() has missing values; LogisticRegression refuses them
    model = LogisticRegression(max_iter=500).fit(X, data.y)
    return model, X, data.y, data.X["sex"]


def _check(result, *must_contain):
    text = repr(result)
    assert len(text) < LIMIT, text
    assert text.startswith(type(result).__name__ + "("), text
    assert "array(" not in text and "\n" not in text, text
    for needle in must_contain:
        assert needle in text, (needle, text)
    page = result._repr_html_()
    assert isinstance(page, str) and page.lstrip().startswith(("<div", "<table"))
    return text


def test_model_evaluation_with_subgroups(credit_model):
    model, X, y, sex = credit_model
    evaluation = pellucid.evaluate(model, X, y, subgroups=sex)
    text = _check(evaluation, "task='binary'", "n_rows=1500", "by sex: 2 groups")
    assert f"roc_auc={evaluation.metrics['roc_auc']:.4g}" in text


def test_explanation_with_many_features_and_outputs():
    rng = np.random.default_rng(0)
    names = [f"feature_{i}" for i in range(300)]
    outputs = [f"class_{i}" for i in range(50)]
    exp = Explanation(
        values=rng.normal(size=(4, 300, 50)), feature_names=names, output_names=outputs
    )
    _check(exp, "4 rows", "(4, 300, 50)", "'feature_0'", "(+294 more)", "(+44 more)")


def test_feature_importance_names_the_top_features():
    imp = FeatureImportance(
        importances=np.array([[0.1, 0.2], [3.0, 3.2], [1.0, 1.0]]),
        feature_names=("a", "b", "c"),
        method="permutation_importance",
    )
    _check(imp, "3 features x 2 repeats", "top: b 3.1, c 1, a 0.15")


def test_partial_dependence_with_ice(credit_model):
    model, X, _, _ = credit_model
    pd_ = pellucid.partial_dependence(model, X.iloc[:200], "income", kind="both")
    _check(pd_, "kind='both'", "features=['income']", "ICE of 200 rows")
    page = pd_._repr_html_()
    assert page.count("<tr>") == 1 + 12  # header and 12 grid points of 100


def test_anchor_long_rule_is_clipped():
    preds = tuple(Predicate(f"feature_{i}", ">", float(i)) for i in range(80))
    anchor = Anchor(
        predicates=preds,
        precision=0.97,
        coverage=0.2,
        prediction=1,
        examples_covered=np.zeros((500, 80)),
    )
    _check(anchor, "precision=0.97", "coverage=0.2", "prediction=1", " ...")
    assert "feature_79 &gt; 79" in anchor._repr_html_()


def test_h_statistic_result(credit_model):
    model, X, _, _ = credit_model
    h = pellucid.h_statistic(model, X, ["income", "age"], max_rows=40, random_state=0)
    _check(h, "features=['income', 'age']", "n_rows=40")


@pytest.mark.parametrize(
    "result",
    [
        CurveResult("deletion", np.linspace(0, 1, 50), np.ones((200, 50)), np.ones(200)),
        QualityScore("infidelity", np.arange(1000.0)),
        StabilityResult(None, np.ones(300), np.ones(300)),
        SanityCheckResult(np.full(300, 0.1), None, threshold=0.5),
        AgreementResult(np.ones(300), np.ones(300), np.ones(300), k=5),
        GroundTruthResult(
            "kernel_shap", "linear", np.ones((300, 8)), np.ones((300, 8)), ("a",) * 8
        ),
    ],
    ids=lambda r: type(r).__name__,
)
def test_quality_results(result):
    text = _check(result)
    for name in result._derived:
        assert f"{name}=" in text


def test_trust_summary():
    nan = float("nan")
    rows = tuple(
        MethodTrust(m, nan, nan, nan, nan, None, nan, None, None, "trustworthy", "x" * 2000)
        for m in ("kernel_shap", "lime")
    )
    summary = TrustSummary(rows=rows, notes=("n",))
    _check(summary, "kernel_shap: trustworthy", "lime: trustworthy", "1 note(s)")


# ---------------------------------------------------------------- HStatistic


def _product(Z):
    Z = np.asarray(Z)
    return Z[:, 0] * Z[:, 1]


def test_h_statistic_keeps_the_number_usable():
    X = np.random.default_rng(1).uniform(-1, 1, size=(60, 3))
    h = pellucid.h_statistic(_product, X, [0, 1])
    assert isinstance(h, HStatistic)
    assert h.features == ("x0", "x1") and h.pair and h.n_rows == 60
    assert float(h) == h.value == h.values[0]
    assert h.value > 0.9 and h > 0.9 and h >= 0.9 and not h < 0.9 and h <= 1.0
    assert f"{h:.3f}" == f"{h.value:.3f}"
    assert np.asarray(h) == h.value
    frame = h.to_frame()
    assert list(frame.columns) == ["features", "output", "h2"]
    assert frame["features"].tolist() == ["x0 x x1"]
    back = HStatistic.from_json(h.to_json())
    np.testing.assert_array_equal(back.values, h.values)
    assert back.features == h.features and back.n_rows == h.n_rows


def test_h_statistic_of_several_outputs_asks_for_values():
    X = np.random.default_rng(2).uniform(-1, 1, size=(50, 3))
    model = pellucid.Model(lambda Z: np.column_stack([_product(Z), np.asarray(Z)[:, 0]]))
    h = pellucid.h_statistic(model, X, 0)
    assert h.values.shape == (2,) and not h.pair
    assert h.output_names == ("y0", "y1")
    np.testing.assert_array_equal(np.asarray(h), h.values)
    with pytest.raises(ValueError, match="2 outputs"):
        float(h)
    assert h.to_frame()["output"].tolist() == ["y0", "y1"]


def test_h_statistic_records_the_rows_it_read():
    X = pd.DataFrame(np.random.default_rng(3).uniform(size=(90, 2)), columns=["a", "b"])
    h = pellucid.h_statistic(_product, X, ["a", "b"], max_rows=30, random_state=4)
    assert h.n_rows == 30
    assert h.params == {"max_rows": 30, "rows_given": 90, "random_state": 4}
