"""Search shapes: compile a search's SQL once per shape, then only bind values.

Building a search statement with SQLAlchemy Core, and compiling it, costs more than running
it on the indexes (benchmarks/README.md). A query's *shape* is the query with every value a
client can vary replaced by a numbered placeholder; two queries of one shape compile to the
same SQL, so the SQL is compiled once per shape and later queries only bind their values.

A placeholder is a string `"\\x00<n>\\x00"` standing for a string leaf (a client never sends
NUL: the query parser works on decoded URL text, where it could only come from `%00`, and
such a value is kept out of the shape, see `Leaves.slot`). The compiler may concatenate a
placeholder with a constant (a prefix range's upper bound is `prefix + U+10FFFF`), so each
bound value is a template whose placeholders are replaced by the leaves. Values the
compiler transforms in other ways (`:contains` escaping, `:below`/`:above` URI arithmetic,
`near` arithmetic) are left in the shape as they are, as are None, empty strings and
booleans, which the compiler branches on.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection

from fhir_sandbox.search.query import (
    Clause,
    DateValue,
    HasClause,
    Query,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
    Value,
)

_PLACEHOLDER = re.compile("\x00([0-9]+)\x00")
CACHE_SIZE = 1024  # shapes kept per process; a miss costs one compile (~0.3 ms)


class Leaves:
    """The values taken out of a query, in the order their placeholders were made."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def slot(self, value: str) -> str:
        if not value or "\x00" in value:
            return value  # stays in the shape (the compiler branches on empty values)
        self.values.append(value)
        return f"\x00{len(self.values) - 1}\x00"


def shape_of(query: Query, leaves: Leaves) -> Query:
    clauses = tuple(_clause(c, leaves) for c in query.clauses)
    return Query(query.resource_type, clauses, query.sort)


def _clause(clause: Clause | HasClause, leaves: Leaves) -> Clause | HasClause:
    if isinstance(clause, HasClause):
        return replace(clause, query=shape_of(clause.query, leaves))
    chain = shape_of(clause.chain, leaves) if clause.chain is not None else None
    values = tuple(_value(clause, v, leaves) for v in clause.values)
    return replace(clause, values=values, chain=chain)


def _value(clause: Clause, value: Value, leaves: Leaves) -> Value:
    slot = leaves.slot
    if isinstance(value, StringValue) and clause.modifier != "contains":
        return StringValue(slot(value.norm), slot(value.raw))
    if isinstance(value, TokenValue):
        return TokenValue(
            slot(value.system) if value.system else value.system,
            slot(value.code) if value.code else value.code,
        )
    if isinstance(value, ReferenceValue):
        return ReferenceValue(
            slot(value.target_type) if value.target_type else value.target_type,
            slot(value.target_id) if value.target_id else value.target_id,
            slot(value.url) if value.url else value.url,
        )
    if isinstance(value, DateValue):
        return DateValue(value.prefix, slot(value.low), slot(value.high))
    if isinstance(value, UriValue) and clause.modifier is None:
        return UriValue(slot(value.uri))
    return value


@dataclass(frozen=True)
class Prepared:
    """One shape's SQL, and per driver parameter the template of its value."""

    sql: str
    names: tuple[str, ...] | None  # positional drivers: parameter order; else None
    templates: dict[str, Any]

    def params(self, leaves: list[str]) -> tuple[Any, ...] | dict[str, Any]:
        values = {name: _fill(t, leaves) for name, t in self.templates.items()}
        if self.names is None:
            return values
        return tuple(values[name] for name in self.names)

    def run(self, conn: Connection, leaves: list[str]) -> Any:
        return conn.exec_driver_sql(self.sql, self.params(leaves))


def _fill(template: Any, leaves: list[str]) -> Any:
    if isinstance(template, str) and "\x00" in template:
        return _PLACEHOLDER.sub(lambda m: leaves[int(m.group(1))], template)
    return template


def prepare(stmt: Any, conn: Connection) -> Prepared:
    """Compile `stmt` (built from a shape) for the connection's dialect."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    names = tuple(compiled.positiontup) if compiled.positional else None
    return Prepared(str(compiled.string), names, dict(compiled.params))


class ShapeCache:
    """Prepared statements by (dialect, shape key), least recently used dropped first."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Prepared]) -> Prepared:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        prepared = build()  # outside the lock: compiling takes a while
        with self._lock:
            self._entries[key] = prepared
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return prepared
