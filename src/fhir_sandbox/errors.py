"""One error vocabulary for the whole server.

Errors are values with a category (as in Blaze's anomalies): the core raises them, and
`api/errors.py` is the only place that maps a category to an HTTP status and an
OperationOutcome. Each error carries the R4 issue-type code
(https://hl7.org/fhir/R4/valueset-issue-type.html) and, where known, FHIRPath expressions
that locate the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: what went wrong, where, and how bad it is."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = ()


class FhirError(Exception):
    """Base of every error the FHIR core reports to a client."""

    status: int = 500
    default_code: str = "exception"

    def __init__(
        self,
        diagnostics: str,
        *,
        code: str | None = None,
        expression: tuple[str, ...] | list[str] = (),
        issues: list[Issue] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        first = Issue(code or self.default_code, diagnostics, expression=tuple(expression))
        self.issues: list[Issue] = issues or [first]
        self.headers: dict[str, str] = headers or {}


class Invalid(FhirError):
    """The request or its body is malformed (400)."""

    status = 400
    default_code = "invalid"


class Unprocessable(FhirError):
    """The body is well-formed but breaks a FHIR or business rule (422)."""

    status = 422
    default_code = "processing"


class NotFound(FhirError):
    status = 404
    default_code = "not-found"


class Gone(FhirError):
    """The resource existed and was deleted (410)."""

    status = 410
    default_code = "deleted"


class MethodNotAllowed(FhirError):
    status = 405
    default_code = "not-supported"


class NotAcceptable(FhirError):
    status = 406
    default_code = "not-supported"


class Conflict(FhirError):
    status = 409
    default_code = "conflict"


class PreconditionFailed(FhirError):
    status = 412
    default_code = "conflict"


class TooLarge(FhirError):
    status = 413
    default_code = "too-costly"


class UnsupportedMediaType(FhirError):
    status = 415
    default_code = "not-supported"


class Forbidden(FhirError):
    status = 403
    default_code = "forbidden"


class TooManyRequests(FhirError):
    """The server is at a configured limit (e.g. running exports); retry later (429)."""

    status = 429
    default_code = "throttled"


class OperationFailed(FhirError):
    """An asynchronous operation (a bulk export) failed as a whole; its status request
    reports it (500, https://hl7.org/fhir/uv/bulkdata/STU2/export.html#response---error-status-1)."""

    status = 500
    default_code = "exception"


class Unavailable(FhirError):
    """A dependency (the database) cannot be reached right now (503)."""

    status = 503
    default_code = "transient"


class Contention(Unavailable):
    """The database aborted a transaction (serialisation failure, deadlock): nothing was
    written and the same request may simply run again (the API retries it; 503 if it keeps
    failing)."""


class EntryFailed(FhirError):
    """One entry of a transaction Bundle failed, so the whole transaction failed: the
    answer carries that entry's own status and issues naming the entry
    (https://hl7.org/fhir/R4/http.html#transaction)."""

    def __init__(self, status: int, issues: list[Issue]) -> None:
        super().__init__(issues[0].diagnostics, issues=issues)
        self.status = status


@dataclass
class Outcome:
    """A non-error OperationOutcome (e.g. the informational answer to a delete)."""

    issues: list[Issue] = field(default_factory=list)
