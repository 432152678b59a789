"""Latency and throughput of `pellucid serve` on the demo credit model, loopback only.

Runs the library call and the same call over HTTP side by side in one process
and prints their ratio, then a bounded load test (a fixed number of requests
and a time limit, several client threads) with p50/p99 latency and throughput.
The client shares the machine with the server, so numbers are pessimistic.

    PYTHONPATH=src .venv/bin/python benchmarks/serve.py [--method auto] [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from pellucid.demo import train_credit_model
from pellucid.serve import create_app, running_server


def one_row_payloads(X, n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    rows = json.loads(X.to_json(orient="records"))
    return [json.dumps({"rows": [rows[i]]}).encode() for i in rng.integers(0, len(rows), n)]


def median_ms(fn, payloads, repeats: int) -> float:
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        fn(payloads[i % len(payloads)])
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def load_test(url: str, path: str, payloads, *, requests: int, seconds: float, threads: int, key):
    """Send up to `requests` requests or stop after `seconds`; latency of each, in ms."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        headers = {"Content-Type": "application/json", "X-API-Key": key}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            while time.perf_counter() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t = time.perf_counter()
                r = client.post(path, content=payloads[i % len(payloads)])
                dt = 1000 * (time.perf_counter() - t)
                with lock:
                    latencies.append(dt)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(worker) for _ in range(threads)]:
            f.result()
    wall = time.perf_counter() - start
    lat = np.array(latencies)
    return {
        "requests": len(lat),
        "statuses": statuses,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "throughput_rps": len(lat) / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--method", default="auto")
    ap.add_argument("--n-background", type=int, default=100, help="explainer background rows")
    ap.add_argument("--rows", type=int, default=5000, help="rows of synthetic credit data")
    ap.add_argument("--repeats", type=int, default=200, help="one-row calls for the medians")
    ap.add_argument("--requests", type=int, default=2000, help="load test: most requests")
    ap.add_argument("--seconds", type=float, default=30.0, help="load test: time limit")
    ap.add_argument("--threads", type=int, default=8, help="load test: client threads")
    args = ap.parse_args()

    parts = train_credit_model(args.rows)
    model, X_train, X_test = parts["model"], parts["X_train"], parts["X_test"]
    key = "bench"
    app = create_app(
        model, X_train, api_key=key, explainer=args.method, n_background=args.n_background
    )
    service = app.state.service
    name, explainer = service.explainer(None)
    payloads = one_row_payloads(X_test, 500)
    frames = [service.rows.parse(json.loads(p)["rows"], max_rows=1) for p in payloads]
    print(f"model: {type(model).__name__}, method: {name}, background rows: {len(service.sample)}")

    lib_explain = median_ms(lambda i: explainer.explain(frames[i]), list(range(500)), args.repeats)
    lib_predict = median_ms(
        lambda i: service.model.predict(frames[i]), list(range(500)), args.repeats
    )
    in_process = median_ms(lambda p: service.explain(json.loads(p)), payloads, args.repeats)

    results = {}
    with running_server(app) as url:
        headers = {"Content-Type": "application/json", "X-API-Key": key}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for p in payloads[:20]:  # warm up (numba compilation, first explainer call)
                assert client.post("/explain", content=p).status_code == 200
            http_explain = median_ms(
                lambda p: client.post("/explain", content=p), payloads, args.repeats
            )
            http_predict = median_ms(
                lambda p: client.post("/predict", content=p), payloads, args.repeats
            )
        for path in ("/predict", "/explain"):
            results[path] = load_test(
                url,
                path,
                payloads,
                requests=args.requests,
                seconds=args.seconds,
                threads=args.threads,
                key=key,
            )

    print("\none row, sequential, median of", args.repeats, "calls (ms)")
    print(f"  library explainer.explain     {lib_explain:8.2f}")
    print(f"  library Model.predict         {lib_predict:8.2f}")
    print(f"  service.explain in process    {in_process:8.2f}")
    print(
        f"  HTTP POST /explain            {http_explain:8.2f}   ratio to library {http_explain / lib_explain:.2f}"
    )
    print(
        f"  HTTP POST /predict            {http_predict:8.2f}   ratio to library {http_predict / lib_predict:.2f}"
    )
    goal = "met" if http_explain < 20 else "NOT met"
    print(f"  goal /explain < 20 ms median: {goal}")
    print(
        f"\nload test: <= {args.requests} requests or {args.seconds:.0f} s, {args.threads} client threads, one row each"
    )
    print("| endpoint | requests | statuses | p50 ms | p99 ms | requests/s |")
    print("|---|---|---|---|---|---|")
    for path, r in results.items():
        print(
            f"| {path} | {r['requests']} | {r['statuses']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['throughput_rps']:.0f} |"
        )


if __name__ == "__main__":
    main()
