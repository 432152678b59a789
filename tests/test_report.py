"""The report: data overview, local comparison, hashes, render step and the whole pipeline."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import pellucid
from _report_data import FAST, full_results, minimal_results
from pellucid import Explanation
from pellucid.reporting import (
    SECTIONS,
    Report,
    compare_local,
    data_hash,
    data_overview,
    model_hash,
    render,
)

EXTERNAL = re.compile(r"""(?:src|href|action|srcset)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


# ------------------------------------------------------------------ data overview


def test_overview_counts_missing_histograms_and_categories():
    rng = np.random.default_rng(0)
    n = 500
    a = rng.normal(size=n)
    b = a + 0.2 * rng.normal(size=n)  # strongly rank-correlated with a
    c = rng.normal(size=n)
    c[:37] = np.nan
    cat = pd.Categorical(rng.choice(["x", "y", "z"], n, p=[0.6, 0.3, 0.1]))
    X = pd.DataFrame({"a": a, "b": b, "c": c, "cat": cat})
    ov = data_overview(X, threshold=0.7)
    cols = {s.name: s for s in ov.columns}
    assert ov.n_rows == n and ov.n_features == 4
    assert cols["c"].n_missing == 37 and cols["a"].n_missing == 0
    assert cols["c"].counts.sum() == n - 37
    np.testing.assert_allclose(cols["a"].stats["mean"], a.mean())
    np.testing.assert_allclose(cols["c"].stats["median"], np.nanmedian(c))
    assert cols["cat"].kind == "categorical"
    assert cols["cat"].categories == ("x", "y", "z")
    np.testing.assert_array_equal(
        cols["cat"].counts, pd.Series(cat).value_counts().loc[["x", "y", "z"]].to_numpy()
    )
    from scipy.stats import spearmanr

    assert len(ov.correlated_pairs) == 1
    f1, f2, rho = ov.correlated_pairs[0]
    assert (f1, f2) == ("a", "b")
    np.testing.assert_allclose(rho, spearmanr(a, b).statistic, rtol=1e-12)
    assert ov.correlated_with("b") == [("a", rho)]


def test_overview_classification_target_is_class_shares():
    X = pd.DataFrame({"x": np.arange(10.0)})
    y = pd.Series([0, 1, 1, 1, 0, 1, 1, 1, 1, 1], name="default")
    ov = data_overview(X, y, classification=True)
    assert ov.target is not None and ov.target.kind == "categorical"
    assert dict(zip(ov.target.categories, ov.target.counts, strict=True)) == {"1": 8, "0": 2}


# ------------------------------------------------------------------ local comparison


def _row(values, names=("a", "b", "c", "d"), method="m"):
    return Explanation(np.array([values], dtype=float), feature_names=names, method=method)


def test_compare_local_agreement_and_disagreement():
    same = compare_local(_row([3, -2, 1, 0.1]), _row([0.3, -0.2, 0.1, 0]), None)
    assert same == ("SHAP and LIME agree on the top 3 features: a, b, c.",)
    notes = compare_local(_row([3, -2, 1, 0.1]), _row([0.1, 0.3, -0.2, 0.25]), None)
    assert any("SHAP ranks a higher" in n and "LIME ranks d higher" in n for n in notes)
    flips = [n for n in notes if n.startswith("Opposite directions")]
    assert flips and "b" in flips[0] and "c" in flips[0]


def test_compare_local_anchor_outside_shap_top():
    from pellucid import Anchor, Predicate

    names = tuple("abcdefg")
    shap = _row([7, 6, 5, 4, 3, 0.2, 0.1], names)
    rule = Anchor((Predicate("a", ">", 1.0), Predicate("g", "<", 0.0)), 0.9, 0.1, prediction=1)
    notes = compare_local(shap, None, rule)
    assert notes == ("The anchor rule uses g, which SHAP does not rank among its top 5 features.",)


# ------------------------------------------------------------------ hashes


def test_data_hash_tracks_values_names_and_order():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]})
    assert data_hash(X) == data_hash(X.copy())
    changed = X.copy()
    changed.loc[1, "a"] = 2.5
    assert data_hash(changed) != data_hash(X)
    assert data_hash(X.rename(columns={"a": "A"})) != data_hash(X)
    assert data_hash(X.iloc[::-1]) != data_hash(X)
    arr = np.arange(6.0).reshape(3, 2)
    assert data_hash(arr) == data_hash(arr.copy()) != data_hash(arr.T.copy())


def test_model_hash_tracks_fitted_state():
    from sklearn.linear_model import LinearRegression

    X = np.arange(20.0).reshape(10, 2)
    m1 = LinearRegression().fit(X, X[:, 0])
    m2 = LinearRegression().fit(X, X[:, 1])
    assert model_hash(m1) == model_hash(LinearRegression().fit(X, X[:, 0]))
    assert model_hash(m1) != model_hash(m2)


# ------------------------------------------------------------------ render step


@pytest.fixture(scope="module")
def hand_html():
    return render(full_results())


def test_render_has_every_section_without_a_model(hand_html):
    for key, title in (*SECTIONS, ("record", "Reproducibility")):
        assert f'<section id="{key}"' in hand_html
        assert title in hand_html
    # one figure per picture the results call for: 4 performance, 2 importance,
    # beeswarm + 2 dependence, 4 PD + 4 ALE + heat map, 2 rows x (waterfall, LIME, anchor)
    n_images = hand_html.count("<img ")
    assert n_images == 4 + 2 + 3 + 9 + 6
    assert hand_html.count('src="data:image/png;base64,') == n_images
    assert "Could not" not in hand_html


def test_render_is_self_contained(hand_html):
    assert not EXTERNAL.search(hand_html)
    assert "@import" not in hand_html and "url(" not in hand_html
    assert "<link" not in hand_html
    # the only script is inert JSON data
    scripts = re.findall(r"<script([^>]*)>", hand_html)
    assert scripts == [' type="application/json" id="pellucid-record"']


def test_render_warns_about_correlated_features(hand_html):
    assert "income_after_tax" in hand_html
    assert "income is strongly correlated with income_after_tax" in hand_html
    assert "read the ALE curve" in hand_html


def test_render_shows_group_metrics_notes_and_disagreements(hand_html):
    assert "sex = female" in hand_html and "sex = male" in hand_html
    assert "SHAP values of 300 rows." in hand_html
    assert "The anchor rule uses" in hand_html
    assert "local fit R² 0.81" in hand_html


def test_render_escapes_names():
    res = minimal_results()
    res.title = "<b>bold</b> & co"
    out = render(res)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in out
    assert "<b>bold</b>" not in out


def test_render_survives_a_bad_result():
    from pellucid.reporting import LocalResult

    res = minimal_results()
    bad = Explanation(np.ones((2, 3, 4, 5)), method="weird")  # image-shaped: no waterfall
    res.local = [LocalResult(0, "chosen row", 0.5, shap=bad)]
    out = render(res)
    assert "Could not draw SHAP waterfall for row 0" in out
    assert '<section id="record"' in out


def test_repr_html_is_a_fragment_with_scoped_style():
    rep = Report(minimal_results())
    frag = rep._repr_html_()
    assert "<html" not in frag and frag.lstrip().startswith('<div class="pellucid-report">')
    css = re.search(r"<style>(.*?)</style>", frag, re.S).group(1)
    selectors = [s.strip() for s in re.findall(r"([^{}]+)\{", css) if not s.strip().startswith("@")]
    assert selectors and all(
        part.strip().startswith(".pellucid-report") for s in selectors for part in s.split(",")
    )


# ------------------------------------------------------------------ the whole pipeline


@pytest.fixture(scope="module")
def credit_model():
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = pellucid.datasets.credit(n_rows=800, random_state=1)
    model = HistGradientBoostingClassifier(
        max_iter=30, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    return model, X, y


@pytest.fixture(scope="module")
def credit_report(credit_model):
    model, X, y = credit_model
    seen = []
    rep = pellucid.report(
        model,
        X,
        y,
        subgroups="sex",
        random_state=3,
        progress=lambda key, title: seen.append(key),
        settings={
            "shap_rows": 120,
            "effect_rows": 80,
            "importance_rows": 300,
            "lime_samples": 500,
            **FAST,
        },
    )
    return rep, seen


def test_report_runs_every_section_in_order(credit_report, credit_model):
    rep, seen = credit_report
    assert seen == [k for k, _ in SECTIONS]
    res = rep.results
    model, X, y = credit_model
    assert res.task == "binary" and res.explained_output == "1"
    assert res.overview.n_rows == len(X)
    np.testing.assert_allclose(
        res.evaluation.metrics["accuracy"], (model.predict(X) == y.to_numpy()).mean()
    )
    assert set(res.evaluation.by_group) == {"female", "male"}
    # default local rows: highest, median, lowest predicted probability of class 1
    p = model.predict_proba(X)[:, 1]
    rows = [lr.row for lr in res.local]
    assert p[rows[0]] == p.max() and p[rows[-1]] == p.min()
    np.testing.assert_allclose([lr.prediction for lr in res.local], p[rows])
    # every method ran: nothing stopped early or failed
    problems = [n for ns in res.notes.values() for n in ns if "stopped" in n or "failed" in n]
    assert problems == []
    # the trust section scored the SHAP method and LIME
    assert res.trust is not None and len(res.trust.rows) == 2
    # SHAP explains the probability of class 1 (model-agnostic here) and adds up to it
    assert res.shap is not None and res.shap.method in ("kernel_shap", "tree_shap")
    if res.shap.method == "kernel_shap":
        np.testing.assert_allclose(res.shap.output, p[res.shap_rows], rtol=1e-9)
        np.testing.assert_allclose(res.shap.additivity_gap, 0, atol=1e-9)
    # the effects follow the SHAP ranking
    ranking = np.argsort(-np.abs(res.shap.values).mean(0), kind="stable")
    assert res.top_features == tuple(res.shap.feature_names[i] for i in ranking[:4])
    assert [pd_.features for pd_ in res.pd] == [(f,) for f in res.top_features]
    assert [a.features for a in res.ale] == [(f,) for f in res.top_features]
    assert res.pd2 is not None and res.pd2.features == res.top_features[:2]
    assert res.permutation is not None and len(res.permutation.feature_names) == X.shape[1]
    # local: SHAP, LIME and an anchor per row; the anchor holds the row's predicted class
    for lr in res.local:
        assert lr.shap is not None and lr.lime is not None and lr.anchor is not None
        assert lr.anchor.prediction == int(p[lr.row] > 0.5)
        assert lr.disagreements


def test_report_record(credit_report, credit_model):
    rep, _ = credit_report
    model, X, y = credit_model
    rec = rep.results.record
    assert rec["random_state"] == 3
    assert rec["data hash"] == data_hash(X)
    assert rec["target hash"] == data_hash(np.asarray(y))
    assert rec["model hash"] == model_hash(model)
    assert (
        rec["model"]
        == "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier"
    )
    assert rec["versions"]["pellucid"] and rec["versions"]["scikit-learn"]
    assert rec["settings"]["shap_rows"] == 120
    assert rec["run time (s)"] >= sum(rec["section times (s)"].values()) - 0.05
    html = rep.html
    assert rec["data hash"] in html and rec["model hash"] in html


def test_report_save(tmp_path, credit_report):
    rep, _ = credit_report
    path = rep.save(tmp_path / "sub" / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.search(text)
    with pytest.raises(ValueError, match=r"\.html"):
        rep.save(tmp_path / "report.pdf")


@pytest.mark.slow
def test_report_same_seed_same_results(credit_model):
    model, X, y = credit_model
    kw = dict(
        settings={
            "shap_rows": 50,
            "effect_rows": 40,
            "importance_rows": 100,
            "lime_samples": 300,
            **FAST,
        }
    )
    a = pellucid.report(model, X, y, random_state=5, **kw).results
    b = pellucid.report(model, X, y, random_state=5, **kw).results
    assert [lr.row for lr in a.local] == [lr.row for lr in b.local]
    for name in ("shap", "permutation"):
        ra, rb = getattr(a, name), getattr(b, name)
        assert (ra is None) == (rb is None)
        if ra is not None:
            assert ra.to_json() == rb.to_json()
    assert [p.to_json() for p in a.pd + a.ale] == [p.to_json() for p in b.pd + b.ale]


def test_report_regression_without_target():
    from sklearn.linear_model import LinearRegression

    X, y = pellucid.datasets.diabetes()
    rep = pellucid.report(LinearRegression().fit(X, y), X, settings=FAST)
    res = rep.results
    assert res.evaluation is None
    assert any("No target" in n for n in res.notes["performance"])
    assert res.explained_output is None
    html = rep.html
    assert '<section id="performance"' in html and "No target (y) was given" in html


def test_report_bad_input_is_named(credit_model):
    model, X, y = credit_model
    with pytest.raises(pellucid.DataError, match="Row 5000 is out of range: X has 800 rows"):
        pellucid.report(model, X, y, rows=[1, 5000])
    with pytest.raises(ValueError, match=r"Unknown settings \['shap_row'\]"):
        pellucid.report(model, X, y, settings={"shap_row": 10})
    with pytest.raises(ValueError, match=r"Unknown method\(s\) \['magic'\]"):
        pellucid.report(model, X, y, methods=["magic"])
    with pytest.raises(ValueError, match="not one of the model's classes"):
        pellucid.report(model, X, y, output="maybe")
    with pytest.raises(pellucid.DataError, match="rows"):
        pellucid.report(model, X, y.iloc[:10])


@pytest.mark.slow
def test_trust_section_scores_treeshap_on_the_margin():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from pellucid.datasets import breast_cancer
    from pellucid.reporting import compute

    X, y = breast_cancer()
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    res = compute(model, X, y, settings={"shap_rows": 50, "importance_rows": 200})
    assert res.shap is not None and res.shap.method == "tree_shap"
    assert res.notes.get("trust") is None, res.notes.get("trust")
    methods = [r.method for r in res.trust.rows]
    assert methods == ["TreeShap", "Lime"]
    # exact SHAP of the margin, scored on the margin, is faithful
    assert res.trust.rows[0].faithfulness_correlation > 0.7


def test_report_record_says_which_rows_each_section_read(credit_report, credit_model):
    """Sections that sample say how many rows, of how many, with which seed; the
    overview and performance read every row."""
    rep, _ = credit_report
    _, X, _ = credit_model
    used = rep.results.record["rows used"]
    n = len(X)
    assert used["overview"] == f"all {n:,} rows"
    assert used["performance"] == f"all {n:,} rows"
    assert used["importance"] == f"300 of {n:,} rows drawn at random (seed 3)"
    assert used["effects"] == f"80 of {n:,} rows drawn at random (seed 3)"
    assert used["trust"] == f"10 of {n:,} rows drawn at random (seed 3)"
    assert used["shap"].startswith(f"{len(rep.results.shap_rows)} of {n:,} rows")
    assert used["local"] == f"all {n:,} rows"
    assert "rows used" in rep.html and f"300 of {n:,} rows drawn at random" in rep.html


# ------------------------------------------------------------------ what would change the decision


def _small_tree():
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    n = 200
    X = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n).round(1),
            "debt": rng.uniform(0, 1, n).round(3),
            "age": rng.integers(20, 70, n),
        }
    )
    y = (X["income"] / 50 - X["debt"] + 0.1 * (X["age"] > 45) + rng.normal(0, 0.2, n)) > 0.5
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y.astype(int))
    return model, X, y.astype(int)


SMALL = {"shap_rows": 40, "effect_rows": 40, "importance_rows": 100, "lime_samples": 300,
         "trust_rows": 3, "counterfactual_time_limit": 1.0}  # fmt: skip


def test_report_says_what_would_change_the_decision(tmp_path):
    import html as html_lib

    from pellucid.counterfactual import Counterfactuals

    model, X, y = _small_tree()
    rows = [0, 1, 2]
    settings = {**SMALL, "counterfactual_immutable": "age"}  # as the CLI passes it
    rep = pellucid.report(model, X, y, rows=rows, random_state=4, settings=settings)
    res = rep.results
    assert "counterfactual" not in res.notes, res.notes.get("counterfactual")
    assert res.counterfactual_rows == tuple(rows)
    text = rep.save(tmp_path / "report.html").read_text(encoding="utf-8")
    start = text.index('<section id="counterfactual"')
    section = text[start : text.index('<section id="trust"', start)]
    assert "What would change the decision" in section
    # an independent run on the same rows, settings and seed
    ref = Counterfactuals(model, X, immutable=["age"], time_limit=1.0, random_state=4)
    expected = ref.explain(X.iloc[rows])
    assert expected.certificates == ("optimal",) * 3  # a depth-3 tree is solved well in time
    for i, row in enumerate(rows):
        cf = res.counterfactuals.for_row(i)[0]
        assert cf.certificate == "optimal" and cf.valid
        assert html_lib.escape(expected.sentence(expected.for_row(i)[0])) in section
        assert html_lib.escape(res.counterfactuals.sentence(cf)) in section
        np.testing.assert_allclose(cf.cost, expected.for_row(i)[0].cost, rtol=1e-9)
        # the changes, applied to the row, give the model's other class
        changed = X.iloc[[row]].copy()
        for c in cf.changes:
            assert c.feature != "age"
            assert f'<th scope="row">{c.feature}</th>' in section
            changed[c.feature] = c.after
        before = model.predict(X.iloc[[row]])[0]
        assert model.predict(changed)[0] == 1 - before == cf.prediction
    assert section.count("optimal: no cheaper allowed change") == 3
    assert res.record["rows used"]["counterfactual"].startswith("3 local rows")
    assert res.record["settings"]["counterfactual_immutable"] == ("age",)


def test_report_counterfactual_failures_are_one_note():
    from sklearn.linear_model import LinearRegression

    model, X, y = _small_tree()
    reg = LinearRegression().fit(X, y.astype(float))
    res = pellucid.report(reg, X, rows=[0], settings=SMALL).results
    assert res.counterfactuals is None
    assert len(res.notes["counterfactual"]) == 1
    assert "classifiers" in res.notes["counterfactual"][0]
    with pytest.raises(ValueError, match=r"column\(s\) \['height'\] that X does not have"):
        pellucid.report(model, X, y, settings={"counterfactual_immutable": ["height"]})


def test_trust_section_scores_a_single_tree_classifier():
    """TreeShap's raw output of a scikit-learn tree is its probability; the trust
    section used to ask the tree for a margin it does not have and gave up."""
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (X["a"] + X["b"] > 0).astype(int)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    rep = pellucid.report(model, X, y, rows=[0, 1], random_state=0)
    assert rep.results.shap.output_kind == "probability"
    assert rep.results.trust is not None
    assert "trust" not in rep.results.notes, rep.results.notes
