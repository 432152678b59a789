"""``pellucid compare``: the HTML page and the JSON equal the library's comparison; every
user error is one stderr line and exit code 2 (table-driven, as tests/test_cli_errors.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

from pellucid import save_model
from pellucid.cli import app
from pellucid.comparison import ModelComparison, compare
from pellucid.comparison._stats import delong_test
from pellucid.datasets import credit

runner = CliRunner()
COLUMNS = ["age", "income", "debt_to_income", "late_payments", "credit_history_years"]


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    X, y = credit(n_rows=500, random_state=0)
    X = X[COLUMNS].assign(sex=(X["sex"] == "male").astype(np.int64))
    folder = tmp_path_factory.mktemp("cli_compare")
    logistic = LogisticRegression(max_iter=1000).fit(X, y)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    save_model(logistic, folder / "logistic.skops")
    save_model(tree, folder / "tree.skops")
    X.assign(default=y).to_parquet(folder / "data.parquet")
    X.assign(default=np.arange(len(y)) % 3).to_parquet(folder / "three_classes.parquet")
    (folder / "a_folder.html").mkdir()
    return folder, {"champion": logistic, "challenger": tree}, X, y


def _args(folder, *extra: str) -> list[str]:
    return [
        "compare",
        str(folder / "logistic.skops"),
        str(folder / "tree.skops"),
        str(folder / "data.parquet"),
        "--target",
        "default",
        "--name",
        "champion",
        "--name",
        "challenger",
        "--n-boot",
        "200",
        *extra,
    ]


def test_html_page_names_the_models_and_the_delong_p_value(d):
    folder, models, X, y = d
    out = folder / "cmp.html"
    result = runner.invoke(app, _args(folder, "--subgroup", "sex", "--out", str(out)))
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    p = models["champion"].predict_proba(X)[:, 1]
    q = models["challenger"].predict_proba(X)[:, 1]
    delong = delong_test(y.to_numpy(), p, q).p_value
    row = re.search(r"<td>DeLong</td><td>([^<]+)</td>", page)
    assert row is not None, "no DeLong row in the differences table"
    assert row[1] == f"{delong:.3g}"
    for name in ("champion", "challenger"):
        assert f'<th scope="col">{name}</th>' in page
    assert "Gaps between sex groups" in page
    assert "drop in ROC AUC" in page  # the importance scorer is stated
    # self-contained: images inline, no script, nothing fetched
    assert page.count("data:image/png;base64,") >= 5
    assert "<script" not in page
    assert not re.search(r'(?:src|href)="(?!data:|#)', page)
    assert "Comparison written to" in result.stdout


def test_json_reads_back_as_the_librarys_comparison(d):
    folder, models, X, y = d
    result = runner.invoke(app, _args(folder, "--json", "--random-state", "3"))
    assert result.exit_code == 0, result.output
    back = ModelComparison.from_json(result.stdout)
    expected = compare(models, X, y, n_boot=200, random_state=3)
    assert back.models == ("champion", "challenger")
    np.testing.assert_allclose(back.estimates, expected.estimates, rtol=1e-12)
    np.testing.assert_allclose(back.lower, expected.lower, rtol=1e-12)
    np.testing.assert_allclose(
        back.differences["p_holm"].astype(float), expected.differences["p_holm"], rtol=1e-12
    )
    assert back.verdicts() == expected.verdicts()


def test_names_default_to_file_stems_and_threshold_is_used(d):
    folder, models, X, y = d
    args = ["compare", str(folder / "logistic.skops"), str(folder / "tree.skops")]
    args += [str(folder / "data.parquet"), "--target", "default", "--n-boot", "200"]
    result = runner.invoke(app, [*args, "--threshold", "0.3", "--json"])
    assert result.exit_code == 0, result.output
    back = ModelComparison.from_json(result.stdout)
    assert back.models == ("logistic", "tree") and back.threshold == 0.3
    recall = back.estimates[0, back.metric_names.index("recall")]
    predicted = models["champion"].predict_proba(X)[:, 1] >= 0.3
    np.testing.assert_allclose(recall, predicted[y.to_numpy() == 1].mean(), rtol=1e-12)


def _cases() -> dict[str, list[str]]:
    two = ["compare", "{d}/logistic.skops", "{d}/tree.skops"]
    return {
        "missing model file": ["compare", "{d}/logistic.skops", "{d}/missing.skops", "{d}/data.parquet", "--target", "default"],
        "missing data file": [*two, "{d}/missing.parquet", "--target", "default"],
        "unknown target": [*two, "{d}/data.parquet", "--target", "nope"],
        "one model only": ["compare", "{d}/logistic.skops", "{d}/data.parquet", "--target", "default"],
        "non-binary target": [*two, "{d}/three_classes.parquet", "--target", "default"],
        "unknown subgroup": [*two, "{d}/data.parquet", "--target", "default", "--subgroup", "nope"],
        "names not one per model": [*two, "{d}/data.parquet", "--target", "default", "--name", "a"],
        "names repeated": [*two, "{d}/data.parquet", "--target", "default", "--name", "a", "--name", "a"],
        "too few resamples": [*two, "{d}/data.parquet", "--target", "default", "--n-boot", "10"],
        "out not html": [*two, "{d}/data.parquet", "--target", "default", "--out", "{d}/cmp.txt"],
        "out is a folder": [*two, "{d}/data.parquet", "--target", "default", "--out", "{d}/a_folder.html"],
        "no target": [*two, "{d}/data.parquet"],
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

    def err(case: str) -> str:
        return runner.invoke(app, [a.format(d=folder) for a in _cases()[case]]).stderr

    assert "missing.skops" in err("missing model file")
    assert "'nope'" in err("unknown target")
    assert "at least two model files" in err("one model only")
    assert "label 2" in err("non-binary target")
    assert "1 --name for 2 models" in err("names not one per model")
