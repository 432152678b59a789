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

pellucid runs twice: with its default ``model_threads`` (threads calling the model,
one per core, the thread that ends a row's last call solving it) and with
``model_threads=1`` (one thread, like shap); both give the same numbers. The methods run in a
different order for each seed; time ratios are medians of per-seed ratios.

Before the runs it prints XGBoost's own speed-up from one thread to two on this
host at that moment: both libraries spend ~90% of their time in the model, so that
bounds what pellucid's threads can gain over single-threaded shap. With each seed
it also times the model alone predicting the same number of hybrid rows (random
coalitions, ``budget x 50`` per explained row) on two threads, in calls of 16,384
rows: no method that makes those model calls on two threads can take less time, so
its ratio to shap's time is the floor for ours on this host at that moment.

Two more modes (``--mode``), each over three models (``--models``): the XGBoost
regressor above, a plain Python function around it (``callable``: pellucid cannot
know it is thread-safe, so it calls it from one thread), and scikit-learn's
HistGradientBoostingRegressor fitted to the same data (``sklearn``). The exact
values there come from ``pellucid.ExactShap`` (all 65,536 coalitions).

* ``time-to-accuracy``: shap.KernelExplainer (``l1_reg=False``) at 4096 coalitions
  gives an error (mean over seeds and rows); a sweep over pellucid's budgets finds
  the smallest whose mean error is at most that; then both are timed, alternately,
  ``--repeats`` times, and the median of the per-pair wall ratios is printed.
* ``overhead``: at equal budgets, pellucid at its default ``model_threads``; every batch
  each library sends to the model is recorded and, right after the run, replayed
  to the model alone, in the same calls, on as many threads as the library used
  (shap: one); overhead is wall time minus that, and process CPU time minus the
  replay's (less sensitive to a loaded host; it counts work that pellucid overlaps
  with the model calls on a second core). Ratios are medians of per-pair ratios,
  alternating order.

Run: PYTHONPATH=src python benchmarks/kernelshap.py [--rows 8] [--seeds 3] [--budgets 256 1024]
     PYTHONPATH=src python benchmarks/kernelshap.py --mode time-to-accuracy --rows 6
     PYTHONPATH=src python benchmarks/kernelshap.py --mode overhead --budgets 1024 4096
"""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial

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


def run_pellucid(model, background, X, budget, seed, model_threads=None):
    ks = pellucid.KernelShap(
        model, background, budget=budget, random_state=seed, model_threads=model_threads
    )
    return ks.explain(X).values


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


MODELS = ("callable", "sklearn", "xgboost")
SWEEP = (16, 24, 32, 48, 64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640, 704, 768)
SWEEP += (896, 1024, 1280, 1536, 2048, 3072, 4096)
SHAP_BUDGET = 4096


def make_models(names):
    """The models by name, with the data they were fitted on (the same for all three)."""
    xgb_model, data = make_problem()
    out = {}
    for name in names:
        if name == "xgboost":
            out[name] = xgb_model
        elif name == "callable":

            def predict(X, _m=xgb_model):  # a plain Python function: pellucid sees a callable
                return _m.predict(X)

            out[name] = predict
        elif name == "sklearn":
            from sklearn.ensemble import HistGradientBoostingRegressor

            y = xgb_model.predict(data)  # same function class, a different fitted model
            out[name] = HistGradientBoostingRegressor(max_iter=200, random_state=0).fit(data, y)
        else:
            raise SystemExit(f"unknown model {name!r}; choose from {MODELS}")
    return out, data


def predict_fn(model):
    return model if callable(model) and not hasattr(model, "predict") else model.predict


def exact_values(name, model, background, X, cache_dir):
    """pellucid.ExactShap over all coalitions, cached per model and rows (it is slow)."""
    import hashlib
    import os

    key = hashlib.sha1(np.ascontiguousarray(X).tobytes() + background.tobytes()).hexdigest()[:12]
    truth_name = "xgboost" if name == "callable" else name  # the same function
    path = os.path.join(cache_dir, f"kernelshap_exact_{truth_name}_{key}.npy")
    if os.path.exists(path):
        return np.load(path)
    t0 = time.perf_counter()
    values = pellucid.ExactShap(model, background).explain(X).values
    print(
        f"  ExactShap ({truth_name}, {len(X)} rows): {time.perf_counter() - t0:.1f} s", flush=True
    )
    os.makedirs(cache_dir, exist_ok=True)
    np.save(path, values)
    return values


def run_shap_fn(model, background, X, budget, seed):
    import shap

    np.random.seed(seed)  # noqa: NPY002 -- shap draws from numpy's global generator
    explainer = shap.KernelExplainer(predict_fn(model), background)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(explainer.shap_values(X, nsamples=budget, l1_reg=False, silent=True))


def paired_times(first, second, repeats):
    """Wall times of two callables, alternating which runs first."""
    t_a, t_b = [], []
    for r in range(repeats):
        order = [(first, t_a), (second, t_b)]
        for fn, acc in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return np.array(t_a), np.array(t_b)


def problem(args):
    """The models, 50 background rows and ``args.rows`` rows to explain, drawn with seed 1."""
    models, data = make_models(args.models)
    rng = np.random.default_rng(1)
    background = data[rng.choice(len(data), 50, replace=False)]
    X = data[rng.choice(len(data), args.rows, replace=False)]
    return models, background, X


def time_to_accuracy(args) -> None:
    models, background, X = problem(args)
    print(
        f"time to shap's accuracy at {SHAP_BUDGET}: {args.rows} rows, 16 features, "
        f"50 background rows, errors over {args.seeds} seeds, {args.repeats} timed pairs",
        flush=True,
    )
    for name, model in models.items():
        truth = exact_values(name, model, background, X, args.cache)
        shap_err = np.mean(
            [
                rel_sq_error(run_shap_fn(model, background, X, SHAP_BUDGET, s), truth)
                for s in range(args.seeds)
            ]
        )
        found = None
        for budget in SWEEP:
            err = np.mean(
                [
                    rel_sq_error(run_pellucid(model, background, X, budget, s), truth)
                    for s in range(args.seeds)
                ]
            )
            print(
                f"  {name}: pellucid budget {budget:>5}: error {err:.3e} (shap at {SHAP_BUDGET}: {shap_err:.3e})",
                flush=True,
            )
            if err <= shap_err:
                found = budget
                break
        if found is None:
            print(f"{name}: no pellucid budget up to {SWEEP[-1]} reaches shap's error")
            continue
        run_pellucid(model, background, X[:1], 64, 0)  # warm-up: numba's cache load
        ours, theirs = paired_times(
            partial(run_pellucid, model, background, X, found, 0),
            partial(run_shap_fn, model, background, X, SHAP_BUDGET, 0),
            args.repeats,
        )
        ratios = ours / theirs
        print(
            f"{name}: pellucid budget {found} reaches shap's error at {SHAP_BUDGET}; wall "
            f"ours {np.median(ours):.3f} s, shap {np.median(theirs):.3f} s; ratio median "
            f"{np.median(ratios):.3f} (per pair {np.round(ratios, 3).tolist()})",
            flush=True,
        )


class _Recorded:
    """A model whose predict keeps a copy of every batch it is asked for (appends only)."""

    def __init__(self, model):
        self.model, self.calls = model, []
        self.inner = predict_fn(model)

    def __call__(self, X, *args, **kwargs):
        self.calls.append((np.array(X, copy=True), args, kwargs))
        return self.inner(X, *args, **kwargs)

    def __enter__(self):
        self.calls.clear()
        if self.inner is not self.model:
            self.model.predict = self  # instance attribute: pellucid still sees the library
        return self.model if self.inner is not self.model else self

    def __exit__(self, *exc):
        if self.inner is not self.model:
            del self.model.predict

    def replay(self, threads: int) -> float:
        """Seconds the model alone takes on the recorded calls, on ``threads`` threads."""
        from concurrent.futures import ThreadPoolExecutor

        inner = predict_fn(self.model)
        t0, c0 = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda c: inner(c[0], *c[1], **c[2]), self.calls))
        return time.perf_counter() - t0, time.process_time() - c0


def overhead_runs(model, background, X, budget, repeats):
    """Per library: wall times, the model alone on the same calls (as many threads as
    the library used), model rows and calls of one run."""
    res: dict = {lib: ([], [], [], [], 0, 0) for lib in ("pellucid", "shap")}
    rec = _Recorded(model)
    with rec as m:  # warm-up, untimed: numba's cache load and first-call costs
        threads = pellucid.KernelShap(m, background).game.threads()
        pellucid.KernelShap(m, background, budget=64, random_state=0).explain(X[:1])
        run_shap_fn(m, background, X[:1], 64, 0)
    for r in range(repeats):
        for lib in ("pellucid", "shap") if r % 2 == 0 else ("shap", "pellucid"):
            with rec as m:
                t0, c0 = time.perf_counter(), time.process_time()
                if lib == "pellucid":
                    pellucid.KernelShap(m, background, budget=budget, random_state=r).explain(X)
                else:
                    run_shap_fn(m, background, X, budget, r)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            alone, alone_cpu = rec.replay(threads if lib == "pellucid" else 1)
            walls, inside, cpus, inside_cpu, _, _ = res[lib]
            walls.append(wall)
            inside.append(alone)
            cpus.append(cpu)
            inside_cpu.append(alone_cpu)
            res[lib] = (*res[lib][:4], sum(len(c[0]) for c in rec.calls), len(rec.calls))
    return res, threads


def overhead(args) -> None:
    models, background, X = problem(args)
    print(
        f"overhead beyond the model at equal budget: {args.rows} rows, 16 features, 50 "
        f"background rows, pellucid at its default model_threads, {args.repeats} pairs; 'model "
        "alone': the same calls replayed right after, on as many threads",
        flush=True,
    )
    print(
        f"{'model':<9} {'budget':>6} {'lib':<9} {'wall':>8} {'model':>8} {'overhead':>9} "
        f"{'cpu':>8} {'model':>8} {'overhead':>9} {'rows':>9} {'calls':>6}"
    )
    for name, model in models.items():
        for budget in args.budgets:
            res, threads = overhead_runs(model, background, X, budget, args.repeats)
            over, over_cpu = {}, {}
            for lib, (walls, inside, cpus, inside_cpu, nrows, ncalls) in res.items():
                w, i = np.array(walls), np.array(inside)
                c, ic = np.array(cpus), np.array(inside_cpu)
                over[lib], over_cpu[lib] = w - i, c - ic
                print(
                    f"{name:<9} {budget:>6} {lib:<9} {np.median(w):>8.3f} {np.median(i):>8.3f} "
                    f"{np.median(w - i):>9.3f} {np.median(c):>8.3f} {np.median(ic):>8.3f} "
                    f"{np.median(c - ic):>9.3f} {nrows:>9} {ncalls:>6}",
                    flush=True,
                )
            for unit, o in (("wall", over), ("CPU", over_cpu)):
                ratios = o["pellucid"] / o["shap"]
                print(
                    f"{name:<9} {budget:>6} {unit} overhead ours / shap's (pellucid on {threads} "
                    f"model thread(s)): median {np.median(ratios):.3f} (per pair "
                    f"{np.round(ratios, 3).tolist()})",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mode", choices=("equal-budget", "time-to-accuracy", "overhead"), default="equal-budget"
    )
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--cache", default="/tmp/pellucid_benchmark_cache", help="where ExactShap's values are kept"
    )
    parser.add_argument("--budgets", type=int, nargs="*", default=list(BUDGETS))
    args = parser.parse_args()
    if args.mode == "time-to-accuracy":
        return time_to_accuracy(args)
    if args.mode == "overhead":
        return overhead(args)

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
        "pellucid KernelShap model_threads=1": lambda b, s: run_pellucid(
            model, background, X, b, s, 1
        ),
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
    print(f"pellucid's default model_threads here: {available_cores()} threads")
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
            f"{time_ratio('pellucid KernelShap'):.2f}x at the default model_threads, "
            f"{time_ratio('pellucid KernelShap model_threads=1'):.2f}x at model_threads=1 "
            f"(CPU time at model_threads=1: {time_ratio('pellucid KernelShap model_threads=1', cpu):.2f}x); "
            f"floor (the model alone on as many rows, 2 threads) / shap's = "
            f"{time_ratio(floor_name):.2f}x"
        )
        for name in ("shapiq KernelSHAP", "shapiq KernelSHAP paired"):
            if name in errs:
                line += f", {name} error / ours = {np.mean(errs[name]) / ours:.2f}x"
        print(line, flush=True)
        per_seed = np.array(times["pellucid KernelShap"]) / np.array(times["shap l1_reg=False"])
        print(
            f"{budget:>6}  per-seed wall ratios (default model_threads): {np.round(per_seed, 3).tolist()}"
        )
        floor = np.array(times[floor_name]) / np.array(times["shap l1_reg=False"])
        print(f"{budget:>6}  per-seed floor ratios: {np.round(floor, 3).tolist()}", flush=True)


if __name__ == "__main__":
    main()
