"""The `pellucid trust` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from typer.testing import CliRunner

from pellucid._io import save_model
from pellucid._registry import available
from pellucid.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 4)), columns=list("abcd"))
    y = X @ np.array([3.0, -2.0, 1.0, 0.0]) + 0.1 * rng.normal(size=80)
    d = tmp_path_factory.mktemp("trust")
    save_model(LinearRegression().fit(X, y), d / "model.skops")
    X.assign(target=y).to_csv(d / "data.csv", index=False)
    return d


@pytest.mark.skipif("exact_shap" not in available(), reason="needs ExactShap")
def test_trust_json(files):
    args = ["trust", str(files / "model.skops"), str(files / "data.csv"), "--target", "target"]
    args += ["--method", "exact_shap", "--first", "6", "--background-size", "20", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    (row,) = payload["rows"]
    assert row["method"] == "exact_shap"
    assert row["faithfulness_correlation"] == pytest.approx(1.0)
    assert row["verdict"] == "trust"


@pytest.mark.skipif("exact_shap" not in available(), reason="needs ExactShap")
def test_trust_table_and_bad_method(files):
    args = ["trust", str(files / "model.skops"), str(files / "data.csv"), "--target", "target"]
    result = runner.invoke(app, [*args, "--method", "exact_shap", "--first", "4", "--sanity"])
    assert result.exit_code == 0, result.output
    assert "exact_shap" in result.output and "sanity" in result.output
    bad = runner.invoke(app, [*args, "--method", "nonsense"])
    assert bad.exit_code == 2 and "nonsense" in bad.output


def test_trust_takes_the_old_name_treeshap_as_tree_shap(files, tmp_path):
    from sklearn.ensemble import GradientBoostingRegressor

    data = pd.read_csv(files / "data.csv")
    X, y = data.drop(columns="target"), data["target"]
    save_model(
        GradientBoostingRegressor(n_estimators=10, random_state=0).fit(X, y), tmp_path / "t.skops"
    )
    args = ["trust", str(tmp_path / "t.skops"), str(files / "data.csv"), "--target", "target"]
    args += ["--method", "treeshap", "--first", "6", "--background-size", "20", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["rows"]
    assert row["method"] == "tree_shap"
