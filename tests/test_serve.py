"""The HTTP service, run for real: uvicorn on 127.0.0.1 on a free port, httpx as the client."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from _shapley_oracle import LinearLogitShap  # noqa: E402
from pellucid import Model, reason_codes  # noqa: E402
from pellucid._registry import _METHODS, MethodSpec  # noqa: E402
from pellucid.datasets import credit  # noqa: E402
from pellucid.serve import Service, create_app, running_server  # noqa: E402

KEY = "s3cret-key"
CATS = ["employment", "housing", "sex"]
MAX_ROWS = 50
MAX_BYTES = 60_000


@pytest.fixture(scope="module")
def case():
    X, y = credit(n_rows=500, random_state=2)
    num = [c for c in X.columns if c not in CATS]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
            ("cat", OneHotEncoder(), CATS),
        ]
    )
    model = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=2000))]).fit(X, y)
    explainer = LinearLogitShap(model, X)
    return model, X, explainer


@pytest.fixture(scope="module")
def server(case):
    model, X, explainer = case
    app = create_app(
        model,
        X,
        api_key=KEY,
        max_rows=MAX_ROWS,
        max_body_bytes=MAX_BYTES,
        explainer=explainer,
        reasons={"exclude": ["sex"]},
    )
    assert app.state.thread_limits is not None  # one OpenMP/BLAS thread per call by default
    try:
        with running_server(app) as url:
            with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=30) as client:
                yield client
    finally:
        app.state.thread_limits.restore_original_limits()


def rows_of(frame: pd.DataFrame) -> list[dict]:
    """Rows as a client would send them (JSON null for missing values)."""
    return json.loads(frame.to_json(orient="records"))


def test_predict_equals_library(server, case):
    model, X, _ = case
    rows = X.iloc[:25]
    r = server.post("/predict", json={"rows": rows_of(rows)})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = Model(model).predict(rows)
    got = np.array([[p["0"], p["1"]] for p in body["predictions"]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert body["labels"] == model.predict(rows).tolist()


def test_explain_equals_library(server, case):
    _, X, explainer = case
    rows = X.iloc[30:55]  # includes missing savings (null)
    assert rows["savings"].isna().any()
    r = server.post("/explain", json={"rows": rows_of(rows)})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = explainer.explain(rows)
    assert body["method"] == "linear_logit_shap"
    assert len(body["explanations"]) == len(rows)
    got = np.array([[e["values"][c] for c in X.columns] for e in body["explanations"]])
    np.testing.assert_allclose(got, expected.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        [e["base_value"] for e in body["explanations"]], expected.base_values, atol=1e-9
    )


def test_reasons_equal_library_and_never_name_excluded(server, case):
    _, X, explainer = case
    rows = X.iloc[:20]
    r = server.post(
        "/reasons", json={"rows": rows_of(rows), "max_reasons": 3, "exclude": ["income"]}
    )
    assert r.status_code == 200, r.text
    got = r.json()["reasons"]
    expected = reason_codes(
        explainer.explain(rows), max_reasons=3, exclude=["income", "sex"], reference=X
    )
    for i in range(len(rows)):
        mine = expected[expected["row"] == i]
        assert [g["feature"] for g in got[i]] == list(mine["feature"])
        assert [g["reason"] for g in got[i]] == list(mine["reason"])
        np.testing.assert_allclose(
            [g["contribution"] for g in got[i]], mine["contribution"], atol=1e-9
        )
        assert not {"sex", "income"} & {g["feature"] for g in got[i]}


def _valid_row(X: pd.DataFrame) -> dict:
    return rows_of(X.iloc[[0]])[0]


def _malformed(X: pd.DataFrame) -> list[tuple[str, bytes, int, tuple]]:
    """(name, raw body, expected status, (row, field) the error must name or ())."""
    good = _valid_row(X)

    def body(rows, **extra) -> bytes:
        return json.dumps({"rows": rows, **extra}).encode()

    def with_(field, value) -> dict:
        return {**good, field: value}

    missing = {k: v for k, v in good.items() if k != "income"}
    return [
        ("missing column", body([good, missing]), 422, (1, "income")),
        ("extra column", body([with_("shoe_size", 42)]), 422, (0, "shoe_size")),
        ("string for number", body([with_("income", "lots")]), 422, (0, "income")),
        ("numeric string", body([with_("income", "50000")]), 422, (0, "income")),
        ("bool for number", body([with_("age", True)]), 422, (0, "age")),
        ("fraction for integer", body([with_("age", 30.5)]), 422, (0, "age")),
        ("null where never missing", body([with_("income", None)]), 422, (0, "income")),
        ("unknown category", body([good, good, with_("housing", "castle")]), 422, (2, "housing")),
        ("number for category", body([with_("housing", 3)]), 422, (0, "housing")),
        ("object as value", body([with_("housing", {"a": 1})]), 422, (0, "housing")),
        (
            "NaN literal",
            body([with_("income", 77777)]).replace(b"77777", b"NaN"),
            422,
            (0, "income"),
        ),
        ("NaN", json.dumps({"rows": [with_("income", float("nan"))]}).encode(), 422, (0, "income")),
        (
            "Infinity",
            json.dumps({"rows": [with_("debt_to_income", float("inf"))]}).encode(),
            422,
            (0, "debt_to_income"),
        ),
        (
            "-Infinity",
            json.dumps({"rows": [with_("savings", float("-inf"))]}).encode(),
            422,
            (0, "savings"),
        ),
        (
            "overflow to inf",
            body([with_("age", 77777)]).replace(b"77777", b"1e999"),
            422,
            (0, "age"),
        ),
        ("rows not a list", body({"a": 1}), 422, ()),
        ("rows empty", body([]), 422, ()),
        ("row not an object", body([good, [1, 2]]), 422, (1, None)),
        ("no rows field", json.dumps({"row": [good]}).encode(), 422, ()),
        ("body is a list", json.dumps([good]).encode(), 422, ()),
        ("body is a number", b"3", 422, ()),
        ("unknown top-level field", body([good], mode="fast"), 422, ()),
        ("bad json", b'{"rows": [', 400, ()),
        ("not utf-8", b'{"rows": "\xff\xfe"}', 400, ()),
        ("empty body", b"", 400, ()),
        ("deep nesting", b"[" * 50_000 + b"]" * 50_000, 413, ()),
        ("too many rows", body([good] * (MAX_ROWS + 1)), 413, ()),
        ("oversize body", body([good] * 40, pad="x" * MAX_BYTES), 413, ()),
    ]


def test_malformed_suite_never_500(server, case):
    _, X, _ = case
    for name, raw, status, where in _malformed(X):
        for path in ("/predict", "/explain", "/reasons"):
            r = server.post(path, content=raw, headers={"Content-Type": "application/json"})
            assert r.status_code == status, (name, path, r.status_code, r.text)
            body = r.json()
            assert body["error"], name
            if where:
                row, field = where
                hits = [d for d in body["detail"] if d.get("row") == row]
                assert hits, (name, body)
                if field is not None:
                    assert any(d.get("field") == field for d in hits), (name, body)
                    assert f"row {row}" in body["error"] and field in body["error"]


def test_chunked_oversize_body_is_413(server):
    def chunks():
        for _ in range(100):
            yield b" " * 1000

    r = server.post("/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_bad_options_are_422(server, case):
    _, X, _ = case
    rows = [_valid_row(X)]
    for extra in (
        {"k": 0},
        {"k": "4"},
        {"k": True},
        {"max_reasons": 0},
        {"max_reasons": 51},
        {"max_reasons": 2, "k": 2},
        {"direction": "up"},
        {"exclude": "sex"},
        {"method": "nope"},
        {"method": 3},
    ):
        r = server.post("/reasons", json={"rows": rows, **extra})
        assert r.status_code == 422, (extra, r.text)
        assert r.json()["detail"][0]["loc"][0] in extra


def test_reasons_old_field_k_reads_as_max_reasons(server, case):
    _, X, _ = case
    rows = rows_of(X.iloc[:5])
    new = server.post("/reasons", json={"rows": rows, "max_reasons": 2})
    old = server.post("/reasons", json={"rows": rows, "k": 2})
    assert new.status_code == old.status_code == 200
    assert new.json() == old.json()
    assert max(len(r) for r in new.json()["reasons"]) <= 2


def test_api_key(server):
    url = str(server.base_url)
    with httpx.Client(base_url=url, timeout=10) as anonymous:
        assert anonymous.get("/health").status_code == 200
        for path in ("/model", "/openapi.json", "/docs"):
            assert anonymous.get(path).status_code == 401
        assert anonymous.post("/predict", json={"rows": []}).status_code == 401
        wrong = anonymous.get("/model", headers={"X-API-Key": KEY + "x"})
        assert wrong.status_code == 401
        bearer = anonymous.get("/model", headers={"Authorization": f"Bearer {KEY}"})
        assert bearer.status_code == 200


def test_model_endpoint_and_openapi(server, case):
    model, X, _ = case
    info = server.get("/model").json()
    assert [f["name"] for f in info["features"]] == list(X.columns)
    housing = next(f for f in info["features"] if f["name"] == "housing")
    assert housing["categories"] == ["own", "mortgage", "rent"]
    savings = next(f for f in info["features"] if f["name"] == "savings")
    assert savings["nullable"] is True
    assert info["task"] == "binary" and info["limits"]["max_rows"] == MAX_ROWS
    spec = server.get("/openapi.json").json()
    for path in ("/predict", "/explain", "/reasons", "/health", "/model"):
        assert path in spec["paths"]
    schema = spec["paths"]["/explain"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    row = schema["properties"]["rows"]["items"]
    assert row["properties"]["housing"]["enum"] == ["own", "mortgage", "rent"]
    assert server.get("/docs").status_code == 200


def test_unknown_path_and_method(server):
    assert server.get("/nope").status_code == 404
    assert server.get("/explain").status_code == 405


def test_200_concurrent_requests_match_library(server, case):
    model, X, explainer = case
    rng = np.random.default_rng(7)
    batches = [
        X.iloc[np.sort(rng.choice(len(X), size=rng.integers(1, 6), replace=False))]
        for _ in range(200)
    ]

    def call(batch):
        return server.post("/explain", json={"rows": rows_of(batch)})

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(call, batches))
    # The library's answers, computed once for all rows: both this explainer and
    # predict work row by row, which the first batches confirm.
    all_values = explainer.explain(X).values
    all_pred = Model(model).predict(X)
    for batch in batches[:3]:
        idx = X.index.get_indexer(batch.index)
        np.testing.assert_allclose(explainer.explain(batch).values, all_values[idx], atol=1e-12)
    for batch, r in zip(batches, answers, strict=True):
        assert r.status_code == 200, r.text
        body = r.json()
        idx = X.index.get_indexer(batch.index)
        got = np.array([[e["values"][c] for c in X.columns] for e in body["explanations"]])
        np.testing.assert_allclose(got, all_values[idx], rtol=0, atol=1e-9)
        pred = np.array([[p["0"], p["1"]] for p in body["predictions"]])
        np.testing.assert_allclose(pred, all_pred[idx], rtol=0, atol=1e-9)


def test_method_from_registry_and_auto(case, monkeypatch):
    model, X, _ = case
    rows = {"rows": rows_of(X.iloc[:3])}
    monkeypatch.setattr("pellucid.regulatory._explainers.available", lambda **kw: [])
    empty = Service(model, X)
    assert empty.default_method is None
    with pytest.raises(Exception) as info:
        empty.explain(rows)
    assert info.value.status == 501
    assert empty.predict(rows)["predictions"]
    monkeypatch.undo()
    spec = MethodSpec("linear_oracle", "_shapley_oracle:LinearLogitShap", "attribution")
    monkeypatch.setitem(_METHODS, "linear_oracle", spec)
    service = Service(model, X, explainer="linear_oracle", n_background=500)
    got = service.explain(rows)
    expected = LinearLogitShap(model, X).explain(X.iloc[:3])
    values = np.array([[e["values"][c] for c in X.columns] for e in got["explanations"]])
    np.testing.assert_allclose(values, expected.values, atol=1e-9)
    with pytest.raises(ValueError, match="Unknown attribution method"):
        Service(model, X, explainer="nope")


def test_start_up_checks(case):
    model, X, _ = case
    with pytest.raises(TypeError, match="DataFrame"):
        create_app(model, X.to_numpy())
    with pytest.raises(ValueError, match="income"):
        create_app(model, X.drop(columns=["income"]))
    with pytest.raises(ValueError, match="positive"):
        create_app(model, X, max_rows=0)


def test_api_key_from_environment(case, monkeypatch):
    model, X, explainer = case
    monkeypatch.setenv("PELLUCID_API_KEY", "from-env")
    app = create_app(model, X, explainer=explainer, compute_threads=None)
    with running_server(app) as url, httpx.Client(base_url=url, timeout=10) as c:
        assert c.get("/model").status_code == 401
        assert c.get("/model", headers={"X-API-Key": "from-env"}).status_code == 200


def test_import_pellucid_does_not_import_fastapi():
    code = (
        "import sys, pellucid; pellucid.reason_codes; pellucid.model_card; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_multi_output_explanations_per_class_with_a_registered_method():
    """ExactShap on class probabilities: one entry per row and class, equal to the library."""
    from pellucid.regulatory._explainers import background_sample
    from pellucid.shapley import ExactShap

    X, _ = credit(n_rows=200, random_state=5)
    X = X[["age", "income", "debt_to_income", "late_payments", "housing"]]
    y = (X["debt_to_income"] + 0.1 * X["late_payments"] > 0.3).astype(int)
    pre = ColumnTransformer(
        [("num", StandardScaler(), list(X.columns[:4])), ("cat", OneHotEncoder(), ["housing"])]
    )
    model = Pipeline([("pre", pre), ("lr", LogisticRegression())]).fit(X, y)
    service = Service(model, X, explainer="exact_shap", n_background=20)
    rows = X.iloc[:4]
    body = service.explain({"rows": rows_of(rows)})
    assert body["method"] == "exact_shap" and body["explained_outputs"] == ["0", "1"]
    expected = ExactShap(Model(model), background_sample(X, 20)).explain(rows)
    for r, entry in enumerate(body["explanations"]):
        assert set(entry) == {"0", "1"}
        for j, cls in enumerate(("0", "1")):
            got = [entry[cls]["values"][c] for c in X.columns]
            np.testing.assert_allclose(got, expected.values[r, :, j], atol=1e-9)
            assert entry[cls]["base_value"] == pytest.approx(expected.base_values[r, j], abs=1e-9)
    # reasons explain the positive (decline) class
    reasons = service.reasons({"rows": rows_of(rows), "k": 2})["reasons"]
    table = reason_codes(expected, max_reasons=2, reference=X)
    for r in range(len(rows)):
        assert [x["feature"] for x in reasons[r]] == list(table[table["row"] == r]["feature"])


def test_an_explainer_bug_is_a_json_500_and_the_server_lives_on(case):
    """Not an input problem, so not a 4xx: a JSON 500 without a traceback, then business as usual."""
    model, X, _ = case

    class Broken:
        name = "broken"

        def explain(self, X):
            raise RuntimeError("bug inside the explainer")

    app = create_app(model, X, explainer=Broken(), compute_threads=None)
    rows = {"rows": rows_of(X.iloc[:2])}
    with running_server(app) as url, httpx.Client(base_url=url, timeout=10) as c:
        r = c.post("/explain", json=rows)
        assert r.status_code == 500
        assert r.json() == {"error": "Internal error.", "detail": []}
        assert "bug inside" not in r.text
        assert c.post("/predict", json=rows).status_code == 200


def test_one_row_with_a_missing_value_is_explained():
    """A single row whose only value of a column is missing is valid input, not an all-NaN column."""
    from pellucid.shapley import ExactShap

    X, _ = credit(n_rows=200, random_state=6)
    X = X[["income", "savings", "housing"]]
    y = (X["income"] < 50_000).astype(int)
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["income", "savings"]),
            ("cat", OneHotEncoder(), ["housing"]),
        ]
    )
    model = Pipeline([("pre", pre), ("lr", LogisticRegression())]).fit(X, y)
    row = X[X["savings"].isna()].iloc[:1]
    service = Service(model, X, explainer="exact_shap", n_background=10)
    body = service.explain({"rows": rows_of(row)})
    expected = ExactShap(Model(model), service.sample).explain(row)
    got = [body["explanations"][0]["1"]["values"][c] for c in X.columns]
    np.testing.assert_allclose(got, expected.values[0, :, 1], atol=1e-9)


def test_treeshap_through_http_under_concurrency():
    """The numba TreeSHAP kernels answer concurrent requests exactly as the library does."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from pellucid import TreeShap

    X, y = credit(n_rows=600, random_state=8)  # string category labels, as users send them
    model = HistGradientBoostingClassifier(
        max_iter=30, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    app = create_app(model, X, compute_threads=None)
    assert app.state.service.default_method == "tree_shap"
    expected = TreeShap(Model(model)).explain(X.iloc[:60])
    rows = rows_of(X.iloc[:60])
    with running_server(app) as url, httpx.Client(base_url=url, timeout=30) as c:
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda r: c.post("/explain", json={"rows": [r]}), rows))
    for i, r in enumerate(answers):
        assert r.status_code == 200, r.text
        entry = r.json()["explanations"][0]
        got = [entry["values"][col] for col in X.columns]
        np.testing.assert_allclose(got, expected.values[i], rtol=0, atol=1e-9)
        assert entry["base_value"] == pytest.approx(expected.base_values[i], abs=1e-9)


def test_the_service_takes_tree_shap_and_its_old_name_treeshap():
    """Old clients send "treeshap": served as tree_shap, and answered under that name."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = credit(n_rows=200, random_state=4)
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype")
    model.fit(X, y)
    service = Service(model, X, explainer="treeshap")  # as `pellucid serve --method treeshap`
    assert service.default_method == "tree_shap"
    assert "tree_shap" in service.methods() and "treeshap" not in service.methods()
    rows = rows_of(X.iloc[:3])
    by_name = service.explain({"rows": rows, "method": "tree_shap"})
    by_alias = service.explain({"rows": rows, "method": "treeshap"})
    assert by_name["method"] == by_alias["method"] == "tree_shap"
    assert by_alias["explanations"] == by_name["explanations"]
    assert service.batch_key({"rows": rows, "method": "treeshap"}) == "tree_shap"
    reasons = service.reasons({"rows": rows, "method": "treeshap", "k": 2})
    assert reasons["method"] == "tree_shap"
    assert service.info()["methods"]["default"] == "tree_shap"


def test_auto_falls_back_when_the_first_choice_cannot_read_the_model(monkeypatch):
    """If TreeShap refuses a tree model, "auto" serves the model-agnostic choice instead."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    import pellucid._dispatch as dispatch
    from pellucid import UnsupportedModelError

    real_build = dispatch.build

    def build(method, *args, **kwargs):
        if method == "tree_shap":
            raise UnsupportedModelError("cannot read this model")
        return real_build(method, *args, **kwargs)

    monkeypatch.setattr(dispatch, "build", build)
    X, y = credit(n_rows=150, random_state=9)
    X = X[["age", "income", "housing"]]
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype").fit(X, y)
    service = Service(model, X, n_background=10)
    assert service.default_method == "exact_shap"
    body = service.explain({"rows": rows_of(X.iloc[:2])})
    assert body["method"] == "exact_shap" and len(body["explanations"]) == 2


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_treeshap_predictions_are_read_off_the_margin_exactly(task):
    """/explain's predictions come from TreeShap's margin only where they equal the model's."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    X, y = credit(n_rows=400, random_state=3)
    if task == "regression":
        target = X["income"].to_numpy()
        X = X.drop(columns="income")
        model = HistGradientBoostingRegressor(max_iter=15, categorical_features="from_dtype")
        model.fit(X, target)
    else:
        target = y if task == "binary" else X["housing"].cat.codes.to_numpy()
        model = HistGradientBoostingClassifier(max_iter=15, categorical_features="from_dtype")
        model.fit(X, target)
    service = Service(model, X)
    assert service.default_method == "tree_shap"
    out = service.explain({"rows": rows_of(X.iloc[:25])})
    assert service._margin_ok["tree_shap"]
    expected = Model(model).predict(X.iloc[:25])
    got = out["predictions"]
    if expected.ndim == 2:
        got = [[p[k] for k in p] for p in got]
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-12)
    assert service.predict({"rows": rows_of(X.iloc[:25])})["predictions"] == out["predictions"]
