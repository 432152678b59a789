"""The service under hostile input: dtype ranges, surrogates, duplicate keys, library errors,
cost limits, content types, timeouts, disconnects and API keys (in-process unless a socket matters)."""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

import pellucid  # noqa: E402
from _asgi_client import ASGIClient  # noqa: E402
from pellucid import Model  # noqa: E402
from pellucid.datasets import credit  # noqa: E402
from pellucid.serve import Service, create_app, running_server  # noqa: E402
from pellucid.serve._service import evaluations_per_row  # noqa: E402

CATS = ["employment", "housing", "sex"]
LEAKS = ("Traceback", "site-packages", 'File "', "0x7f")


def rows_of(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


@pytest.fixture(scope="module")
def data():
    X, y = credit(n_rows=300, random_state=4)
    return X, y


@pytest.fixture(scope="module")
def tree_client(data):
    X, y = data
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    app = create_app(model.fit(X, y), X, compute_threads=None)
    with ASGIClient(app) as client:
        yield client


def _good(X: pd.DataFrame) -> dict:
    return rows_of(X.iloc[[0]])[0]


def assert_names(response, row: int, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert f"row {row}" in body["error"] and field in body["error"], body
    assert any(d.get("row") == row and d.get("field") == field for d in body["detail"]), body
    assert not any(leak in response.text for leak in LEAKS), response.text


@pytest.mark.parametrize(
    "field, literal",
    [
        ("age", "18446744073709551616"),  # 2**64: beyond int64
        ("age", "-9223372036854775809"),  # one below int64's minimum
        ("age", "1e20"),  # integer-valued, beyond int64
        ("late_payments", "9" * 400),
        ("income", "9" * 400),  # beyond every float
        ("income", "-" + "9" * 400),
    ],
)
def test_numbers_beyond_the_columns_dtype_are_422_naming_row_and_field(
    tree_client, data, field, literal
):
    """These were 500s (OverflowError building the frame)."""
    X, _ = data
    good = _good(X)
    text = json.dumps({"rows": [good, {**good, field: 12345}]}).replace("12345", literal)
    r = tree_client.post("/predict", content=text, headers={"Content-Type": "application/json"})
    assert_names(r, 1, field)
    assert "out of range" in r.json()["error"]


def test_int64_bounds_themselves_are_accepted(tree_client, data):
    X, _ = data
    good = _good(X)
    for v in (2**63 - 1, -(2**63)):
        r = tree_client.post("/predict", json={"rows": [{**good, "age": v}]})
        assert r.status_code == 200, r.text


def test_lone_surrogates_get_an_encodable_422(tree_client, data):
    """A lone surrogate as a field name made the 422 body itself unencodable (500)."""
    X, _ = data
    good = _good(X)
    as_name = json.dumps({"rows": [{**good, "\udfff": 1}]})  # ensure_ascii: "\\udfff" escape
    r = tree_client.post("/explain", content=as_name, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["row"] == 0 and detail["field"] == "\\udfff"
    as_value = json.dumps({"rows": [{**good, "housing": "own\ud800"}]})
    r = tree_client.post("/reasons", content=as_value, headers={"Content-Type": "application/json"})
    assert_names(r, 0, "housing")
    as_key = json.dumps({"rows": [good], "\udc80": 1})
    r = tree_client.post("/predict", content=as_key, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "\\udc80" in r.json()["error"]


def test_duplicate_keys_are_refused_not_silently_resolved(tree_client, data):
    X, _ = data
    good = json.dumps(_good(X))
    row = good[:-1] + ', "income": 1.0}'
    r = tree_client.post(
        "/predict",
        content=f'{{"rows": [{good}, {row}]}}',
        headers={"Content-Type": "application/json"},
    )
    assert_names(r, 1, "income")
    assert "more than once" in r.json()["error"]
    r = tree_client.post(
        "/predict",
        content=f'{{"rows": [{good}], "rows": [{good}]}}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "rows" in r.json()["error"]


def test_huge_strings_are_not_echoed_whole(tree_client, data):
    X, _ = data
    r = tree_client.post("/predict", json={"rows": [{**_good(X), "housing": "x" * 500_000}]})
    assert_names(r, 0, "housing")
    assert len(r.content) < 2_000


def test_booleans_never_pick_a_numbered_category():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "g": pd.Categorical([0, 1, 0, 1])})
    model = LogisticRegression().fit(pd.get_dummies(X, dtype=float), [0, 1, 0, 1])
    schema = Service(lambda d: model.predict_proba(pd.get_dummies(d, dtype=float))[:, 1], X).rows
    with pytest.raises(pellucid.serve.RequestError) as info:
        schema.parse([{"a": 1.0, "g": True}], max_rows=5)
    assert info.value.errors[0]["field"] == "g"


class Fragile:
    """A model whose library fails on large incomes with a message a client must never see."""

    def __init__(self, model):
        self.model = model

    def __call__(self, X):
        if (np.asarray(X["income"], dtype=float) > 1e12).any():
            raise ValueError("/opt/secret/lib/native.so: bad value at 0x7fdeadbeef")
        return self.model.predict_proba(X)[:, 1]


@pytest.fixture(scope="module")
def pipeline(data):
    X, y = data
    num = [c for c in X.columns if c not in CATS]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
            ("cat", OneHotEncoder(), CATS),
        ]
    )
    return Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=1000))]).fit(X, y)


def test_library_errors_name_row_and_field_and_leak_nothing(data, pipeline):
    X, _ = data
    app = create_app(Fragile(pipeline), X, explainer="exact_shap", n_background=5)
    good = _good(X)
    bad = {**good, "income": 5e12}
    with ASGIClient(app) as client:
        for path in ("/predict", "/explain", "/reasons"):
            r = client.post(path, json={"rows": [good, good, bad]})
            assert_names(r, 2, "income")
            assert "secret" not in r.text and "native" not in r.text
            assert client.post(path, json={"rows": [good]}).status_code == 200


def test_xgboost_reads_32_bit_floats_so_1e308_is_422_without_its_stack_trace(data):
    xgboost = pytest.importorskip("xgboost")
    X, y = data
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2, enable_categorical=True)
    model.fit(X, y)
    app = create_app(model, X, compute_threads=None)
    good = _good(X)
    with ASGIClient(app) as client:
        for path in ("/predict", "/explain", "/reasons"):
            r = client.post(path, json={"rows": [good, {**good, "income": 1e308}]})
            assert_names(r, 1, "income")
            assert "32-bit" in r.json()["error"]
        assert client.post("/predict", json={"rows": [{**good, "income": 3e38}]}).status_code == 200


@pytest.mark.parametrize("method", ["exact_shap", "kernel_shap", "permutation_shap", "lime"])
def test_the_cost_per_row_is_what_the_model_actually_evaluates(data, pipeline, method):
    X, _ = data
    X = X[["age", "income", "debt_to_income", "housing"]]
    model = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [
                        ("n", StandardScaler(), ["age", "income", "debt_to_income"]),
                        ("c", OneHotEncoder(), ["housing"]),
                    ]
                ),
            ),
            ("lr", LogisticRegression()),
        ]
    ).fit(X, data[1])
    evaluated = []

    def counted(frame):
        evaluated.append(len(frame))
        return model.predict_proba(frame)[:, 1]

    service = Service(counted, X, explainer=method, n_background=7)
    name, explainer = service.explainer(method)
    evaluated.clear()
    service.explain({"rows": rows_of(X.iloc[:2])})
    # explanation per row, plus at most the rows' own predictions
    per_row = sum(evaluated) / 2
    assert evaluations_per_row(name, explainer) <= per_row <= service.cost_per_row(name) + 1


def test_cost_limit_is_413_stating_limit_and_cost(data, pipeline):
    X, _ = data
    app = create_app(pipeline, X, explainer="exact_shap", n_background=10, max_cost=50_000)
    with ASGIClient(app) as client:
        per_row = client.get("/model").json()["limits"]["cost_per_row"]["exact_shap"]
        assert per_row == 1 + (2**10 - 2) * 10 + 1
        r = client.post("/explain", json={"rows": rows_of(X.iloc[:5])})
        assert r.status_code == 413, r.text
        body = r.json()
        assert "50,000" in body["error"] and f"{5 * per_row:,}" in body["error"]
        assert body["detail"][0]["cost"] == 5 * per_row
        assert client.post("/explain", json={"rows": rows_of(X.iloc[:4])}).status_code == 200
        assert client.post("/predict", json={"rows": rows_of(X.iloc[:50])}).status_code == 200
    with pytest.raises(ValueError, match="max_cost"):
        create_app(pipeline, X, max_cost=0)


def test_content_types_and_head_health(tree_client, data):
    X, _ = data
    body = json.dumps({"rows": [_good(X)]})
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r = tree_client.post("/predict", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 415, (ctype, r.text)
        assert "application/json" in r.json()["error"]
    for ctype in ("application/json; charset=utf-8", "application/merge-patch+json"):
        r = tree_client.post("/predict", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 200, (ctype, r.text)
    r = tree_client.head("/health")
    assert r.status_code == 200 and r.content == b""


def test_api_key_must_not_be_empty(data, pipeline, tmp_path, monkeypatch):
    X, _ = data
    for key in ("", "   ", "two words", "line\n"):
        with pytest.raises(ValueError, match="API key"):
            create_app(pipeline, X, api_key=key, compute_threads=None)
    monkeypatch.setenv("PELLUCID_API_KEY", "")
    with pytest.raises(ValueError, match="PELLUCID_API_KEY"):
        create_app(pipeline, X, compute_threads=None)
    monkeypatch.delenv("PELLUCID_API_KEY")
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    for app in (
        create_app(pipeline, X, api_key_file=secret, compute_threads=None),
        _with_env(monkeypatch, "PELLUCID_API_KEY_FILE", str(secret), pipeline, X),
    ):
        with ASGIClient(app) as client:
            assert client.get("/model").status_code == 401
            assert client.get("/model", headers={"X-API-Key": ""}).status_code == 401
            assert client.get("/model", headers={"X-API-Key": "from-a-file"}).status_code == 200
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        create_app(pipeline, X, api_key_file=tmp_path / "empty", compute_threads=None)
    with pytest.raises(ValueError, match="Cannot read"):
        create_app(pipeline, X, api_key_file=tmp_path / "missing", compute_threads=None)


def _with_env(monkeypatch, name, value, model, X):
    monkeypatch.setenv(name, value)
    try:
        return create_app(model, X, compute_threads=None)
    finally:
        monkeypatch.delenv(name)


def _raw_request(url: str, head: bytes, body: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(head + body)
    return sock


def test_a_half_sent_body_is_answered_408(data, pipeline):
    X, _ = data
    app = create_app(pipeline, X, body_timeout=0.5, compute_threads=None)
    with running_server(app) as url:
        head = (
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        with _raw_request(url, head, b'{"rows": [') as sock:
            started = time.monotonic()
            answer = sock.recv(4096)
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert 0.4 < waited < 5


def test_a_client_that_leaves_stops_the_work(data):
    """Model calls stop within a second of the client disconnecting (they ran on for
    the whole request before: a 150-row request computed ~18 s after the client left)."""
    X, y = data
    X = X[["age", "income", "debt_to_income", "credit_history_years", "late_payments", "housing"]]
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype").fit(X, y)
    calls: list[float] = []

    def slow(frame):  # about 20 us per evaluated row, like a scikit-learn Pipeline
        time.sleep(2e-5 * len(frame))
        calls.append(time.monotonic())
        return model.predict_proba(frame)[:, 1]

    app = create_app(slow, X, explainer="exact_shap", compute_threads=None)
    with running_server(app) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/explain", json={"rows": rows_of(X.iloc[:150])}, timeout=1.0)
        left = time.monotonic()
        time.sleep(2.5)
    assert calls and calls[0] < left, "the request never computed"
    assert calls[-1] < left + 1.0, f"model called {calls[-1] - left:.2f} s after the client left"


def test_the_request_timeout_stops_work_with_503(data):
    X, y = data
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype").fit(X, y)

    def slow(frame):
        time.sleep(0.05)
        return model.predict_proba(frame)[:, 1]

    app = create_app(slow, X, explainer="exact_shap", n_background=2, request_timeout=0.5)
    with ASGIClient(app) as client:
        started = time.monotonic()
        r = client.post("/explain", json={"rows": rows_of(X.iloc[:40])})
    assert r.status_code == 503 and "0.5 s" in r.json()["error"]
    assert time.monotonic() - started < 3


def test_concurrent_first_requests_build_each_explainer_once(data, pipeline):
    X, _ = data
    service = Service(pipeline, X, explainer="exact_shap", n_background=3)
    results = []

    def one():
        results.append(service.explain({"rows": rows_of(X.iloc[:1])}, threading.Event()))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len({json.dumps(r) for r in results}) == 1
    np.testing.assert_allclose(
        results[0]["predictions"][0]["1"], Model(pipeline).predict(X.iloc[:1])[0, 1], atol=1e-12
    )
