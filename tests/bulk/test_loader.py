"""The bulk loader and exporter: idempotent, precise about bad input, round-trips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_sandbox.bulk.exporter import export_ndjson
from fhir_sandbox.bulk.loader import FailFast, load
from fhir_sandbox.bulk.sources import read_items
from fhir_sandbox.generator import write_ndjson
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.storage.sql.repository import SqlRepository

TENANT = "directory"


@pytest.fixture()
def ctx(databases: Any) -> Iterator[Context]:
    repository = SqlRepository(databases.new())  # the backend under test (tests/conftest.py)
    repository.create_schema()
    yield Context(repository=repository)
    repository.close()


def _load_dir(ctx: Context, folder: Path, **options: Any) -> Any:
    items = (item for path in sorted(folder.glob("*.ndjson")) for item in read_items(path))
    return load(ctx, TENANT, items, **options)


def _content(folder: Path) -> dict[str, dict[str, Any]]:
    """Exported resources by Type/id, without the server-owned meta."""
    found = {}
    for path in folder.glob("*.ndjson"):
        for line in path.read_bytes().splitlines():
            resource = orjson.loads(line)
            meta = resource.pop("meta", {})
            meta.pop("versionId", None)
            meta.pop("lastUpdated", None)
            found[f"{resource['resourceType']}/{resource['id']}"] = {**resource, "meta": meta}
    return found


def test_load_is_idempotent_and_exports_back(ctx: Context, tmp_path: Path, databases: Any) -> None:
    generated = tmp_path / "gen"
    counts = write_ndjson(generated, 40, seed=3)
    report = _load_dir(ctx, generated, batch_size=50)
    assert report.written == sum(counts.values()) and not report.problems
    again = _load_dir(ctx, generated, batch_size=50)
    assert again.written == 0 and again.unchanged == sum(counts.values())
    exported = tmp_path / "export"
    assert export_ndjson(ctx, TENANT, exported) == {t: counts.get(t, 0) for t in _types()}
    fresh = Context(repository=SqlRepository(databases.new()))
    fresh.repository.create_schema()  # type: ignore[attr-defined]
    assert _load_dir(fresh, exported).written == sum(counts.values())
    export_ndjson(fresh, TENANT, tmp_path / "export2")
    fresh.repository.close()
    assert _content(exported) == _content(tmp_path / "export2") == _content(generated)


def _types() -> list[str]:
    from fhir_sandbox.fhir.models import RESOURCE_TYPES

    return list(RESOURCE_TYPES)


def test_bad_lines_are_reported_precisely_and_good_data_kept(ctx: Context, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    lines = [
        b'{"resourceType": "Organization", "id": "good-1", "name": "Good"}',
        b'{"resourceType": "Organization", "id": "broken"',
        b'{"resourceType": "Organization", "id": "bad-type", "active": "yes"}',
        b"[1, 2]",
        b"",
        b'{"resourceType": "Patient", "id": "p"}',
        b'{"resourceType": "Organization", "id": "good-2", '
        b'"partOf": {"reference": "Organization/nowhere"}}',
    ]
    bad.write_bytes(b"\n".join(lines) + b"\n")
    report = load(ctx, TENANT, read_items(bad))
    assert report.written == 2
    by_origin = {p.origin: p for p in report.problems}
    assert set(by_origin) == {f"{bad}:{n}" for n in (2, 3, 4, 6, 7)}
    assert "not valid JSON" in by_origin[f"{bad}:2"].message
    assert "Organization.active" in by_origin[f"{bad}:3"].message
    assert "Patient" in by_origin[f"{bad}:6"].message
    assert by_origin[f"{bad}:7"].severity == "warning"
    assert "Organization/nowhere" in by_origin[f"{bad}:7"].message
    with ctx.repository.session(TENANT) as session:
        assert {v.id for v in session.fetch("Organization", ["good-1", "good-2", "bad-type"])} == {
            "good-1",
            "good-2",
        }


def test_fail_fast_stops_at_the_first_bad_line(ctx: Context, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(b'{"resourceType": "Organization", "id": "a"}\n{oops\n')
    with pytest.raises(FailFast, match=r"bad.ndjson:2"):
        load(ctx, TENANT, read_items(bad), fail_fast=True)


def test_forward_references_resolve_by_the_end(ctx: Context, tmp_path: Path) -> None:
    path = tmp_path / "forward.ndjson"
    path.write_bytes(
        b'{"resourceType": "Organization", "id": "o", "endpoint": [{"reference": "Endpoint/e"}]}\n'
        b'{"resourceType": "Endpoint", "id": "e", "status": "active", "connectionType": '
        b'{"code": "hl7-fhir-rest"}, "payloadType": [{"text": "any"}], "address": "http://x"}\n'
    )
    report = load(ctx, TENANT, read_items(path), batch_size=1)
    assert report.written == 2 and report.problems == []


def test_transaction_bundle_with_urn_uuids(ctx: Context, tmp_path: Path) -> None:
    org = "urn:uuid:0c9f3f4e-3d0a-4d7e-9d59-4b7c6f2b9a10"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": org, "resource": {"resourceType": "Organization", "name": "U"}},
            {
                "fullUrl": "urn:uuid:9a0e4f7e-1111-4c2b-8d2d-2f0a3b3c4d5e",
                "resource": {
                    "resourceType": "Location",
                    "managingOrganization": {"reference": org},
                },
            },
        ],
    }
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(bundle))
    report = load(ctx, TENANT, read_items(path))
    assert report.written == 2 and report.problems == []
    with ctx.repository.session(TENANT) as session:
        location = session.current("Location", "9a0e4f7e-1111-4c2b-8d2d-2f0a3b3c4d5e")
    assert location is not None
    assert orjson.loads(location.body)["managingOrganization"]["reference"] == (
        "Organization/0c9f3f4e-3d0a-4d7e-9d59-4b7c6f2b9a10"
    )


def test_a_failing_batch_writes_nothing(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "two.ndjson"
    path.write_bytes(
        b'{"resourceType": "Organization", "id": "x1"}\n'
        b'{"resourceType": "Organization", "id": "x2"}\n'
    )
    from fhir_sandbox.storage.sql import repository as sql

    def explode(self: object, versions: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sql.SqlSession, "insert_new", explode)
    with pytest.raises(RuntimeError):
        load(ctx, TENANT, read_items(path))
    with ctx.repository.session(TENANT) as session:
        assert session.max_seq() == 0


def test_planner_statistics_follow_the_load(
    ctx: Context, tmp_path: Path, databases: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statistics are refreshed after the first batch, after a batch bringing a type they
    did not have, whenever the count written doubles, and at the end; on PostgreSQL the
    planner then knows the tables are not empty (a fresh database's lookups otherwise ran
    as if they were: benchmarks/README.md)."""
    path = tmp_path / "mixed.ndjson"
    resources = [{"resourceType": "Organization", "id": f"o{n}"} for n in range(25)]
    resources += [{"resourceType": "Location", "id": f"l{n}"} for n in range(30)]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    stored_at_refresh: list[int] = []
    analyze = SqlRepository.analyze

    def counting(repository: SqlRepository) -> None:
        with repository.session(TENANT) as session:
            stored = len(session.current_many("Organization", [f"o{n}" for n in range(25)]))
            stored += len(session.current_many("Location", [f"l{n}" for n in range(30)]))
        stored_at_refresh.append(stored)
        analyze(repository)

    monkeypatch.setattr(SqlRepository, "analyze", counting)
    assert load(ctx, TENANT, read_items(path), batch_size=10).written == 55
    # 10: first batch; 20: doubled; 30: Locations arrive; 40, 50: neither; 55: the end
    assert stored_at_refresh == [10, 20, 30, 55]
    assert load(ctx, TENANT, read_items(path), batch_size=10).written == 0
    assert stored_at_refresh == [10, 20, 30, 55]  # nothing written: nothing to refresh
    if databases.backend == "postgresql":
        with ctx.repository.engine.connect() as conn:  # type: ignore[attr-defined]
            rows = conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE relname = 'resource'"
            ).scalar_one()
        assert rows == 55  # -1 on a table never analysed
