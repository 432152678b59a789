"""Counterfactuals on credit models: time per certified-optimal row, validity, constraints.

A 100-tree depth-5 GradientBoostingClassifier and a 100-tree depth-6
RandomForestClassifier on ``pellucid.datasets.credit`` (numeric columns;
``savings`` missing read as 0; ``sex`` as 0/1). The first ``--rows``
declined rows (predicted default) are explained with ``age`` and ``sex``
immutable, ``late_payments`` only decreasing and ``income`` only increasing.
Reported: the certificates, validity by the model's own predict, immutable
violations, and the median seconds per row certified optimal.

    python benchmarks/counterfactuals.py [--rows 50] [--json out.json]

The comparison with dice-ml on the same rows (issue 22) is not built yet.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

IMMUTABLE = ["age", "sex"]
ACTIONS = {"late_payments": "decrease", "income": "increase"}


def credit_frame(n_rows: int = 5000) -> tuple[pd.DataFrame, pd.Series]:
    from pellucid import datasets

    ds = datasets.credit(n_rows, random_state=0)
    X = ds.X.drop(columns=["employment", "housing"]).copy()
    X["savings"] = X["savings"].fillna(0.0)
    X["sex"] = (X["sex"] == "male").astype(np.int64)
    return X, ds.y


def models(X: pd.DataFrame, y: pd.Series) -> dict[str, object]:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    return {
        "gbm_100x5": GradientBoostingClassifier(n_estimators=100, max_depth=5, random_state=0).fit(
            X, y
        ),
        "rf_100x6": RandomForestClassifier(
            n_estimators=100, max_depth=6, random_state=0, n_jobs=1
        ).fit(X, y),
    }


def run_ours(name: str, model, X: pd.DataFrame, rows: pd.DataFrame) -> dict:
    from pellucid.counterfactual import Counterfactuals

    cf = Counterfactuals(model, X, immutable=IMMUTABLE, actions=ACTIONS, time_limit=60)
    cf.explain(rows.iloc[:1], desired=0)  # first call compiles the tree kernels
    times, certs, costs, valid, violations = [], [], [], [], 0
    for i in range(len(rows)):
        t = time.perf_counter()
        res = cf.explain(rows.iloc[[i]], desired=0)
        times.append(time.perf_counter() - t)
        certs.append(res.certificates[0])
        answers = res.for_row(0)
        costs.append(answers[0].cost if answers else np.nan)
        valid.append(bool(answers and answers[0].valid))
        if answers:
            new = dict(zip(res.feature_names, answers[0].values, strict=True))
            violations += sum(new[c] != rows.iloc[i][c] for c in IMMUTABLE)
    times_a = np.asarray(times)
    optimal = np.asarray(certs) == "optimal"
    return {
        "model": name,
        "rows": len(rows),
        "certificates": {c: certs.count(c) for c in sorted(set(certs))},
        "valid": int(np.sum(valid)),
        "immutable_violations": int(violations),
        "median_s_optimal": float(np.median(times_a[optimal])) if optimal.any() else None,
        "max_s": float(times_a.max()),
        "median_cost": float(np.nanmedian(costs)),
        "costs": [None if np.isnan(c) else float(c) for c in costs],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    X, y = credit_frame()
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "results": [],
    }
    for name, model in models(X, y).items():
        rows = X[model.predict(X) == 1].iloc[: args.rows]
        r = run_ours(name, model, X, rows)
        out["results"].append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "costs"}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
