"""Compiling a search Query to SQL: one EXISTS per clause over the typed index tables.

Mirrors `search/match.py` clause for clause; the property tests hold the two to the same
answers. Works unchanged on SQLite and PostgreSQL: text compares by code point on both
(schema.code_text columns; sort positions are also wrapped in `code_point`), because keyset
paging compares the same positions in Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FromClause
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import Text

from fhir_sandbox.search.geo import KM_PER_DEGREE_LAT
from fhir_sandbox.search.ordering import missing_value
from fhir_sandbox.search.query import (
    Clause,
    DateValue,
    HasClause,
    NearValue,
    Query,
    ReferenceValue,
    SortKey,
    StringValue,
    TokenValue,
    UriValue,
    Value,
)
from fhir_sandbox.storage.sql.schema import INDEX_TABLES, idx_reference, resource

TABLE_FOR_KIND = {
    "string": "string",
    "token": "token",
    "reference": "reference",
    "date": "date",
    "uri": "uri",
    "special": "geo",
}
_TOP = "\U0010ffff"


def matching(query: Query, tenant: str) -> tuple[FromClause, ColumnElement[bool]]:
    """The resource alias and the WHERE condition selecting the query's matches."""
    outer = resource.alias("r")
    return outer, _where(query, tenant, outer)


def _where(query: Query, tenant: str, outer: FromClause) -> ColumnElement[bool]:
    conditions = [
        outer.c.tenant == tenant,
        outer.c.res_type == query.resource_type,
        outer.c.deleted == false(),
    ]
    conditions += [_clause(c, tenant, outer) for c in query.clauses]
    return and_(*conditions)


def _owned(table: FromClause, tenant: str, outer: FromClause, code: str) -> ColumnElement[bool]:
    return and_(
        table.c.tenant == tenant,
        table.c.res_type == outer.c.res_type,
        table.c.res_id == outer.c.res_id,
        table.c.code == code,
    )


def _clause(clause: Clause | HasClause, tenant: str, outer: FromClause) -> ColumnElement[bool]:
    if isinstance(clause, HasClause):
        return _has(clause, tenant, outer)
    if clause.kind == "id":
        ids = [v.code for v in clause.values if isinstance(v, TokenValue) and v.code]
        return outer.c.res_id.not_in(ids) if clause.modifier == "not" else outer.c.res_id.in_(ids)
    if clause.kind == "lastUpdated":
        column = outer.c.last_updated
        return or_(*(_date(v, column, column) for v in clause.values if isinstance(v, DateValue)))
    table = INDEX_TABLES[TABLE_FOR_KIND[clause.kind]].alias()
    owned = _owned(table, tenant, outer, clause.code)
    if clause.modifier == "missing":
        present = exists().where(owned)
        return or_(*(not_(present) if v else present for v in clause.values))
    if clause.chain is not None:
        return _chain(clause, tenant, table, owned)
    matched = or_(*(_value(clause, v, table) for v in clause.values))
    if clause.modifier == "not":
        return not_(exists().where(owned, matched))
    return exists().where(owned, matched)


def _chain(
    clause: Clause, tenant: str, ref: FromClause, owned: ColumnElement[bool]
) -> ColumnElement[bool]:
    assert clause.chain is not None
    target = resource.alias()
    inner = and_(
        target.c.res_type == ref.c.target_type,
        target.c.res_id == ref.c.target_id,
        _where(clause.chain, tenant, target),
    )
    return exists().where(owned, ref.c.target_type.in_(clause.chain_type), exists().where(inner))


def _has(clause: HasClause, tenant: str, outer: FromClause) -> ColumnElement[bool]:
    source = resource.alias()
    ref = idx_reference.alias()
    return exists().where(
        ref.c.tenant == tenant,
        ref.c.res_type == clause.source_type,
        ref.c.code == clause.reference_code,
        ref.c.target_type == outer.c.res_type,
        ref.c.target_id == outer.c.res_id,
        source.c.res_id == ref.c.res_id,
        _where(clause.query, tenant, source),
    )


def _value(clause: Clause, value: Value, t: FromClause) -> ColumnElement[bool]:
    mod = clause.modifier
    if isinstance(value, StringValue):
        if mod == "exact":
            return t.c.exact == value.raw
        if mod == "contains":
            return t.c.norm.contains(value.norm, autoescape=True)
        return and_(t.c.norm >= value.norm, t.c.norm < value.norm + _TOP)
    if isinstance(value, TokenValue):
        if clause.kind == "reference":
            return _token(value, t.c.ident_system, t.c.ident_value)
        if mod == "text":
            text = value.code or ""
            return and_(t.c.text >= text, t.c.text < text + _TOP)
        return _token(value, t.c.system, t.c.value)
    if isinstance(value, ReferenceValue):
        if value.url is not None:
            return t.c.url == value.url
        same_id = t.c.target_id == value.target_id
        return and_(same_id, t.c.target_type == value.target_type) if value.target_type else same_id
    if isinstance(value, DateValue):
        return _date(value, t.c.low, t.c.high)
    if isinstance(value, UriValue):
        return _uri(mod, value.uri, t)
    if isinstance(value, NearValue):
        dy = (t.c.lat - value.lat) * KM_PER_DEGREE_LAT
        dx = (t.c.lon - value.lon) * value.scale
        return dx * dx + dy * dy <= value.km * value.km
    return false()


def _token(value: TokenValue, system: Any, code: Any) -> ColumnElement[bool]:
    conditions = []
    if value.system is not None:
        conditions.append(system == value.system)
    if value.code is not None:
        conditions.append(code == value.code)
    return and_(*conditions) if conditions else literal(True)


def _date(value: DateValue, low: Any, high: Any) -> ColumnElement[bool]:
    sl, sh = value.low, value.high
    predicates: dict[str, Any] = {
        "eq": lambda: and_(low >= sl, high <= sh),
        "ne": lambda: not_(and_(low >= sl, high <= sh)),
        "gt": lambda: high > sh,
        "lt": lambda: low < sl,
        "ge": lambda: or_(high > sh, low >= sl),  # gt, or eq (see search/dates.py)
        "le": lambda: or_(low < sl, high <= sh),  # lt, or eq
        "sa": lambda: low > sh,
        "eb": lambda: high < sl,
        "ap": lambda: and_(low <= sh, high >= sl),
    }
    result: ColumnElement[bool] = predicates[value.prefix]()
    return result


def _uri(mod: str | None, wanted: str, t: FromClause) -> ColumnElement[bool]:
    if mod == "below":
        prefix = wanted.rstrip("/") + "/"
        return or_(t.c.uri == wanted, and_(t.c.uri >= prefix, t.c.uri < prefix + _TOP))
    if mod == "above":
        parent = func.rtrim(t.c.uri, "/", type_=t.c.uri.type)  # as match.uri_matches
        stem = func.substr(literal(wanted), 1, func.length(parent) + 1)
        return or_(t.c.uri == wanted, stem == parent + "/")
    return t.c.uri == wanted


class code_point(GenericFunction[str]):
    """`expr COLLATE "C"` on PostgreSQL (byte order of UTF-8 = code point order); on SQLite
    the expression itself, whose BINARY collation already orders by code point."""

    type = Text()
    inherit_cache = True


@compiles(code_point)
def _code_point_default(element: code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(code_point, "postgresql")
def _code_point_postgresql(element: code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def sort_values(keys: tuple[SortKey, ...], tenant: str, outer: FromClause) -> list[Any]:
    """Per sort key the resource's value, with missing values as the ordering sentinels,
    then the id: the resource's position (search/ordering.py)."""
    values = [
        code_point(func.coalesce(_sort_value(key, tenant, outer), missing_value(key)))
        for key in keys
    ]
    return [*values, outer.c.res_id]


def order_terms(keys: tuple[SortKey, ...], values: list[Any], reverse: bool = False) -> list[Any]:
    directions = [k.descending for k in keys] + [False]
    return [
        value.desc() if descending != reverse else value.asc()
        for value, descending in zip(values, directions, strict=True)
    ]


def beyond(
    keys: tuple[SortKey, ...], values: list[Any], cursor: tuple[str, ...], forward: bool
) -> ColumnElement[bool]:
    """Rows strictly after (forward) or before the cursor position, lexicographically."""
    directions = [k.descending for k in keys] + [False]
    condition: ColumnElement[bool] | None = None
    for value, bound, descending in reversed(list(zip(values, cursor, directions, strict=True))):
        later = value < bound if descending == forward else value > bound
        condition = later if condition is None else or_(later, and_(value == bound, condition))
    assert condition is not None
    return condition


def _sort_value(key: SortKey, tenant: str, outer: FromClause) -> Any:
    if key.kind == "id":
        return outer.c.res_id
    if key.kind == "lastUpdated":
        return outer.c.last_updated
    table = INDEX_TABLES[TABLE_FOR_KIND[key.kind]].alias()
    column: Any
    if key.kind == "string":
        column = table.c.norm
    elif key.kind == "token":
        column = table.c.system + "|" + table.c.value
    elif key.kind == "reference":
        column = table.c.target_type + "/" + table.c.target_id
    elif key.kind == "date":
        column = table.c.high if key.descending else table.c.low
    else:
        column = table.c.uri
    aggregate = func.max(column) if key.descending else func.min(column)
    owned = _owned(table, tenant, outer, key.code)
    return select(aggregate).where(owned).scalar_subquery()
