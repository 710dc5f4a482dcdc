"""The in-memory reference repository.

Small and obviously correct: it serves the FHIR core's tests and is the reference the SQL
repository is held to by the shared contract suite. One lock serialises writers (like
SQLite's single writer); readers see only committed state because a write session works on
a copy that replaces the tenant's state on commit.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from fhir_sandbox.search.match import Candidate, matches
from fhir_sandbox.search.query import Query
from fhir_sandbox.searchparams.normalize import instant_text
from fhir_sandbox.searchparams.rows import IndexRows, as_index_rows
from fhir_sandbox.storage.base import (
    HistoryFilter,
    Match,
    NewVersion,
    PageRequest,
    StoredVersion,
    read_in_session,
)
from fhir_sandbox.storage.sorting import keyset_page, position, sort_candidates

Key = tuple[str, str]


@dataclass
class _TenantState:
    versions: list[StoredVersion] = field(default_factory=list)
    current: dict[Key, StoredVersion] = field(default_factory=dict)
    rows: dict[Key, IndexRows] = field(default_factory=dict)
    by_version: dict[tuple[str, str, int], StoredVersion] = field(default_factory=dict)


class MemorySession:
    def __init__(self, state: _TenantState, seq: list[int]) -> None:
        self._state = state
        self._seq = seq

    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        return self._state.current.get((resource_type, resource_id))

    def version(self, resource_type: str, resource_id: str, version: int) -> StoredVersion | None:
        return self._state.by_version.get((resource_type, resource_id, version))

    def save(self, version: StoredVersion, index: IndexRows | None) -> StoredVersion:
        self._seq[0] += 1
        stored = replace(version, seq=self._seq[0])
        key = (version.resource_type, version.id)
        self._state.versions.append(stored)
        self._state.current[key] = stored
        self._state.by_version[(*key, version.version)] = stored
        if index is None:
            self._state.rows.pop(key, None)
        else:
            self._state.rows[key] = index
        return stored

    def _candidates(self, resource_type: str) -> Iterator[Candidate]:
        for (rtype, rid), stored in self._state.current.items():
            if rtype == resource_type and not stored.deleted:
                rows = self._state.rows.get((rtype, rid), IndexRows())
                yield Candidate(rtype, rid, instant_text(stored.last_updated), rows)

    def _matching(self, query: Query) -> list[Candidate]:
        def lookup(resource_type: str) -> Iterable[Candidate]:
            return self._candidates(resource_type)

        found = [c for c in self._candidates(query.resource_type) if matches(query, c, lookup)]
        return sort_candidates(found, query.sort)

    def search(self, query: Query, offset: int, limit: int) -> list[StoredVersion]:
        page = self._matching(query)[offset : offset + limit]
        return [self._state.current[(c.resource_type, c.id)] for c in page]

    def page(self, query: Query, request: PageRequest) -> list[Match]:
        found = keyset_page(
            self._matching(query), query.sort, request.limit, request.after, request.before
        )
        return [
            Match(self._state.current[(c.resource_type, c.id)], position(c, query.sort))
            for c in found
        ]

    def count(self, query: Query) -> int:
        return len(self._matching(query))

    def fetch(self, resource_type: str, ids: list[str]) -> list[StoredVersion]:
        found = (self._state.current.get((resource_type, i)) for i in ids)
        return [v for v in found if v is not None and not v.deleted]

    def _history(self, where: HistoryFilter) -> list[StoredVersion]:
        selected = [v for v in reversed(self._state.versions) if _in_history(v, where)]
        return selected

    def history(self, where: HistoryFilter, limit: int) -> list[StoredVersion]:
        return self._history(where)[:limit]

    def history_count(self, where: HistoryFilter) -> int:
        return len(self._history(where))

    def current_many(self, resource_type: str, ids: list[str]) -> dict[str, StoredVersion]:
        found = ((i, self._state.current.get((resource_type, i))) for i in ids)
        return {i: v for i, v in found if v is not None}

    def existing(self, resource_type: str, ids: list[str]) -> set[str]:
        return {i for i, v in self.current_many(resource_type, ids).items() if not v.deleted}

    def insert_new(self, versions: list[NewVersion]) -> None:
        for version, index in versions:
            self.save(version, as_index_rows(index))

    def replace_index(self, resource_type: str, resource_id: str, index: IndexRows) -> None:
        self._state.rows[(resource_type, resource_id)] = index

    def max_seq(self) -> int:
        versions = self._state.versions
        return versions[-1].seq if versions else 0


def _in_history(version: StoredVersion, where: HistoryFilter) -> bool:
    if where.resource_type and version.resource_type != where.resource_type:
        return False
    if where.resource_id and version.id != where.resource_id:
        return False
    if where.since and version.last_updated < where.since:
        return False
    if where.at_or_before and version.last_updated > where.at_or_before:
        return False
    return not (where.before_seq is not None and version.seq >= where.before_seq)


class MemoryRepository:
    embedded = True

    def __init__(self) -> None:
        self._tenants: dict[str, _TenantState] = {}
        self._seq = [0]
        self._write_lock = threading.RLock()
        self._settings: dict[str, str] = {}

    def read_current(
        self, tenant: str, resource_type: str, resource_id: str
    ) -> StoredVersion | None:
        return read_in_session(self, tenant, resource_type, resource_id)

    def read_version(
        self, tenant: str, resource_type: str, resource_id: str, version: int
    ) -> StoredVersion | None:
        return read_in_session(self, tenant, resource_type, resource_id, version)

    def analyze(self) -> None:
        """Nothing to plan in memory."""

    @contextmanager
    def session(self, tenant: str, *, write: bool = False) -> Iterator[MemorySession]:
        if not write:
            yield MemorySession(self._tenants.get(tenant, _TenantState()), [self._seq[0]])
            return
        with self._write_lock:
            working = copy.copy(self._tenants.get(tenant, _TenantState()))
            working.versions = list(working.versions)
            working.current = dict(working.current)
            working.rows = dict(working.rows)
            working.by_version = dict(working.by_version)
            seq = [self._seq[0]]
            yield MemorySession(working, seq)
            self._tenants[tenant] = working  # commit: only reached without an exception
            self._seq[0] = seq[0]

    def wipe(self, tenant: str) -> None:
        with self._write_lock:
            self._tenants.pop(tenant, None)

    def tenants(self) -> list[str]:
        return sorted(t for t, state in self._tenants.items() if state.versions)

    def get_setting(self, key: str) -> str | None:
        return self._settings.get(key)

    def put_setting(self, key: str, value: str) -> None:
        self._settings[key] = value

    def close(self) -> None:
        self._tenants.clear()
