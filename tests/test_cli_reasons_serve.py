"""`pellucid reasons` and `pellucid serve` on real model and data files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

import pellucid
from pellucid import reason_codes
from pellucid._io import save_model
from pellucid._registry import _METHODS, MethodSpec
from pellucid.cli import app
from pellucid.datasets import credit
from pellucid.shapley import summarize

CATS = ["employment", "housing", "sex"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    X, y = credit(n_rows=300, random_state=4)
    num = [c for c in X.columns if c not in CATS]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATS),
        ]
    )
    model = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=2000))]).fit(X, y)
    root = tmp_path_factory.mktemp("cli")
    model_path = save_model(model, root / "model.skops")
    data_path = root / "data.parquet"
    X.assign(default=y).to_parquet(data_path)
    return model, X, model_path, data_path, root


@pytest.fixture
def oracle_method(monkeypatch):
    spec = MethodSpec("linear_oracle", "_shapley_oracle:LinearLogitShap", "attribution")
    monkeypatch.setitem(_METHODS, "linear_oracle", spec)


def test_reasons_command_writes_library_reasons(files):
    model, X, model_path, data_path, root = files
    # a small 5-feature model, so exact Shapley values are cheap
    small = X[["age", "income", "debt_to_income", "late_payments", "housing"]].iloc[:40]
    y = (X["debt_to_income"].iloc[:40] > 0.2).astype(int)
    pre = ColumnTransformer(
        [("num", StandardScaler(), list(small.columns[:4])), ("cat", OneHotEncoder(), ["housing"])]
    )
    small_model = Pipeline([("pre", pre), ("lr", LogisticRegression())]).fit(small, y)
    small_model_path = save_model(small_model, root / "small.skops")
    small_data = root / "small.csv"
    small.to_csv(small_data, index=False)
    out = root / "reasons.csv"
    args = ["reasons", str(small_model_path), str(small_data), "--max-reasons", "3"]
    args += ["--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--exclude", "age", "--rows", "0,3,7"])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    frame = pd.read_csv(small_data)
    exp = pellucid.explain(
        small_model, frame.iloc[[0, 3, 7]], summarize(frame, 100, random_state=0), random_state=0
    )
    assert exp.method == "exact_shap"
    expected = reason_codes(exp, max_reasons=3, exclude=["age"], reference=frame)
    assert list(got["feature"]) == list(expected["feature"])
    assert list(got["reason"]) == list(expected["reason"])
    np.testing.assert_allclose(got["contribution"], expected["contribution"], atol=1e-9)
    assert "age" not in set(got["feature"])
    assert list(got["index"].unique()) == [0, 3, 7]
    assert list(got.columns) == [
        "row",
        "index",
        "rank",
        "feature",
        "value",
        "contribution",
        "reason",
    ]


def test_reasons_command_reports_errors(files):
    _, _, model_path, data_path, root = files
    bad = CliRunner().invoke(
        app, ["reasons", str(model_path), str(data_path), "--target", "default", "--method", "nope"]
    )
    assert bad.exit_code == 2 and "nope" in bad.output
    untrusted = CliRunner().invoke(app, ["reasons", str(root / "x.joblib"), str(data_path)])
    assert untrusted.exit_code == 2


def test_serve_command_builds_the_app(files, oracle_method, monkeypatch):
    _, X, model_path, data_path, _ = files
    seen = {}

    def fake_run(app_, *, host, port, **kwargs):
        seen.update(app=app_, host=host, port=port)

    monkeypatch.setattr("pellucid.serve._run.run_server", fake_run)
    monkeypatch.setenv("PELLUCID_API_KEY", "k")
    args = ["serve", str(model_path), "--background", str(data_path), "--target", "default"]
    args += ["--port", "8123", "--exclude", "sex", "--method", "linear_oracle"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    service = seen["app"].state.service
    assert list(service.rows.columns) == list(X.columns)  # target dropped
    assert service.metrics["task"] == "binary"  # /model shows metrics on the labelled data
    assert service.default_method == "linear_oracle"
    assert service.reason_defaults["exclude"] == ["sex"]


def test_serve_command_refuses_a_model_that_does_not_fit_the_data(files, monkeypatch):
    _, _, model_path, data_path, root = files
    monkeypatch.setattr("pellucid.serve._run.run_server", lambda *a, **k: None)
    frame = pd.read_parquet(data_path).drop(columns=["income"])
    bad = root / "bad.csv"
    frame.to_csv(bad, index=False)
    result = CliRunner().invoke(app, ["serve", str(model_path), "--background", str(bad)])
    assert result.exit_code == 2
    assert "income" in result.output


def test_choose_method_follows_pellucid_explain(monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from pellucid.regulatory._explainers import choose_method

    X, y = credit(n_rows=100, random_state=0)
    tree = HistGradientBoostingClassifier(max_iter=3, categorical_features="from_dtype").fit(X, y)
    linear = LogisticRegression().fit(X[["age", "income"]], y)
    assert choose_method(linear, 2) == "exact_shap"
    assert choose_method(linear, 30) == "kernel_shap"
    if "tree_shap" in pellucid.available_methods():
        assert choose_method(tree, 10) == "tree_shap"
    monkeypatch.setattr("pellucid.regulatory._explainers.available", lambda **kw: [])
    with pytest.raises(LookupError, match="not registered"):
        choose_method(linear, 2)


def test_serve_command_max_cost_and_api_key_file(files, monkeypatch, tmp_path):
    import httpx

    from pellucid.serve._run import running_server

    _, X, model_path, data_path, _ = files
    seen = {}
    monkeypatch.setattr("pellucid.serve._run.run_server", lambda app_, **kw: seen.update(app=app_))
    monkeypatch.delenv("PELLUCID_API_KEY", raising=False)
    monkeypatch.delenv("PELLUCID_API_KEY_FILE", raising=False)
    key_file = tmp_path / "key"
    key_file.write_text("s3cret\n")
    base = ["serve", str(model_path), "--background", str(data_path), "--target", "default"]
    result = CliRunner().invoke(
        app, [*base, "--max-cost", "12345", "--api-key-file", str(key_file)]
    )
    assert result.exit_code == 0, result.output
    assert seen["app"].state.service.max_cost == 12345
    with running_server(seen["app"]) as url:
        assert httpx.get(f"{url}/model").status_code == 401
        assert httpx.get(f"{url}/model", headers={"X-API-Key": "s3cret"}).status_code == 200
    result = CliRunner().invoke(app, [*base, "--max-cost", "0"])
    assert result.exit_code == 0 and seen["app"].state.service.max_cost is None
    key_file.write_text("  \n")
    empty = CliRunner().invoke(app, [*base, "--api-key-file", str(key_file)])
    lines = [line for line in empty.stderr.splitlines() if line.strip()]
    assert empty.exit_code == 2 and len(lines) == 1 and "empty" in lines[0].lower(), empty.stderr


def test_reasons_auto_falls_back_where_pellucid_explain_does(tmp_path):
    """TreeShap cannot explain a Poisson regressor's prediction (exp of the trees' sum):
    ``reasons --method auto`` takes pellucid.explain's fallback, exact Shapley values,
    and says so, instead of failing or keeping a copy of the fallback rule."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from pellucid.shapley._explain import CostWarning

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=list("abc"))
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=10).fit(
        X, rng.poisson(np.exp(0.5 * X["a"]))
    )
    save_model(model, tmp_path / "m.skops")
    X.to_csv(tmp_path / "x.csv", index=False)
    base = ["reasons", str(tmp_path / "m.skops"), str(tmp_path / "x.csv"), "--rows", "0,1,2"]
    with pytest.warns(CostWarning, match="exact_shap instead"):
        auto = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "auto.csv")])
    exact = CliRunner().invoke(
        app, [*base, "--method", "exact_shap", "--out", str(tmp_path / "exact.csv")]
    )
    assert auto.exit_code == 0 and exact.exit_code == 0, (auto.output, exact.output)
    got, want = pd.read_csv(tmp_path / "auto.csv"), pd.read_csv(tmp_path / "exact.csv")
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, want)
