"""Keeping search indexes in step with the SearchParameter definitions.

The registry's fingerprint is stored with the data. When definitions change (a new or
edited custom SearchParameter), every current resource is re-indexed — only the rows that
change are written — and the new fingerprint is stored last, so an interrupted reindex is
simply done again: never silently half-applied.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.search.query import Query
from fhir_sandbox.searchparams.extract import extract_index
from fhir_sandbox.storage.base import PageRequest, Repository

FINGERPRINT_KEY = "search-registry-fingerprint"
PAGE = 500


def index_is_current(ctx: Context, repository: Repository) -> bool:
    return repository.get_setting(FINGERPRINT_KEY) == ctx.registry.fingerprint


def reindex(
    ctx: Context, repository: Repository, progress: Callable[[int], None] | None = None
) -> int:
    """Re-extract the index rows of every current resource of every tenant."""
    count = 0
    for tenant in repository.tenants():
        for resource_type in RESOURCE_TYPES:
            count += _reindex_type(ctx, tenant, resource_type, progress)
    repository.put_setting(FINGERPRINT_KEY, ctx.registry.fingerprint)
    return count


def _reindex_type(
    ctx: Context, tenant: str, resource_type: str, progress: Callable[[int], None] | None
) -> int:
    count, after = 0, None
    while True:
        with ctx.repository.session(tenant, write=True) as session:
            page = session.page(Query(resource_type), PageRequest(PAGE, after=after))
            for match in page:
                index = extract_index(orjson.loads(match.version.body), ctx.registry)
                session.replace_index(resource_type, match.version.id, index)
        count += len(page)
        if progress:
            progress(len(page))
        if len(page) < PAGE:
            return count
        after = page[-1].position


def ensure_index_current(ctx: Context, repository: Repository) -> int | None:
    """Reindex when the definitions changed since the data was indexed; None if current."""
    if index_is_current(ctx, repository):
        return None
    return reindex(ctx, repository)
