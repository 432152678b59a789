"""`--scheduler` and `--n-jobs` on the CLI: a LocalCluster gives the local numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pellucid._io import save_model
from pellucid.cli import app

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")

runner = CliRunner()


@pytest.fixture(scope="module")
def scheduler():
    # Threads, not processes, keep this test fast; test_scale.py covers process workers.
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from sklearn.ensemble import GradientBoostingRegressor

    tmp = tmp_path_factory.mktemp("scale_cli")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(90, 4)), columns=["a", "b", "c", "d"])
    frame["y"] = frame["a"] * 2 + frame["b"] * frame["c"] + rng.normal(scale=0.1, size=90)
    model = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0)
    model.fit(frame.drop(columns="y"), frame["y"])
    save_model(model, tmp / "model.skops")
    frame.to_csv(tmp / "data.csv", index=False)
    return tmp


def _explain(tmp, out, method, *extra):
    args = ["explain", str(tmp / "model.skops"), str(tmp / "data.csv"), "--target", "y"]
    args += ["--method", method, "--background-size", "15", "--budget", "48", "--out", str(out)]
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


@pytest.mark.parametrize("method", ["tree_shap", "kernel_shap"])
def test_explain_on_scheduler_equals_local(files, scheduler, method):
    local = _explain(files, files / f"{method}_local.parquet", method, "--n-jobs", "1")
    parallel = _explain(files, files / f"{method}_jobs.parquet", method, "--n-jobs", "2")
    remote = _explain(files, files / f"{method}_dask.parquet", method, "--scheduler", scheduler)
    assert len(local) == 90 and list(local.columns[-4:]) == ["a", "b", "c", "d"]
    pd.testing.assert_frame_equal(parallel, local)
    pd.testing.assert_frame_equal(remote, local)


def test_importance_on_scheduler_equals_local(files, scheduler):
    base = ["importance", str(files / "model.skops"), str(files / "data.csv"), "--target", "y"]
    base += ["--n-repeats", "3", "--random-state", "4", "--json"]
    local = runner.invoke(app, [*base, "--n-jobs", "1"])
    remote = runner.invoke(app, [*base, "--scheduler", scheduler])
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    want, got = json.loads(local.output), json.loads(remote.output)
    np.testing.assert_array_equal(np.asarray(got["importances"]), np.asarray(want["importances"]))


def test_unreachable_scheduler_is_a_clear_error(files):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = runner.invoke(
            app,
            ["importance", str(files / "model.skops"), str(files / "data.csv"), "--target", "y"]
            + ["--scheduler", "tcp://127.0.0.1:1"],
        )
    assert result.exit_code == 2
    assert "Dask scheduler" in result.output
