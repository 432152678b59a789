"""The service under a burst of load and a client that leaves, against a real uvicorn server.

1. 200 concurrent one-row ``POST /explain`` (TreeShap, the demo credit model)
   on 2 cores: errors, p50/p99 latency, throughput (rows/s), and ``GET /health``
   latency sampled every 50 ms while the burst is served; and the one-row server
   time (the ``Server-Timing`` header) of sequential requests. Each with
   micro-batching off (``batch_window=None``: every request alone) and on, side
   by side; and the bounds in process: the service's own work on the burst's
   rows in one batch (rows/s), one row alone, and the model's own prediction of
   one row (which TreeShap runs to check its reading of the trees).
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
    """The server process: the demo TreeShap model (``tree``: micro-batched, ``tree-alone``:
    every request alone), or a Pipeline explained exactly."""
    from pellucid.serve import create_app, run_server

    if kind.startswith("tree"):
        from pellucid.demo import train_credit_model

        parts = train_credit_model(5000)
        window = {} if kind == "tree" else {"batch_window": None}
        app = create_app(parts["model"], parts["X_train"], server_timing=True, **window)
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


async def raw_post(url: str, path: str, body: bytes) -> int:
    """POST on a fresh connection with hand-written HTTP/1.1: the status. Far less client
    CPU than httpx, which on a shared 2-core machine was the burst's bottleneck."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    answer = await reader.read()  # to the end: the server closes the connection
    writer.close()
    return int(answer[9:12])


async def burst(
    url: str, bodies: list[bytes], client_kind: str = "raw", pid: int | None = None
) -> dict[str, float]:
    """All bodies at once, each on its own connection; /health sampled meanwhile; with the
    server's ``pid``, the CPU seconds the server spent on the burst."""
    server = psutil.Process(pid) if pid is not None else None
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
                if client_kind == "raw":
                    errors += await raw_post(url, "/explain", body) != 200
                else:
                    r = await client.post("/explain", content=body, headers=headers)
                    errors += r.status_code != 200
            except (httpx.HTTPError, OSError, ValueError):
                errors += 1
            latencies.append(time.perf_counter() - t)

        async def probe() -> None:
            while not done.is_set():
                t = time.perf_counter()
                await client.get("/health")
                health.append(time.perf_counter() - t)
                await asyncio.sleep(0.05)

        prober = asyncio.create_task(probe())
        cpu = sum(server.cpu_times()[:2]) if server is not None else 0.0
        start = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        wall = time.perf_counter() - start
        cpu = sum(server.cpu_times()[:2]) - cpu if server is not None else float("nan")
        done.set()
        await prober
    lat = 1000 * np.array(latencies)
    return {
        "errors": errors,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "wall_s": wall,
        "rows_per_s": len(bodies) / wall,
        "server_cpu_s": cpu,
        "rows_per_server_cpu_s": len(bodies) / cpu,
        "health_p50_ms": 1000 * float(np.median(health)),
        "health_max_ms": 1000 * float(np.max(health)),
    }


def server_time(url: str, bodies: list[bytes]) -> float:
    """Median one-row server time (ms, the Server-Timing header) of sequential requests."""
    headers = {"Content-Type": "application/json"}
    times = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for b in bodies:
            r = client.post("/explain", content=b)
            r.raise_for_status()
            times.append(float(r.headers["server-timing"].split("dur=")[1]))
    return float(np.median(times[10:]))


def bounds(bodies: list[bytes], repeats: int = 5) -> dict[str, float]:
    """In this process: the service's work on all bodies in one batch (rows/s), on one
    row alone (ms), and the model's own prediction of one row (ms)."""
    from pellucid.demo import train_credit_model
    from pellucid.serve import Service

    parts = train_credit_model(5000)
    service = Service(parts["model"], parts["X_train"])
    payloads = [json.loads(b) for b in bodies]
    frame = service.parse(payloads[0], ())[0]
    service.explain_many([(p, None) for p in payloads])  # warm up

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    batch = best(lambda: service.explain_many([(p, None) for p in payloads]))
    one = best(lambda: service.explain(payloads[0]))
    predict = best(lambda: service.model.raw_model.predict_proba(frame))
    return {
        "batch_rows_per_s": len(payloads) / batch,
        "one_row_ms": 1000 * one,
        "model_one_row_ms": 1000 * predict,
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
    ap.add_argument("--no-disconnect", action="store_true", help="skip the client that leaves")
    ap.add_argument(
        "--client", choices=["raw", "httpx"], default="raw", help="the burst's HTTP client"
    )
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}; client: {args.client}", flush=True)
    bodies = payloads(args.concurrent, seed=0)
    modes = ("tree-alone", "tree")
    bursts: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    freed, limits = [], []
    for run in range(args.runs):
        for mode in modes:  # side by side, alternating
            proc, url = start(mode)
            try:
                result = asyncio.run(burst(url, bodies, args.client, proc.pid))
                result["one_row_server_ms"] = server_time(url, bodies[:60])
                bursts[mode].append(result)
            finally:
                stop(proc)
            print(f"run {run}: {mode} {result} load {os.getloadavg()[0]:.1f}", flush=True)
        limits.append(bounds(bodies))
        print(f"run {run}: bounds {limits[-1]}", flush=True)
        if args.no_disconnect:
            continue
        proc, url = start("pipeline")
        try:
            freed.append(cpu_freed_after_disconnect(url, proc.pid))
        finally:
            stop(proc)
        print(f"run {run}: CPU freed {freed[-1]:.2f} s after the client left", flush=True)
    print(f"\nmedians of {args.runs} runs; server pinned to 2 cores; {os.cpu_count()} CPUs visible")
    print(f"load average after: {os.getloadavg()}")
    print("| measure | every request alone | micro-batched |")
    print("|---|---|---|")
    for key in bursts["tree"][0]:
        alone, batched = (statistics.median(b[key] for b in bursts[m]) for m in modes)
        print(
            f"| {args.concurrent} concurrent one-row /explain: {key} | {alone:.1f} | {batched:.1f} |"
        )
    for key in limits[0]:
        print(f"| bound, in process: {key} | {statistics.median(b[key] for b in limits):.2f} | |")
    if freed:
        print(f"| CPU freed after a client leaves (s) | {statistics.median(freed):.2f} | |")


if __name__ == "__main__":
    main()
