"""The SearchParameter registry, built once from definitions.

Definitions are data: the official R4 SearchParameters for our types (CC0, shipped in
`definitions/search-parameters.json`, copied unchanged from the spec) plus our own custom
ones in the same format (`definitions/custom-search-parameters.json`). Each expression is
compiled once; `fingerprint` identifies the definitions so that a change triggers a reindex.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.searchparams.paths import compile_expression, top_elements
from fhir_sandbox.searchparams.rows import INDEX_FORMAT

#: Search parameter types this server indexes and searches.
SUPPORTED_TYPES = ("string", "token", "reference", "date", "uri", "special")


@dataclass(frozen=True)
class SearchParam:
    """One search parameter as it applies to one resource type."""

    code: str
    resource_type: str
    type: str
    expression: str
    url: str
    targets: tuple[str, ...] = ()
    evaluate: Callable[[dict[str, Any]], list[Any]] = field(compare=False, repr=False, default=list)
    # the top-level elements `evaluate` starts from (None: it may find values anywhere)
    top: tuple[str, ...] | None = field(compare=False, repr=False, default=None)

    @property
    def is_resource_level(self) -> bool:
        return self.code in ("_id", "_lastUpdated")

    @property
    def phonetic(self) -> bool:
        """Matched by sound (searchparams/phonetic.py), as R4's `phonetic` parameters are."""
        return self.code == "phonetic" and self.type == "string"


@dataclass(frozen=True)
class Registry:
    """Search parameters by resource type and code."""

    by_type: dict[str, dict[str, SearchParam]]
    fingerprint: str

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        return self.by_type.get(resource_type, {}).get(code)

    def params_for(self, resource_type: str) -> dict[str, SearchParam]:
        return self.by_type.get(resource_type, {})

    def indexed_params(self, resource_type: str) -> list[SearchParam]:
        """Parameters whose values live in index tables (not `_id`/`_lastUpdated`)."""
        return self._indexed.get(resource_type, [])

    @cached_property
    def _indexed(self) -> dict[str, list[SearchParam]]:
        return {
            resource_type: [p for p in params.values() if not p.is_resource_level]
            for resource_type, params in self.by_type.items()
        }


def load_definitions(name: str) -> list[dict[str, Any]]:
    raw = resources.files("fhir_sandbox.definitions").joinpath(name).read_bytes()
    bundle = orjson.loads(raw)
    return [entry["resource"] for entry in bundle.get("entry", [])]


@cache
def default_registry() -> Registry:
    """The registry of the official and custom parameters, built once per process."""
    return build_registry(_shipped())


def _shipped() -> list[dict[str, Any]]:
    return load_definitions("search-parameters.json") + load_definitions(
        "custom-search-parameters.json"
    )


def registry_with(extra_files: Iterable[Path]) -> Registry:
    """The shipped parameters plus a deployment's own SearchParameter Bundles (JSON).

    A definition with the same base and code as a shipped one replaces it.
    """
    extra: list[dict[str, Any]] = []
    for path in extra_files:
        bundle = orjson.loads(path.read_bytes())
        resources = [e["resource"] for e in bundle.get("entry", [])]
        if bundle.get("resourceType") == "SearchParameter":
            resources = [bundle]
        for resource in resources:
            if resource.get("resourceType") != "SearchParameter":
                raise ValueError(f"{path}: {resource.get('resourceType')} is not a SearchParameter")
        extra += resources
    if not extra:
        return default_registry()
    return build_registry(_shipped() + extra)


def build_registry(definitions: Iterable[dict[str, Any]]) -> Registry:
    by_type: dict[str, dict[str, SearchParam]] = {t: {} for t in RESOURCE_TYPES}
    digest = hashlib.sha256(INDEX_FORMAT.encode())
    for definition in definitions:
        digest.update(orjson.dumps(definition, option=orjson.OPT_SORT_KEYS))
        if definition.get("type") not in SUPPORTED_TYPES:
            continue
        for base in definition["base"]:
            targets = [base] if base in RESOURCE_TYPES else []
            if base == "Resource":
                targets = list(RESOURCE_TYPES)
            for resource_type in targets:
                expression = _expression_for(definition["expression"], resource_type, base)
                if expression is None:
                    continue
                by_type[resource_type][definition["code"]] = SearchParam(
                    code=definition["code"],
                    resource_type=resource_type,
                    type=definition["type"],
                    expression=expression,
                    url=definition["url"],
                    targets=tuple(definition.get("target", ())),
                    evaluate=compile_expression(expression),
                    top=top_elements(expression),
                )
    return Registry(by_type=by_type, fingerprint=digest.hexdigest()[:16])


def _expression_for(expression: str, resource_type: str, base: str) -> str | None:
    """The part of a multi-type expression that applies to one type.

    Shared definitions such as `Patient.address | Practitioner.address` are cut down to the
    branches for our type, so each type compiles only what it can match.
    """
    if base == "Resource":
        return expression.replace("Resource.", f"{resource_type}.", 1)
    branches = [b.strip() for b in expression.split("|")]
    mine = [b for b in branches if b.startswith(f"{resource_type}.") or b == resource_type]
    if not mine:
        return None
    return " | ".join(mine)
