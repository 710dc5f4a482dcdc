"""The loader: validated resources into a tenant, in batches, idempotent by id.

Each batch is one write session, so a batch is stored whole or not at all. A bad item is
reported with its origin and the OperationOutcome text, and loading carries on (unless
`fail_fast`). References are checked after each batch against what is stored; those that
still point nowhere at the end are reported as dangling.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from fhir_sandbox.bulk.sources import Item
from fhir_sandbox.errors import FhirError
from fhir_sandbox.fhir.validation import validate_resource
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.versions import same_content, stamp
from fhir_sandbox.storage.base import Session

Progress = Callable[[int], None]


@dataclass
class Problem:
    origin: str
    message: str
    severity: str = "error"


@dataclass
class LoadReport:
    written: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class FailFast(Exception):
    """Raised to stop at the first bad item when asked to."""


@dataclass
class _Pending:
    """References not found yet: target -> origins that point at it."""

    targets: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def load(
    ctx: Context,
    tenant: str,
    items: Iterable[Item],
    *,
    batch_size: int = 1000,
    fail_fast: bool = False,
    progress: Progress | None = None,
) -> LoadReport:
    report, pending, batch = LoadReport(), _Pending(), []
    for item in items:
        resource = _validated(item, report, fail_fast)
        if resource is not None:
            batch.append((item.origin, resource))
        if len(batch) >= batch_size:
            _write_batch(ctx, tenant, batch, report, pending)
            batch = []
        if progress:
            progress(1)
    _write_batch(ctx, tenant, batch, report, pending)
    _report_dangling(ctx, tenant, pending, report)
    return report


def _validated(item: Item, report: LoadReport, fail_fast: bool) -> dict[str, Any] | None:
    error = item.error
    resource = None
    if error is None and item.resource is not None:
        try:
            resource = dict(validate_resource(item.resource))
        except FhirError as exc:
            error = exc
    if error is not None:
        text = "; ".join(issue.diagnostics for issue in error.issues)
        report.problems.append(Problem(item.origin, text))
        if fail_fast:
            raise FailFast(f"{item.origin}: {text}")
        return None
    assert resource is not None
    if "id" not in resource:  # a content-derived id keeps re-loading idempotent
        resource["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, orjson.dumps(resource).decode()))
    return resource


def _write_batch(
    ctx: Context,
    tenant: str,
    batch: list[tuple[str, dict[str, Any]]],
    report: LoadReport,
    pending: _Pending,
) -> None:
    # the same id twice in one batch: the later one wins, as if loaded one after the other
    latest = {(r["resourceType"], r["id"]): (origin, r) for origin, r in batch}
    if not latest:
        return
    by_type: dict[str, list[str]] = {}
    for rtype, rid in latest:
        by_type.setdefault(rtype, []).append(rid)
    with ctx.repository.session(tenant, write=True) as session:
        current = {t: session.current_many(t, ids) for t, ids in by_type.items()}
        fresh = []
        for (rtype, rid), (origin, resource) in latest.items():
            previous = current[rtype].get(rid)
            unchanged = previous is not None and not previous.deleted
            if unchanged and same_content(orjson.loads(previous.body), resource):  # type: ignore[union-attr]
                report.unchanged += 1
                continue
            version, index = stamp(ctx, resource, previous, "PUT")
            for target in _literal_references(version.body):
                pending.targets.setdefault(target, []).append(origin)
            if previous is None:
                fresh.append((version, index))
            else:
                session.save(version, index)
            report.written += 1
        session.insert_new(fresh)
        _resolve(session, pending)


_REFERENCE = re.compile(rb'"reference":"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})"')


def _literal_references(body: bytes) -> set[tuple[str, str]]:
    """Relative literal references (`Type/id`) anywhere in a stored (orjson) body."""
    return {(t.decode(), i.decode()) for t, i in _REFERENCE.findall(body)}


def _resolve(session: Session, pending: _Pending) -> None:
    by_type: dict[str, list[str]] = {}
    for rtype, rid in pending.targets:
        by_type.setdefault(rtype, []).append(rid)
    for rtype, ids in by_type.items():
        for rid, version in session.current_many(rtype, ids).items():
            if not version.deleted:
                pending.targets.pop((rtype, rid), None)


def _report_dangling(ctx: Context, tenant: str, pending: _Pending, report: LoadReport) -> None:
    with ctx.repository.session(tenant) as session:
        _resolve(session, pending)
    for (rtype, rid), origins in sorted(pending.targets.items()):
        for origin in origins:
            message = f"dangling reference: {rtype}/{rid} does not exist in the tenant"
            report.problems.append(Problem(origin, message, severity="warning"))
