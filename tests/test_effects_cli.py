"""`pellucid importance` and `pellucid effects`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pellucid import PartialDependence
from pellucid._io import save_model
from pellucid.cli import app


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = 3 * X["a"] - X["b"]
    folder = tmp_path_factory.mktemp("cli")
    model_path = save_model(LinearRegression().fit(X, y), folder / "model.skops")
    data_path = folder / "data.csv"
    X.assign(target=y).to_csv(data_path, index=False)
    return str(model_path), str(data_path)


def test_importance_table_and_json(files):
    runner = CliRunner()
    result = runner.invoke(app, ["importance", *files, "--target", "target", "--n-repeats", "3"])
    assert result.exit_code == 0, result.output
    assert "Permutation importance" in result.output and "a" in result.output
    result = runner.invoke(
        app,
        ["importance", *files, "--target", "target", "--json", "--feature-group", "ab=a,b"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["type"] == "FeatureImportance"
    assert payload["feature_names"] == ["ab"]


def test_effects_pd_ale_and_errors(files):
    runner = CliRunner()
    result = runner.invoke(app, ["effects", *files, "--feature", "a", "--target", "target"])
    assert result.exit_code == 0, result.output
    assert "Partial dependence of" in result.output and "value" in result.output
    result = runner.invoke(
        app,
        ["effects", *files, "--feature", "a", "--target", "target", "--method", "ale", "--json"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["kind"] == "ale"
    back = PartialDependence.from_dict(payload)
    slope = np.diff(back.average[0]) / np.diff(back.grid_values[0])
    np.testing.assert_allclose(slope, 3.0, rtol=1e-9)
    result = runner.invoke(app, ["effects", *files, "--feature", "zz", "--target", "target"])
    assert result.exit_code == 2
    assert "zz" in result.output
    result = runner.invoke(app, ["importance", *files, "--target", "nope"])
    assert result.exit_code == 2
