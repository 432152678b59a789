"""One result protocol: every public result has the versioned to_dict/to_json/from_json,
and from_json(to_json(r)) gives back r field by field."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import pellucid
import pellucid.comparison
import pellucid.counterfactual
from pellucid import metrics, quality, regulatory
from pellucid._provenance import Provenance, provenance
from pellucid._results import SCHEMA_VERSION, _JsonMixin
from pellucid.datasets import credit

# Public dataclasses that are not results on their own, and why.
NOT_RESULTS = {
    "Predicate": "a condition inside an Anchor; written by Anchor's JSON",
    "Change": "one feature change inside a Counterfactual; written by CounterfactualSet's JSON",
    "Counterfactual": "one row's answer inside a CounterfactualSet; written by its JSON",
    "Problem": "an input: a ground-truth problem holds a model function, which JSON cannot",
}
# Namespaces whose classes users reach: the top level and the public subpackages.
NAMESPACES = (
    pellucid,
    pellucid.quality,
    pellucid.metrics,
    pellucid.regulatory,
    pellucid.comparison,
    pellucid.counterfactual,
)


def public_dataclasses() -> dict[str, type]:
    found: dict[str, type] = {}
    for namespace in NAMESPACES:
        for name in namespace.__all__:
            try:
                value = getattr(namespace, name)
            except ImportError:  # an optional extra (torch) that is not installed
                continue
            if isinstance(value, type) and dataclasses.is_dataclass(value):
                found[name] = value
    return found


def test_every_public_result_has_the_protocol():
    classes = public_dataclasses()
    assert {"ModelEvaluation", "ModelCard", "TrustSummary", "Explanation"} <= set(classes)
    missing = [
        name
        for name, cls in classes.items()
        if name not in NOT_RESULTS
        and not (issubclass(cls, _JsonMixin) and all(hasattr(cls, m) for m in PROTOCOL))
    ]
    assert missing == [], f"results without the shared JSON protocol: {missing}"
    assert set(NOT_RESULTS) <= set(classes), "an exemption names no public dataclass"


PROTOCOL = ("to_dict", "to_json", "from_dict", "from_json")


# ---------------------------------------------------------------- field by field


def assert_same(a: Any, b: Any, where: str = "result") -> None:
    """a and b hold the same values, dtypes and types, recursively."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, f"{where}: dtype"
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        if a.dtype.kind == "O":  # cell by cell: NaN, None and the cells' types all count
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
                assert_same(x, y, f"{where}.flat[{i}]")
        else:
            np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping) and list(a) == list(b), f"{where}: keys {list(a)} {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), f"{where}: {b!r} is not NaN"
    else:
        assert a == b and type(a) is type(b), f"{where}: {a!r} != {b!r}"


def round_trip(result: Any) -> Any:
    text = result.to_json()
    payload = json.loads(text)
    assert payload["schema_version"] == SCHEMA_VERSION
    assert payload["type"] == type(result).__name__
    back = type(result).from_json(text)
    assert_same(result, back)
    return back


# ---------------------------------------------------------------- results to write


@pytest.fixture(scope="module")
def credit_fit():
    """A logistic regression on credit()'s complete numeric columns; the frames keep
    ``sex``, which the model's first step drops."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    frame, y = credit(n_rows=500, random_state=2)
    numeric = [c for c in frame.select_dtypes("number").columns if frame[c].notna().all()]
    X = frame[[*numeric, "sex"]]
    keep = ColumnTransformer([("num", "passthrough", numeric)])
    model = Pipeline([("keep", keep), ("lr", LogisticRegression(max_iter=2000))])
    model.fit(X.iloc[:300], y.iloc[:300])
    return model, X.iloc[300:], y.iloc[300:], X["sex"].iloc[300:]


def test_model_evaluation_round_trip(credit_fit):
    model, X, y, sex = credit_fit
    ev = pellucid.evaluate(model, X, y, subgroups=sex.to_numpy())
    assert ev.roc_curve is not None and ev.calibration is not None and ev.by_group
    back = round_trip(ev)
    assert list(back.by_group) == list(ev.by_group)


def test_model_evaluation_round_trip_keeps_group_key_types():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = X @ [1.0, -2.0] + rng.normal(size=80)
    ev = pellucid.evaluate(LinearRegression().fit(X, y), X, y, subgroups=np.arange(80) % 3)
    back = round_trip(ev)
    assert list(back.by_group) == [0, 1, 2] and ev.residuals is not None


def test_model_card_round_trip(credit_fit):
    model, X, y, sex = credit_fit
    card = pellucid.model_card(
        model,
        X,
        y,
        subgroups="sex",
        n_repeats=2,
        created="2026-01-01T00:00:00Z",
    )
    assert card.subgroups[0].gaps is not None and card.importance is not None
    back = round_trip(card)
    assert back.to_markdown() == card.to_markdown()


def test_quality_results_round_trip():
    rng = np.random.default_rng(1)
    per_row = rng.normal(size=5)
    per_row[2] = np.nan
    results = [
        quality.QualityScore("infidelity", per_row, params={"n": 3, "note": None}),
        quality.CurveResult(
            "deletion", np.linspace(0, 1, 4), rng.normal(size=(5, 4)), rng.normal(size=5)
        ),
        quality.StabilityResult(None, rng.random(5), rng.random(5), {"seeds": 3}),
        quality.SanityCheckResult(rng.random(5), None, 0.5),
        quality.AgreementResult(rng.random(3), rng.random(3), np.full(3, np.nan), 2),
        quality.GroundTruthResult(
            "m", "p", rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), ("a", "b"), 0.25
        ),
    ]
    for result in results:
        round_trip(result)
    report = quality.GroundTruthReport(
        results=(results[-1],), skipped={("lime", "tree"): "needs a tree"}
    )
    back = round_trip(report)
    assert back.skipped == {("lime", "tree"): "needs a tree"}


def test_trust_summary_round_trip_with_typed_rows():
    row = quality.MethodTrust(
        "kernel_shap", 0.4, float("nan"), 0.8, 0.01, None, 0.2, 0.03, True, "trust", "fine"
    )
    summary = quality.TrustSummary(rows=(row,), notes=("lime: not run",), params={"n_rows": 5})
    back = round_trip(summary)
    assert back.rows[0].method == "kernel_shap"
    assert summary.to_frame().columns.tolist() == list(quality.TrustSummary.COLUMNS)


def test_trust_summary_refuses_rows_with_other_keys():
    with pytest.raises(ValueError, match="missing .*deletion_gain"):
        quality.TrustSummary(rows=({"method": "x", "verdict": "trust", "reading": ""},))


def test_fairness_gaps_and_provenance_round_trip(credit_fit):
    model, X, y, sex = credit_fit
    _, gaps = metrics.fairness_table(y, model.predict_proba(X)[:, 1], sex.to_numpy())
    round_trip(gaps)
    record = provenance(model, X, y, random_state=3, created="2026-01-01T00:00:00Z")
    assert isinstance(record, Provenance) and record.n_rows == len(X)
    round_trip(record)


def test_card_parts_round_trip():
    round_trip(regulatory.IntendedUse(primary_uses="triage"))
    round_trip(regulatory.ModelDetails("LR", "binary", "1", "me", "d", ("a",), "t", ("0", "1")))


def test_from_json_refuses_another_type_or_version(credit_fit):
    model, X, y, _ = credit_fit
    payload = pellucid.evaluate(model, X, y).to_dict()
    with pytest.raises(ValueError, match="Expected a TrustSummary payload"):
        quality.TrustSummary.from_dict(payload)
    with pytest.raises(ValueError, match="schema_version"):
        pellucid.ModelEvaluation.from_dict({**payload, "schema_version": 99})


def test_report_results_round_trip():
    from _report_data import full_results
    from pellucid.reporting import ReportResults

    results = full_results()
    assert results.evaluation is not None and results.local and results.overview.columns
    assert isinstance(round_trip(results), ReportResults)


def test_a_report_read_from_json_renders_the_same_page():
    from _report_data import minimal_results
    from pellucid.reporting import Report

    report = Report(minimal_results())
    again = Report.from_json(report.to_json())
    assert again.html == report.html
