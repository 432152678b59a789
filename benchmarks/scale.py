"""Rows per second against workers, and workers' memory high-water mark.

TreeShap on a 500-tree HistGradientBoosting model (depth 7) over rows generated
lazily as a dask array on the workers (``--partition-rows`` per partition, so a
worker never holds more than a few partitions), and KernelShap on a subset of
rows. Each is timed on a ``distributed.LocalCluster`` with 1 and with 2 workers
(one thread each, numba held to one thread per worker), and in memory with
``n_jobs=1`` and ``n_jobs=2``. Medians of ``--repeats`` runs.

    PYTHONPATH=src python benchmarks/scale.py --tree-rows 1000000 --kernel-rows 10000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import numpy as np

N_FEATURES = 10


def peak_rss_mib() -> float:
    """This process's resident-set high-water mark (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_model(n_trees: int, depth: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5_000, N_FEATURES))
    y = X[:, 0] * 2 + X[:, 1] * X[:, 2] + np.sin(X[:, 3]) + rng.normal(scale=0.1, size=len(X))
    model = HistGradientBoostingRegressor(
        max_iter=n_trees, max_depth=depth, max_leaf_nodes=64, early_stopping=False, random_state=0
    )
    return model.fit(X, y), X[:100]


def lazy_rows(n_rows: int, partition_rows: int):
    import dask.array as da

    return da.random.default_rng(1).normal(size=(n_rows, N_FEATURES), chunks=(partition_rows, -1))


def time_cluster(explainer, X, n_workers: int, repeats: int) -> tuple[list[float], float]:
    """Wall seconds of each run and the largest worker peak RSS (MiB) on a fresh cluster."""
    from distributed import Client, LocalCluster

    env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=50,
            env=env,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: explainer.explain(np.zeros((2, N_FEATURES))))  # compile
        times = []
        for _ in range(repeats):
            lazy = explainer.explain(X)
            start = time.perf_counter()
            # Reduce on the workers: the client never holds the full values.
            lazy.values.sum(axis=0).compute()
            times.append(time.perf_counter() - start)
        peaks = client.run(peak_rss_mib)
    return times, max(peaks.values())


def time_local(explainer, X, n_jobs: int, repeats: int) -> list[float]:
    explainer.with_settings(n_jobs=1).explain(X[:2])  # compile
    fanned = explainer.with_settings(n_jobs=n_jobs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fanned.explain(X)
        times.append(time.perf_counter() - start)
    return times


def report(name: str, n_rows: int, results: dict[str, list[float]], peaks: dict[str, float]):
    rate = {k: n_rows / statistics.median(v) for k, v in results.items()}
    for k, v in results.items():
        extra = f", worker peak RSS {peaks[k]:.0f} MiB" if k in peaks else ""
        runs = ", ".join(f"{t:.1f}" for t in v)
        print(
            f"{name} {k}: {rate[k]:,.0f} rows/s (median of [{runs}] s for {n_rows:,} rows{extra})"
        )
    if "1 worker" in rate and "2 workers" in rate:
        print(f"{name} 2-worker / 1-worker throughput: {rate['2 workers'] / rate['1 worker']:.2f}x")
    if "n_jobs=1" in rate and "n_jobs=2" in rate:
        print(f"{name} n_jobs=2 / n_jobs=1 throughput: {rate['n_jobs=2'] / rate['n_jobs=1']:.2f}x")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree-rows", type=int, default=1_000_000)
    parser.add_argument("--kernel-rows", type=int, default=10_000, help="0: skip KernelShap")
    parser.add_argument(
        "--local-rows", type=int, default=20_000, help="TreeShap n_jobs rows (0: skip)"
    )
    parser.add_argument("--partition-rows", type=int, default=50_000)
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--depth", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import pellucid

    print(f"load average {os.getloadavg()}, {os.cpu_count()} cores")
    model, background = make_model(args.trees, args.depth)
    tree = pellucid.TreeShap(model)
    X = lazy_rows(args.tree_rows, args.partition_rows)
    results, peaks = {}, {}
    for workers in (1, 2):
        key = "1 worker" if workers == 1 else "2 workers"
        results[key], peaks[key] = time_cluster(tree, X, workers, args.repeats)
    report("TreeShap (LocalCluster)", args.tree_rows, results, peaks)
    mib = args.partition_rows * N_FEATURES * 8 * 2 / 2**20
    print(f"one partition of rows + values: {mib:.0f} MiB")

    if args.local_rows:
        local_X = np.random.default_rng(2).normal(size=(args.local_rows, N_FEATURES))
        local = {f"n_jobs={j}": time_local(tree, local_X, j, args.repeats) for j in (1, 2)}
        report("TreeShap (in memory)", args.local_rows, local, {})
    if args.kernel_rows:
        kernel_runs(model, background, args)
    print(f"load average {os.getloadavg()}")


def kernel_runs(model, background, args) -> None:
    import pellucid

    kernel = pellucid.KernelShap(model, background[:50], budget=128, random_state=0)
    kX = lazy_rows(args.kernel_rows, max(1, args.kernel_rows // 8))
    kres, kpeaks = {}, {}
    for workers in (1, 2):
        key = "1 worker" if workers == 1 else "2 workers"
        kres[key], kpeaks[key] = time_cluster(kernel, kX, workers, args.repeats)
    report("KernelShap (LocalCluster)", args.kernel_rows, kres, kpeaks)
    kl = np.random.default_rng(3).normal(size=(args.kernel_rows, N_FEATURES))
    klocal = {f"n_jobs={j}": time_local(kernel, kl, j, args.repeats) for j in (1, 2)}
    report("KernelShap (in memory)", args.kernel_rows, klocal, {})


if __name__ == "__main__":
    main()
