"""The fast lane: the hottest interactions without the web framework.

read, vread, search, create, update and batch/transaction (https://hl7.org/fhir/R4/http.html
#read, #vread, #search, #create, #update, #transaction) are what integration clients, CI
suites and directory uploads do most. Measured on
one core, FastAPI's middleware stack, router, dependency solving and anyio's worker-thread
hand-off cost several times a primary-key read (benchmarks/README.md). The fast lane sits
in front of all of it and answers exactly

    GET [base]/[type]/[id]                      (read)
    GET [base]/[type]/[id]/_history/[vid]       (vread)
    GET [base]/[type]?...                       (search-type)
    POST [base]/[type]                          (create)
    PUT [base]/[type]/[id]                      (update)
    POST [base]                                 (batch / transaction)

with [type] one of ours and [id] a valid FHIR id, by calling the same interactions, the same
body parsing, renderer and error mapping, and the same request-id and access-log functions
as the application. Everything else goes to the application untouched, and so does a
browser's request (an `Origin` header: CORS is the application's business).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from fhir_sandbox.api import errors
from fhir_sandbox.api.access_log import AccessLog
from fhir_sandbox.api.middleware import request_id_of
from fhir_sandbox.api.render import render, wants_pretty
from fhir_sandbox.api.requests import parse_request_body, read_limited
from fhir_sandbox.api.workers import Workers
from fhir_sandbox.errors import FhirError
from fhir_sandbox.fhir.formats import negotiate
from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.fhir.validation import ID_PATTERN
from fhir_sandbox.interactions import batch, create, read, search, update
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest
from fhir_sandbox.interactions.retries import Interaction, with_retries

_TYPES = frozenset(RESOURCE_TYPES)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def match(path: str) -> tuple[str, str, list[str]] | None:
    """(tenant, tenant path, [] or [type] or [type, id] or [type, id, vid]) for the four
    shapes, else None.

    The tenants are the routes' (api.routes.tenant_of): /fhir is the directory,
    /ehr/{name}/r4 a mock EHR.
    """
    parts = path.split("/")
    if len(parts) > 1 and parts[1] == "fhir":
        tenant, base, rest = "directory", "/fhir", parts[2:]
    elif len(parts) > 3 and parts[1] == "ehr" and parts[3] == "r4" and parts[2]:
        tenant, base, rest = f"ehr-{parts[2]}", f"/ehr/{parts[2]}/r4", parts[4:]
    else:
        return None
    if not rest:  # the base itself (with a trailing slash: the application redirects)
        return tenant, base, []
    if len(rest) == 1 and rest[0] in _TYPES:
        return tenant, base, rest
    if len(rest) not in (2, 4) or rest[0] not in _TYPES or not ID_PATTERN.match(rest[1]):
        return None
    if len(rest) == 4:
        if rest[2] != "_history" or not rest[3]:
            return None
        return tenant, base, [rest[0], rest[1], rest[3]]
    return tenant, base, rest


class _Disconnected(Exception):
    """The client went away before its body arrived: there is no one to answer."""


# (method, shape: 0 = [base], 1 = [type], 2 = [type, id], 3 = [type, id, vid]) -> the interaction
_INTERACTIONS: dict[tuple[str, int], Interaction] = {
    ("POST", 0): batch.batch_or_transaction,
    ("GET", 1): search.search,
    ("GET", 2): read.read,
    ("GET", 3): read.vread,
    ("POST", 1): create.create,
    ("PUT", 2): update.update,
}
# primary-key reads: cheap enough for the event loop when the store is embedded
_INLINE = (read.read, read.vread)


class FastLane:
    """Answers search, read, vread, create, update and batch/transaction for `context()`;
    `handle` says whether it did."""

    def __init__(
        self,
        context: Callable[[], Context],
        workers: Workers,
        searchers: Workers,
        *,
        access_log: AccessLog | None,
        max_body_bytes: int,
    ) -> None:
        self.context = context
        # Embedded stores are read on the event loop: a primary-key read in SQLite takes
        # tens of microseconds, a hand-off to a thread and back costs more than that (and
        # two context switches on a one-core server). Searches, which may take long, and
        # writes, which may wait for the writer lock, go to worker threads (cheaper than
        # anyio's to_thread or run_in_executor: api/workers.py), as do all reads of a
        # networked store.
        self.workers = workers
        # Searches of the embedded store get a small pool of their own: its work is CPU in
        # this process, where more threads only queue for the GIL, and writes waiting for
        # the writer lock in the other pool do not hold them up.
        self.searchers = searchers
        self.access_log = access_log
        self.max_body_bytes = max_body_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        if scope["type"] != "http":
            return False
        target = match(_route_path(scope))
        interaction = _INTERACTIONS.get((scope["method"], len(target[2]))) if target else None
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if target is None or interaction is None or "origin" in headers:
            return False
        started = time.perf_counter()
        request_id, given = request_id_of(scope)
        if not given:  # the error handlers quote it
            scope["headers"] = [*scope["headers"], (b"x-request-id", request_id.encode())]
            headers["x-request-id"] = request_id
        try:
            response = await self._answer(scope, receive, headers, interaction, target)
        except _Disconnected:
            return True
        response.headers["vary"] = "Origin"  # as the CORS middleware says on the other path
        response.headers["x-request-id"] = request_id
        await response(scope, receive, send)
        if self.access_log is not None:
            self.access_log.record(request_id, scope, response.status_code, started)
        return True

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        interaction: Interaction,
        target: tuple[str, str, list[str]],
    ) -> Response:
        tenant, base, parts = target
        params = QueryParams(scope["query_string"])
        fhir = FhirRequest(
            method=scope["method"],
            tenant=tenant,
            base_url=_base_url(scope, headers) + base,
            resource_type=parts[0] if parts else None,
            id=parts[1] if len(parts) > 1 else None,
            version=parts[2] if len(parts) > 2 else None,
            params=list(params.multi_items()),
            headers=headers,
        )
        try:
            if fhir.method != "GET":
                raw = await read_limited(
                    _chunks(receive), headers.get("content-length"), self.max_body_bytes
                )
                fhir.body = parse_request_body(fhir.method, headers.get("content-type"), raw)
            fmt = negotiate(headers.get("accept"), params.get("_format"))
            context = self.context()
            embedded = context.repository.embedded
            if embedded and interaction in _INLINE:
                result = with_retries(interaction, context, fhir)
            else:
                pool = self.searchers if embedded and interaction is search.search else self.workers
                result = await pool.run(with_retries, interaction, context, fhir)
            return render(result, fmt, wants_pretty(fhir.params))
        except FhirError as exc:
            return errors.outcome_response(_request(scope), exc.status, exc.issues, exc.headers)
        except _Disconnected:
            raise
        except Exception as exc:  # the same 500 as the application's handler
            return errors.unexpected_response(_request(scope), exc)


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def _route_path(scope: Scope) -> str:
    """The path below the mount point (what Starlette's router matches on)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _base_url(scope: Scope, headers: dict[str, str]) -> str:
    """What starlette's `request.base_url` gives (scheme, Host, mount point), without the
    URL objects it builds."""
    scheme, root = scope.get("scheme", "http"), scope.get("root_path", "").rstrip("/")
    host = headers.get("host")
    if host is None and scope.get("server"):
        name, port = scope["server"]
        host = name if _DEFAULT_PORTS.get(scheme) == port else f"{name}:{port}"
    return f"{scheme}://{host}{root}" if host is not None else root


def _request(scope: Scope) -> Request:
    async def no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request(scope, no_body)
