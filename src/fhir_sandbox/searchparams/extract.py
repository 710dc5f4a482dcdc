"""Extracting index rows from a resource on write (https://hl7.org/fhir/R4/search.html).

Each value found by a parameter's expression is turned into rows according to the
parameter type and the FHIR datatype of the value (search.html's table of which datatypes
each parameter type matches).
"""

from __future__ import annotations

from typing import Any

from fhir_sandbox.errors import Invalid
from fhir_sandbox.searchparams.normalize import date_range, normalize_string
from fhir_sandbox.searchparams.phonetic import phonetic_key
from fhir_sandbox.searchparams.registry import Registry, SearchParam
from fhir_sandbox.searchparams.rows import (
    DateRow,
    GeoRow,
    IndexRows,
    ReferenceRow,
    StringRow,
    TokenRow,
    UriRow,
)

_CONTACT_SYSTEMS = ("phone", "fax", "email", "pager", "url", "sms", "other")
_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def extract_index(resource: dict[str, Any], registry: Registry) -> IndexRows:
    rows = IndexRows()
    for param in registry.indexed_params(resource["resourceType"]):
        if param.top is not None:  # about half the parameters of a resource find nothing
            for name in param.top:
                if name in resource:
                    break
            else:
                continue
        for value in param.evaluate(resource):
            _add(rows, param, value)
    return rows


def _add(rows: IndexRows, param: SearchParam, value: Any) -> None:
    kind = param.type
    if kind == "string":
        if param.phonetic:  # a part without letters has no sound, so no row
            keyed = ((phonetic_key(s), s) for s in _strings(value))
            rows.string.update(StringRow(param.code, k, s) for k, s in keyed if k)
        else:
            rows.string.update(
                StringRow(param.code, normalize_string(s), s) for s in _strings(value)
            )
    elif kind == "token":
        rows.token.update(TokenRow(param.code, *t) for t in _tokens(value))
        rows.token.update(_of_type_rows(param.code, value))
    elif kind == "reference":
        row = _reference(param.code, value)
        if row:
            rows.reference.add(row)
    elif kind == "date":
        span = _date_span(value)
        if span:
            rows.date.add(DateRow(param.code, *span))
    elif kind == "uri" and isinstance(value, str):
        rows.uri.add(UriRow(param.code, value))
    elif kind == "special" and isinstance(value, dict):
        lat, lon = value.get("latitude"), value.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            rows.geo.add(GeoRow(param.code, float(lat), float(lon)))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, dict):
        return []
    parts = (
        _ADDRESS_PARTS
        if ("city" in value or "line" in value or "postalCode" in value)
        else _NAME_PARTS
    )
    found: list[str] = []
    for part in parts:
        item = value.get(part)
        if isinstance(item, list):
            found.extend(s for s in item if isinstance(s, str))
        elif isinstance(item, str):
            found.append(item)
    for part in ("country", "state", "district", "city") if parts is _NAME_PARTS else ():
        if isinstance(value.get(part), str):
            found.append(value[part])
    return found


def _tokens(value: Any) -> list[tuple[str, str, str]]:
    """(system, code, text) triples for code, Coding, CodeableConcept, Identifier, ..."""
    if isinstance(value, bool):
        return [("", "true" if value else "false", "")]
    if isinstance(value, str):
        return [("", value, "")]
    if not isinstance(value, dict):
        return []
    if "coding" in value or ("text" in value and "code" not in value and "value" not in value):
        text = normalize_string(value.get("text", ""))
        codings = value.get("coding") or []
        # :text looks at CodeableConcept.text and at every Coding.display (search.html#token)
        tokens = [
            t for c in codings if isinstance(c, dict) for t in (_coding(c, text), _coding(c, ""))
        ]
        return tokens or ([("", "", text)] if text else [])
    if "code" in value or ("system" in value and "value" not in value):
        return [_coding(value, "")]
    if "value" in value and isinstance(value["value"], str):
        # Identifier (system|value, type text for :text and :of-type) or ContactPoint.
        if value.get("system") in _CONTACT_SYSTEMS:
            return [("", value["value"], "")]
        type_text = _identifier_type_text(value.get("type"))
        return [(value.get("system", ""), value["value"], type_text)]
    return []


def _of_type_rows(code: str, value: Any) -> list[TokenRow]:
    """Rows for `identifier:of-type=system|code|value` (an Identifier's type coding)."""
    if not isinstance(value, dict) or not isinstance(value.get("type"), dict):
        return []
    ident = value.get("value")
    if not isinstance(ident, str):
        return []
    codings = [c for c in value["type"].get("coding", []) if isinstance(c, dict)]
    return [
        TokenRow(f"{code}:of-type", f"{c.get('system', '')}|{c.get('code', '')}", ident, "")
        for c in codings
    ]


def _coding(coding: dict[str, Any], text: str) -> tuple[str, str, str]:
    display = normalize_string(coding.get("display", ""))
    return (coding.get("system", ""), coding.get("code", ""), text or display)


def _identifier_type_text(identifier_type: Any) -> str:
    if not isinstance(identifier_type, dict):
        return ""
    return normalize_string(identifier_type.get("text", ""))


def _reference(code: str, value: Any) -> ReferenceRow | None:
    if isinstance(value, str):  # canonical / uri targets
        return ReferenceRow(code, "", "", value, "", "")
    if not isinstance(value, dict):
        return None
    identifier = value.get("identifier") or {}
    ident = (identifier.get("system", ""), identifier.get("value", ""))
    literal = value.get("reference")
    if not isinstance(literal, str):
        return ReferenceRow(code, value.get("type", ""), "", "", *ident) if ident[1] else None
    target_type, target_id = split_reference(literal)
    return ReferenceRow(code, target_type, target_id, literal, *ident)


def split_reference(literal: str) -> tuple[str, str]:
    """`Organization/1`, `http://x/fhir/Organization/1/_history/2` -> (type, id)."""
    parts = literal.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2], parts[-1]
    return "", ""


def _date_span(value: Any) -> tuple[str, str] | None:
    try:
        if isinstance(value, str):
            return date_range(value)
        if isinstance(value, dict) and ("start" in value or "end" in value):
            low = (
                date_range(value["start"])[0] if "start" in value else "0001-01-01T00:00:00.000000"
            )
            high = date_range(value["end"])[1] if "end" in value else "9999-12-31T23:59:59.999999"
            return low, high
    except Invalid:
        return None
    return None
