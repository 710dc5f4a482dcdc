"""Stored settings (the search registry's fingerprint): writers racing on one key never fail,
and the last write wins — on every backend."""

from __future__ import annotations

import threading
import uuid

from fhir_sandbox.storage.base import Repository


def test_racing_writers_of_one_setting_never_fail(repo: Repository) -> None:
    key = f"test-{uuid.uuid4().hex[:8]}"  # PostgreSQL: one database serves the whole run
    start, failures = threading.Barrier(4), []

    def write(name: str) -> None:
        start.wait()
        try:
            for number in range(50):
                repo.put_setting(key, f"{name}-{number}")
        except Exception as exc:  # collected: the assertion below names it
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert (repo.get_setting(key) or "").endswith("-49")
    repo.put_setting(key, "last")
    assert repo.get_setting(key) == "last"
