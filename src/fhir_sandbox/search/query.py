"""A search query as typed clauses, parsed before storage sees it.

Clauses are ANDed; the values inside one clause are ORed (search.html#combining). A chained
clause matches through a reference; a `_has` clause matches resources referenced *by*
others. Storage implementations (memory, SQL) evaluate exactly this structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StringValue:
    norm: str
    raw: str
    whole: bool = False  # match `norm` whole (a phonetic key), not as a prefix


@dataclass(frozen=True)
class TokenValue:
    system: str | None  # None: any system; "": no system
    code: str | None  # None: any code (`system|`)


@dataclass(frozen=True)
class ReferenceValue:
    target_type: str | None
    target_id: str | None
    url: str | None = None


@dataclass(frozen=True)
class DateValue:
    prefix: str
    low: str
    high: str


@dataclass(frozen=True)
class UriValue:
    uri: str


@dataclass(frozen=True)
class NearValue:
    lat: float
    lon: float
    km: float
    scale: float  # km per degree of longitude at `lat` (see search/geo.py)


Value = StringValue | TokenValue | ReferenceValue | DateValue | UriValue | NearValue | bool


@dataclass(frozen=True)
class Clause:
    """One parameter with its OR-list of values.

    `kind` is the parameter type (or `id`/`lastUpdated` for the resource-level ones);
    `modifier` is the modifier without its colon. For a chain, `chain` holds the clause to
    apply to the referenced resources of `chain_type`.
    """

    code: str
    kind: str
    modifier: str | None = None
    values: tuple[Value, ...] = ()
    chain: Query | None = None
    chain_type: tuple[str, ...] = ()


@dataclass(frozen=True)
class HasClause:
    """`_has:Type:param:...`: resources referenced from `source_type` via `reference_code`
    whose source satisfies `query`."""

    source_type: str
    reference_code: str
    query: Query


@dataclass(frozen=True)
class SortKey:
    code: str
    kind: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    resource_type: str
    clauses: tuple[Clause | HasClause, ...] = ()
    sort: tuple[SortKey, ...] = field(default=())
