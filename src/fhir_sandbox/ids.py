"""Server-assigned ids: time-ordered UUIDs (version 7, RFC 9562), without a system call each.

Random (version 4) ids scattered every new resource across every B-tree keyed by id — the
version table's key, the current-version table, each index table's owner index — so a
100-create transaction dirtied over a thousand pages and the SQLite database grew by half
again what the same resources take when loaded (benchmarks/README.md). Version 7 ids start
with the millisecond and then a counter, so this process's ids sort in creation order and
new rows land at the right edge of those B-trees.

The remaining 62 bits are random, from the `random` module's generator — seeded from the
kernel at start-up and reseeded in every forked child — so worker processes that share a
millisecond and counter still differ. `uuid.uuid4()` read the kernel for every id: ~8 % of
a search's time on this machine (every searchset Bundle gets an id). These ids need to be
unique, not unguessable.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

_COUNTER_LIMIT = 1 << 12  # rand_a: 12 bits of counter within one millisecond
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> str:
    """A version-7 UUID as text; later calls in this process give larger ids."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms, _counter = now_ms, 0
        else:  # the same millisecond (or the clock went back): count on from the last id
            _counter += 1
            if _counter == _COUNTER_LIMIT:
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    value = (ms & (1 << 48) - 1) << 80 | 0x7 << 76 | counter << 64
    value |= 0b10 << 62 | random.getrandbits(62)
    return str(uuid.UUID(int=value))
