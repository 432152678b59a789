"""pellucid.compare, select and choose_threshold: results, wiring and errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

import pellucid
from pellucid.comparison import (
    ModelComparison,
    Selection,
    ThresholdChoice,
    choose_threshold,
    select,
)
from pellucid.comparison._stats import delong_test, mcnemar


@pytest.fixture(scope="module")
def credit_split():
    X, y = pellucid.datasets.credit(n_rows=1500, random_state=0)
    X = X[["age", "income", "debt_to_income", "late_payments", "credit_history_years"]].assign(
        sex=pellucid.datasets.credit(n_rows=1500, random_state=0).X["sex"].astype(str)
    )
    numeric = X.drop(columns="sex")
    return train_test_split(numeric, y, X["sex"], test_size=0.5, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def comparison(credit_split):
    X_tr, X_te, y_tr, y_te, _, sex_te = credit_split
    champion = LogisticRegression(max_iter=1000).fit(X_tr, y_tr)
    challenger = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X_tr, y_tr)
    cmp = pellucid.compare(
        {"champion": champion, "challenger": challenger},
        X_te,
        y_te,
        subgroups=sex_te.to_numpy(),
        n_boot=300,
        random_state=0,
        explain_rows=40,
        importance_rows=200,
    )
    return cmp, champion, challenger, X_te, y_te


def test_estimates_equal_evaluate_and_intervals_hold_them(comparison):
    cmp, champion, challenger, X_te, y_te = comparison
    for i, model in enumerate((champion, challenger)):
        ev = pellucid.evaluate(model, X_te, y_te)
        for j, metric in enumerate(cmp.metric_names):
            np.testing.assert_allclose(
                cmp.estimates[i, j], ev.metrics[metric], rtol=1e-12, err_msg=metric
            )
    assert np.all(cmp.lower <= cmp.upper)
    assert np.mean((cmp.lower <= cmp.estimates) & (cmp.estimates <= cmp.upper)) == 1.0


def test_differences_use_delong_mcnemar_and_holm(comparison):
    cmp, champion, challenger, X_te, y_te = comparison
    d = cmp.to_frame("differences").set_index("metric")
    pa, pb = champion.predict_proba(X_te)[:, 1], challenger.predict_proba(X_te)[:, 1]
    dl = delong_test(y_te.to_numpy(), pa, pb)
    assert d.loc["roc_auc", "test"] == "DeLong"
    np.testing.assert_allclose(d.loc["roc_auc", "p_value"], dl.p_value, rtol=1e-12)
    np.testing.assert_allclose(
        d.loc["roc_auc", "difference"], skm.roc_auc_score(y_te, pb) - skm.roc_auc_score(y_te, pa)
    )
    mc = mcnemar(champion.predict(X_te) == y_te, challenger.predict(X_te) == y_te)
    np.testing.assert_allclose(d.loc["accuracy", "p_value"], mc.p_mid, rtol=1e-12)
    assert (d["p_holm"] >= d["p_value"] - 1e-15).all()
    assert set(d.loc[["brier", "f1"], "test"]) == {"paired bootstrap"}
    assert len(cmp.verdicts()) == len(cmp.metric_names)


def test_groups_gaps_and_explanation_agreement(comparison):
    cmp, *_ = comparison
    gm = cmp.to_frame("group_metrics")
    assert set(gm["group"]) == {"female", "male"} and set(gm["model"]) == {"champion", "challenger"}
    gaps = cmp.to_frame("group_gaps")
    champ = gaps[gaps.model == "champion"].set_index("metric")
    auc = gm[gm.model == "champion"].set_index("group")["roc_auc"]
    np.testing.assert_allclose(champ.loc["roc_auc", "gap"], auc.max() - auc.min())
    assert set(gaps.loc[gaps.model == "challenger", "verdict"]) <= {
        "widens",
        "narrows",
        "no clear change",
    }
    agreement = cmp.to_frame("agreement")
    assert set(agreement["kind"]) == {"permutation", "mean |SHAP|"}
    assert agreement["spearman"].between(-1, 1).all()
    dis = cmp.to_frame("disagreements")
    assert len(dis) == 5 and dis["rank_correlation"].is_monotonic_increasing
    assert any("40 rows" in note for note in cmp.params["notes"])


def test_json_round_trip_and_repr(comparison):
    cmp, *_ = comparison
    back = ModelComparison.from_json(cmp.to_json())
    assert back.models == cmp.models and back.reference == "champion"
    np.testing.assert_array_equal(back.estimates, cmp.estimates)
    assert back.to_frame().equals(cmp.to_frame())
    assert back.to_frame("group_gaps").equals(cmp.to_frame("group_gaps"))
    assert repr(cmp).startswith("ModelComparison(reference='champion'")
    assert "<ul>" in cmp._repr_html_()


def test_same_seed_same_bytes_and_reference_choice(credit_split):
    X_tr, X_te, y_tr, y_te, *_ = credit_split
    a = LogisticRegression(max_iter=1000).fit(X_tr, y_tr)
    b = LogisticRegression(C=0.01, max_iter=1000).fit(X_tr, y_tr)
    kw = dict(
        n_boot=200, random_state=3, explain_rows=0, importance_rows=0, metrics=["roc_auc", "brier"]
    )
    one = pellucid.compare({"a": a, "b": b}, X_te, y_te, **kw)
    two = pellucid.compare({"a": a, "b": b}, X_te, y_te, **kw)
    assert one.to_json() == two.to_json()
    swapped = pellucid.compare({"a": a, "b": b}, X_te, y_te, reference="b", **kw)
    assert swapped.models == ("b", "a")
    np.testing.assert_allclose(
        swapped.differences["difference"], -np.asarray(one.differences["difference"], float)
    )


def test_threshold_is_used_and_stated(credit_split):
    X_tr, X_te, y_tr, y_te, *_ = credit_split
    a = LogisticRegression(max_iter=1000).fit(X_tr, y_tr)
    b = LogisticRegression(C=0.01, max_iter=1000).fit(X_tr, y_tr)
    cmp = pellucid.compare(
        {"a": a, "b": b},
        X_te,
        y_te,
        threshold=0.2,
        n_boot=100,
        explain_rows=0,
        importance_rows=0,
        metrics="recall",
    )
    assert cmp.threshold == 0.2
    expected = skm.recall_score(y_te, a.predict_proba(X_te)[:, 1] >= 0.2)
    np.testing.assert_allclose(cmp.estimates[0, 0], expected)
    ev = pellucid.evaluate(a, X_te, y_te, threshold=0.2)
    assert ev.threshold == 0.2 and ev.to_dict()["threshold"] == 0.2
    np.testing.assert_allclose(ev.metrics["recall"], expected)
    assert pellucid.evaluate(a, X_te, y_te).threshold == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(models={"a": None}), "at least two"),
        (dict(metrics=["auc"]), "Unknown metrics"),
        (dict(n_boot=10), "n_boot"),
        (dict(reference="z"), "reference"),
    ],
)
def test_bad_arguments_get_one_clear_error(credit_split, kwargs, match):
    X_tr, X_te, y_tr, y_te, *_ = credit_split
    a = LogisticRegression(max_iter=1000).fit(X_tr, y_tr)
    models = kwargs.pop("models", {"a": a, "b": a})
    with pytest.raises(ValueError, match=match):
        pellucid.compare(models, X_te, y_te, explain_rows=0, importance_rows=0, **kwargs)


def test_unknown_label_names_row_and_model(credit_split):
    X_tr, X_te, y_tr, y_te, *_ = credit_split
    a = LogisticRegression(max_iter=1000).fit(X_tr, y_tr)
    y_bad = y_te.to_numpy().copy()
    y_bad[7] = 5
    with pytest.raises(pellucid.DataError, match="label 5 at row 7"):
        pellucid.compare({"a": a, "b": a}, X_te, y_bad, explain_rows=0, importance_rows=0)


def test_select_corrected_ttest_and_verdict(credit_split):
    X_tr, _, y_tr, *_ = credit_split
    sel = select(
        {
            "shallow": DecisionTreeClassifier(max_depth=1, random_state=0),
            "logistic": LogisticRegression(max_iter=1000),
        },
        X_tr,
        y_tr,
        n_splits=3,
        n_repeats=3,
        random_state=0,
    )
    assert isinstance(sel, Selection) and sel.scores.shape == (2, 1, 9)
    c = sel.to_frame("comparisons").iloc[0]
    d = sel.scores[1, 0] - sel.scores[0, 0]
    se = np.sqrt((1 / 9 + sel.n_test / sel.n_train) * d.var(ddof=1))
    np.testing.assert_allclose([c["difference"], c["std_error"]], [d.mean(), se], rtol=1e-12)
    assert sel.n_test / sel.n_train == pytest.approx(0.5, rel=0.01)
    text = sel.verdicts()[0]
    assert "ROC AUC" in text and ("better than" in text or "No significant difference" in text)
    assert Selection.from_json(sel.to_json()).to_frame().equals(sel.to_frame())


def test_choose_threshold_rules():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.25).astype(int)
    p = 1 / (1 + np.exp(-(1.5 * y + rng.normal(size=2000) - 1.5)))
    youden = choose_threshold(y, p, "youden", n_boot=200, random_state=0)
    fpr, tpr, thr = skm.roc_curve(y, p)
    assert youden.threshold == pytest.approx(thr[np.argmax(tpr - fpr)])
    assert youden.lower <= youden.threshold <= youden.upper
    rec = choose_threshold(y, p, "recall", target=0.8, n_boot=200, random_state=0)
    assert rec.metrics["recall"] >= 0.8
    assert np.mean(p[y == 1] >= np.nextafter(rec.threshold, 2)) < 0.8  # the highest such threshold
    prec = choose_threshold(y, p, "precision", target=0.6, n_boot=200, random_state=0)
    assert prec.metrics["precision"] >= 0.6
    cost = choose_threshold(y, p, "cost", costs={"fp": 1, "fn": 5}, n_boot=200, random_state=0)
    candidates = np.unique(p)
    costs = [((p >= t) & (y == 0)).sum() + 5 * ((p < t) & (y == 1)).sum() for t in candidates]
    assert cost.threshold == pytest.approx(candidates[int(np.argmin(costs))])
    assert isinstance(ThresholdChoice.from_json(cost.to_json()), ThresholdChoice)
    with pytest.raises(ValueError, match="target"):
        choose_threshold(y, p, "recall")


def test_a_verdict_says_when_holm_outweighs_an_interval_that_excludes_zero():
    """The bootstrap interval is per comparison, the p-value Holm-adjusted: a difference
    whose interval excludes zero can still be 'not significant', and the sentence says why."""
    from pellucid.comparison._results import verdict

    text = verdict("A", "B", "recall", 0.005, 0.001, 0.010, 0.0559)
    assert "once adjusted for the other comparisons" in text
    assert "unadjusted 95% interval +0.001 to +0.010" in text
    plain = verdict("A", "B", "recall", 0.005, -0.001, 0.010, 0.3)
    assert "adjusted for the other" not in plain and "unadjusted" not in plain
