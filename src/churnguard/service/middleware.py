"""Request ids and one access-log line per request (method, path, status, time, user)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LatestVersionAlias", "RequestLog"]

log = logging.getLogger("churnguard.service.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestLog:
    """ASGI middleware: a request id (from ``X-Request-ID`` when safe) echoed back, and a log line.

    The line has no query string, headers or body: keys, cookies, passwords and
    personal data never reach the log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for k, v in scope.get("headers", ()):
            if k == b"x-request-id":
                given = v.decode("latin-1")
        rid = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s %s %d %.1fms user=%s",
                rid,
                scope.get("method"),
                scope.get("path"),
                status,
                (time.perf_counter() - started) * 1000,
                state.get("user", "-"),
            )


class LatestVersionAlias:
    """ASGI middleware: ``/api/<path>`` without a version is served as ``/api/v1/<path>``."""

    def __init__(self, app: ASGIApp, *, version: str = "v1") -> None:
        self.app = app
        self.prefix = f"/api/{version}/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.startswith("/api/")
            and not path.startswith(self.prefix)
            and not re.match(r"^/api/v\d+/", path)
        ):
            scope = dict(scope, path=self.prefix + path[len("/api/") :], raw_path=None)
        await self.app(scope, receive, send)
