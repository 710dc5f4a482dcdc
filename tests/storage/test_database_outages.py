"""The database unreachable, and back: PostgreSQL behind a TCP proxy this test cuts (SQLite:
another process holding the writer lock) -> 503 OperationOutcome, quickly, nothing written;
back -> the same server recovers without a restart. A write cut off half-way (PostgreSQL:
the proxy drops the connection when the index insert passes; SQLite: a trigger fails it)
leaves nothing behind.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from shared_database import BACKEND, MARKER, SYSTEM, Proxy, is_outcome, org
from sqlalchemy.engine import make_url

from server_process import ServerProcess

# -- the database unreachable, and back -----------------------------------------------------


@contextmanager
def _unreachable_database(
    shared_url: str, tmp_path: Path
) -> Iterator[tuple[ServerProcess, Callable[[bool], None]]]:
    """A server and `outage(on)`: PostgreSQL behind a proxy that is cut; SQLite with its
    writer lock held by another process (the server gives up after its 1 s busy timeout)."""
    env = {"FHIR_SANDBOX_DATABASE_STATEMENT_TIMEOUT": "1"}
    if BACKEND == "postgresql":
        real = make_url(shared_url)
        proxy = Proxy((real.host or "127.0.0.1", real.port or 5432))
        proxy.restore()
        url = real.set(port=proxy.port).render_as_string(hide_password=False)

        def outage(on: bool) -> None:
            proxy.cut() if on else proxy.restore()

        try:
            with ServerProcess(url, tmp_path / "server.log", **env) as server:
                yield server, outage
        finally:
            proxy.cut()
        return

    holder = sqlite3.connect(make_url(shared_url).database or "", isolation_level=None)

    def lock(on: bool) -> None:
        holder.execute("BEGIN EXCLUSIVE" if on else "ROLLBACK")

    try:
        with ServerProcess(shared_url, tmp_path / "server.log", **env) as server:
            yield server, lock
    finally:
        holder.close()


def test_unreachable_database_answers_503_and_the_server_recovers(
    shared_url: str, tmp_path: Path
) -> None:
    with _unreachable_database(shared_url, tmp_path) as (server, outage):
        base = f"{server.url}/ehr/ops{uuid.uuid4().hex[:10]}/r4"
        value = uuid.uuid4().hex
        assert httpx.post(f"{base}/Organization", json=org("Before")).status_code == 201

        outage(True)
        started = time.monotonic()
        refused = httpx.post(f"{base}/Organization", json=org("During", value), timeout=30)
        outcome = is_outcome(refused, 503)
        assert outcome["issue"][0]["code"] in ("transient", "timeout")
        assert "Retry-After" in refused.headers
        assert time.monotonic() - started < 10  # an answer, not a hang
        if BACKEND == "postgresql":  # reads need the database too
            is_outcome(httpx.get(f"{base}/Organization", timeout=30), 503)

        outage(False)
        deadline = time.monotonic() + 15
        while (found := httpx.get(f"{base}/Organization", timeout=30)).status_code != 200:
            assert time.monotonic() < deadline, found.text
            time.sleep(0.2)
        assert [e["resource"]["name"] for e in found.json()["entry"]] == ["Before"]
        assert httpx.post(f"{base}/Organization", json=org("After")).status_code == 201
        search = httpx.get(f"{base}/Organization", params={"identifier": f"{SYSTEM}|{value}"})
        assert search.json()["total"] == 0  # the refused create wrote nothing


def _rows(shared_url: str, tenant: str) -> dict[str, int]:
    """Rows the tenant has in each table, read straight from the database."""
    tables = ["resource", "resource_version", "idx_string", "idx_token"]
    if BACKEND == "postgresql":
        real = make_url(shared_url).set(drivername="postgresql")
        with psycopg.connect(real.render_as_string(hide_password=False)) as conn:
            return {
                t: conn.execute(f"SELECT count(*) FROM {t} WHERE tenant = %s", [tenant]).fetchone()[
                    0
                ]  # type: ignore[index]
                for t in tables
            }
    with sqlite3.connect(make_url(shared_url).database or "") as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t} WHERE tenant = ?", [tenant]).fetchone()[0]
            for t in tables
        }


def test_a_write_cut_off_half_way_leaves_nothing(shared_url: str, tmp_path: Path) -> None:
    short = f"ops{uuid.uuid4().hex[:10]}"
    tenant = f"ehr-{short}"
    doomed = org(MARKER.upper(), uuid.uuid4().hex)  # the body holds the upper-case form
    if BACKEND == "postgresql":
        real = make_url(shared_url)
        proxy = Proxy((real.host or "127.0.0.1", real.port or 5432))
        proxy.restore()
        url = real.set(port=proxy.port).render_as_string(hide_password=False)
        try:
            with ServerProcess(url, tmp_path / "server.log") as server:
                base = f"{server.url}/ehr/{short}/r4"
                assert httpx.post(f"{base}/Organization", json=org("Kept")).status_code == 201
                before = _rows(shared_url, tenant)
                proxy.drop_when(MARKER.encode())  # after the version and resource rows
                is_outcome(httpx.post(f"{base}/Organization", json=doomed, timeout=30), 503)
                proxy.drop_when(None)
                assert len(proxy.dropped) == 1
                # it was the string index insert (norm, then exact: the body has only the
                # upper-case form), which runs after the version and resource rows
                norm_then_exact = MARKER.encode() + b"\x00\x00\x00\x0b" + MARKER.upper().encode()
                assert norm_then_exact in proxy.dropped[0], proxy.dropped
                assert _rows(shared_url, tenant) == before
                assert httpx.post(f"{base}/Organization", json=org("Next")).status_code == 201
        finally:
            proxy.cut()
        return

    with sqlite3.connect(make_url(shared_url).database or "") as conn:
        conn.execute(
            f"CREATE TRIGGER IF NOT EXISTS cut_off BEFORE INSERT ON idx_string"
            f" WHEN NEW.norm = '{MARKER}' BEGIN SELECT RAISE(ABORT, 'cut off'); END"
        )
    try:
        with ServerProcess(shared_url, tmp_path / "server.log") as server:
            base = f"{server.url}/ehr/{short}/r4"
            assert httpx.post(f"{base}/Organization", json=org("Kept")).status_code == 201
            before = _rows(shared_url, tenant)
            failed = httpx.post(f"{base}/Organization", json=doomed, timeout=30)
            assert failed.status_code >= 500
            is_outcome(failed, failed.status_code)
            assert _rows(shared_url, tenant) == before
            assert httpx.post(f"{base}/Organization", json=org("Next")).status_code == 201
    finally:
        with sqlite3.connect(make_url(shared_url).database or "") as conn:
            conn.execute("DROP TRIGGER IF EXISTS cut_off")
