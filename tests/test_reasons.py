"""Reason codes: checked against closed-form SHAP values of an additive credit model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pellucid
from _shapley_oracle import BruteForceShap
from pellucid import Explanation, reason_codes
from pellucid.datasets import credit, credit_terms

# An additive default-risk model on the log-odds scale: the true credit terms
# (without the one interaction) plus an effect of `sex`, so that excluding a
# protected attribute that really does push toward decline is tested.
SEX_EFFECT = 0.9


def additive_terms(X: pd.DataFrame) -> pd.DataFrame:
    terms = credit_terms(X).drop(columns=["debt_to_income:late_payments"])
    terms["sex"] = np.where(X["sex"].astype(str) == "male", SEX_EFFECT, 0.0)
    return terms


def additive_logit(X: pd.DataFrame) -> np.ndarray:
    return additive_terms(X).sum(axis=1).to_numpy() - 2.0


@pytest.fixture(scope="module")
def credit_case():
    X, _ = credit(n_rows=60, random_state=3)
    background, rows = X.iloc[:40].reset_index(drop=True), X.iloc[40:46].reset_index(drop=True)
    # Interventional SHAP of an additive f: phi_j(x) = g_j(x_j) - mean_background g_j.
    closed = additive_terms(rows) - additive_terms(background).mean()
    return background, rows, closed


@pytest.fixture(scope="module")
def brute(credit_case):
    background, rows, _ = credit_case
    return BruteForceShap(additive_logit, background, output=None).explain(rows)


def test_brute_force_shap_matches_closed_form(credit_case, brute):
    _, _, closed = credit_case
    np.testing.assert_allclose(brute.values, closed.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(brute.additivity_gap, 0.0, atol=1e-10)


def test_reasons_name_features_that_pushed_toward_decline_in_order(credit_case, brute):
    _, rows, closed = credit_case
    table = reason_codes(brute, max_reasons=4, exclude=["sex"])
    assert list(table.columns) == ["row", "rank", "feature", "value", "contribution", "reason"]
    assert "sex" not in set(table["feature"])
    # sex really pushed some of these rows toward decline, so exclusion is doing work
    assert (closed["sex"] > 0).any()
    for r in range(len(rows)):
        # a reason carries at least 5% of the row's total absolute attribution (sex included)
        floor = 0.05 * closed.iloc[r].abs().sum()
        expected = closed.iloc[r].drop("sex")
        expected = expected[(expected > 0) & (expected >= floor)]
        expected = expected.sort_values(ascending=False, kind="stable").head(4)
        got = table[table["row"] == r]
        assert list(got["feature"]) == list(expected.index)
        assert list(got["rank"]) == list(range(1, len(expected) + 1))
        np.testing.assert_allclose(got["contribution"], expected.to_numpy(), atol=1e-10)
        for feature, value in zip(got["feature"], got["value"], strict=True):
            original = rows.iloc[r][feature]
            assert value == original or (pd.isna(value) and pd.isna(original))


def test_toward_approve_takes_most_negative(credit_case, brute):
    _, _, closed = credit_case
    table = reason_codes(brute, max_reasons=3, direction="toward_approve")
    for r in range(len(closed)):
        floor = 0.05 * closed.iloc[r].abs().sum()
        expected = closed.iloc[r]
        expected = (
            expected[(expected < 0) & (-expected >= floor)].sort_values(kind="stable").head(3)
        )
        assert list(table[table["row"] == r]["feature"]) == list(expected.index)
    assert (table["contribution"] < 0).all()
    assert table["reason"].str.contains("in favour of approval").any()


def test_groups_sum_contributions_and_excluded_members_drop_the_group(credit_case, brute):
    _, _, closed = credit_case
    groups = {"debt": ["debt_to_income", "loan_amount"], "history": ["late_payments", "sex"]}
    table = reason_codes(brute, max_reasons=10, feature_groups=groups, exclude=["sex"])
    assert "history" not in set(table["feature"])  # it carries the excluded `sex`
    assert not {"debt_to_income", "loan_amount", "late_payments", "sex"} & set(table["feature"])
    debt = closed["debt_to_income"] + closed["loan_amount"]
    for r, total in enumerate(debt):
        got = table[(table["row"] == r) & (table["feature"] == "debt")]
        if total > 0 and total >= 0.05 * closed.iloc[r].abs().sum():
            np.testing.assert_allclose(got["contribution"], [total], atol=1e-10)
            assert set(got["value"].iloc[0]) == {"debt_to_income", "loan_amount"}
        else:
            assert got.empty


def test_fewer_reasons_when_few_features_push_that_way():
    e = Explanation(
        values=np.array([[0.5, -0.2, 0.0, 0.1]]),
        data=np.array([[1.0, 2.0, 3.0, 4.0]]),
        feature_names=("a", "b", "c", "d"),
    )
    table = reason_codes(e, max_reasons=4)
    assert list(table["feature"]) == ["a", "d"]  # zero and negative contributions never count
    assert list(reason_codes(e, max_reasons=4, direction="toward_approve")["feature"]) == ["b"]


def test_ties_keep_feature_order():
    e = Explanation(values=np.array([[0.3, 0.3, 0.3]]), feature_names=("z", "a", "m"))
    assert list(reason_codes(e, max_reasons=2)["feature"]) == ["z", "a"]


def test_templates_format_strings_and_callables(credit_case, brute):
    templates = {
        "debt_to_income": "Debt-to-income ratio of {value:.0%} is high",
        "income": lambda value, contribution: f"Income {value:,.0f} (+{contribution:.2f})",
    }
    table = reason_codes(brute, max_reasons=10, templates=templates)
    dti = table[table["feature"] == "debt_to_income"]
    for value, reason in zip(dti["value"], dti["reason"], strict=True):
        assert reason == f"Debt-to-income ratio of {value:.0%} is high"
    inc = table[table["feature"] == "income"]
    for value, c, reason in zip(inc["value"], inc["contribution"], inc["reason"], strict=True):
        assert reason == f"Income {value:,.0f} (+{c:.2f})"


def test_default_sentences_read_plainly():
    e = Explanation(
        values=np.array([[0.4, 0.3, 0.2]]),
        data=np.array([[0.48, "rent", np.nan]], dtype=object),
        feature_names=("debt_to_income", "housing", "savings"),
    )
    reference = pd.DataFrame({"debt_to_income": [0.1, 0.2, 0.3], "savings": [1.0, 2.0, 3.0]})
    got = reason_codes(e, reference=reference)["reason"].tolist()
    # One row cannot show how debt to income's contributions move with its value, so
    # the sentence states value, median and direction, without calling it "high".
    assert got == [
        "Debt to income of 0.48 (median 0.2) counted against approval.",
        "Housing 'rent' counted against approval.",
        "Savings not reported counted against approval.",
    ]
    plain = reason_codes(e)["reason"].tolist()
    assert plain[0] == "Debt to income of 0.48 counted against approval."


# --- reasons that are true as worded ----------------------------------------------


def trend_case(n=40):
    """Savings lowers the explained (decline) score and debt to income raises it, over
    n rows; row 0 has high savings and row 1 low debt to income that nevertheless
    pushed toward decline (as a forest's interaction can), row 2 is a typical case."""
    rng = np.random.default_rng(0)
    savings = rng.uniform(0, 10_000, n)
    dti = rng.uniform(0.05, 0.4, n)
    values = np.column_stack([-(savings - 5_000) / 20_000, (dti - 0.2) * 2])
    savings[0], values[0] = 9_849.0, [0.30, 0.01]
    dti[1], values[1] = 0.1927, [0.0, 0.25]
    savings[2], dti[2], values[2] = 1_000.0, 0.35, [0.2, 0.3]
    data = np.column_stack([savings, dti])
    reference = pd.DataFrame(
        {"savings": np.linspace(0, 10_000, 101), "dti": np.linspace(0.0, 0.4, 101)}
    )
    e = Explanation(values=values, data=data, feature_names=("savings", "dti"))
    return e, reference


def test_value_and_contribution_that_disagree_are_not_worded_as_the_cause():
    e, reference = trend_case()
    table = reason_codes(e, max_reasons=2, reference=reference)
    table = table.set_index(["row", "feature"])["reason"]
    assert table[(0, "savings")] == "Savings of 9,849 (median 5,000) counted against approval."
    assert table[(1, "dti")] == "Dti of 0.1927 (median 0.2) counted against approval."
    # where value and trend agree with the contribution, the level is said
    assert table[(2, "savings")] == "Savings of 1,000 is low (median 5,000)."
    assert table[(2, "dti")] == "Dti of 0.35 is high (median 0.2)."
    for reason, (row, feature) in zip(table, table.index, strict=True):
        value = e.data[row, ["savings", "dti"].index(feature)]
        median = reference[feature].median()
        trend = 1 if feature == "dti" else -1
        if "is high" in reason:
            assert value > median and trend > 0
        if "is low" in reason:
            assert value < median and trend < 0


def test_a_trivial_gap_from_the_median_is_not_high():
    e, reference = trend_case()
    data = np.array(e.data, dtype=float)
    data[2, 1] = 0.2 + 0.01  # a quarter of the IQR (0.2) is 0.05: 0.21 is typical
    e = Explanation(values=e.values, data=data, feature_names=e.feature_names)
    table = reason_codes(e, max_reasons=2, reference=reference)
    reason = table[(table["row"] == 2) & (table["feature"] == "dti")]["reason"].item()
    assert reason == "Dti of 0.21 (median 0.2) counted against approval."


def test_min_contribution_is_a_share_of_the_rows_attribution():
    e = Explanation(values=np.array([[0.9, 0.06, 0.04, -0.1]]), feature_names=("a", "b", "c", "d"))
    # total |attribution| 1.1: 5% is 0.055, so c (0.04) is no reason, b (0.06) is
    assert list(reason_codes(e)["feature"]) == ["a", "b"]
    assert list(reason_codes(e, min_contribution=0)["feature"]) == ["a", "b", "c"]
    assert list(reason_codes(e, min_contribution=0.1)["feature"]) == ["a"]
    for bad in (-0.1, 1.0, "5%", True):
        with pytest.raises(ValueError, match="min_contribution"):
            reason_codes(e, min_contribution=bad)


def test_only_declined_rows_get_reasons():
    values = np.array([[0.3, 0.1], [0.2, 0.2], [-0.1, 0.05], [0.1, -0.3]])
    output = 0.2 + values.sum(axis=1)  # 0.6, 0.6, 0.15, 0.0
    e = Explanation(
        values=values, base_values=np.full(4, 0.2), output=output, feature_names=("a", "b")
    )
    assert set(reason_codes(e)["row"]) == {0, 1, 2, 3}
    assert set(reason_codes(e, only="declined", threshold=0.5)["row"]) == {0, 1}
    assert set(reason_codes(e, only="approved", threshold=0.5)["row"]) == {2, 3}
    mask = np.array([False, True, True, False])
    assert set(reason_codes(e, only="declined", declined=mask)["row"]) == {1, 2}
    # the threshold of a log-odds explanation is a probability (0.5 -> log-odds 0)
    logit = Explanation(values=values, base_values=np.zeros(4), output=values.sum(axis=1),
                        feature_names=("a", "b"), output_kind="log_odds")  # fmt: skip
    assert set(reason_codes(logit, only="declined", threshold=0.5)["row"]) == {0, 1}  # 0.4 > 0
    with pytest.raises(ValueError, match="threshold= .* or declined="):
        reason_codes(e, only="declined")
    with pytest.raises(ValueError, match="only must be"):
        reason_codes(e, only="denied", threshold=0.5)
    with pytest.raises(ValueError, match="one boolean per row"):
        reason_codes(e, only="declined", declined=[1, 0, 0, 1])
    with pytest.raises(ValueError, match="probability"):
        reason_codes(logit, only="declined", threshold=2.0)


def test_protected_attribute_that_carries_weight_warns_and_is_flagged():
    from pellucid.regulatory._reasons import ProtectedAttributeWarning

    values = np.array([[0.5, 0.3, 0.0], [0.5, 0.01, 0.2], [0.4, -0.3, 0.1]])
    e = Explanation(values=values, feature_names=("income", "age", "sex"))
    with pytest.warns(
        ProtectedAttributeWarning, match=r"'age' in 1 rows \(given as a reason in 1\)"
    ):
        table = reason_codes(e, protected=["age", "sex"])
    assert table.groupby("row")["protected"].first().to_dict() == {0: "age", 1: "sex", 2: "sex"}
    # excluded by policy, it still carried weight: still a warning, though never a reason
    with pytest.warns(
        ProtectedAttributeWarning, match=r"'age' in 1 rows \(given as a reason in 0\)"
    ):
        table = reason_codes(e, protected=["age"], exclude=["age"])
    assert "age" not in set(table["feature"])
    # only the rows considered count: the declined row 1 has no weight on age
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = reason_codes(
            e, protected=["age"], only="declined", declined=np.array([False, True, True])
        )
    assert set(quiet["protected"]) == {""}
    with pytest.raises(ValueError, match="nope"):
        reason_codes(e, protected=["nope"])


def test_issue_example_no_decline_reason_contradicts_its_feature_trend():
    """A boosted credit model and TreeShap: every "is high"/"is low" decline reason has a
    value on that side of the median by more than a trivial gap, and the feature's
    contributions move with its value the same way (the old wording failed this)."""
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = credit(n_rows=1500, random_state=0)
    X = X.drop(columns=["employment", "housing"])
    X["savings"] = X["savings"].fillna(0.0)
    X["sex"] = (X["sex"] == "male").astype(int)
    model = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0).fit(X, y)
    e = pellucid.explain(model, X.iloc[:300], method="tree_shap")
    table = reason_codes(e, max_reasons=4, reference=X)
    contributions = np.asarray(e.values)[..., 1]
    levelled = table[table["reason"].str.contains(" is (?:high|low) ", regex=True)]
    assert len(levelled) > 50  # the check below has something to check
    for feature, value, reason in zip(
        levelled["feature"], levelled["value"], levelled["reason"], strict=True
    ):
        j = list(X.columns).index(feature)
        rho = pd.Series(X.iloc[:300][feature].to_numpy()).corr(
            pd.Series(contributions[:, j]), method="spearman"
        )
        q25, median, q75 = np.percentile(X[feature], [25, 50, 75])
        gap = value - median
        assert abs(gap) > 0.25 * (q75 - q25), reason
        assert np.sign(gap) * np.sign(rho) > 0 and abs(rho) >= 0.5, reason
        assert ("is high" in reason) == (gap > 0), reason


def test_multi_output_uses_positive_class_or_output_argument():
    v = np.zeros((1, 3, 2))
    v[0, :, 0] = [0.5, -0.5, 0.1]  # class "0"
    v[0, :, 1] = [-0.5, 0.5, 0.2]  # class "1" (decline)
    e = Explanation(values=v, feature_names=("a", "b", "c"), output_names=("0", "1"))
    assert list(reason_codes(e, max_reasons=2)["feature"]) == ["b", "c"]
    assert list(reason_codes(e, max_reasons=2, output="0")["feature"]) == ["a", "c"]
    assert list(reason_codes(e, max_reasons=2, output=0)["feature"]) == ["a", "c"]
    three = Explanation(
        values=np.zeros((1, 3, 3)), feature_names=("a", "b", "c"), output_names=("x", "y", "z")
    )
    with pytest.raises(ValueError, match="output="):
        reason_codes(three)
    with pytest.raises(ValueError, match="Unknown output"):
        reason_codes(e, output="2")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"direction": "down"}, "direction"),
        ({"max_reasons": 0}, "max_reasons must"),
        ({"exclude": ["nope"]}, "nope"),
        ({"groups": {"g": ["a", "nope"]}}, "nope"),
        ({"groups": {"g": ["a"], "h": ["a"]}}, "two groups"),
        ({"templates": {"nope": "x"}}, "nope"),
        ({"templates": {"a": "{missing_field}"}}, "Template"),
        ({"output": "1"}, "single output"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    e = Explanation(values=np.array([[0.5, 0.1]]), feature_names=("a", "b"))
    with pytest.raises(ValueError, match=match):
        reason_codes(e, **kwargs)


def test_public_name():
    assert pellucid.reason_codes is reason_codes
    assert {"reason_codes", "model_card", "ModelCard"} <= set(pellucid.__all__)


# --- a person's reasons depend on the person only, not on the batch -----------


@pytest.fixture(scope="module")
def sampled_case():
    from sklearn.linear_model import LogisticRegression

    X, y = credit(n_rows=200, random_state=5)
    X = X.select_dtypes("number").fillna(0.0)
    rng = np.random.default_rng(0)
    for j in range(6):  # 13 features: Kernel SHAP's default budget then samples coalitions
        X[f"noise_{j}"] = rng.normal(size=len(X))
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    return model, X


@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_same_reasons_alone_and_second_in_a_batch(sampled_case, method):
    from pellucid.regulatory._explainers import build_explainer, explain_rows

    model, X = sampled_case
    explainer = build_explainer(method, pellucid.Model(model), X.iloc[:30])
    alone = explain_rows(explainer, X.iloc[[5]], random_state=0)
    batch = explain_rows(explainer, X.iloc[[7, 5, 9]], random_state=0)
    np.testing.assert_array_equal(np.asarray(batch.values)[1], np.asarray(alone.values)[0])
    reasons_alone = reason_codes(alone, max_reasons=4)
    reasons_batch = reason_codes(batch, max_reasons=4)
    second = reasons_batch[reasons_batch["row"] == 1].assign(row=0).reset_index(drop=True)
    pd.testing.assert_frame_equal(second, reasons_alone)
    # and the seed still matters: another random_state gives other (sampled) numbers
    other = explain_rows(explainer, X.iloc[[5]], random_state=1)
    assert not np.array_equal(np.asarray(other.values), np.asarray(alone.values))


def test_cli_reasons_for_a_person_do_not_depend_on_the_batch(sampled_case, tmp_path):
    from typer.testing import CliRunner

    from pellucid.cli import app

    model, X = sampled_case
    pellucid.save_model(model, tmp_path / "m.skops")
    X.to_parquet(tmp_path / "data.parquet")
    tables = {}
    for rows in ("5", "7,5"):
        out = tmp_path / f"r{rows.replace(',', '_')}.csv"
        args = ["reasons", str(tmp_path / "m.skops"), str(tmp_path / "data.parquet")]
        result = CliRunner().invoke(
            app, [*args, "--method", "lime", "--rows", rows, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        table = pd.read_csv(out)
        tables[rows] = table[table["index"] == 5].drop(columns="row").reset_index(drop=True)
    pd.testing.assert_frame_equal(tables["5"], tables["7,5"])


@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_service_and_library_give_a_person_the_same_sampled_explanation(sampled_case, method):
    """The service seeds each row as the CLI and explain_rows do (random_state 0 and the
    row's content), so one applicant gets one set of reasons wherever they are asked for."""
    from pellucid.regulatory._explainers import explain_rows
    from pellucid.serve._service import Service

    model, X = sampled_case
    service = Service(model, X.iloc[:30], explainer=method, n_background=30)
    rows = X.iloc[[7, 5]]
    answer = service.explain({"rows": rows.to_dict(orient="records"), "method": method})
    library = explain_rows(service.explainer(method)[1], rows, random_state=0)
    assert len(answer["explanations"]) == 2
    for k, name in enumerate(answer["explained_outputs"]):
        served = [[row[name]["values"][c] for c in X.columns] for row in answer["explanations"]]
        np.testing.assert_array_equal(np.array(served), np.asarray(library.values)[:, :, k])


# --- the counterfactual sentence beside the reasons ---------------------------------


@pytest.fixture(scope="module")
def linear_credit():
    from sklearn.linear_model import LogisticRegression

    X, y = credit(n_rows=400, random_state=1)
    X = X.drop(columns=["employment", "housing"])
    X["savings"] = X["savings"].fillna(0.0)
    X["sex"] = (X["sex"] == "male").astype(int)
    model = LogisticRegression(max_iter=2000).fit(X, y)
    rows = X[model.predict(X) == 1].iloc[:3]
    rows = pd.concat([rows, X[model.predict(X) == 0].iloc[:1]])
    e = pellucid.explain(model, rows, background=X.iloc[:100], method="exact_shap")
    return model, X, rows, e


def test_counterfactual_sentences_from_a_set(linear_credit):
    from pellucid import Counterfactuals

    model, X, rows, e = linear_credit
    found = Counterfactuals(model, X, immutable=["age", "sex"]).explain(rows)
    table = reason_codes(e, max_reasons=2, reference=X, counterfactuals=found)
    assert table.columns[-1] == "counterfactual"
    per_row = table.groupby("row")["counterfactual"].agg(set)
    for r in range(3):  # declined rows: the cheapest answer's sentence on each reason line
        (sentence,) = per_row[r]
        assert sentence == found.sentence(found.for_row(r)[0], outcome="approved")
        assert sentence.startswith("Had ") and sentence.endswith("would have been approved.")
    # the approved row's answer (the model's other class) leads to decline, and says so
    (sentence,) = per_row[3]
    assert sentence.endswith("the application would have been declined.")
    with pytest.raises(ValueError, match="same rows"):
        reason_codes(e, counterfactuals=Counterfactuals(model, X).explain(rows.iloc[:2]))


def test_counterfactuals_true_keeps_protected_and_excluded_immutable(linear_credit):
    model, X, rows, e = linear_credit
    declined = np.array([True, True, True, False])
    with pytest.warns(pellucid.regulatory.ProtectedAttributeWarning):
        table = reason_codes(
            e, reference=X, counterfactuals=True, model=model, protected=["age"],
            exclude=["sex"], only="declined", declined=declined, min_contribution=0.01,
        )  # fmt: skip
    assert set(table["row"]) <= {0, 1, 2}
    sentences = set(table["counterfactual"])
    assert all(s.startswith("Had ") for s in sentences)
    assert not any("age" in s or "sex" in s for s in sentences)
    with pytest.raises(ValueError, match="model="):
        reason_codes(e, counterfactuals=True, reference=X)
    with pytest.raises(TypeError, match="CounterfactualSet"):
        reason_codes(e, counterfactuals="yes")
