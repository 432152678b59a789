"""`pellucid report` and the demo's report, through the command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import pellucid
from _report_data import FAST
from pellucid._io import save_model
from pellucid.cli import app


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from sklearn.ensemble import HistGradientBoostingClassifier

    folder = tmp_path_factory.mktemp("cli")
    X, y = pellucid.datasets.credit(n_rows=300, random_state=4)
    model = HistGradientBoostingClassifier(
        max_iter=20, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    model_path = save_model(model, folder / "model.skops")
    data_path = folder / "data.parquet"
    X.assign(default=y).to_parquet(data_path)
    return folder, model_path, data_path


@pytest.mark.slow
def test_report_command_writes_the_file(files):
    folder, model_path, data_path = files
    out = folder / "r" / "report.html"
    result = CliRunner().invoke(
        app,
        [
            "report",
            str(model_path),
            str(data_path),
            "--target",
            "default",
            "--out",
            str(out),
            "--rows",
            "4,17",
            "--subgroup",
            "sex",
            "--background",
            str(data_path),
            "--random-state",
            "7",
            *[f"--set={k}={v}" for k, v in FAST.items()],
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Report written to" in result.output
    steps = len(pellucid.reporting.SECTIONS) + 1  # the sections, then rendering
    assert f"{steps}/{steps}" in result.output
    html = out.read_text(encoding="utf-8")
    assert "Row 4: chosen row" in html and "Row 17: chosen row" in html
    assert "sex = female" in html
    assert '"random_state": 7' in html


def test_report_command_errors_are_clear(files):
    folder, model_path, data_path = files
    runner = CliRunner()
    bad_rows = runner.invoke(
        app, ["report", str(model_path), str(data_path), "--target", "default", "--rows", "1,x"]
    )
    assert bad_rows.exit_code == 2
    assert "--rows must be comma-separated row positions" in bad_rows.output
    far = runner.invoke(
        app,
        [
            "report",
            str(model_path),
            str(data_path),
            "--target",
            "default",
            "--rows",
            "999",
            "--out",
            str(folder / "x.html"),
        ],
    )
    assert far.exit_code == 2 and "out of range: the data has 300 rows" in far.output
    bad_set = runner.invoke(
        app,
        [
            "report",
            str(model_path),
            str(data_path),
            "--set",
            "shap_rowz=3",
            "--out",
            str(folder / "y.html"),
        ],
    )
    assert bad_set.exit_code == 2 and "Unknown settings ['shap_rowz']" in bad_set.output
    no_target = runner.invoke(app, ["report", str(model_path), str(data_path), "--target", "nope"])
    assert no_target.exit_code == 2 and "'nope' is not in the data" in no_target.output
