"""``--scheduler``: run a command's work on a Dask cluster through joblib."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._app import fail


@contextmanager
def on_cluster(scheduler: str | None) -> Iterator[Any]:
    """Connect to a Dask scheduler and route joblib work to it; yield the client or None."""
    if scheduler is None:
        yield None
        return
    try:
        from distributed import Client
        from joblib import parallel_config
    except ImportError:
        fail("--scheduler needs dask[distributed]: pip install 'pellucid[dask]'.")
    try:
        client = Client(scheduler)  # waits distributed.comm.timeouts.connect
    except (OSError, ValueError) as exc:
        fail(f"Cannot connect to the Dask scheduler at {scheduler!r}: {exc}")
    try:
        with parallel_config(backend="dask"):
            yield client
    finally:
        client.close()


def to_dask(frame: Any, client: Any) -> Any:
    """Partition rows for the cluster: a few partitions per worker, at most 50,000 rows each."""
    import dask.dataframe as dd

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    parts = max(2 * workers, -(-len(frame) // 50_000))
    return dd.from_pandas(frame, npartitions=max(1, min(parts, len(frame))))
