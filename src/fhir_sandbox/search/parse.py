"""Parsing search parameters into a Query (https://hl7.org/fhir/R4/search.html).

Strict by default (DESIGN.md §6): an unknown parameter or modifier is an error naming it
and listing what is supported; in lenient mode it is set aside and reported instead.
Malformed values are errors in both modes: a wrong value is never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fhir_sandbox.errors import Invalid
from fhir_sandbox.search import values as parse_values
from fhir_sandbox.search.query import Clause, HasClause, Query, SortKey, StringValue, Value
from fhir_sandbox.searchparams.phonetic import phonetic_key
from fhir_sandbox.searchparams.registry import Registry, SearchParam

#: Result parameters handled by the search interaction, not by the query.
CONTROL_PARAMS = frozenset(
    {
        "_count", "_offset", "_sort", "_total", "_summary", "_elements", "_include",
        "_revinclude", "_format", "_pretty", "_type", "_after", "_before",
    }
)  # fmt: skip

MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset({"exact", "contains", "missing"}),
    "token": frozenset({"not", "missing", "text", "of-type"}),
    "reference": frozenset({"missing", "identifier"}),
    "date": frozenset({"missing"}),
    "uri": frozenset({"below", "above", "missing"}),
    "special": frozenset(),
    "id": frozenset({"not"}),
    "lastUpdated": frozenset(),
}
RESOURCE_LEVEL = {"_id": "id", "_lastUpdated": "lastUpdated"}


class UnknownParameter(Invalid):
    """A parameter or modifier this server does not support (lenient mode ignores it)."""


@dataclass
class ParsedSearch:
    query: Query
    used: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def parse_search(
    resource_type: str,
    params: list[tuple[str, str]],
    registry: Registry,
    *,
    lenient: bool = False,
) -> ParsedSearch:
    clauses: list[Clause | HasClause] = []
    parsed = ParsedSearch(Query(resource_type))
    for name, raw in params:
        if name in CONTROL_PARAMS or name.split(":")[0] in ("_include", "_revinclude"):
            continue
        try:
            clauses.append(parse_param(resource_type, name, raw, registry))
        except UnknownParameter as exc:
            if not lenient:
                raise
            parsed.ignored.append(exc.diagnostics)
            continue
        parsed.used.append((name, raw))
    parsed.query = Query(resource_type, tuple(clauses))
    return parsed


def supported_list(resource_type: str, registry: Registry) -> str:
    return ", ".join(sorted([*registry.params_for(resource_type), "_has"]))


def parse_param(resource_type: str, name: str, raw: str, registry: Registry) -> Clause | HasClause:
    if name.startswith("_has:"):
        return _parse_has(resource_type, name, raw, registry)
    head, dot, tail = name.partition(".")
    code, _, modifier = head.partition(":")
    param = _lookup(resource_type, code, registry)
    kind = RESOURCE_LEVEL.get(code, param.type if param else "")
    if dot:
        if not param or param.type != "reference":
            raise UnknownParameter(
                f"Chaining needs a reference parameter; {code!r} is not one", code="not-supported"
            )
        return _parse_chain(param, modifier or None, tail, raw, registry)
    if modifier and modifier not in MODIFIERS[kind] and not _is_type_modifier(param, modifier):
        allowed = sorted(
            MODIFIERS[kind] | set(param.targets if param and kind == "reference" else ())
        )
        raise UnknownParameter(
            f"Modifier :{modifier} is not supported on {resource_type} parameter {code!r} "
            f"({kind}); supported: {', '.join(':' + m for m in allowed) or 'none'}",
            code="not-supported",
        )
    return _clause(code, kind, modifier or None, raw, param)


def _lookup(resource_type: str, code: str, registry: Registry) -> SearchParam | None:
    param = registry.get(resource_type, code)
    if param is None and code not in RESOURCE_LEVEL:
        raise UnknownParameter(
            f"Unknown search parameter {code!r} for {resource_type}. "
            f"Supported: {supported_list(resource_type, registry)}",
            code="not-supported",
        )
    return param


def _is_type_modifier(param: SearchParam | None, modifier: str) -> bool:
    return bool(param and param.type == "reference" and modifier in param.targets)


def _clause(
    code: str, kind: str, modifier: str | None, raw: str, param: SearchParam | None
) -> Clause:
    pieces = parse_values.split_escaped(raw, ",")
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise Invalid(f"{code}:missing takes true or false, not {raw!r}", code="value")
        return Clause(code, kind, "missing", (raw == "true",))
    if modifier == "of-type":
        return Clause(f"{code}:of-type", kind, None, tuple(_of_type(code, p) for p in pieces))
    if any(p == "" for p in pieces):
        raise Invalid(f"Search parameter {code!r} has an empty value", code="value")
    type_modifier = modifier if _is_type_modifier(param, modifier or "") else None
    if param is not None and param.phonetic:
        return _phonetic_clause(code, modifier, pieces)
    values = tuple(_value(kind, modifier, type_modifier, p) for p in pieces)
    return Clause(code, kind, None if type_modifier else modifier, values)


def _phonetic_clause(code: str, modifier: str | None, pieces: list[str]) -> Clause:
    """`phonetic`: each value's Soundex key, matched whole (searchparams/phonetic.py);
    `:exact` compares the text itself, `:contains` has no meaning for a sound."""
    if modifier == "contains":
        raise Invalid(
            f"{code} matches names by their sound (Soundex); :contains does not apply, "
            "use the name parameter for text",
            code="not-supported",
        )
    if modifier == "exact":
        return Clause(code, "string", modifier, tuple(map(parse_values.string_value, pieces)))
    keys = [(phonetic_key(p), p) for p in pieces]
    silent = [p for k, p in keys if not k]
    if silent:
        raise Invalid(f"{code}={silent[0]!r} has no letters to match by sound", code="value")
    return Clause(code, "string", None, tuple(StringValue(k, p, whole=True) for k, p in keys))


def _value(kind: str, modifier: str | None, type_modifier: str | None, raw: str) -> Value:
    if kind in ("id",):
        return (
            parse_values.token_value(raw) if "|" not in raw else parse_values.TokenValue(None, raw)
        )
    if kind == "lastUpdated" or kind == "date":
        return parse_values.date_value(raw)
    if kind == "string":
        return parse_values.string_value(raw)
    if kind == "token":
        if modifier == "text":
            return parse_values.TokenValue(None, parse_values.normalize_string(raw))
        return parse_values.token_value(raw)
    if kind == "reference":
        if modifier == "identifier":
            return parse_values.token_value(raw)
        return parse_values.reference_value(raw, type_modifier)
    if kind == "uri":
        return parse_values.uri_value(raw)
    return parse_values.near_value(raw)


def _of_type(code: str, raw: str) -> Value:
    parts = parse_values.split_escaped(raw, "|")
    if len(parts) != 3 or not all(parts):
        raise Invalid(f"{code}:of-type takes system|code|value, not {raw!r}", code="value")
    return parse_values.TokenValue(f"{parts[0]}|{parts[1]}", parts[2])


def _parse_chain(
    param: SearchParam, modifier: str | None, tail: str, raw: str, registry: Registry
) -> Clause:
    if modifier and modifier not in param.targets:
        raise UnknownParameter(
            f"{param.code}:{modifier} is not a valid target; {param.code} refers to "
            + ", ".join(param.targets),
            code="not-supported",
        )
    candidates = [modifier] if modifier else list(param.targets)
    parsed: list[tuple[str, Clause | HasClause]] = []
    errors: list[str] = []
    for target in candidates:
        try:
            parsed.append((target, parse_param(target, tail, raw, registry)))
        except UnknownParameter as exc:
            errors.append(exc.diagnostics)
    if not parsed:
        raise UnknownParameter(
            f"Cannot chain {param.code}.{tail}: {'; '.join(errors)}", code="not-supported"
        )
    if len(parsed) > 1:
        raise Invalid(
            f"{param.code}.{tail} is ambiguous: use {param.code}:Type.{tail} with one of "
            + ", ".join(t for t, _ in parsed),
            code="value",
        )
    target, inner = parsed[0]
    return Clause(param.code, "reference", None, (), Query(target, (inner,)), (target,))


def _parse_has(resource_type: str, name: str, raw: str, registry: Registry) -> HasClause:
    parts = name.split(":")
    if len(parts) < 4:
        raise Invalid(f"{name!r}: _has takes _has:Type:reference:parameter", code="value")
    source_type, reference_code, rest = parts[1], parts[2], ":".join(parts[3:])
    if source_type not in registry.by_type:
        raise UnknownParameter(f"_has: unknown resource type {source_type!r}", code="not-supported")
    reference = registry.get(source_type, reference_code)
    if reference is None or reference.type != "reference" or resource_type not in reference.targets:
        raise UnknownParameter(
            f"_has: {source_type}.{reference_code} is not a reference to {resource_type}",
            code="not-supported",
        )
    inner = parse_param(source_type, rest, raw, registry)
    return HasClause(source_type, reference_code, Query(source_type, (inner,)))


def parse_sort(resource_type: str, raw: str | None, registry: Registry) -> tuple[SortKey, ...]:
    if not raw:
        return ()
    keys = []
    for item in raw.split(","):
        descending = item.startswith("-")
        code = item.lstrip("-")
        if code in RESOURCE_LEVEL:
            keys.append(SortKey(code, RESOURCE_LEVEL[code], descending))
            continue
        param = registry.get(resource_type, code)
        if param is None or param.type == "special":
            raise Invalid(
                f"Cannot sort {resource_type} by {code!r}. Sortable: "
                + ", ".join(
                    sorted(
                        c
                        for c, p in registry.params_for(resource_type).items()
                        if p.type != "special"
                    )
                ),
                code="not-supported",
            )
        keys.append(SortKey(code, param.type, descending))
    return tuple(keys)
