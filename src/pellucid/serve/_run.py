"""Run an app with uvicorn: in the foreground (``pellucid serve``) or in a background thread
(tests, benchmarks, notebooks), with the same connection limits."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["free_port", "run_server", "running_server", "server_config"]

#: Seconds an idle keep-alive connection stays open.
KEEP_ALIVE_SECONDS = 5
#: Seconds a stopping server waits for requests in flight before cancelling them
#: (which stops their work at the next chunk).
GRACEFUL_SHUTDOWN_SECONDS = 10


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def server_config(
    app: Any, *, host: str, port: int, log_level: str = "warning", **options: Any
) -> Any:
    """uvicorn's Config with the service's limits: short keep-alive, bounded graceful shutdown."""
    import uvicorn

    options = {
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        **options,
    }
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, **options)


def run_server(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
    **options: Any,
) -> None:
    """Serve ``app`` until interrupted (SIGINT/SIGTERM); ``options`` go to ``uvicorn.Config``."""
    import uvicorn

    uvicorn.Server(server_config(app, host=host, port=port, log_level=log_level, **options)).run()


@contextmanager
def running_server(
    app: Any, *, host: str = "127.0.0.1", port: int | None = None, timeout: float = 30.0
) -> Iterator[str]:
    """Serve ``app`` on ``host:port`` (a free port by default) while the block runs; yields the URL."""
    import uvicorn

    port = port or free_port(host)
    server = uvicorn.Server(server_config(app, host=host, port=port, lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start on {host}:{port}.")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
