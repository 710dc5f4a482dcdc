"""The loader: validated resources into a tenant, in batches, idempotent by id.

Each batch is one write session, so a batch is stored whole or not at all. A bad item is
reported with its origin and the OperationOutcome text, and loading carries on (unless
`fail_fast`). References are checked after each batch against what is stored; those that
still point nowhere at the end are reported as dangling.

With `workers` > 1 the CPU-heavy part of each item (parsing a raw NDJSON line, validation,
the content-derived id, and index extraction) runs in a pool of processes, fed chunks of
items in order, while this process does the database work. Results are consumed in input
order, so reports, batches, fail-fast and "the later one wins" are exactly those of the
in-process path. Index extraction moves to the workers only when no indexed search
parameter can read what `stamp` sets per version (meta.versionId and meta.lastUpdated);
otherwise the workers only validate and the index is extracted here after stamping.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
import signal
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import chain, islice, repeat
from typing import Any, cast

import orjson

from fhir_sandbox.bulk.sources import Item, parse_line
from fhir_sandbox.errors import FhirError
from fhir_sandbox.fhir.validation import validate_resource
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.versions import same_content, stamp
from fhir_sandbox.searchparams.paths import compile_expression
from fhir_sandbox.searchparams.registry import Registry, SearchParam
from fhir_sandbox.searchparams.rows import IndexRows
from fhir_sandbox.storage.base import Repository, Session

Progress = Callable[[int], None]

#: Items per task sent to a worker process.
CHUNK_SIZE = 500
#: "spawn" starts clean interpreters: safe with the threads (progress bar, SQLAlchemy
#: pools) of the parent, where fork is not.
START_METHOD = "spawn"


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


@dataclass
class _Checked:
    """A valid resource with its id; index and references if a worker extracted them."""

    resource: dict[str, Any]
    index: IndexRows | None = None
    references: set[tuple[str, str]] | None = None


#: What checking one item gives: the resource, or the OperationOutcome text of its problem.
_Outcome = _Checked | str
_Outcomes = Generator[tuple[str, _Outcome], None, None]


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
    batch_size: int = 1000,
    fail_fast: bool = False,
    progress: Progress | None = None,
    workers: int = 1,
    chunk_size: int | None = None,
) -> LoadReport:
    """Load `items` into `tenant`; `workers` > 1 checks them in that many processes."""
    report, pending, batch = LoadReport(), _Pending(), []
    statistics = _Statistics(ctx.repository)
    stamp_ctx = replace(ctx, registry=_NO_PARAMS)  # for resources a worker indexed
    if workers > 1:
        params = _worker_params(ctx.registry)
        outcomes = _pooled(items, workers, chunk_size or CHUNK_SIZE, params)
    else:
        outcomes = _in_process(items)
    with _frozen_gc(), closing(outcomes):
        for origin, outcome in outcomes:
            if isinstance(outcome, str):
                report.problems.append(Problem(origin, outcome))
                if fail_fast:
                    raise FailFast(f"{origin}: {outcome}")
            else:
                batch.append((origin, outcome))
            if len(batch) >= batch_size:
                _write_batch(ctx, stamp_ctx, tenant, batch, report, pending)
                statistics.refresh(report.written, {c.resource["resourceType"] for _, c in batch})
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


@contextmanager
def _frozen_gc() -> Iterator[None]:
    """Keep the objects alive before the load (models, registry, modules) out of the
    cyclic collector while it runs: a load allocates millions of containers, and each full
    collection would otherwise walk them all again (~20 % of a load's CPU)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# -- checking items: parse, validate, id ------------------------------------------------------


def _in_process(items: Iterable[Item]) -> _Outcomes:
    for item in items:
        yield item.origin, _check_item(item)


def _check_item(item: Item) -> _Outcome:
    if item.error is not None:
        return _error_text(item.error)
    entry = _entry(item)
    assert entry is not None
    try:
        return _Checked(_checked_resource(entry))
    except FhirError as exc:
        return _error_text(exc)


def _entry(item: Item) -> bytes | dict[str, Any] | None:
    """What there is to check of an item, as plain data: a raw line, a resource, or None
    for an item already known to be bad."""
    if item.error is not None:
        return None
    return item.raw if item.raw is not None else item.resource


def _checked_resource(entry: bytes | dict[str, Any]) -> dict[str, Any]:
    """Parse (if raw) and validate; give a resource without id one. Raises FhirError."""
    data = parse_line(entry) if isinstance(entry, bytes) else entry
    resource = dict(validate_resource(data))
    if "id" not in resource:  # a content-derived id keeps re-loading idempotent
        resource["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, orjson.dumps(resource).decode()))
    return resource


def _error_text(error: FhirError) -> str:
    return "; ".join(issue.diagnostics for issue in error.issues)


# -- checking items in worker processes --------------------------------------------------------

#: A search parameter as plain data: (resource type, code, type, expression, url, targets).
_ParamSpec = tuple[str, str, str, str, str, tuple[str, ...]]
#: A worker answers a chunk with one JSON array (plain bytes, cheaper to make and read than
#: a pickle of the same), an answer per item: null (already known bad), the problem's text,
#: or [resource, index rows by table (IndexRows.TABLES order) or null, [type, id] of its
#: literal references or null] (null: the worker only validated).
_Answer = None | str | list[Any]

#: Only these elements of meta may be read by a parameter a worker indexes: stamp() keeps
#: them as sent, but sets versionId and lastUpdated per version.
_CLIENT_META = re.compile(r"\bmeta\.(?:profile|security|source|tag)\b")
_REACHES_SERVER_META = re.compile(
    r"\bmeta\b|versionId|lastUpdated|descendants|children|repeat|%(?:resource|rootResource|context)"
)
_NO_PARAMS = Registry(by_type={}, fingerprint="")


def _worker_params(registry: Registry) -> tuple[_ParamSpec, ...] | None:
    """The indexed parameters for the workers to rebuild (as build_registry compiles them),
    or None if any could read meta.versionId/lastUpdated: then only this process, after
    stamping, knows the resource the index is extracted from."""
    specs = []
    for by_code in registry.by_type.values():
        for param in by_code.values():
            if param.is_resource_level:  # _id, _lastUpdated: on the resource row, not indexed
                continue
            if _REACHES_SERVER_META.search(_CLIENT_META.sub("", param.expression)):
                return None
            specs.append(
                (param.resource_type, param.code, param.type, param.expression, param.url,
                 param.targets)
            )  # fmt: skip
    return tuple(specs)


def _pooled(
    items: Iterable[Item], workers: int, chunk_size: int, params: tuple[_ParamSpec, ...] | None
) -> _Outcomes:
    """Outcomes in input order, checked by a pool; small inputs are checked here."""
    chunks = _chunked(items, chunk_size)
    head = list(islice(chunks, 3))
    if len(head) < 3:  # at most two chunks: starting processes would cost more than it saves
        yield from _in_process(chain.from_iterable(head))
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(START_METHOD),
        initializer=_start_worker,
        initargs=(params,),
    )
    try:
        todo = chain(head, chunks)
        window: deque[tuple[list[Item], Future[bytes]]] = deque()

        def submit() -> None:
            chunk = next(todo, None)
            if chunk is not None:
                window.append((chunk, pool.submit(_check_chunk, [_entry(i) for i in chunk])))

        for _ in range(2 * workers):  # enough queued to keep every worker busy
            submit()
        while window:
            chunk, future = window.popleft()
            submit()
            answers: list[_Answer] = orjson.loads(future.result())
            for item, answer in zip(chunk, answers, strict=True):
                yield item.origin, _outcome(item, answer)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _chunked(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _outcome(item: Item, answer: _Answer) -> _Outcome:
    if answer is None:
        assert item.error is not None
        return _error_text(item.error)
    if isinstance(answer, str):
        return answer
    resource, rows, references = answer
    if rows is None:
        return _Checked(resource)
    index = IndexRows()
    for name, table in zip(IndexRows.TABLES, rows, strict=True):
        row_type = IndexRows.ROW_TYPES[name]  # JSON arrays back to rows of their type
        index.table(name).update(map(tuple.__new__, repeat(row_type), table))
    return _Checked(resource, index, set(map(tuple, references)))


#: The worker's context: its registry and a fixed clock (None: validate only).
_worker_ctx: Context | None = None


def _start_worker(params: tuple[_ParamSpec, ...] | None) -> None:
    global _worker_ctx
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the pool
    if params is not None:
        by_type: dict[str, dict[str, SearchParam]] = {}
        for resource_type, code, kind, expression, url, targets in params:
            by_type.setdefault(resource_type, {})[code] = SearchParam(
                code=code, resource_type=resource_type, type=kind, expression=expression,
                url=url, targets=targets, evaluate=compile_expression(expression),
            )  # fmt: skip
        _worker_ctx = Context(
            repository=cast(Repository, None),
            registry=Registry(by_type=by_type, fingerprint=""),
            clock=_epoch,
        )
    gc.freeze()  # as in _frozen_gc: what exists now lives as long as the worker


def _epoch() -> datetime:
    return datetime(2000, 1, 1, tzinfo=UTC)


def _check_chunk(entries: list[bytes | dict[str, Any] | None]) -> bytes:
    return orjson.dumps([_check_entry(entry) for entry in entries])


def _check_entry(entry: bytes | dict[str, Any] | None) -> _Answer:
    if entry is None:
        return None
    try:
        resource = _checked_resource(entry)
    except FhirError as exc:
        return _error_text(exc)
    if _worker_ctx is None:
        return [resource, None, None]
    # The same stamped shape the loader stores, but for a placeholder version: no indexed
    # parameter reads versionId/lastUpdated (_worker_params), nor does _REFERENCE match them.
    version, index = stamp(_worker_ctx, resource, None, "PUT")
    rows = [[tuple(row) for row in index.table(name)] for name in IndexRows.TABLES]
    return [resource, rows, list(_literal_references(version.body))]


# -- writing ----------------------------------------------------------------------------------


def _write_batch(
    ctx: Context,
    stamp_ctx: Context,
    tenant: str,
    batch: list[tuple[str, _Checked]],
    report: LoadReport,
    pending: _Pending,
) -> None:
    # the same id twice in one batch: the later one wins, as if loaded one after the other
    latest = {(c.resource["resourceType"], c.resource["id"]): (origin, c) for origin, c in batch}
    if not latest:
        return
    by_type: dict[str, list[str]] = {}
    for rtype, rid in latest:
        by_type.setdefault(rtype, []).append(rid)
    with ctx.repository.session(tenant, write=True) as session:
        current = {t: session.current_many(t, ids) for t, ids in by_type.items()}
        fresh = []
        for (rtype, rid), (origin, checked) in latest.items():
            resource = checked.resource
            previous = current[rtype].get(rid)
            unchanged = previous is not None and not previous.deleted
            if unchanged and same_content(orjson.loads(previous.body), resource):  # type: ignore[union-attr]
                report.unchanged += 1
                continue
            if checked.index is None:
                version, index = stamp(ctx, resource, previous, "PUT")
            else:  # extracted by a worker: stamp without extracting again
                version, _ = stamp(stamp_ctx, resource, previous, "PUT")
                index = checked.index
            references = checked.references
            if references is None:
                references = _literal_references(version.body)
            for target in references:
                if target in latest:  # current once this batch is stored
                    continue
                if target not in pending.targets:
                    pending.unchecked.add(target)
                pending.targets.setdefault(target, []).append(origin)
            if previous is None:
                fresh.append((version, index))
            else:
                session.save(version, index)
            report.written += 1
        session.insert_new(fresh)
        for key in latest:  # every resource of the batch is current now
            pending.targets.pop(key, None)
        _resolve(session, pending, pending.unchecked)
        pending.unchecked.clear()


_REFERENCE = re.compile(rb'"reference":"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})"')


def _literal_references(body: bytes) -> set[tuple[str, str]]:
    """Relative literal references (`Type/id`) anywhere in a stored (orjson) body."""
    return {(t.decode(), i.decode()) for t, i in _REFERENCE.findall(body)}


def _resolve(session: Session, pending: _Pending, targets: Iterable[tuple[str, str]]) -> None:
    """Forget the targets (of those pending) that are current in the store."""
    by_type: dict[str, list[str]] = {}
    for rtype, rid in targets:
        if (rtype, rid) in pending.targets:
            by_type.setdefault(rtype, []).append(rid)
    for rtype, ids in by_type.items():
        for rid, version in session.current_many(rtype, ids).items():
            if not version.deleted:
                pending.targets.pop((rtype, rid), None)


def _report_dangling(ctx: Context, tenant: str, pending: _Pending, report: LoadReport) -> None:
    with ctx.repository.session(tenant) as session:
        _resolve(session, pending, list(pending.targets))
    for (rtype, rid), origins in sorted(pending.targets.items()):
        for origin in origins:
            message = f"dangling reference: {rtype}/{rid} does not exist in the tenant"
            report.problems.append(Problem(origin, message, severity="warning"))
