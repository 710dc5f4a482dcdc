"""Bulk Data $export routes (https://hl7.org/fhir/uv/bulkdata/STU2/export.html).

Included before the REST router (app.py), whose `/{type}` and `/{type}/{id}` would
otherwise take `/$export`, `/Organization/$export` and `/_export/{id}`. Everything here
answers in JSON whatever the Accept header says — the manifest is not a FHIR resource, and
the IG wants its OperationOutcomes in JSON — so errors are pinned to JSON as well
(`request.state.fixed_format`, read by api/errors.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from fhir_sandbox.api.render import render, wants_pretty
from fhir_sandbox.api.requests import fhir_request
from fhir_sandbox.api.routes import Ctx, Limit, tenant_of
from fhir_sandbox.fhir.formats import Format
from fhir_sandbox.interactions import export
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.export import ExportJobs
from fhir_sandbox.interactions.request import FhirRequest, Result

NDJSON = "application/fhir+ndjson"


def get_jobs(request: Request) -> ExportJobs:
    jobs: ExportJobs = request.app.state.exports
    return jobs


def answer_in_json(request: Request) -> None:
    request.state.fixed_format = Format.JSON


Jobs = Annotated[ExportJobs, Depends(get_jobs)]
Step = Callable[[ExportJobs, Context, FhirRequest], Result]


async def _make(request: Request, limit: int, **kwargs: object) -> FhirRequest:
    tenant, path = tenant_of(request)
    return await fhir_request(request, tenant=tenant, tenant_path=path, limit=limit, **kwargs)  # type: ignore[arg-type]


async def _run(step: Step, jobs: ExportJobs, ctx: Context, fhir: FhirRequest) -> Response:
    result = await run_in_threadpool(partial(step, jobs), ctx, fhir)
    return render(result, Format.JSON, wants_pretty(fhir.params))


def build_export_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(answer_in_json)])

    @router.get("/$export", summary="$export (system) kick-off", status_code=202)
    async def export_system(request: Request, ctx: Ctx, jobs: Jobs, limit: Limit) -> Response:
        return await _run(export.kick_off, jobs, ctx, await _make(request, limit))

    @router.post("/$export", summary="$export (system) kick-off, Parameters body", status_code=202)
    async def export_system_post(request: Request, ctx: Ctx, jobs: Jobs, limit: Limit) -> Response:
        fhir = await _make(request, limit, with_body=True)
        return await _run(export.kick_off, jobs, ctx, fhir)

    @router.get("/{resource_type}/$export", summary="$export (type) kick-off", status_code=202)
    async def export_type(
        resource_type: str, request: Request, ctx: Ctx, jobs: Jobs, limit: Limit
    ) -> Response:
        fhir = await _make(request, limit, resource_type=resource_type)
        return await _run(export.kick_off, jobs, ctx, fhir)

    @router.post(
        "/{resource_type}/$export", summary="$export (type) kick-off, Parameters body",
        status_code=202,
    )  # fmt: skip
    async def export_type_post(
        resource_type: str, request: Request, ctx: Ctx, jobs: Jobs, limit: Limit
    ) -> Response:
        fhir = await _make(request, limit, resource_type=resource_type, with_body=True)
        return await _run(export.kick_off, jobs, ctx, fhir)

    @router.get("/_export/{job_id}", summary="$export status (202 running, 200 manifest)")
    async def export_status(
        job_id: str, request: Request, ctx: Ctx, jobs: Jobs, limit: Limit
    ) -> Response:
        fhir = await _make(request, limit, resource_id=job_id)
        return await _run(export.status, jobs, ctx, fhir)

    @router.delete("/_export/{job_id}", summary="$export cancel", status_code=202)
    async def export_cancel(
        job_id: str, request: Request, ctx: Ctx, jobs: Jobs, limit: Limit
    ) -> Response:
        fhir = await _make(request, limit, resource_id=job_id)
        return await _run(export.cancel, jobs, ctx, fhir)

    @router.get(
        "/_export/{job_id}/{file_name}", summary="$export output file (NDJSON)",
        responses={200: {"content": {NDJSON: {}}}},
    )  # fmt: skip
    async def export_file(
        job_id: str, file_name: str, request: Request, jobs: Jobs, limit: Limit
    ) -> Response:
        fhir = await _make(request, limit, resource_id=job_id)
        path = await run_in_threadpool(export.output_file, jobs, fhir, file_name)
        return FileResponse(path, media_type=NDJSON)

    return router
