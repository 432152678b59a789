"""POST /counterfactual: answers match the library, bad desired/k are 422 naming the field,
costs beyond the limit are 413 before any work, the API key is required (in-process)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402

from _asgi_client import ASGIClient  # noqa: E402
from pellucid import Counterfactuals  # noqa: E402
from pellucid.datasets import credit  # noqa: E402
from pellucid.serve import create_app  # noqa: E402
from pellucid.serve._service import COUNTERFACTUAL_TIME_LIMIT, EVALUATIONS_PER_SECOND  # noqa: E402

IMMUTABLE = ["age", "sex"]
MAX_COST = 10_000_000
LEAKS = ("Traceback", "site-packages", 'File "')


def rows_of(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


@pytest.fixture(scope="module")
def case():
    X, y = credit(n_rows=400, random_state=2)
    X = X.drop(columns=["employment", "housing"])
    X["savings"] = X["savings"].fillna(0.0)
    X["sex"] = (X["sex"] == "male").astype(np.int64)
    model = LogisticRegression(max_iter=2000).fit(X, y)
    declined = X[model.predict(X) == 1].iloc[:2]
    approved = X[model.predict(X) == 0].iloc[:1]
    return model, X, declined, approved


@pytest.fixture(scope="module")
def client(case):
    model, X, _, _ = case
    app = create_app(
        model,
        X,
        compute_threads=None,
        api_key="k3y",
        max_cost=MAX_COST,
        counterfactuals={"immutable": IMMUTABLE},
    )
    with ASGIClient(app, headers={"X-API-Key": "k3y"}) as c:
        yield c


def test_answers_are_the_librarys_with_sentences(client, case):
    model, X, declined, approved = case
    rows = pd.concat([declined, approved])
    r = client.post("/counterfactual", json={"rows": rows_of(rows), "k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "milp_linear" and body["labels"] == [1, 1, 0]
    library = Counterfactuals(
        model, X, immutable=IMMUTABLE, time_limit=COUNTERFACTUAL_TIME_LIMIT
    ).explain(rows, k=2)
    for i, served in enumerate(body["counterfactuals"]):
        assert served["certificate"] == library.certificates[i]
        expected = library.for_row(i)
        assert len(served["counterfactuals"]) == len(expected)
        for got, want in zip(served["counterfactuals"], expected, strict=True):
            np.testing.assert_allclose(got["cost"], want.cost, rtol=1e-9)
            # the other class by default: the approved row's answer leads to decline
            assert got["valid"] is True and got["prediction"] == 1 - body["labels"][i]
            assert got["certificate"] == want.certificate
            assert [c["feature"] for c in got["changes"]] == [c.feature for c in want.changes]
            assert not {c["feature"] for c in got["changes"]} & set(IMMUTABLE)
            assert got["sentence"] == library.sentence(want)
    assert body["counterfactuals"][0]["certificate"] == "optimal"


def test_desired_class_by_value_or_text_and_probability_range(client, case):
    _, _, declined, approved = case
    rows = rows_of(pd.concat([declined, approved]))
    for desired in (0, "0"):
        r = client.post("/counterfactual", json={"rows": rows, "desired": desired})
        assert r.status_code == 200, r.text
        assert r.json()["desired"] == 0
        answers = r.json()["counterfactuals"]
        assert [a["counterfactuals"][0]["prediction"] for a in answers[:2]] == [0, 0]
        assert answers[2] == {"certificate": "not_needed", "counterfactuals": []}
    r = client.post("/counterfactual", json={"rows": rows_of(declined), "desired": [None, 0.3]})
    assert r.status_code == 200, r.text
    for row in r.json()["counterfactuals"]:
        assert row["counterfactuals"][0]["prediction"] <= 0.3


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"k": 0}, "k"),
        ({"k": 6}, "k"),
        ({"k": "1"}, "k"),
        ({"k": True}, "k"),
        ({"k": 1.5}, "k"),
        ({"desired": "maybe"}, "desired"),
        ({"desired": True}, "desired"),
        ({"desired": [0.1]}, "desired"),
        ({"desired": [0.9, 0.1]}, "desired"),
        ({"desired": ["a", "b"]}, "desired"),
        ({"desired": {"class": 0}}, "desired"),
        ({"desired": [0.1, 0.2, 0.3]}, "desired"),
        ({"kk": 1}, "kk"),
    ],
)
def test_malformed_desired_or_k_is_422_naming_the_field(client, case, extra, field):
    _, _, declined, _ = case
    r = client.post("/counterfactual", json={"rows": rows_of(declined.iloc[:1]), **extra})
    assert r.status_code == 422, r.text
    body = r.json()
    assert any(d["loc"] == [field] for d in body["detail"]), body
    assert not any(leak in r.text for leak in LEAKS)


def test_cost_beyond_the_limit_is_413_before_any_work(client, case):
    _, X, _, _ = case
    per_row = COUNTERFACTUAL_TIME_LIMIT * EVALUATIONS_PER_SECOND + 1
    n = int(MAX_COST // per_row) + 1  # the limit buys n - 1 rows
    r = client.post("/counterfactual", json={"rows": rows_of(X.iloc[:n])})
    assert r.status_code == 413, r.text
    assert f"send at most {n - 1} rows" in r.json()["error"]
    m = int(MAX_COST // (5 * (per_row - 1) + 1))  # k answers per row, each at its time limit
    r = client.post("/counterfactual", json={"rows": rows_of(X.iloc[: m + 1]), "k": 5})
    assert r.status_code == 413, r.text
    r = client.post("/counterfactual", json={"rows": rows_of(X.iloc[:m]), "k": 5})
    assert r.status_code == 200, r.text


def test_api_key_body_cap_and_bad_rows(client, case):
    model, X, declined, _ = case
    app = create_app(model, X, compute_threads=None, api_key="k3y", max_body_bytes=200)
    with ASGIClient(app) as anonymous:
        assert (
            anonymous.post("/counterfactual", json={"rows": rows_of(declined)}).status_code == 401
        )
        big = anonymous.post(
            "/counterfactual", json={"rows": rows_of(X.iloc[:20])}, headers={"X-API-Key": "k3y"}
        )
        assert big.status_code == 413
    bad = rows_of(declined.iloc[:1])
    bad[0]["income"] = "lots"
    r = client.post("/counterfactual", json={"rows": bad})
    assert r.status_code == 422 and "income" in r.json()["error"]


def test_regressor_needs_a_desired_range():
    X, y = credit(n_rows=200, random_state=3)
    X = X[["age", "income", "late_payments"]]
    model = LinearRegression().fit(X, X["income"] / 1000 + X["late_payments"])
    with ASGIClient(create_app(model, X, compute_threads=None)) as c:
        r = c.post("/counterfactual", json={"rows": rows_of(X.iloc[:1])})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["desired"]
        r = c.post("/counterfactual", json={"rows": rows_of(X.iloc[:1]), "desired": 1})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["desired"]
        target = float(model.predict(X.iloc[:1])[0]) + 5
        r = c.post("/counterfactual", json={"rows": rows_of(X.iloc[:1]), "desired": [target, None]})
        assert r.status_code == 200, r.text
        answer = r.json()["counterfactuals"][0]["counterfactuals"][0]
        assert answer["valid"] and answer["prediction"] >= target - 1e-9
