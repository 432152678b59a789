"""The explorer's endpoints in process: rows paged, sorted and filtered as pandas would;
curves equal the model's own predictions on the rows they describe; errors are 4xx."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pellucid

pytest.importorskip("fastapi")

from _asgi_client import ASGIClient  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from pellucid.serve import create_app

    X, y = pellucid.datasets.credit(n_rows=500, random_state=4)
    model = HistGradientBoostingClassifier(
        max_iter=20, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    app = create_app(model, X, explore_rows=X, explore_target=y, api_key="secret-key")
    with ASGIClient(app, headers={"X-API-Key": "secret-key"}) as client:
        yield client, model, X, y, app


def test_page_and_files_open_without_key_data_needs_it(setup):
    client, *_, app = setup
    with ASGIClient(app) as bare:
        check_open_paths(client, bare)


def check_open_paths(client, bare):
    page = bare.get("/")
    assert page.status_code == 200 and "pellucid explorer" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert bare.get("/explorer/static/app.js").status_code == 200
    assert bare.get("/explorer/rows").status_code == 401
    assert bare.get("/explorer/meta").status_code == 401
    assert client.get("/explorer/static/secret.py").status_code == 404


def test_rows_sorted_filtered_paged_like_pandas(setup):
    client, model, X, y, _ = setup
    p1 = model.predict_proba(X)[:, 1]
    answer = client.get("/explorer/rows?sort=income&desc=1&q=housing=rent,age>=40&offset=5&limit=7")
    assert answer.status_code == 200
    page = answer.json()
    keep = (X["housing"] == "rent") & (X["age"] >= 40)
    expected = X[keep].sort_values("income", ascending=False, kind="stable").index[5:12]
    assert page["total"] == int(keep.sum())
    assert [r["row"] for r in page["rows"]] == list(expected)
    first = page["rows"][0]
    i = first["row"]
    np.testing.assert_allclose(first["prediction"], p1[i], rtol=1e-12)
    np.testing.assert_allclose(first["error"], 1 - (p1[i] if y.iloc[i] == 1 else 1 - p1[i]))
    assert first["values"]["housing"] == "rent" and first["values"]["age"] == X["age"].iloc[i]
    # sorting by prediction, descending
    top = client.get("/explorer/rows?sort=prediction&desc=1&limit=3").json()["rows"]
    assert [r["row"] for r in top] == list(
        pd.Series(p1).sort_values(ascending=False, kind="stable").index[:3]
    )
    # free text matches categories
    unemployed = client.get("/explorer/rows?q=unemployed&limit=1").json()
    assert unemployed["total"] == int((X["employment"] == "unemployed").sum())


@pytest.mark.parametrize(
    "query",
    [
        "sort=nope",
        "q=nope>3",
        "q=income>lots",
        "q=housing>rent",
        "limit=0",
        "limit=100000",
        "offset=-1",
        "offset=x",
    ],
)
def test_bad_queries_are_422_naming_the_problem(setup, query):
    client, *_ = setup
    answer = client.get("/explorer/rows?" + query)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]


def test_row_round_trips_through_predict(setup):
    client, model, X, _, _ = setup
    record = client.get("/explorer/row?row=17").json()
    got = client.post("/predict", json={"rows": [record["values"]]}).json()
    np.testing.assert_allclose(got["predictions"][0]["1"], model.predict_proba(X.iloc[[17]])[0, 1])
    assert client.get("/explorer/row?row=500").status_code == 422


def test_ice_and_pd_are_the_models_predictions(setup):
    client, model, X, _, _ = setup
    row = client.get("/explorer/row?row=3").json()["values"]
    ice = client.post("/explorer/ice", json={"rows": [row], "feature": "income"}).json()
    assert row["income"] in ice["grid"] and ice["grid"] == sorted(ice["grid"])
    assert min(ice["grid"]) == X["income"].min() and max(ice["grid"]) == X["income"].max()
    frame = pd.concat([X.iloc[[3]]] * len(ice["grid"]), ignore_index=True)
    frame["income"] = ice["grid"]
    np.testing.assert_allclose(ice["predictions"], model.predict_proba(frame)[:, 1], rtol=1e-12)

    cat = client.post("/explorer/ice", json={"rows": [row], "feature": "housing"}).json()
    assert cat["grid"] == list(X["housing"].cat.categories)

    glob = client.get("/explorer/global?feature=housing").json()
    assert glob["pd"]["rows"] == 200
    # importance is mean |TreeShap| over the same sample, sorted
    names = [i["feature"] for i in glob["importance"]]
    values = [i["value"] for i in glob["importance"]]
    assert sorted(names) == sorted(X.columns) and values == sorted(values, reverse=True)
    from pellucid.regulatory._explainers import background_sample

    sample = background_sample(X, 200)
    exp = pellucid.TreeShap(model).explain(sample)
    want = dict(zip(exp.feature_names, np.abs(exp.values).mean(axis=0), strict=True))
    np.testing.assert_allclose(values, [want[n] for n in names], rtol=1e-9)
    expected_pd = [
        model.predict_proba(
            sample.assign(housing=pd.Categorical([lv] * len(sample), dtype=X["housing"].dtype))
        )[:, 1].mean()
        for lv in glob["pd"]["grid"]
    ]
    np.testing.assert_allclose(glob["pd"]["predictions"], expected_pd, rtol=1e-12)


def test_ice_errors_are_4xx(setup):
    client, *_ = setup
    row = client.get("/explorer/row?row=3").json()["values"]
    assert client.post("/explorer/ice", json={"rows": [row], "feature": "nope"}).status_code == 422
    assert (
        client.post("/explorer/ice", json={"rows": [row, row], "feature": "age"}).status_code == 422
    )
    assert (
        client.post(
            "/explorer/ice", json={"rows": [{**row, "age": "x"}], "feature": "age"}
        ).status_code
        == 422
    )
    assert client.get("/explorer/global?feature=nope").status_code == 422


def test_anchor_and_counterfactual(setup):
    client, model, X, _, _ = setup
    row = client.get("/explorer/row?row=0").json()["values"]
    anchor = client.post("/explorer/anchor", json={"rows": [row]}).json()
    assert anchor["rule"] and 0 <= anchor["coverage"] <= 1 and anchor["precision"] >= 0.5
    assert anchor["prediction"] == model.predict(X.iloc[[0]])[0]
    assert all(clause.split(" ")[0] in X.columns for clause in anchor["rule"].split(" AND "))
    if getattr(pellucid, "Counterfactuals", None) is not None:
        cf = client.post("/explorer/counterfactual", json={"rows": [row]})
        assert cf.status_code == 200, cf.text
        body = cf.json()
        if body["changes"]:
            changed = {**row, **{c["feature"]: c["after"] for c in body["changes"]}}
            label = client.post("/predict", json={"rows": [changed]}).json()["labels"][0]
            assert label != model.predict(X.iloc[[0]])[0]


def test_regressor_meta_and_no_anchor(tmp_path):
    from sklearn.ensemble import RandomForestRegressor

    from pellucid.serve import create_app

    X, _ = pellucid.datasets.credit(n_rows=200, random_state=1)
    X = X.select_dtypes("number")
    target = X["income"] * 0.001 + X["age"]
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, target)
    with ASGIClient(create_app(model, X, ui=True)) as client:
        check_regressor(client, model, X)


def check_regressor(client, model, X):
    meta = client.get("/explorer/meta").json()
    assert meta["score"] == "prediction" and meta["explanation_unit"] == "prediction"
    assert meta["anchors"] is False and meta["has_target"] is False
    row = client.get("/explorer/row?row=0").json()
    np.testing.assert_allclose(row["prediction"], model.predict(X.iloc[[0]])[0], rtol=1e-12)
    assert client.post("/explorer/anchor", json={"rows": [row["values"]]}).status_code == 422
    assert client.get("/explorer/rows?sort=error").status_code == 422


def test_not_served_without_ui(setup):
    from pellucid.serve import create_app

    _, model, X, _, _ = setup
    with ASGIClient(create_app(model, X)) as client:
        assert client.get("/").status_code == 404
        assert client.get("/explorer/rows").status_code == 404


def test_explore_command_builds_the_explorer(tmp_path, monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from typer.testing import CliRunner

    from pellucid._io import save_model
    from pellucid.cli import app

    X, y = pellucid.datasets.credit(n_rows=300, random_state=5)
    model = HistGradientBoostingClassifier(
        max_iter=10, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    model_path = save_model(model, tmp_path / "model.skops")
    data_path = tmp_path / "data.parquet"
    X.assign(default=y).to_parquet(data_path)
    seen = {}
    monkeypatch.setattr(
        "pellucid.serve._run.run_server",
        lambda app_, *, host, port, **kw: seen.update(app=app_, port=port),
    )
    args = ["explore", str(model_path), str(data_path), "--target", "default", "--port", "8124"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    explorer = seen["app"].state.explorer
    assert seen["port"] == 8124 and len(explorer.rows) == 300
    assert list(explorer.rows.columns) == list(X.columns)  # target dropped
    np.testing.assert_array_equal(explorer.target.to_numpy(), y.to_numpy())

    seen.clear()
    serve = ["serve", str(model_path), "--background", str(data_path), "--target", "default"]
    assert CliRunner().invoke(app, [*serve, "--ui"]).exit_code == 0
    assert seen["app"].state.explorer is not None and seen["app"].state.explorer.target is not None
    assert CliRunner().invoke(app, serve).exit_code == 0
    assert seen["app"].state.explorer is None

    bad = CliRunner().invoke(app, ["explore", str(model_path), str(data_path), "--target", "nope"])
    assert bad.exit_code == 2 and "nope" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
