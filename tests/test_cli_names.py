"""One name per idea on the command line, and the old spellings kept for one release.

``--random-state`` (old ``--seed``), ``--rows 0,5,9`` positions and ``--first N`` a count
(old ``trust --rows N``), ``--subgroup`` (old ``--group``), ``--feature-group`` (old
``importance --group``), a repeatable ``--method`` (old ``report --methods a,b``), and
``effects``' grid as large as Python's by default. An old spelling gives the same answer
as the new one plus one ``note:`` line on stderr naming the new spelling.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from typer.testing import CliRunner

from pellucid import partial_dependence
from pellucid._io import save_model
from pellucid._registry import available
from pellucid.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    X["g"] = (rng.random(120) < 0.5).astype(float)
    y_reg = 3 * X["a"] - X["b"] + X["g"]
    y_bin = (X["a"] + 0.5 * rng.normal(size=120) > 0).astype(int)
    folder = tmp_path_factory.mktemp("names")
    save_model(LinearRegression().fit(X, y_reg), folder / "reg.skops")
    save_model(LogisticRegression().fit(X, y_bin), folder / "clf.skops")
    save_model(LogisticRegression(C=0.01).fit(X, y_bin), folder / "clf2.skops")
    X.assign(target=y_reg).to_csv(folder / "reg.csv", index=False)
    X.assign(target=y_bin).to_csv(folder / "clf.csv", index=False)
    return folder, X


def _run(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args])


def _one_note(result: object, new_flag: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("note: "), result.stderr  # type: ignore[attr-defined]
    assert "deprecated" in lines[0] and new_flag in lines[0], lines[0]


def _same_output_new_and_old(new: list[object], old: list[object], new_flag: str) -> str:
    now, before = _run(*new), _run(*old)
    assert now.exit_code == 0, now.output
    assert before.exit_code == 0, before.output
    assert now.stderr.strip() == ""
    _one_note(before, new_flag)
    assert before.stdout == now.stdout
    return now.stdout


def test_evaluate_subgroup_and_its_old_spelling(d):
    folder, _ = d
    base = ["evaluate", folder / "clf.skops", folder / "clf.csv", "--target", "target", "--json"]
    out = _same_output_new_and_old(
        [*base, "--subgroup", "g"], [*base, "--group", "g"], "--subgroup"
    )
    assert set(json.loads(out)["by_group"]) == {"0.0", "1.0"}


def test_compare_random_state_and_subgroup_and_their_old_spellings(d):
    folder, _ = d
    base = ["compare", folder / "clf.skops", folder / "clf2.skops", folder / "clf.csv"]
    base += ["--target", "target", "--n-boot", "100", "--json"]
    new = [*base, "--random-state", "3", "--subgroup", "g"]
    now = _run(*new)
    assert now.exit_code == 0, now.output
    for old in (["--seed", "3", "--subgroup", "g"], ["--random-state", "3", "--group", "g"]):
        before = _run(*base, *old)
        assert before.exit_code == 0, before.output
        _one_note(before, "--random-state" if "--seed" in old else "--subgroup")
        assert before.stdout == now.stdout
    other_seed = _run(*base, "--random-state", "4", "--subgroup", "g")
    assert other_seed.stdout != now.stdout  # the seed is used, so the check above can fail


def test_importance_feature_group_and_its_old_spelling(d):
    folder, _ = d
    base = ["importance", folder / "reg.skops", folder / "reg.csv", "--target", "target"]
    base += ["--n-repeats", "2", "--json"]
    out = _same_output_new_and_old(
        [*base, "--feature-group", "ab=a,b"], [*base, "--group", "ab=a,b"], "--feature-group"
    )
    assert json.loads(out)["feature_names"] == ["ab"]


def test_trust_first_rows_positions_and_the_old_count(d):
    if "exact_shap" not in available():
        pytest.skip("needs ExactShap")
    folder, _ = d
    base = ["trust", folder / "reg.skops", folder / "reg.csv", "--target", "target"]
    base += ["--method", "exact_shap", "--background-size", "20", "--json"]
    first = _same_output_new_and_old([*base, "--first", "5"], [*base, "--rows", "5"], "--first 5")
    positions = _run(*base, "--rows", "0,1,2,3,4")
    assert positions.exit_code == 0 and positions.stdout == first
    elsewhere = _run(*base, "--rows", "7,30,31,60,99")
    assert elsewhere.exit_code == 0 and elsewhere.stdout != first
    # the first 20 rows when neither option is given
    assert _run(*base).stdout == _run(*base, "--first", "20").stdout != first


def test_explain_rows_and_first_pick_the_same_rows(d, tmp_path):
    folder, X = d
    base = ["explain", folder / "reg.skops", folder / "reg.csv", "--target", "target"]
    base += ["--method", "exact_shap"] if "exact_shap" in available() else []
    by_first, by_rows = tmp_path / "first.csv", tmp_path / "rows.csv"
    assert _run(*base, "--first", "3", "--out", by_first).exit_code == 0
    assert _run(*base, "--rows", "0,1,2", "--out", by_rows).exit_code == 0
    first, rows = pd.read_csv(by_first), pd.read_csv(by_rows)
    assert len(first) == 3
    pd.testing.assert_frame_equal(first, rows)
    everything = tmp_path / "all.csv"
    assert _run(*base, "--first", "1000", "--out", everything).exit_code == 0
    assert len(pd.read_csv(everything)) == len(X)  # --first N caps at the data


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--rows", "0,1", "--first", "2"], "not both"),
        (["--first", "0"], "--first must be at least 1"),
        (["--rows", "1,x"], "--rows must be comma-separated row positions"),
        (["--rows", "120"], "out of range"),
    ],
)
def test_row_options_errors_are_one_line(d, tmp_path, extra, named):
    folder, _ = d
    result = _run(
        "explain",
        folder / "reg.skops",
        folder / "reg.csv",
        "--out",
        tmp_path / "v.csv",
        "--target",
        "target",
        *extra,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and named in lines[0], result.stderr


def test_new_and_old_spellings_that_disagree_are_an_error(d, tmp_path):
    folder, _ = d
    base = ["report", folder / "reg.skops", folder / "reg.csv", "--out", tmp_path / "r.html"]
    cases = {
        "--random-state": ["--random-state", "1", "--seed", "2"],
        "--subgroup": ["--subgroup", "g", "--group", "a"],
        "--method": ["--method", "exact_shap", "--methods", "kernel_shap"],
    }
    for flag, extra in cases.items():
        result = _run(*base, *extra)
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines()[-1].startswith("error: ")
        assert f"give {flag} only" in result.stderr, result.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_passes_the_new_and_the_old_spellings_alike(d, tmp_path, monkeypatch):
    """The report's options reach its compute step the same way under either spelling
    (compute is replaced: the report itself is tested in test_cli_report.py)."""
    folder, _ = d
    seen: list[dict[str, object]] = []

    def fake_write_report(fitted, X, y, out, *, console, **options):
        seen.append(options)
        return out

    monkeypatch.setattr("pellucid._terminal.write_report", fake_write_report)
    base = ["report", folder / "reg.skops", folder / "reg.csv", "--target", "target"]
    base += ["--out", tmp_path / "r.html"]
    new = ["--random-state", "7", "--subgroup", "g", "--method", "a_m", "--method", "b_m"]
    old = ["--seed", "7", "--group", "g", "--methods", "a_m,b_m"]
    for extra in (new, old, [*new[:4], "--rows", "0,1,2"], [*new[:4], "--first", "3"]):
        result = _run(*base, *extra)
        assert result.exit_code == 0, result.output
    assert seen[0] == seen[1]
    assert seen[0]["random_state"] == 7 and seen[0]["methods"] == ["a_m", "b_m"]
    assert seen[0]["rows"] is None
    assert seen[2]["rows"] == seen[3]["rows"] == [0, 1, 2]
    assert seen[2]["methods"] == "auto"
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 0


def test_effects_grid_defaults_to_pythons(d):
    folder, X = d
    result = _run(
        "effects",
        folder / "reg.skops",
        folder / "reg.csv",
        "--target",
        "target",
        "--feature",
        "a",
        "--json",
    )
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    from pellucid._io import load_model

    expected = json.loads(partial_dependence(load_model(folder / "reg.skops"), X, "a").to_json())
    assert got["params"]["grid_resolution"] == expected["params"]["grid_resolution"] == 100
    assert got["grid_values"] == expected["grid_values"]
    assert len(got["grid_values"][0]["__ndarray__"]) > 20  # more points than the old default
    np.testing.assert_allclose(
        got["average"]["__ndarray__"], expected["average"]["__ndarray__"], rtol=1e-12
    )
    small = _run(
        "effects",
        folder / "reg.skops",
        folder / "reg.csv",
        "--target",
        "target",
        "--feature",
        "a",
        "--json",
        "--grid-resolution",
        "5",
    )
    assert len(json.loads(small.stdout)["grid_values"][0]["__ndarray__"]) == 5


def test_method_choices_come_from_the_registry(d, tmp_path):
    folder, _ = d
    result = _run(
        "explain",
        folder / "reg.skops",
        folder / "reg.csv",
        "--out",
        tmp_path / "v.csv",
        "--method",
        "no_such_method",
    )
    assert result.exit_code == 2
    for name in available(kind="attribution") + available(kind="rule"):
        assert name in result.stderr
    trust = _run("trust", folder / "reg.skops", folder / "reg.csv", "--method", "no_such")
    for name in available(kind="attribution", inputs="tabular"):
        assert name in trust.stderr


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from pellucid.cli import app\n"
        "heavy = ('numpy', 'pandas', 'sklearn', 'matplotlib', 'numba', 'torch', 'dask')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
