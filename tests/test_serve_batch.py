"""Micro-batching of concurrent /explain requests: each answer is the bytes it gets alone."""

from __future__ import annotations

import asyncio
import functools
import json
import threading

import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402

from _asgi_client import ASGIClient  # noqa: E402
from pellucid.datasets import credit  # noqa: E402
from pellucid.serve import Service, create_app  # noqa: E402
from pellucid.serve._app import SafeJSONResponse, _Batcher  # noqa: E402
from pellucid.serve._service import BATCH_REQUEST_ROWS, Cancelled  # noqa: E402

COLUMNS = ["age", "income", "debt_to_income", "credit_history_years", "late_payments", "housing"]


def fragile(model):
    """``model``, made unable to evaluate a negative income (as a library error would)."""

    def refusing(method):
        @functools.wraps(method)
        def call(X, *args, **kwargs):
            if (np.asarray(X["income"], dtype=float) < 0).any():
                raise ValueError("negative income")
            return method(X, *args, **kwargs)

        return call

    for name in ("decision_function", "predict_proba", "predict"):
        setattr(model, name, refusing(getattr(model, name)))
    return model


@pytest.fixture(scope="module")
def data():
    X, y = credit(n_rows=600, random_state=3)
    return X[COLUMNS], y


def rows_of(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def body(answer) -> bytes:
    """The bytes the service sends for an answer."""
    return SafeJSONResponse(answer).body


def payloads(X) -> list[dict]:
    """One-row requests, a 5-row one, a repeated row and an explicit method."""
    rows = rows_of(X.iloc[:40])
    out = [{"rows": [r]} for r in rows[:30]]
    out.insert(7, {"rows": rows[30:35]})
    out.append({"rows": [rows[2]], "method": "auto"})
    return out


def counting(explainer) -> list[int]:
    """Count the rows of each call to ``explainer.explain`` (its signature kept)."""
    calls: list[int] = []
    inner = explainer.explain

    @functools.wraps(inner)
    def explain(X, **kwargs):
        calls.append(len(X))
        return inner(X, **kwargs)

    explainer.explain = explain
    return calls


def models(X, y):
    yield (
        "hist_gradient_boosting",
        HistGradientBoostingClassifier(
            max_iter=30, categorical_features="from_dtype", random_state=0
        ).fit(X, y),
    )
    numeric = X.drop(columns="housing")
    yield "random_forest", RandomForestClassifier(n_estimators=20, random_state=0).fit(numeric, y)
    try:
        import xgboost
    except ImportError:
        return
    yield (
        "xgboost",
        xgboost.XGBClassifier(
            n_estimators=30, max_depth=4, enable_categorical=True, tree_method="hist"
        ).fit(X, y),
    )


@pytest.mark.parametrize("kind", ["hist_gradient_boosting", "random_forest", "xgboost"])
def test_batched_treeshap_answers_are_the_bytes_of_each_request_alone(data, kind):
    X, y = data
    built = dict(models(X, y))
    if kind not in built:
        pytest.skip("xgboost is not installed")
    model = built[kind]
    frame = X if kind != "random_forest" else X.drop(columns="housing")
    service = Service(model, frame)
    assert service.default_method == "tree_shap"
    requests = payloads(frame)
    alone = [body(service.explain(p)) for p in requests]
    calls = counting(service.explainer(None)[1])
    together = service.explain_many([(p, threading.Event()) for p in requests])
    assert calls == [sum(len(p["rows"]) for p in requests)], "not one call for the batch"
    assert [body(a) for a in together] == alone
    assert all(service.batch_key(p) == "tree_shap" for p in requests)


def test_batched_sampled_method_answers_equal_alone(data):
    """KernelShap seeds each row by its content: grouped, a row's answer is its own."""
    X, y = data
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype").fit(X, y)
    service = Service(model, X, explainer="kernel_shap", n_background=5)
    rows = rows_of(X.iloc[:4])
    requests = [{"rows": [rows[0]]}, {"rows": rows[1:3]}, {"rows": [rows[3]]}, {"rows": [rows[1]]}]
    assert service.batch_key(requests[0]) == "kernel_shap"
    alone = [body(service.explain(p)) for p in requests]
    together = service.explain_many([(p, None) for p in requests])
    assert [body(a) for a in together] == alone
    # The same person, second in one request and alone in another: the same values.
    second = json.loads(alone[1])["explanations"][0]
    assert json.loads(alone[3])["explanations"][0] == second


def test_one_bad_request_does_not_fail_the_others(data):
    X, y = data
    model = fragile(HistGradientBoostingClassifier(max_iter=20, categorical_features="from_dtype"))
    model.fit(X, y)
    service = Service(model, X, max_cost=2 * 10)  # TreeShap costs 2 a row: 10 rows at most
    assert service.default_method == "tree_shap"
    rows = rows_of(X.iloc[:20])
    bad_cell = {**rows[1], "age": "old"}
    negative = {**rows[2], "income": -5.0}
    requests = [
        {"rows": [rows[0]]},
        {"rows": [rows[3], bad_cell]},  # invalid: 422 naming row 1, field age
        {"rows": rows[4:15]},  # 11 rows: over the cost limit, 413
        {"rows": [rows[5], negative]},  # the model fails on row 1: 422 naming it and income
        {"rows": [rows[6]]},
    ]
    calls = counting(service.explainer(None)[1])
    answers = service.explain_many([(p, None) for p in requests])
    assert calls[0] == 1 + 2 + 1, "the valid requests were not tried together first"
    status = [getattr(a, "status", 200) for a in answers]
    assert status == [200, 422, 413, 422, 200]
    assert answers[1].errors[0]["row"] == 1 and answers[1].errors[0]["field"] == "age"
    assert answers[3].errors[0]["row"] == 1 and answers[3].errors[0]["field"] == "income"
    for i in (0, 4):
        assert body(answers[i]) == body(service.explain(requests[i]))


def test_cancelled_requests_are_dropped_and_a_fully_cancelled_batch_stops(data):
    X, y = data
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype").fit(X, y)
    service = Service(model, X)
    rows = rows_of(X.iloc[:3])
    gone, here = threading.Event(), threading.Event()
    gone.set()
    calls = counting(service.explainer(None)[1])
    answers = service.explain_many(
        [({"rows": [rows[0]]}, here), ({"rows": [rows[1]]}, gone), ({"rows": [rows[2]]}, here)]
    )
    assert calls == [2]
    assert isinstance(answers[1], Cancelled)
    answers_gone = service.explain_many([({"rows": [r]}, gone) for r in rows])
    assert calls == [2] and all(isinstance(a, Cancelled) for a in answers_gone)
    assert body(answers[2]) == body(service.explain({"rows": [rows[2]]}))


def test_what_is_not_batched(data):
    X, y = data
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype").fit(X, y)
    service = Service(model, X)
    rows = rows_of(X.iloc[: BATCH_REQUEST_ROWS + 1])
    assert service.batch_key({"rows": rows[:BATCH_REQUEST_ROWS]}) == "tree_shap"
    assert service.batch_key({"rows": rows}) is None  # large: explained alone
    assert service.batch_key({"rows": rows[:1], "method": "exact_shap"}) is None
    assert service.batch_key({"rows": rows[:1], "method": 3}) is None
    assert service.batch_key({"rows": "x"}) is None and service.batch_key([1]) is None


def test_concurrent_http_requests_are_batched_and_answer_as_alone(data):
    X, y = data
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features="from_dtype").fit(X, y)
    requests = payloads(X) + [{"rows": [{**rows_of(X.iloc[:1])[0], "age": None, "x": 1}]}]
    alone_app = create_app(model, X, batch_window=None)
    with ASGIClient(alone_app) as client:
        alone = [client.post("/explain", json=p) for p in requests]
    assert [r.status_code for r in alone] == [200] * (len(requests) - 1) + [422]
    app = create_app(model, X, compute_slots=1, batch_window=0.05, server_timing=True)
    with ASGIClient(app) as client:

        async def burst():
            return await asyncio.gather(*(client.client.post("/explain", json=p) for p in requests))

        together = client.loop.run_until_complete(burst())
    batcher = app.state.batchers["tree_shap"]
    assert batcher.largest > 1 and batcher.requests == len(requests)
    assert [r.status_code for r in together] == [r.status_code for r in alone]
    assert [r.content for r in together] == [r.content for r in alone]
    timing = together[0].headers["server-timing"]
    assert timing.startswith("app;dur=") and float(timing.split("=")[1]) > 0
    assert "server-timing" not in alone[0].headers


def test_the_batcher_drops_a_request_whose_client_left():
    async def scenario():
        import anyio

        seen: list[list[str]] = []

        def run(requests):
            seen.append([p for p, _ in requests])
            return [{"echo": p} for p, _ in requests]

        batcher = _Batcher(run, anyio.CapacityLimiter(1), max_rows=10, window=0.0)
        left, here = threading.Event(), threading.Event()
        left.set()
        futures = [batcher.submit(p, 1, c) for p, c in (("a", here), ("b", left), ("c", here))]
        done = await asyncio.gather(*futures, return_exceptions=True)
        return seen, done

    seen, done = asyncio.run(scenario())
    assert seen == [["a", "c"]]
    assert done[0] == {"echo": "a"} and isinstance(done[1], Cancelled) and done[2] == {"echo": "c"}
