"""FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html) over JSON resources.

Operations add, insert, delete, replace and move, with paths in a well-defined subset of
FHIRPath that locates elements unambiguously: `Type.element.element`, list indexes
(`identifier[0]`), `where(field='value')` filters and `first()`/`last()`. A path outside
that subset is refused with a message saying so — never guessed at. Whether an element
repeats comes from the R4B model, so `add` appends to lists and sets single elements.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from fhir_sandbox.errors import Invalid, Unprocessable
from fhir_sandbox.fhir.primitives import field_info

_SEGMENT = re.compile(
    r"^(?:(?P<name>[a-z][A-Za-z0-9]*)(?:\[(?P<index>\d+)\])?"
    r"|where\((?P<key>[a-z][A-Za-z]*)\s*=\s*'(?P<value>[^']*)'\)"
    r"|(?P<fn>first|last)\(\))$"
)
OPERATIONS = ("add", "insert", "delete", "replace", "move")


@dataclass
class Node:
    value: Any
    parent: Any = None  # dict or list holding value; None for the resource itself
    key: str | int | None = None
    model: Any = None  # R4B class of `value` when it is an element


def apply_fhirpath_patch(resource: dict[str, Any], parameters: Any) -> dict[str, Any]:
    patched = copy.deepcopy(resource)
    for number, operation in enumerate(_operations(parameters)):
        try:
            _apply(patched, operation)
        except (Invalid, Unprocessable) as exc:
            raise Unprocessable(
                f"operation {number + 1} ({operation.get('type')}): {exc.diagnostics}"
            ) from None
    return _pruned(patched)


def _operations(parameters: Any) -> list[dict[str, Any]]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise Invalid("A FHIRPath Patch body is a Parameters resource", code="structure")
    operations = []
    for parameter in parameters.get("parameter", []):
        if parameter.get("name") != "operation":
            raise Invalid(f"Unexpected parameter {parameter.get('name')!r}; only 'operation'")
        parts = {p.get("name"): p for p in parameter.get("part", [])}
        operation = {name: _part_value(part) for name, part in parts.items()}
        if operation.get("type") not in OPERATIONS:
            raise Invalid(f"Operation type must be one of {', '.join(OPERATIONS)}")
        if not isinstance(operation.get("path"), str):
            raise Invalid("Every operation needs a path", code="required")
        operations.append(operation)
    return operations


def _part_value(part: dict[str, Any]) -> Any:
    for key, value in part.items():
        if key.startswith("value") and key[5:6].isupper():
            return value
    if "part" in part:  # a complex value given as parts: one part per child element
        built: dict[str, Any] = {}
        for child in part["part"]:
            value = _part_value(child)
            name = child["name"]
            if name in built:
                built[name] = (
                    [*built[name], value] if isinstance(built[name], list) else [built[name], value]
                )
            else:
                built[name] = value
        return built
    return part.get("resource")


def _apply(resource: dict[str, Any], op: dict[str, Any]) -> None:
    kind, path = op["type"], op["path"]
    if kind == "delete":
        nodes = select(resource, path)
        if len(nodes) > 1:
            raise Unprocessable(f"{path} matches {len(nodes)} elements; delete needs one")
        for node in nodes:
            _remove(node)
        return
    if kind == "replace":
        node = _one(resource, path)
        _set(node, _required(op, "value"))
        return
    if kind == "add":
        node = _one(resource, path)
        name = _required(op, "name")
        _add(node, str(name), _required(op, "value"))
        return
    container, name = _list_of(resource, path)
    items = container.setdefault(name, [])
    if kind == "insert":
        index = _index(op, "index", len(items))
        items.insert(index, _required(op, "value"))
    else:  # move
        source = _index(op, "source", len(items) - 1)
        destination = _index(op, "destination", len(items) - 1)
        items.insert(destination, items.pop(source))


def select(resource: dict[str, Any], path: str) -> list[Node]:
    segments = _segments(path)
    if segments[0] != resource.get("resourceType"):
        raise Unprocessable(
            f"{path}: a path starts with the resource type {resource.get('resourceType')}"
        )
    nodes = [Node(resource, model=get_fhir_model_class(resource["resourceType"]))]
    for segment in segments[1:]:
        nodes = _step(nodes, segment, path)
    return nodes


def _segments(path: str) -> list[str]:
    segments, depth, current = [], 0, ""
    for char in path.strip():
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "." and depth == 0:
            segments.append(current)
            current = ""
        else:
            current += char
    return [*segments, current]


def _step(nodes: list[Node], segment: str, path: str) -> list[Node]:
    match = _SEGMENT.match(segment)
    if not match:
        raise Unprocessable(
            f"{path}: '{segment}' is outside the supported FHIRPath subset (element names, "
            "[n], where(field='value'), first(), last())"
        )
    if match.group("fn"):
        return nodes[:1] if match.group("fn") == "first" else nodes[-1:]
    if match.group("key"):
        key, wanted = match.group("key"), match.group("value")
        return [n for n in nodes if isinstance(n.value, dict) and n.value.get(key) == wanted]
    name, index = match.group("name"), match.group("index")
    found: list[Node] = []
    for node in nodes:
        if not isinstance(node.value, dict):
            continue
        child, model = node.value.get(name), field_info(node.model, name)[1]
        if isinstance(child, list):
            found += [Node(item, child, i, model) for i, item in enumerate(child)]
        elif child is not None:
            found.append(Node(child, node.value, name, model))
    return (
        [found[int(index)]]
        if index is not None and int(index) < len(found)
        else (found if index is None else [])
    )


def _one(resource: dict[str, Any], path: str) -> Node:
    nodes = select(resource, path)
    if len(nodes) != 1:
        raise Unprocessable(
            f"{path} matches {len(nodes)} elements; the operation needs exactly one"
        )
    return nodes[0]


def _list_of(resource: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    parent_path, _, name = path.rpartition(".")
    if not _SEGMENT.match(name) or "[" in name or "(" in name:
        raise Unprocessable(
            f"{path}: insert and move take the path of a list element, e.g. Organization.alias"
        )
    parent = _one(resource, parent_path)
    if not isinstance(parent.value, dict) or not field_info(parent.model, name)[2]:
        raise Unprocessable(f"{path} is not a repeating element")
    return parent.value, name


def _add(node: Node, name: str, value: Any) -> None:
    if not isinstance(node.value, dict):
        raise Unprocessable("add needs a path to an element that can hold children")
    repeats = field_info(node.model, name)[2]
    if repeats:
        node.value.setdefault(name, []).append(value)
    elif name in node.value:
        raise Unprocessable(f"{name} already has a value; use replace")
    else:
        node.value[name] = value


def _set(node: Node, value: Any) -> None:
    if node.parent is None:
        raise Unprocessable("the resource itself cannot be replaced")
    node.parent[node.key] = value


def _remove(node: Node) -> None:
    if node.parent is None:
        raise Unprocessable("the resource itself cannot be deleted")
    if isinstance(node.parent, list):
        node.parent.pop(int(node.key or 0))
    else:
        node.parent.pop(node.key, None)


def _required(op: dict[str, Any], name: str) -> Any:
    if op.get(name) is None:
        raise Invalid(f"{op['type']} needs a {name}", code="required")
    return op[name]


def _index(op: dict[str, Any], name: str, highest: int) -> int:
    value = op.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= highest:
        raise Unprocessable(f"{op['type']} needs {name} between 0 and {highest}, not {value!r}")
    return value


def _pruned(node: Any) -> Any:
    """FHIR JSON has no empty objects or arrays: drop those a delete left behind."""
    if isinstance(node, dict):
        pruned = {k: _pruned(v) for k, v in node.items()}
        return {k: v for k, v in pruned.items() if v not in ({}, [])}
    if isinstance(node, list):
        return [v for v in (_pruned(v) for v in node) if v not in ({}, [])]
    return node
