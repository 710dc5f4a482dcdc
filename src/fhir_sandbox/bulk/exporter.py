"""The exporter: a tenant's current resources as NDJSON, one file per type.

Stored bytes are written as they are (one resource per line), in id order, page by page,
so memory stays flat whatever the tenant's size. Loading the files back reproduces the
resources (apart from the server-owned meta.versionId and meta.lastUpdated).
"""

from __future__ import annotations

from pathlib import Path

from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.search.query import Query
from fhir_sandbox.storage.base import PageRequest

PAGE = 1000


def export_ndjson(
    ctx: Context, tenant: str, out_dir: Path, types: list[str] | None = None
) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for resource_type in types or list(RESOURCE_TYPES):
        counts[resource_type] = _export_type(
            ctx, tenant, resource_type, out_dir / f"{resource_type}.ndjson"
        )
    return counts


def _export_type(ctx: Context, tenant: str, resource_type: str, path: Path) -> int:
    written, after = 0, None
    with path.open("wb") as handle:
        while True:
            with ctx.repository.session(tenant) as session:
                page = session.page(Query(resource_type), PageRequest(PAGE, after=after))
            for match in page:
                handle.write(match.version.body + b"\n")
            written += len(page)
            if len(page) < PAGE:
                return written
            after = page[-1].position
