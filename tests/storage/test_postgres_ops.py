"""Operating on a shared database: several server processes, failures, recovery.

Written for PostgreSQL (FHIR_SANDBOX_TEST_DATABASE=postgresql); under SQLite every test runs
the SQLite equivalent instead (never skipped):

- two separate `fhir-sandbox serve` processes (one of them with `--workers 2`) on ONE
  database, many parallel clients: conditional creates leave one resource, If-Match
  updates have one winner, every created id is distinct;
- the database unreachable: PostgreSQL behind a TCP proxy this test cuts (SQLite: another
  process holding the writer lock) -> 503 OperationOutcome, quickly, nothing written; back
  -> the same server recovers without a restart;
- a write cut off half-way (PostgreSQL: the proxy drops the connection when the index
  insert passes; SQLite: a trigger fails it) leaves nothing behind;
- aborted transactions (serialisation failure / deadlock) are retried by the server.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from fhir_sandbox.config import Settings
from fhir_sandbox.errors import Contention, Unavailable
from fhir_sandbox.storage.base import Session
from fhir_sandbox.storage.sql.engine import EngineOptions
from fhir_sandbox.storage.sql.repository import SqlRepository
from fhir_sandbox.testing import LiveServer

BACKEND = os.environ.get("FHIR_SANDBOX_TEST_DATABASE") or "sqlite"
SYSTEM = "https://example.org/ids"
MARKER = "zqcutmarkqz"  # the lower-cased form appears only in the string index insert


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """`python -m fhir_sandbox serve` in a subprocess, on a free port."""

    def __init__(self, url: str, log: Path, *args: str, **env: str) -> None:
        self.port = _free_port()
        self.log = log
        self.args = ["serve", "--port", str(self.port), "--database-url", url, *args]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FHIR_SANDBOX_")},
            "FHIR_SANDBOX_SEED_ON_START": "false",
            "FHIR_SANDBOX_LOG_REQUESTS": "false",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fhir_sandbox", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/fhir/metadata", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not start: {self.log.read_text()}")

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Proxy:
    """A TCP forwarder to PostgreSQL that the test controls: `cut()` closes the listener and
    every live connection (the database is unreachable), `restore()` listens again on the
    same port; `drop_when(b"...")` kills a connection whose client sends those bytes."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = _free_port()
        self.marker: bytes | None = None
        self.dropped: list[bytes] = []  # what the client sent when a connection was dropped
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def restore(self) -> None:
        self._stop = threading.Event()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, args=(listener, self._stop))
        self._thread.daemon = True
        self._thread.start()

    def cut(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for sock in self._sockets:
                _close(sock)
            self._sockets.clear()

    def drop_when(self, marker: bytes | None) -> None:
        self.marker = marker

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        with listener:
            while not stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                client.settimeout(None)
                upstream = socket.create_connection(self.target)
                with self._lock:
                    self._sockets |= {client, upstream}
                for src, dst, watch in ((client, upstream, True), (upstream, client, False)):
                    threading.Thread(target=self._pump, args=(src, dst, watch), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, watch: bool) -> None:
        try:
            while data := src.recv(65536):
                if watch and self.marker is not None and self.marker in data:
                    self.dropped.append(data)
                    break  # drop the connection mid-transaction
                dst.sendall(data)
        except OSError:
            pass
        _close(src)
        _close(dst)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_url(databases: Any) -> str:
    """One migrated database of the backend under test, shared by the server processes."""
    url: str = databases.new()
    return url


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


def _org(name: str, identifier: str | None = None) -> dict[str, Any]:
    org: dict[str, Any] = {"resourceType": "Organization", "name": name}
    if identifier:
        org["identifier"] = [{"system": SYSTEM, "value": identifier}]
    return org


def _is_outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body


# -- several server processes on one database -----------------------------------------------


def test_parallel_conditional_creates_across_processes_leave_one(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    bases = _bases(two_servers)
    value = uuid.uuid4().hex

    def create(i: int) -> httpx.Response:
        return httpx.post(
            f"{bases[i % 2]}/Organization",
            json=_org(f"Parallel {i}", value),
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
    created = httpx.post(f"{bases[0]}/Organization", json=_org("Contested"))
    assert created.status_code == 201
    rid = created.json()["id"]

    def update(i: int) -> httpx.Response:
        return httpx.put(
            f"{bases[i % 2]}/Organization/{rid}",
            json={**_org(f"Winner {i}"), "id": rid},
            headers={"If-Match": 'W/"1"'},
            timeout=60,
        )

    responses = _parallel(12, update)
    assert sorted(r.status_code for r in responses) == [200] + [412] * 11
    for loser in (r for r in responses if r.status_code == 412):
        _is_outcome(loser, 412)
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
        lambda i: httpx.post(f"{bases[i % 2]}/Organization", json=_org(f"Org {i}"), timeout=60),
    )
    assert {r.status_code for r in responses} == {201}
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 30
    listed = httpx.get(f"{bases[1]}/Organization", params={"_count": 100}).json()
    assert listed["total"] == 30
    assert {e["resource"]["id"] for e in listed["entry"]} == set(ids)
    history = httpx.get(f"{bases[0]}/_history", params={"_count": 100}).json()
    assert history["total"] == 30


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
        assert httpx.post(f"{base}/Organization", json=_org("Before")).status_code == 201

        outage(True)
        started = time.monotonic()
        refused = httpx.post(f"{base}/Organization", json=_org("During", value), timeout=30)
        outcome = _is_outcome(refused, 503)
        assert outcome["issue"][0]["code"] in ("transient", "timeout")
        assert "Retry-After" in refused.headers
        assert time.monotonic() - started < 10  # an answer, not a hang
        if BACKEND == "postgresql":  # reads need the database too
            _is_outcome(httpx.get(f"{base}/Organization", timeout=30), 503)

        outage(False)
        deadline = time.monotonic() + 15
        while (found := httpx.get(f"{base}/Organization", timeout=30)).status_code != 200:
            assert time.monotonic() < deadline, found.text
            time.sleep(0.2)
        assert [e["resource"]["name"] for e in found.json()["entry"]] == ["Before"]
        assert httpx.post(f"{base}/Organization", json=_org("After")).status_code == 201
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
    doomed = _org(MARKER.upper(), uuid.uuid4().hex)  # the body holds the upper-case form
    if BACKEND == "postgresql":
        real = make_url(shared_url)
        proxy = Proxy((real.host or "127.0.0.1", real.port or 5432))
        proxy.restore()
        url = real.set(port=proxy.port).render_as_string(hide_password=False)
        try:
            with ServerProcess(url, tmp_path / "server.log") as server:
                base = f"{server.url}/ehr/{short}/r4"
                assert httpx.post(f"{base}/Organization", json=_org("Kept")).status_code == 201
                before = _rows(shared_url, tenant)
                proxy.drop_when(MARKER.encode())  # after the version and resource rows
                _is_outcome(httpx.post(f"{base}/Organization", json=doomed, timeout=30), 503)
                proxy.drop_when(None)
                assert len(proxy.dropped) == 1
                # it was the string index insert (norm, then exact: the body has only the
                # upper-case form), which runs after the version and resource rows
                norm_then_exact = MARKER.encode() + b"\x00\x00\x00\x0b" + MARKER.upper().encode()
                assert norm_then_exact in proxy.dropped[0], proxy.dropped
                assert _rows(shared_url, tenant) == before
                assert httpx.post(f"{base}/Organization", json=_org("Next")).status_code == 201
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
            assert httpx.post(f"{base}/Organization", json=_org("Kept")).status_code == 201
            before = _rows(shared_url, tenant)
            failed = httpx.post(f"{base}/Organization", json=doomed, timeout=30)
            assert failed.status_code >= 500
            _is_outcome(failed, failed.status_code)
            assert _rows(shared_url, tenant) == before
            assert httpx.post(f"{base}/Organization", json=_org("Next")).status_code == 201
    finally:
        with sqlite3.connect(make_url(shared_url).database or "") as conn:
            conn.execute("DROP TRIGGER IF EXISTS cut_off")


# -- the storage boundary -------------------------------------------------------------------


def test_an_unreachable_database_is_unavailable(tmp_path: Path) -> None:
    if BACKEND == "postgresql":
        url = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/nowhere"
    else:
        (tmp_path / "a-directory.db").mkdir()
        url = f"sqlite:///{tmp_path}/a-directory.db"
    repository = SqlRepository(url, EngineOptions(connect_timeout=2))
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable) as caught, repository.session("t", write=True):
            pass
        assert caught.value.status == 503
        assert time.monotonic() - started < 5
    finally:
        repository.close()


def test_a_busy_database_times_out_with_503(databases: Any) -> None:
    url = databases.new()
    repository = SqlRepository(url, EngineOptions(statement_timeout=0.3))
    try:
        if BACKEND == "postgresql":
            with pytest.raises(Unavailable) as caught, repository.session("t") as session:
                _connection(session).execute(text("SELECT pg_sleep(5)"))
            assert caught.value.issues[0].code == "timeout"
        else:
            holder = sqlite3.connect(make_url(url).database or "", isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                with pytest.raises(Unavailable), repository.session("t", write=True):
                    pass
            finally:
                holder.close()
        with repository.session("t", write=True):  # and then it works again
            pass
    finally:
        repository.close()


def _connection(session: Session) -> Any:
    return session._conn  # type: ignore[attr-defined]


@pytest.mark.parametrize("state", ["40001", "40P01"])
def test_aborted_transactions_are_retried(
    state: str, databases: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a trigger makes the first two attempts fail with a real serialisation
    failure / deadlock; SQLite (which has neither): the repository raises them."""
    url = databases.new()
    repository = SqlRepository(url)
    failures = 2
    if BACKEND == "postgresql":
        with repository.engine.begin() as conn:
            conn.execute(text("CREATE SEQUENCE IF NOT EXISTS flaky_attempts"))
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION flaky() RETURNS trigger AS $$ BEGIN"
                    " IF nextval('flaky_attempts') <= :n THEN"
                    f" RAISE EXCEPTION 'simulated' USING ERRCODE = '{state}'; END IF;"
                    " RETURN NEW; END $$ LANGUAGE plpgsql".replace(":n", str(failures))
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER flaky BEFORE INSERT ON resource_version"
                    " FOR EACH ROW EXECUTE FUNCTION flaky()"
                )
            )
    else:
        real_session = repository.session
        attempts = {"n": 0}

        @contextmanager
        def flaky(tenant: str, *, write: bool = False) -> Iterator[Any]:
            with real_session(tenant, write=write) as session:
                if write:
                    attempts["n"] += 1
                    if attempts["n"] <= failures:
                        raise Contention(f"simulated {state}")
                yield session

        monkeypatch.setattr(repository, "session", flaky)

    settings = Settings(database_url=url, seed_on_start=False, log_requests=False)
    with LiveServer(settings) as server, _serving(server, repository):
        created = httpx.post(f"{server.url}/fhir/Organization", json=_org("Retried"))
        assert created.status_code == 201, created.text
        assert httpx.get(f"{server.url}/fhir/Organization").json()["total"] == 1
    if BACKEND == "postgresql":
        with repository.engine.connect() as conn:  # two failed attempts, then the one kept
            assert conn.execute(text("SELECT last_value FROM flaky_attempts")).scalar() == 3
    else:
        assert attempts["n"] == 3
    repository.close()


@contextmanager
def _serving(server: LiveServer, repository: SqlRepository) -> Iterator[None]:
    """Point the live server's context at `repository` (the flaky one) while in the block."""
    context = server.server.config.loaded_app  # uvicorn's wrapped app
    app = _find_fastapi(context)
    original = app.state.context.repository
    app.state.context.repository = repository
    try:
        yield
    finally:
        app.state.context.repository = original


def _find_fastapi(app: Any) -> Any:
    while not hasattr(app, "state"):
        app = app.app
    return app


def test_exhausted_retries_answer_503(databases: Any) -> None:
    url = databases.new()
    repository = SqlRepository(url)
    real_session = repository.session

    def always_contended(tenant: str, *, write: bool = False) -> AbstractContextManager[Any]:
        if write:
            raise Contention("simulated deadlock")
        return real_session(tenant, write=write)

    repository.session = always_contended  # type: ignore[method-assign]
    settings = Settings(database_url=url, seed_on_start=False, log_requests=False)
    with LiveServer(settings) as server, _serving(server, repository):
        refused = httpx.post(f"{server.url}/fhir/Organization", json=_org("Never"))
        _is_outcome(refused, 503)
        assert httpx.get(f"{server.url}/fhir/Organization").json()["total"] == 0
    repository.close()
