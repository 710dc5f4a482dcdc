"""The in-memory search engine: a Query evaluated over index rows in plain Python.

It serves the memory repository and is the readable statement of what each clause means;
the SQL compiler must agree with it (tested by the property tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fhir_sandbox.search.dates import DATE_PREDICATES
from fhir_sandbox.search.geo import distance_sq_km
from fhir_sandbox.search.query import (
    Clause,
    DateValue,
    HasClause,
    NearValue,
    Query,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
    Value,
)
from fhir_sandbox.searchparams.rows import IndexRows, ReferenceRow, TokenRow


@dataclass(frozen=True)
class Candidate:
    resource_type: str
    id: str
    last_updated: str  # index form (searchparams.normalize.instant_text)
    rows: IndexRows


Lookup = Callable[[str], Iterable[Candidate]]  # all current resources of a type


def matches(query: Query, candidate: Candidate, lookup: Lookup) -> bool:
    return all(_clause(c, candidate, lookup) for c in query.clauses)


def _clause(clause: Clause | HasClause, cand: Candidate, lookup: Lookup) -> bool:
    if isinstance(clause, HasClause):
        return any(
            _refers_to(src.rows, clause.reference_code, cand) and matches(clause.query, src, lookup)
            for src in lookup(clause.source_type)
        )
    if clause.modifier == "missing":
        present = clause.code in cand.rows.codes()
        return any(present != bool(v) for v in clause.values)
    if clause.chain is not None:
        chain = clause.chain
        return any(
            row.code == clause.code
            and row.target_type in clause.chain_type
            and any(
                t.id == row.target_id and matches(chain, t, lookup) for t in lookup(row.target_type)
            )
            for row in cand.rows.reference
        )
    if clause.modifier == "not":
        return not any(_value(clause, v, cand) for v in clause.values)
    return any(_value(clause, v, cand) for v in clause.values)


def _refers_to(rows: IndexRows, code: str, target: Candidate) -> bool:
    return any(
        r.code == code and r.target_type == target.resource_type and r.target_id == target.id
        for r in rows.reference
    )


def _value(clause: Clause, value: Value, cand: Candidate) -> bool:
    code, mod, rows = clause.code, clause.modifier, cand.rows
    if clause.kind == "id":
        assert isinstance(value, TokenValue)
        return value.code == cand.id
    if clause.kind == "lastUpdated":
        assert isinstance(value, DateValue)
        return DATE_PREDICATES[value.prefix](
            cand.last_updated, cand.last_updated, value.low, value.high
        )
    if isinstance(value, StringValue):
        return any(
            r.code == code and string_matches(mod, value, r.norm, r.exact) for r in rows.string
        )
    if isinstance(value, TokenValue):
        if clause.kind == "reference":  # :identifier
            return any(r.code == code and _ident(value, r) for r in rows.reference)
        return any(r.code == code and token_matches(mod, value, r) for r in rows.token)
    if isinstance(value, ReferenceValue):
        return any(r.code == code and reference_matches(value, r) for r in rows.reference)
    if isinstance(value, DateValue):
        test = DATE_PREDICATES[value.prefix]
        return any(r.code == code and test(r.low, r.high, value.low, value.high) for r in rows.date)
    if isinstance(value, UriValue):
        return any(r.code == code and uri_matches(mod, value.uri, r.uri) for r in rows.uri)
    if isinstance(value, NearValue):
        limit = value.km * value.km
        return any(
            r.code == code
            and distance_sq_km(r.lat, r.lon, value.lat, value.lon, value.scale) <= limit
            for r in rows.geo
        )
    return False


def string_matches(mod: str | None, value: StringValue, norm: str, exact: str) -> bool:
    if mod == "exact":
        return exact == value.raw
    if mod == "contains":
        return value.norm in norm
    if value.whole:
        return norm == value.norm
    return norm.startswith(value.norm)


def token_matches(mod: str | None, value: TokenValue, row: TokenRow) -> bool:
    if mod == "text":
        return row.text.startswith(value.code or "")
    if value.system is not None and row.system != value.system:
        return False
    return value.code is None or row.value == value.code


def _ident(value: TokenValue, row: ReferenceRow) -> bool:
    if value.system is not None and row.ident_system != value.system:
        return False
    return value.code is None or row.ident_value == value.code


def reference_matches(value: ReferenceValue, row: ReferenceRow) -> bool:
    if value.url is not None:
        return row.url == value.url
    if value.target_type and row.target_type != value.target_type:
        return False
    return row.target_id == value.target_id


def uri_matches(mod: str | None, wanted: str, stored: str) -> bool:
    if mod == "below":
        return stored == wanted or stored.startswith(wanted.rstrip("/") + "/")
    if mod == "above":
        return wanted == stored or wanted.startswith(stored.rstrip("/") + "/")
    return stored == wanted
