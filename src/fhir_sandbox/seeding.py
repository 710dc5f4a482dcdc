"""Loading the curated seed (`seed/`) into a tenant.

Idempotent: each resource is written with its own id (update-as-create), and a resource
whose content already equals the stored one (ignoring meta) is left alone, so seeding twice
changes nothing. All of it happens in one write session: a bad seed file writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from fhir_sandbox.errors import FhirError, Invalid
from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.fhir.validation import validate_resource
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.versions import same_content, write_version

PLACEHOLDER = "{{PUBLIC_BASE_URL}}"
DIRECTORY_TENANT = "directory"


def default_seed_dir() -> Path:
    """The repository's seed/ (source checkout or editable install)."""
    return Path(__file__).resolve().parents[2] / "seed"


@dataclass
class SeedReport:
    written: int = 0
    unchanged: int = 0


def seed_files(seed_dir: Path) -> Iterator[Path]:
    for resource_type in RESOURCE_TYPES:
        yield from sorted((seed_dir / resource_type).glob("*.json"))


def read_seed(seed_dir: Path, public_base_url: str) -> Iterator[dict[str, Any]]:
    for path in seed_files(seed_dir):
        raw = path.read_bytes().replace(PLACEHOLDER.encode(), public_base_url.encode())
        try:
            resource = validate_resource(orjson.loads(raw))
        except (orjson.JSONDecodeError, FhirError) as exc:
            raise Invalid(f"Seed file {path}: {exc}") from None
        if "id" not in resource:
            raise Invalid(f"Seed file {path} has no id")
        yield resource


def load_seed(
    ctx: Context, seed_dir: Path, public_base_url: str, tenant: str = DIRECTORY_TENANT
) -> SeedReport:
    resources = list(read_seed(seed_dir, public_base_url))
    report = SeedReport()
    with ctx.repository.session(tenant, write=True) as session:
        for resource in resources:
            current = session.current(resource["resourceType"], resource["id"])
            if (
                current is not None
                and not current.deleted
                and same_content(orjson.loads(current.body), resource)
            ):
                report.unchanged += 1
                continue
            write_version(ctx, session, resource, current, "PUT")
            report.written += 1
    return report


def is_empty(ctx: Context, tenant: str = DIRECTORY_TENANT) -> bool:
    with ctx.repository.session(tenant) as session:
        return session.max_seq() == 0
