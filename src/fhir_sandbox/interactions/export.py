"""$export, the FHIR Bulk Data Access IG v2 export
(https://hl7.org/fhir/uv/bulkdata/STU2/export.html), at system and type level.

- Kick-off (`GET|POST [base]/$export`, `[base]/[type]/$export`): checks the headers and the
  parameters (export_params.py), records transactionTime and hands the job to an
  `ExportJobs` service that runs it in the background; 202 with the status URL in
  Content-Location. At the limit of running exports the service answers 429 + Retry-After.
- Status (`GET [base]/_export/[id]`): 202 + X-Progress + Retry-After while running; 200 and
  the manifest (application/json) when complete; 500 + OperationOutcome if it failed; 404
  once cancelled or expired. The manifest's URLs are built from the polling request's base.
- Cancel (`DELETE [base]/_export/[id]`): 202; files removed; later polls 404.
- Files (`GET [base]/_export/[id]/[file]`): application/fhir+ndjson, streamed from disk.

This module knows no threads and no files: `bulk/export_jobs.py` implements the service.
Job ids are tenant-scoped: another tenant's id is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from fhir_sandbox.errors import Invalid, OperationFailed
from fhir_sandbox.fhir import outcomes
from fhir_sandbox.interactions.bundles import page_url
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.export_params import parameters_to_params, parse_export
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import http_date, instant

STATUS_PATH = "_export"
RETRY_AFTER = "2"  # seconds between polls we suggest while a job runs
_ACCEPTED = ("application/fhir+json", "*/*", "application/*")


@dataclass(frozen=True)
class NewExport:
    tenant: str
    request_url: str
    transaction_time: datetime
    types: tuple[str, ...]
    since: datetime | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputFile:
    type: str
    file: str
    count: int


@dataclass(frozen=True)
class JobView:
    id: str
    state: str  # "in-progress" | "completed" | "failed"
    request_url: str
    transaction_time: datetime
    progress: str = ""
    output: tuple[OutputFile, ...] = ()
    error: tuple[OutputFile, ...] = ()
    expires: datetime | None = None
    message: str = ""


class ExportJobs(Protocol):
    def start(self, ctx: Context, job: NewExport) -> str:
        """Start `job` in the background and return its id (TooManyRequests at the limit)."""

    def view(self, tenant: str, job_id: str) -> JobView:
        """The job's state (NotFound unless it exists, in this tenant, not cancelled)."""

    def cancel(self, tenant: str, job_id: str) -> None:
        """Stop the job and remove its files (NotFound as for `view`)."""

    def file(self, tenant: str, job_id: str, name: str) -> Path:
        """The path of one output file of a completed job (NotFound for anything else)."""


def kick_off(jobs: ExportJobs, ctx: Context, request: FhirRequest) -> Result:
    _check_headers(request)
    params = list(request.params)
    if request.method == "POST":
        params += parameters_to_params(request.body)
    parsed = parse_export(request, params)
    job = NewExport(
        tenant=request.tenant,
        request_url=page_url(_operation_url(request), request.params),
        transaction_time=ctx.clock(),  # before anything is read (see bulk/export_runner.py)
        types=parsed.types,
        since=parsed.since,
        notes=parsed.notes,
    )
    job_id = jobs.start(ctx, job)
    status_url = f"{request.base_url}/{STATUS_PATH}/{job_id}"
    body = outcomes.information(f"Export {job_id} started; poll {status_url} for its status")
    return Result(202, body, {"Content-Location": status_url})


def status(jobs: ExportJobs, ctx: Context, request: FhirRequest) -> Result:
    view = jobs.view(request.tenant, request.id or "")
    if view.state == "in-progress":
        progress = (view.progress or "in progress")[:99]
        return Result(202, None, {"X-Progress": progress, "Retry-After": RETRY_AFTER})
    if view.state == "failed":
        raise OperationFailed(f"Export {view.id} failed: {view.message}", code="processing")
    headers = {"Content-Type": "application/json"}
    if view.expires is not None:
        headers["Expires"] = http_date(view.expires)
    return Result(200, manifest(request, view), headers)


def cancel(jobs: ExportJobs, ctx: Context, request: FhirRequest) -> Result:
    jobs.cancel(request.tenant, request.id or "")
    message = f"Export {request.id} cancelled; its files are removed"
    return Result(202, outcomes.information(message))


def output_file(jobs: ExportJobs, request: FhirRequest, name: str) -> Path:
    return jobs.file(request.tenant, request.id or "", name)


def manifest(request: FhirRequest, view: JobView) -> dict[str, Any]:
    """The complete-status body (export.html#response---complete-status)."""
    files = f"{request.base_url}/{STATUS_PATH}/{view.id}"
    return {
        "transactionTime": instant(view.transaction_time),
        "request": view.request_url,
        "requiresAccessToken": False,
        "output": [
            {"type": f.type, "url": f"{files}/{f.file}", "count": f.count} for f in view.output
        ],
        "error": [
            {"type": f.type, "url": f"{files}/{f.file}", "count": f.count} for f in view.error
        ],
    }


def _check_headers(request: FhirRequest) -> None:
    """`Prefer: respond-async` is required; `Accept`, when given, must allow
    application/fhir+json, the only format of the kick-off's OperationOutcome."""
    if request.prefer("respond-async") is None:
        raise Invalid(
            "$export runs asynchronously: send the header Prefer: respond-async "
            "(https://hl7.org/fhir/R4/async.html)",
            code="required",
        )
    accept = request.header("accept")
    media = [part.split(";")[0].strip().lower() for part in (accept or "").split(",")]
    if accept and not any(m in _ACCEPTED for m in media):
        raise Invalid(
            f"Accept: {accept} cannot be honoured: the $export kick-off answers in "
            "application/fhir+json (the files' format is chosen with _outputFormat)",
            code="not-supported",
        )


def _operation_url(request: FhirRequest) -> str:
    if request.resource_type:
        return f"{request.base_url}/{request.resource_type}/$export"
    return f"{request.base_url}/$export"
