"""The FastAPI application: HTTP in front of :class:`~pellucid.serve._service.Service`.

Bodies are read with a byte cap and a time limit and parsed here rather
than by pydantic, so that every malformed request is answered with a JSON
error naming the row and field (422), 413 for oversize bodies, batches or
costs, 415 for a body that is not JSON, 408 for a body that stops arriving,
400 for unparseable JSON, 401 for a missing API key, and never a bare 500.
While a request computes, the handler polls the connection: when the client
goes away (or the request runs out of time) the work stops at its next chunk.

Small concurrent ``/explain`` requests are micro-batched (:class:`_Batcher`):
while the compute slots are busy, requests for a method that can batch queue
up, and the next free slot explains all of them in one call
(``Service.explain_many``), each answer byte for byte what it is alone.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .._version import __version__
from ._rows import RequestError, json_object
from ._service import DEFAULT_MAX_COST, CancelFlag, Cancelled, Service

__all__ = ["API_KEY_ENV", "API_KEY_FILE_ENV", "SafeJSONResponse", "create_app", "resolve_api_key"]

API_KEY_ENV = "PELLUCID_API_KEY"
API_KEY_FILE_ENV = "PELLUCID_API_KEY_FILE"
OPEN_PATHS = ("/health",)
#: Seconds between checks, while a request computes, that its client is still there.
POLL_SECONDS = 0.05
#: The same for a request waiting in a batch: its own work is a few rows, so a client
#: that leaves costs little (its time limit is checked as often), and a burst of them
#: would spend its CPU on the polls.
BATCH_POLL_SECONDS = 0.25
#: Seconds a batch waits for more requests when the server is already busy (an idle
#: server explains a request at once).
BATCH_WINDOW = 0.002
log = logging.getLogger("pellucid.serve")


class SafeJSONResponse(JSONResponse):
    """JSON that always encodes: a lone surrogate that reached a message is escaped, not a 500."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def _check_key(key: str, source: str) -> str:
    if not key.strip():
        raise ValueError(
            f"The API key from {source} is empty; give a non-empty key "
            "(or none at all to serve without one)."
        )
    if not all(33 <= ord(c) < 127 for c in key):
        raise ValueError(
            f"The API key from {source} must be printable ASCII without spaces "
            "(clients send it in an HTTP header)."
        )
    return key


def _key_from_file(path: str | os.PathLike[str], source: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"Cannot read the API key file {str(path)!r} ({source}): {exc}") from None
    return _check_key(text.strip(), f"file {str(path)!r}")


def resolve_api_key(
    api_key: str | None = None, api_key_file: str | os.PathLike[str] | None = None
) -> str | None:
    """The key the service requires, or None for an open service.

    From ``api_key``, else the file ``api_key_file`` (its content, stripped),
    else the environment: ``PELLUCID_API_KEY``, or ``PELLUCID_API_KEY_FILE``
    naming a file (keeping the key off the command line and out of process
    listings). An empty key is refused (ValueError): an empty header would
    otherwise authenticate.
    """
    if api_key is not None and api_key_file is not None:
        raise ValueError("Give the API key or a file holding it, not both.")
    if api_key is not None:
        return _check_key(api_key, "the api_key argument")
    if api_key_file is not None:
        return _key_from_file(api_key_file, "api_key_file")
    if API_KEY_ENV in os.environ and API_KEY_FILE_ENV in os.environ:
        raise ValueError(f"Both {API_KEY_ENV} and {API_KEY_FILE_ENV} are set; set one.")
    if API_KEY_FILE_ENV in os.environ:
        return _key_from_file(os.environ[API_KEY_FILE_ENV], API_KEY_FILE_ENV)
    if API_KEY_ENV in os.environ:
        return _check_key(os.environ[API_KEY_ENV], f"environment variable {API_KEY_ENV}")
    return None


def _check_content_type(request: Request) -> None:
    """JSON bodies only (415 otherwise); a body without a Content-Type is read as JSON."""
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media = declared.split(";", 1)[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise RequestError(
        415,
        f"The body must be JSON (Content-Type: application/json); got {declared[:80]!r}.",
        [{"loc": ["headers", "content-type"], "msg": "not JSON"}],
    )


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
        # later, so the error can name the row and field; so are duplicate keys.
        return json.loads(body, object_pairs_hook=json_object)
    except (ValueError, RecursionError) as exc:
        raise RequestError(400, f"The body is not valid JSON: {exc}") from None


def _error(exc: RequestError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return SafeJSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned task's outcome, so asyncio does not report it as lost."""
    if not task.cancelled():
        task.exception()


@dataclass
class _Waiting:
    payload: Any
    rows: int
    cancel: threading.Event
    future: asyncio.Future[Any]


class _Batcher:
    """Requests for one method queue here; each free compute slot takes them all at once.

    The dispatcher holds a compute slot before it takes requests, so batches grow
    with the load: an idle server explains a request at once, a busy one collects
    what arrived while its slots computed (up to ``max_rows`` rows), waiting
    ``window`` seconds more when another batch is running. A request whose client
    has gone is dropped before its batch runs; a batch whose clients have all gone
    stops at its next chunk. The dispatcher ends when the queue is empty.
    """

    def __init__(
        self,
        run: Callable[[Sequence[tuple[Any, CancelFlag | None]]], list[Any]],
        limiter: anyio.CapacityLimiter,
        *,
        max_rows: int,
        window: float,
    ) -> None:
        self.run = run
        self.limiter = limiter
        self.max_rows = max_rows
        self.window = window
        self.loop = asyncio.get_running_loop()
        self.queue: deque[_Waiting] = deque()
        self.dispatcher: asyncio.Task[None] | None = None
        self.running: set[asyncio.Task[None]] = set()
        # Counts the benchmark and the tests read: batches run, requests in them, most in one.
        self.batches = self.requests = self.largest = 0

    def submit(self, payload: Any, rows: int, cancel: threading.Event) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self.loop.create_future()
        self.queue.append(_Waiting(payload, rows, cancel, future))
        if self.dispatcher is None or self.dispatcher.done():
            self.dispatcher = self.loop.create_task(self._dispatch())
        return future

    async def _dispatch(self) -> None:
        while self.queue:
            slot = object()
            await self.limiter.acquire_on_behalf_of(slot)
            try:
                if self.running and self.window > 0:
                    await asyncio.sleep(self.window)
                batch = self._take()
            except BaseException:
                self.limiter.release_on_behalf_of(slot)
                raise
            if not batch:
                self.limiter.release_on_behalf_of(slot)
                continue
            task = self.loop.create_task(self._run(batch, slot))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    def _take(self) -> list[_Waiting]:
        """The queue's first requests, up to ``max_rows`` rows (at least one request)."""
        batch: list[_Waiting] = []
        rows = 0
        while self.queue and (not batch or rows + self.queue[0].rows <= self.max_rows):
            waiting = self.queue.popleft()
            if waiting.future.done():  # its handler has answered already (client gone)
                continue
            if waiting.cancel.is_set():
                waiting.future.set_exception(Cancelled())
                continue
            batch.append(waiting)
            rows += waiting.rows
        return batch

    async def _run(self, batch: list[_Waiting], slot: object) -> None:
        self.batches += 1
        self.requests += len(batch)
        self.largest = max(self.largest, len(batch))
        answers: list[Any] = [Cancelled() for _ in batch]  # if the server stops meanwhile
        try:
            answers = await anyio.to_thread.run_sync(
                self.run, [(w.payload, w.cancel) for w in batch]
            )
        except Exception as exc:  # noqa: BLE001 - a fault of the service: each request's 500
            answers = [exc] * len(batch)
        finally:
            self.limiter.release_on_behalf_of(slot)
            for w, answer in zip(batch, answers, strict=True):
                _settle(w.future, answer)


def _settle(future: asyncio.Future[Any], answer: Any) -> None:
    """Give a waiting request its answer (an exception is raised where it awaits it)."""
    if future.done():
        return
    if isinstance(answer, Exception):
        future.set_exception(answer)
    else:
        future.set_result(answer)


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

    def __init__(
        self,
        app: Any,
        key: str | None,
        open_paths: tuple[str, ...] = OPEN_PATHS,
        server_timing: bool = False,
    ) -> None:
        self.app = app
        self.key = key.encode() if key is not None else None
        self.open_paths = open_paths
        self.server_timing = server_timing

    def _authorised(self, scope: Any) -> bool:
        if self.key is None or scope.get("path") in self.open_paths:
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
            response = SafeJSONResponse(
                {"error": "Missing or wrong API key (header X-API-Key).", "detail": []},
                status_code=401,
                headers={"WWW-Authenticate": "ApiKey"},
            )
            await response(scope, receive, send)
            return
        started = False
        arrived = time.perf_counter()

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if self.server_timing:  # from the request's arrival to its answer's start
                    took = 1000 * (time.perf_counter() - arrived)
                    header = (b"server-timing", f"app;dur={took:.3f}".encode())
                    message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:  # noqa: BLE001 - last line of defence: a JSON error, never a crash
            log.exception("Unhandled error serving %s", scope.get("path"))
            if not started:
                response = SafeJSONResponse(
                    {"error": "Internal error.", "detail": []}, status_code=500
                )
                await response(scope, receive, send)


def create_app(
    model: Any,
    background: pd.DataFrame,
    *,
    api_key: str | None = None,
    api_key_file: str | os.PathLike[str] | None = None,
    max_rows: int = 1000,
    max_body_bytes: int = 1_000_000,
    max_cost: int | None = DEFAULT_MAX_COST,
    body_timeout: float = 10.0,
    request_timeout: float | None = 60.0,
    compute_slots: int | None = None,
    explainer: Any = "auto",
    n_background: int = 100,
    reasons: Mapping[str, Any] | None = None,
    counterfactuals: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    compute_threads: int | None = 1,
    title: str = "pellucid explanation service",
    ui: bool = False,
    explore_rows: pd.DataFrame | None = None,
    explore_target: pd.Series | None = None,
    batch_window: float | None = BATCH_WINDOW,
    server_timing: bool = False,
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
    api_key, api_key_file:
        When a key is given (or the file holding it, or the environment
        variable ``PELLUCID_API_KEY``, or ``PELLUCID_API_KEY_FILE`` naming a
        file), every endpoint but ``/health`` needs header ``X-API-Key: <key>``
        (or ``Authorization: Bearer <key>``). An empty key is refused.
    max_rows, max_body_bytes:
        Larger batches or bodies are answered 413.
    max_cost:
        Most model evaluations one request may cost (rows x the method's
        evaluations per row, shown by ``GET /model``); costlier requests are
        answered 413 before any work. ``None``: no limit.
    body_timeout:
        Seconds to receive a whole body; a body that stops arriving is answered 408.
    request_timeout:
        Seconds a request may compute; then its work stops and it is answered
        503. ``None``: no limit. A client that disconnects stops its work too.
    compute_slots:
        Requests computing at once (the others wait their turn, holding no
        thread); default one per core this process may use. More threads than
        cores only compete for the GIL with the event loop, which then answers
        ``/health`` late.
    explainer:
        ``"auto"`` (the best registered method for the model), a registry
        name, or an object with ``.explain(X) -> Explanation``.
    reasons:
        Defaults for :func:`pellucid.reason_codes` (``exclude``, ``groups``,
        ``templates``, ``output``); a request can exclude more, never less.
    counterfactuals:
        Settings of :class:`pellucid.Counterfactuals` for ``POST /counterfactual``
        (``immutable``, ``actions``, ``cost``, ``plausibility``, ``engine``,
        ``time_limit``; default: the ``reasons`` exclusions immutable, 2 s per answer).
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
    ui, explore_rows, explore_target:
        Serve the explorer page at ``/`` over ``explore_rows`` (default: the
        background) and their true outcomes ``explore_target`` (optional);
        giving ``explore_rows`` implies ``ui``. The page and its files are
        open without the API key (they hold no data); the page asks for the
        key and sends it with every request.
    batch_window:
        Micro-batching of small concurrent ``/explain`` requests (TreeShap, and
        sampled methods seeded per row): while the compute slots are busy, such
        requests queue, and a free slot explains the queue in one call, each
        answer the same bytes as alone; a batch waits up to this many seconds
        for more requests when another batch is running. ``None``: every
        request is explained on its own.
    server_timing:
        Add ``Server-Timing: app;dur=<ms>`` to every answer: the time from the
        request's arrival to the start of its answer.
    """
    if max_rows < 1 or max_body_bytes < 1:
        raise ValueError("max_rows and max_body_bytes must be positive.")
    if not body_timeout > 0 or (request_timeout is not None and not request_timeout > 0):
        raise ValueError("body_timeout and request_timeout must be positive seconds.")
    key = resolve_api_key(api_key, api_key_file)
    slots = int(compute_slots) if compute_slots is not None else _cores()
    if slots < 1:
        raise ValueError(f"compute_slots must be at least 1; got {compute_slots!r}.")
    if batch_window is not None and not batch_window >= 0:
        raise ValueError(f"batch_window must be seconds >= 0 or None; got {batch_window!r}.")
    limiters: list[anyio.CapacityLimiter] = []  # made in the event loop, on first use
    service = Service(
        model,
        background,
        explainer=explainer,
        n_background=n_background,
        reasons=reasons,
        counterfactuals=counterfactuals,
        metrics=metrics,
        max_rows=max_rows,
        max_cost=max_cost,
    )
    row_schema = service.rows.json_schema()
    thread_limits = None
    if compute_threads is not None:
        from threadpoolctl import threadpool_limits

        thread_limits = threadpool_limits(limits=int(compute_threads))
    app = FastAPI(
        title=title,
        version=__version__,
        description="Predictions, SHAP-style explanations and reason codes from pellucid.",
        default_response_class=SafeJSONResponse,
    )
    app.state.service = service
    app.state.thread_limits = thread_limits
    batchers: dict[str, _Batcher] = {}  # per batchable method, made in the event loop
    app.state.batchers = batchers

    explorer = None
    if ui or explore_rows is not None:
        from .explorer import Explorer

        rows = background if explore_rows is None else explore_rows
        explorer = Explorer(service, rows, explore_target)
    app.state.explorer = explorer
    open_paths = OPEN_PATHS + (UI_PATHS if explorer is not None else ())
    app.add_middleware(_Guard, key=key, open_paths=open_paths, server_timing=server_timing)

    async def read(request: Request) -> Any:
        _check_content_type(request)
        try:
            body = await asyncio.wait_for(_read_body(request, max_body_bytes), body_timeout)
        except TimeoutError:
            raise RequestError(408, f"The body did not arrive within {body_timeout:g} s.") from None
        return _decode(body)

    async def handle(request: Request, work: Any, batched: bool = False) -> Response:
        try:
            payload = await read(request)
        except RequestError as exc:
            # A half-read body leaves the connection unusable: close it.
            headers = {"Connection": "close"} if exc.status in (408, 413) else None
            return _error(exc, headers)
        key = service.batch_key(payload) if batched and batch_window is not None else None
        return await compute(request, work, payload, key)

    def batcher(key: str) -> _Batcher:
        found = batchers.get(key)
        if found is None or found.loop is not asyncio.get_running_loop():
            found = batchers[key] = _Batcher(
                service.explain_many,
                limiters[0],
                max_rows=service.batch_rows(key),
                window=batch_window or 0.0,
            )
        return found

    async def compute(
        request: Request, work: Any, payload: Any, key: str | None = None
    ) -> Response:
        cancel = threading.Event()
        if not limiters:
            limiters.append(anyio.CapacityLimiter(slots))
        task: asyncio.Future[Any]
        if key is not None:
            task = batcher(key).submit(payload, len(payload["rows"]), cancel)
        else:
            task = asyncio.ensure_future(
                anyio.to_thread.run_sync(work, payload, cancel, limiter=limiters[0])
            )
        task.add_done_callback(_consume)
        try:
            poll = POLL_SECONDS if key is None else BATCH_POLL_SECONDS
            return await _answer(request, task, cancel, poll)
        finally:
            cancel.set()  # whatever ended the wait (server shutdown included) ends the work

    async def _answer(
        request: Request, task: asyncio.Future[Any], cancel: threading.Event, poll: float
    ) -> Response:
        loop = asyncio.get_running_loop()
        deadline = None if request_timeout is None else loop.time() + request_timeout
        while not task.done():
            await asyncio.wait({task}, timeout=poll)
            if task.done():
                break
            if await request.is_disconnected():
                cancel.set()
                log.info("Client left %s; its work stops at the next chunk.", request.url.path)
                return Response(status_code=499)  # nobody is listening
            if deadline is not None and loop.time() > deadline:
                cancel.set()
                return _error(
                    RequestError(
                        503,
                        f"The request took longer than {request_timeout:g} s and was stopped; "
                        "send fewer rows or try again later.",
                    )
                )
        try:
            return SafeJSONResponse(task.result())
        except RequestError as exc:
            return _error(exc)
        except Cancelled:  # set by shutdown between the last poll and the result
            return Response(status_code=499)

    method_prop = {"method": {"type": "string", "enum": ["auto", *service.methods()]}}

    @app.post("/predict", openapi_extra=_body_schema(row_schema, {}))
    async def predict(request: Request) -> Response:
        """Model output per row (class probabilities for classifiers) and predicted labels."""
        return await handle(request, service.predict)

    @app.post("/explain", openapi_extra=_body_schema(row_schema, method_prop))
    async def explain(request: Request) -> Response:
        """Attributions per row: ``{"base_value", "values": {column: value}}``, per output when several."""
        return await handle(request, service.explain, batched=True)

    reason_props = {
        **method_prop,
        "max_reasons": {"type": "integer", "minimum": 1, "maximum": 50, "default": 4},
        "k": {"type": "integer", "minimum": 1, "maximum": 50, "deprecated": True},
        "direction": {"type": "string", "enum": ["toward_decline", "toward_approve"]},
        "exclude": {"type": "array", "items": {"type": "string"}},
    }

    @app.post("/reasons", openapi_extra=_body_schema(row_schema, reason_props))
    async def reasons_(request: Request) -> Response:
        """The ``max_reasons`` principal reasons per row, in plain sentences (adverse-action reason codes; ``k`` is the field's old name)."""
        return await handle(request, service.reasons)

    counterfactual_props = {
        "desired": {
            "description": "a class, or [low, high] on the positive class's probability "
            "(binary) or the prediction (regressors); default: the other class",
        },
        "k": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
    }

    @app.post("/counterfactual", openapi_extra=_body_schema(row_schema, counterfactual_props))
    async def counterfactual_(request: Request) -> Response:
        """Per row, the cheapest allowed changes that give the desired outcome: changes, cost,
        certificate, validity (re-checked with the model), new prediction and a sentence."""
        return await handle(request, service.counterfactual)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness; open without an API key (``HEAD /health`` too)."""
        return {"status": "ok"}

    @app.head("/health", include_in_schema=False)
    async def health_head() -> Response:
        return Response(status_code=200)

    @app.get("/model")
    async def model_info() -> dict[str, Any]:
        """The model, its input schema, explanation methods, metrics and limits (costs per row)."""
        info = service.info()
        limits = {
            **info["limits"],
            "max_body_bytes": max_body_bytes,
            "body_timeout_s": body_timeout,
            "request_timeout_s": request_timeout,
            "compute_slots": slots,
        }
        return {**info, "limits": limits}

    if explorer is not None:
        _explorer_routes(app, explorer, handle, compute)
    return app


#: The explorer's page and files: open without an API key (they hold no data).
UI_PATHS = ("/", *(f"/explorer/static/{name}" for name in ("app.js", "app.css")))
#: The page may load only its own files and talk only to this server.
UI_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _explorer_routes(app: FastAPI, explorer: Any, handle: Any, compute: Any) -> None:
    """The explorer's page, its files, and the endpoints its views need."""
    from .explorer import STATIC_FILES, static_file

    def asset(name: str) -> Response:
        try:
            content = static_file(name)
        except RequestError as exc:
            return _error(exc)
        return Response(content, media_type=STATIC_FILES[name], headers=UI_HEADERS)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return asset("index.html")

    @app.get("/explorer/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        return asset(name)

    def query(request: Request) -> dict[str, str]:
        return dict(request.query_params)

    @app.get("/explorer/meta")
    async def meta(request: Request) -> Response:
        """The model, the explored rows' features with observed ranges, colour scales."""
        return await compute(request, explorer.meta, query(request))

    @app.get("/explorer/rows")
    async def rows(request: Request) -> Response:
        """A page of rows with predictions: ``offset``, ``limit``, ``sort``, ``desc``, ``q``
        (comma-separated filters like ``income>50000``, ``housing=rent``, or free text)."""
        return await compute(request, explorer.page, query(request))

    @app.get("/explorer/row")
    async def row(request: Request) -> Response:
        """One explored row (``row``: its position) with its prediction."""
        return await compute(request, explorer.row, query(request))

    @app.get("/explorer/global")
    async def global_(request: Request) -> Response:
        """Mean |attribution| per feature; with ``feature``, its partial dependence."""
        return await compute(request, explorer.global_view, query(request))

    @app.post("/explorer/ice")
    async def ice(request: Request) -> Response:
        """``{"rows": [one row], "feature": name}``: the ICE curve of that feature for the row."""
        return await handle(request, explorer.ice)

    @app.post("/explorer/anchor")
    async def anchor(request: Request) -> Response:
        """``{"rows": [one row]}``: the anchor rule that keeps its predicted class."""
        return await handle(request, explorer.anchor)

    @app.post("/explorer/counterfactual")
    async def counterfactual(request: Request) -> Response:
        """``{"rows": [one row]}``: the cheapest change that flips its decision."""
        return await handle(request, explorer.counterfactual)
