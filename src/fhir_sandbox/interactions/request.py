"""The plain request and result objects the FHIR core works with (Medplum-style)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fhir_sandbox.storage.base import StoredVersion


@dataclass
class FhirRequest:
    method: str
    tenant: str
    base_url: str
    resource_type: str | None = None
    id: str | None = None
    version: str | None = None
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: Any = None

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def prefer(self, key: str) -> str | None:
        """A `Prefer` header token value, e.g. prefer('return') -> 'minimal'."""
        for part in (self.header("prefer") or "").split(";"):
            for item in part.split(","):
                name, _, value = item.strip().partition("=")
                if name.strip().lower() == key:
                    return value.strip().strip('"').lower()
        return None


@dataclass
class Result:
    """What an interaction answers: status, headers, and a body.

    `body` is either stored JSON bytes (served as they are), a JSON-shaped dict, or None.
    `written` is the version a write stored when `body` is its JSON as stored: a Bundle
    response entry takes its fullUrl and lastModified from it instead of parsing the body.
    """

    status: int
    body: bytes | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    written: StoredVersion | None = None
