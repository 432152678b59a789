"""One name per idea: ``subgroups=`` is a subgroup column (evaluate, report, model_card,
recourse_audit, fairness_table), ``feature_groups=`` a coalition of features
(reason_codes); the old ``groups=`` still works for one release, with a FutureWarning,
and means the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import pellucid
from pellucid import _protocol
from pellucid.metrics import fairness_table


@pytest.fixture
def warn_deprecated(monkeypatch):
    """The deprecation warnings as the release step that turns them on will."""
    monkeypatch.setattr(_protocol, "WARN_DEPRECATED", True)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    X["sex"] = np.where(rng.random(120) < 0.5, 1.0, 0.0)
    y = (X["a"] + 0.5 * X["b"] + rng.normal(scale=0.5, size=120) > 0).astype(int)
    return LogisticRegression().fit(X, y), X, y


def test_evaluate_groups_is_a_deprecated_alias(fitted, warn_deprecated):
    model, X, y = fitted
    new = pellucid.evaluate(model, X, y, subgroups="sex")
    with pytest.warns(FutureWarning, match=r"evaluate\(groups=\.\.\.\) is deprecated.*subgroups="):
        old = pellucid.evaluate(model, X, y, groups="sex")
    assert old.group_name == new.group_name == "sex"
    assert old.to_json() == new.to_json()
    with pytest.raises(TypeError, match="both subgroups= and its old name groups="):
        pellucid.evaluate(model, X, y, subgroups="sex", groups="sex")


def test_model_card_groups_is_a_deprecated_alias(fitted, warn_deprecated):
    model, X, y = fitted
    kw = dict(importance=False, created="fixed")
    new = pellucid.model_card(model, X, y, subgroups="sex", **kw)
    with pytest.warns(FutureWarning, match=r"model_card\(groups=\.\.\.\)"):
        old = pellucid.model_card(model, X, y, groups="sex", **kw)
    assert old.to_markdown() == new.to_markdown()
    with pytest.warns(FutureWarning, match="ModelCard.groups is deprecated"):
        assert new.groups == new.subgroups


def test_report_groups_is_a_deprecated_alias(fitted, warn_deprecated, monkeypatch):
    from pellucid.reporting import _report

    seen = []
    monkeypatch.setattr(_report, "compute", lambda *a, **kw: seen.append(kw["subgroups"]))
    model, X, y = fitted
    pellucid.report(model, X, y, subgroups="sex")
    with pytest.warns(FutureWarning, match=r"report\(groups=\.\.\.\)"):
        pellucid.report(model, X, y, groups="sex")
    assert seen == ["sex", "sex"]


def test_fairness_table_groups_is_a_deprecated_alias(fitted, warn_deprecated):
    model, X, y = fitted
    p = model.predict_proba(X)[:, 1]
    table, gaps = fairness_table(y, p, X["sex"].to_numpy())
    with pytest.warns(FutureWarning, match="subgroups="):
        old_table, old_gaps = fairness_table(y, p, groups=X["sex"].to_numpy())
    pd.testing.assert_frame_equal(table, old_table)
    assert old_gaps.to_json() == gaps.to_json()


def test_recourse_audit_groups_is_a_deprecated_alias(fitted, warn_deprecated):
    model, X, y = fitted
    kw = dict(desired=1, data=X, random_state=0)
    new = pellucid.recourse_audit(model, X.iloc[:20], subgroups="sex", **kw)
    with pytest.warns(FutureWarning, match=r"recourse_audit\(groups=\.\.\.\)"):
        old = pellucid.recourse_audit(model, X.iloc[:20], groups="sex", **kw)
    pd.testing.assert_frame_equal(new, old)
    with pytest.raises(TypeError, match="needs subgroups"):
        pellucid.recourse_audit(model, X.iloc[:20], **kw)


def test_reason_codes_groups_is_a_deprecated_alias_of_feature_groups(fitted, warn_deprecated):
    model, X, _ = fitted
    exp = pellucid.ExactShap(model.predict_proba, X.iloc[:30]).explain(X.iloc[:3])
    coalition = {"a and b": ["a", "b"]}
    new = pellucid.reason_codes(exp, max_reasons=2, feature_groups=coalition)
    with pytest.warns(FutureWarning, match=r"reason_codes\(groups=\.\.\.\).*feature_groups="):
        old = pellucid.reason_codes(exp, max_reasons=2, groups=coalition)
    pd.testing.assert_frame_equal(new, old)
    assert "a and b" in set(new["feature"])


def test_compare_takes_subgroups_and_its_old_name_warns(monkeypatch):
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    import pellucid
    from pellucid import _protocol

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = (X["a"] + 0.5 * rng.normal(size=300) > 0).astype(int)
    sex = np.where(rng.random(300) < 0.5, "f", "m")
    models = {
        "lr": LogisticRegression().fit(X, y),
        "tree": DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y),
    }
    kwargs = dict(n_boot=100, random_state=0, explain_rows=0, importance_rows=0)
    new = pellucid.compare(models, X, y, subgroups=sex, **kwargs)
    monkeypatch.setattr(_protocol, "WARN_DEPRECATED", True)
    with pytest.warns(FutureWarning, match="subgroups="):
        old = pellucid.compare(models, X, y, groups=sex, **kwargs)
    assert new.to_json() == old.to_json()
    with pytest.raises(TypeError, match="both subgroups= and its old name groups="):
        pellucid.compare(models, X, y, subgroups=sex, groups=sex, **kwargs)
