"""A synchronous in-process HTTP client for an ASGI app (httpx's ASGITransport on one event loop).

Starlette's TestClient is deprecated with httpx; this keeps the service's tests
in-process and fast without a socket.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


class ASGIClient:
    def __init__(self, app: Any, headers: dict[str, str] | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(
            transport=transport, base_url="http://service", headers=headers, timeout=60
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()

    def __enter__(self) -> ASGIClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
