"""The loader with worker processes gives exactly what the in-process loader gives."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from fhir_sandbox.bulk import checking, loader
from fhir_sandbox.bulk.loader import FailFast, LoadReport, load
from fhir_sandbox.bulk.sources import Item, read_items
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.searchparams.registry import build_registry, default_registry, load_definitions
from fhir_sandbox.searchparams.rows import IndexRows, OwnedRows
from fhir_sandbox.storage.sql.repository import SqlRepository
from fhir_sandbox.storage.sql.schema import INDEX_TABLES, resource, resource_version

TENANT = "directory"
MOMENT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture()
def contexts(databases: Any) -> Iterator[Any]:
    """Fresh stores with a fixed clock, so that two loads can be compared row by row."""
    made: list[SqlRepository] = []

    def new(**options: Any) -> Context:
        repository = SqlRepository(databases.new())
        made.append(repository)
        return Context(repository=repository, clock=lambda: MOMENT, **options)

    yield new
    for repository in made:
        repository.close()


def _org(rid: str | None, name: str, **more: Any) -> bytes:
    body = {"resourceType": "Organization", **({"id": rid} if rid else {}), "name": name}
    return orjson.dumps({**body, **more})


def _mixed(folder: Path) -> tuple[Path, Path]:
    """An NDJSON file of good, bad and repeated lines, and a Bundle."""
    lines = [_org(f"o{n}", f"Org {n}") for n in range(12)]
    lines[2] = b'{"resourceType": "Organization", "id": "broken"'  # not JSON
    lines[4] = _org("bad-type", "B", active="yes")  # pydantic would coerce; we do not
    lines[5] = b"[1, 2]"
    lines[7] = b""  # blank: skipped, but counts for line numbers
    lines[8] = _org(None, "No id at all")  # content-derived id
    lines[9] = _org("o1", "Org 1 renamed")  # the later one wins (other chunk, other batch)
    lines[10] = _org("o3", "Org 3", partOf={"reference": "Organization/nowhere"})
    lines += [
        b'{"resourceType": "Patient", "id": "p"}',  # a type we do not serve
        _org("o11", "Org 11 again", partOf={"reference": "Organization/o0"}),  # same batch
        _org("o12", "Org 12", alias=["Twelve"], endpoint=[{"reference": "Endpoint/e1"}]),
        b'{"resourceType": "Endpoint", "id": "e1", "status": "active", "connectionType": '
        b'{"code": "hl7-fhir-rest"}, "payloadType": [{"text": "any"}], "address": "http://x"}',
    ]
    ndjson = folder / "mixed.ndjson"
    ndjson.write_bytes(b"\n".join(lines) + b"\n")
    bundle = folder / "bundle.json"
    entries = [
        {"resource": {"resourceType": "Location", "id": "l1", "name": "Here"}},
        {"resource": {"resourceType": "Location", "id": "l2", "status": 7}},
        {"resource": {"resourceType": "Location", "name": "Anywhere"}},
        {"fullUrl": "x"},
    ]
    bundle.write_bytes(
        orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})
    )
    return ndjson, bundle


def _items(files: tuple[Path, Path], *, parse: bool = False) -> Iterator[Item]:
    ndjson, bundle = files
    return chain(read_items(ndjson, parse=parse), read_items(bundle))


def _stored(ctx: Context) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row, but the index tables' own keys (which follow set order)."""
    engine = ctx.repository.engine  # type: ignore[attr-defined]
    tables = {"resource": resource, "resource_version": resource_version, **INDEX_TABLES}
    found = {}
    with engine.connect() as conn:
        for name, table in tables.items():
            columns = [c for c in table.c if c.name != "pk"]
            found[name] = sorted(tuple(row) for row in conn.execute(select(*columns)))
    return found


def _summary(report: LoadReport) -> tuple[int, int, list[tuple[str, str, str]]]:
    problems = [(p.origin, p.severity, p.message) for p in report.problems]
    return report.written, report.unchanged, problems


def test_workers_give_the_same_report_and_data(contexts: Any, tmp_path: Path) -> None:
    files = _mixed(tmp_path)
    options = {"batch_size": 5, "chunk_size": 4}
    alone, pooled = contexts(), contexts()
    expected = load(alone, TENANT, _items(files, parse=True), **options)
    ticks: list[int] = []
    got = load(pooled, TENANT, _items(files), workers=2, progress=ticks.append, **options)
    assert _summary(got) == _summary(expected)
    assert sum(ticks) == 19  # every item: 15 non-blank lines and 4 entries
    assert _stored(pooled) == _stored(alone)
    written, unchanged, problems = _summary(got)
    assert (written, unchanged) == (12, 0)  # 3 batches: 5, 4 (o11 twice: the later), 3
    origins = [origin for origin, severity, _ in problems if severity == "error"]
    ndjson, bundle = files
    assert origins == [
        f"{ndjson}:3", f"{ndjson}:5", f"{ndjson}:6", f"{ndjson}:13",
        f"{bundle}#entry[1]", f"{bundle}#entry[3]",
    ]  # fmt: skip
    assert [p for p in problems if p[1] == "warning"] == [
        (f"{ndjson}:11", "warning", "dangling reference: Organization/nowhere does not "
         "exist in the tenant"),
    ]  # fmt: skip
    # again: o1 and o3 change twice (first and second batch), the rest is unchanged
    again = load(pooled, TENANT, _items(files), workers=2, **options)
    assert _summary(again) == _summary(load(alone, TENANT, _items(files), **options))
    assert _summary(again)[:2] == (4, 8)
    assert _stored(pooled) == _stored(alone)


def test_raw_lines_in_process_match_parsed_ones(contexts: Any, tmp_path: Path) -> None:
    files = _mixed(tmp_path)
    parsed, raw = contexts(), contexts()
    assert _summary(load(raw, TENANT, _items(files), batch_size=3)) == _summary(
        load(parsed, TENANT, _items(files, parse=True), batch_size=3)
    )
    assert _stored(raw) == _stored(parsed)


def test_fail_fast_with_workers_stops_where_in_process_stops(contexts: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    lines = [_org(f"o{n}", f"Org {n}") for n in range(30)]
    lines[13] = b"{oops"
    lines[21] = _org("o21", "x", active="maybe")
    path.write_bytes(b"\n".join(lines) + b"\n")
    options = {"batch_size": 5, "chunk_size": 4, "fail_fast": True}
    alone, pooled = contexts(), contexts()
    with pytest.raises(FailFast, match=r"bad.ndjson:14: not valid JSON") as first:
        load(alone, TENANT, read_items(path), **options)
    with pytest.raises(FailFast) as second:
        load(pooled, TENANT, read_items(path, parse=False), workers=2, **options)
    assert str(second.value) == str(first.value)
    assert len(_stored(pooled)["resource"]) == 10  # the two whole batches before the bad line
    assert _stored(pooled) == _stored(alone)


CUSTOM_VERSION = {
    "resourceType": "SearchParameter",
    "url": "https://example.org/SearchParameter/Organization-version",
    "name": "version",
    "status": "active",
    "code": "version",
    "base": ["Organization"],
    "type": "token",
    "expression": "Organization.meta.versionId",
}


def test_an_index_reading_server_meta_is_extracted_after_stamping(
    contexts: Any, tmp_path: Path
) -> None:
    assert checking.worker_params(default_registry()) is not None  # the shipped parameters
    shipped = load_definitions("search-parameters.json")
    registry = build_registry([*shipped, CUSTOM_VERSION])
    assert checking.worker_params(registry) is None
    path = tmp_path / "orgs.ndjson"
    path.write_bytes(b"\n".join(_org(f"o{n}", "A") for n in range(9)) + b"\n")
    changed = tmp_path / "changed.ndjson"
    changed.write_bytes(b"\n".join(_org(f"o{n}", "B") for n in range(9)) + b"\n")
    alone, pooled = contexts(registry=registry), contexts(registry=registry)
    for ctx, workers in ((alone, 1), (pooled, 2)):
        items = chain(read_items(path, parse=False), read_items(changed, parse=False))
        load(ctx, TENANT, items, workers=workers, chunk_size=2, batch_size=9)
    stored = _stored(pooled)
    assert stored == _stored(alone)
    versions = {row[-2] for row in stored["token"] if row[3] == "version"}
    assert versions == {"2"}  # the version stored, not the workers' placeholder


def test_small_inputs_are_checked_in_process(
    contexts: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started")

    monkeypatch.setattr(checking, "ProcessPoolExecutor", no_pool)
    path = tmp_path / "few.ndjson"
    path.write_bytes(b"\n".join(_org(f"o{n}", "A") for n in range(8)) + b"\n")
    report = load(contexts(), TENANT, read_items(path, parse=False), workers=4, chunk_size=4)
    assert report.written == 8


def test_available_cpus() -> None:
    assert loader.available_cpus() >= 1


def test_references_are_looked_up_once_and_resolved_by_later_batches(
    contexts: Any, tmp_path: Path
) -> None:
    ctx = contexts()
    before = tmp_path / "before.ndjson"
    before.write_bytes(_org("pre", "Stored before") + b"\n")
    load(ctx, TENANT, read_items(before))

    def ref(rid: str, target: str) -> bytes:
        return _org(rid, rid, partOf={"reference": f"Organization/{target}"})

    path = tmp_path / "refs.ndjson"
    lines = [ref("a", "pre"), ref("b", "d"), ref("c", "x"), ref("d", "x"), ref("e", "pre")]
    lines += [ref("f", "b"), ref("g", "y"), ref("h", "g")]
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = load(ctx, TENANT, read_items(path), batch_size=2)
    assert [(p.origin, p.severity, p.message) for p in report.problems] == [
        (f"{path}:3", "warning", "dangling reference: Organization/x does not exist in the tenant"),
        (f"{path}:4", "warning", "dangling reference: Organization/x does not exist in the tenant"),
        (f"{path}:7", "warning", "dangling reference: Organization/y does not exist in the tenant"),
    ]


def test_cli_load_with_workers(
    tmp_path: Path, databases: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from fhir_sandbox.cli import app
    from fhir_sandbox.generator import write_ndjson

    monkeypatch.setenv("FHIR_SANDBOX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(loader, "CHUNK_SIZE", 16)  # a small directory, still many chunks
    pools = []

    class Pool(ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(checking, "ProcessPoolExecutor", Pool)
    write_ndjson(tmp_path / "gen", 12, seed=2)
    files = [str(p) for p in sorted((tmp_path / "gen").glob("*.ndjson"))]
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(b'{"resourceType": "Organization", "id": "x", "active": "maybe"}\n')
    outputs = []
    for workers in ("1", "2"):
        url = databases.new()
        result = CliRunner().invoke(
            app, ["load", "--database-url", url, "--workers", workers, *files, str(bad)]
        )
        assert result.exit_code == 1, result.output  # the bad line
        outputs.append([line for line in result.output.splitlines() if "loading" not in line])
    assert pools == [2]
    assert outputs[0] == outputs[1]
    assert any("bad.ndjson:1" in line for line in outputs[1])
    assert any(line.startswith("loaded: ") and " 1 errors" in line for line in outputs[1])


def test_a_workers_first_version_is_spliced_only_when_shaped_as_stamped() -> None:
    ctx = Context(repository=None, clock=lambda: MOMENT)  # type: ignore[arg-type]
    head = b'{"resourceType":"Organization","id":"o1","meta":{"versionId":"1","lastUpdated":"'
    body = head + checking.WORKER_INSTANT + b'"},"name":"A"}'
    rows = OwnedRows([[] for _ in IndexRows.TABLES])
    version = checking.first_version(
        ctx, checking.Checked("Organization", "o1", index=rows, body=body)
    )
    assert version is not None and (version.version, version.last_updated) == (1, MOMENT)
    assert version.body == head + b'2024-05-01T12:00:00.000Z"},"name":"A"}'
    assert orjson.loads(version.body)["meta"] == {
        "versionId": "1",
        "lastUpdated": "2024-05-01T12:00:00.000Z",
    }
    for other in (
        body.replace(b'"versionId":"1"', b'"versionId":"2"'),
        body.replace(checking.WORKER_INSTANT, b"2001-01-01T00:00:00.000Z"),
        b'{"resourceType":"Organization","id":"o2"'
        + body[len(b'{"resourceType":"Organization","id":"o1"') :],
        b'{"id":"o1","resourceType":"Organization"}',
    ):
        shaped = checking.Checked("Organization", "o1", index=rows, body=other)
        assert checking.first_version(ctx, shaped) is None  # then the loader stamps it again
