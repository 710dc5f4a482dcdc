"""Compiling search expressions once.

Most R4 search expressions are plain paths (`Organization.address.city`, unions of them).
Those are evaluated by a direct walk over the JSON, which is ~20x faster than a FHIRPath
interpreter and gives the same answer; anything else (`.where(...)`, choice types) goes to
fhirpathpy with the R4 model, compiled once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

_PLAIN_PATH = re.compile(r"^[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*)+$")

Evaluator = Callable[[dict[str, Any]], list[Any]]


def compile_expression(expression: str) -> Evaluator:
    branches = [b.strip() for b in expression.split("|")]
    if all(_PLAIN_PATH.match(branch) for branch in branches):
        paths = [branch.split(".")[1:] for branch in branches]
        return lambda resource: [v for path in paths for v in _walk(resource, path)]
    compiled = fhirpathpy.compile(expression, model=models["r4"])
    return lambda resource: list(compiled(resource, {}))


def _walk(node: Any, path: list[str]) -> list[Any]:
    current = [node]
    for step in path:
        following: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            value = item.get(step)
            if value is None:
                continue
            if isinstance(value, list):
                following.extend(v for v in value if v is not None)
            else:
                following.append(value)
        current = following
    return current
