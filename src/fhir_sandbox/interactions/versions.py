"""Shared pieces of the write interactions: stamping meta, ETags, storing a version.

The server owns `meta.versionId` and `meta.lastUpdated` (http.html#create); everything else
in meta (profile, tag, security, source) is kept as the client sent it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import orjson

from fhir_sandbox.errors import Gone, Invalid, NotFound, PreconditionFailed
from fhir_sandbox.fhir import outcomes
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.searchparams.extract import extract_index
from fhir_sandbox.searchparams.normalize import iso_text
from fhir_sandbox.searchparams.rows import IndexRows
from fhir_sandbox.storage.base import Session, StoredVersion

_ETAG = re.compile(r'^(W/)?"?([0-9]+)"?$')


def instant(moment: datetime) -> str:
    """FHIR instant text with milliseconds and Z (of a UTC datetime)."""
    return iso_text(moment)[:23] + "Z"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(moment: datetime) -> str:
    """RFC 9110 IMF-fixdate of a UTC datetime (English names whatever the locale)."""
    m = moment
    return (
        f"{_DAYS[m.weekday()]}, {m.day:02d} {_MONTHS[m.month - 1]} {m.year:04d} "
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d} GMT"
    )


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_etag(value: str) -> int:
    match = _ETAG.match(value.strip())
    if not match:
        raise Invalid(f'{value!r} is not a version ETag such as W/"3"', code="value")
    return int(match.group(2))


def version_headers(request: FhirRequest, stored: StoredVersion) -> dict[str, str]:
    location = f"{request.base_url}/{stored.resource_type}/{stored.id}/_history/{stored.version}"
    return {
        "ETag": etag(stored.version),
        "Last-Modified": http_date(stored.last_updated),
        "Location": location,
    }


def stamp(
    ctx: Context,
    resource: dict[str, Any],
    previous: StoredVersion | None,
    method: str,
) -> tuple[StoredVersion, IndexRows]:
    """The next version of `resource` (its id already set) with server meta, and its index.

    lastUpdated never goes backwards for one resource, even if the clock does.
    """
    number = previous.version + 1 if previous else 1
    now = ctx.clock()
    if previous and now <= previous.last_updated:
        now = previous.last_updated + timedelta(milliseconds=1)
    meta = {
        k: v
        for k, v in (resource.get("meta") or {}).items()
        if k not in ("versionId", "lastUpdated")
    }
    stamped = {"resourceType": resource["resourceType"], "id": resource["id"]}
    stamped["meta"] = {"versionId": str(number), "lastUpdated": instant(now), **meta}
    stamped.update({k: v for k, v in resource.items() if k not in stamped})
    version = StoredVersion(
        resource_type=resource["resourceType"],
        id=resource["id"],
        version=number,
        last_updated=now,
        method=method,
        deleted=False,
        body=orjson.dumps(stamped),
    )
    return version, extract_index(stamped, ctx.registry)


def write_version(
    ctx: Context,
    session: Session,
    resource: dict[str, Any],
    previous: StoredVersion | None,
    method: str,
) -> StoredVersion:
    """Stamp, index and store a new version of `resource`."""
    return session.save(*stamp(ctx, resource, previous, method))


def same_content(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Equal apart from the server-owned meta.versionId and meta.lastUpdated."""
    return _content(stored) == _content(wanted)


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    meta = {
        k: v
        for k, v in (resource.get("meta") or {}).items()
        if k not in ("versionId", "lastUpdated")
    }
    body = {k: v for k, v in resource.items() if k != "meta"}
    return {**body, "meta": meta} if meta else body


def check_if_match(request: FhirRequest, current: StoredVersion | None) -> None:
    """Optimistic locking (http.html#concurrency): If-Match must name the current version."""
    wanted = request.header("if-match")
    if wanted is None:
        return
    expected = parse_etag(wanted)
    if current is None or current.deleted:
        raise PreconditionFailed(
            f"If-Match {wanted} given but {request.resource_type}/{request.id} "
            "has no current version"
        )
    if current.version != expected:
        raise PreconditionFailed(
            f"Version conflict: If-Match {wanted} but the current version of "
            f"{current.resource_type}/{current.id} is {current.version}"
        )


def require_current(
    stored: StoredVersion | None, resource_type: str, resource_id: str
) -> StoredVersion:
    if stored is None:
        raise NotFound(f"{resource_type}/{resource_id} is not known")
    if stored.deleted:
        raise Gone(
            f"{resource_type}/{resource_id} was deleted (version {stored.version})",
            headers={"ETag": etag(stored.version)},
        )
    return stored


def written(request: FhirRequest, stored: StoredVersion, status: int, message: str) -> Result:
    """The answer to a successful write, shaped by `Prefer: return=` (http.html#ops)."""
    headers = version_headers(request, stored)
    preference = request.prefer("return")
    if preference == "minimal":
        return Result(status, None, headers)
    if preference == "operationoutcome":
        return Result(status, outcomes.information(message), headers)
    return Result(status, stored.body, headers, written=stored)
