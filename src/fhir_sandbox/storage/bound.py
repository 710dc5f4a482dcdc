"""A repository bound to one open session: how a transaction Bundle stays atomic.

A transaction (https://hl7.org/fhir/R4/http.html#transaction) runs each of its entries
through the ordinary interactions, which each open `repository.session(...)`. Given a
`BoundRepository`, every such session is the one outer session the transaction opened: it
is yielded without committing, so the entries share one unit of work and any exception
leaving the outer `with` rolls all of them back. `RecordingSession` notes what each entry
wrote, so a transaction can refuse to touch one resource twice. `DeferredCreates` holds the
new resources of a run of creates and stores them with one bulk insert.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fhir_sandbox.search.query import Query
from fhir_sandbox.searchparams.rows import IndexRows
from fhir_sandbox.storage.base import (
    HistoryFilter,
    Match,
    NewVersion,
    PageRequest,
    Session,
    StoredVersion,
    read_in_session,
)


class RecordingSession:
    """A session that delegates everything and records the (type, id) of every save."""

    def __init__(self, inner: Session) -> None:
        self._inner = inner
        self.saved: list[tuple[str, str]] = []

    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        return self._inner.current(resource_type, resource_id)

    def version(self, resource_type: str, resource_id: str, version: int) -> StoredVersion | None:
        return self._inner.version(resource_type, resource_id, version)

    def save(self, version: StoredVersion, index: IndexRows | None) -> StoredVersion:
        self.saved.append((version.resource_type, version.id))
        return self._inner.save(version, index)

    def search(self, query: Query, offset: int, limit: int) -> list[StoredVersion]:
        return self._inner.search(query, offset, limit)

    def page(self, query: Query, request: PageRequest) -> list[Match]:
        return self._inner.page(query, request)

    def count(self, query: Query) -> int:
        return self._inner.count(query)

    def fetch(self, resource_type: str, ids: list[str]) -> list[StoredVersion]:
        return self._inner.fetch(resource_type, ids)

    def history(self, where: HistoryFilter, limit: int) -> list[StoredVersion]:
        return self._inner.history(where, limit)

    def history_count(self, where: HistoryFilter) -> int:
        return self._inner.history_count(where)

    def current_many(self, resource_type: str, ids: list[str]) -> dict[str, StoredVersion]:
        return self._inner.current_many(resource_type, ids)

    def existing(self, resource_type: str, ids: list[str]) -> set[str]:
        return self._inner.existing(resource_type, ids)

    def insert_new(self, versions: list[NewVersion]) -> None:
        self.saved += [(v.resource_type, v.id) for v, _ in versions]
        self._inner.insert_new(versions)

    def replace_index(self, resource_type: str, resource_id: str, index: IndexRows) -> None:
        self._inner.replace_index(resource_type, resource_id, index)

    def max_seq(self) -> int:
        return self._inner.max_seq()


#: Held creates are flushed at this many: one multi-row INSERT of 1,000 versions binds
#: 8,000 parameters (SQLite takes at most 32,766 per statement).
HOLD_AT_MOST = 1000


class DeferredCreates:
    """A session that holds first versions (new resources) and stores them together.

    A create stored on its own costs four statements and one insert per index table; a
    transaction of 100 creates paid that 100 times (benchmarks/README.md). Held creates are
    written with one `insert_new` as soon as anything else touches the session — a read, a
    search, any other write — and by `flush()` at the end of the unit of work, so every
    read sees every earlier write and sequence numbers follow the order of the writes. A
    held version is returned with seq 0: its number is assigned when it is flushed.
    """

    def __init__(self, inner: Session) -> None:
        self._inner = inner
        self._held: list[NewVersion] = []

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, []
            self._inner.insert_new(held)

    def _flushed(self) -> Session:
        self.flush()
        return self._inner

    def save(self, version: StoredVersion, index: IndexRows | None) -> StoredVersion:
        if version.version == 1 and index is not None and not version.deleted:
            self._held.append((version, index))
            if len(self._held) >= HOLD_AT_MOST:
                self.flush()
            return version
        return self._flushed().save(version, index)

    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        return self._flushed().current(resource_type, resource_id)

    def version(self, resource_type: str, resource_id: str, version: int) -> StoredVersion | None:
        return self._flushed().version(resource_type, resource_id, version)

    def search(self, query: Query, offset: int, limit: int) -> list[StoredVersion]:
        return self._flushed().search(query, offset, limit)

    def page(self, query: Query, request: PageRequest) -> list[Match]:
        return self._flushed().page(query, request)

    def count(self, query: Query) -> int:
        return self._flushed().count(query)

    def fetch(self, resource_type: str, ids: list[str]) -> list[StoredVersion]:
        return self._flushed().fetch(resource_type, ids)

    def history(self, where: HistoryFilter, limit: int) -> list[StoredVersion]:
        return self._flushed().history(where, limit)

    def history_count(self, where: HistoryFilter) -> int:
        return self._flushed().history_count(where)

    def current_many(self, resource_type: str, ids: list[str]) -> dict[str, StoredVersion]:
        return self._flushed().current_many(resource_type, ids)

    def existing(self, resource_type: str, ids: list[str]) -> set[str]:
        return self._flushed().existing(resource_type, ids)

    def insert_new(self, versions: list[NewVersion]) -> None:
        self.flush()
        self._inner.insert_new(versions)

    def replace_index(self, resource_type: str, resource_id: str, index: IndexRows) -> None:
        self._flushed().replace_index(resource_type, resource_id, index)

    def max_seq(self) -> int:
        return self._flushed().max_seq()


class BoundRepository:
    """A repository whose every session is `session` (one tenant); it never commits."""

    embedded = False  # only used inside a worker thread's unit of work

    def __init__(self, session: Session, tenant: str, *, write: bool) -> None:
        self.bound = session
        self.tenant = tenant
        self.write = write

    @contextmanager
    def session(self, tenant: str, *, write: bool = False) -> Iterator[Session]:
        if tenant != self.tenant:
            raise RuntimeError(f"this unit of work is bound to tenant {self.tenant!r}")
        if write and not self.write:
            raise RuntimeError("a write was attempted inside a read-only unit of work")
        yield self.bound

    def read_current(
        self, tenant: str, resource_type: str, resource_id: str
    ) -> StoredVersion | None:
        return read_in_session(self, tenant, resource_type, resource_id)

    def read_version(
        self, tenant: str, resource_type: str, resource_id: str, version: int
    ) -> StoredVersion | None:
        return read_in_session(self, tenant, resource_type, resource_id, version)

    def analyze(self) -> None:
        raise RuntimeError("analyze is not available inside a bound unit of work")

    def wipe(self, tenant: str) -> None:
        raise RuntimeError("wipe is not available inside a bound unit of work")

    def tenants(self) -> list[str]:
        return [self.tenant]

    def get_setting(self, key: str) -> str | None:
        raise RuntimeError("settings are not available inside a bound unit of work")

    def put_setting(self, key: str, value: str) -> None:
        raise RuntimeError("settings are not available inside a bound unit of work")

    def close(self) -> None:
        """The outer repository owns the connection; nothing to close here."""
