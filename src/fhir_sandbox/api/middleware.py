"""Cross-cutting HTTP behaviour: request ids, one access-log line per request, body limit.

Pure ASGI middleware (not BaseHTTPMiddleware) to keep the read path cheap.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("fhir_sandbox.access")


class RequestIdMiddleware:
    """Echo the client's X-Request-Id (or make one) and log one JSON line per request."""

    def __init__(self, app: ASGIApp, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:200] or uuid.uuid4().hex
        if b"x-request-id" not in headers:
            scope["headers"] = [*scope.get("headers", []), (b"x-request-id", request_id.encode())]
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log_requests:
                access_log.info(
                    json.dumps(
                        {
                            "request_id": request_id,
                            "method": scope.get("method"),
                            "path": scope.get("path"),
                            "query": scope.get("query_string", b"").decode("latin-1"),
                            "status": status["code"],
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                        }
                    )
                )
