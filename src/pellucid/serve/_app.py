"""The FastAPI application: HTTP in front of :class:`~pellucid.serve._service.Service`.

Bodies are read with a byte cap and parsed here rather than by pydantic, so
that every malformed request is answered with a JSON error naming the row
and field (422), 413 for oversize bodies or batches, 400 for unparseable
JSON, 401 for a missing API key, and never a bare 500.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import pellucid

from ._rows import RequestError
from ._service import Service

__all__ = ["API_KEY_ENV", "create_app"]

API_KEY_ENV = "PELLUCID_API_KEY"
OPEN_PATHS = ("/health",)
log = logging.getLogger("pellucid.serve")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise RequestError(400, f"Bad Content-Length header {declared!r}.") from None
        if size > limit:
            raise RequestError(413, f"Body of {size} bytes exceeds the limit of {limit} bytes.")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:  # chunked bodies have no Content-Length: count as they arrive
            raise RequestError(413, f"Body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(body: bytes) -> Any:
    if not body:
        raise RequestError(400, 'Empty body; send a JSON object {"rows": [...]}.')
    try:
        # NaN/Infinity literals parse to floats here and are refused per cell
        # later, so the error can name the row and field.
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RequestError(400, f"The body is not valid JSON: {exc}") from None


def _error(exc: RequestError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _body_schema(row_schema: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["rows"],
        "properties": {"rows": {"type": "array", "items": row_schema, "minItems": 1}, **extra},
        "additionalProperties": False,
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class _Guard:
    """ASGI middleware: the API key check, and a JSON 500 instead of a crash.

    Plain ASGI rather than ``BaseHTTPMiddleware``, which costs a task and a
    stream copy per request.
    """

    def __init__(self, app: Any, key: str | None) -> None:
        self.app = app
        self.key = key.encode() if key is not None else None

    def _authorised(self, scope: Any) -> bool:
        if self.key is None or scope.get("path") in OPEN_PATHS:
            return True
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-api-key")
        auth = headers.get(b"authorization", b"")
        if given is None and auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        return given is not None and hmac.compare_digest(given, self.key)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorised(scope):
            response = JSONResponse(
                {"error": "Missing or wrong API key (header X-API-Key).", "detail": []},
                status_code=401,
                headers={"WWW-Authenticate": "ApiKey"},
            )
            await response(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:  # noqa: BLE001 - last line of defence: a JSON error, never a crash
            log.exception("Unhandled error serving %s", scope.get("path"))
            if not started:
                response = JSONResponse({"error": "Internal error.", "detail": []}, status_code=500)
                await response(scope, receive, send)


def create_app(
    model: Any,
    background: pd.DataFrame,
    *,
    api_key: str | None = None,
    max_rows: int = 1000,
    max_body_bytes: int = 1_000_000,
    explainer: Any = "auto",
    n_background: int = 100,
    reasons: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    compute_threads: int | None = 1,
    title: str = "pellucid explanation service",
) -> FastAPI:
    """A FastAPI app serving ``model`` with inputs shaped like ``background``.

    Parameters
    ----------
    model:
        A fitted model (or :class:`pellucid.Model`).
    background:
        Training (or representative) data as a DataFrame: its columns, dtypes
        and categories define the request schema; a sample of at most
        ``n_background`` rows is the explainers' background.
    api_key:
        When set (or when the ``PELLUCID_API_KEY`` environment variable is),
        every endpoint but ``/health`` needs header ``X-API-Key: <key>`` (or
        ``Authorization: Bearer <key>``).
    max_rows, max_body_bytes:
        Larger batches or bodies are answered 413.
    explainer:
        ``"auto"`` (the best registered method for the model), a registry
        name, or an object with ``.explain(X) -> Explanation``.
    reasons:
        Defaults for :func:`pellucid.reason_codes` (``exclude``, ``groups``,
        ``templates``, ``output``); a request can exclude more, never less.
    metrics:
        Shown by ``GET /model`` (e.g. ``pellucid.evaluate(...).to_dict()``).
    compute_threads:
        OpenMP/BLAS threads per model call, set process-wide (threadpoolctl)
        when the app is created. The service runs requests in parallel
        threads; letting each one-row ``predict`` also start an OpenMP team
        oversubscribes the cores (a one-row HistGradientBoosting prediction
        measured 321 ms instead of 48 ms on a busy 2-core machine). ``None``
        leaves the limits alone; ``app.state.thread_limits.restore_original_limits()``
        undoes it.
    """
    if max_rows < 1 or max_body_bytes < 1:
        raise ValueError("max_rows and max_body_bytes must be positive.")
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    service = Service(
        model,
        background,
        explainer=explainer,
        n_background=n_background,
        reasons=reasons,
        metrics=metrics,
        max_rows=max_rows,
    )
    row_schema = service.rows.json_schema()
    thread_limits = None
    if compute_threads is not None:
        from threadpoolctl import threadpool_limits

        thread_limits = threadpool_limits(limits=int(compute_threads))
    app = FastAPI(
        title=title,
        version=pellucid.__version__,
        description="Predictions, SHAP-style explanations and reason codes from pellucid.",
    )
    app.state.service = service
    app.state.thread_limits = thread_limits

    app.add_middleware(_Guard, key=key)

    async def handle(request: Request, work: Any) -> JSONResponse:
        try:
            payload = _decode(await _read_body(request, max_body_bytes))
            result = await run_in_threadpool(work, payload)
        except RequestError as exc:
            return _error(exc)
        return JSONResponse(result)

    method_prop = {"method": {"type": "string", "enum": ["auto", *service.methods()]}}

    @app.post("/predict", openapi_extra=_body_schema(row_schema, {}))
    async def predict(request: Request) -> JSONResponse:
        """Model output per row (class probabilities for classifiers) and predicted labels."""
        return await handle(request, service.predict)

    @app.post("/explain", openapi_extra=_body_schema(row_schema, method_prop))
    async def explain(request: Request) -> JSONResponse:
        """Attributions per row: ``{"base_value", "values": {column: value}}``, per output when several."""
        return await handle(request, service.explain)

    reason_props = {
        **method_prop,
        "k": {"type": "integer", "minimum": 1, "maximum": 50, "default": 4},
        "direction": {"type": "string", "enum": ["toward_decline", "toward_approve"]},
        "exclude": {"type": "array", "items": {"type": "string"}},
    }

    @app.post("/reasons", openapi_extra=_body_schema(row_schema, reason_props))
    async def reasons_(request: Request) -> JSONResponse:
        """The k principal reasons per row, in plain sentences (adverse-action reason codes)."""
        return await handle(request, service.reasons)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness; open without an API key."""
        return {"status": "ok"}

    @app.get("/model")
    async def model_info() -> dict[str, Any]:
        """The model, its input schema, explanation methods and metrics."""
        return {
            **service.info(),
            "limits": {"max_rows": max_rows, "max_body_bytes": max_body_bytes},
        }

    return app
