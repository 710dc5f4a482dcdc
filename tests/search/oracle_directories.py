"""Hypothesis strategies for small directories of our five searchable types, drawn from
the vocabularies (oracle_vocab.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import strategies as st
from oracle_vocab import (
    ADDRESS_TEXTS,
    ALL_KEYS,
    CITIES,
    CONN,
    CONN_CODES,
    CONN_TEXTS,
    EHR,
    EHR_CODES,
    EHR_EXT,
    EHR_TEXTS,
    EP_ADDRESSES,
    EP_NAMES,
    EP_STATUS,
    FAMILIES,
    GENDERS,
    GIVENS,
    ID_SYSTEMS,
    ID_TYPE_CODES,
    ID_TYPE_TEXTS,
    ID_VALUES,
    IDS,
    LINES,
    LOC_NAMES,
    LOC_STATUS,
    LOC_TYPE,
    LOC_TYPE_CODES,
    LOC_TYPE_TEXTS,
    NAME_PREFIXES,
    NAME_SUFFIXES,
    NAME_TEXTS,
    NHS_ROLE,
    OPSTAT_CODES,
    OPSTAT_TEXTS,
    ORG_ALIASES,
    ORG_NAMES,
    ORG_TYPE,
    ORG_TYPE_CODES,
    ORG_TYPE_TEXTS,
    PAYLOAD,
    PAYLOAD_CODES,
    PAYLOAD_TEXTS,
    PERIOD_DATES,
    POSITIONS,
    POSTCODES,
    PROFILES,
    ROLE_CODES,
    ROLE_SYSTEM,
    ROLE_TEXTS,
    SNOMED,
    SOURCES,
    STATES,
    TAG,
    TAG_CODES,
    TAG_TEXTS,
    V2_0116,
    V2_0203,
    S,
)

from fhir_sandbox.searchparams.normalize import date_range


@st.composite
def some_of(draw: st.DrawFn, fields: dict[str, S[Any]]) -> dict[str, Any]:
    """Some of `fields`, at least one (FHIR has no empty elements; no filtering needed)."""
    first = draw(st.sampled_from(list(fields)))
    return {
        key: draw(value) for key, value in fields.items() if key == first or draw(st.booleans())
    }


def some(strategy: S[Any], most: int = 2) -> S[list[Any]]:
    return st.lists(strategy, min_size=1, max_size=most)


def coding(systems: list[str], codes: list[str], displays: list[str]) -> S[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"code": st.sampled_from(codes)},
        optional={"system": st.sampled_from(systems), "display": st.sampled_from(displays)},
    )


def concept(systems: list[str], codes: list[str], texts: list[str]) -> S[dict[str, Any]]:
    return some_of(
        {
            "coding": some(coding(systems, codes, texts)),
            "text": st.sampled_from(texts),
        }
    )


IDENTIFIER_TYPE = some_of(
    {
        "coding": some(coding([V2_0203], ID_TYPE_CODES, ID_TYPE_TEXTS)),
        "text": st.sampled_from(ID_TYPE_TEXTS),
    }
)
IDENTIFIER = st.fixed_dictionaries(
    {"value": st.sampled_from(ID_VALUES)},
    optional={"system": st.sampled_from(ID_SYSTEMS), "type": IDENTIFIER_TYPE},
)


@cache
def reference(target: str) -> S[dict[str, Any]]:
    literal = st.sampled_from([f"{target}/{i}" for i in IDS[target]])
    logical = st.fixed_dictionaries(
        {"value": st.sampled_from(ID_VALUES)}, optional={"system": st.sampled_from(ID_SYSTEMS)}
    )
    literal_reference = st.fixed_dictionaries(
        {"reference": literal},
        optional={"display": st.just("Somewhere"), "identifier": logical},
    )
    logical_reference = st.fixed_dictionaries({"identifier": logical})
    return st.one_of(literal_reference, literal_reference, literal_reference, logical_reference)


ADDRESS = some_of(
    {
        "line": some(st.sampled_from(LINES)),
        "city": st.sampled_from(CITIES),
        "district": st.just("Westminster"),
        "state": st.sampled_from(STATES),
        "postalCode": st.sampled_from(POSTCODES),
        "country": st.sampled_from(["GB", "United Kingdom"]),
        "text": st.sampled_from(ADDRESS_TEXTS),
        "use": st.just("work"),  # a code, not one of the strings `address` searches
    }
)
HUMAN_NAME = some_of(
    {
        "family": st.sampled_from(FAMILIES),
        "given": some(st.sampled_from(GIVENS)),
        "prefix": some(st.sampled_from(NAME_PREFIXES), 1),
        "suffix": some(st.sampled_from(NAME_SUFFIXES), 1),
        "text": st.sampled_from(NAME_TEXTS),
        "use": st.just("official"),  # a code, not one of the strings `name` searches
    }
)
META = st.fixed_dictionaries(
    {},
    optional={
        "profile": st.lists(st.sampled_from(PROFILES), min_size=1, max_size=2, unique=True),
        "tag": some(coding([TAG], TAG_CODES, TAG_TEXTS), 1),
        "source": st.sampled_from(SOURCES),
    },
)


@st.composite
def period(draw: st.DrawFn) -> dict[str, str]:
    bounds = draw(st.lists(st.sampled_from(PERIOD_DATES), min_size=1, max_size=2, unique=True))
    bounds.sort(key=_low)
    if len(bounds) == 2:
        return {"start": bounds[0], "end": bounds[1]}
    return {draw(st.sampled_from(["start", "end"])): bounds[0]}


def _low(text: str) -> str:
    return date_range(text)[0]


@st.composite
def record(
    draw: st.DrawFn, required: dict[str, S[Any]], optional: dict[str, S[Any]]
) -> dict[str, Any]:
    """Like fixed_dictionaries, with each optional element present three times in four."""
    built = {key: draw(value) for key, value in required.items()}
    for key, value in optional.items():
        if draw(st.sampled_from([True, True, True, False])):
            built[key] = draw(value)
    return built


def resource(resource_type: str, rid: str, optional: dict[str, S[Any]]) -> S[dict[str, Any]]:
    required = {"resourceType": st.just(resource_type), "id": st.just(rid)}
    return record(required, {"meta": META, **optional})


@cache
def organization(rid: str) -> S[dict[str, Any]]:
    return resource(
        "Organization",
        rid,
        {
            "name": st.sampled_from(ORG_NAMES),
            "alias": st.lists(st.sampled_from(ORG_ALIASES), min_size=1, max_size=2, unique=True),
            "identifier": some(IDENTIFIER),
            "active": st.booleans(),
            "type": some(concept([ORG_TYPE, NHS_ROLE], ORG_TYPE_CODES, ORG_TYPE_TEXTS)),
            "partOf": reference("Organization"),
            "address": some(ADDRESS),
            "endpoint": some(reference("Endpoint")),
        },
    )


@cache
def location(rid: str) -> S[dict[str, Any]]:
    position = st.sampled_from(POSITIONS).map(lambda p: {"latitude": p[0], "longitude": p[1]})
    return resource(
        "Location",
        rid,
        {
            "name": st.sampled_from(LOC_NAMES),
            "alias": some(st.sampled_from(ORG_ALIASES), 1),
            "status": st.sampled_from(LOC_STATUS),
            "operationalStatus": coding([V2_0116], OPSTAT_CODES, OPSTAT_TEXTS),
            "type": some(concept([LOC_TYPE], LOC_TYPE_CODES, LOC_TYPE_TEXTS)),
            "position": position,
            "managingOrganization": reference("Organization"),
            "partOf": reference("Location"),
            "address": ADDRESS,
        },
    )


@cache
def practitioner_role(rid: str) -> S[dict[str, Any]]:
    return resource(
        "PractitionerRole",
        rid,
        {
            "identifier": some(IDENTIFIER, 1),
            "active": st.booleans(),
            "period": period(),
            "practitioner": reference("Practitioner"),
            "organization": reference("Organization"),
            "code": some(concept([ROLE_SYSTEM, SNOMED], ROLE_CODES, ROLE_TEXTS)),
            "specialty": some(concept([SNOMED], ROLE_CODES, ROLE_TEXTS), 1),
            "location": some(reference("Location")),
        },
    )


@cache
def practitioner(rid: str) -> S[dict[str, Any]]:
    return resource(
        "Practitioner",
        rid,
        {
            "identifier": some(IDENTIFIER),
            "active": st.booleans(),
            "name": some(HUMAN_NAME),
            "gender": st.sampled_from(GENDERS),
            "address": some(ADDRESS, 1),
        },
    )


@cache
def endpoint(rid: str) -> S[dict[str, Any]]:
    product = coding([EHR], EHR_CODES, EHR_TEXTS).map(lambda c: {"url": EHR_EXT, "valueCoding": c})
    required = {
        "resourceType": st.just("Endpoint"),
        "id": st.just(rid),
        "status": st.sampled_from(EP_STATUS),
        "connectionType": coding([CONN], CONN_CODES, CONN_TEXTS),
        "payloadType": some(concept([PAYLOAD], PAYLOAD_CODES, PAYLOAD_TEXTS), 1),
        "address": st.sampled_from(EP_ADDRESSES),
    }
    optional = {
        "meta": META,
        "name": st.sampled_from(EP_NAMES),
        "identifier": some(IDENTIFIER, 1),
        "managingOrganization": reference("Organization"),
        "extension": some(product, 1),
    }
    return record(required, optional)


BUILDERS: dict[str, Callable[[str], S[dict[str, Any]]]] = {
    "Organization": organization,
    "Location": location,
    "PractitionerRole": practitioner_role,
    "Practitioner": practitioner,
    "Endpoint": endpoint,
}


@st.composite
def directories(draw: st.DrawFn) -> list[dict[str, Any]]:
    size = draw(st.integers(3, len(ALL_KEYS)))
    keys = draw(st.permutations(ALL_KEYS))[:size]
    return [draw(BUILDERS[t](i)) for t, i in keys]
