"""The HTTP explanation service (FastAPI + uvicorn; the ``serve`` extra).

``create_app(model, background)`` returns the FastAPI app; ``pellucid serve``
runs it with uvicorn through :func:`run_server` (which sets the connection
time limits). Importing this module imports FastAPI, so nothing
outside ``pellucid.serve`` imports it.
"""

from __future__ import annotations

try:
    from ._app import API_KEY_ENV, API_KEY_FILE_ENV, create_app, resolve_api_key
except ImportError as exc:  # pragma: no cover - depends on the environment
    if exc.name in ("fastapi", "starlette"):
        raise ImportError(
            "The pellucid service needs FastAPI and uvicorn: pip install 'pellucid[serve]'."
        ) from exc
    raise

from ._rows import RequestError, RowSchema
from ._run import free_port, run_server, running_server
from ._service import DEFAULT_MAX_COST, Service

__all__ = [
    "API_KEY_ENV",
    "API_KEY_FILE_ENV",
    "DEFAULT_MAX_COST",
    "RequestError",
    "RowSchema",
    "Service",
    "create_app",
    "free_port",
    "resolve_api_key",
    "run_server",
    "running_server",
]
