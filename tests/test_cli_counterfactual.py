"""``pellucid counterfactual``: answers equal the library's; every user error is one stderr
line and exit code 2 (table-driven, as tests/test_cli_errors.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from typer.testing import CliRunner

from pellucid import Counterfactuals, CounterfactualSet, save_model
from pellucid.cli import app
from pellucid.datasets import credit

runner = CliRunner()


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    X, y = credit(n_rows=500, random_state=0)
    X = X.drop(columns=["employment", "housing"])
    X["savings"] = X["savings"].fillna(0.0)
    X["sex"] = (X["sex"] == "male").astype(np.int64)
    folder = tmp_path_factory.mktemp("cli_cf")
    model = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(X, y)
    save_model(model, folder / "model.skops")
    X.assign(default=y).to_parquet(folder / "data.parquet")
    X.rename(columns={"income": "salary"}).to_parquet(folder / "wrong_columns.parquet")
    (folder / "a_folder.csv").mkdir()
    declined = np.flatnonzero(model.predict(X) == 1)[:2]
    return folder, model, X, declined


def test_rows_get_the_librarys_counterfactuals(d):
    folder, model, X, declined = d
    rows = ",".join(str(r) for r in declined)
    out = folder / "cf.csv"
    args = ["counterfactual", str(folder / "model.skops"), str(folder / "data.parquet")]
    args += ["--target", "default", "--immutable", "sex,age", "--rows", rows, "--k", "2"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = Counterfactuals(model, X, immutable=["sex", "age"]).explain(X.iloc[declined], k=2)
    table = pd.read_csv(out)
    assert list(table["index"]) == [cf_row for cf_row in X.index[declined] for _ in range(2)]
    np.testing.assert_allclose(table["cost"], [cf.cost for cf in expected.counterfactuals])
    assert (table["certificate"] == "optimal").all() and table["valid"].all()
    np.testing.assert_array_equal(table["sex"], np.repeat(X["sex"].to_numpy()[declined], 2))
    assert "Had " in result.stdout
    printed = runner.invoke(app, [*args, "--json"])
    assert printed.exit_code == 0, printed.output
    back = CounterfactualSet.from_json(printed.stdout)
    assert back.certificates == expected.certificates
    np.testing.assert_allclose(
        [cf.cost for cf in back.counterfactuals], [cf.cost for cf in expected.counterfactuals]
    )


def _cases() -> dict[str, list[str]]:
    base = ["counterfactual", "{d}/model.skops", "{d}/data.parquet", "--target", "default"]
    return {
        "unknown immutable": [*base, "--immutable", "sex,nope"],
        "rows out of range": [*base, "--rows", "99999"],
        "rows not numbers": [*base, "--rows", "a,b"],
        "k zero": [*base, "--k", "0"],
        "k not a number": [*base, "--k", "x"],
        "desired unknown class": [*base, "--rows", "0", "--desired", "maybe"],
        "desired bad range": [*base, "--rows", "0", "--desired", "low,high"],
        "desired three ends": [*base, "--rows", "0", "--desired", "0.1,0.2,0.3"],
        "desired empty range": [*base, "--rows", "0", "--desired", "0.9,0.1"],
        "out bad suffix": [*base, "--out", "{d}/cf.txt"],
        "out missing folder": [*base, "--out", "{d}/nope/cf.csv"],
        "out is a folder": [*base, "--out", "{d}/a_folder.csv"],
        "unknown target": ["counterfactual", "{d}/model.skops", "{d}/data.parquet", "--target", "nope"],
        "wrong columns": ["counterfactual", "{d}/model.skops", "{d}/wrong_columns.parquet", "--rows", "0"],
        "missing model": ["counterfactual", "{d}/missing.skops", "{d}/data.parquet"],
        "negative time limit": [*base, "--rows", "0", "--time-limit", "-1"],
    }  # fmt: skip


@pytest.mark.parametrize("case", list(_cases()))
def test_user_error_is_one_stderr_line_and_exit_2(d, case):
    folder = d[0]
    args = [a.format(d=folder) for a in _cases()[case]]
    result = runner.invoke(app, args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    assert "error:" not in result.stdout


def test_errors_name_what_is_wrong(d):
    folder = d[0]

    def err(*extra: str) -> str:
        args = ["counterfactual", str(folder / "model.skops"), str(folder / "data.parquet")]
        return runner.invoke(app, [*args, "--target", "default", *extra]).stderr

    assert "'nope'" in err("--immutable", "nope")
    assert "'maybe'" in err("--rows", "0", "--desired", "maybe") and "['0', '1']" in err(
        "--rows", "0", "--desired", "maybe"
    )
    assert "low,high" in err("--rows", "0", "--desired", "a,b")
    assert ".csv or .json" in err("--out", "x.txt")
