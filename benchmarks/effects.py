"""pellucid.effects against scikit-learn.inspection, side by side in one process.

A 10,000-row gradient-boosting model (HistGradientBoostingRegressor and
...Classifier, 8 numeric features). For each case the two libraries run
alternately, ``--runs`` times; medians are reported with the ratio
pellucid / scikit-learn (below 1: pellucid is faster). Numbers are checked
to agree before anything is timed.

Goals: permutation importance <= 1.0x at n_jobs=1 and 2,
brute partial dependence <= 0.5x.

    python benchmarks/effects.py [--rows 10000] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _median_pair(f_ref, f_ours, runs):
    ref, ours = [], []
    for r in range(runs):
        order = [(f_ref, ref), (f_ours, ours)]
        if r % 2:
            order.reverse()
        for f, bucket in order:
            t = time.perf_counter()
            f()
            bucket.append(time.perf_counter() - t)
    return float(np.median(ref)), float(np.median(ours))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="permutation repeats")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--pd-only", action="store_true", help="only the partial dependence cases")
    parser.add_argument("--pi-only", action="store_true", help="only permutation importance")
    args = parser.parse_args()

    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.inspection import partial_dependence as sk_pd
    from sklearn.inspection import permutation_importance as sk_pi

    from pellucid.effects import partial_dependence, permutation_importance

    rng = np.random.default_rng(0)
    n, d = args.rows, 8
    X = rng.normal(size=(n, d))
    signal = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.5 * X[:, 3] - X[:, 4] ** 2 / 2
    y_reg = signal + rng.normal(size=n)
    y_clf = (signal + rng.normal(size=n) > 0).astype(int)
    models = {
        "regressor": (HistGradientBoostingRegressor(random_state=0).fit(X, y_reg), y_reg),
        "classifier": (HistGradientBoostingClassifier(random_state=0).fit(X, y_clf), y_clf),
    }
    rows = []

    def record(case, t_ref, t_ours, goal):
        ratio = t_ours / t_ref
        rows.append(
            {
                "case": case,
                "sklearn_s": round(t_ref, 4),
                "pellucid_s": round(t_ours, 4),
                "ratio": round(ratio, 3),
                "goal": goal,
                "met": ratio <= goal,
            }
        )
        print(
            f"{case:<48} sklearn {t_ref:8.3f}s  pellucid {t_ours:8.3f}s  "
            f"ratio {ratio:5.2f}  (goal <= {goal}) {'met' if ratio <= goal else 'NOT met'}",
            flush=True,
        )

    def bench(label, model, y):
        # Agreement first (and warm-up, including joblib's worker pool).
        kw = dict(n_repeats=args.repeats, random_state=0)
        if not args.pd_only:
            a = permutation_importance(model, X, y, n_jobs=2, **kw).importances
            b = sk_pi(model, X, y, n_jobs=2, **kw).importances
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        if not args.pi_only:
            pd_ours = partial_dependence(model, X, 0, kind="both")
            print(f"{label}: brute PD engine = {pd_ours.params['engine']}", flush=True)
            pd_ref = sk_pd(model, X, [0], method="brute", kind="both")
            out = 1 if label == "classifier" else 0  # sklearn keeps the positive class only
            np.testing.assert_allclose(pd_ours.average[out], pd_ref["average"][0], atol=1e-10)
            np.testing.assert_allclose(pd_ours.individual[out], pd_ref["individual"][0], atol=1e-10)

        for jobs in () if args.pd_only else (1, 2):
            t_ref, t_ours = _median_pair(
                partial(sk_pi, model, X, y, n_jobs=jobs, **kw),
                partial(permutation_importance, model, X, y, n_jobs=jobs, **kw),
                args.runs,
            )
            record(f"{label} permutation_importance n_jobs={jobs}", t_ref, t_ours, 1.0)
        for kind in () if args.pi_only else ("average", "individual"):
            for jobs in (1, 2):
                t_ref, t_ours = _median_pair(
                    partial(sk_pd, model, X, [0], method="brute", kind=kind),
                    partial(partial_dependence, model, X, 0, kind=kind, n_jobs=jobs),
                    args.runs,
                )
                record(f"{label} partial_dependence brute {kind} n_jobs={jobs}", t_ref, t_ours, 0.5)

    for label, (model, y) in models.items():
        bench(label, model, y)

    meta = {
        "rows": n,
        "features": d,
        "runs": args.runs,
        "permutation_repeats": args.repeats,
        "grid_resolution": 100,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(json.dumps(meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
