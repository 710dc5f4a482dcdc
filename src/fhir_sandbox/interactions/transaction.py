"""transaction: all entries or none (https://hl7.org/fhir/R4/http.html#transaction, #trules).

The whole transaction runs in ONE write session. Every entry goes through the ordinary
interaction (create, update, patch, delete, read, search, …) with a Context whose repository
is bound to that session (storage/bound.py), so the first failing entry raises, the session
rolls back and nothing is persisted. The answer is then one OperationOutcome with that
entry's own status, naming the entry by index and fullUrl.

Processing order (http.html#trules): DELETE, then POST, then PUT and PATCH, then GET/HEAD;
within each group, request order. After the deletes and before the creates, every entry's
identity is settled — new ids for POSTs (or the match of `ifNoneExist`), the ids of PUT
URLs and the match of conditional PUTs — so references to any entry's `fullUrl` can be
rewritten before anything is written (bundle_refs.py). A resource written by two entries,
and two entries with one fullUrl, fail the transaction. New resources are stored together,
before the next read and at the end (storage/bound.py DeferredCreates).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import parse_qsl

from fhir_sandbox.errors import EntryFailed, FhirError, Invalid, Issue, PreconditionFailed
from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.ids import new_id
from fhir_sandbox.interactions.bundle_entry import Entry, entry_request
from fhir_sandbox.interactions.bundle_refs import Rewriter, add_identity
from fhir_sandbox.interactions.bundle_response import response_bundle, response_entry
from fhir_sandbox.interactions.conditional import criteria_matches
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.storage.base import Session
from fhir_sandbox.storage.bound import BoundRepository, DeferredCreates, RecordingSession

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def transaction(ctx: Context, request: FhirRequest, entries: list[Entry]) -> Result:
    for entry in entries:
        if entry.error is not None:
            raise failed(entry, entry.error)
    _unique_full_urls(entries)
    with ctx.repository.session(request.tenant, write=True) as outer:
        run = _Run(ctx, request, outer)
        ordered = sorted(entries, key=lambda e: (ORDER[e.method], e.index))
        for entry in (e for e in ordered if e.method == "DELETE"):
            run.execute(entry)
        for entry in entries:
            run.identify(entry)
        for entry in (e for e in ordered if e.method != "DELETE"):
            run.execute(entry)
        run.creates.flush()
    responses = [response_entry(request, run.results[e.index]) for e in entries]
    return Result(200, response_bundle(ctx, "transaction-response", responses))


class _Run:
    def __init__(self, ctx: Context, request: FhirRequest, outer: Session) -> None:
        self.creates = DeferredCreates(outer)  # the creates stored together (bound.py)
        self.session = RecordingSession(self.creates)
        repository = BoundRepository(self.session, request.tenant, write=True)
        self.ctx = replace(ctx, repository=repository)
        self.request = request
        self.ids: dict[str, str] = {}
        self.rewriter = Rewriter(self.ctx, self.session, request, self.ids)
        self.written_by: dict[tuple[str, str], int] = {}
        self.results: dict[int, Result] = {}

    def identify(self, entry: Entry) -> None:
        base = self.request.base_url
        with at(entry):
            if entry.method == "POST" and len(entry.parts) == 1:
                resource_type = entry.parts[0]
                resource_id = self._existing(entry, resource_type)
                if resource_id is None:
                    resource_id = entry.assigned_id = new_id()
                add_identity(self.ids, entry.full_url, base, resource_type, resource_id)
            elif entry.method in WRITES and entry.target is not None:
                add_identity(self.ids, entry.full_url, base, *entry.target)
            elif entry.method == "PUT" and entry.full_url and isinstance(entry.body, dict):
                self._conditional_put(entry)

    def _matches(
        self, entry: Entry, resource_type: str, criteria: list[tuple[str, str]]
    ) -> list[str]:
        probe = FhirRequest(
            method=entry.method,
            tenant=self.request.tenant,
            base_url=self.request.base_url,
            resource_type=resource_type,
            params=criteria,
        )
        return [m.id for m in criteria_matches(self.ctx, self.session, probe)]

    def _existing(self, entry: Entry, resource_type: str) -> str | None:
        condition = entry.headers.get("if-none-exist")
        if condition is None or resource_type not in RESOURCE_TYPES:
            return None
        criteria = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
        found = self._matches(entry, resource_type, criteria)
        if len(found) > 1:
            raise PreconditionFailed(
                f"ifNoneExist {condition!r} matches more than one {resource_type}; "
                "make the criteria more selective"
            )
        return found[0] if found else None

    def _conditional_put(self, entry: Entry) -> None:
        """Settle a conditional update's id now, so references to its fullUrl resolve."""
        resource_type = entry.parts[0] if entry.parts else ""
        if resource_type not in RESOURCE_TYPES or not entry.params:
            return  # the update interaction reports these
        found = self._matches(entry, resource_type, entry.params)
        if len(found) > 1:
            raise PreconditionFailed(
                f"The criteria match more than one {resource_type}; nothing was updated"
            )
        if found:
            resource_id = found[0]
        else:
            resource_id = str(entry.body.get("id") or new_id())
            entry.body["id"] = resource_id
        add_identity(self.ids, entry.full_url, self.request.base_url, resource_type, resource_id)

    def execute(self, entry: Entry) -> None:
        with at(entry):
            self.rewriter.entry(entry)
            action, fhir = entry_request(entry, self.request)
            before = len(self.session.saved)
            result = action(self.ctx, fhir)
            saved = self.session.saved[before:]
            for key in saved:
                other = self.written_by.setdefault(key, entry.index)
                if other != entry.index:
                    raise Invalid(
                        f"{key[0]}/{key[1]} is also written by entry {other}; a transaction "
                        "may write each resource once",
                        code="business-rule",
                    )
            if entry.assigned_id and (entry.parts[0], entry.assigned_id) not in saved:
                raise Invalid(
                    "ifNoneExist matched a resource written earlier in this transaction; "
                    "a transaction may write each resource once",
                    code="business-rule",
                )
            self.results[entry.index] = result


def _unique_full_urls(entries: list[Entry]) -> None:
    seen: dict[str, int] = {}
    for entry in entries:
        if not entry.full_url or entry.method not in WRITES:
            continue
        if entry.full_url in seen:
            error = Invalid(
                f"fullUrl {entry.full_url} is also used by entry {seen[entry.full_url]}; "
                "each resource may appear once in a transaction",
                code="business-rule",
                expression=[f"{entry.where}.fullUrl"],
            )
            raise failed(entry, error)
        seen[entry.full_url] = entry.index


@contextmanager
def at(entry: Entry) -> Iterator[None]:
    """Turn any FHIR error raised for `entry` into the transaction's failure."""
    try:
        yield
    except FhirError as exc:
        raise failed(entry, exc) from None


def failed(entry: Entry, error: FhirError) -> EntryFailed:
    prefix = f"Transaction failed at {entry.label}: "
    issues = [
        Issue(i.code, prefix + i.diagnostics, i.severity, _located(entry, i.expression))
        for i in error.issues
    ]
    return EntryFailed(error.status, issues)


def _located(entry: Entry, expressions: tuple[str, ...]) -> tuple[str, ...]:
    """Expressions relative to the Bundle: `Organization.name` → `Bundle.entry[2].resource.name`."""
    if not expressions:
        return (entry.where,)
    located = []
    for expression in expressions:
        head, dot, rest = expression.partition(".")
        if head == "Bundle":
            located.append(expression)
        elif head[:1].isupper():
            located.append(f"{entry.where}.resource{dot}{rest}")
        else:
            located.append(f"{entry.where}.resource.{expression}")
    return tuple(located)
