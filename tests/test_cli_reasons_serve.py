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

from _shapley_oracle import LinearLogitShap
from pellucid import reason_codes
from pellucid._io import save_model
from pellucid._registry import _METHODS, MethodSpec
from pellucid.cli import app
from pellucid.datasets import credit

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


def test_reasons_command_writes_library_reasons(files, oracle_method):
    model, X, model_path, data_path, root = files
    out = root / "reasons.csv"
    args = ["reasons", str(model_path), str(data_path), "--k", "3", "--target", "default"]
    args += ["--out", str(out), "--exclude", "sex", "--method", "linear_oracle"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    # the method saw a background of at most 100 rows drawn from the data itself
    from pellucid.regulatory._explainers import background_sample

    explainer = LinearLogitShap(model, background_sample(X, 100))
    expected = reason_codes(explainer.explain(X), k=3, exclude=["sex"], reference=X)
    assert list(got["feature"]) == list(expected["feature"])
    assert list(got["reason"]) == list(expected["reason"])
    np.testing.assert_allclose(got["contribution"], expected["contribution"], atol=1e-9)
    assert "sex" not in set(got["feature"])
    assert list(got.columns) == [
        "row",
        "index",
        "rank",
        "feature",
        "value",
        "contribution",
        "reason",
    ]


def test_reasons_command_reports_errors(files, oracle_method):
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

    def fake_run(app_, host, port, **kwargs):
        seen.update(app=app_, host=host, port=port)

    monkeypatch.setattr("uvicorn.run", fake_run)
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
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: None)
    frame = pd.read_parquet(data_path).drop(columns=["income"])
    bad = root / "bad.csv"
    frame.to_csv(bad, index=False)
    result = CliRunner().invoke(app, ["serve", str(model_path), "--background", str(bad)])
    assert result.exit_code == 2
    assert "income" in result.output


def test_choose_method_prefers_exact_tree_then_exact_then_sampled(monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from pellucid.regulatory._explainers import choose_method

    X, y = credit(n_rows=100, random_state=0)
    tree = HistGradientBoostingClassifier(max_iter=3, categorical_features="from_dtype").fit(X, y)
    linear = LogisticRegression().fit(X[["age", "income"]], y)
    every = ["treeshap", "exact_shap", "kernel_shap", "permutation_shap"]
    target = "pellucid.regulatory._explainers.available"
    monkeypatch.setattr(target, lambda **kw: every)
    assert choose_method(tree, 10) == "treeshap"
    assert choose_method(linear, 2) == "exact_shap"
    assert choose_method(linear, 30) == "kernel_shap"
    monkeypatch.setattr(target, lambda **kw: ["permutation_shap"])
    assert choose_method(tree, 30) == "permutation_shap"
    monkeypatch.setattr(target, lambda **kw: [])
    with pytest.raises(LookupError, match="No attribution method"):
        choose_method(linear, 2)
