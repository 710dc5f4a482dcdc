"""heap.py: what lives as long as the process is frozen out of the cyclic collector, the
young generation is collected less often, and both are given back when the last holder
ends (a server's lifespan is one holder)."""

from __future__ import annotations

import gc
from pathlib import Path

from fhir_sandbox.config import Settings
from fhir_sandbox.heap import YOUNG_THRESHOLD, long_lived_objects_frozen
from fhir_sandbox.testing import LiveServer


def _collector_sees(thing: object) -> bool:
    return any(o is thing for o in gc.get_objects())  # the permanent generation is not listed


def test_a_block_freezes_what_exists_and_gives_the_collector_back() -> None:
    before = gc.get_threshold()
    long_lived = [["built at startup"]]
    with long_lived_objects_frozen():
        assert not _collector_sees(long_lived)
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
        per_request = [["made while serving"]]
        assert _collector_sees(per_request)
    assert gc.get_threshold() == before


def test_overlapping_blocks_restore_only_when_the_last_ends() -> None:
    before = gc.get_threshold()
    first, second = long_lived_objects_frozen(), long_lived_objects_frozen()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # ends before the block it started ahead of
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_a_block_ends_cleanly_when_its_body_raises() -> None:
    before = gc.get_threshold()
    try:
        with long_lived_objects_frozen():
            raise ValueError("the body failed")
    except ValueError:
        pass
    assert gc.get_threshold() == before


def test_a_server_holds_the_collector_while_it_serves(tmp_path: Path) -> None:
    before = gc.get_threshold()
    with LiveServer(Settings(data_dir=tmp_path, log_requests=False, seed_on_start=False)):
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_threshold() == before
