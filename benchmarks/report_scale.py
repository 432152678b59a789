"""How `pellucid.report` grows with rows: 50 features (numeric and categorical, NaN).

Goal: 100,000 rows x 50 features within 60 s on 2 cores and
2 GB of memory, every section present, and time growing sub-linearly in rows.

Each size runs in a fresh process (so its peak memory is its own): the data are
generated (35 numeric columns, some correlated, 15 pandas categoricals of 3-40
levels; 2-10% NaN in a third of the columns, numeric and categorical), a
HistGradientBoostingClassifier with native categorical support is fitted on
its own 20,000 rows, the same model at every size (fitting is not part of the
report), then ``pellucid.report`` runs and renders its HTML. Printed per size: wall time of compute and render,
each section's time from the report's own record, process CPU time (all threads:
on two cores of one's own the wall time is at least half of it, so it bounds what a
quiet machine would show when the host is loaded), the process's peak RSS
(``ru_maxrss``, data and model included) and its RSS before the report, and the
sections missing or stopped early.

    PYTHONPATH=src python benchmarks/report_scale.py [--rows 10000 100000 1000000] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

N_NUMERIC = 35
N_CATEGORICAL = 15
GOAL_S = 60.0
GOAL_BYTES = 2 * 1024**3


def make_data(n_rows: int, seed: int = 0):
    """Numeric and categorical columns with NaN, and a binary target that uses both."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_rows, 5))
    cols: dict[str, object] = {}
    for j in range(N_NUMERIC):
        base = latent[:, j % 5] * (0.9 if j < 10 else 0.3)  # the first ten correlate in fives
        cols[f"num_{j:02d}"] = base + rng.normal(size=n_rows) * (0.4 if j < 10 else 1.0)
    for j in range(N_CATEGORICAL):
        levels = 3 + (j * 37) % 38
        codes = (np.abs(latent[:, j % 5]) * levels / 3).astype(int) % levels
        codes = np.where(rng.random(n_rows) < 0.2, rng.integers(0, levels, n_rows), codes)
        names = np.array([f"c{j}_{k}" for k in range(levels)], dtype=object)
        cols[f"cat_{j:02d}"] = pd.Categorical.from_codes(codes, categories=list(names))
    X = pd.DataFrame(cols)
    logit = (
        X["num_00"]
        - 0.8 * X["num_05"]
        + np.sin(2 * X["num_12"])
        + 0.5 * X["num_20"] * X["num_21"]
        + (X["cat_00"].cat.codes == 1) * 1.2
        - 0.1 * X["cat_03"].cat.codes
    ).to_numpy()
    y = pd.Series((rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int), name="target")
    for j, name in enumerate(X.columns):
        if j % 3 == 0:  # NaN in a third of the columns, numeric and categorical
            share = 0.02 + 0.08 * ((j * 7) % 5) / 4
            X.loc[rng.random(n_rows) < share, name] = np.nan
    return X, y


def fit(train_rows: int = 20_000):
    """The same model at every size: fitted on its own 20,000 rows (seed 1).

    Fitting on the first rows of each size's data gave a different model per size
    (HistGradientBoosting stops early only above 10,000 rows: the 10,000-row model
    kept all 200 iterations, the larger ones about a quarter), so the growth in
    rows measured the model's cost, not the report's.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=200, categorical_features="from_dtype", random_state=0
    )
    X, y = make_data(train_rows, seed=1)
    return model.fit(X, y)


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def worker(n_rows: int) -> dict:
    import pellucid

    model = fit()
    X, y = make_data(n_rows)
    before = rss_bytes()
    marks: list[tuple[str, float]] = []  # (section, process CPU time as it starts)
    t0, c0 = time.perf_counter(), time.process_time()
    rep = pellucid.report(
        model, X, y, progress=lambda key, _title: marks.append((key, time.process_time()))
    )
    t1, c1 = time.perf_counter(), time.process_time()
    html = rep.html
    t2, c2 = time.perf_counter(), time.process_time()
    ends = [c for _, c in marks[1:]] + [c1]
    cpu_sections = {
        key: round(end - start, 2) for (key, start), end in zip(marks, ends, strict=True)
    }
    results = rep.results
    stopped = {k: v for k, v in results.notes.items() if any("stopped early" in n for n in v)}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "rows": n_rows,
        "compute_s": t1 - t0,
        "render_s": t2 - t1,
        "compute_cpu_s": c1 - c0,
        "render_cpu_s": c2 - c1,
        "sections_cpu_s": cpu_sections,
        "sections_s": results.record["section times (s)"],
        "methods": results.record["methods used"],
        "stopped": stopped,
        "notes": results.notes,
        "rss_before_report": before,
        "peak_rss": peak,
        "html_mb": len(html) / 1e6,
        "sampling": re.findall(r"drawn at random|sample", html)[:1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    print(f"load average before: {os.getloadavg()}")
    summary = []
    for n in args.rows:
        runs = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", str(n)],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = runs[-1]
            total = r["compute_s"] + r["render_s"]
            print(
                f"{n:>9,} rows: compute {r['compute_s']:.1f} s + render {r['render_s']:.1f} s "
                f"= {total:.1f} s (CPU {r['compute_cpu_s']:.1f} + {r['render_cpu_s']:.1f} s); peak RSS {r['peak_rss'] / 2**20:.0f} MiB (before the report "
                f"{r['rss_before_report'] / 2**20:.0f} MiB); sections (wall) {r['sections_s']}, (CPU) {r['sections_cpu_s']}; "
                f"stopped early: {r['stopped'] or 'none'}; load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        total = statistics.median(r["compute_s"] + r["render_s"] for r in runs)
        peak = max(r["peak_rss"] for r in runs)
        summary.append((n, total, peak))
    print("\nrows        median s   peak RSS MiB   goal (60 s, 2 GiB)")
    for n, total, peak in summary:
        ok = total <= GOAL_S and peak <= GOAL_BYTES
        print(f"{n:>9,}  {total:>9.1f}  {peak / 2**20:>12.0f}   {'met' if ok else 'NOT met'}")
    for (n0, t0, _), (n1, t1, _) in zip(summary, summary[1:], strict=False):
        print(f"{n0:,} -> {n1:,} rows ({n1 / n0:.0f}x): time x{t1 / t0:.2f}")


if __name__ == "__main__":
    main()
