"""The generic `pellucid explain` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pellucid
from pellucid._io import save_model
from pellucid.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    tmp = tmp_path_factory.mktemp("cli5")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(150, 4)), columns=["a", "b", "c", "d"])
    frame["y"] = (frame["a"] + frame["b"] * frame["c"] > 0).astype(int)
    X = frame.drop(columns="y")
    model = LogisticRegression().fit(X, frame["y"])
    save_model(model, tmp / "model.skops")
    frame.to_csv(tmp / "data.csv", index=False)
    frame.iloc[:30].to_parquet(tmp / "bg.parquet")
    return tmp, model, X


def test_explain_auto_writes_parquet(files):
    tmp, model, X = files
    out = tmp / "values.parquet"
    result = runner.invoke(
        app,
        [
            "explain",
            str(tmp / "model.skops"),
            str(tmp / "data.csv"),
            "--target",
            "y",
            "--background",
            str(tmp / "bg.parquet"),
            "--rows",
            "0,5,9",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "exact_shap" in result.output
    got = pd.read_parquet(out)
    assert list(got.columns) == ["row", "output", "a", "b", "c", "d"]
    want = pellucid.ExactShap(model, X.iloc[:30]).explain(X.iloc[[0, 5, 9]])
    np.testing.assert_allclose(got[["a", "b", "c", "d"]].to_numpy(), want.to_frame().to_numpy())


def test_explain_kernel_json_with_summarised_background(files):
    tmp, _, X = files
    out = tmp / "values.json"
    args = ["explain", str(tmp / "model.skops"), str(tmp / "data.csv"), "--target", "y"]
    args += ["--method", "kernel_shap", "--budget", "8", "--background-size", "20"]
    result = runner.invoke(app, [*args, "--rows", "1,2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    exp = pellucid.Explanation.from_json(out.read_text())
    assert exp.method == "kernel_shap" and exp.values.shape == (2, 4, 2)
    assert exp.params["n_background"] == 20 and exp.params["budget"] == 8
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)
    assert json.loads(out.read_text())["type"] == "Explanation"


def test_explain_errors_are_clear(files):
    tmp, _, _ = files
    base = ["explain", str(tmp / "model.skops"), str(tmp / "data.csv"), "--target", "y"]
    result = runner.invoke(app, [*base, "--method", "nope", "--out", str(tmp / "v.csv")])
    assert result.exit_code == 2 and "Unknown attribution method 'nope'" in result.output
    result = runner.invoke(app, [*base, "--rows", "0,999", "--out", str(tmp / "v.csv")])
    assert result.exit_code == 2 and "out of range" in result.output
    result = runner.invoke(app, [*base, "--out", str(tmp / "v.txt")])
    assert result.exit_code == 2 and ".parquet, .csv or .json" in result.output
    result = runner.invoke(app, [*base, "--rows", "0", "--out", str(tmp / "v.csv")])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp / "v.csv").shape == (2, 6)  # one row x two class outputs


def test_explain_anchors_writes_rules(tmp_path):
    import json

    from sklearn.ensemble import RandomForestClassifier

    from pellucid._io import save_model
    from pellucid.datasets import breast_cancer

    X, y = breast_cancer()
    X = X.iloc[:, :6]
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    save_model(model, tmp_path / "rf.skops")
    X.to_parquet(tmp_path / "data.parquet")
    out = tmp_path / "rules.json"
    result = CliRunner().invoke(
        app,
        [
            "explain",
            str(tmp_path / "rf.skops"),
            str(tmp_path / "data.parquet"),
            "--method",
            "anchors",
            "--rows",
            "0,3",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert len(payload) == 2 and all(p["type"] == "Anchor" for p in payload)
    anchors = [pellucid.Anchor.from_dict(p) for p in payload]
    assert all(a.precision >= 0.8 for a in anchors)
    assert anchors[0].covers(X.iloc[[0]])[0]  # a row satisfies its own rule


def test_explain_takes_tree_shap_and_its_old_name_treeshap(tmp_path, files):
    from sklearn.ensemble import GradientBoostingClassifier

    data_dir, _, X = files
    y = pd.read_csv(data_dir / "data.csv")["y"]
    model = GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0).fit(X, y)
    save_model(model, tmp_path / "tree.skops")
    written = {}
    for name in ("tree_shap", "treeshap"):
        out = tmp_path / f"{name}.parquet"
        args = ["explain", str(tmp_path / "tree.skops"), str(data_dir / "data.csv")]
        args += ["--target", "y", "--rows", "0,5,9", "--method", name, "--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "Wrote tree_shap values" in " ".join(result.output.split())
        written[name] = pd.read_parquet(out)
    pd.testing.assert_frame_equal(written["treeshap"], written["tree_shap"])
    assert list(written["tree_shap"].columns) == ["a", "b", "c", "d"]
    assert len(written["tree_shap"]) == 3 and np.isfinite(written["tree_shap"].to_numpy()).all()
