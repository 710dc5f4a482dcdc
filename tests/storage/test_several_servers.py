"""Several server processes on ONE database: two separate `fhir-sandbox serve` processes (one
with `--workers 2`), many parallel clients: conditional creates leave one resource, If-Match
updates have one winner, every created id is distinct. Under SQLite the same runs on a
shared SQLite file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from shared_database import SYSTEM, is_outcome, org

from server_process import ServerProcess


@pytest.fixture(scope="module")
def two_servers(
    shared_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    logs = tmp_path_factory.mktemp("servers")
    with (
        ServerProcess(shared_url, logs / "a.log") as a,
        ServerProcess(shared_url, logs / "b.log", "--workers", "2") as b,
    ):
        yield a, b


def _bases(servers: tuple[ServerProcess, ServerProcess]) -> list[str]:
    tenant = f"ops{uuid.uuid4().hex[:10]}"
    return [f"{s.url}/ehr/{tenant}/r4" for s in servers]


def _parallel(count: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


# -- several server processes on one database -----------------------------------------------


def test_parallel_conditional_creates_across_processes_leave_one(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    bases = _bases(two_servers)
    value = uuid.uuid4().hex

    def create(i: int) -> httpx.Response:
        return httpx.post(
            f"{bases[i % 2]}/Organization",
            json=org(f"Parallel {i}", value),
            headers={"If-None-Exist": f"identifier={SYSTEM}|{value}"},
            timeout=60,
        )

    responses = _parallel(20, create)
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    found = httpx.get(f"{bases[0]}/Organization", params={"identifier": f"{SYSTEM}|{value}"})
    assert found.json()["total"] == 1
    only = found.json()["entry"][0]["resource"]["id"]
    assert {r.headers["Location"].split("/Organization/")[1].split("/")[0] for r in responses} == {
        only
    }


def test_parallel_if_match_updates_across_processes_have_one_winner(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    bases = _bases(two_servers)
    created = httpx.post(f"{bases[0]}/Organization", json=org("Contested"))
    assert created.status_code == 201
    rid = created.json()["id"]

    def update(i: int) -> httpx.Response:
        return httpx.put(
            f"{bases[i % 2]}/Organization/{rid}",
            json={**org(f"Winner {i}"), "id": rid},
            headers={"If-Match": 'W/"1"'},
            timeout=60,
        )

    responses = _parallel(12, update)
    assert sorted(r.status_code for r in responses) == [200] + [412] * 11
    for loser in (r for r in responses if r.status_code == 412):
        is_outcome(loser, 412)
    winner = next(r for r in responses if r.status_code == 200).json()["name"]
    current = httpx.get(f"{bases[1]}/Organization/{rid}").json()
    assert (current["meta"]["versionId"], current["name"]) == ("2", winner)
    history = httpx.get(f"{bases[0]}/Organization/{rid}/_history").json()
    assert history["total"] == 2


def test_parallel_creates_across_processes_get_distinct_ids(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    bases = _bases(two_servers)
    responses = _parallel(
        30,
        lambda i: httpx.post(f"{bases[i % 2]}/Organization", json=org(f"Org {i}"), timeout=60),
    )
    assert {r.status_code for r in responses} == {201}
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 30
    listed = httpx.get(f"{bases[1]}/Organization", params={"_count": 100}).json()
    assert listed["total"] == 30
    assert {e["resource"]["id"] for e in listed["entry"]} == set(ids)
    history = httpx.get(f"{bases[0]}/_history", params={"_count": 100}).json()
    assert history["total"] == 30
