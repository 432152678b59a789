"""Every user error on the command line: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from typer.testing import CliRunner

from pellucid import evaluate, save_model
from pellucid.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def d(tmp_path_factory, credit_small):
    X, y = credit_small
    folder = tmp_path_factory.mktemp("cli_errors")
    model = HistGradientBoostingClassifier(
        max_iter=10, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    save_model(model, folder / "model.skops")
    X.assign(default=y).to_parquet(folder / "data.parquet")
    X.assign(default=np.where(y == 1, "bad", "good")).to_parquet(folder / "string_target.parquet")
    X.rename(columns={"income": "salary"}).to_parquet(folder / "wrong_columns.parquet")
    (folder / "corrupt.skops").write_bytes(b"PK\x03\x04 truncated zip")
    (folder / "corrupt.txt").write_text("tree\nversion=v4\nnot lightgbm at all\n")
    (folder / "corrupt.cbm").write_bytes(b"\x00garbage\xff" * 20)
    (folder / "not_xgboost.json").write_text('{"learner": 3}')
    (folder / "a_folder.csv").mkdir()
    (folder / "a_folder.skops").mkdir()
    (folder / "empty.csv").write_text("")
    return folder


def _cases() -> dict[str, list[str]]:
    m, data = "{d}/model.skops", "{d}/data.parquet"
    return {
        "string target": ["evaluate", m, "{d}/string_target.parquet", "--target", "default"],
        "unknown target": ["evaluate", m, data, "--target", "nope"],
        "unknown subgroup": ["evaluate", m, data, "--target", "default", "--subgroup", "nope"],
        "corrupt skops": ["evaluate", "{d}/corrupt.skops", data, "--target", "default"],
        "corrupt lightgbm": ["evaluate", "{d}/corrupt.txt", data, "--target", "default"],
        "corrupt catboost": ["evaluate", "{d}/corrupt.cbm", data, "--target", "default"],
        "json not xgboost": ["evaluate", "{d}/not_xgboost.json", data, "--target", "default"],
        "folder as model": ["evaluate", "{d}/a_folder.skops", data, "--target", "default"],
        "folder as data": ["evaluate", m, "{d}/a_folder.csv", "--target", "default"],
        "empty data": ["evaluate", m, "{d}/empty.csv", "--target", "default"],
        "missing model": ["evaluate", "{d}/missing.skops", data, "--target", "default"],
        "pickle untrusted": ["evaluate", "{d}/model.joblib", data, "--target", "default"],
        "explain out missing folder": [
            "explain",
            m,
            data,
            "--out",
            "{d}/nope/x.csv",
            "--target",
            "default",
        ],
        "reasons out missing folder": [
            "reasons",
            m,
            data,
            "--out",
            "{d}/nope/r.csv",
            "--target",
            "default",
        ],
        "report out is a folder": [
            "report",
            m,
            data,
            "--out",
            "{d}/a_folder.csv",
            "--target",
            "default",
        ],
        "report unknown subgroup": [
            "report",
            m,
            data,
            "--target",
            "default",
            "--subgroup",
            "nope",
            "--out",
            "{d}/r.html",
        ],
        "explain bad rows": ["explain", m, data, "--out", "{d}/x.csv", "--rows", "99999"],
        "serve negative port": ["serve", m, "--background", data, "--port", "-1"],
        "serve port too large": ["serve", m, "--background", data, "--port", "70000"],
        "serve port not a number": ["serve", m, "--background", data, "--port", "abc"],
        "demo zero rows": ["demo", "--n-rows", "0", "--out", "{d}/demo"],
        "trust wrong columns": ["trust", m, "{d}/wrong_columns.parquet", "--first", "5"],
        "importance unknown target": ["importance", m, data, "--target", "nope"],
        "effects unknown feature": ["effects", m, data, "--feature", "nope", "--target", "default"],
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_user_error_is_one_stderr_line_and_exit_2(d, case):
    args = [a.format(d=d) for a in _cases()[case]]
    result = runner.invoke(app, args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    assert "error:" not in result.stdout  # errors go to stderr only


def test_error_names_what_is_wrong(d):
    def err(*args: str) -> str:
        return runner.invoke(app, [a.format(d=d) for a in args]).stderr

    assert "'nope'" in err("report", "{d}/model.skops", "{d}/data.parquet", "--subgroup", "nope")
    assert "-1" in err(
        "serve", "{d}/model.skops", "--background", "{d}/data.parquet", "--port", "-1"
    )
    assert "a folder" in err("evaluate", "{d}/model.skops", "{d}/a_folder.csv", "--target", "x")
    assert "salary" in err(
        "trust", "{d}/model.skops", "{d}/wrong_columns.parquet"
    ) or "income" in err("trust", "{d}/model.skops", "{d}/wrong_columns.parquet")


def test_python_m_pellucid_lists_every_command():
    names = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    assert "trust" in names
    for module in ("pellucid", "pellucid.cli"):
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        for name in names:
            assert name in done.stdout, (module, name)


def test_python_m_pellucid_error_is_one_line_without_traceback(d):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pellucid",
            "evaluate",
            str(d / "corrupt.cbm"),
            str(d / "data.parquet"),
            "--target",
            "default",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "corrupt.cbm" in lines[0], done.stderr


def _categorical_frame(n: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            # categories deliberately not in sorted order, so codes differ from a fresh read
            "region": pd.Categorical(
                rng.choice(["south", "north", "east"], n), ["south", "north", "east"]
            ),
        }
    )
    y = pd.Series(((X["amount"] > 0) ^ (X["region"] == "north")).astype(int), name="y")
    return X, y


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_categorical_native_model_with_csv_data(tmp_path, library):
    X, y = _categorical_frame()
    if library == "xgboost":
        xgb = pytest.importorskip("xgboost")
        fitted = xgb.XGBClassifier(n_estimators=20, enable_categorical=True, max_cat_to_onehot=1)
        path = tmp_path / "m.json"
    else:
        lgb = pytest.importorskip("lightgbm")
        fitted = lgb.LGBMClassifier(n_estimators=20, verbose=-1, min_child_samples=5)
        path = tmp_path / "m.txt"
    fitted.fit(X, y)
    save_model(fitted, path)
    X.assign(y=y).to_csv(tmp_path / "data.csv", index=False)
    X.assign(y=y).to_parquet(tmp_path / "data.parquet")
    from_csv = runner.invoke(
        app, ["evaluate", str(path), str(tmp_path / "data.csv"), "--target", "y", "--json"]
    )
    from_parquet = runner.invoke(
        app, ["evaluate", str(path), str(tmp_path / "data.parquet"), "--target", "y", "--json"]
    )
    assert from_csv.exit_code == 0, from_csv.output
    assert from_csv.stdout == from_parquet.stdout
    # and the numbers are the model's own: the native model on the original frame
    import json

    expected = evaluate(fitted, X, y)
    np.testing.assert_allclose(
        json.loads(from_csv.stdout)["metrics"]["roc_auc"], expected.metrics["roc_auc"], rtol=1e-12
    )
    pd.DataFrame({"amount": [0.5], "region": ["west"], "y": [1]}).to_csv(
        tmp_path / "new.csv", index=False
    )
    unseen = runner.invoke(app, ["evaluate", str(path), str(tmp_path / "new.csv"), "--target", "y"])
    assert unseen.exit_code == 2 and "'west'" in unseen.stderr
