"""Server-assigned ids: valid random UUIDs, distinct, and distinct across forked workers."""

from __future__ import annotations

import os
import uuid

from fhir_sandbox.ids import new_id


def test_ids_are_version_4_uuids_and_distinct() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == ids[0]


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
    assert uuid.UUID(child).version == 4
    assert child != new_id()
