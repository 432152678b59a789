"""`pellucid report` end to end on a 10,000-row, 30-feature gradient-boosting model.

Goal: the whole command (start-up, loading, every section, rendering,
writing the file) within 60 s on a 2-core machine. There is no reference
tool that writes such a report, so this prints absolute times: the median
of several runs of the command, and the median time of each section taken
from the reproducibility record inside the written report.

    .venv/bin/python benchmarks/report.py [--runs 3] [--model hgb|xgboost|lightgbm]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 60.0


def make_data(n_rows: int, n_features: int, seed: int = 0):
    import pandas as pd
    from sklearn.datasets import make_classification

    # 10 informative, 6 redundant (linear mixtures: strongly correlated pairs), the rest noise.
    X, y = make_classification(
        n_samples=n_rows,
        n_features=n_features,
        n_informative=10,
        n_redundant=6,
        n_clusters_per_class=3,
        flip_y=0.05,
        random_state=seed,
    )
    frame = pd.DataFrame(X, columns=[f"feature_{i:02d}" for i in range(n_features)])
    return frame, pd.Series(y, name="target")


def fit(kind: str, X, y):
    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=200, random_state=0).fit(X, y)
    if kind == "xgboost":
        import xgboost as xgb

        return xgb.XGBClassifier(n_estimators=200, max_depth=6, random_state=0).fit(X, y)
    if kind == "lightgbm":
        import lightgbm as lgb

        return lgb.LGBMClassifier(n_estimators=200, random_state=0, verbose=-1).fit(X, y)
    raise ValueError(kind)


def record_of(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="pellucid-record">(.*?)</script>', html)
    assert match, "no reproducibility record in the report"
    return json.loads(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--model", choices=["hgb", "xgboost", "lightgbm"], default="hgb")
    args = parser.parse_args()

    from pellucid._io import save_model

    X, y = make_data(args.rows, args.features)
    model = fit(args.model, X, y)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        suffix = {"hgb": ".skops", "xgboost": ".json", "lightgbm": ".txt"}[args.model]
        model_path = save_model(model, folder / f"model{suffix}")
        data_path = folder / "data.parquet"
        X.assign(target=y).to_parquet(data_path)
        totals, sections = [], []
        for run in range(args.runs):
            out = folder / f"report{run}.html"
            cmd = [sys.executable, "-m", "pellucid.cli", "report", str(model_path)]
            cmd += [str(data_path), "--target", "target", "--out", str(out)]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=os.environ.copy())
            totals.append(time.perf_counter() - start)
            html = out.read_text(encoding="utf-8")
            rec = record_of(html)
            sections.append(rec["section times (s)"])
            print(f"run {run + 1}: {totals[-1]:.1f} s, {len(html) / 1e6:.1f} MB", flush=True)
        missing = re.findall(r'<p class="note">([^<]*not available[^<]*)</p>', html)
        print(f"\nmodel: {args.model}, {args.rows:,} rows x {args.features} features")
        print(f"methods used: {rec['methods used']}")
        print("median section times (s):")
        for key in sections[0]:
            print(f"  {key:12s} {statistics.median(s[key] for s in sections):6.1f}")
        median = statistics.median(totals)
        print(f"median wall time of `pellucid report`: {median:.1f} s (goal {GOAL_S:.0f} s)")
        print(f"ratio to goal: {median / GOAL_S:.2f}")
        if missing:
            print("sections missing a method in this build:", *missing, sep="\n  ")


if __name__ == "__main__":
    main()
