"""Hypothesis strategies for search queries over every parameter type, modifier and
prefix, drawn from the same vocabularies as the directories."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import timedelta
from functools import cache

from hypothesis import strategies as st
from oracle_vocab import (
    ADDRESS_TEXTS,
    CITIES,
    CONN,
    CONN_CODES,
    CONN_TEXTS,
    DATE_PREFIXES,
    DATE_QUERIES,
    EHR,
    EHR_CODES,
    EHR_TEXTS,
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
    NEAR_CENTRES,
    NEAR_DISTANCES,
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
    POSTCODES,
    PROFILE_QUERIES,
    ROLE_CODES,
    ROLE_SYSTEM,
    ROLE_TEXTS,
    SNOMED,
    SOURCE_QUERIES,
    STATES,
    T0,
    TAG,
    TAG_CODES,
    TAG_TEXTS,
    TYPES,
    V2_0116,
    V2_0203,
    S,
)

Param = tuple[str, str]
Query = tuple[str, list[Param]]


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@st.composite
def string_word(draw: st.DrawFn, words: list[str]) -> str:
    """A full word, a prefix, an infix, or a case/accent variant of one."""
    word = draw(st.sampled_from([*words, "zz"]))
    start = draw(st.integers(0, max(0, len(word) - 1)))
    end = draw(st.integers(start + 1, len(word)))
    shape = draw(st.sampled_from(["full", "prefix", "infix", "upper", "lower", "plain"]))
    if shape == "prefix":
        word = word[:end]
    elif shape == "infix":
        word = word[start:end]
    elif shape == "upper":
        word = word.upper()
    elif shape == "lower":
        word = word.lower()
    elif shape == "plain":
        word = strip_accents(word)
    return word.strip() or "zz"  # never blank: a blank value is a degenerate query


def or_list(values: S[str], most: int = 3) -> S[str]:
    return st.lists(values, min_size=1, max_size=most).map(",".join)


def missing(code: str) -> S[Param]:
    return st.sampled_from([(f"{code}:missing", "true"), (f"{code}:missing", "false")])


def string_clause(code: str, words: list[str]) -> S[Param]:
    modifier = st.sampled_from(["", ":exact", ":contains"])
    value = or_list(string_word(words).map(escape))
    valued = st.tuples(modifier.map(lambda m: code + m), value)
    return st.one_of(valued, valued, valued, missing(code))


def phonetic_clause(words: list[str]) -> S[Param]:
    """`phonetic`: by sound (prefixes and infixes sound different), or `:exact`; every
    value has a letter (one without is refused as having no sound)."""
    word = string_word(words).map(lambda w: w if any(c.isalpha() for c in w) else "zz")
    valued = st.tuples(st.sampled_from(["phonetic", "phonetic:exact"]), or_list(word.map(escape)))
    return st.one_of(valued, valued, missing("phonetic"))


@st.composite
def token_value(draw: st.DrawFn, systems: list[str], codes: list[str]) -> str:
    code = draw(st.sampled_from([*codes, "nope"]))
    system = draw(st.sampled_from([*systems, "http://elsewhere.example.org"]))
    return draw(st.sampled_from([code, f"{system}|{code}", f"|{code}", f"{system}|"]))


def token_clause(
    code: str,
    systems: list[str],
    codes: list[str],
    texts: list[str] | None = None,
    of_type: bool = False,
) -> S[Param]:
    plain = or_list(token_value(systems, codes))
    valued = st.tuples(st.sampled_from([code, code, f"{code}:not"]), plain)
    options = [valued, valued, missing(code)]
    if texts:
        options.append(st.tuples(st.just(f"{code}:text"), or_list(string_word(texts).map(escape))))
    if of_type:
        typed = st.builds(
            lambda c, v: f"{V2_0203}|{c}|{v}",
            st.sampled_from([*ID_TYPE_CODES, "ZZ"]),
            st.sampled_from(ID_VALUES),
        )
        options.append(st.tuples(st.just(f"{code}:of-type"), or_list(typed, 2)))
    return st.one_of(options)


def identifier_clause(code: str = "identifier") -> S[Param]:
    return token_clause(code, ID_SYSTEMS, ID_VALUES, ID_TYPE_TEXTS, of_type=True)


def boolean_clause(code: str) -> S[Param]:
    return token_clause(code, [], ["true", "false"])


STRING_PARAMS: dict[str, list[S[Param]]] = {
    "Organization": [
        string_clause("name", ORG_NAMES + ORG_ALIASES),
        string_clause("address", [*LINES, *CITIES, *POSTCODES, *STATES, *ADDRESS_TEXTS, "work"]),
        string_clause("address-city", CITIES),
        string_clause("address-postalcode", POSTCODES),
        string_clause("address-state", STATES),
        phonetic_clause(ORG_NAMES + ORG_ALIASES),
    ],
    "Location": [
        string_clause("name", LOC_NAMES + ORG_ALIASES),
        string_clause("address", [*LINES, *CITIES, *POSTCODES, *ADDRESS_TEXTS, "work"]),
        string_clause("address-city", CITIES),
    ],
    "Practitioner": [
        string_clause(
            "name", [*FAMILIES, *GIVENS, *NAME_PREFIXES, *NAME_SUFFIXES, *NAME_TEXTS, "official"]
        ),
        string_clause("family", FAMILIES),
        string_clause("given", GIVENS),
        string_clause("address-city", CITIES),
        phonetic_clause([*FAMILIES, *GIVENS, *NAME_PREFIXES, *NAME_SUFFIXES, *NAME_TEXTS]),
    ],
    "Endpoint": [string_clause("name", EP_NAMES)],
    "PractitionerRole": [],
}

TAG_CLAUSE = token_clause("_tag", [TAG], TAG_CODES, TAG_TEXTS)
TOKEN_PARAMS: dict[str, list[S[Param]]] = {
    "Organization": [
        identifier_clause(),
        token_clause("type", [ORG_TYPE, NHS_ROLE], ORG_TYPE_CODES, ORG_TYPE_TEXTS),
        boolean_clause("active"),
        TAG_CLAUSE,
    ],
    "Location": [
        token_clause("status", [], LOC_STATUS),
        token_clause("type", [LOC_TYPE], LOC_TYPE_CODES, LOC_TYPE_TEXTS),
        token_clause("operational-status", [V2_0116], OPSTAT_CODES, OPSTAT_TEXTS),
    ],
    "PractitionerRole": [
        identifier_clause(),
        boolean_clause("active"),
        token_clause("role", [ROLE_SYSTEM, SNOMED], ROLE_CODES, ROLE_TEXTS),
        token_clause("specialty", [SNOMED], ROLE_CODES, ROLE_TEXTS),
    ],
    "Practitioner": [
        identifier_clause(),
        boolean_clause("active"),
        token_clause("gender", [], GENDERS),
    ],
    "Endpoint": [
        identifier_clause(),
        token_clause("status", [], EP_STATUS),
        token_clause("connection-type", [CONN], CONN_CODES, CONN_TEXTS),
        token_clause("ehr-product", [EHR], EHR_CODES, EHR_TEXTS),
        token_clause("payload-type", [PAYLOAD], PAYLOAD_CODES, PAYLOAD_TEXTS),
        TAG_CLAUSE,
    ],
}

# reference parameters: (code, target type)
REFERENCES: dict[str, list[tuple[str, str]]] = {
    "Organization": [("partof", "Organization"), ("endpoint", "Endpoint")],
    "Location": [("organization", "Organization"), ("partof", "Location")],
    "PractitionerRole": [
        ("organization", "Organization"),
        ("practitioner", "Practitioner"),
        ("location", "Location"),
    ],
    "Practitioner": [],
    "Endpoint": [("organization", "Organization")],
}
# `_has` sources: (source type, its reference parameter) pointing at the key type
HAS: dict[str, list[tuple[str, str]]] = {
    "Organization": [
        ("PractitionerRole", "organization"),
        ("Endpoint", "organization"),
        ("Location", "organization"),
        ("Organization", "partof"),
    ],
    "Location": [("PractitionerRole", "location"), ("Location", "partof")],
    "Practitioner": [("PractitionerRole", "practitioner")],
    "Endpoint": [("Organization", "endpoint")],
    "PractitionerRole": [],
}


def id_clause(resource_type: str) -> S[Param]:
    ids = or_list(st.sampled_from([*IDS[resource_type], "zzz"]))
    return st.tuples(st.sampled_from(["_id", "_id:not"]), ids)


@st.composite
def last_updated(draw: st.DrawFn) -> str:
    moment = T0 + timedelta(minutes=draw(st.integers(-1, 16)))
    shape = draw(st.sampled_from(["day", "minute", "second", "milli", "offset", "month"]))
    text = {
        "month": moment.strftime("%Y-%m"),
        "day": moment.strftime("%Y-%m-%d"),
        "minute": moment.strftime("%Y-%m-%dT%H:%MZ"),
        "second": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "milli": moment.strftime("%Y-%m-%dT%H:%M:%S.678Z"),
        "offset": (moment + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00"),
    }[shape]
    return draw(st.sampled_from(DATE_PREFIXES)) + text


def date_value() -> S[str]:
    return st.builds(
        lambda p, d: p + d, st.sampled_from(DATE_PREFIXES), st.sampled_from(DATE_QUERIES)
    )


def date_clauses(resource_type: str) -> list[S[Param]]:
    clauses = [st.tuples(st.just("_lastUpdated"), or_list(last_updated(), 2))]
    if resource_type == "PractitionerRole":
        dated = st.tuples(st.just("date"), or_list(date_value(), 2))
        clauses += [dated, dated, dated, missing("date")]
    return clauses


def uri_clauses(resource_type: str) -> list[S[Param]]:
    modifiers = st.sampled_from(["", ":below", ":above"])
    return [
        st.tuples(modifiers.map("_profile".__add__), or_list(st.sampled_from(PROFILE_QUERIES))),
        st.tuples(modifiers.map("_source".__add__), or_list(st.sampled_from(SOURCE_QUERIES), 2)),
        missing("_profile"),
    ]


@st.composite
def near_value(draw: st.DrawFn) -> str:
    lat, lon = draw(st.sampled_from(NEAR_CENTRES))
    distance, units = draw(st.sampled_from(NEAR_DISTANCES))
    text = f"{lat}|{lon}"
    if distance:
        text += f"|{distance}"
    if units:
        text += f"|{units}"
    return text


def special_clauses(resource_type: str) -> list[S[Param]]:
    if resource_type != "Location":
        return []
    # no near:missing: the server defines no modifier for special parameters (400)
    near = st.tuples(st.just("near"), near_value())
    return [near, near]  # as likely as the three uri clauses together


def simple_clauses(resource_type: str) -> list[S[Param]]:
    """Clauses without chains or `_has` (the inner part of a chain or `_has`)."""
    return [
        *STRING_PARAMS[resource_type],
        *TOKEN_PARAMS[resource_type],
        *date_clauses(resource_type),
        id_clause(resource_type),
        *plain_reference_clauses(resource_type),
    ]


def plain_reference_clauses(resource_type: str) -> list[S[Param]]:
    clauses = []
    for code, target in REFERENCES[resource_type]:
        ids = [*IDS[target], "zzz"]
        value = st.one_of(
            st.sampled_from(ids),
            st.sampled_from([f"{target}/{i}" for i in ids]),
        )
        logical = token_value(ID_SYSTEMS, ID_VALUES)
        clauses += [
            st.tuples(st.just(code), or_list(value)),
            st.tuples(st.just(f"{code}:{target}"), or_list(st.sampled_from(ids))),
            st.tuples(st.just(f"{code}:identifier"), or_list(logical, 2)),
            missing(code),
        ]
    return clauses


def chained(code: str, target: str, typed: bool) -> S[Param]:
    head = f"{code}:{target}" if typed else code
    inner = st.one_of(
        *STRING_PARAMS[target], *TOKEN_PARAMS[target], id_clause(target), *date_clauses(target)
    )
    return inner.map(lambda p: (f"{head}.{p[0]}", p[1]))


def has(source: str, code: str) -> S[Param]:
    return st.one_of(simple_clauses(source)).map(lambda p: (f"_has:{source}:{code}:{p[0]}", p[1]))


def reference_clauses(resource_type: str) -> list[S[Param]]:
    clauses = plain_reference_clauses(resource_type)
    for code, target in REFERENCES[resource_type]:
        clauses += [chained(code, target, False), chained(code, target, True)]
    clauses += [has(source, code) for source, code in HAS[resource_type]]
    return clauses


FAMILY_CLAUSES: dict[str, Callable[[str], list[S[Param]]]] = {
    "string": lambda t: STRING_PARAMS[t],
    "token": lambda t: [*TOKEN_PARAMS[t], id_clause(t)],
    "reference": reference_clauses,
    "date": date_clauses,
    "uri-special": lambda t: [*uri_clauses(t), *special_clauses(t)],
    "mixed": lambda t: [
        *simple_clauses(t),
        *reference_clauses(t),
        *uri_clauses(t),
        *special_clauses(t),
    ],
}


@cache
def clause_strategy(family: str, resource_type: str) -> S[Param] | None:
    """One clause of `family` for `resource_type`, built once (building is the slow part)."""
    options = FAMILY_CLAUSES[family](resource_type)
    return st.one_of(options) if options else None


@st.composite
def queries(draw: st.DrawFn, family: str, present: tuple[str, ...]) -> Query:
    """A query of `family`, mostly about a type the directory holds."""
    types = [t for t in TYPES if clause_strategy(family, t) is not None]
    likely = [t for t in types if t in present] or types
    favourite = {"uri-special": "Location", "date": "PractitionerRole"}.get(family)
    if favourite in likely:  # near is on Location only, date on PractitionerRole only
        likely += [favourite] * 3
    resource_type = draw(st.sampled_from(likely if draw(st.integers(0, 5)) else types))
    clause = clause_strategy(family, resource_type)
    assert clause is not None
    most = 3 if family == "mixed" else 2
    return resource_type, draw(st.lists(clause, min_size=1, max_size=most))
