"""A reference evaluator for FHIR R4 search, independent of the server's index.

Given the stored JSON of a directory and a query as the client sends it
(`resource_type`, `[(name, raw)]`), `Oracle.search` returns the ids that match. It reads the
raw parameters itself, evaluates each parameter's FHIRPath expression with plain fhirpathpy
and the R4 model (not the server's compiled fast paths), uses the FHIR type of each result
that FHIRPath reports, and applies the rules of https://hl7.org/fhir/R4/search.html directly
to the values. From the server it takes only the parameter definitions (expression, type,
targets: they are data) and the three normalisers the semantics are defined by:
`normalize_string` (case and accent folding), `date_range` (a date as the range it
covers) and `phonetic_key` (Soundex, for the `phonetic` parameters).

Choices the spec leaves open, taken here as the server makes them: `ap` is "the ranges
overlap"; `near` uses the equirectangular distance of search/geo.py; a `code` element has
no system (so `|code` finds it and `system|code` does not); for `:below`/`:above` a URI
with a trailing slash ("http://a/b/") lies under the one without ("http://a/b"), not the
other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import fhirpathpy
from fhirpathpy.models import models
from oracle_values import (
    Typed,
    date_match,
    date_values,
    near_match,
    parse_date,
    position_values,
    reference_match,
    reference_values,
    split_unescaped,
    string_match,
    string_values,
    token_match,
    token_values,
    uri_match,
    uri_values,
)

from fhir_sandbox.searchparams.phonetic import phonetic_key
from fhir_sandbox.searchparams.registry import Registry, SearchParam

MODEL = models["r4"]


# -- evaluating expressions ----------------------------------------------------------------


def _branches(expression: str) -> list[str]:
    """Top-level `|` branches, so that FHIRPath reports the type of every value."""
    branches, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(expression):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == "|":
            branches.append(expression[start:index].strip())
            start = index + 1
    branches.append(expression[start:].strip())
    return branches


@cache
def _compiled(expression: str) -> Callable[[Any, Any], list[Any]]:
    return fhirpathpy.compile(expression, model=MODEL, options={"returnRawData": True})


def evaluate(resource: dict[str, Any], expression: str) -> list[Typed]:
    found: list[Typed] = []
    for branch in _branches(expression):
        for node in _compiled(branch)(resource, {}):
            kind = getattr(node, "path", None) or type(node).__name__
            data = getattr(node, "data", node)
            found.append((kind, data))
    return found


# -- the evaluator -------------------------------------------------------------------------


class Oracle:
    def __init__(self, resources: Iterable[dict[str, Any]], registry: Registry) -> None:
        self.resources = {(r["resourceType"], r["id"]): r for r in resources}
        self.registry = registry

    def search(self, resource_type: str, params: list[tuple[str, str]]) -> set[str]:
        """Ids of `resource_type` matching every parameter (repeats AND, commas OR)."""
        return {
            rid
            for (rtype, rid), resource in self.resources.items()
            if rtype == resource_type and all(self.matches(resource, n, v) for n, v in params)
        }

    def _param(self, resource_type: str, code: str) -> SearchParam:
        param = self.registry.get(resource_type, code)
        assert param is not None, f"{resource_type} has no parameter {code}"
        return param

    def matches(self, resource: dict[str, Any], name: str, raw: str) -> bool:
        rtype = resource["resourceType"]
        if name.startswith("_has:"):
            _, source_type, ref_code, rest = name.split(":", 3)
            return any(
                src_type == source_type
                and any(
                    (r.target_type, r.target_id) == (rtype, resource["id"])
                    for r in reference_values(self._values(source, ref_code))
                )
                and self.matches(source, rest, raw)
                for (src_type, _), source in self.resources.items()
            )
        head, dot, tail = name.partition(".")
        code, _, modifier = head.partition(":")
        if dot:
            return self._chain(resource, code, modifier or None, tail, raw)
        wanted = split_unescaped(raw, ",")
        if code == "_id":
            hit = resource["id"] in wanted
            return not hit if modifier == "not" else hit
        param = self._param(rtype, code)
        kind = param.type
        values = self._searchable(kind, self._values(resource, code))
        if param.phonetic:  # a part without letters has no sound, so no value
            values = [v for v in values if phonetic_key(v)]
            if modifier not in ("missing", "exact"):
                keys = {phonetic_key(w) for w in wanted}
                return any(phonetic_key(v) in keys for v in values)
        if modifier == "missing":
            return (not values) == (raw == "true")
        if kind == "token" and modifier == "not":
            return not any(token_match(None, w, v) for w in wanted for v in values)
        return any(self._one(kind, modifier or None, w, v) for w in wanted for v in values)

    def _values(self, resource: dict[str, Any], code: str) -> list[Typed]:
        return evaluate(resource, self._param(resource["resourceType"], code).expression)

    @staticmethod
    def _searchable(kind: str, values: list[Typed]) -> list[Any]:
        readers: dict[str, Callable[[list[Typed]], list[Any]]] = {
            "string": string_values,
            "token": token_values,
            "reference": reference_values,
            "date": date_values,
            "uri": uri_values,
            "special": position_values,
        }
        return readers[kind](values)

    @staticmethod
    def _one(kind: str, modifier: str | None, wanted: str, value: Any) -> bool:
        if kind == "string":
            return string_match(modifier, wanted, value)
        if kind == "token":
            return token_match(modifier, wanted, value)
        if kind == "reference":
            return reference_match(modifier, wanted, value)
        if kind == "date":
            return date_match(*parse_date(wanted), value)
        if kind == "uri":
            return uri_match(modifier, wanted, value)
        return near_match(wanted, value)

    def _chain(
        self, resource: dict[str, Any], code: str, type_modifier: str | None, tail: str, raw: str
    ) -> bool:
        param = self._param(resource["resourceType"], code)
        allowed = (type_modifier,) if type_modifier else param.targets
        for ref in reference_values(self._values(resource, code)):
            if ref.target_type not in allowed:
                continue
            target = self.resources.get((ref.target_type, ref.target_id))  # type: ignore[arg-type]
            if target is not None and self.matches(target, tail, raw):
                return True
        return False
