"""The explorer in headless Chromium against a real uvicorn server.

Measures, for a HistGradientBoosting classifier (TreeShap) on 30 features:

* server start: ``create_app`` with the explored rows (their predictions are computed once);
* time to interactive: from navigation start until the first page of rows is
  drawn and the controls work (``window.__pellucidInteractive``), for 10,000
  and 100,000 rows (goals: < 1 s and < 3 s);
* the first sort by prediction and a filter over all rows (server side);
* a what-if round trip: one feature edited, /explain + /reasons + the ICE curve
  fetched in parallel and drawn (goal: p50 < 200 ms).

    OMP_NUM_THREADS=1 python benchmarks/explorer.py [--rows 10000 100000] [--repeats 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _chromium import Chromium, find_chromium  # noqa: E402


def data(n_rows: int, n_features: int = 30, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_rows,
        n_features=n_features,
        n_informative=12,
        random_state=seed,
    )
    return pd.DataFrame(X, columns=[f"x{i:02d}" for i in range(n_features)]), pd.Series(y)


def wait(page, expression: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        time.sleep(0.01)


def timed_fetch(page, path: str) -> float:
    page.send(
        "Runtime.evaluate",
        {
            "expression": f"(async () => {{ const t = performance.now(); await api({json.dumps(path)});"
            " window.__t = performance.now() - t; })()",
            "awaitPromise": True,
        },
    )
    return float(page.evaluate("window.__t"))


def what_if_round_trips(page, repeats: int, feature: str, low: float, high: float) -> list[float]:
    times = []
    for value in np.linspace(low, high, repeats):
        page.send(
            "Runtime.evaluate",
            {
                "expression": "(async () => { const t = performance.now();"
                f" S.values[{json.dumps(feature)}] = {float(value)!r}; await update();"
                " window.__t = performance.now() - t; })()",
                "awaitPromise": True,
            },
        )
        times.append(float(page.evaluate("window.__t")))
    return times


def run(n_rows: int, repeats: int, model, browser) -> dict:
    from pellucid.serve import create_app, running_server

    X, y = data(n_rows)
    started = time.perf_counter()
    app = create_app(model, X.iloc[:1000], explore_rows=X, explore_target=y)
    start_s = time.perf_counter() - started
    with running_server(app) as url:
        tti = []
        for _ in range(3):
            page = browser.open(url + "/", 1280, 900)
            wait(page, "document.body.dataset.ready === '1'")
            tti.append(float(page.evaluate("window.__pellucidInteractive")))
            errors = page.console_errors
            page.send("Page.close")
        page = browser.open(url + "/#row=0", 1280, 900)
        wait(
            page,
            "document.body.dataset.ready === '1' && document.body.dataset.updated !== undefined",
        )
        sort_first = timed_fetch(page, "/explorer/rows?sort=prediction&desc=1&limit=25")
        sort_again = timed_fetch(page, "/explorer/rows?sort=prediction&desc=1&limit=25&offset=25")
        filtered = timed_fetch(page, "/explorer/rows?q=x03>0.5,x07<0&limit=25")
        lo, hi = (float(v) for v in X["x00"].quantile([0.05, 0.95]))
        what_if_round_trips(page, 3, "x00", lo, hi)  # warm-up
        trips = what_if_round_trips(page, repeats, "x00", lo, hi)
        errors += page.console_errors
    return {
        "rows": n_rows,
        "server_start_s": round(start_s, 2),
        "time_to_interactive_ms": [round(t) for t in tti],
        "first_sort_by_prediction_ms": round(sort_first),
        "next_page_same_sort_ms": round(sort_again),
        "filter_two_conditions_ms": round(filtered),
        "what_if_p50_ms": round(float(np.percentile(trips, 50)), 1),
        "what_if_p95_ms": round(float(np.percentile(trips, 95)), 1),
        "console_errors": errors,
    }


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    binary = find_chromium()
    if binary is None:
        raise SystemExit("Chromium is needed (apt-get install chromium).")
    X, y = data(20_000, seed=1)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(X, y)
    results = []
    with Chromium(binary, tempfile.mkdtemp(prefix="explorer-bench-")) as browser:
        for n in args.rows:
            results.append(run(n, args.repeats, model, browser))
            print(json.dumps(results[-1]), flush=True)
    print(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "machine": f"{platform.machine()}, {os.cpu_count()} vCPU, Python {platform.python_version()}",
                "model": "HistGradientBoostingClassifier(max_iter=100), 30 features, TreeShap",
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
