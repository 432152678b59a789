"""Property-based fuzzing of the service: over 1,000 generated requests per endpoint, in process.

Bodies start from valid rows and are mutated with every JSON oddity (numbers
beyond int64 and float64, NaN/Infinity literals, lone surrogates in names and
values, nested objects and arrays, booleans, duplicate keys, unknown fields,
huge strings), or are arbitrary JSON or bytes, under various content types.
Every answer must be 2xx or 4xx, valid JSON, and free of stack traces and
file paths; a 200 answers every row.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

import pellucid  # noqa: E402
from _asgi_client import ASGIClient  # noqa: E402
from pellucid.datasets import credit  # noqa: E402
from pellucid.serve import create_app  # noqa: E402

#: Each example is one request; Hypothesis may add a few for shrinking only on failure.
EXAMPLES = 1_050
CATS = ["employment", "housing", "sex"]
LEAKS = ("Traceback", "site-packages", 'File "', str(Path(pellucid.__file__).parent))


class Pairs(list):  # type: ignore[type-arg]
    """A JSON object written as its (key, value) pairs, so keys can repeat."""


def encode(v: Any) -> str:
    """JSON text of v, with NaN/Infinity literals, lone surrogates as \\u escapes, repeated keys."""
    if isinstance(v, Pairs):
        return "{" + ",".join(f"{encode(k)}:{encode(x)}" for k, x in v) + "}"
    if isinstance(v, dict):
        return encode(Pairs(v.items()))
    if isinstance(v, list):
        return "[" + ",".join(encode(x) for x in v) + "]"
    return json.dumps(v)  # ensure_ascii escapes surrogates; NaN -> NaN; big ints verbatim


X, Y = credit(n_rows=300, random_state=11)
VALID = json.loads(X.iloc[:40].to_json(orient="records"))


@pytest.fixture(scope="module")
def apps():
    X, y = globals()["X"], Y
    tree = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    num = [c for c in X.columns if c not in CATS]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATS),
        ]
    )
    linear = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=1000))])
    built = [
        create_app(tree.fit(X, y), X, compute_threads=None, max_rows=8),
        create_app(
            linear.fit(X, y),
            X,
            explainer="exact_shap",
            n_background=2,
            compute_threads=None,
            max_rows=8,
            max_cost=30_000,
        ),
    ]
    clients = [ASGIClient(app) for app in built]
    yield clients
    for c in clients:
        c.close()


surrogates = st.characters(categories=["Cs"])
text = st.text(st.one_of(st.characters(), surrogates), max_size=6)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**20, 1e20, 1e308, -1e308, 3.5e38, 5e-324]),
    st.floats(),  # NaN and +-Infinity included
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text, st.just("x" * 20_000))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3).map(dict)
    ),
    max_leaves=4,
)
field_names = st.one_of(text, st.sampled_from(["age", "income", "housing", "savings", "rows"]))


@st.composite
def rows(draw: Any) -> Any:
    row = dict(draw(st.sampled_from(VALID)))
    columns = list(row)
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3]))):
        op = draw(st.sampled_from(["set", "set", "delete", "add", "swap"]))
        name = draw(st.sampled_from(columns))
        if op == "set":
            row[name] = draw(values)
        elif op == "delete":
            row.pop(name, None)
        elif op == "add":
            row[draw(field_names)] = draw(values)
        else:  # another column's valid value: right JSON type, wrong column
            row[name] = draw(st.sampled_from(VALID))[draw(st.sampled_from(columns))]
    if draw(st.integers(0, 9)) == 0:  # a key twice
        pairs = Pairs(row.items())
        pairs.append((draw(st.sampled_from(columns)), draw(values)))
        return pairs
    return row


@st.composite
def bodies(draw: Any) -> bytes:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.binary(max_size=64))
    if kind == 1:
        return encode(draw(values)).encode()
    body: dict[str, Any] = {"rows": draw(st.lists(rows(), min_size=0, max_size=4))}
    for option, choices in (
        ("method", st.one_of(st.sampled_from(["auto", "tree_shap", "exact_shap", "lime"]), values)),
        ("k", st.one_of(st.integers(-3, 60), values)),
        ("direction", st.one_of(st.sampled_from(["toward_decline", "toward_approve"]), values)),
        ("exclude", st.one_of(st.lists(st.sampled_from(["sex", "age", "nope"])), values)),
        (draw(field_names), values),
    ):
        if draw(st.integers(0, 5)) == 0:
            body[option] = draw(choices)
    if draw(st.integers(0, 9)) == 0:
        body["rows"] = draw(values)
    return encode(body).encode()


content_types = st.sampled_from(
    [
        "application/json",
        "application/json",
        "application/json",
        "application/json",
        "application/json",
        "application/json",
        None,
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/vnd.api+json",
    ]
)


def check(response: Any, sent: bytes) -> None:
    assert response.status_code < 500, (sent[:300], response.status_code, response.text[:500])
    body = response.json()
    assert not any(leak in response.text for leak in LEAKS), response.text[:2000]
    if response.status_code == 200:
        n = len(json.loads(sent)["rows"])
        assert len(body["predictions"]) == n
        for p in body["predictions"]:
            for v in p.values() if isinstance(p, dict) else [p]:
                assert v is None or math.isfinite(v)
    else:
        assert isinstance(body["error"], str) and body["error"]
        assert isinstance(body["detail"], list)
        first = body["detail"][0] if body["detail"] else {}
        if "row" in first:  # the message names the first bad row (and field)
            assert f"row {first['row']}" in body["error"], body
            if "field" in first:  # quoted as repr, which escapes control characters
                assert repr(first["field"]) in body["error"], body


def fuzz(endpoint: str) -> Any:
    seen: dict[int, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(which=st.integers(0, 1), sent=bodies(), ctype=content_types)
    def run(apps: Any, which: int, sent: bytes, ctype: str | None) -> None:
        headers = {} if ctype is None else {"Content-Type": ctype}
        response = apps[which].post(endpoint, content=sent, headers=headers)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        check(response, sent)

    def test(apps: Any) -> None:
        run(apps)
        assert sum(seen.values()) >= 1_000, seen
        assert seen.get(200, 0) >= 10 and seen.get(422, 0) >= 500, seen  # both kinds exercised

    return test


test_fuzz_predict = fuzz("/predict")
test_fuzz_explain = fuzz("/explain")
# Marked slow: reason codes explain every row they accept, the costliest of the three.
test_fuzz_reasons = pytest.mark.slow(fuzz("/reasons"))


def test_fuzz_health_and_model(apps):
    for client in apps:
        assert client.head("/health").status_code == 200
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/model").status_code == 200
