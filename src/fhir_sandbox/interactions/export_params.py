"""The kick-off parameters of $export
(https://hl7.org/fhir/uv/bulkdata/STU2/export.html#query-parameters).

Strict by default like search (DESIGN.md §6): a parameter this server does not support
(`_typeFilter`, `_elements`, `patient`, `includeAssociatedData`, or an unknown name) is a
400 naming it. With `Prefer: handling=lenient` it is set aside instead and reported in the
manifest's `error` file, as the IG allows. Malformed values (`_since`, `_outputFormat`) are
errors in both modes: a wrong value is never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_sandbox.errors import Invalid
from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.fhir.validation import check_type
from fhir_sandbox.interactions.request import FhirRequest
from fhir_sandbox.searchparams.normalize import date_range, parse_instant_text

SUPPORTED = ("_type", "_since", "_outputFormat")
#: Shape only this response (the kick-off's own OperationOutcome); not passed to the job.
RESPONSE_PARAMS = ("_format", "_pretty")
KNOWN_UNSUPPORTED = ("_typeFilter", "_elements", "patient", "includeAssociatedData")
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
_JSON_FORMATS = ("application/fhir+json", "application/json", "json")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class ExportParams:
    types: tuple[str, ...]
    since: datetime | None
    notes: tuple[str, ...] = ()  # what lenient mode set aside, for the manifest's error file


def parse_export(request: FhirRequest, params: list[tuple[str, str]]) -> ExportParams:
    lenient = request.prefer("handling") == "lenient"
    notes: list[str] = []

    def refuse(message: str) -> None:
        if not lenient:
            raise Invalid(message, code="not-supported")
        notes.append(message)

    for name in dict.fromkeys(n for n, _ in params if n not in (*SUPPORTED, *RESPONSE_PARAMS)):
        refuse(_unsupported_message(name))
    _check_response_format(params)
    types = _types(request.resource_type, [v for n, v in params if n == "_type"], refuse)
    since = _since(_single(params, "_since"))
    _check_output_format(_single(params, "_outputFormat"))
    return ExportParams(types, since, tuple(notes))


def parameters_to_params(body: Any) -> list[tuple[str, str]]:
    """A POST kick-off's `Parameters` body as (name, value) pairs, like URL parameters.

    Non-string values (a `patient` valueReference) keep their JSON text so that strict mode
    can name them and lenient mode can report them.
    """
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise Invalid("A POST $export takes a Parameters resource as its body", code="structure")
    pairs: list[tuple[str, str]] = []
    for parameter in body.get("parameter") or []:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if not isinstance(name, str):
            raise Invalid("Every Parameters.parameter needs a name", code="required")
        values = [v for k, v in parameter.items() if k.startswith("value")]
        pairs.append((name, values[0] if values and isinstance(values[0], str) else str(values)))
    return pairs


def _unsupported_message(name: str) -> str:
    if name in KNOWN_UNSUPPORTED:
        return (
            f"$export parameter {name} is not supported by this server; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    return f"Unknown $export parameter {name!r}; supported: {', '.join(SUPPORTED)}"


def _types(path_type: str | None, raw: list[str], refuse: Callable[[str], None]) -> tuple[str, ...]:
    """`_type` (repeatable, comma-separated; repeats are one list, as the IG says)."""
    names = [t.strip() for value in raw for t in value.split(",")]
    if raw and not any(names):
        raise Invalid("_type is empty; give resource types such as _type=Organization")
    allowed = (check_type(path_type),) if path_type else RESOURCE_TYPES
    chosen: list[str] = []
    for name in dict.fromkeys(n for n in names if n):
        if name in allowed:
            chosen.append(name)
        elif path_type:
            refuse(f"{path_type}/$export exports {path_type} only; _type cannot name {name}")
        else:
            refuse(f"_type {name!r} is not a type this server exports: {', '.join(allowed)}")
    if names and not chosen:
        raise Invalid("None of the _type values is a type this server exports")
    return tuple(chosen) if names else allowed


def _since(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    if not _INSTANT.match(raw):
        hint = " (a '+' in the URL must be sent as %2B)" if " " in raw else ""
        raise Invalid(
            f"_since={raw!r} is not a FHIR instant such as 2024-05-01T00:00:00Z{hint}",
            code="value",
        )
    low, _ = date_range(raw)
    return parse_instant_text(low)


def _check_output_format(raw: str | None) -> None:
    if raw is not None and raw.strip().lower() not in OUTPUT_FORMATS:
        raise Invalid(
            f"_outputFormat={raw!r} is not supported; use {', '.join(OUTPUT_FORMATS)}",
            code="not-supported",
        )


def _check_response_format(params: list[tuple[str, str]]) -> None:
    raw = _single(params, "_format")
    if raw is not None and raw.split(";")[0].strip().lower() not in _JSON_FORMATS:
        raise Invalid(
            f"_format={raw!r}: the $export kick-off answers in application/fhir+json only; "
            "the files' format is chosen with _outputFormat",
            code="not-supported",
        )


def _single(params: list[tuple[str, str]], name: str) -> str | None:
    values = [v for n, v in params if n == name]
    if len(values) > 1:
        raise Invalid(f"Give {name} at most once", code="value")
    return values[0] if values else None
