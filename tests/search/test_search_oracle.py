"""The SQL engine against the reference evaluator, for generated directories and queries.

Each example is a small directory (3 to 14 Organizations, Locations, PractitionerRoles,
Practitioners and Endpoints) built from fixed small vocabularies, and up to eight queries
drawn from the same vocabularies (preferring queries that find some but not all resources
of their type, see `telling_query`). The directory is
written through `write_version` into a fresh tenant; every query is parsed by the server
(`parse_search`), run by the SQL repository, and must return exactly the ids that
`search_oracle.Oracle` computes from the stored JSON.

The queries cover every parameter type (string, token, reference, date, uri, special),
every modifier the server supports (:exact :contains :missing :not :text :of-type
:identifier :Type :below :above), every date prefix (eq ne gt lt ge le sa eb ap), comma
ORs (with `\\,` escapes), repeated ANDs, chains (`organization.name`, `:Type.` chains) and
`_has`, plus `_id`, `_id:not` and `_lastUpdated`.

The strategies live beside it: oracle_vocab.py (the vocabularies), oracle_directories.py
(resources) and oracle_queries.py (clauses and queries).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from oracle_directories import directories
from oracle_queries import FAMILY_CLAUSES, Param, Query, queries
from oracle_vocab import T0
from search_oracle import Oracle

from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.versions import write_version
from fhir_sandbox.search.parse import parse_search
from fhir_sandbox.searchparams.registry import default_registry
from fhir_sandbox.storage.sql.repository import SqlRepository

REGISTRY = default_registry()


# -- the property --------------------------------------------------------------------------


def clock() -> Callable[[], datetime]:
    ticks: Iterator[int] = iter(range(10_000))
    return lambda: T0 + timedelta(minutes=next(ticks))


def load(repo: SqlRepository, tenant: str, resources: list[dict[str, Any]]) -> list[Any]:
    """Write the directory through write_version; the stored JSON, as the server keeps it."""
    ctx = Context(repository=repo, registry=REGISTRY, clock=clock())
    with repo.session(tenant, write=True) as session:
        return [orjson.loads(write_version(ctx, session, r, None, "PUT").body) for r in resources]


def engine_ids(repo: SqlRepository, tenant: str, resource_type: str, params: list[Param]) -> set:
    query = parse_search(resource_type, params, REGISTRY).query
    with repo.session(tenant) as session:
        found = session.search(query, 0, 10_000)
        total = session.count(query)
    ids = [v.id for v in found]
    assert len(ids) == len(set(ids)), f"duplicates in {ids}"
    assert total == len(ids), f"count {total} for {len(ids)} matches of {resource_type}?{params}"
    return set(ids)


def disagreement(
    resource_type: str, params: list[Param], got: set[str], expected: set[str], stored: list[Any]
) -> str:
    differ = got ^ expected
    shown = [r for r in stored if r["resourceType"] == resource_type and r["id"] in differ]
    lines = [f"{resource_type}?{params}", f"engine only: {sorted(got - expected)}"]
    lines += [f"oracle only: {sorted(expected - got)}", *map(str, shown)]
    return "\n".join(lines)


def telling_query(
    data: st.DataObject, family: str, present: tuple[str, ...], oracle: Oracle
) -> Query:
    """A query that tells resources apart: the oracle finds some of its type but not all.

    Random queries over random data mostly find nothing; a few redraws fix that cheaply
    (the oracle is fast) while still letting empty and full answers through.
    """
    for _ in range(5):
        resource_type, params = data.draw(queries(family, present), label="query")
        total = len(oracle.search(resource_type, []))
        if 0 < len(oracle.search(resource_type, params)) < total:
            break
    return resource_type, params


FAMILIES_UNDER_TEST = list(FAMILY_CLAUSES)
EXAMPLES_PER_FAMILY = {"mixed": 55, "reference": 50}  # others: 40 (all in ~35 s)


@pytest.mark.parametrize("family", FAMILIES_UNDER_TEST)
def test_sql_engine_agrees_with_the_oracle(sql_repo: SqlRepository, family: str) -> None:
    @settings(
        max_examples=EXAMPLES_PER_FAMILY.get(family, 40),
        deadline=None,
        database=None,
        # No shrinking: each step rewrites a directory, and a failure already names the
        # query and shows the resources on which the engine and the oracle disagree.
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        directory = data.draw(directories(), label="directory")
        present = tuple(sorted({r["resourceType"] for r in directory}))
        tenant = f"prop-{uuid.uuid4().hex}"
        try:
            stored = load(sql_repo, tenant, directory)
            oracle = Oracle(stored, REGISTRY)
            for _ in range(data.draw(st.integers(1, 8), label="number of queries")):
                resource_type, params = telling_query(data, family, present, oracle)
                expected = oracle.search(resource_type, params)
                got = engine_ids(sql_repo, tenant, resource_type, params)
                assert got == expected, disagreement(resource_type, params, got, expected, stored)
        finally:
            if sql_repo.dialect != "sqlite":
                sql_repo.wipe(tenant)

    check()
