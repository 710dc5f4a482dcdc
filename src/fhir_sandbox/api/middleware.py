"""Cross-cutting HTTP behaviour: request ids and one access-log line per request.

Pure ASGI middleware (not BaseHTTPMiddleware) to keep the request path cheap; the fast lane
(api/fastlane.py) uses `request_id_of` and the same AccessLog (api/access_log.py) for the
requests it answers itself.
"""

from __future__ import annotations

import os
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_sandbox.api.access_log import AccessLog


def request_id_of(scope: Scope) -> tuple[str, bool]:
    """(the client's X-Request-Id, or a new one; whether the client sent it)."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")[:200]
            if given:
                return given, True
    return os.urandom(16).hex(), False


class RequestIdMiddleware:
    """Echo the client's X-Request-Id (or make one) and log one JSON line per request
    (unless `access_log` is None)."""

    def __init__(self, app: ASGIApp, access_log: AccessLog | None = None) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id, given = request_id_of(scope)
        if not given:
            scope["headers"] = [*scope.get("headers", []), (b"x-request-id", request_id.encode())]
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log is not None:
                self.access_log.record(request_id, scope, status, started)
