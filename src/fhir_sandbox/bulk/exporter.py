"""The exporter: a tenant's current resources as NDJSON, one file (or several) per type.

Stored bytes are written as they are (one resource per line), in id order, page by page,
so memory stays flat whatever the tenant's size. Loading the files back reproduces the
resources (apart from the server-owned meta.versionId and meta.lastUpdated).

Used by `fhir-sandbox export` and by the $export jobs (bulk/export_runner.py), which add a
`_since` filter, split large types into files of at most `max_per_file` resources and
check for cancellation before every page through `on_page`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.search.query import Clause, DateValue, Query
from fhir_sandbox.searchparams.normalize import instant_text
from fhir_sandbox.storage.base import Match, PageRequest

PAGE = 1000


def export_ndjson(
    ctx: Context,
    tenant: str,
    out_dir: Path,
    types: list[str] | None = None,
    since: datetime | None = None,
) -> dict[str, int]:
    """`<Type>.ndjson` for every type (empty files included); the count per type."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for resource_type in types or list(RESOURCE_TYPES):
        (out_dir / f"{resource_type}.ndjson").write_bytes(b"")
        files = export_type(ctx, tenant, export_query(resource_type, since), out_dir)
        counts[resource_type] = sum(count for _, count in files)
    return counts


def export_query(resource_type: str, since: datetime | None) -> Query:
    """All current resources of a type, or those with meta.lastUpdated >= `since`."""
    if since is None:
        return Query(resource_type)
    moment = instant_text(since)
    clause = Clause("_lastUpdated", "lastUpdated", values=(DateValue("ge", moment, moment),))
    return Query(resource_type, (clause,))


def export_type(
    ctx: Context,
    tenant: str,
    query: Query,
    out_dir: Path,
    *,
    max_per_file: int | None = None,
    on_page: Callable[[int], None] | None = None,
) -> list[tuple[str, int]]:
    """Write the query's matches; (file name, count) per file written.

    One file `<Type>.ndjson` when `max_per_file` is None, else `<Type>-1.ndjson`,
    `<Type>-2.ndjson`, … of at most `max_per_file` lines. No match, no file.
    `on_page(written so far)` runs before every page is read; an exception from it stops
    the export.
    """
    files: list[tuple[str, int]] = []
    handle: BinaryIO | None = None
    try:
        for page in _pages(ctx, tenant, query, on_page):
            for match in page:
                if handle is None or files[-1][1] == max_per_file:
                    if handle is not None:
                        handle.close()
                    name = _file_name(query.resource_type, len(files) + 1, max_per_file)
                    handle = (out_dir / name).open("wb")
                    files.append((name, 0))
                handle.write(match.version.body + b"\n")
                files[-1] = (files[-1][0], files[-1][1] + 1)
    finally:
        if handle is not None:
            handle.close()
    return files


def _file_name(resource_type: str, number: int, max_per_file: int | None) -> str:
    return f"{resource_type}.ndjson" if max_per_file is None else f"{resource_type}-{number}.ndjson"


def _pages(
    ctx: Context, tenant: str, query: Query, on_page: Callable[[int], None] | None
) -> Iterator[list[Match]]:
    """Keyset pages, each read in its own short session (no long-held snapshot or lock)."""
    after, done = None, 0
    while True:
        if on_page is not None:
            on_page(done)
        with ctx.repository.session(tenant) as session:
            page = session.page(query, PageRequest(PAGE, after=after))
        if page:
            yield page
            done += len(page)
        if len(page) < PAGE:
            return
        after = page[-1].position
