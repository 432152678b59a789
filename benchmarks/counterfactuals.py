"""Counterfactuals on credit models: time per certified-optimal row, validity, constraints.

A 100-tree depth-5 GradientBoostingClassifier and a 100-tree depth-6
RandomForestClassifier on ``pellucid.datasets.credit`` (numeric columns;
``savings`` missing read as 0; ``sex`` as 0/1). The first ``--rows``
declined rows (predicted default) are explained with ``age`` and ``sex``
immutable, ``late_payments`` only decreasing and ``income`` only increasing.
Reported: the certificates, validity by the model's own predict, immutable
violations, and the median seconds per row certified optimal.

    python benchmarks/counterfactuals.py [--rows 50] [--json out.json]
        [--dice-python /tmp/dice-venv/bin/python --dice-rows 10]

With ``--dice-python`` (a virtualenv holding dice-ml and the same
scikit-learn, so the models trained there from the same data and seeds are
the same models), dice-ml's "random" and "genetic" methods run on the same
declined rows with the same constraints: ``age``/``sex`` not in
``features_to_vary``, the directions as per-row ``permitted_range``; one
counterfactual per row. Measured for both: validity (the model's own
predict), immutable violations, MAD-L1 cost (pellucid's definition: each
column's median absolute deviation on the same data) and its ratio per row
(DiCE / pellucid), seconds per row.
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


def mad_scales(X: pd.DataFrame) -> np.ndarray:
    """Each column's MAD as pellucid's cost uses it (same fallbacks)."""
    from pellucid.counterfactual._space import _scale

    return np.array([_scale(X[c].to_numpy(dtype=float)) for c in X.columns])


def run_dice(
    name: str, model, X: pd.DataFrame, y: pd.Series, rows: pd.DataFrame, method: str
) -> dict:
    """dice-ml on the rows, one counterfactual each (run inside dice-ml's virtualenv)."""
    import dice_ml

    d = dice_ml.Data(dataframe=X.assign(default=y.to_numpy()), continuous_features=list(X.columns),
                     outcome_name="default")  # fmt: skip
    explainer = dice_ml.Dice(d, dice_ml.Model(model=model, backend="sklearn"), method=method)
    scales = mad_scales(X)
    vary = [c for c in X.columns if c not in IMMUTABLE]
    times, costs, valid, violations = [], [], [], 0
    for i in range(len(rows)):
        row = rows.iloc[[i]]
        ranges = {"income": [float(row["income"].iloc[0]), float(X["income"].max())],
                  "late_payments": [float(X["late_payments"].min()), float(row["late_payments"].iloc[0])]}  # fmt: skip
        t = time.perf_counter()
        try:
            res = explainer.generate_counterfactuals(
                row, total_CFs=1, desired_class=0, features_to_vary=vary, permitted_range=ranges
            )
            found = res.cf_examples_list[0].final_cfs_df
        except Exception as exc:  # noqa: BLE001 - DiCE raises when it finds nothing
            print(
                f"  {name} {method} row {i}: {type(exc).__name__}: {str(exc)[:80]}", file=sys.stderr
            )
            found = None
        times.append(time.perf_counter() - t)
        if found is None or len(found) == 0:
            costs.append(np.nan)
            valid.append(False)
            continue
        new = found[list(X.columns)].iloc[[0]].astype(float)
        ok = bool(model.predict(new.astype(X.dtypes.to_dict()))[0] == 0)
        valid.append(ok)
        delta = np.abs(new.to_numpy()[0] - row.to_numpy(dtype=float)[0]) / scales
        costs.append(float(delta.sum()) if ok else np.nan)
        violations += int(sum(new[c].iloc[0] != row[c].iloc[0] for c in IMMUTABLE))
    return {"model": name, "method": f"dice_{method}", "rows": len(rows), "valid": int(np.sum(valid)),
            "immutable_violations": violations, "median_s": float(np.median(times)),
            "costs": [None if np.isnan(c) else c for c in costs]}  # fmt: skip


def dice_worker(n_rows: int) -> None:
    """Inside dice-ml's virtualenv: train the same models, run both methods, print JSON."""
    X, y = credit_frame()
    out = []
    for name, model in models(X, y).items():
        rows = X[model.predict(X) == 1].iloc[:n_rows]
        for method in ("random", "genetic"):
            out.append(run_dice(name, model, X, y, rows, method))
            print(f"{name} dice_{method}: valid {out[-1]['valid']}/{n_rows}", file=sys.stderr)
    print(json.dumps(out))


def compare(ours: dict, dice: dict) -> dict:
    """Per row: DiCE's cost / pellucid's (rows where both are valid)."""
    a, b = (
        np.array(ours["costs"], dtype=float),
        np.array(dice["costs"], dtype=float)[: len(ours["costs"])],
    )
    both = np.isfinite(a) & np.isfinite(b) & (a > 0)
    ratio = b[both] / a[both]
    return {"model": dice["model"], "method": dice["method"], "rows": dice["rows"],
            "valid": dice["valid"], "immutable_violations": dice["immutable_violations"],
            "median_s": dice["median_s"], "median_cost": float(np.nanmedian(b)) if np.isfinite(b).any() else None,
            "median_cost_ratio": float(np.median(ratio)) if both.any() else None,
            "min_cost_ratio": float(ratio.min()) if both.any() else None,
            "rows_dice_cheaper": int(np.sum(b[both] < a[both] - 1e-9))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--json", default=None)
    parser.add_argument("--dice-python", default=None, help="python of a virtualenv with dice-ml")
    parser.add_argument("--dice-rows", type=int, default=10)
    parser.add_argument("--dice-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dice_worker:
        dice_worker(args.dice_rows)
        return
    X, y = credit_frame()
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "results": [],
    }
    n = args.dice_rows if args.dice_python else args.rows
    ours = {}
    for name, model in models(X, y).items():
        rows = X[model.predict(X) == 1].iloc[:n]
        r = run_ours(name, model, X, rows)
        ours[name] = r
        out["results"].append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "costs"}, indent=1))
    if args.dice_python:
        import subprocess

        done = subprocess.run(
            [args.dice_python, __file__, "--dice-worker", "--dice-rows", str(n)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        sys.stderr.write(done.stderr[-2000:])
        for dice in json.loads(done.stdout.strip().splitlines()[-1]):
            c = compare(ours[dice["model"]], dice)
            out.setdefault("dice", []).append({**c, "costs": dice["costs"]})
            print(json.dumps(c, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
