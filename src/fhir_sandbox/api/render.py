"""Turning a `Result` into an HTTP response in the negotiated format.

Stored JSON bytes go out untouched when the client wants plain JSON; `_pretty` and XML are
the only reasons to re-serialise.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from fhir_sandbox.fhir.formats import Format, dump_json, to_xml
from fhir_sandbox.interactions.request import Result


def render(result: Result, fmt: Format, pretty: bool) -> Response:
    headers = dict(result.headers)
    if result.body is None or result.status == 304:
        return Response(status_code=result.status, headers=headers)
    media = fmt.value + "; charset=utf-8"
    if fmt is Format.JSON and isinstance(result.body, bytes) and not pretty:
        return Response(result.body, status_code=result.status, headers=headers, media_type=media)
    if isinstance(result.body, bytes):
        data: Any = orjson.loads(result.body)
    else:  # Bundles hold stored resources as orjson fragments (interactions/bundles.py)
        data = orjson.loads(dump_json(result.body)) if fmt is Format.XML or pretty else result.body
    content = to_xml(data) if fmt is Format.XML else dump_json(data, pretty)
    return Response(content, status_code=result.status, headers=headers, media_type=media)


def wants_pretty(params: list[tuple[str, str]]) -> bool:
    return any(k == "_pretty" and v == "true" for k, v in params)
