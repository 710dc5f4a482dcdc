"""Search shapes (storage/sql/shapes.py): one compiled statement serves every query of a
shape, with that query's own values bound.

The search oracle (tests/search/test_search_oracle.py) runs hundreds of queries through one
repository, so shapes are reused there with other values and tenants; these tests pin the
rules down directly.
"""

from __future__ import annotations

from typing import Any

from fhir_sandbox.search.parse import parse_search
from fhir_sandbox.search.query import Query
from fhir_sandbox.searchparams.registry import default_registry
from fhir_sandbox.storage.sql.shapes import Leaves, Prepared, ShapeCache, shape_of

REGISTRY = default_registry()
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def _query(resource_type: str, *params: tuple[str, str]) -> Query:
    return parse_search(resource_type, list(params), REGISTRY).query


def _shape(query: Query) -> tuple[Query, list[str]]:
    leaves = Leaves()
    return shape_of(query, leaves), leaves.values


def test_queries_differing_only_in_values_share_a_shape() -> None:
    one, one_values = _shape(_query("Organization", ("identifier", f"{ODS}|RTH")))
    two, two_values = _shape(_query("Organization", ("identifier", f"{ODS}|RYJ")))
    assert one == two and hash(one) == hash(two)
    assert one_values == [ODS, "RTH"] and two_values == [ODS, "RYJ"]
    chained = ("organization.identifier", f"{ODS}|RTH")
    assert _shape(_query("PractitionerRole", chained))[1] == [ODS, "RTH"]


def test_structure_stays_in_the_shape() -> None:
    any_system = _shape(_query("Organization", ("identifier", "RTH")))[0]
    no_system = _shape(_query("Organization", ("identifier", "|RTH")))[0]
    with_system = _shape(_query("Organization", ("identifier", f"{ODS}|RTH")))[0]
    assert len({any_system, no_system, with_system}) == 3
    one_value = _shape(_query("Organization", ("name", "a")))[0]
    two_values = _shape(_query("Organization", ("name", "a,b")))[0]
    assert one_value != two_values
    prefixes = {_shape(_query("Location", ("_lastUpdated", f"{p}2024")))[0] for p in ("ge", "lt")}
    assert len(prefixes) == 2


def test_values_the_compiler_transforms_are_not_replaced() -> None:
    # :contains is escaped by the compiler, :below is cut at its last slash
    contains, values = _shape(_query("Organization", ("name:contains", "50%_off")))
    assert values == [] and "50%_off" in repr(contains)
    below, values = _shape(_query("Organization", ("_profile:below", "http://a/b/")))
    assert values == [] and "http://a/b/" in repr(below)


def test_placeholders_are_filled_inside_derived_values() -> None:
    prepared = Prepared(
        "SELECT ?, ?, ?", ("low", "high", "flag"),
        {"low": "\x000\x00", "high": "\x000\x00\U0010ffff", "flag": True},
    )  # fmt: skip
    assert prepared.params(["fen"]) == ("fen", "fen\U0010ffff", True)
    named = Prepared("SELECT %(a)s", None, {"a": "x\x001\x00y"})
    assert named.params(["zero", "one"]) == {"a": "xoney"}


def test_the_cache_compiles_once_per_shape_and_forgets_the_oldest() -> None:
    cache = ShapeCache(size=2)
    built: list[str] = []

    def builder(name: str) -> Any:
        def build() -> Prepared:
            built.append(name)
            return Prepared(name, None, {})

        return build

    for name in ("a", "b", "a", "c", "a", "b"):
        cache.get(name, builder(name))
    assert built == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came
