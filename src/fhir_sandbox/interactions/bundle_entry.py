"""Reading the entries of a batch or transaction Bundle (https://hl7.org/fhir/R4/bundle.html,
https://hl7.org/fhir/R4/http.html#transaction) and routing each to its interaction.

Each `entry.request` becomes a plain `FhirRequest` for the interaction the REST API would
call for the same method and URL; `ifNoneExist`, `ifMatch`, `ifNoneMatch` and
`ifModifiedSince` become the matching headers. A PATCH entry carries its JSON Patch as a
`Binary` (contentType application/json-patch+json, base64 data), as http.html#patch says.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from fhir_sandbox.errors import FhirError, Invalid
from fhir_sandbox.interactions import capabilities, create, delete, history, patch, read, search
from fhir_sandbox.interactions import update as update_
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import http_date

Interaction = Callable[[Context, FhirRequest], Result]
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
JSON_PATCH = "application/json-patch+json"
_CONDITIONS = {
    "ifNoneExist": "if-none-exist",
    "ifMatch": "if-match",
    "ifNoneMatch": "if-none-match",
}


@dataclass
class Entry:
    """One request entry; `error` is set when the entry itself is malformed."""

    index: int
    full_url: str | None = None
    method: str = ""
    url: str = ""
    parts: list[str] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    assigned_id: str | None = None  # a transaction's id for a new resource (POST)
    error: FhirError | None = None

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def label(self) -> str:
        full = f" (fullUrl {self.full_url})" if self.full_url else ""
        return f"entry {self.index}{full}, {self.method or '?'} {self.url or '?'}"

    @property
    def target(self) -> tuple[str, str] | None:
        """`(type, id)` when the URL names one instance (`Type/id`)."""
        return (self.parts[0], self.parts[1]) if len(self.parts) == 2 else None


def read_entries(request: FhirRequest, raw: list[Any]) -> list[Entry]:
    prefer = request.header("prefer")
    return [_read(index, item, request.base_url, prefer) for index, item in enumerate(raw)]


def _read(index: int, raw: Any, base_url: str, prefer: str | None) -> Entry:
    entry = Entry(index)
    try:
        if not isinstance(raw, dict):
            raise Invalid("A Bundle entry must be a JSON object", expression=[entry.where])
        full_url = raw.get("fullUrl")
        entry.full_url = full_url if isinstance(full_url, str) else None
        req = raw.get("request")
        if not isinstance(req, dict):
            raise Invalid(
                "The entry has no request (method and url)", expression=[f"{entry.where}.request"]
            )
        entry.method = str(req.get("method") or "").upper()
        entry.url = str(req.get("url") or "")
        if entry.method not in METHODS:
            raise Invalid(
                f"request.method {req.get('method')!r} is not one of {', '.join(METHODS)}",
                expression=[f"{entry.where}.request.method"],
            )
        entry.parts, entry.params = _split(entry, base_url)
        entry.headers = _headers(entry, req, prefer)
        entry.body = _body(entry, raw.get("resource"))
    except FhirError as exc:
        entry.error = exc
    return entry


def _split(entry: Entry, base_url: str) -> tuple[list[str], list[tuple[str, str]]]:
    url = entry.url
    if url.isalnum():  # `Practitioner`: most entries of an upload, nothing to decode
        return [url], []
    if url.startswith(base_url + "/") or url == base_url:
        url = url[len(base_url) :]
    elif "://" in url.split("?")[0]:
        raise Invalid(
            f"request.url {entry.url!r} is not on this server; use a URL relative to the base",
            expression=[f"{entry.where}.request.url"],
        )
    path, _, query = url.lstrip("/").partition("?")
    parts = [unquote(p) for p in path.split("/") if p]
    return parts, parse_qsl(query, keep_blank_values=True)


def _headers(entry: Entry, req: dict[str, Any], prefer: str | None) -> dict[str, str]:
    headers = {"prefer": prefer} if prefer else {}
    for key, header in _CONDITIONS.items():
        if isinstance(req.get(key), str):
            headers[header] = req[key]
    since = req.get("ifModifiedSince")
    if isinstance(since, str):
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(
                f"ifModifiedSince {since!r} is not a FHIR instant",
                expression=[f"{entry.where}.request.ifModifiedSince"],
            ) from None
        zone = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        headers["if-modified-since"] = http_date(zone.astimezone(UTC))
    return headers


def _body(entry: Entry, resource: Any) -> Any:
    where = f"{entry.where}.resource"
    if entry.method in ("POST", "PUT") and entry.parts[-1:] != ["_search"]:
        if not isinstance(resource, dict):
            raise Invalid(f"A {entry.method} entry needs a resource", expression=[where])
        return resource
    if entry.method != "PATCH":
        return None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Binary":
        raise Invalid(
            "A PATCH entry carries its JSON Patch as a Binary resource with contentType "
            f"{JSON_PATCH} and the patch base64-encoded in data",
            expression=[where],
        )
    media = str(resource.get("contentType") or "").split(";")[0].strip().lower()
    if media != JSON_PATCH:
        raise Invalid(
            f"The Binary's contentType is {media or 'missing'}; only {JSON_PATCH} is supported",
            code="not-supported",
            expression=[f"{where}.contentType"],
        )
    try:
        return orjson.loads(base64.b64decode(resource.get("data") or "", validate=True))
    except (ValueError, TypeError) as exc:
        raise Invalid(
            f"Binary.data is not base64-encoded JSON: {exc}", expression=[f"{where}.data"]
        ) from None


def entry_request(entry: Entry, request: FhirRequest) -> tuple[Interaction, FhirRequest]:
    """The interaction for this entry and the plain request to give it."""
    action, resource_type, resource_id, version = _route(entry)
    fhir = FhirRequest(
        method="GET" if entry.method == "HEAD" else entry.method,
        tenant=request.tenant,
        base_url=request.base_url,
        resource_type=resource_type,
        id=resource_id if entry.method != "POST" else entry.assigned_id,
        version=version,
        params=list(entry.params),
        headers=dict(entry.headers),
        body=entry.body,
    )
    return action, fhir


Route = tuple[Interaction, str | None, str | None, str | None]


def _route(entry: Entry) -> Route:
    p, method = entry.parts, entry.method
    if method in ("GET", "HEAD"):
        if not p:
            return search.search, None, None, None
        if p == ["metadata"]:
            return capabilities.capabilities, None, None, None
        if p == ["_history"]:
            return history.history, None, None, None
        if len(p) == 1:
            return search.search, p[0], None, None
        if len(p) == 2:
            return (history.history, p[0], None, None) if p[1] == "_history" else _read_of(p)
        if len(p) == 3 and p[2] == "_history":
            return history.history, p[0], p[1], None
        if len(p) == 4 and p[2] == "_history":
            return read.vread, p[0], p[1], p[3]
    elif method == "POST" and len(p) == 1:
        return create.create, p[0], None, None
    elif method == "POST" and len(p) == 2 and p[1] == "_search":
        return search.search, p[0], None, None
    elif method in ("PUT", "PATCH", "DELETE") and len(p) in (1, 2):
        conditional = {"PUT": update_.conditional_update, "DELETE": delete.conditional_delete}
        single = {"PUT": update_.update, "DELETE": delete.delete}
        if len(p) == 1:
            return conditional.get(method, patch.patch), p[0], None, None
        return single.get(method, patch.patch), p[0], p[1], None
    raise Invalid(
        f"{method} {entry.url} is not an interaction this server supports in a Bundle",
        code="not-supported",
        expression=[f"{entry.where}.request.url"],
    )


def _read_of(parts: list[str]) -> Route:
    return read.read, parts[0], parts[1], None
