"""FHIR REST routes for one base (https://hl7.org/fhir/R4/http.html).

The same router serves the directory at `/fhir` and mock EHR tenants at `/ehr/{tenant}/r4`.
Route bodies only build a FhirRequest, call one interaction in a worker thread and render.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from fhir_sandbox.api.render import render, wants_pretty
from fhir_sandbox.api.requests import fhir_request, form_params, read_body
from fhir_sandbox.fhir.formats import negotiate
from fhir_sandbox.interactions import (
    batch,
    capabilities,
    create,
    delete,
    history,
    patch,
    read,
    search,
    update,
    validate,
)
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest
from fhir_sandbox.interactions.retries import Interaction, with_retries

FHIR_JSON: dict[str, Any] = {"content": {"application/fhir+json": {}}}


def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


def get_limit(request: Request) -> int:
    limit: int = request.app.state.settings.max_body_bytes
    return limit


Ctx = Annotated[Context, Depends(get_context)]
Limit = Annotated[int, Depends(get_limit)]


def tenant_of(request: Request) -> tuple[str, str]:
    """(tenant, base path) from the URL: /fhir is the directory, /ehr/{t}/r4 an EHR."""
    tenant = request.path_params.get("tenant")
    return (f"ehr-{tenant}", f"/ehr/{tenant}/r4") if tenant else ("directory", "/fhir")


async def run(
    ctx: Context, request: Request, fhir: FhirRequest, interaction: Interaction
) -> Response:
    fmt = negotiate(request.headers.get("accept"), request.query_params.get("_format"))
    result = await run_in_threadpool(with_retries, interaction, ctx, fhir)
    return render(result, fmt, wants_pretty(fhir.params))


def build_router() -> APIRouter:
    router = APIRouter()

    async def make(request: Request, limit: int, **kwargs: object) -> FhirRequest:
        tenant, path = tenant_of(request)
        return await fhir_request(request, tenant=tenant, tenant_path=path, limit=limit, **kwargs)  # type: ignore[arg-type]

    @router.get("/metadata", summary="capabilities", responses={200: FHIR_JSON})
    async def metadata(request: Request, ctx: Ctx, limit: Limit) -> Response:
        negotiate(request.headers.get("accept"), request.query_params.get("_format"))
        return await run(ctx, request, await make(request, limit), capabilities.capabilities)

    @router.get("/_history", summary="history-system")
    async def system_history(request: Request, ctx: Ctx, limit: Limit) -> Response:
        return await run(ctx, request, await make(request, limit), history.history)

    @router.get("", summary="search-system")
    async def system_search(request: Request, ctx: Ctx, limit: Limit) -> Response:
        return await run(ctx, request, await make(request, limit), search.search)

    @router.post("", summary="batch / transaction")
    async def batch_or_transaction(request: Request, ctx: Ctx, limit: Limit) -> Response:
        fhir = await make(request, limit, with_body=True)
        return await run(ctx, request, fhir, batch.batch_or_transaction)

    @router.get("/{resource_type}", summary="search-type")
    async def type_search(resource_type: str, request: Request, ctx: Ctx, limit: Limit) -> Response:
        fhir = await make(request, limit, resource_type=resource_type)
        return await run(ctx, request, fhir, search.search)

    @router.post("/{resource_type}/_search", summary="search-type (POST)")
    async def type_search_post(
        resource_type: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type)
        fhir.params = await form_params(request, limit)
        return await run(ctx, request, fhir, search.search)

    @router.post("/{resource_type}/$validate", summary="$validate (type)")
    async def validate_type(
        resource_type: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type)
        fhir.body = await read_body(request, limit)  # the interaction parses it
        return await run(ctx, request, fhir, validate.validate)

    @router.post("/{resource_type}/{resource_id}/$validate", summary="$validate (instance)")
    async def validate_instance(
        resource_type: str, resource_id: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type, resource_id=resource_id)
        fhir.body = await read_body(request, limit)
        return await run(ctx, request, fhir, validate.validate)

    @router.post("/{resource_type}", summary="create", status_code=201)
    async def create_resource(
        resource_type: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type, with_body=True)
        return await run(ctx, request, fhir, create.create)

    @router.put("/{resource_type}", summary="conditional update")
    async def conditional_update(
        resource_type: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type, with_body=True)
        return await run(ctx, request, fhir, update.conditional_update)

    @router.patch("/{resource_type}", summary="conditional patch")
    async def conditional_patch(
        resource_type: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type, with_body=True)
        return await run(ctx, request, fhir, patch.patch)

    @router.delete("/{resource_type}", summary="conditional delete")
    async def conditional_delete(
        resource_type: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type)
        return await run(ctx, request, fhir, delete.conditional_delete)

    @router.get("/{resource_type}/_history", summary="history-type")
    async def type_history(
        resource_type: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type)
        return await run(ctx, request, fhir, history.history)

    @router.get("/{resource_type}/{resource_id}", summary="read")
    async def read_resource(
        resource_type: str, resource_id: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type, resource_id=resource_id)
        return await run(ctx, request, fhir, read.read)

    @router.put("/{resource_type}/{resource_id}", summary="update")
    async def update_resource(
        resource_type: str, resource_id: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(
            request, limit, resource_type=resource_type, resource_id=resource_id, with_body=True
        )
        return await run(ctx, request, fhir, update.update)

    @router.patch("/{resource_type}/{resource_id}", summary="patch")
    async def patch_resource(
        resource_type: str, resource_id: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(
            request, limit, resource_type=resource_type, resource_id=resource_id, with_body=True
        )
        return await run(ctx, request, fhir, patch.patch)

    @router.delete("/{resource_type}/{resource_id}", summary="delete")
    async def delete_resource(
        resource_type: str, resource_id: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type, resource_id=resource_id)
        return await run(ctx, request, fhir, delete.delete)

    @router.get("/{resource_type}/{resource_id}/_history", summary="history-instance")
    async def instance_history(
        resource_type: str, resource_id: str, request: Request, ctx: Ctx, limit: Limit
    ) -> Response:
        fhir = await make(request, limit, resource_type=resource_type, resource_id=resource_id)
        return await run(ctx, request, fhir, history.history)

    @router.get("/{resource_type}/{resource_id}/_history/{version_id}", summary="vread")
    async def vread_resource(
        resource_type: str,
        resource_id: str,
        version_id: str,
        request: Request,
        ctx: Ctx,
        limit: Limit,
    ) -> Response:
        fhir = await make(
            request, limit, resource_type=resource_type, resource_id=resource_id, version=version_id
        )
        return await run(ctx, request, fhir, read.vread)

    return router
