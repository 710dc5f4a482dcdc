"""The access log (api/access_log.py): one JSON line per request, each with its own time,
handed to logging in batches — when full, after a short delay, and when the server stops."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from fhir_sandbox.api.access_log import AccessLog
from fhir_sandbox.config import Settings
from fhir_sandbox.testing import LiveServer

SCOPE: dict[str, Any] = {"method": "GET", "path": "/fhir/Organization", "query_string": b"a=1"}


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for m in self.messages for line in m.split("\n")]


@pytest.fixture()
def captured() -> Any:
    logger = logging.getLogger(f"test.access.{time.monotonic_ns()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = Captured()
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


def test_a_full_batch_is_one_record_of_self_contained_lines(captured: Any) -> None:
    logger, handler = captured
    access = AccessLog(logger, max_lines=3, max_delay_s=3600)

    async def serve() -> int:
        started = time.perf_counter()
        for n in range(2):
            access.record(f"id-{n}", SCOPE, 200, started)
        waiting = len(handler.messages)
        access.record("id-2", SCOPE, 404, started)
        return waiting

    assert asyncio.run(serve()) == 0
    assert len(handler.messages) == 1
    lines = handler.lines()
    assert [line["request_id"] for line in lines] == ["id-0", "id-1", "id-2"]
    assert lines[2]["status"] == 404 and lines[0]["query"] == "a=1"
    assert all(line["time"].endswith("Z") and line["ms"] >= 0 for line in lines)


def test_off_an_event_loop_a_line_is_written_at_once(captured: Any) -> None:
    logger, handler = captured
    AccessLog(logger).record("now", SCOPE, 201, time.perf_counter())
    assert [line["request_id"] for line in handler.lines()] == ["now"]


def test_on_an_event_loop_lines_wait_at_most_the_delay(captured: Any) -> None:
    logger, handler = captured
    access = AccessLog(logger, max_lines=1000, max_delay_s=0.05)

    async def serve() -> list[int]:
        access.record("a", SCOPE, 200, time.perf_counter())
        access.record("b", SCOPE, 200, time.perf_counter())
        seen = [len(handler.messages)]
        await asyncio.sleep(0.2)
        seen.append(len(handler.messages))
        return seen

    assert asyncio.run(serve()) == [0, 1]
    assert [line["request_id"] for line in handler.lines()] == ["a", "b"]


def test_a_disabled_logger_costs_nothing_and_logs_nothing(captured: Any) -> None:
    logger, handler = captured
    logger.setLevel(logging.WARNING)
    access = AccessLog(logger, max_lines=1)
    access.record("x", SCOPE, 200, time.perf_counter())
    access.flush()
    assert handler.messages == []


def test_a_stopping_server_writes_what_it_gathered(tmp_path: Path) -> None:
    handler = Captured()
    access_logger = logging.getLogger("fhir_sandbox.access")
    access_logger.addHandler(handler)
    level = access_logger.level
    access_logger.setLevel(logging.INFO)
    try:
        settings = Settings(data_dir=tmp_path, seed_on_start=False, log_requests=True)
        with LiveServer(settings) as server:
            server.app.state.access_log.max_delay_s = 3600  # only the stop can flush
            for n in range(3):
                httpx.get(f"{server.url}/fhir/Organization", headers={"X-Request-Id": f"s{n}"})
            assert handler.messages == []
    finally:
        access_logger.removeHandler(handler)
        access_logger.setLevel(level)
    ids = [line["request_id"] for line in handler.lines()]
    assert ids == ["s0", "s1", "s2"]
