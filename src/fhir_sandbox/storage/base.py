"""The storage contract every repository implements.

The FHIR core talks only to this protocol. A `Session` is one unit of work for one tenant:
a write session is serialised against other writers of the same database, so a conditional
create's search and insert are atomic. Versions are stored once as the JSON bytes that
reads serve; index rows are written in the same session.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fhir_sandbox.search.query import Query
from fhir_sandbox.searchparams.rows import IndexRows, OwnedRows

#: A first version to store with its index rows (as rows, or already owner-prefixed).
NewVersion = tuple["StoredVersion", IndexRows | OwnedRows]


@dataclass(frozen=True)
class StoredVersion:
    """One version of one resource exactly as stored; `body` is empty for a delete."""

    resource_type: str
    id: str
    version: int
    last_updated: datetime
    method: str
    deleted: bool
    body: bytes
    seq: int = 0


@dataclass(frozen=True)
class PageRequest:
    """One page of a search by keyset: `after`/`before` are the position of the last/first
    entry of the neighbouring page, so writes between page fetches cannot shift entries."""

    limit: int
    after: tuple[str, ...] | None = None
    before: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Match:
    """A search hit and its position in the sort order (its sort values, then its id)."""

    version: StoredVersion
    position: tuple[str, ...]


@dataclass(frozen=True)
class HistoryFilter:
    """Which versions a history page holds, newest first; `before_seq` pins paging."""

    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    at_or_before: datetime | None = None
    before_seq: int | None = None


class Session(Protocol):
    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        """The newest version (a delete marker when deleted), or None if never existed."""

    def version(
        self, resource_type: str, resource_id: str, version: int
    ) -> StoredVersion | None: ...

    def save(self, version: StoredVersion, index: IndexRows | None) -> StoredVersion:
        """Store a new version as current; `index` None (a delete) removes its index rows.

        Returns the version with its sequence number assigned.
        """

    def search(self, query: Query, offset: int, limit: int) -> list[StoredVersion]:
        """Current, non-deleted versions matching `query`, in sort order."""

    def page(self, query: Query, request: PageRequest) -> list[Match]:
        """A keyset page of current matches, in sort order, with their positions."""

    def count(self, query: Query) -> int: ...

    def fetch(self, resource_type: str, ids: list[str]) -> list[StoredVersion]:
        """Current, non-deleted versions of the given ids (missing ones are left out)."""

    def history(self, where: HistoryFilter, limit: int) -> list[StoredVersion]: ...

    def history_count(self, where: HistoryFilter) -> int: ...

    def current_many(self, resource_type: str, ids: list[str]) -> dict[str, StoredVersion]:
        """Newest versions (delete markers included) of the given ids, by id."""

    def existing(self, resource_type: str, ids: list[str]) -> set[str]:
        """Those of the given ids that are current and not deleted (no bodies read)."""

    def insert_new(self, versions: list[NewVersion]) -> None:
        """Bulk-store first versions of resources that have no row yet (the loader's path)."""

    def replace_index(self, resource_type: str, resource_id: str, index: IndexRows) -> None:
        """Rewrite a current resource's index rows (only the difference): reindexing."""

    def max_seq(self) -> int:
        """The newest sequence number in this tenant (0 when empty)."""


class Repository(Protocol):
    # True when a primary-key read is an in-process call (SQLite, memory): cheap enough to
    # run on the event loop, where a thread hand-off would cost more than the read
    embedded: bool

    def session(self, tenant: str, *, write: bool = False) -> AbstractContextManager[Session]: ...

    def read_current(
        self, tenant: str, resource_type: str, resource_id: str
    ) -> StoredVersion | None:
        """The current version (deleted ones too), in one statement outside a unit of work:
        the read hot path, where opening a session costs more than the read."""

    def read_version(
        self, tenant: str, resource_type: str, resource_id: str, version: int
    ) -> StoredVersion | None:
        """One version, like read_current."""

    def analyze(self) -> None:
        """Bring the query planner's statistics up to date (after a bulk load: PostgreSQL
        plans a lookup over tables it believes empty as if they were, for good)."""

    def wipe(self, tenant: str) -> None:
        """Remove every resource, version and index row of a tenant."""

    def tenants(self) -> list[str]: ...

    def get_setting(self, key: str) -> str | None:
        """A server-wide stored setting (e.g. the search registry fingerprint)."""

    def put_setting(self, key: str, value: str) -> None: ...

    def close(self) -> None: ...


def read_in_session(
    repository: Repository,
    tenant: str,
    resource_type: str,
    resource_id: str,
    version: int | None = None,
) -> StoredVersion | None:
    """read_current / read_version for a repository with no faster way than a session."""
    with repository.session(tenant) as session:
        if version is None:
            return session.current(resource_type, resource_id)
        return session.version(resource_type, resource_id, version)
