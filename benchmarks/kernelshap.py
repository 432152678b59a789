"""KernelShap vs shap.KernelExplainer and shapiq's KernelSHAP: error at equal budgets, wall time.

A 16-feature XGBoost regressor with interactions, 50 background rows; the
exact interventional Shapley values come from shap's interventional
TreeExplainer (and are checked against pellucid.ExactShap on one row).
Budgets count coalitions per explained row besides the empty and full ones
(shap's ``nsamples``; shapiq's budget, which counts those two, gets two more).
Every method explains the same rows with the same model; the error is the
relative squared error sum((est - exact)^2) / sum(exact^2) per row, averaged
over rows and seeds; the time is the median over seeds of explaining all rows
(wall time, and the process's CPU time, summed over its threads).

pellucid runs twice: with its default ``n_jobs`` (threads calling the model,
one per core, the thread that ends a row's last call solving it) and with
``n_jobs=1`` (one thread, like shap); both give the same numbers. The methods run in a
different order for each seed; time ratios are medians of per-seed ratios.

Before the runs it prints XGBoost's own speed-up from one thread to two on this
host at that moment: both libraries spend ~90% of their time in the model, so that
bounds what pellucid's threads can gain over single-threaded shap. With each seed
it also times the model alone predicting the same number of hybrid rows (random
coalitions, ``budget x 50`` per explained row) on two threads, in calls of 16,384
rows: no method that makes those model calls on two threads can take less time, so
its ratio to shap's time is the floor for ours on this host at that moment.

Run: PYTHONPATH=src python benchmarks/kernelshap.py [--rows 8] [--seeds 3] [--budgets 256 1024]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import pellucid

BUDGETS = (64, 256, 1024, 4096)


def make_problem(n_train: int = 2000, d: int = 16, seed: int = 0):
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train, d))
    X[:, 1] += 0.5 * X[:, 0]  # some dependence between features
    y = (
        X[:, 0]
        + 2 * np.sin(X[:, 1])
        + X[:, 2] * X[:, 3]
        + np.maximum(X[:, 4], X[:, 5]) * X[:, 6]
        + (X[:, 7] > 0) * X[:, 8] * X[:, 9]
        + 0.5 * X[:, 10:].sum(axis=1)
        + 0.1 * rng.normal(size=n_train)
    )
    model = xgb.XGBRegressor(n_estimators=200, max_depth=6, learning_rate=0.1, n_jobs=1)
    model.fit(X, y)
    return model, X


def exact_truth(model, background, X):
    import shap

    tree = shap.TreeExplainer(model, data=background, feature_perturbation="interventional")
    return np.asarray(tree.shap_values(X))


def rel_sq_error(est: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(((est - truth) ** 2).sum(axis=1) / (truth**2).sum(axis=1)))


def run_pellucid(model, background, X, budget, seed, n_jobs=None):
    ks = pellucid.KernelShap(model, background, n_jobs=n_jobs)
    return ks.explain(X, budget=budget, random_state=seed).values


def run_shap(model, background, X, budget, seed, l1_reg):
    import shap

    np.random.seed(seed)  # noqa: NPY002 -- shap's KernelExplainer draws from numpy's global generator
    explainer = shap.KernelExplainer(model.predict, background)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(explainer.shap_values(X, nsamples=budget, l1_reg=l1_reg, silent=True))


def run_shapiq(model, background, X, budget, seed, pairing):
    from shapiq.approximator import KernelSHAP

    d = X.shape[1]
    out = np.empty(X.shape)
    for r, x in enumerate(X):

        def game(coalitions, x=x):
            # interventional value: mean over the background of f(x_S, z_-S)
            m = coalitions.shape[0]
            hybrid = np.where(coalitions[:, None, :], x[None, None, :], background[None, :, :])
            return model.predict(hybrid.reshape(-1, d)).reshape(m, -1).mean(axis=1)

        approx = KernelSHAP(n=d, pairing_trick=pairing, random_state=seed + 1000 * r)
        out[r] = approx.approximate(budget=budget + 2, game=game).get_n_order_values(1)
    return out


def hybrid_rows(background, X, budget, seed=0):
    """``budget x len(background)`` hybrid rows per explained row, coalition sizes uniform."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    out = []
    for x in X:
        sizes = rng.integers(1, d, size=(budget, len(background), 1))
        masks = rng.random((budget, len(background), d)).argsort(axis=2) < sizes
        out.append(np.where(masks, x, background[None]).reshape(-1, d))
    return np.concatenate(out)


def model_alone(model, rows, threads: int = 2, call_rows: int = 16_384) -> float:
    """Seconds the model takes to predict ``rows`` in calls of ``call_rows`` on ``threads``."""
    from concurrent.futures import ThreadPoolExecutor

    chunks = [rows[i : i + call_rows] for i in range(0, len(rows), call_rows)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(model.predict, chunks))
    return time.perf_counter() - t0


def host_scaling(model, data, repeats: int = 3) -> list[float]:
    """XGBoost's own speed-up from one thread to two on the same 102,400 rows (8 calls
    of 12,800, as pellucid makes them): how much this host gives a second thread now."""
    rows = data[np.random.default_rng(2).integers(0, len(data), 8 * 12_800)]
    return [
        model_alone(model, rows, 1, 12_800) / model_alone(model, rows, 2, 12_800)
        for _ in range(repeats)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budgets", type=int, nargs="*", default=list(BUDGETS))
    args = parser.parse_args()

    model, data = make_problem()
    rng = np.random.default_rng(1)
    background = data[rng.choice(len(data), 50, replace=False)]
    X = data[rng.choice(len(data), args.rows, replace=False)]
    truth = exact_truth(model, background, X)
    check = pellucid.ExactShap(model, background).explain(X[:1]).values
    print(
        f"ExactShap vs interventional TreeSHAP, max |diff| on one row: {np.abs(check - truth[:1]).max():.2e}"
    )

    methods = {
        "pellucid KernelShap": lambda b, s: run_pellucid(model, background, X, b, s),
        "pellucid KernelShap n_jobs=1": lambda b, s: run_pellucid(model, background, X, b, s, 1),
        "shap l1_reg=False": lambda b, s: run_shap(model, background, X, b, s, False),
        "shap default": lambda b, s: run_shap(model, background, X, b, s, "auto"),
    }
    try:
        import shapiq  # noqa: F401

        methods["shapiq KernelSHAP"] = lambda b, s: run_shapiq(model, background, X, b, s, False)
        methods["shapiq KernelSHAP paired"] = lambda b, s: run_shapiq(
            model, background, X, b, s, True
        )
    except ImportError:
        print("shapiq not installed: skipped")

    from pellucid.shapley._game import available_cores

    speedups = host_scaling(model, data)
    print(f"XGBoost predict, 2 threads vs 1 on this host now: {np.round(speedups, 2).tolist()}x")

    print(f"\n{args.rows} rows, 16 features, 50 background rows, {args.seeds} seeds")
    print(f"pellucid's default n_jobs here: {available_cores()} threads")
    floor_name = "model alone, 2 threads"
    header = f"{'budget':>6}  {'method':<28} {'rel. sq. error':>14} {'wall (s)':>9} {'cpu (s)':>8}"
    print(header, flush=True)
    for budget in args.budgets:
        errs: dict[str, list[float]] = {name: [] for name in methods}
        times: dict[str, list[float]] = {name: [] for name in methods}
        cpu: dict[str, list[float]] = {name: [] for name in methods}
        rows = hybrid_rows(background, X, budget)
        timed = {**methods, floor_name: lambda b, s, rows=rows: model_alone(model, rows)}
        times[floor_name], cpu[floor_name] = [], []
        # Seeds outside, methods inside: the machine's load drifts, so time ratios are
        # taken per seed, between runs made back to back, in alternating order.
        for seed in range(args.seeds):
            order = list(timed) if seed % 2 == 0 else list(timed)[::-1]
            for name in order:
                t0, c0 = time.perf_counter(), time.process_time()
                est = timed[name](budget, seed)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
                if name in errs:
                    errs[name].append(rel_sq_error(est, truth))
        print(
            f"{budget:>6}  {floor_name:<28} {'':>14} "
            f"{np.median(times[floor_name]):>9.3f} {np.median(cpu[floor_name]):>8.3f}"
        )
        for name in methods:
            print(
                f"{budget:>6}  {name:<28} {np.mean(errs[name]):>14.3e} "
                f"{np.median(times[name]):>9.3f} {np.median(cpu[name]):>8.3f}"
            )

        def time_ratio(name: str, times=times, ref: str = "shap l1_reg=False") -> float:
            return float(np.median(np.array(times[name]) / np.array(times[ref])))

        ours = np.mean(errs["pellucid KernelShap"])
        line = (
            f"{budget:>6}  ratios: shap(l1_reg=False) error / ours = "
            f"{np.mean(errs['shap l1_reg=False']) / ours:.2f}x, our wall time / shap's = "
            f"{time_ratio('pellucid KernelShap'):.2f}x at the default n_jobs, "
            f"{time_ratio('pellucid KernelShap n_jobs=1'):.2f}x at n_jobs=1 "
            f"(CPU time at n_jobs=1: {time_ratio('pellucid KernelShap n_jobs=1', cpu):.2f}x); "
            f"floor (the model alone on as many rows, 2 threads) / shap's = "
            f"{time_ratio(floor_name):.2f}x"
        )
        for name in ("shapiq KernelSHAP", "shapiq KernelSHAP paired"):
            if name in errs:
                line += f", {name} error / ours = {np.mean(errs[name]) / ours:.2f}x"
        print(line, flush=True)
        per_seed = np.array(times["pellucid KernelShap"]) / np.array(times["shap l1_reg=False"])
        print(
            f"{budget:>6}  per-seed wall ratios (default n_jobs): {np.round(per_seed, 3).tolist()}"
        )
        floor = np.array(times[floor_name]) / np.array(times["shap l1_reg=False"])
        print(f"{budget:>6}  per-seed floor ratios: {np.round(floor, 3).tolist()}", flush=True)


if __name__ == "__main__":
    main()
