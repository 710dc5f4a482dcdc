"""Building Bundles and their paging links (https://hl7.org/fhir/R4/bundle.html)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson

from fhir_sandbox.ids import new_id
from fhir_sandbox.interactions.versions import instant


def bundle(
    kind: str,
    total: int | None,
    entries: list[dict[str, Any]],
    links: list[dict[str, str]],
    now: Any,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": instant(now)},
        "type": kind,
    }
    if total is not None:
        result["total"] = total
    if links:  # FHIR JSON has no empty arrays (json.html): an empty page has no `entry`
        result["link"] = links
    if entries:
        result["entry"] = entries
    return result


def link(relation: str, url: str) -> dict[str, str]:
    return {"relation": relation, "url": url}


def page_url(base: str, params: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(params)}" if params else base


def resource_of(body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(body)
    return parsed


def stored(body: bytes) -> orjson.Fragment:
    """A stored version's JSON as it is, for a Bundle entry: orjson splices the bytes into
    the Bundle instead of parsing and re-serialising them (with 20 entries that was ~40 %
    of a search's CPU). The renderer turns it into plain data only for XML and `_pretty`
    (api/render.py); nothing on the way inspects an entry's resource."""
    return orjson.Fragment(body)
