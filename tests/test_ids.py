"""Server-assigned ids: valid time-ordered UUIDs, distinct, increasing, and distinct across
forked workers."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from fhir_sandbox import ids
from fhir_sandbox.ids import new_id


def test_ids_are_version_7_uuids_distinct_and_increasing() -> None:
    made = [new_id() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    assert made == sorted(made)  # the text sorts like the creation order
    parsed = uuid.UUID(made[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == made[0]
    assert abs((parsed.int >> 80) - time.time_ns() // 1_000_000) < 60_000  # the millisecond


def test_ids_keep_increasing_when_the_clock_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    before = [new_id() for _ in range(3)]
    monkeypatch.setattr(ids.time, "time_ns", lambda: 1_000_000_000_000_000_000)  # 2001
    after = [new_id() for _ in range(5000)]  # more than one millisecond's 4,096 counts
    assert before + after == sorted(before + after)
    assert len(set(after)) == 5000


def test_ids_made_on_many_threads_are_distinct() -> None:
    made: list[str] = []

    def make() -> None:
        made.extend(new_id() for _ in range(5000))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 20_000


def test_a_forked_process_does_not_repeat_its_parents_ids() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then exit without running pytest's teardown
        os.write(write_end, new_id().encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode()
    assert uuid.UUID(child).version == 7
    assert child != new_id()
