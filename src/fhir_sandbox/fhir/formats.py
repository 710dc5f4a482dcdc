"""Media types: choosing a response format and parsing/serialising bodies.

JSON is the storage format; XML is converted at the edge through the R4B models
(https://hl7.org/fhir/R4/http.html#mime-type). `_format` overrides `Accept`.
"""

from __future__ import annotations

from datetime import date, time
from enum import Enum
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from fhir_sandbox.errors import (
    Invalid,
    Issue,
    NotAcceptable,
    Unprocessable,
    UnsupportedMediaType,
)
from fhir_sandbox.fhir.models import model_class

_TIME_TYPES = (date, time)  # datetime is a date


class Format(Enum):
    JSON = "application/fhir+json"
    XML = "application/fhir+xml"


_JSON_TYPES = {"application/fhir+json", "application/json", "json", "text/json"}
_XML_TYPES = {"application/fhir+xml", "application/xml", "xml", "text/xml"}
_ANY = {"*/*", "application/*"}


def negotiate(accept: str | None, format_param: str | None) -> Format:
    """Pick the response format from `_format` (wins) or the Accept header."""
    if format_param:
        media = format_param.split(";")[0].strip().lower()
        if media in _JSON_TYPES:
            return Format.JSON
        if media in _XML_TYPES:
            return Format.XML
        raise NotAcceptable(
            f"_format={format_param!r} is not supported; use json, xml, "
            "application/fhir+json or application/fhir+xml"
        )
    if not accept:
        return Format.JSON
    for media in _ranked(accept):
        if media in _JSON_TYPES or media in _ANY:
            return Format.JSON
        if media in _XML_TYPES:
            return Format.XML
    raise NotAcceptable(
        f"Cannot answer in any of Accept: {accept}; this server speaks "
        "application/fhir+json, application/json and application/fhir+xml"
    )


def _ranked(accept: str) -> list[str]:
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in pieces[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, index, pieces[0].lower()))
    return [media for _, _, media in sorted(ranked)]


def body_format(content_type: str | None) -> Format:
    """The format of a request body; a missing Content-Type is read as JSON."""
    if not content_type:
        return Format.JSON
    media = content_type.split(";")[0].strip().lower()
    if media in _JSON_TYPES:
        return Format.JSON
    if media in _XML_TYPES:
        return Format.XML
    raise UnsupportedMediaType(
        f"Content-Type {content_type!r} is not supported; send application/fhir+json "
        "or application/fhir+xml"
    )


def parse_body(raw: bytes, fmt: Format) -> Any:
    """Parse a request body into JSON-shaped data, with a clear error when malformed."""
    if not raw.strip():
        raise Invalid("The request body is empty; a FHIR resource was expected", code="structure")
    if fmt is Format.JSON:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Invalid(f"The body is not valid JSON: {exc}", code="structure") from None
    return _parse_xml(raw)


def _parse_xml(raw: bytes) -> dict[str, Any]:
    from lxml import etree

    try:
        root = etree.fromstring(
            raw, parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as exc:
        raise Invalid(f"The body is not well-formed XML: {exc}", code="structure") from None
    qname = etree.QName(root)
    if qname.namespace != "http://hl7.org/fhir":
        raise Invalid(
            "The XML root element is not in the FHIR namespace http://hl7.org/fhir",
            code="structure",
        )
    try:
        cls = model_class(qname.localname)
    except (KeyError, ValueError, AttributeError):
        raise Invalid(f"Unknown resource type {qname.localname!r}", code="structure") from None
    try:
        model = cls.model_validate_xml(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        paths = [".".join([qname.localname, *(str(p) for p in e["loc"])]) for e in exc.errors()]
        issues = [  # every problem the XML layer reports, each with where it is
            Issue("structure", f"{path}: {e['msg']}", expression=(path,))
            for path, e in zip(paths, exc.errors(), strict=True)
        ]
        raise Unprocessable(
            f"{qname.localname} failed validation: {where}: {first['msg']}",
            code="structure",
            issues=issues,
        ) from None
    except Exception as exc:  # the XML layer raises plain errors on structure problems
        raise Invalid(
            f"The XML is not a valid {qname.localname}: {exc}", code="structure"
        ) from None
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    # fhir_core reads Narrative.div with lxml's tostring(), which keeps the element's tail
    # (the whitespace after </div> in pretty-printed XML); it is not part of the div.
    for resource in [data, *data.get("contained", [])]:
        text = resource.get("text") if isinstance(resource, dict) else None
        if isinstance(text, dict) and isinstance(text.get("div"), str):
            text["div"] = text["div"].rstrip()
    return data


def to_xml(resource: dict[str, Any]) -> bytes:
    """Serialise a JSON-shaped resource (any R4B type, incl. Bundle) as FHIR XML."""
    model = model_class(resource["resourceType"]).model_validate(resource)
    _keep_time_texts(model, resource)
    xml: bytes | str = model.model_dump_xml()
    return xml.encode() if isinstance(xml, str) else xml


def _keep_time_texts(model: Any, data: Any) -> None:
    """The models hold dates, dateTimes, instants and times as Python objects and write them
    back with `isoformat()`: JSON's `2026-12-07T05:00:00.974Z` came out in XML as
    `…05:00:00.974000+00:00` and `.5Z` as `.500000+00:00`. The same value, but not the text
    the JSON form (and `Last-Modified`, and every other representation) carries: put the
    JSON texts back, which the XML writer then takes as they are."""
    if isinstance(model, list) and isinstance(data, list):
        for item_model, item_data in zip(model, data, strict=False):
            _keep_time_texts(item_model, item_data)
        return
    if not isinstance(model, BaseModel) or not isinstance(data, dict):
        return
    for name, field in type(model).model_fields.items():
        text = data.get(field.alias or name)
        if text is None:
            continue
        value = model.__dict__.get(name)
        if isinstance(value, _TIME_TYPES) and isinstance(text, str):
            model.__dict__[name] = text  # past validation: the writer takes strings as they are
        elif isinstance(value, list) and isinstance(text, list):
            for index, (item, item_text) in enumerate(zip(value, text, strict=False)):
                if isinstance(item, _TIME_TYPES) and isinstance(item_text, str):
                    value[index] = item_text
                else:
                    _keep_time_texts(item, item_text)
        else:
            _keep_time_texts(value, text)


def dump_json(data: Any, pretty: bool = False) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 if pretty else 0)
