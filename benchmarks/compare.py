"""pellucid.compare: DeLong on a million rows, and a whole two-model comparison.

1. ``delong_test`` on ``--delong-rows`` rows (default 1,000,000) of two
   correlated score vectors (with ties). Goal: under 1 s.
2. ``pellucid.compare`` of a logistic regression and a gradient-boosting
   model on ``--rows`` rows (default 100,000) of ``datasets.credit``, with
   ``--n-boot`` (default 1,000) stratified bootstrap resamples and the
   default explanation agreement. Goal: under 30 s on 2 cores. The bootstrap
   part alone (``explain_rows=0``) is timed too.

Medians of ``--runs`` runs (after one warm-up run that also compiles numba
kernels), with the machine recorded.

    python benchmarks/compare.py [--delong-rows 1000000] [--rows 100000] [--n-boot 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _median_time(fn, runs: int) -> tuple[float, list[float]]:
    fn()  # warm-up: imports, numba compilation
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), times


def bench_delong(n: int, runs: int) -> dict:
    from pellucid.comparison import delong_test

    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.2).astype(int)
    shared = rng.normal(size=n)
    a = np.round(0.8 * y + shared + rng.normal(size=n), 3)  # rounded: ties, as real scores have
    b = np.round(1.0 * y + shared + rng.normal(size=n), 3)
    med, times = _median_time(lambda: delong_test(y, a, b), runs)
    return {"rows": n, "median_s": med, "times_s": times}


def _models(n: int):
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from pellucid.datasets import credit

    X_train, y_train = credit(n_rows=20_000, random_state=1)
    X, y = credit(n_rows=n, random_state=2)
    categorical = ["employment", "housing", "sex"]
    numeric = [c for c in X.columns if c not in categorical]
    prep = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
        (OneHotEncoder(), categorical),
    )
    champion = make_pipeline(prep, LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    challenger = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    challenger.fit(X_train, y_train)
    return {"logistic": champion, "boosting": challenger}, X, y


def bench_compare(n: int, n_boot: int, runs: int) -> dict:
    import pellucid

    models, X, y = _models(n)

    def whole():
        return pellucid.compare(models, X, y, subgroups="sex", n_boot=n_boot, random_state=0)

    def bootstrap_only():
        return pellucid.compare(
            models,
            X,
            y,
            subgroups="sex",
            n_boot=n_boot,
            random_state=0,
            explain_rows=0,
            importance_rows=0,
        )

    med_all, times_all = _median_time(whole, runs)
    med_boot, times_boot = _median_time(bootstrap_only, runs)
    print(whole())
    return {
        "rows": n,
        "n_boot": n_boot,
        "median_s": med_all,
        "times_s": times_all,
        "bootstrap_only_median_s": med_boot,
        "bootstrap_only_times_s": times_boot,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delong-rows", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus".strip(),
        "python": platform.python_version(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "delong": bench_delong(args.delong_rows, args.runs),
    }
    print(
        f"DeLong, {args.delong_rows:,} rows: median {out['delong']['median_s']:.3f} s (goal < 1 s)"
    )
    out["compare"] = bench_compare(args.rows, args.n_boot, args.runs)
    c = out["compare"]
    print(
        f"compare, 2 models, {args.rows:,} rows, {args.n_boot} resamples: median {c['median_s']:.2f} s "
        f"(goal < 30 s); bootstrap part alone {c['bootstrap_only_median_s']:.2f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
