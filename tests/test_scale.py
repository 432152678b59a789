"""Same numbers locally, with n_jobs=2, on Dask collections and on a LocalCluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

import pellucid
from pellucid import Explanation

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 5)), columns=list("abcde"))
    y = X["a"] * 2 + X["b"] * X["c"] + rng.normal(scale=0.1, size=len(X))
    reg = GradientBoostingRegressor(n_estimators=25, max_depth=3, random_state=0).fit(X, y)
    clf = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y > 0)
    return X, y, reg, clf


def _explainers(problem):
    X, _, reg, clf = problem
    background = X.iloc[:20]
    return {
        "tree_shap": pellucid.TreeShap(reg),
        "kernel_shap": pellucid.KernelShap(reg, background, budget=64, random_state=3),
        "permutation_shap": pellucid.PermutationShap(clf, background, random_state=3),
        "lime": pellucid.Lime(clf, X, num_samples=300, random_state=3),
    }


def assert_same(a: Explanation, b: Explanation) -> None:
    np.testing.assert_array_equal(a.values, b.values)
    for name in ("base_values", "std_errors", "output"):
        left, right = getattr(a, name), getattr(b, name)
        assert (left is None) == (right is None), name
        if left is not None:
            np.testing.assert_array_equal(left, right)
    assert a.feature_names == b.feature_names and a.output_names == b.output_names
    assert set(a.diagnostics) == set(b.diagnostics)


@pytest.mark.parametrize("name", ["tree_shap", "kernel_shap", "permutation_shap", "lime"])
def test_n_jobs_and_chunks_give_identical_values(problem, name):
    X = problem[0].iloc[:24]
    explainer = _explainers(problem)[name]
    local = explainer.with_settings(n_jobs=1).explain(X)
    parallel = explainer.with_settings(n_jobs=2, chunk_rows=5).explain(X)
    assert_same(local, parallel)


@pytest.mark.parametrize("name", ["tree_shap", "kernel_shap", "lime"])
def test_dask_dataframe_gives_lazy_explanation(problem, name):
    X = problem[0].iloc[:24]
    explainer = _explainers(problem)[name]
    local = explainer.with_settings(n_jobs=1).explain(X)
    lazy = explainer.explain(dd.from_pandas(X, npartitions=3))
    assert lazy.is_lazy and lazy.values.shape == local.values.shape
    with dask.config.set(scheduler="synchronous"):
        assert_same(lazy.compute(), local)


def test_dask_array_input(problem):
    X = problem[0].to_numpy()[:30]
    reg = problem[2]

    def model(rows):  # a plain callable on arrays
        return reg.predict(pd.DataFrame(rows, columns=list("abcde")))

    explainer = pellucid.KernelShap(model, X[:20], budget=64, random_state=3)
    local = explainer.with_settings(n_jobs=1).explain(X)
    lazy = explainer.explain(da.from_array(X, chunks=(7, 2)))
    with dask.config.set(scheduler="threads"):
        assert_same(lazy.compute(), local)


def test_random_state_none_is_still_consistent_across_chunks(problem):
    X = problem[0].iloc[:12]
    explainer = _explainers(problem)["kernel_shap"]
    exp = explainer.with_settings(random_state=None, n_jobs=2, chunk_rows=4).explain(X)
    # One seed drawn before the fan-out: efficiency holds and rows differ (not one seed per chunk).
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-10)


def test_bad_n_jobs(problem):
    X, _, reg, _ = problem
    with pytest.raises(ValueError, match="n_jobs"):
        pellucid.KernelShap(reg, X.iloc[:20], n_jobs=0, model_threads=1)
    with pytest.raises(ValueError, match="chunk_rows"):
        pellucid.Lime(reg, X, chunk_rows=0)


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: never "8787 already in use" warnings
        silence_logs=50,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_local_cluster_equals_local(problem, cluster_client):
    from joblib import parallel_config

    X, y, reg, _ = problem
    rows = X.iloc[:24]
    for explainer in _explainers(problem).values():
        local = explainer.with_settings(n_jobs=1).explain(rows)
        on_cluster = explainer.explain(dd.from_pandas(rows, npartitions=4)).compute()
        assert_same(on_cluster, local)
        with parallel_config(backend="dask"):
            via_joblib = explainer.with_settings(n_jobs=2, chunk_rows=6).explain(rows)
        assert_same(via_joblib, local)
    pi_local = pellucid.permutation_importance(reg, X, y, n_repeats=4, random_state=0, n_jobs=1)
    with parallel_config(backend="dask"):
        pi_cluster = pellucid.permutation_importance(
            reg, X, y, n_repeats=4, random_state=0, n_jobs=2
        )
    np.testing.assert_array_equal(pi_cluster.importances, pi_local.importances)


def test_killed_worker_is_survived(problem, cluster_client):
    """A worker dies mid-run: its partitions are recomputed; no row lost or duplicated."""
    import os
    import signal
    import time

    X = problem[0]
    # budget 1024: seconds of work, so the kill lands mid-run
    explainer = _explainers(problem)["kernel_shap"].with_settings(budget=1024)
    local = explainer.with_settings(n_jobs=1).explain(X)
    lazy = explainer.explain(dd.from_pandas(X, npartitions=12))
    future = cluster_client.compute(lazy.values)
    victim = next(iter(cluster_client.scheduler_info()["workers"]))
    pid = cluster_client.run(os.getpid, workers=[victim])[victim]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until work is running, then kill one worker
        if any(cluster_client.processing().values()):
            break
        time.sleep(0.05)
    assert not future.done()
    os.kill(pid, signal.SIGKILL)
    values = future.result(timeout=240)
    assert values.shape == local.values.shape
    np.testing.assert_array_equal(values, local.values)
