"""A fast "certainly valid" answer for ordinary resources, in front of the R4B models.

Validating a write through fhir.resources' models costs ~150 µs for a plain Practitioner:
every complex element runs the models' Python validators (fhir_core's model validator,
`reject_null_complex_elements`, the required-primitive and choice checks) and builds an
object nobody reads. That was two thirds of a bulk load's CPU and the largest part of a
transaction's (benchmarks/README.md).

`conforms` walks the JSON against a table compiled once per model class from the *same*
models' field definitions, and answers True only when the models would accept the resource
and `primitives.py` would find nothing: every key is an element of the model, every JSON
type is the strict one, every primitive passes its own R4B annotation (the very pydantic
validator the model runs for it), cardinality, required elements and `[x]` choices hold.
It answers False for anything it does not model — a primitive's `_x` extension twin,
`contained` resources, `fhir_comments`, nulls, empty arrays or objects — and for every
error, so the caller then runs the full models, which give the one error message clients
see. Only "True ⇒ the models accept" must hold; tests/fhir/test_structure.py checks it
against the official examples and mutations of them.
"""

from __future__ import annotations

import datetime
import decimal
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

from fhir.resources.R4B import get_fhir_model_class
from pydantic import TypeAdapter, ValidationError

COMPLEX, BOOLEAN, INTEGER, NUMBER, STRING = range(5)
_JSON_TYPES: dict[int, tuple[type, ...]] = {
    BOOLEAN: (bool,),
    INTEGER: (int,),
    NUMBER: (int, float),
    STRING: (str,),
}
_KINDS = {
    bool: BOOLEAN,
    int: INTEGER,
    decimal.Decimal: NUMBER,
    float: NUMBER,
    str: STRING,
    datetime.date: STRING,
    datetime.datetime: STRING,
    datetime.time: STRING,
}


@dataclass(slots=True)
class Element:
    """One JSON element of a model: its kind, whether it repeats, how its value is checked."""

    kind: int
    repeats: bool
    nested: Shape | None = None  # the complex type's own table
    json_types: tuple[type, ...] = ()  # a primitive's JSON types (bool is not an integer)
    check: Callable[[Any], Any] | None = None  # the primitive's R4B validator (raises)


@dataclass(slots=True)
class Shape:
    """A model class as a table: its elements by JSON key, what is required, its choices."""

    elements: dict[str, Element] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    choices: tuple[tuple[tuple[str, ...], bool], ...] = ()  # (keys of one [x], required)


def conforms(data: Any, resource_type: str) -> bool:
    """True when `data` is certainly a valid `resource_type` (see the module docstring);
    False means "not certain": validate with the models."""
    if type(data) is not dict or data.get("resourceType") != resource_type:
        return False
    try:
        return _fits(data, shape_of(resource_type), skip="resourceType")
    except (ValidationError, ValueError, TypeError):
        return False


def _fits(data: dict[str, Any], shape: Shape, skip: str | None = None) -> bool:
    elements = shape.elements
    for key, value in data.items():
        element = elements.get(key)
        if element is None:
            if key == skip:
                continue
            return False
        if element.repeats:
            if type(value) is not list or not value:
                return False
            for item in value:
                if not _value_fits(item, element):
                    return False
        elif not _value_fits(value, element):
            return False
    for key in shape.required:
        if key not in data:
            return False
    for keys, required in shape.choices:
        present = sum(1 for key in keys if key in data)
        if present > 1 or (required and not present):
            return False
    return True


def _value_fits(value: Any, element: Element) -> bool:
    if element.kind == COMPLEX:
        if type(value) is not dict or not value or "resourceType" in value:
            return False
        assert element.nested is not None
        return _fits(value, element.nested)
    if type(value) not in element.json_types:
        return False
    if element.check is not None:
        element.check(value)  # raises ValidationError when the R4B type refuses it
    return True


def shape_of(type_name: str) -> Shape:
    """The table of one R4B model class (resource or complex type), built once.

    Complex types nest themselves (Extension.extension, Identifier.assigner → Reference →
    Identifier), so a build registers each table before filling it; tables are published
    only once complete, so another thread never walks a half-built one."""
    shape = _SHAPES.get(type_name)
    if shape is None:
        with _BUILDING:
            building: dict[str, Shape] = {}
            shape = _SHAPES.get(type_name) or _build(type_name, building)
            _SHAPES.update(building)
    return shape


_SHAPES: dict[str, Shape] = {}
_BUILDING = threading.Lock()


def _build(type_name: str, building: dict[str, Shape]) -> Shape:
    shape = building[type_name] = Shape()
    required: list[str] = []
    choices: dict[str, tuple[list[str], bool]] = {}
    for name, info in get_fhir_model_class(type_name).model_fields.items():
        key = info.alias or name
        extra: Any = info.json_schema_extra or {}
        element = _element(info.annotation, info.metadata, building)
        if element is None or name == "fhir_comments" or name.endswith("__ext"):
            continue  # not modelled here: such a key makes `conforms` answer False
        shape.elements[key] = element
        if info.is_required() or extra.get("element_required"):
            required.append(key)
        if extra.get("one_of_many"):
            keys, _ = choices.get(extra["one_of_many"], ([], False))
            choices[extra["one_of_many"]] = ([*keys, key], bool(extra.get("one_of_many_required")))
    shape.required = tuple(required)
    shape.choices = tuple((tuple(keys), needed) for keys, needed in choices.values())
    return shape


def _element(annotation: Any, metadata: list[Any], building: dict[str, Shape]) -> Element | None:
    item, repeats = _item(annotation)
    if item is None or (metadata and repeats):
        return None
    base = typing.get_args(item)[0] if typing.get_origin(item) is typing.Annotated else item
    name = getattr(base, "__name__", "")
    if name.endswith("Type") and typing.get_origin(base) is None:
        type_name = name[: -len("Type")]
        if type_name in ("Resource", "FHIRPrimitiveExtension"):
            return None
        nested = _SHAPES.get(type_name) or building.get(type_name)
        nested = nested or _build(type_name, building)
        return Element(COMPLEX, repeats, nested=nested)
    kind = _KINDS.get(_first_plain(base))
    if kind is None:
        return None
    check = _checker(item, tuple(metadata))
    return Element(kind, repeats, json_types=_JSON_TYPES[kind], check=check)


def _item(annotation: Any) -> tuple[Any, bool]:
    """Optional[List[X]] → (X, True); Optional[X] → (X, False); X keeps its Annotated."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None, False
        return _item(args[0])
    if origin in (list, typing.List):  # noqa: UP006
        (item,) = typing.get_args(annotation)
        inner, repeats = _item(item)
        return (None, False) if repeats else (inner, True)
    return annotation, False


def _first_plain(base: Any) -> Any:
    """`Union[AnyUrl, str]` (the R4B url type) → str; a plain class stays itself."""
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        plain = [a for a in typing.get_args(base) if a in _KINDS]
        return plain[0] if plain else None
    return base


@cache
def _checker(annotation: Any, metadata: tuple[Any, ...]) -> Callable[[Any], Any]:
    """The model's own validator for one primitive element (shared by equal annotations)."""
    wrapped: Any = typing.Annotated[annotation, *metadata] if metadata else annotation
    # the schema validator itself: TypeAdapter.validate_python's wrapper costs twice the check
    validator: Any = TypeAdapter(wrapped).validator
    return cast(Callable[[Any], Any], validator.validate_python)
