"""The HTTP explanation service (FastAPI + uvicorn; the ``serve`` extra).

``create_app(model, background)`` returns the FastAPI app; ``pellucid serve``
runs it with uvicorn. Importing this module imports FastAPI, so nothing
outside ``pellucid.serve`` imports it.
"""

from __future__ import annotations

try:
    from ._app import API_KEY_ENV, create_app
except ImportError as exc:  # pragma: no cover - depends on the environment
    if exc.name in ("fastapi", "starlette"):
        raise ImportError(
            "The pellucid service needs FastAPI and uvicorn: pip install 'pellucid[serve]'."
        ) from exc
    raise

from ._rows import RequestError, RowSchema
from ._run import free_port, running_server
from ._service import Service

__all__ = [
    "API_KEY_ENV",
    "RequestError",
    "RowSchema",
    "Service",
    "create_app",
    "free_port",
    "running_server",
]
