"""The one place that maps errors to HTTP status + OperationOutcome.

Every error leaves as an OperationOutcome in the negotiated format (JSON when negotiation
itself failed). Unexpected exceptions become a 500 with a request id and no stack trace.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from fhir_sandbox.api.render import render, wants_pretty
from fhir_sandbox.errors import FhirError, Issue
from fhir_sandbox.fhir import outcomes
from fhir_sandbox.fhir.formats import Format, negotiate
from fhir_sandbox.interactions.request import Result

log = logging.getLogger("fhir_sandbox")

_HTTP_CODES = {404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}


def outcome_response(
    request: Request, status: int, issues: list[Issue], headers: dict[str, str] | None = None
) -> Response:
    params = list(request.query_params.multi_items())
    fixed: Format | None = getattr(request.state, "fixed_format", None)  # e.g. $export: JSON
    try:
        fmt = fixed or negotiate(request.headers.get("accept"), request.query_params.get("_format"))
    except FhirError:
        fmt = Format.JSON
    result = Result(status, outcomes.operation_outcome(issues), headers or {})
    return render(result, fmt, wants_pretty(params))


def install(app: FastAPI) -> None:
    @app.exception_handler(FhirError)
    async def _fhir_error(request: Request, exc: FhirError) -> Response:
        return outcome_response(request, exc.status, exc.issues, exc.headers)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "processing")
        detail = str(exc.detail)
        if exc.status_code == 404:
            detail = f"No FHIR endpoint at {request.url.path}; the directory's FHIR base is /fhir"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return outcome_response(
            request, exc.status_code, [Issue(code, detail)], dict(exc.headers or {})
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return outcome_response(
            request, 400, [Issue("invalid", f"Invalid request: {exc.errors()}")]
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return unexpected_response(request, exc)


def unexpected_response(request: Request, exc: Exception) -> Response:
    """A bug: logged with its stack trace, answered with the request id and no details."""
    request_id = request.headers.get("x-request-id", "")
    log.error("unhandled error (request %s)", request_id, exc_info=exc)
    message = f"Internal server error; quote request id {request_id} when reporting it"
    return outcome_response(request, 500, [Issue("exception", message, severity="fatal")])
