"""Worker threads that answer the event loop's own futures.

`loop.run_in_executor` wraps every call in a `concurrent.futures.Future` (a Condition, a
lock taken on each state query) and chains it to an asyncio future through callbacks that
copy its state back on the loop. On a one-core server that bookkeeping held the GIL longer
than the search it carried (a one-hit identifier search: ~25 % of the GIL's time in
`_chain_future`/`_copy_future_state`/`Future.__init__`, benchmarks/README.md). Here a
worker takes (future, call) from a queue and settles the asyncio future directly with one
`call_soon_threadsafe`, which is all the hand-off needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class Workers:
    """`count` threads, started on first use, stopped by `shutdown` (after their work)."""

    def __init__(self, count: int, name: str) -> None:
        self._count, self._name = count, name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def run(self, call: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`call(*args)` on a worker; the future is the running loop's."""
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, call, args))
        return future

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self._count:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, call, args = job
            try:
                result = call(*args)
            except BaseException as exc:  # handed to the awaiting request, like an executor
                _settle(loop, future, None, exc)
            else:
                _settle(loop, future, result, None)

    def shutdown(self) -> None:
        """Let the queued work finish, then stop every thread."""
        with self._lock:
            for _ in self._threads:
                self._jobs.put(None)
            for thread in self._threads:
                thread.join()
            self._threads.clear()


def _settle(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: no one is waiting any more
        loop.call_soon_threadsafe(_set, future, result, error)


def _set(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the request was abandoned while the call ran
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
