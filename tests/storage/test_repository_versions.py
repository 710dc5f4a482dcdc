"""The storage contract (storage/base.py), part one: versions, history, tenants and atomic
write sessions, index maintenance. Every test runs once per backend (conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from repository_contract import ODS, T0, Tenant, found, location, org, put, remove, search

from fhir_sandbox.storage.base import HistoryFilter, Repository, StoredVersion

# -- versions -----------------------------------------------------------------------------


def test_save_and_read_versions(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    first = org("o", "First")
    body = orjson.dumps(first)
    with repo.session(t, write=True) as session:
        assert session.current("Organization", "o") is None
        assert session.max_seq() == 0
        v1 = put(session, first)
        assert v1.seq > 0
        assert session.current("Organization", "o") == v1  # a session sees its own writes
    with repo.session(t) as session:
        current = session.current("Organization", "o")
        assert current == v1
        assert current is not None
        assert current.body == body
        assert (current.version, current.deleted, current.method) == (1, False, "POST")
        assert current.last_updated == T0
        assert session.version("Organization", "o", 1) == v1
        assert session.version("Organization", "o", 2) is None
        assert session.current("Organization", "other") is None
        assert session.current("Location", "o") is None
        assert session.max_seq() == v1.seq

    with repo.session(t, write=True) as session:
        v2 = put(session, org("o", "Second"), version=2, minute=1)
    assert v2.seq > v1.seq
    with repo.session(t) as session:
        assert session.current("Organization", "o") == v2
        assert session.version("Organization", "o", 1) == v1
        assert session.version("Organization", "o", 2) == v2
        assert orjson.loads(v2.body)["name"] == "Second"
        assert session.max_seq() == v2.seq
        assert [v.id for v in session.fetch("Organization", ["o", "missing"])] == ["o"]
        assert session.fetch("Organization", []) == []


def test_one_statement_reads_agree_with_sessions(repo: Repository, tenant: Tenant) -> None:
    """read_current / read_version (the read hot path) answer what a session answers."""
    t, other = tenant("a"), tenant("b")
    with repo.session(t, write=True) as session:
        v1 = put(session, org("o", "First"))
        v2 = put(session, org("o", "Second"), version=2, minute=1)
        v3 = remove(session, "Organization", "o", 3, minute=2)
    assert repo.read_current(t, "Organization", "o") == v3
    assert repo.read_version(t, "Organization", "o", 1) == v1
    assert repo.read_version(t, "Organization", "o", 2) == v2
    assert repo.read_version(t, "Organization", "o", 4) is None
    assert repo.read_current(t, "Organization", "missing") is None
    assert repo.read_current(t, "Location", "o") is None
    assert repo.read_current(other, "Organization", "o") is None  # tenant-scoped
    assert repo.read_version(other, "Organization", "o", 1) is None


def test_delete_marker(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    with repo.session(t, write=True) as session:
        v1 = put(session, org("o", "Gone Soon"))
        v2 = put(session, org("o", "Gone Later"), version=2, minute=1)
        put(session, org("keep", "Gone Never"), minute=2)
        v3 = remove(session, "Organization", "o", 3, minute=3)
    assert v3.deleted and v3.body == b""
    with repo.session(t) as session:
        current = session.current("Organization", "o")
        assert current == v3
        assert current is not None and current.deleted and current.body == b""
        assert session.version("Organization", "o", 2) == v2
        assert [v.id for v in session.fetch("Organization", ["o", "keep"])] == ["keep"]
        where = HistoryFilter("Organization", "o")
        assert session.history(where, 10) == [v3, v2, v1]
        assert session.history_count(where) == 3
    assert search(repo, t, "Organization", [("name", "gone")]) == ["keep"]
    assert search(repo, t, "Organization", []) == ["keep"]
    assert search(repo, t, "Organization", [("_id", "o")]) == []

    with repo.session(t, write=True) as session:  # re-create after delete
        v4 = put(session, org("o", "Back Again"), version=4, minute=4)
    with repo.session(t) as session:
        assert session.current("Organization", "o") == v4
    assert search(repo, t, "Organization", [("name", "back")]) == ["o"]
    assert search(repo, t, "Organization", [("name", "gone")]) == ["keep"]


def test_deleted_resources_leave_chains_and_has(repo: Repository, directory: str) -> None:
    with repo.session(directory, write=True) as session:
        remove(session, "Organization", "org1", 2, minute=60)
        remove(session, "PractitionerRole", "pr4", 2, minute=61)
    assert found(repo, directory, "PractitionerRole", [("organization.name", "muller")]) == {"pr2"}
    has = "_has:PractitionerRole:organization:active"
    assert found(repo, directory, "Organization", [(has, "true")]) == set()
    # a plain reference to a deleted resource still matches by its index row
    assert found(repo, directory, "PractitionerRole", [("organization", "org1")]) == {"pr1"}


# -- history ------------------------------------------------------------------------------


def test_history_filters(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    with repo.session(t, write=True) as session:
        a1 = put(session, org("a", "A"), minute=0)
        l1 = put(session, location("l"), minute=1)
        a2 = put(session, org("a", "A2"), version=2, minute=2)
        b1 = put(session, org("b", "B"), minute=3)
        a3 = remove(session, "Organization", "a", 3, minute=4)
    everything = [a3, b1, a2, l1, a1]
    assert [v.seq for v in everything] == sorted((v.seq for v in everything), reverse=True)

    def history(limit: int = 100, **where: Any) -> list[StoredVersion]:
        with repo.session(t) as session:
            page = session.history(HistoryFilter(**where), limit)
            assert session.history_count(HistoryFilter(**where)) >= len(page)
            if len(page) < limit:
                assert session.history_count(HistoryFilter(**where)) == len(page)
        return page

    assert history() == everything
    assert history(limit=2) == [a3, b1]
    assert history(resource_type="Organization") == [a3, b1, a2, a1]
    assert history(resource_type="Location") == [l1]
    assert history(resource_type="Organization", resource_id="a") == [a3, a2, a1]
    assert history(resource_type="Organization", resource_id="nope") == []
    assert history(since=T0 + timedelta(minutes=2)) == [a3, b1, a2]
    assert history(since=T0 + timedelta(minutes=2, seconds=1)) == [a3, b1]
    assert history(at_or_before=T0 + timedelta(minutes=2)) == [a2, l1, a1]
    assert history(since=T0 + timedelta(minutes=1), at_or_before=T0 + timedelta(minutes=3)) == [
        b1,
        a2,
        l1,
    ]
    assert history(before_seq=a2.seq) == [l1, a1]
    assert history(before_seq=b1.seq, limit=1) == [a2]
    assert history(resource_type="Organization", before_seq=a3.seq) == [b1, a2, a1]
    with repo.session(t) as session:
        assert session.history_count(HistoryFilter()) == 5
        assert session.history_count(HistoryFilter(before_seq=a2.seq)) == 2
        assert session.max_seq() == a3.seq


# -- tenants and transactions -------------------------------------------------------------


def test_tenant_isolation_and_wipe(repo: Repository, tenant: Tenant) -> None:
    a, b = tenant("a"), tenant("b")
    with repo.session(a, write=True) as session:
        in_a = put(session, org("same", "Alpha Org"))
        only_a = put(session, location("only-a"))
    with repo.session(b, write=True) as session:
        in_b = put(session, org("same", "Beta Org"))
    with repo.session(a) as session:
        assert session.current("Organization", "same") == in_a
        assert session.current("Location", "only-a") is not None
        assert session.history_count(HistoryFilter()) == 2
        assert session.max_seq() == only_a.seq
    with repo.session(b) as session:
        assert session.current("Organization", "same") == in_b
        assert session.current("Location", "only-a") is None
        assert session.version("Organization", "same", 1) == in_b
        assert session.history(HistoryFilter(), 10) == [in_b]
        assert session.max_seq() == in_b.seq
        assert session.fetch("Location", ["only-a"]) == []
    assert search(repo, a, "Organization", [("name", "beta")]) == []
    assert search(repo, b, "Organization", [("name", "beta")]) == ["same"]
    assert search(repo, b, "Organization", [("name", "alpha")]) == []
    assert {a, b} <= set(repo.tenants())

    repo.wipe(a)
    assert a not in repo.tenants()
    assert b in repo.tenants()
    with repo.session(a) as session:
        assert session.current("Organization", "same") is None
        assert session.history_count(HistoryFilter()) == 0
        assert session.max_seq() == 0
    assert search(repo, a, "Organization", []) == []
    assert search(repo, b, "Organization", []) == ["same"]
    with repo.session(b) as session:
        assert session.current("Organization", "same") == in_b

    with repo.session(a, write=True) as session:  # a wiped tenant starts again at version 1
        put(session, org("same", "Alpha Again"))
    assert search(repo, a, "Organization", [("name", "alpha")]) == ["same"]


def test_failed_write_session_leaves_nothing(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), repo.session(t, write=True) as session:
        put(session, org("o", "Never Stored"))
        put(session, org("o", "Never Stored Either"), version=2)
        raise Boom
    with repo.session(t) as session:
        assert session.current("Organization", "o") is None
        assert session.version("Organization", "o", 1) is None
        assert session.history_count(HistoryFilter()) == 0
        assert session.max_seq() == 0
    assert search(repo, t, "Organization", [("name", "never")]) == []

    with repo.session(t, write=True) as session:
        v1 = put(session, org("o", "Committed", identifier=[{"value": "X"}]))
    with pytest.raises(Boom), repo.session(t, write=True) as session:
        put(session, org("o", "Rolled Back"), version=2)
        remove(session, "Organization", "o", 3)
        put(session, org("p", "Rolled Back Too"))
        raise Boom
    with repo.session(t) as session:
        assert session.current("Organization", "o") == v1
        assert session.current("Organization", "p") is None
        assert session.history(HistoryFilter(), 10) == [v1]
        assert session.max_seq() == v1.seq
    assert search(repo, t, "Organization", [("name", "committed")]) == ["o"]
    assert search(repo, t, "Organization", [("identifier", "X")]) == ["o"]
    assert search(repo, t, "Organization", [("name", "rolled")]) == []


def test_index_rows_follow_updates(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    keep = {"identifier": [{"system": ODS, "value": "K1"}]}
    with repo.session(t, write=True) as session:
        put(session, org("o", "Old Name", **keep, address=[{"city": "Leeds"}]))
        put(session, org("o", "New Name", **keep, alias=["Other"]), version=2, minute=1)
    assert search(repo, t, "Organization", [("name", "old")]) == []
    assert search(repo, t, "Organization", [("name", "new")]) == ["o"]
    assert search(repo, t, "Organization", [("name", "other")]) == ["o"]
    assert search(repo, t, "Organization", [("identifier", f"{ODS}|K1")]) == ["o"]
    assert search(repo, t, "Organization", [("address-city", "leeds")]) == []
    assert search(repo, t, "Organization", [("address-city:missing", "true")]) == ["o"]
    with repo.session(t, write=True) as session:
        put(session, org("o", "Old Name", **keep), version=3, minute=2)
    assert search(repo, t, "Organization", [("name", "old")]) == ["o"]
    assert search(repo, t, "Organization", [("name", "new")]) == []
    assert search(repo, t, "Organization", [("name", "other")]) == []
    assert search(repo, t, "Organization", [("identifier", "K1")]) == ["o"]


def test_max_seq_grows_with_every_write(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    seqs = []
    with repo.session(t, write=True) as session:
        for number in range(1, 4):
            seqs.append(put(session, org("o", f"V{number}"), version=number, minute=number).seq)
            assert session.max_seq() == seqs[-1]
    assert seqs == sorted(set(seqs))
    with repo.session(t) as session:
        assert session.max_seq() == seqs[-1]
