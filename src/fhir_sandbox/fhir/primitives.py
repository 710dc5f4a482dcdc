"""Strict JSON types for FHIR primitives (https://hl7.org/fhir/R4/json.html#primitive).

Pydantic coerces JSON that FHIR forbids (`"active": "yes"` becomes True, `"rank": "1"`
becomes 1). This walks the submitted JSON beside the R4B model's field types — computed
once per model class — and reports every primitive whose JSON type is wrong, and every
`null` outside a primitive array. It does not build or dump models, so it is cheap.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import AnyUrl

from fhir_sandbox.errors import Issue

Kinds = dict[str, tuple[str, Any]]  # json key -> (kind, nested model class or None)


def primitive_issues(data: dict[str, Any], resource_type: str) -> list[Issue]:
    return list(_check(data, get_fhir_model_class(resource_type), resource_type))


def _check(data: dict[str, Any], cls: Any, path: str) -> Iterator[Issue]:
    kinds = _kinds(cls)
    for key, value in data.items():
        kind, nested = kinds.get(key, ("any", None))
        where = f"{path}.{key}"
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is None and (kind != "object" or key.startswith("_")):
                    continue  # nulls keep primitive arrays aligned with their `_x` twins
                yield from _value(item, kind, nested, f"{where}[{index}]")
        else:
            yield from _value(value, kind, nested, where)


def _value(value: Any, kind: str, nested: Any, where: str) -> Iterator[Issue]:
    if value is None:
        yield Issue("value", f"{where}: null is not allowed in FHIR JSON", expression=(where,))
    elif kind == "object":
        if isinstance(value, dict) and nested is not None:
            yield from _check(value, nested, where)
    elif kind != "any" and not _fits(value, kind):
        got = type(value).__name__ if not isinstance(value, str) else f"string {value!r}"
        yield Issue("value", f"{where}: expected a JSON {kind}, got {got}", expression=(where,))


def _fits(value: Any, kind: str) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def field_info(cls: Any, key: str) -> tuple[str, Any, bool]:
    """(kind, nested model class, repeats) of one JSON element of a model class."""
    kind, nested = _kinds(cls).get(key, ("any", None)) if cls is not None else ("any", None)
    return kind, nested, key in _repeating(cls) if cls is not None else False


@cache
def _repeating(cls: Any) -> frozenset[str]:
    fields = getattr(cls, "model_fields", {})
    return frozenset(
        (info.alias or name) for name, info in fields.items() if _is_list(info.annotation)
    )


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, typing.List):  # noqa: UP006
        return True
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return False


@cache
def _kinds(cls: Any) -> Kinds:
    fields = getattr(cls, "model_fields", {})
    return {(info.alias or name): _classify(info.annotation) for name, info in fields.items()}


def _classify(annotation: Any) -> tuple[str, Any]:
    base = _unwrap(annotation)
    if base in (AnyUrl, date, datetime, time):  # url, date, dateTime, instant, time
        return "string", None
    if base is bool:
        return "boolean", None
    if base is int:
        return "integer", None
    if base in (Decimal, float):
        return "number", None
    if base is str:
        return "string", None
    name = getattr(base, "__name__", "")
    if name.endswith("Type") and name not in ("ResourceType", "FHIRPrimitiveExtensionType"):
        try:
            return "object", get_fhir_model_class(name[: -len("Type")])
        except (KeyError, ValueError, AttributeError):
            return "any", None
    if name == "FHIRPrimitiveExtensionType":
        return "object", get_fhir_model_class("Element")
    return "any", None


def _unwrap(annotation: Any) -> Any:
    """Optional[List[Annotated[str, ...]]] -> str; abc.XType markers are kept."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, typing.List):  # noqa: UP006
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if args else None
    return annotation
