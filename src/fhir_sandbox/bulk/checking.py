"""Checking loader items: parse, validate, give an id and, in worker processes, extract the
index.

With `workers` > 1 the CPU-heavy part of each item (parsing a raw NDJSON line, validation,
the content-derived id, and index extraction) runs in a pool of processes, fed chunks of
items in order, while the loading process does the database work (bulk/loader.py).
Results are consumed in input order, so reports, batches, fail-fast and "the later one
wins" are exactly those of the in-process path. Index extraction moves to the workers only
when no indexed search parameter can read what `stamp` sets per version (meta.versionId
and meta.lastUpdated); otherwise the workers only validate and the index is extracted by
the loader after stamping.
"""

from __future__ import annotations

import multiprocessing
import re
import signal
import uuid
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, islice
from typing import Any, cast

import orjson

from fhir_sandbox.bulk.sources import Item, parse_line
from fhir_sandbox.errors import FhirError
from fhir_sandbox.fhir.validation import validate_resource
from fhir_sandbox.heap import freeze_for_good
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.versions import instant, stamp
from fhir_sandbox.searchparams.paths import compile_expression
from fhir_sandbox.searchparams.registry import Registry, SearchParam
from fhir_sandbox.searchparams.rows import IndexRows, OwnedRows
from fhir_sandbox.storage.base import Repository, StoredVersion

#: Items per task sent to a worker process.
CHUNK_SIZE = 500
#: "spawn" starts clean interpreters: safe with the threads (progress bar, SQLAlchemy
#: pools) of the parent, where fork is not.
START_METHOD = "spawn"


@dataclass
class Checked:
    """A valid resource with its id. A worker that indexed it sends, instead of the parsed
    resource, its first version as stored (`body`, with `WORKER_INSTANT` for lastUpdated),
    its index rows ready for the tables, and its literal references."""

    resource_type: str
    id: str
    resource: dict[str, Any] | None = None
    index: OwnedRows | None = None
    references: set[tuple[str, str]] | None = None
    body: bytes | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.resource_type, self.id

    def parsed(self) -> dict[str, Any]:
        """The resource (a worker's body parsed back: meta.versionId/lastUpdated are the
        placeholders, which stamp() and same_content() ignore)."""
        if self.resource is None:
            assert self.body is not None
            self.resource = orjson.loads(self.body)
        return self.resource


def checked(resource: dict[str, Any]) -> Checked:
    return Checked(resource["resourceType"], resource["id"], resource)


#: What checking one item gives: the resource, or the OperationOutcome text of its problem.
Outcome = Checked | str
Outcomes = Generator[tuple[str, Outcome], None, None]


# -- checking items: parse, validate, id ------------------------------------------------------


def in_process(items: Iterable[Item]) -> Outcomes:
    for item in items:
        yield item.origin, _check_item(item)


def _check_item(item: Item) -> Outcome:
    if item.error is not None:
        return _error_text(item.error)
    entry = _entry(item)
    assert entry is not None
    try:
        return checked(_checked_resource(entry))
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
#: [resource] (the worker only validated), or [type, id, owner-prefixed index rows by table
#: (IndexRows.TABLES order), [type, id] of its literal references] — and beside the array,
#: for those, the stored JSON of the resource's first version (bytes, never re-encoded).
_Answer = None | str | list[Any]
_ChunkAnswer = tuple[bytes, list[bytes | None]]

#: Only these elements of meta may be read by a parameter a worker indexes: stamp() keeps
#: them as sent, but sets versionId and lastUpdated per version.
_CLIENT_META = re.compile(r"\bmeta\.(?:profile|security|source|tag)\b")
_REACHES_SERVER_META = re.compile(
    r"\bmeta\b|versionId|lastUpdated|descendants|children|repeat|%(?:resource|rootResource|context)"
)
NO_PARAMS = Registry(by_type={}, fingerprint="")


def worker_params(registry: Registry) -> tuple[_ParamSpec, ...] | None:
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


def pooled(
    items: Iterable[Item],
    workers: int,
    chunk_size: int,
    params: tuple[_ParamSpec, ...] | None,
    tenant: str,
) -> Outcomes:
    """Outcomes in input order, checked by a pool; small inputs are checked here."""
    chunks = _chunked(items, chunk_size)
    head = list(islice(chunks, 3))
    if len(head) < 3:  # at most two chunks: starting processes would cost more than it saves
        yield from in_process(chain.from_iterable(head))
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(START_METHOD),
        initializer=_start_worker,
        initargs=(params, tenant),
    )
    try:
        todo = chain(head, chunks)
        window: deque[tuple[list[Item], Future[_ChunkAnswer]]] = deque()

        def submit() -> None:
            chunk = next(todo, None)
            if chunk is not None:
                window.append((chunk, pool.submit(_check_chunk, [_entry(i) for i in chunk])))

        for _ in range(2 * workers):  # enough queued to keep every worker busy
            submit()
        while window:
            chunk, future = window.popleft()
            submit()
            encoded, bodies = future.result()
            answers: list[_Answer] = orjson.loads(encoded)
            for item, answer, body in zip(chunk, answers, bodies, strict=True):
                yield item.origin, _outcome(item, answer, body)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _chunked(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _outcome(item: Item, answer: _Answer, body: bytes | None) -> Outcome:
    if answer is None:
        assert item.error is not None
        return _error_text(item.error)
    if isinstance(answer, str):
        return answer
    if len(answer) == 1:
        return checked(answer[0])
    resource_type, resource_id, rows, references = answer
    return Checked(
        resource_type,
        resource_id,
        index=OwnedRows(rows),
        references=set(map(tuple, references)),
        body=body,
    )


#: The worker's context: its registry and a fixed clock (None: validate only).
_worker_ctx: Context | None = None
_worker_tenant = ""


def _start_worker(params: tuple[_ParamSpec, ...] | None, tenant: str) -> None:
    global _worker_ctx, _worker_tenant
    _worker_tenant = tenant
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
    freeze_for_good()  # what exists now lives as long as the worker (heap.py)


def _epoch() -> datetime:
    return datetime(2000, 1, 1, tzinfo=UTC)


#: The lastUpdated of a worker's first versions, replaced by the loader (first_version).
WORKER_INSTANT = instant(_epoch()).encode()


def _check_chunk(entries: list[bytes | dict[str, Any] | None]) -> _ChunkAnswer:
    answers, bodies = [], []
    for entry in entries:
        answer, body = _check_entry(entry)
        answers.append(answer)
        bodies.append(body)
    return orjson.dumps(answers), bodies


def _check_entry(entry: bytes | dict[str, Any] | None) -> tuple[_Answer, bytes | None]:
    if entry is None:
        return None, None
    try:
        resource = _checked_resource(entry)
    except FhirError as exc:
        return _error_text(exc), None
    if _worker_ctx is None:
        return [resource], None
    # The first version as stamp() stores it, at a placeholder time: no indexed parameter
    # reads versionId/lastUpdated (worker_params), nor does _REFERENCE match them.
    version, index = stamp(_worker_ctx, resource, None, "PUT")
    owner = (_worker_tenant, version.resource_type, version.id)
    rows = [[owner + row for row in index.table(name)] for name in IndexRows.TABLES]
    answer = [version.resource_type, version.id, rows, list(literal_references(version.body))]
    return answer, version.body


def first_version(ctx: Context, item: Checked) -> StoredVersion | None:
    """A worker's first version with this moment as its lastUpdated, by splicing the stored
    bytes (stamp() puts resourceType, id and meta.versionId/lastUpdated first, and ids need
    no escaping); None if the body is not shaped so (then the loader stamps it again)."""
    body = item.body
    head = b'{"resourceType":"%s","id":"%s","meta":{"versionId":"1","lastUpdated":"' % (
        item.resource_type.encode(),
        item.id.encode(),
    )
    end = len(head) + len(WORKER_INSTANT)
    if body is None or not body.startswith(head) or body[len(head) : end] != WORKER_INSTANT:
        return None
    now = ctx.clock()
    spliced = b"".join((head, instant(now).encode(), body[end:]))
    return StoredVersion(item.resource_type, item.id, 1, now, "PUT", False, spliced)


_REFERENCE = re.compile(rb'"reference":"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})"')


def literal_references(body: bytes) -> set[tuple[str, str]]:
    """Relative literal references (`Type/id`) anywhere in a stored (orjson) body."""
    return {(t.decode(), i.decode()) for t, i in _REFERENCE.findall(body)}
