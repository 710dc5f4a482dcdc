"""`_sort` and keyset paging for the in-memory engine (see search/ordering.py)."""

from __future__ import annotations

from functools import cmp_to_key

from fhir_sandbox.search.match import Candidate
from fhir_sandbox.search.ordering import comes_after, missing_value
from fhir_sandbox.search.query import SortKey


def sort_key_value(candidate: Candidate, key: SortKey) -> str:
    rows = candidate.rows
    if key.kind == "id":
        return candidate.id
    if key.kind == "lastUpdated":
        return candidate.last_updated
    values: list[str]
    if key.kind == "string":
        values = [r.norm for r in rows.string if r.code == key.code]
    elif key.kind == "token":
        values = [f"{r.system}|{r.value}" for r in rows.token if r.code == key.code]
    elif key.kind == "reference":
        values = [f"{r.target_type}/{r.target_id}" for r in rows.reference if r.code == key.code]
    elif key.kind == "date":
        values = [r.high if key.descending else r.low for r in rows.date if r.code == key.code]
    elif key.kind == "uri":
        values = [r.uri for r in rows.uri if r.code == key.code]
    else:
        values = []
    if not values:
        return missing_value(key)
    return max(values) if key.descending else min(values)


def position(candidate: Candidate, keys: tuple[SortKey, ...]) -> tuple[str, ...]:
    return (*(sort_key_value(candidate, k) for k in keys), candidate.id)


def sort_candidates(found: list[Candidate], keys: tuple[SortKey, ...]) -> list[Candidate]:
    def compare(a: Candidate, b: Candidate) -> int:
        left, right = position(a, keys), position(b, keys)
        if left == right:
            return 0
        return 1 if comes_after(left, right, keys) else -1

    return sorted(found, key=cmp_to_key(compare))


def keyset_page(
    ordered: list[Candidate],
    keys: tuple[SortKey, ...],
    limit: int,
    after: tuple[str, ...] | None,
    before: tuple[str, ...] | None,
) -> list[Candidate]:
    """The page after `after` (or just before `before`) of an already sorted list."""
    if before is not None:
        earlier = [c for c in ordered if comes_after(before, position(c, keys), keys)]
        return earlier[-limit:] if limit else []
    if after is not None:
        ordered = [c for c in ordered if comes_after(position(c, keys), after, keys)]
    return ordered[:limit]
