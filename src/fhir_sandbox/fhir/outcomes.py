"""OperationOutcome bodies (https://hl7.org/fhir/R4/operationoutcome.html)."""

from __future__ import annotations

from typing import Any

from fhir_sandbox.errors import Issue


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """Build an OperationOutcome from issues; every issue gets severity, code, diagnostics."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [_issue(issue) for issue in issues],
    }


def information(message: str, code: str = "informational") -> dict[str, Any]:
    """A one-issue informational outcome, e.g. for `Prefer: return=OperationOutcome`."""
    return operation_outcome([Issue(code, message, severity="information")])


def _issue(issue: Issue) -> dict[str, Any]:
    body: dict[str, Any] = {
        "severity": issue.severity,
        "code": issue.code,
        "diagnostics": issue.diagnostics,
    }
    if issue.expression:
        body["expression"] = list(issue.expression)
    return body
