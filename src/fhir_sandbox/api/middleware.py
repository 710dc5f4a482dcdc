"""Cross-cutting HTTP behaviour: request ids and one access-log line per request.

Pure ASGI middleware (not BaseHTTPMiddleware) to keep the request path cheap; the fast lane
(api/fastlane.py) uses the same two functions for the requests it answers itself.
"""

from __future__ import annotations

import logging
import os
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("fhir_sandbox.access")


def request_id_of(scope: Scope) -> tuple[str, bool]:
    """(the client's X-Request-Id, or a new one; whether the client sent it)."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")[:200]
            if given:
                return given, True
    return os.urandom(16).hex(), False


def log_access(request_id: str, scope: Scope, status: int, started: float) -> None:
    if access_log.isEnabledFor(logging.INFO):
        line = {
            "request_id": request_id,
            "method": scope.get("method"),
            "path": scope.get("path"),
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        }
        access_log.info(orjson.dumps(line).decode())


class RequestIdMiddleware:
    """Echo the client's X-Request-Id (or make one) and log one JSON line per request."""

    def __init__(self, app: ASGIApp, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

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
            if self.log_requests:
                log_access(request_id, scope, status, started)
