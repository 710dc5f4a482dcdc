"""batch and transaction: `POST [base]` with a Bundle (https://hl7.org/fhir/R4/http.html#transaction).

A `transaction` Bundle is handed to transaction.py (all or nothing). A `batch` Bundle's
entries run independently, in request order, each in its own session (a write session for
writes), so one failing entry does not affect the others: each response entry carries its
own `response.status` and, on failure, its `outcome`. Batch entries may not refer to each
other (`urn:uuid:` references are an error for that entry); conditional references
(`Type?criteria`) are resolved in both kinds.

Limits: at most `Context.max_bundle_entries` entries (413 beyond, naming the limit); the body
size is bounded by the server's request body limit like any other request.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from fhir_sandbox.errors import FhirError, Invalid, Issue, TooLarge
from fhir_sandbox.interactions.bundle_entry import Entry, entry_request, read_entries
from fhir_sandbox.interactions.bundle_refs import Rewriter
from fhir_sandbox.interactions.bundle_response import (
    error_entry,
    error_response,
    response_bundle,
    response_entry,
)
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.transaction import transaction
from fhir_sandbox.storage.bound import BoundRepository

log = logging.getLogger("fhir_sandbox")
KINDS = ("batch", "transaction")


def batch_or_transaction(ctx: Context, request: FhirRequest) -> Result:
    kind, raw = _bundle(ctx, request.body)
    entries = read_entries(request, raw)
    if kind == "transaction":
        return transaction(ctx, request, entries)
    responses = [_one(ctx, request, entry) for entry in entries]
    return Result(200, response_bundle(ctx, "batch-response", responses))


def _bundle(ctx: Context, body: Any) -> tuple[str, list[Any]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise Invalid(
            "POST to the FHIR base takes a Bundle of type batch or transaction",
            expression=["resourceType"],
        )
    kind = body.get("type")
    if kind not in KINDS:
        raise Invalid(
            f"Bundle.type is {kind!r}; POST to the FHIR base processes batch and transaction "
            "Bundles only",
            code="not-supported",
            expression=["Bundle.type"],
        )
    raw = body.get("entry", [])
    if not isinstance(raw, list):
        raise Invalid(
            "Bundle.entry must be an array", code="structure", expression=["Bundle.entry"]
        )
    if len(raw) > ctx.max_bundle_entries:
        raise TooLarge(
            f"The Bundle has {len(raw)} entries; this server takes at most "
            f"{ctx.max_bundle_entries} entries per {kind} (FHIR_SANDBOX_MAX_BUNDLE_ENTRIES)",
            expression=["Bundle.entry"],
        )
    return str(kind), raw


def _one(ctx: Context, request: FhirRequest, entry: Entry) -> dict[str, Any]:
    """One batch entry in its own session; its failure is its own response."""
    if entry.error is not None:
        return error_entry(entry.error)
    write = entry.method not in ("GET", "HEAD")
    try:
        with ctx.repository.session(request.tenant, write=write) as session:
            bound = replace(ctx, repository=BoundRepository(session, request.tenant, write=write))
            Rewriter(bound, session, request, {}, in_batch=True).entry(entry)
            action, fhir = entry_request(entry, request)
            result = action(bound, fhir)
    except FhirError as exc:
        return error_entry(exc)
    except Exception:  # one broken entry must not take the others down
        log.exception("batch entry %d failed", entry.index)
        message = f"Entry {entry.index} failed with an internal error; nothing of it was written"
        return error_response(500, [Issue("exception", message, severity="fatal")])
    return response_entry(request, result)
