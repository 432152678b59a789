"""The service under a burst of load and a client that leaves, against a real uvicorn server.

1. 200 concurrent one-row ``POST /explain`` (TreeShap, the demo credit model)
   on 2 cores: errors, p50/p99 latency, and ``GET /health`` latency sampled
   every 50 ms while the burst is served.
2. A client that leaves: a 200-row exact-Shapley request to a scikit-learn
   Pipeline (about 0.1 s of CPU per row), abandoned after 2 s; the time until
   the server process's CPU use falls below 10% of a core (sampled every 50 ms).

The server runs in a child process pinned to 2 cores; the client shares the
machine. Each scenario runs ``--runs`` times; medians are printed.

    PYTHONPATH=src .venv/bin/python benchmarks/serve_load.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import httpx
import numpy as np
import psutil

from pellucid.serve import free_port


def serve(kind: str, port: int) -> None:
    """The server process: the demo TreeShap model, or a Pipeline explained exactly."""
    from pellucid.serve import create_app, run_server

    if kind == "tree":
        from pellucid.demo import train_credit_model

        parts = train_credit_model(5000)
        app = create_app(parts["model"], parts["X_train"])
    else:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline, make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        from pellucid.datasets import credit

        X, y = credit(n_rows=2000, random_state=0)
        cats = ["employment", "housing", "sex"]
        num = [c for c in X.columns if c not in cats]
        pre = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
                ("cat", OneHotEncoder(), cats),
            ]
        )
        model = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=1000))]).fit(X, y)
        app = create_app(model, X, explainer="exact_shap", n_background=20, max_cost=None)
    run_server(app, host="127.0.0.1", port=port)


def start(kind: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cores = sorted(os.sched_getaffinity(0))[:2]
    code = f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); import serve_load; serve_load.serve({kind!r}, {port})"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], preexec_fn=lambda: os.sched_setaffinity(0, cores)
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(30)


def payloads(n: int, seed: int) -> list[bytes]:
    from pellucid.demo import train_credit_model

    X = train_credit_model(5000)["X_test"]
    rows = json.loads(X.to_json(orient="records"))
    idx = np.random.default_rng(seed).integers(0, len(rows), n)
    return [json.dumps({"rows": [rows[i]]}).encode() for i in idx]


async def burst(url: str, bodies: list[bytes]) -> dict[str, float]:
    """All bodies at once, each on its own connection; /health sampled meanwhile."""
    limits = httpx.Limits(max_connections=len(bodies) + 1, max_keepalive_connections=0)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        for b in bodies[:10]:  # warm up: numba compilation, the explainer's first call
            await client.post("/explain", content=b, headers=headers)
        latencies: list[float] = []
        health: list[float] = []
        errors = 0
        done = asyncio.Event()

        async def one(body: bytes) -> None:
            nonlocal errors
            t = time.perf_counter()
            try:
                r = await client.post("/explain", content=body, headers=headers)
                errors += r.status_code != 200
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - t)

        async def probe() -> None:
            while not done.is_set():
                t = time.perf_counter()
                await client.get("/health")
                health.append(time.perf_counter() - t)
                await asyncio.sleep(0.05)

        prober = asyncio.create_task(probe())
        start = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        wall = time.perf_counter() - start
        done.set()
        await prober
    lat = 1000 * np.array(latencies)
    return {
        "errors": errors,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "wall_s": wall,
        "health_p50_ms": 1000 * float(np.median(health)),
        "health_max_ms": 1000 * float(np.max(health)),
    }


def cpu_freed_after_disconnect(url: str, pid: int) -> float:
    """Seconds from the client leaving until the server's CPU use drops below 10% of a core."""
    from pellucid.datasets import credit

    X, _ = credit(n_rows=200, random_state=1)
    body = json.dumps({"rows": json.loads(X.to_json(orient="records"))})
    proc = psutil.Process(pid)
    try:
        httpx.post(
            f"{url}/explain",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=2.0,
        )
        raise RuntimeError("the request finished within 2 s: nothing to measure")
    except httpx.TimeoutException:
        left = time.perf_counter()
    before, t0 = sum(proc.cpu_times()[:2]), time.perf_counter()
    while time.perf_counter() - left < 10:
        time.sleep(0.05)
        now, t1 = sum(proc.cpu_times()[:2]), time.perf_counter()
        if (now - before) / (t1 - t0) < 0.10:
            return t1 - left
        before, t0 = now, t1
    return float("inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrent", type=int, default=200)
    args = ap.parse_args()
    bodies = payloads(args.concurrent, seed=0)
    bursts, freed = [], []
    for run in range(args.runs):
        proc, url = start("tree")
        try:
            bursts.append(asyncio.run(burst(url, bodies)))
        finally:
            stop(proc)
        print(f"run {run}: burst {bursts[-1]}", flush=True)
        proc, url = start("pipeline")
        try:
            freed.append(cpu_freed_after_disconnect(url, proc.pid))
        finally:
            stop(proc)
        print(f"run {run}: CPU freed {freed[-1]:.2f} s after the client left", flush=True)
    print(f"\nmedians of {args.runs} runs; server pinned to 2 cores; {os.cpu_count()} CPUs visible")
    print("| measure | median |")
    print("|---|---|")
    for key in bursts[0]:
        print(
            f"| {args.concurrent} concurrent one-row /explain: {key} | {statistics.median(b[key] for b in bursts):.1f} |"
        )
    print(f"| CPU freed after a client leaves (s) | {statistics.median(freed):.2f} |")


if __name__ == "__main__":
    main()
