"""Keyset paging across one or several resource types (search.html#paging).

A page link carries an opaque cursor: the type's index and the position of the entry the
page starts after (`_after`) or ends before (`_before`). Entries keep their position when
other resources are written, so following `next` links never repeats or skips an entry.

It also carries the search's `Bundle.total` and the tenant's last version sequence number
when it was counted (`Counted`): while no version has been written to the tenant since, the
count cannot have changed and the next page reuses it instead of counting every match
again (on page 50 of 23k practitioners that count was most of the request). Any write,
delete included, moves the sequence on, and the next page counts afresh.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson

from fhir_sandbox.errors import Invalid
from fhir_sandbox.search.ordering import MISSING_ASC, missing_value
from fhir_sandbox.search.query import Query
from fhir_sandbox.storage.base import Match, PageRequest, Session


@dataclass(frozen=True)
class Counted:
    """`Bundle.total` as counted when the tenant's newest version had sequence number `seq`."""

    total: int
    seq: int


@dataclass(frozen=True)
class Cursor:
    type_index: int
    position: tuple[str, ...]
    backward: bool = False
    counted: Counted | None = None

    def encode(self) -> str:
        counted = [self.counted.total, self.counted.seq] if self.counted else []
        raw = orjson.dumps([self.type_index, list(self.position), *counted])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(raw: str, backward: bool, queries: list[Query]) -> Cursor:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        index, position, *counted = data
        size = len(queries[index].sort) + 1
        if not isinstance(index, int) or index < 0 or not isinstance(position, list):
            raise ValueError
        if len(position) != size or not all(isinstance(p, str) for p in position):
            raise ValueError
        if counted and (len(counted) != 2 or not all(_natural(n) for n in counted)):
            raise ValueError
    except (ValueError, TypeError, IndexError, orjson.JSONDecodeError):
        raise Invalid(
            f"The paging cursor {raw!r} is not valid for this search; start again from the "
            "first page",
            code="value",
        ) from None
    return Cursor(index, tuple(position), backward, Counted(*counted) if counted else None)


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass
class Page:
    entries: list[tuple[int, Match]]
    more_before: bool
    more_after: bool


def fetch_page(session: Session, queries: list[Query], count: int, cursor: Cursor | None) -> Page:
    if cursor is not None and cursor.backward:
        return _backward(session, queries, count, cursor)
    start = cursor.type_index if cursor else 0
    found: list[tuple[int, Match]] = []
    for index in range(start, len(queries)):
        after = cursor.position if cursor and index == cursor.type_index else None
        wanted = count + 1 - len(found)
        found += [
            (index, m) for m in session.page(queries[index], PageRequest(wanted, after=after))
        ]
        if len(found) > count:
            break
    return Page(found[:count], more_before=cursor is not None, more_after=len(found) > count)


def _backward(session: Session, queries: list[Query], count: int, cursor: Cursor) -> Page:
    found: list[tuple[int, Match]] = []
    for index in range(cursor.type_index, -1, -1):
        before = cursor.position if index == cursor.type_index else _end(queries[index])
        wanted = count + 1 - len(found)
        page = session.page(queries[index], PageRequest(wanted, before=before))
        found = [(index, m) for m in page] + found
        if len(found) > count:
            break
    entries = found[len(found) - count :] if count else []
    return Page(entries, more_before=len(found) > count, more_after=True)


def _end(query: Query) -> tuple[str, ...]:
    """A position after every resource of a type (for paging back across types)."""
    return (*(missing_value(k) for k in query.sort), MISSING_ASC)
