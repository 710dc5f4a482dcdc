"""The search oracle's rules per parameter type (https://hl7.org/fhir/R4/search.html): the
values a FHIRPath result gives each type, and whether one stored value matches one wanted
value. search_oracle.py reads the query and combines these; its docstring gives the choices
the spec leaves open.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fhir_sandbox.searchparams.normalize import date_range, normalize_string

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
NEG_INF, POS_INF = "", "\uffff"  # below / above every fixed-width instant string
KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_AT_EQUATOR = 111.320
UNITS_KM = {"km": 1.0, "m": 0.001, "[mi_i]": 1.609344, "mi": 1.609344}
_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")

Typed = tuple[str, Any]  # (FHIR type name as FHIRPath reports it, the JSON value)


# -- reading the query ---------------------------------------------------------------------


def split_unescaped(raw: str, separator: str) -> list[str]:
    """Split on `separator` where it is not escaped by a backslash, then unescape."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(raw)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt in (",", "|", "$", "\\") else "\\" + nxt)
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def split_pipe_once(raw: str) -> tuple[str, str] | None:
    """`system|code` -> (system, code) at the first unescaped `|`; None when there is none."""
    escaped = False
    for index, char in enumerate(raw):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            return raw[:index], raw[index + 1 :]
    return None


def _unescape(text: str) -> str:
    return split_unescaped(text, "\0")[0]


# -- values per parameter type -------------------------------------------------------------

HUMAN_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")
STRING_TYPES = ("string", "markdown", "code", "id", "uri", "url", "canonical")


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def string_values(values: Iterable[Typed]) -> list[str]:
    found: list[str] = []
    for kind, data in values:
        if kind == "HumanName":
            found += [s for part in HUMAN_NAME_PARTS for s in _listed(data.get(part))]
        elif kind == "Address":
            found += [s for part in ADDRESS_PARTS for s in _listed(data.get(part))]
        elif kind in STRING_TYPES:
            found.append(data)
        else:
            raise AssertionError(f"string search over {kind}")
    return [s for s in found if isinstance(s, str) and s]


@dataclass(frozen=True)
class Token:
    system: str | None
    code: str | None
    texts: tuple[str, ...] = ()
    types: tuple[tuple[str | None, str | None], ...] = ()  # Identifier.type codings


def token_values(values: Iterable[Typed]) -> list[Token]:
    found: list[Token] = []
    for kind, data in values:
        if kind == "boolean":
            found.append(Token(None, "true" if data else "false"))
        elif kind in STRING_TYPES:
            found.append(Token(None, data))
        elif kind == "Coding":
            found.append(Token(data.get("system"), data.get("code"), (data.get("display", ""),)))
        elif kind == "CodeableConcept":
            text = data.get("text", "")
            codings = data.get("coding", [])
            found += [
                Token(c.get("system"), c.get("code"), (text, c.get("display", ""))) for c in codings
            ]
            if not codings and text:
                found.append(Token(None, None, (text,)))
        elif kind == "Identifier":
            kind_of = data.get("type") or {}
            types = tuple((c.get("system"), c.get("code")) for c in kind_of.get("coding", []))
            texts = (kind_of.get("text", ""),)
            found.append(Token(data.get("system"), data.get("value"), texts, types))
        else:
            raise AssertionError(f"token search over {kind}")
    return found


@dataclass(frozen=True)
class Ref:
    target_type: str | None
    target_id: str | None
    identifier: Token | None


def reference_values(values: Iterable[Typed]) -> list[Ref]:
    found: list[Ref] = []
    for kind, data in values:
        if kind != "Reference":
            raise AssertionError(f"reference search over {kind}")
        literal = data.get("reference")
        target = _RELATIVE.match(literal) if isinstance(literal, str) else None
        ident = data.get("identifier")
        token = Token(ident.get("system"), ident.get("value")) if ident else None
        if target or token:
            found.append(
                Ref(target.group(1) if target else None, target.group(2) if target else None, token)
            )
    return found


def date_values(values: Iterable[Typed]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for kind, data in values:
        if kind == "Period":
            low = date_range(data["start"])[0] if "start" in data else NEG_INF
            high = date_range(data["end"])[1] if "end" in data else POS_INF
            found.append((low, high))
        elif kind in ("date", "dateTime", "instant"):
            found.append(date_range(data))
        else:
            raise AssertionError(f"date search over {kind}")
    return found


def uri_values(values: Iterable[Typed]) -> list[str]:
    for kind, _ in values:
        if kind not in ("uri", "url", "canonical"):
            raise AssertionError(f"uri search over {kind}")
    return [data for _, data in values]


def position_values(values: Iterable[Typed]) -> list[tuple[float, float]]:
    found = []
    for _, data in values:
        lat, lon = data.get("latitude"), data.get("longitude")
        if lat is not None and lon is not None:
            found.append((float(lat), float(lon)))
    return found


# -- matching one value --------------------------------------------------------------------


def string_match(modifier: str | None, wanted: str, stored: str) -> bool:
    if modifier == "exact":
        return stored == wanted
    if modifier == "contains":
        return normalize_string(wanted) in normalize_string(stored)
    return normalize_string(stored).startswith(normalize_string(wanted))


def token_match(modifier: str | None, wanted: str, token: Token) -> bool:
    if modifier == "text":
        needle = normalize_string(wanted)
        return any(t and normalize_string(t).startswith(needle) for t in token.texts)
    if modifier == "of-type":
        system, code, value = split_unescaped(wanted, "|")
        return (system, code) in token.types and token.code == value
    return system_code_match(wanted, token)


def system_code_match(wanted: str, token: Token) -> bool:
    pair = split_pipe_once(wanted)
    if pair is None:
        return token.code == _unescape(wanted)
    system, code = _unescape(pair[0]), _unescape(pair[1])
    if system == "":
        return token.system is None and token.code == code
    if code == "":
        return token.system == system
    return token.system == system and token.code == code


def reference_match(modifier: str | None, wanted: str, ref: Ref) -> bool:
    if modifier == "identifier":
        return ref.identifier is not None and system_code_match(wanted, ref.identifier)
    if "/" in wanted:
        target_type, _, target_id = wanted.partition("/")
        return (ref.target_type, ref.target_id) == (target_type, target_id)
    if modifier is not None and ref.target_type != modifier:  # :Type
        return False
    return ref.target_id is not None and ref.target_id == wanted


def parse_date(raw: str) -> tuple[str, str, str]:
    if raw[:2] in PREFIXES and raw[2:3].isdigit():
        prefix, text = raw[:2], raw[2:]
    else:
        prefix, text = "eq", raw
    low, high = date_range(text)
    return prefix, low, high


def date_match(prefix: str, low: str, high: str, stored: tuple[str, str]) -> bool:
    """search.html#prefix, on the range of the search value [low, high] and the target's."""
    tl, th = stored
    contains = low <= tl and th <= high  # the search range fully contains the target
    above = th > high  # the range above the search value overlaps the target
    below = tl < low  # the range below the search value overlaps the target
    return {
        "eq": contains,
        "ne": not contains,
        "gt": above,
        "lt": below,
        "ge": above or contains,
        "le": below or contains,
        "sa": tl > high,  # no overlap, target entirely above
        "eb": th < low,  # no overlap, target entirely below
        "ap": tl <= high and th >= low,  # server's choice: overlapping ranges
    }[prefix]


def at_or_under(uri: str, node: str) -> bool:
    """`uri` is `node` or lies under it: it goes on from `node` past a `/`.

    "http://a/b/c" and "http://a/b/" lie under "http://a/b" (and under "http://a/b/"), but
    "http://a/bc" does not, nor does "http://a/b" lie under "http://a/b/".
    """
    return uri == node or uri.startswith(node if node.endswith("/") else node + "/")


def uri_match(modifier: str | None, wanted: str, stored: str) -> bool:
    if modifier == "below":
        return at_or_under(stored, wanted)
    if modifier == "above":
        return at_or_under(wanted, stored)
    return stored == wanted


def near_match(raw: str, position: tuple[float, float]) -> bool:
    parts = raw.split("|")
    lat0, lon0 = float(parts[0]), float(parts[1])
    distance = float(parts[2]) if len(parts) > 2 and parts[2] else 50.0
    km = distance * UNITS_KM[parts[3] if len(parts) > 3 and parts[3] else "km"]
    scale = KM_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(lat0))
    dy = (position[0] - lat0) * KM_PER_DEGREE_LAT
    dx = (position[1] - lon0) * scale
    return dx * dx + dy * dy <= km * km
