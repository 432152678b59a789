# ruff: noqa: B023  (the timed lambdas run immediately, inside their loop iteration)
"""TreeShap against shap's C++, LightGBM, XGBoost 3.2 and XGBoost 3.3+, side by side.

Same model, same rows, same thread count; medians of several runs; prints
wall time, process CPU time, ns per leaf-row and ratios (reference / pellucid).

    PYTHONPATH=src python benchmarks/treeshap.py            # full run
    PYTHONPATH=src python benchmarks/treeshap.py --quick    # smaller, for a smoke test
    PYTHONPATH=src python benchmarks/treeshap.py --cases values   # path-dependent only

XGBoost >= 3.3 needs Python >= 3.12, so it runs in its own virtualenv as a
subprocess on the same saved model and rows. Create it once with

    python3.12 -m venv /work/venvs/xgb33 && /work/venvs/xgb33/bin/pip install 'xgboost>=3.3' numpy

(or pass --xgb33-python PATH). The first-call numba compile time is measured
in a fresh process with an empty cache, then again in a second process that
reuses the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from typing import Any

import numpy as np

XGB33_DEFAULT = "/work/venvs/xgb33/bin/python"


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median wall and process-CPU seconds of ``fn`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X[:, 0] + X[:, 1] * X[:, 2] + np.sin(2 * X[:, 3]) + 0.5 * X[:, 4] ** 2
    return X, y + 0.5 * rng.normal(size=n)


def row(
    label: str, ours: tuple[float, float], ref: tuple[float, float], n_rows: int, leaves: int
) -> dict:
    per = 1e9 / (n_rows * leaves)
    rec = {
        "case": label,
        "pellucid_wall_s": ours[0],
        "ref_wall_s": ref[0],
        "pellucid_ns_leaf_row": ours[0] * per,
        "ref_ns_leaf_row": ref[0] * per,
        "pellucid_cpu_ns_leaf_row": ours[1] * per,
        "ref_cpu_ns_leaf_row": ref[1] * per,
        "ratio_wall": ref[0] / ours[0],
        "ratio_cpu": ref[1] / ours[1],
    }
    print(
        f"{label:48s} pellucid {rec['pellucid_ns_leaf_row']:8.1f} ns  ref {rec['ref_ns_leaf_row']:9.1f} ns"
        f"  (cpu {rec['pellucid_cpu_ns_leaf_row']:7.1f} / {rec['ref_cpu_ns_leaf_row']:8.1f})"
        f"  x{rec['ratio_wall']:6.2f} wall  x{rec['ratio_cpu']:6.2f} cpu",
        flush=True,
    )
    return rec


XGB33_SCRIPT = textwrap.dedent(
    """
    import json, statistics, sys, time
    import numpy as np, xgboost as xgb
    model, rows, threads, repeats, kind = sys.argv[1:6]
    b = xgb.Booster(); b.load_model(model)
    X = np.load(rows)
    out = {"version": xgb.__version__}
    for t in [int(v) for v in threads.split(",")]:
        b.set_param({"nthread": t})
        dm = xgb.DMatrix(X, nthread=t)
        b.predict(dm, pred_contribs=True)
        walls, cpus = [], []
        for _ in range(int(repeats)):
            w0, c0 = time.perf_counter(), time.process_time()
            if kind == "interactions":
                b.predict(dm, pred_interactions=True)
            else:
                b.predict(dm, pred_contribs=True)
            walls.append(time.perf_counter() - w0); cpus.append(time.process_time() - c0)
        out[str(t)] = [statistics.median(walls), statistics.median(cpus)]
        np.save(rows + f".phi{t}.npy", b.predict(dm, pred_contribs=True))
    print(json.dumps(out))
    """
)


def xgb33(
    python: str,
    model_path: str,
    rows_path: str,
    threads: list[int],
    repeats: int,
    kind: str = "values",
) -> dict | None:
    if not os.path.exists(python):
        print(f"XGBoost 3.3+ skipped: {python} not found (see the module docstring).")
        return None
    res = subprocess.run(
        [
            python,
            "-c",
            XGB33_SCRIPT,
            model_path,
            rows_path,
            ",".join(map(str, threads)),
            str(repeats),
            kind,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        print("XGBoost 3.3+ run failed:", res.stderr[-2000:])
        return None
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


COMPILE_SCRIPT = textwrap.dedent(
    """
    import time, numpy as np
    t0 = time.perf_counter()
    from sklearn.ensemble import GradientBoostingRegressor
    from pellucid.tree import TreeShap
    rng = np.random.default_rng(0); X = rng.normal(size=(200, 5)); y = X[:, 0] * X[:, 1]
    m = GradientBoostingRegressor(n_estimators=5, max_depth=3).fit(X, y)
    ts = TreeShap(m)
    t1 = time.perf_counter(); ts.explain(X[:5]); t2 = time.perf_counter()
    ts.explain_interactions(X[:5]); t3 = time.perf_counter()
    TreeShap(m, X[:20]).explain(X[:5]); t4 = time.perf_counter()
    print(t2 - t1, t3 - t2, t4 - t3)
    """
)


def compile_times() -> dict:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        out = {}
        for label in ("cold", "cached"):
            res = subprocess.run(
                [sys.executable, "-c", COMPILE_SCRIPT],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            shap_s, inter_s, interv_s = map(float, res.stdout.split())
            out[label] = {
                "explain_s": shap_s,
                "interactions_s": inter_s,
                "interventional_s": interv_s,
            }
            print(
                f"first call in a {label:6s} process: explain {shap_s:6.2f} s, interactions {inter_s:6.2f} s, interventional {interv_s:6.2f} s",
                flush=True,
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small models and few rows")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--xgb33-python", default=XGB33_DEFAULT)
    ap.add_argument("--json", default=None, help="write the records to this file")
    ap.add_argument(
        "--cases",
        default="values,interactions,interventional,compile",
        help="comma-separated subset of: values, interactions, interventional, compile",
    )
    args = ap.parse_args()

    import lightgbm as lgb
    import numba
    import shap
    import xgboost as xgb
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor

    from pellucid.tree import TreeShap

    threads = [int(t) for t in args.threads.split(",")]
    n_trees, depth = (50, 6) if args.quick else (500, 8)
    n_rows, n_rows_shap = (200, 50) if args.quick else (1000, 100)
    R = args.repeats
    X, y = data(4000, 20)
    rows = X[:n_rows]
    records: list[dict] = []
    print(
        f"pellucid TreeShap benchmark: {n_trees} trees, depth {depth}; xgboost {xgb.__version__}, "
        f"lightgbm {lgb.__version__}, shap {shap.__version__}, numba {numba.__version__}",
        flush=True,
    )

    compile_rec: dict = {}

    def save() -> None:
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"compile": compile_rec, "records": records}, fh, indent=1)

    print("\n== fitting models ==", flush=True)
    xm = xgb.XGBRegressor(
        n_estimators=n_trees, max_depth=depth, tree_method="hist", n_jobs=2, random_state=0
    ).fit(X, y)
    lm = lgb.LGBMRegressor(
        n_estimators=n_trees,
        max_depth=depth,
        num_leaves=2**depth,
        min_child_samples=5,
        verbose=-1,
        n_jobs=2,
        random_state=0,
    ).fit(X, y)
    rf = RandomForestRegressor(n_estimators=n_trees, max_depth=depth, n_jobs=2, random_state=0).fit(
        X, y
    )

    cases = set(args.cases.split(","))
    n_int_trees, int_depth = (20, 5) if args.quick else (100, 6)
    if "values" in cases:
        print("\n== path-dependent SHAP values ==", flush=True)
        models = {"xgboost": xm, "lightgbm": lm, "forest": rf}
        explainers = {k: TreeShap(m) for k, m in models.items()}
        leaves = {k: e.ensemble.n_leaves for k, e in explainers.items()}
        for k, e in explainers.items():
            e.explain(rows[:10])  # build tables, load compiled kernels
            print(
                f"{k}: {e.ensemble.n_trees} trees, {leaves[k]} leaves, max depth {e.ensemble.max_depth}"
            )
        booster = xm.get_booster()
        tmp = tempfile.mkdtemp()
        model_path, rows_path = os.path.join(tmp, "model.json"), os.path.join(tmp, "rows.npy")
        booster.save_model(model_path)
        np.save(rows_path, rows.astype(np.float32))
        ext = xgb33(args.xgb33_python, model_path, rows_path, threads, R)
        sk_rows = rows[:n_rows_shap]
        shap_rf = shap.TreeExplainer(rf)
        for t in threads:
            numba.set_num_threads(t)
            ours_x = timed(lambda: explainers["xgboost"].explain(rows), R)
            booster.set_param({"nthread": t})
            dm = xgb.DMatrix(rows, nthread=t)
            ref = booster.predict(dm, pred_contribs=True)
            got = explainers["xgboost"].explain(rows).values
            assert np.abs(got - ref[:, :-1]).max() < 1e-4, "XGBoost values differ"
            records.append(
                row(
                    f"xgboost {xgb.__version__} pred_contribs, {t} thr",
                    ours_x,
                    timed(lambda: booster.predict(dm, pred_contribs=True), R),
                    n_rows,
                    leaves["xgboost"],
                )
            )
            if ext is not None:
                ref33 = np.load(rows_path + f".phi{t}.npy")
                assert np.abs(got - ref33[:, :-1]).max() < 1e-4, "XGBoost 3.3+ values differ"
                records.append(
                    row(
                        f"xgboost {ext['version']} pred_contribs, {t} thr",
                        ours_x,
                        tuple(ext[str(t)]),
                        n_rows,
                        leaves["xgboost"],
                    )
                )
            ours_l = timed(lambda: explainers["lightgbm"].explain(rows), R)
            ref_l = timed(lambda: lm.booster_.predict(rows, pred_contrib=True, num_threads=t), R)
            records.append(
                row(
                    f"lightgbm {lgb.__version__} pred_contrib, {t} thr",
                    ours_l,
                    ref_l,
                    n_rows,
                    leaves["lightgbm"],
                )
            )
            ours_f = timed(lambda: explainers["forest"].explain(sk_rows), R)
            ref_f = timed(
                lambda: shap_rf.shap_values(sk_rows, check_additivity=False), max(1, R // 2)
            )
            records.append(
                row(
                    f"shap {shap.__version__} C++ (RandomForest; shap 1 thr), {t} thr",
                    ours_f,
                    ref_f,
                    n_rows_shap,
                    leaves["forest"],
                )
            )

    save()
    if "interactions" in cases:
        print("\n== interaction values ==", flush=True)
        rf_i = RandomForestRegressor(
            n_estimators=n_int_trees, max_depth=int_depth, n_jobs=2, random_state=0
        ).fit(X, y)
        xm_i = xgb.XGBRegressor(
            n_estimators=n_int_trees, max_depth=int_depth, n_jobs=2, random_state=0
        ).fit(X, y)
        ti, txi = TreeShap(rf_i), TreeShap(xm_i)
        int_rows = rows[: (20 if args.quick else 50)]
        ti.explain_interactions(int_rows[:2])
        txi.explain_interactions(int_rows[:2])
        shap_i = shap.TreeExplainer(rf_i)
        bi = xm_i.get_booster()
        for t in threads:
            numba.set_num_threads(t)
            records.append(
                row(
                    f"shap C++ interactions (RandomForest), {t} thr",
                    timed(lambda: ti.explain_interactions(int_rows), R),
                    timed(lambda: shap_i.shap_interaction_values(int_rows), 1),
                    len(int_rows),
                    ti.ensemble.n_leaves,
                )
            )
            bi.set_param({"nthread": t})
            dmi = xgb.DMatrix(int_rows, nthread=t)
            records.append(
                row(
                    f"xgboost {xgb.__version__} pred_interactions, {t} thr",
                    timed(lambda: txi.explain_interactions(int_rows), R),
                    timed(lambda: bi.predict(dmi, pred_interactions=True), R),
                    len(int_rows),
                    txi.ensemble.n_leaves,
                )
            )

    save()
    if "interventional" in cases:
        print("\n== interventional (100 background rows) ==", flush=True)
        Xc, yc = X, (y > np.median(y)).astype(int)
        gb = GradientBoostingClassifier(
            n_estimators=n_int_trees, max_depth=int_depth, random_state=0
        ).fit(Xc, yc)
        xgc = xgb.XGBClassifier(
            n_estimators=n_int_trees, max_depth=int_depth, n_jobs=2, random_state=0
        ).fit(Xc, yc)
        bg = Xc[1000:1100]
        iv_rows = Xc[: (20 if args.quick else 100)]
        cases_iv = [("raw", gb, "GB"), ("probability", gb, "GB"), ("probability", xgc, "XGB")]
        for output, clf, tag in cases_iv:
            ours_iv = TreeShap(clf, bg, output=output)
            ours_iv.explain(iv_rows[:2])
            shap_iv = shap.TreeExplainer(
                clf, data=bg, feature_perturbation="interventional", model_output=output
            )
            # same numbers first (shap reads XGBoost's thresholds as float32 too)
            np.testing.assert_allclose(
                ours_iv.explain(iv_rows).values,
                np.asarray(shap_iv.shap_values(iv_rows, check_additivity=False)),
                atol=1e-6,
            )
            for t in threads:
                numba.set_num_threads(t)
                records.append(
                    row(
                        f"shap interventional {tag} ({output}), {t} thr",
                        timed(lambda: ours_iv.explain(iv_rows), R),
                        timed(lambda: shap_iv.shap_values(iv_rows, check_additivity=False), 3),
                        len(iv_rows),
                        ours_iv.ensemble.n_leaves,
                    )
                )
    save()
    if "compile" in cases:
        print("\n== compile time (numba, cache=True) ==", flush=True)
        compile_rec.update(compile_times())
    save()


if __name__ == "__main__":
    main()
