"""The must-show: a $export of a generated directory whose NDJSON, loaded into a fresh
server, reproduces the same resources (ignoring the server-owned meta.versionId and
meta.lastUpdated).

generate → load into server A → $export over HTTP → download the files → load them into a
fresh server B → $export B over HTTP → the generated, the downloaded and B's resources are
the same. Resources are compared by digest (canonical JSON), so memory stays small at any
size.

The size is `FHIR_SANDBOX_EXPORT_ROUNDTRIP_SIZE` (resources, approximately): a few thousand
in the suite; `make export-roundtrip` runs it at 100k (see README) and prints the timings.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from export_client import export
from fhir_sandbox.app import open_store
from fhir_sandbox.bulk.loader import load
from fhir_sandbox.bulk.sources import read_items
from fhir_sandbox.config import Settings
from fhir_sandbox.generator import write_ndjson
from fhir_sandbox.testing import LiveServer

SIZE = int(os.environ.get("FHIR_SANDBOX_EXPORT_ROUNDTRIP_SIZE") or 3000)
TENANT = "directory"


def test_export_loads_back_into_a_fresh_server_identically(
    tmp_path: Path, databases: Any, http: httpx.Client
) -> None:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    generated = tmp_path / "generated"
    counts = write_ndjson(generated, _organizations(SIZE, tmp_path / "probe"), seed=11)
    total = sum(counts.values())
    timings["generate"] = time.perf_counter() - started

    source_url = databases.new()
    timings["load into A"] = _load(source_url, generated)
    downloaded = tmp_path / "downloaded"
    timings["$export A + download"] = _export_and_download(http, tmp_path, source_url, downloaded)

    fresh_url = databases.new()
    timings["load into B"] = _load(fresh_url, downloaded)
    again = tmp_path / "again"
    timings["$export B + download"] = _export_and_download(http, tmp_path, fresh_url, again)

    started = time.perf_counter()
    expected = _digests(generated)
    assert len(expected) == total
    assert _digests(downloaded) == expected
    assert _digests(again) == expected
    timings["compare"] = time.perf_counter() - started
    report = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
    print(f"\n$export round trip of {total:,} resources ({databases.backend}): {report}")


def _organizations(size: int, probe: Path) -> int:
    """The organisation count that gives about `size` resources (as benchmarks/ does)."""
    per_organization = sum(write_ndjson(probe, 100, seed=11).values()) / 100
    return max(1, round(size / per_organization))


def _load(url: str, folder: Path) -> float:
    """What `fhir-sandbox load` does (open_store records the search-index fingerprint, so
    the server starting on this database has nothing to reindex)."""
    started = time.perf_counter()
    context = open_store(Settings(database_url=url, seed_on_start=False))
    try:
        items = (item for path in sorted(folder.glob("*.ndjson")) for item in read_items(path))
        report = load(context, TENANT, items)
    finally:
        context.repository.close()
    assert not report.errors, report.errors[:3]
    return time.perf_counter() - started


def _export_and_download(http: httpx.Client, tmp_path: Path, url: str, out: Path) -> float:
    """$export the server on `url` at /fhir and stream every file into `out`."""
    settings = Settings(
        data_dir=tmp_path / f"server-{out.name}",
        database_url=url,
        seed_on_start=False,
        log_requests=False,
    )
    out.mkdir()
    with LiveServer(settings) as server:
        started = time.perf_counter()
        body = export(http, f"{server.url}/fhir/$export")
        for item in body["output"]:
            target = out / item["url"].rsplit("/", 1)[1]
            with http.stream("GET", item["url"]) as response, target.open("wb") as handle:
                assert response.status_code == 200
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        return time.perf_counter() - started


def _digests(folder: Path) -> dict[str, bytes]:
    """Type/id -> digest of the resource without meta.versionId and meta.lastUpdated."""
    found: dict[str, bytes] = {}
    for resource in _resources(folder):
        meta = {k: v for k, v in resource.pop("meta", {}).items() if k not in SERVER_META}
        if meta:
            resource["meta"] = meta
        key = f"{resource['resourceType']}/{resource['id']}"
        assert key not in found, f"{key} appears twice in {folder.name}"
        canonical = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
        found[key] = hashlib.blake2b(canonical, digest_size=16).digest()
    return found


SERVER_META = ("versionId", "lastUpdated")


def _resources(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("*.ndjson")):
        with path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    resource: dict[str, Any] = orjson.loads(line)
                    yield resource
