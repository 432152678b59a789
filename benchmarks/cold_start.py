"""Cold start: import pellucid + the first explanation in a fresh process.

Each measurement runs in a new Python process. "cold" gives it an empty numba
cache (NUMBA_CACHE_DIR set to a fresh temporary directory: a new install);
"warm" reuses the cache the cold run of the same case filled. The clock starts
after the model's own library is imported and the model unpickled (that cost is
the user's whatever they explain with) and stops when the first ``explain`` of
a small problem (5 rows) returns.

    PYTHONPATH=src python benchmarks/cold_start.py               # 3 cold + 3 warm per case
    PYTHONPATH=src python benchmarks/cold_start.py --repeats 5 --json out.json

Cases: TreeShap path-dependent on XGBoost and on a scikit-learn random forest,
TreeShap interventional (raw and probability) on XGBoost, KernelShap and LIME on
the forest's ``predict_proba``. Goals: cold at most 2 s, warm at most 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

CHILD = textwrap.dedent(
    """
    import pickle, sys, time
    import numpy as np
    case, model_path, data_path = sys.argv[1:4]
    with open(model_path, "rb") as fh:
        model = pickle.load(fh)  # imports the model's library: not timed
    X, bg = np.load(data_path)["X"], np.load(data_path)["bg"]
    rows = X[:5]
    t0 = time.perf_counter()
    import pellucid
    if case == "treeshap":
        pellucid.TreeShap(model).explain(rows)
    elif case == "treeshap_interventional":
        pellucid.TreeShap(model, bg).explain(rows)
    elif case == "treeshap_probability":
        pellucid.TreeShap(model, bg, output="probability").explain(rows)
    elif case == "kernelshap":
        pellucid.KernelShap(model.predict_proba, bg, budget=256, random_state=0).explain(rows)
    elif case == "lime":
        pellucid.Lime(model.predict_proba, X, num_samples=1000, random_state=0).explain(rows)
    else:
        raise SystemExit(f"unknown case {case}")
    print(time.perf_counter() - t0, "numba" in sys.modules)
    """
)

# (case, model file)
CASES = [
    ("treeshap", "xgboost"),
    ("treeshap", "forest"),
    ("treeshap_interventional", "xgboost"),
    ("treeshap_probability", "xgboost"),
    ("kernelshap", "forest"),
    ("lime", "forest"),
]


def fit_models(folder: str) -> dict[str, str]:
    from sklearn.ensemble import RandomForestClassifier
    from xgboost import XGBClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 8))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * rng.normal(size=1000) > 0).astype(int)
    np.savez(os.path.join(folder, "data.npz"), X=X, bg=X[:50])
    models = {
        "xgboost": XGBClassifier(n_estimators=100, max_depth=6, random_state=0).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0).fit(X, y),
    }
    paths = {}
    for name, model in models.items():
        paths[name] = os.path.join(folder, f"{name}.pkl")
        with open(paths[name], "wb") as fh:
            pickle.dump(model, fh)
    return paths


#: Whether the case's child process imported numba (the last run of each case).
NUMBA_IMPORTED: dict[str, bool] = {}


def run_child(case: str, model_path: str, data_path: str, cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, case, model_path, data_path],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{done.stderr[-3000:]}")
    seconds, numba = done.stdout.strip().splitlines()[-1].split()
    NUMBA_IMPORTED[case] = numba == "True"
    return float(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None, help="write the records to this file")
    ap.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    args = ap.parse_args()
    wanted = set(args.cases.split(",")) if args.cases else None
    records = []
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        paths = fit_models(folder)
        data_path = os.path.join(folder, "data.npz")
        for case, model in CASES:
            if wanted and case not in wanted:
                continue
            cold, warm = [], []
            for _ in range(args.repeats):  # cold then warm, alternating
                cache = tempfile.mkdtemp(dir=folder)
                cold.append(run_child(case, paths[model], data_path, cache))
                warm.append(run_child(case, paths[model], data_path, cache))
            rec = {
                "case": case,
                "model": model,
                "numba_imported": NUMBA_IMPORTED[case],
                "load_average": os.getloadavg()[0],
                "cold_s": statistics.median(cold),
                "warm_s": statistics.median(warm),
                "cold_all": cold,
                "warm_all": warm,
            }
            records.append(rec)
            print(
                f"{case:24s} {model:8s} cold {rec['cold_s']:6.2f} s  warm {rec['warm_s']:6.3f} s"
                f"  (cold {', '.join(f'{v:.2f}' for v in cold)};"
                f" warm {', '.join(f'{v:.3f}' for v in warm)})"
                f"  numba {'imported' if rec['numba_imported'] else 'not imported'},"
                f" load {rec['load_average']:.1f}",
                flush=True,
            )
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"records": records, "load_average": load}, fh, indent=1)


if __name__ == "__main__":
    main()
