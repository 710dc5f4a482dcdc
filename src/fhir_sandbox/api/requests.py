"""Building a plain `FhirRequest` from a Starlette request (body parsed, size-limited)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from fhir_sandbox.errors import Invalid, TooLarge, UnsupportedMediaType
from fhir_sandbox.fhir.formats import body_format, parse_body
from fhir_sandbox.interactions.request import FhirRequest

JSON_PATCH = "application/json-patch+json"
FORM = "application/x-www-form-urlencoded"


async def read_body(request: Request, limit: int) -> bytes:
    return await read_limited(request.stream(), request.headers.get("content-length"), limit)


async def read_limited(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it is known to exceed `limit`."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"The body is {declared} bytes; the limit is {limit} bytes")
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"The body exceeds the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def base_url(request: Request, tenant_path: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{tenant_path}"


async def fhir_request(
    request: Request,
    *,
    tenant: str,
    tenant_path: str,
    limit: int,
    resource_type: str | None = None,
    resource_id: str | None = None,
    version: str | None = None,
    with_body: bool = False,
) -> FhirRequest:
    params = list(request.query_params.multi_items())
    body: Any = None
    if with_body:
        raw = await read_body(request, limit)
        body = parse_request_body(request.method, request.headers.get("content-type"), raw)
    return FhirRequest(
        method=request.method,
        tenant=tenant,
        base_url=base_url(request, tenant_path),
        resource_type=resource_type,
        id=resource_id,
        version=version,
        params=params,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )


def parse_request_body(method: str, content_type: str | None, raw: bytes) -> Any:
    """A request body by its Content-Type: a resource (JSON or XML) or a JSON Patch."""
    media = (content_type or "").split(";")[0].strip().lower()
    if method == "PATCH" and media != JSON_PATCH:
        try:  # FHIRPath Patch: a Parameters resource in JSON or XML
            return parse_body(raw, body_format(content_type))
        except UnsupportedMediaType:
            raise UnsupportedMediaType(
                f"PATCH takes {JSON_PATCH} (JSON Patch) or a FHIRPath Patch Parameters "
                f"resource as application/fhir+json or +xml; got {content_type or 'nothing'}"
            ) from None
    if method == "PATCH":
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Invalid(
                f"The JSON Patch body is not valid JSON: {exc}", code="structure"
            ) from None
    return parse_body(raw, body_format(content_type))


async def form_params(request: Request, limit: int) -> list[tuple[str, str]]:
    """`POST [type]/_search`: form parameters plus any in the URL (search.html#search)."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != FORM:
        raise UnsupportedMediaType(f"POST _search takes {FORM}; got {media or 'no Content-Type'}")
    raw = await read_body(request, limit)
    try:
        form = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Invalid("The form body is not UTF-8", code="structure") from None
    return [*request.query_params.multi_items(), *form]
