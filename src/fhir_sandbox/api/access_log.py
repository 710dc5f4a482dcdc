"""The access log: one JSON line per request, handed to `logging` in batches.

A log record per request cost ~33 µs of the ~150 µs of CPU a read takes on the benchmark's
one core (benchmarks/README.md, finding 18): the logging machinery and a write per line.
Lines are gathered here and passed to the `fhir_sandbox.access` logger as one record
holding several lines: when `max_lines` have gathered, at the latest `max_delay_s` after
the first of them, and when the server stops. Every line carries its own `time`, so a
batch reads like separate records. 64 lines keep a batch's writing (~0.3 ms) out of the
read's p99; 256 and 32 gave the same throughput.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

import orjson
from starlette.types import Scope

from fhir_sandbox.interactions.versions import instant

LOGGER = logging.getLogger("fhir_sandbox.access")

#: (time.time(), request id, method, path, query string, status, seconds taken)
_Request = tuple[float, str, str | None, str | None, bytes, int, float]


class AccessLog:
    def __init__(
        self, logger: logging.Logger = LOGGER, max_lines: int = 64, max_delay_s: float = 0.5
    ) -> None:
        self.logger, self.max_lines, self.max_delay_s = logger, max_lines, max_delay_s
        self._requests: list[_Request] = []
        self._lock = threading.Lock()  # lines come from the event loop; flushes from anywhere

    def record(self, request_id: str, scope: Scope, status: int, started: float) -> None:
        """The request's line (`started`: its `time.perf_counter()` at arrival). Only its
        facts are kept here; the text is made when the batch is written."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        took = time.perf_counter() - started
        request = (time.time(), request_id, scope.get("method"), scope.get("path"),
                   scope.get("query_string", b""), status, took)  # fmt: skip
        with self._lock:
            self._requests.append(request)
            gathered = len(self._requests)
        if gathered >= self.max_lines:
            self.flush()
        elif gathered == 1:
            self._flush_later()

    def flush(self) -> None:
        """Hand what has gathered to the logger now."""
        with self._lock:
            requests, self._requests = self._requests, []
        if requests:
            self.logger.info("\n".join(_line(*request) for request in requests))

    def _flush_later(self) -> None:
        """A flush `max_delay_s` from now (one that finds the lines gone does nothing)."""
        try:
            asyncio.get_running_loop().call_later(self.max_delay_s, self.flush)
        except RuntimeError:  # not on an event loop: no one to come back later
            self.flush()


def _line(
    at: float, request_id: str, method: str | None, path: str | None, query: bytes,
    status: int, took: float,
) -> str:  # fmt: skip
    return orjson.dumps({
        "time": instant(datetime.fromtimestamp(at, UTC)),
        "request_id": request_id,
        "method": method,
        "path": path,
        "query": query.decode("latin-1"),
        "status": status,
        "ms": round(took * 1000, 2),
    }).decode()  # fmt: skip
