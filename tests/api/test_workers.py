"""The fast lane's worker threads: results, errors and shutdown as an executor gives them."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from fhir_sandbox.api.workers import Workers


def test_results_and_errors_reach_the_awaiting_coroutine() -> None:
    workers = Workers(2, "test")

    def fail() -> None:
        raise ValueError("bad input")

    async def main() -> tuple[int, str]:
        total = await workers.run(sum, [1, 2, 3])
        with pytest.raises(ValueError, match="bad input"):
            await workers.run(fail)
        name = await workers.run(lambda: threading.current_thread().name)
        return total, name

    try:
        total, name = asyncio.run(main())
    finally:
        workers.shutdown()
    assert total == 6
    assert name.startswith("test-") and name != threading.current_thread().name


def test_calls_run_in_parallel_threads() -> None:
    workers, barrier = Workers(3, "test"), threading.Barrier(3, timeout=5)

    async def main() -> list[int]:
        return list(await asyncio.gather(*(workers.run(barrier.wait) for _ in range(3))))

    try:
        arrivals = asyncio.run(main())  # a barrier of 3 passes only if all 3 run at once
    finally:
        workers.shutdown()
    assert sorted(arrivals) == [0, 1, 2]


def test_a_cancelled_request_does_not_disturb_the_workers() -> None:
    workers = Workers(1, "test")

    async def main() -> int:
        slow = workers.run(time.sleep, 0.05)
        slow.cancel()
        return await workers.run(len, "after")

    try:
        assert asyncio.run(main()) == 5
    finally:
        workers.shutdown()


def test_shutdown_finishes_queued_work_and_stops_the_threads() -> None:
    workers, done = Workers(2, "test"), []

    async def main() -> None:
        for n in range(6):
            workers.run(lambda n=n: (time.sleep(0.01), done.append(n)))
        await asyncio.sleep(0)

    asyncio.run(main())
    workers.shutdown()
    assert sorted(done) == list(range(6))
    assert not [t for t in threading.enumerate() if t.name.startswith("test-")]
