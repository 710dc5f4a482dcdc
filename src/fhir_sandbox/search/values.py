"""Parsing one search value per parameter type (https://hl7.org/fhir/R4/search.html)."""

from __future__ import annotations

import re

from fhir_sandbox.errors import Invalid
from fhir_sandbox.search.dates import PREFIXES
from fhir_sandbox.search.geo import lon_scale
from fhir_sandbox.search.query import (
    DateValue,
    NearValue,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
)
from fhir_sandbox.searchparams.extract import split_reference
from fhir_sandbox.searchparams.normalize import date_range, normalize_string

_UNITS_KM = {"km": 1.0, "[mi_i]": 1.609344, "mi": 1.609344, "m": 0.001}


def split_escaped(raw: str, separator: str) -> list[str]:
    """Split on `separator` unless escaped with a backslash; unescape \\, \\| \\$ \\\\."""
    parts, current, escaped = [], "", False
    for char in raw:
        if escaped:
            current += char if char in ",|$\\" else "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current + ("\\" if escaped else ""))
    return parts


def _split_pipe(raw: str) -> list[str]:
    """Split a token on its first unescaped `|`, keeping escapes for split_escaped later."""
    return split_escaped(raw, "|") if "|" in raw else [raw]


def string_value(raw: str) -> StringValue:
    return StringValue(normalize_string(raw), raw)


def token_value(raw: str) -> TokenValue:
    parts = _split_pipe(raw)
    if len(parts) == 1:
        return TokenValue(None, parts[0])
    system, code = parts[0], "|".join(parts[1:])
    return TokenValue(system, code or None)


def reference_value(raw: str, type_modifier: str | None) -> ReferenceValue:
    if raw.startswith(("http://", "https://", "urn:")):
        target_type, target_id = split_reference(raw)
        return (
            ReferenceValue(None, None, raw)
            if not target_id
            else ReferenceValue(target_type, target_id, None)
        )
    if "/" in raw:
        target_type, _, target_id = raw.partition("/")
        if type_modifier and type_modifier != target_type:
            raise Invalid(
                f"Reference {raw!r} contradicts the :{type_modifier} modifier", code="value"
            )
        return ReferenceValue(target_type, target_id)
    return ReferenceValue(type_modifier, raw)


_PREFIX = re.compile(r"^(" + "|".join(PREFIXES) + r")(?=\d)")


def date_value(raw: str) -> DateValue:
    match = _PREFIX.match(raw)
    prefix = match.group(1) if match else "eq"
    low, high = date_range(raw[len(prefix) if match else 0 :])
    return DateValue(prefix, low, high)


def uri_value(raw: str) -> UriValue:
    return UriValue(raw)


def near_value(raw: str) -> NearValue:
    """`lat|lon|distance|units` (units km by default; distance default 50 km)."""
    parts = raw.split("|")
    try:
        lat, lon = float(parts[0]), float(parts[1])
        distance = float(parts[2]) if len(parts) > 2 and parts[2] else 50.0
    except (ValueError, IndexError):
        raise Invalid(
            f"near={raw!r} is not valid; use latitude|longitude|distance|units, "
            "e.g. 51.5|-0.13|5|km",
            code="value",
        ) from None
    units = parts[3] if len(parts) > 3 and parts[3] else "km"
    if units not in _UNITS_KM:
        raise Invalid(f"near units {units!r} not supported; use km, m or [mi_i]", code="value")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid(f"near={raw!r}: latitude/longitude out of range", code="value")
    return NearValue(lat, lon, distance * _UNITS_KM[units], lon_scale(lat))
