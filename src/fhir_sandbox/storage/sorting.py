"""`_sort` for the in-memory engine (https://hl7.org/fhir/R4/search.html#sort).

A resource sorts by its smallest value of the parameter (largest when descending);
resources without a value sort last; ties break on the resource id so order is total.
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any

from fhir_sandbox.search.match import Candidate
from fhir_sandbox.search.query import SortKey


def sort_key_value(candidate: Candidate, key: SortKey) -> Any:
    rows = candidate.rows
    if key.kind == "id":
        return candidate.id
    if key.kind == "lastUpdated":
        return candidate.last_updated
    values: list[Any]
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
        return None
    return max(values) if key.descending else min(values)


def sort_candidates(found: list[Candidate], keys: tuple[SortKey, ...]) -> list[Candidate]:
    def compare(a: Candidate, b: Candidate) -> int:
        for key in keys:
            left, right = sort_key_value(a, key), sort_key_value(b, key)
            if left == right:
                continue
            if left is None:
                return 1
            if right is None:
                return -1
            result = -1 if left < right else 1
            return -result if key.descending else result
        return (a.id > b.id) - (a.id < b.id)

    return sorted(found, key=cmp_to_key(compare))
