from __future__ import annotations

import json

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from pellucid import available_methods, evaluate
from pellucid._io import UntrustedModelError, load_data, load_model, save_model
from pellucid.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory, credit_small):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = credit_small
    model = HistGradientBoostingClassifier(
        max_iter=20, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    d = tmp_path_factory.mktemp("cli")
    save_model(model, d / "model.skops")
    joblib.dump(model, d / "model.joblib")
    X.assign(default=y).to_parquet(d / "data.parquet")
    numeric = X.select_dtypes("number").fillna(0)
    LogisticRegression(max_iter=5000).fit(numeric, y)
    X.assign(default=y).to_csv(d / "data.csv", index=False)
    return {"dir": d, "model": model, "X": X, "y": y}


def test_evaluate_json_matches_library(files):
    d = files["dir"]
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(d / "model.skops"),
            str(d / "data.parquet"),
            "--target",
            "default",
            "--subgroup",
            "sex",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    expected = evaluate(files["model"], files["X"], files["y"], subgroups="sex")
    np.testing.assert_allclose(
        payload["metrics"]["roc_auc"], expected.metrics["roc_auc"], rtol=1e-12
    )
    assert set(payload["by_group"]) == {"female", "male"}


def test_evaluate_table(files):
    d = files["dir"]
    result = runner.invoke(
        app, ["evaluate", str(d / "model.skops"), str(d / "data.parquet"), "--target", "default"]
    )
    assert result.exit_code == 0, result.output
    assert "roc_auc" in result.output


def test_pickle_refused_without_trust(files):
    d = files["dir"]
    result = runner.invoke(
        app, ["evaluate", str(d / "model.joblib"), str(d / "data.parquet"), "--target", "default"]
    )
    assert result.exit_code == 2
    assert "trust-pickle" in result.output
    ok = runner.invoke(
        app,
        [
            "evaluate",
            str(d / "model.joblib"),
            str(d / "data.parquet"),
            "--target",
            "default",
            "--trust-pickle",
        ],
    )
    assert ok.exit_code == 0, ok.output


def test_missing_target_and_files(files):
    d = files["dir"]
    result = runner.invoke(
        app, ["evaluate", str(d / "model.skops"), str(d / "data.parquet"), "--target", "nope"]
    )
    assert result.exit_code == 2 and "'nope'" in result.output
    result = runner.invoke(
        app, ["evaluate", str(d / "missing.skops"), str(d / "data.parquet"), "--target", "default"]
    )
    assert result.exit_code == 2 and "does not exist" in result.output


def test_io_formats(files, tmp_path):
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    X = files["X"].select_dtypes("number")
    y = files["y"]
    booster = xgb.XGBClassifier(n_estimators=3).fit(X, y)
    for suffix in (".json", ".ubj"):
        path = save_model(booster, tmp_path / f"m{suffix}")
        loaded = load_model(path)
        assert type(loaded).__name__ == "Booster"
    lgbm = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
    assert type(load_model(save_model(lgbm, tmp_path / "m.txt"))).__name__ == "Booster"
    with pytest.raises(UntrustedModelError, match="unpickling"):
        load_model(files["dir"] / "model.joblib")
    with pytest.raises(ValueError, match="Unknown model file type '.bin'"):
        (tmp_path / "m.bin").write_bytes(b"0")
        load_model(tmp_path / "m.bin")
    frame = load_data(files["dir"] / "data.csv")
    assert frame.shape[0] == len(y)
    with pytest.raises(ValueError, match="Unknown data file type"):
        load_data(tmp_path / "m.bin")


@pytest.mark.parametrize("width", [200, 60])
def test_methods_lists_registry(width, monkeypatch):
    from pellucid.cli._app import console

    monkeypatch.setattr(console, "width", width)  # a narrow terminal never cuts a name short
    result = runner.invoke(app, ["methods"])
    assert result.exit_code == 0, result.output
    cells = [line.split("│")[1].strip() for line in result.output.splitlines() if "│" in line]
    listed = [name for name in cells if name]  # a wrapped summary leaves the name cell empty
    assert listed == available_methods()  # registered names only, tree_shap among them
    assert "tree_shap" in listed and "treeshap" not in listed


# The whole demo job, report included, through the same code as `make demo`; --quick
# shrinks the report's samples (which cost far more than the rows) to keep this cheap.
def test_demo_runs(tmp_path):
    from pellucid.demo import QUICK_REPORT_SETTINGS

    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--n-rows", "600", "--quick"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "credit_model.skops").exists()
    assert (tmp_path / "credit_test.parquet").exists()
    assert "roc_auc" in result.output
    html = (tmp_path / "credit_report.html").read_text(encoding="utf-8")
    # Every section ran to the end on the small samples ...
    assert "stopped early" not in html
    # ... and the record shows the quick sizes were the ones used (180 held-out rows).
    assert f"{QUICK_REPORT_SETTINGS['trust_rows']} of 180 rows drawn at random" in html


@pytest.mark.parametrize("quick", [False, True])
def test_demo_quick_flag_picks_the_report_settings(tmp_path, monkeypatch, quick):
    import pellucid._terminal
    from pellucid.demo import QUICK_REPORT_SETTINGS, REPORT_SETTINGS

    seen = {}

    def fake_write_report(model, X, y, out, *, console, **options):
        seen.update(options["settings"])
        return out

    monkeypatch.setattr(pellucid._terminal, "write_report", fake_write_report)
    args = ["demo", "--out", str(tmp_path), "--n-rows", "200", *(["--quick"] if quick else [])]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen == (QUICK_REPORT_SETTINGS if quick else REPORT_SETTINGS)


def test_quick_report_settings_only_shrink_known_sizes():
    from pellucid.demo import QUICK_REPORT_SETTINGS, REPORT_SETTINGS
    from pellucid.reporting import DEFAULT_SETTINGS

    full = {**DEFAULT_SETTINGS, **REPORT_SETTINGS}
    assert set(QUICK_REPORT_SETTINGS) <= set(DEFAULT_SETTINGS)
    for key, value in QUICK_REPORT_SETTINGS.items():
        assert 0 < value <= full[key], key
    assert any(value < full[key] for key, value in QUICK_REPORT_SETTINGS.items())
