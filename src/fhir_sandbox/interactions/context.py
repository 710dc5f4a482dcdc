"""What every interaction needs: the repository, the search registry, paging limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fhir_sandbox.searchparams.registry import Registry, default_registry
from fhir_sandbox.storage.base import Repository


def utc_now() -> datetime:
    """Now, truncated to milliseconds (the precision of meta.lastUpdated we serve)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass
class Context:
    repository: Repository
    registry: Registry = field(default_factory=default_registry)
    default_page_size: int = 20
    max_page_size: int = 1000
    max_bundle_entries: int = 1000
    clock: Callable[[], datetime] = utc_now
