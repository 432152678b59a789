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
    table = reason_codes(brute, k=4, exclude=["sex"])
    assert list(table.columns) == ["row", "rank", "feature", "value", "contribution", "reason"]
    assert "sex" not in set(table["feature"])
    # sex really pushed some of these rows toward decline, so exclusion is doing work
    assert (closed["sex"] > 0).any()
    for r in range(len(rows)):
        expected = closed.iloc[r].drop("sex")
        expected = expected[expected > 0].sort_values(ascending=False, kind="stable").head(4)
        got = table[table["row"] == r]
        assert list(got["feature"]) == list(expected.index)
        assert list(got["rank"]) == list(range(1, len(expected) + 1))
        np.testing.assert_allclose(got["contribution"], expected.to_numpy(), atol=1e-10)
        for feature, value in zip(got["feature"], got["value"], strict=True):
            original = rows.iloc[r][feature]
            assert value == original or (pd.isna(value) and pd.isna(original))


def test_toward_approve_takes_most_negative(credit_case, brute):
    _, _, closed = credit_case
    table = reason_codes(brute, k=3, direction="toward_approve")
    for r in range(len(closed)):
        expected = closed.iloc[r]
        expected = expected[expected < 0].sort_values(kind="stable").head(3)
        assert list(table[table["row"] == r]["feature"]) == list(expected.index)
    assert (table["contribution"] < 0).all()
    assert table["reason"].str.contains("in favour of approval").any()


def test_groups_sum_contributions_and_excluded_members_drop_the_group(credit_case, brute):
    _, _, closed = credit_case
    groups = {"debt": ["debt_to_income", "loan_amount"], "history": ["late_payments", "sex"]}
    table = reason_codes(brute, k=10, groups=groups, exclude=["sex"])
    assert "history" not in set(table["feature"])  # it carries the excluded `sex`
    assert not {"debt_to_income", "loan_amount", "late_payments", "sex"} & set(table["feature"])
    debt = closed["debt_to_income"] + closed["loan_amount"]
    for r, total in enumerate(debt):
        got = table[(table["row"] == r) & (table["feature"] == "debt")]
        if total > 0:
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
    table = reason_codes(e, k=4)
    assert list(table["feature"]) == ["a", "d"]  # zero and negative contributions never count
    assert list(reason_codes(e, k=4, direction="toward_approve")["feature"]) == ["b"]


def test_ties_keep_feature_order():
    e = Explanation(values=np.array([[0.3, 0.3, 0.3]]), feature_names=("z", "a", "m"))
    assert list(reason_codes(e, k=2)["feature"]) == ["z", "a"]


def test_templates_format_strings_and_callables(credit_case, brute):
    templates = {
        "debt_to_income": "Debt-to-income ratio of {value:.0%} is high",
        "income": lambda value, contribution: f"Income {value:,.0f} (+{contribution:.2f})",
    }
    table = reason_codes(brute, k=10, templates=templates)
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
    assert got == [
        "Debt to income of 0.48 is high (median 0.2).",
        "Housing 'rent' counted against approval.",
        "Savings not reported counted against approval.",
    ]
    plain = reason_codes(e)["reason"].tolist()
    assert plain[0] == "Debt to income of 0.48 counted against approval."


def test_multi_output_uses_positive_class_or_output_argument():
    v = np.zeros((1, 3, 2))
    v[0, :, 0] = [0.5, -0.5, 0.1]  # class "0"
    v[0, :, 1] = [-0.5, 0.5, 0.2]  # class "1" (decline)
    e = Explanation(values=v, feature_names=("a", "b", "c"), output_names=("0", "1"))
    assert list(reason_codes(e, k=2)["feature"]) == ["b", "c"]
    assert list(reason_codes(e, k=2, output="0")["feature"]) == ["a", "c"]
    assert list(reason_codes(e, k=2, output=0)["feature"]) == ["a", "c"]
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
        ({"k": 0}, "k must"),
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
    reasons_alone = reason_codes(alone, k=4)
    reasons_batch = reason_codes(batch, k=4)
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
