"""The loader: validated resources into a tenant, in batches, idempotent by id.

Each batch is one write session, so a batch is stored whole or not at all. A bad item is
reported with its origin and the OperationOutcome text, and loading carries on (unless
`fail_fast`). References are checked after each batch against what is stored; those that
still point nowhere at the end are reported as dangling.

With `workers` > 1 the items are checked (parsed, validated, indexed) in worker processes
while this process does the database work: bulk/checking.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field, replace

import orjson

from fhir_sandbox.bulk import BATCH_SIZE
from fhir_sandbox.bulk.checking import (
    CHUNK_SIZE,
    NO_PARAMS,
    Checked,
    first_version,
    in_process,
    literal_references,
    pooled,
    worker_params,
)
from fhir_sandbox.bulk.sources import Item
from fhir_sandbox.heap import long_lived_objects_frozen
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.versions import same_content, stamp
from fhir_sandbox.searchparams.rows import as_index_rows
from fhir_sandbox.storage.base import NewVersion, Repository, Session, StoredVersion

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
    """References not found yet: target -> origins that point at it.

    A target is looked up in the store once, in the batch that first points at it (it may
    have been stored before, by an earlier batch or before the load); after that only a
    later batch storing it, or the final check, resolves it. Looking every pending target
    up again after every batch cost more than the rest of a load with forward references.
    """

    targets: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    unchecked: set[tuple[str, str]] = field(default_factory=set)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under `taskset`)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load(
    ctx: Context,
    tenant: str,
    items: Iterable[Item],
    *,
    batch_size: int = BATCH_SIZE,
    fail_fast: bool = False,
    progress: Progress | None = None,
    workers: int = 1,
    chunk_size: int | None = None,
) -> LoadReport:
    """Load `items` into `tenant`; `workers` > 1 checks them in that many processes."""
    report, pending, batch = LoadReport(), _Pending(), []
    statistics = _Statistics(ctx.repository)
    stamp_ctx = replace(ctx, registry=NO_PARAMS)  # for resources a worker indexed
    if workers > 1:
        params = worker_params(ctx.registry)
        outcomes = pooled(items, workers, chunk_size or CHUNK_SIZE, params, tenant)
    else:
        outcomes = in_process(items)
    with long_lived_objects_frozen(), closing(outcomes):
        for origin, outcome in outcomes:
            if isinstance(outcome, str):
                report.problems.append(Problem(origin, outcome))
                if fail_fast:
                    raise FailFast(f"{origin}: {outcome}")
            else:
                batch.append((origin, outcome))
            if len(batch) >= batch_size:
                _write_batch(ctx, stamp_ctx, tenant, batch, report, pending)
                statistics.refresh(report.written, {c.resource_type for _, c in batch})
                batch = []
            if progress:
                progress(1)
        _write_batch(ctx, stamp_ctx, tenant, batch, report, pending)
    statistics.refresh(report.written, set(), final=True)
    _report_dangling(ctx, tenant, pending, report)
    return report


@dataclass
class _Statistics:
    """Keeps the planner's statistics in step with a load: after a batch that brings a
    resource type the last statistics did not have, each time the count written doubles,
    and at the end. PostgreSQL otherwise plans each batch's lookups for the tables as it
    last saw them: for a type it believes absent it estimates one row and picks a nested
    loop that scans every row of the type per lookup, quadratic in the type's size (a 10k
    load into a fresh database hit the 30 s statement timeout, and with doubling alone a
    100k load stalled once the practitioners arrived: benchmarks/README.md). Files usually
    come one type after another, so this is a handful of ANALYZEs per load."""

    repository: Repository
    analysed_at: int = 0
    analysed_types: set[str] = field(default_factory=set)

    def refresh(self, written: int, types: set[str], *, final: bool = False) -> None:
        if written == 0 or written == self.analysed_at:
            return
        new_type = not types <= self.analysed_types
        if new_type or written >= 2 * self.analysed_at or final:
            self.repository.analyze()
            self.analysed_at = written
            self.analysed_types |= types


# -- writing ----------------------------------------------------------------------------------


def _write_batch(
    ctx: Context,
    stamp_ctx: Context,
    tenant: str,
    batch: list[tuple[str, Checked]],
    report: LoadReport,
    pending: _Pending,
) -> None:
    # the same id twice in one batch: the later one wins, as if loaded one after the other
    latest = {c.key: (origin, c) for origin, c in batch}
    if not latest:
        return
    with ctx.repository.session(tenant, write=True) as session:
        current = {t: session.current_many(t, ids) for t, ids in _by_type(latest).items()}
        fresh: list[NewVersion] = []
        for (rtype, rid), (origin, checked) in latest.items():
            previous = current[rtype].get(rid)
            stored = _next_version(ctx, stamp_ctx, checked, previous)
            if stored is None:
                report.unchanged += 1
                continue
            version, index = stored
            _pend_references(checked, version, latest, pending, origin)
            if previous is None:
                fresh.append(stored)
            else:
                session.save(version, as_index_rows(index))
            report.written += 1
        session.insert_new(fresh)
        for key in latest:  # every resource of the batch is current now
            pending.targets.pop(key, None)
        _resolve(session, pending, pending.unchecked)
        pending.unchecked.clear()


def _next_version(
    ctx: Context, stamp_ctx: Context, checked: Checked, previous: StoredVersion | None
) -> NewVersion | None:
    """The version to store for `checked` and its index; None when it is what is stored."""
    if previous is None and (first := first_version(ctx, checked)) is not None:
        assert checked.index is not None
        return first, checked.index  # a worker's first version as it is: nothing to parse
    resource = checked.parsed()
    unchanged = previous is not None and not previous.deleted
    if unchanged and same_content(orjson.loads(previous.body), resource):  # type: ignore[union-attr]
        return None
    if checked.index is None:
        return stamp(ctx, resource, previous, "PUT")
    version, _ = stamp(stamp_ctx, resource, previous, "PUT")  # indexed by a worker
    return version, checked.index


def _pend_references(
    checked: Checked,
    version: StoredVersion,
    batch: dict[tuple[str, str], tuple[str, Checked]],
    pending: _Pending,
    origin: str,
) -> None:
    """Note the targets of the version's references that this batch does not store."""
    references = checked.references
    if references is None:
        references = literal_references(version.body)
    for target in references:
        if target in batch:  # current once this batch is stored
            continue
        if target not in pending.targets:
            pending.unchecked.add(target)
        pending.targets.setdefault(target, []).append(origin)


def _resolve(session: Session, pending: _Pending, targets: Iterable[tuple[str, str]]) -> None:
    """Forget the targets (of those pending) that are current in the store."""
    for rtype, ids in _by_type(t for t in targets if t in pending.targets).items():
        for rid in session.existing(rtype, ids):
            pending.targets.pop((rtype, rid), None)


def _by_type(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(type, id) keys as the ids of each type, for one lookup per type."""
    ids: dict[str, list[str]] = {}
    for rtype, rid in keys:
        ids.setdefault(rtype, []).append(rid)
    return ids


def _report_dangling(ctx: Context, tenant: str, pending: _Pending, report: LoadReport) -> None:
    with ctx.repository.session(tenant) as session:
        _resolve(session, pending, list(pending.targets))
    for (rtype, rid), origins in sorted(pending.targets.items()):
        for origin in origins:
            message = f"dangling reference: {rtype}/{rid} does not exist in the tenant"
            report.problems.append(Problem(origin, message, severity="warning"))
