"""A minimal headless-Chromium driver over the DevTools protocol on a pipe.

Chromium started with ``--remote-debugging-pipe`` reads protocol commands
from fd 3 and writes replies and events to fd 4, each message a JSON text
ended by a NUL byte. That needs no websocket library and no open port.
The driver records every console message, uncaught exception, log entry and
network request of the page, so a test can assert there were none it did not
expect.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _high_fd(fd: int) -> int:
    """Move fd above 9 so that moving the pipe ends onto 3 and 4 cannot clobber one another."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class Chromium:
    """``with Chromium(binary, profile_dir) as browser: page = browser.open(url)``."""

    def __init__(self, binary: str, profile_dir: str | Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        to_child_r, to_child_w = (_high_fd(fd) for fd in os.pipe())
        from_child_r, from_child_w = (_high_fd(fd) for fd in os.pipe())

        def child_fds() -> None:  # runs in the child between fork and exec
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            close_fds=False,  # our pipe ends are close-on-exec; fds 3 and 4 must stay open
            preexec_fn=child_fds,  # noqa: PLW1509 - the child runs only dup2 before exec
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._write = os.fdopen(to_child_w, "wb", buffering=0)
        self._read = os.fdopen(from_child_r, "rb", buffering=0)
        self._next_id = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._events_changed = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- protocol ------------------------------------------------------------
    def _read_loop(self) -> None:
        buf = b""
        while True:
            chunk = self._read.read(65536)
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        q = self._replies.get(msg["id"])
                    if q is not None:
                        q.put(msg)
                else:
                    with self._events_changed:
                        self.events.append(msg)
                        self._events_changed.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None):
        with self._lock:
            self._next_id += 1
            cid = self._next_id
            q: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[cid] = q
        msg: dict[str, Any] = {"id": cid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._write.write(json.dumps(msg).encode() + b"\0")
        try:
            reply = q.get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(f"No reply to {method} within {self.timeout} s") from None
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, session: str, since: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        with self._events_changed:
            while True:
                for ev in self.events[since:]:
                    if ev.get("method") == method and ev.get("sessionId") == session:
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"No {method} event within {self.timeout} s")
                self._events_changed.wait(left)

    # -- pages -----------------------------------------------------------------
    def open(self, url: str, width: int = 1280, height: int = 900) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        page.resize(width, height)
        since = len(self.events)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session, since)
        return page

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (TimeoutError, RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self._write, self._read):
            try:
                f.close()
            except OSError:
                pass
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def _events(self, method: str) -> list[dict[str, Any]]:
        return [
            ev["params"]
            for ev in list(self.browser.events)
            if ev.get("method") == method and ev.get("sessionId") == self.session
        ]

    @property
    def console_errors(self) -> list[str]:
        """Console errors/asserts, uncaught exceptions and error-level log entries."""
        out = []
        for p in self._events("Runtime.consoleAPICalled"):
            if p.get("type") in ("error", "assert"):
                out.append(
                    "console: " + " ".join(str(a.get("value", a)) for a in p.get("args", []))
                )
        for p in self._events("Runtime.exceptionThrown"):
            out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
        for p in self._events("Log.entryAdded"):
            entry = p.get("entry", {})
            if entry.get("level") == "error":
                out.append(f"log: {entry.get('text')} ({entry.get('url', '')})")
        return out

    @property
    def requests(self) -> list[str]:
        """The URL of every request the page made (data: URLs included)."""
        return [p["request"]["url"] for p in self._events("Network.requestWillBeSent")]

    @property
    def failed_requests(self) -> list[str]:
        return [json.dumps(p) for p in self._events("Network.loadingFailed")]

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def resize(self, width: int, height: int, mobile: bool = False) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def screenshot(self, full_page: bool = False) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def pdf(self) -> bytes:
        return base64.b64decode(self.send("Page.printToPDF", {"printBackground": True})["data"])
