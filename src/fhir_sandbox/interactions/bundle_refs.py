"""Resolving references between a Bundle's entries (https://hl7.org/fhir/R4/http.html#trules,
https://hl7.org/fhir/R4/bundle.html#references).

Only `Reference.reference` values are touched (at any depth, including extensions and
contained resources; never identifiers, narrative or other strings):

- a value equal to another entry's `fullUrl` (`urn:uuid:…` or a RESTful URL; a relative
  `Type/id` is read against the referring entry's fullUrl base, or this server's base)
  becomes `Type/id` of the resource the server wrote for that entry;
- a `urn:uuid:` / `urn:oid:` value that matches no entry is an error (it can never resolve);
- a conditional reference `Type?criteria` becomes `Type/id` of its one current match;
  no match → 400, several → 412.

Values of JSON Patch operations (PATCH entries) and of search parameters in entry URLs are
rewritten the same way.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import orjson

from fhir_sandbox.errors import Invalid, PreconditionFailed
from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.interactions.bundle_entry import Entry
from fhir_sandbox.interactions.conditional import criteria_matches
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest
from fhir_sandbox.storage.base import Session

PLACEHOLDERS = ("urn:uuid:", "urn:oid:")
_CONDITIONAL = re.compile(r"^([A-Z][A-Za-z]*)\?(.+)$")
_RESTFUL = re.compile(r"^(https?://.+)/[A-Z][A-Za-z]*/[A-Za-z0-9\-.]{1,64}$")
_RELATIVE = re.compile(r"^[A-Z][A-Za-z]*/[A-Za-z0-9\-.]{1,64}$")


def add_identity(
    ids: dict[str, str], full_url: str | None, base_url: str, resource_type: str, resource_id: str
) -> None:
    """Record that the entry with `full_url` is (or will be) `resource_type/resource_id`."""
    if not full_url:
        return
    ids[full_url] = f"{resource_type}/{resource_id}"
    if full_url.startswith(base_url + "/"):  # a RESTful fullUrl may be referenced relatively
        ids[full_url[len(base_url) + 1 :]] = ids[full_url]


#: Where a reference sits, built as the walk goes down (a pair per step) and spelled out
#: only for an error message: formatting every element's path cost more than the walk.
Where = str | tuple["Where", str | int]


def spelled(where: Where) -> str:
    """`(("Organization", "partOf"), "reference")` → `Organization.partOf.reference`."""
    steps: list[str | int] = []
    while isinstance(where, tuple):
        where, step = where
        steps.append(step)
    text = where
    for step in reversed(steps):
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text


def _may_refer(resource: dict[str, Any]) -> bool:
    """False when no element is called `reference`: serialising and searching the bytes
    costs a tenth of walking the tree, and many resources of an upload have none."""
    try:
        return b'"reference"' in orjson.dumps(resource)
    except TypeError:  # not plain JSON data: walk it
        return True


class Rewriter:
    """Rewrites the references of entries, in place, just before each entry runs."""

    def __init__(
        self,
        ctx: Context,
        session: Session,
        request: FhirRequest,
        ids: dict[str, str],
        *,
        in_batch: bool = False,
    ) -> None:
        self.ctx, self.session, self.request = ctx, session, request
        self.ids = ids
        self.in_batch = in_batch
        self.base: str | None = None  # the base of the current entry's RESTful fullUrl

    def entry(self, entry: Entry) -> None:
        restful = _RESTFUL.match(entry.full_url or "")
        self.base = restful.group(1) if restful else None
        body = entry.body
        if entry.method in ("POST", "PUT") and isinstance(body, dict):
            if _may_refer(body):
                self._walk(body, str(body.get("resourceType") or "Resource"))
        elif entry.method == "PATCH" and isinstance(body, list):
            for op in body:
                if not isinstance(op, dict):
                    continue  # the patch interaction reports malformed operations
                value = op.get("value")
                if isinstance(value, str) and str(op.get("path", "")).endswith("/reference"):
                    op["value"] = self.resolve(value, "Binary.data")
                elif isinstance(value, dict | list):
                    self._walk(value, "Binary.data")
        entry.params = [(k, self.ids.get(v, v)) for k, v in entry.params]

    def _walk(self, node: Any, path: Where) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference" and isinstance(value, str):
                    node[key] = self.resolve(value, (path, key))
                elif isinstance(value, dict | list):
                    self._walk(value, (path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, dict | list):
                    self._walk(item, (path, index))

    def resolve(self, value: str, where: Where) -> str:
        if value in self.ids:
            return self.ids[value]
        if self.base and _RELATIVE.match(value) and f"{self.base}/{value}" in self.ids:
            return self.ids[f"{self.base}/{value}"]  # relative to the entry's own fullUrl
        if value.startswith(PLACEHOLDERS):
            hint = (
                "; batch entries are independent, so use a transaction to refer to another entry"
                if self.in_batch
                else ""
            )
            raise Invalid(
                f"The reference {value!r} matches no entry's fullUrl in this Bundle{hint}",
                code="not-found",
                expression=[spelled(where)],
            )
        match = _CONDITIONAL.match(value)
        if match:
            return self._conditional(match.group(1), match.group(2), value, where)
        return value

    def _conditional(self, resource_type: str, query: str, value: str, where: Where) -> str:
        if resource_type not in RESOURCE_TYPES:
            raise Invalid(
                f"The conditional reference {value!r} is to {resource_type}, which this server "
                "does not serve",
                code="not-supported",
                expression=[spelled(where)],
            )
        probe = FhirRequest(
            method="GET",
            tenant=self.request.tenant,
            base_url=self.request.base_url,
            resource_type=resource_type,
            params=parse_qsl(query, keep_blank_values=True),
        )
        matches = criteria_matches(self.ctx, self.session, probe)
        if not matches:
            raise Invalid(
                f"The conditional reference {value!r} matches no {resource_type}",
                code="not-found",
                expression=[spelled(where)],
            )
        if len(matches) > 1:
            raise PreconditionFailed(
                f"The conditional reference {value!r} matches more than one {resource_type}; "
                "make the criteria more selective",
                code="multiple-matches",
                expression=[spelled(where)],
            )
        return f"{resource_type}/{matches[0].id}"
