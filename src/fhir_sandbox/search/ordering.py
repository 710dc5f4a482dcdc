"""Sort positions shared by both engines (https://hl7.org/fhir/R4/search.html#sort).

A resource's position is a tuple of text: per sort key its smallest value (largest when
descending), then its id. Missing values sort last in either direction, which is expressed
with sentinels: `MISSING_ASC` is above every value, `MISSING_DESC` below every value. The
default order (no `_sort`) is by id alone, which makes keyset paging stable under writes.
"""

from __future__ import annotations

from fhir_sandbox.search.query import SortKey

MISSING_ASC = "\U0010ffff"
MISSING_DESC = ""


def missing_value(key: SortKey) -> str:
    return MISSING_DESC if key.descending else MISSING_ASC


def comes_after(
    position: tuple[str, ...], cursor: tuple[str, ...], keys: tuple[SortKey, ...]
) -> bool:
    """Whether `position` sorts strictly after `cursor` (the id, last, is ascending)."""
    directions = [k.descending for k in keys] + [False]
    for value, bound, descending in zip(position, cursor, directions, strict=True):
        if value != bound:
            return value < bound if descending else value > bound
    return False
