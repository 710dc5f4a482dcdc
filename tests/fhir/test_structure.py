"""structure.conforms may only say True when the R4B models (and the strict JSON primitive
check) accept the resource; the corpus the sandbox ships must take its fast path."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fhir_r4 import EXAMPLES, UKCORE_EXAMPLES
from fhir_sandbox.errors import Unprocessable
from fhir_sandbox.fhir.models import RESOURCE_TYPES, model_class
from fhir_sandbox.fhir.primitives import primitive_issues
from fhir_sandbox.fhir.structure import conforms
from fhir_sandbox.fhir.validation import validate_resource
from fhir_sandbox.generator import iter_directory
from fhir_sandbox.seeding import default_seed_dir, read_seed


def models_accept(data: Any, resource_type: str) -> bool:
    if not isinstance(data, dict) or data.get("resourceType") != resource_type:
        return False
    try:
        model_class(resource_type).model_validate(copy.deepcopy(data))
    except (ValidationError, ValueError, TypeError, AttributeError):
        return False
    return not primitive_issues(data, resource_type)


def official_examples() -> list[dict[str, Any]]:
    found = []
    for path in sorted([*EXAMPLES.glob("*.json"), *UKCORE_EXAMPLES.glob("*.json")]):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("resourceType") in RESOURCE_TYPES:
            found.append(data)
    return found


def shipped() -> list[dict[str, Any]]:
    """The seed and a small generated directory: what a sandbox holds out of the box."""
    seeded = list(read_seed(default_seed_dir(), "http://127.0.0.1:8000"))
    return seeded + list(iter_directory(40, seed=7))


EXAMPLE_CORPUS = official_examples()
SHIPPED = shipped()
CORPUS = EXAMPLE_CORPUS + SHIPPED[::7]


def test_official_examples_conform_only_when_the_models_accept_them() -> None:
    assert len(EXAMPLE_CORPUS) > 30
    verdicts = [
        (conforms(r, r["resourceType"]), models_accept(r, r["resourceType"]))
        for r in EXAMPLE_CORPUS
    ]
    assert all(slow for fast, slow in verdicts if fast)
    # the fast path covers most of them (the rest use contained resources or base64 data)
    assert sum(fast for fast, _ in verdicts) >= len(verdicts) - 3


def test_everything_the_sandbox_ships_takes_the_fast_path() -> None:
    assert len(SHIPPED) > 300
    refused = [
        f"{r['resourceType']}/{r.get('id')}" for r in SHIPPED if not conforms(r, r["resourceType"])
    ]
    assert refused == []


def test_wrong_or_missing_resource_type_is_not_vouched_for() -> None:
    practitioner = next(r for r in SHIPPED if r["resourceType"] == "Practitioner")
    assert not conforms(practitioner, "Organization")
    assert not conforms(
        {k: v for k, v in practitioner.items() if k != "resourceType"}, "Practitioner"
    )
    assert not conforms([practitioner], "Practitioner")


def _endpoint() -> dict[str, Any]:
    return copy.deepcopy(next(r for r in SHIPPED if r["resourceType"] == "Endpoint"))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda r: r.pop("address"), "required primitive missing"),
        (lambda r: r.pop("connectionType"), "required complex element missing"),
        (lambda r: r.update(status="  active"), "code with leading whitespace"),
        (lambda r: r.update(status=["active"]), "a list for a single element"),
        (lambda r: r.update(payloadType=r["payloadType"][0]), "a single value for a list"),
        (lambda r: r.update(payloadType=[]), "an empty array"),
        (lambda r: r.update(period={"start": "2021-02-30"}), "an impossible date"),
        (lambda r: r.update(period={"start": 20210201}), "a number for a dateTime"),
        (lambda r: r.update(name=None), "null"),
        (lambda r: r.update(colour="blue"), "an unknown element"),
        (lambda r: r.update(_status={"extension": []}), "a primitive extension twin"),
        (
            lambda r: r.update(managingOrganization={"resourceType": "Reference"}),
            "resourceType inside",
        ),
        (
            lambda r: r.update(
                extension=[{"url": "http://x", "valueString": "a", "valueCode": "b"}]
            ),
            "two choices of one value[x]",
        ),
        (lambda r: r.update(extension=[{"valueString": "a"}]), "Extension without url"),
    ],
)
def test_known_problems_are_left_to_the_models(change: Any, why: str) -> None:
    endpoint = _endpoint()
    assert conforms(endpoint, "Endpoint")
    change(endpoint)
    assert not conforms(endpoint, "Endpoint"), why


# -- mutations: whatever is changed, "conforms" never vouches for what the models refuse --

# fmt: off
SCALARS = [None, "", " ", "x", "a  b", " lead", "2021-02-30", "2021-13", "2021-02-03T10:00:00",
           "urn:oid:1.2", "urn:uuid:bad", "http://x y", 0, -1, 1, 2**40, 1.5, True, False]
SHAPES = [[], {}, ["x"], [None], [{}], {"x": 1}, {"resourceType": "Patient"},
          {"system": "http://x", "value": "y"}, {"reference": "Organization/1"},
          {"url": "http://x", "valueString": "v"}, [{"coding": [{"code": "c"}]}]]
# fmt: on


def _places(node: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key-or-index) in a JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((node, key))
            _places(value, found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((node, index))
            _places(value, found)
    return found


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    resource = copy.deepcopy(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 3))):
        places = _places(resource, [])
        container, key = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "delete", "add", "wrap", "unwrap"]))
        value = draw(st.sampled_from(SCALARS + SHAPES))
        if action == "delete" and container is not resource:
            del container[key]
        elif action == "add" and isinstance(container, dict):
            name = draw(st.sampled_from([*container, "valueString", "valueCode", "extension",
                                         "id", "unknownElement", "_value", "text"]))  # fmt: skip
            container[name] = copy.deepcopy(value)
        elif action == "wrap":
            container[key] = [container[key]]
        elif action == "unwrap" and isinstance(container[key], list) and container[key]:
            container[key] = container[key][0]
        elif key != "resourceType":
            container[key] = copy.deepcopy(value)
    return resource


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_resource_is_vouched_for_only_when_the_models_accept_it(
    resource: dict[str, Any],
) -> None:
    resource_type = resource["resourceType"]
    if conforms(resource, resource_type):
        assert models_accept(resource, resource_type), json.dumps(resource)[:2000]


def test_validate_resource_runs_the_models_only_when_not_vouched_for() -> None:
    """What made writes slow was building model objects; a conforming resource builds none,
    and a broken one still gets the models' own error."""
    calls = 0
    original = model_class("Practitioner").model_validate

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    practitioner = next(r for r in SHIPPED if r["resourceType"] == "Practitioner")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model_class("Practitioner"), "model_validate", counting)
        validate_resource(copy.deepcopy(practitioner), "Practitioner")
        assert calls == 0
        broken = dict(copy.deepcopy(practitioner), active="yes")
        with pytest.raises(Unprocessable, match="active"):
            validate_resource(broken, "Practitioner")
        assert calls == 1


def test_a_wrong_json_type_the_models_crash_on_is_a_clear_error() -> None:
    """fhir_core raises AttributeError for a number in a url element (found by the
    mutation test above); the client gets a 422 naming the element, not a 500."""
    endpoint = dict(_endpoint(), address=0)
    with pytest.raises(Unprocessable, match=r"Endpoint\.address: expected a JSON string, got int"):
        validate_resource(endpoint, "Endpoint")
