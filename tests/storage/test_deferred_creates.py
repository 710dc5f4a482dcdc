"""DeferredCreates (storage/bound.py): held creates are stored before anything reads or
writes past them, in write order, and never lost — on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from repository_contract import REGISTRY, Tenant, put, remove

from fhir_sandbox.search.parse import parse_search
from fhir_sandbox.storage import bound
from fhir_sandbox.storage.base import HistoryFilter, Repository, Session
from fhir_sandbox.storage.bound import DeferredCreates


def org(number: int, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": f"o{number}", "name": f"Org {number}", **extra}


def names(session: Session, params: list[tuple[str, str]]) -> list[str]:
    query = parse_search("Organization", params, REGISTRY).query
    return sorted(v.id for v in session.search(query, 0, 100))


def test_held_creates_are_visible_to_every_later_read(repo: Repository, tenant: Tenant) -> None:
    with repo.session(tenant("a"), write=True) as outer:
        session = DeferredCreates(outer)
        put(session, org(1))
        assert session.current("Organization", "o1") is not None  # a read flushes
        put(session, org(2))
        assert names(session, [("name", "Org")]) == ["o1", "o2"]  # so does a search
        put(session, org(3))
        assert session.history_count(HistoryFilter(resource_type="Organization")) == 3
        put(session, org(4))
        assert session.max_seq() > 0
        put(session, org(5))
        session.flush()
    with repo.session(tenant("a")) as check:
        assert names(check, [("name", "Org")]) == ["o1", "o2", "o3", "o4", "o5"]


def test_sequence_numbers_follow_the_order_of_the_writes(repo: Repository, tenant: Tenant) -> None:
    with repo.session(tenant("a"), write=True) as outer:
        put(outer, org(9))
    with repo.session(tenant("a"), write=True) as outer:
        session = DeferredCreates(outer)
        put(session, org(1))
        put(session, org(2))
        put(session, org(9, active=False), version=2)  # an update flushes the held creates
        remove(session, "Organization", "o2", version=2)
        put(session, org(3))
        session.flush()
    with repo.session(tenant("a")) as check:
        newest_first = check.history(HistoryFilter(), 10)
    written = [(v.id, v.version) for v in reversed(newest_first)]
    assert written == [("o9", 1), ("o1", 1), ("o2", 1), ("o9", 2), ("o2", 2), ("o3", 1)]


def test_many_held_creates_are_flushed_in_bounded_batches(
    repo: Repository, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bound, "HOLD_AT_MOST", 7)
    batches: list[int] = []
    with repo.session(tenant("a"), write=True) as outer:
        original = outer.insert_new

        def recording(versions: list[Any]) -> None:
            batches.append(len(versions))
            original(versions)

        monkeypatch.setattr(outer, "insert_new", recording)
        session = DeferredCreates(outer)
        for number in range(20):
            put(session, org(number))
        session.flush()
    assert batches == [7, 7, 6]
    with repo.session(tenant("a")) as check:
        assert len(names(check, [("name", "Org")])) == 20


def test_a_failure_before_the_flush_stores_nothing(repo: Repository, tenant: Tenant) -> None:
    with pytest.raises(RuntimeError), repo.session(tenant("a"), write=True) as outer:
        session = DeferredCreates(outer)
        put(session, org(1))
        session.current("Organization", "o1")  # flushed into the unit of work
        put(session, org(2))
        raise RuntimeError("the transaction failed")
    with repo.session(tenant("a")) as check:
        assert names(check, [("name", "Org")]) == []
