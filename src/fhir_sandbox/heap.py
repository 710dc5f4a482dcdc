"""The cyclic garbage collector, set for a long-running process (a server, a load).

What exists once a process has started (modules, models, the search registry, the app)
lives as long as the process, yet every full collection walks it again: a server holds
~130,000 such containers and each full pass took ~60 ms, which 100-entry transactions
triggered every ~25 Bundles. And one parsed Bundle crosses the young generation's threshold
(700 net allocations) dozens of times, each time scanning the live request and promoting it
towards the old generations for nothing: request data dies by reference counting, not by
the collector. Together ~15 % of a transaction's CPU (benchmarks/README.md, finding 17).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Net allocations of tracked containers between young-generation collections (CPython: 700).
YOUNG_THRESHOLD = 10_000

_lock = threading.Lock()
_holders = 0
_saved_thresholds: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """Move everything alive now out of the collector's reach and collect the young
    generation less often while the block runs. Blocks may overlap (several apps in one
    process, as in tests): the last one to end puts the collector back as it was."""
    _enter()
    try:
        yield
    finally:
        _leave()


def freeze_for_good() -> None:
    """The same for the rest of a process that never gives the collector back (a worker)."""
    with _lock:
        _freeze()


def _enter() -> None:
    global _holders, _saved_thresholds
    with _lock:
        if _holders == 0:
            _saved_thresholds = gc.get_threshold()
        _holders += 1
        _freeze()


def _freeze() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, *_saved_thresholds[1:])
    gc.collect()
    gc.freeze()


def _leave() -> None:
    global _holders
    with _lock:
        _holders -= 1
        if _holders == 0:
            gc.set_threshold(*_saved_thresholds)
            gc.unfreeze()
