"""The benchmark's PostgreSQL comparison (run.py; `--no-postgres` skips it).

The main size is measured a second time with the server on PostgreSQL: the same NDJSON loaded
with `fhir-sandbox load` the same way (its defaults, on the whole machine), the same pinned
server and the same wrk workloads, all through the harness's own machinery (benchmarks/
harness/). What is PostgreSQL-specific lives here: making sure the local cluster runs
(scripts/ensure-postgres.sh), a fresh database per run (`fhir_bench_<random>`, created with
psycopg and dropped at the end, also on Ctrl-C or SIGTERM), the server settings that matter
for the figures, and the "PostgreSQL vs SQLite" ratios and table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.client import free_port
from harness.common import DEFAULT_RUN_BUDGET_S, log
from harness.data import Dataset, load_into
from harness.operations import create_op, read_ops, search_ops
from harness.queries import Queries
from harness.server import Server, first_start, proc_status, running, serve_cmd, server_env
from harness.wrk import Bench, bench_ops

ROOT = Path(__file__).resolve().parent.parent
ENSURE_SCRIPT = ROOT / "scripts" / "ensure-postgres.sh"
# the server to run on (trust auth); its `postgres` database is only used to CREATE/DROP
ADMIN_URL = os.environ.get(
    "FHIR_BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# operations measured on both backends, in the order they run (reads, searches, then writes)
COMPARED = ("read", "vread", "identifier", "name", "chained", "include", "create")
# the server settings that bear on the figures (recorded with the results)
SETTINGS = (
    "server_version",
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "synchronous_commit",
    "fsync",
    "wal_level",
    "max_connections",
    "jit",
)


def ensure_running() -> str | None:
    """Start the local cluster when it is not answering: None when it answers, else why not."""
    from sqlalchemy.engine import make_url

    url = make_url(ADMIN_URL)
    env = {**os.environ, "PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432)}
    try:
        done = subprocess.run(
            [str(ENSURE_SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=120,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{ENSURE_SCRIPT.relative_to(ROOT)}: {exc}"
    if done.returncode != 0:
        said = " ".join(done.stdout.split())[-300:]
        return f"{ENSURE_SCRIPT.relative_to(ROOT)} failed (exit {done.returncode}): {said}"
    return None


class Database:
    """A fresh database on the ADMIN_URL server, for one run; `drop()` is idempotent."""

    def __init__(self, log: Callable[[str], None]):
        from sqlalchemy.engine import make_url

        self.log = log
        self.name = f"fhir_bench_{uuid.uuid4().hex[:12]}"
        self.url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=self.name)
        self.created = False

    @property
    def server_url(self) -> str:
        """The URL `fhir-sandbox` takes (`postgresql+psycopg://…/fhir_bench_…`)."""
        return str(self.url.render_as_string(hide_password=False))

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=10)

    def create(self) -> None:
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True

    def _connect(self) -> Any:
        import psycopg

        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)

    def settings(self) -> dict[str, str]:
        with self._connect() as conn:
            return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS}

    def analyze(self) -> float:
        """`ANALYZE` the whole database (what PostgreSQL advises after a bulk load): seconds."""
        started = time.perf_counter()
        with self._connect() as conn:
            conn.execute("ANALYZE")
        return time.perf_counter() - started

    def resources(self) -> int:
        """Current resources stored (how far a load got)."""
        with self._connect() as conn:
            return int(conn.execute("SELECT count(*) FROM resource").fetchone()[0])

    def size_mb(self) -> float:
        with self._connect() as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        return round(size / 1024 / 1024, 1)

    def drop(self) -> None:
        if not self.created:
            return
        try:
            with self._admin() as admin:  # FORCE: ends the connections of a server still up
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception as exc:  # the run's results matter more; say what to clean up
            self.log(f"could not drop PostgreSQL database {self.name} ({exc}); drop it with: "
                     f"psql -h {self.url.host} -U {self.url.username} -c "
                     f"'DROP DATABASE \"{self.name}\" WITH (FORCE)'")  # fmt: skip
            return
        self.created = False
        self.log(f"dropped PostgreSQL database {self.name}")


@contextlib.contextmanager
def fresh_database(log: Callable[[str], None], keep: bool = False) -> Iterator[Database]:
    """A new database for the run, dropped on the way out (exception, Ctrl-C and SIGTERM,
    which run.py turns into SystemExit, included) unless `keep`."""
    database = Database(log)
    try:
        database.create()
        log(f"created PostgreSQL database {database.name}")
        yield database
    finally:
        if keep and database.created:
            log(f"PostgreSQL database kept: {database.name}")
        else:
            database.drop()


# --------------------------------------------------------------------------- measuring


def measure(
    opts: argparse.Namespace,
    workdir: Path,
    main: Dataset,
    queries: Queries,
    sqlite_load: dict[str, Any],
) -> dict[str, Any]:
    """The main dataset on PostgreSQL: timed load (the same `load_into` as SQLite's: not
    pinned, the CLI's defaults), first start, then the server (pinned and set up like the
    SQLite one) under the COMPARED operations, with `queries`. The database is dropped on the
    way out, whatever happens (unless --keep). `sqlite_load` is the main size's SQLite load
    figure."""
    why = ensure_running()
    if why:
        log(f"PostgreSQL: not measured ({why})")
        return {"skipped": why}
    entry: dict[str, Any] = {"duration_s": opts.duration, "warmup_s": opts.warmup}
    with fresh_database(log, keep=opts.keep) as database:
        url = entry["url"] = database.server_url
        entry["database"], entry["settings"] = database.name, database.settings()
        # a loader stuck on PostgreSQL must not eat the run: 4× SQLite's time, at least 2 min
        timeout = max(120.0, 4 * sqlite_load["resources"] / sqlite_load["rate"]["median"])
        try:
            entry["load"] = x = load_into(main, url, workdir / "load-postgres.log", timeout)
        except RuntimeError as exc:
            stored = database.resources()
            entry["skipped"] = (
                f"bulk load into PostgreSQL failed: {exc} "
                f"({stored:,} of {main.total:,} resources were in the database)"
            )
            log(f"PostgreSQL: {entry['skipped']}")
            return entry
        log(f"loaded {main.label} into PostgreSQL: {x['rate']:,.0f} resources/s "
            f"({x['seconds']} s wall, {x['cpu_seconds']} s CPU of the loader and its workers, "
            f"{x['cpus']} CPU(s); peak RSS {x['rss_peak_mb']:.0f} MB)")  # fmt: skip
        entry["analyze_s"] = round(database.analyze(), 2)
        entry["database_mb"] = database.size_mb()
        port, env = free_port(), server_env(workdir / "unused-postgres", seed=False)
        cmd = serve_cmd(port, url)
        took, reindexed = first_start("postgres", cmd, port, env, workdir)
        entry["first_start_after_load_s"], entry["first_start_reindexed"] = took, reindexed
        log(f"postgres: ANALYZE {entry['analyze_s']} s; first start after load {took:.1f} s "
            f"(reindexed {reindexed:,})")  # fmt: skip
        server = Server("server postgres", cmd, port, env, workdir / "server-postgres.log")
        with running(server):
            entry["start_s"] = round(server.wait_ready(), 2)
            entry["rss_idle_mb"] = round((proc_status(server.pid, "VmRSS") or 0) / 1024, 1)
            log(f"postgres: server ready in {entry['start_s']} s, RSS {entry['rss_idle_mb']} MB")
            entry["runs"] = runs = runs_within_budget(opts)
            if runs < opts.runs:
                entry["fewer_runs"] = (
                    f"{runs} run(s) per operation instead of {opts.runs}, to keep `make bench` "
                    f"within {DEFAULT_RUN_BUDGET_S // 60} min"
                )
                log(f"postgres: {entry['fewer_runs']}")
            bench = Bench(argparse.Namespace(**{**vars(opts), "runs": runs}), workdir)
            ops = {**read_ops(bench, port, queries),
                   **search_ops(bench, port, queries, "postgres", COMPARED),
                   "create": create_op(bench, port, queries)}  # fmt: skip
            measured: dict[str, Any] = {}
            entry["ops"] = measured
            bench_ops(bench, server, {n: ops[n] for n in COMPARED if n in ops}, measured)
            peaks = [m.get("rss_peak_mb") or 0 for m in measured.values()]
            entry["rss_peak_mb"] = max(peaks, default=None)
            entry["server_restarts"] = server.restarts
    return entry


def runs_within_budget(opts: argparse.Namespace) -> int:
    """--runs, or fewer when the default run would otherwise overrun its time budget
    (`opts.deadline`, set by run.py for `make bench`)."""
    if not opts.deadline:
        return int(opts.runs)
    # left for the PostgreSQL operations once the closing baseline has run
    left = opts.deadline - time.perf_counter() - (opts.warmup + opts.runs * opts.duration + 10)
    runs = int(opts.runs)
    while runs > 1 and len(COMPARED) * (opts.warmup + runs * opts.duration + 2) > left:
        runs -= 1
    return runs


# --------------------------------------------------------------------------- comparison


def _median(found: dict[str, Any] | None, key: str) -> float | None:
    if found and found.get("p50_ms") and found.get(key):
        return float(found[key]["median"])
    return None


def _why(found: dict[str, Any] | None) -> str:
    if not found:
        return "not measured"
    if found.get("skipped"):
        return str(found["skipped"])
    if not found.get("p50_ms"):
        return "no answer within the wrk timeout"
    return ""


def compare(sqlite: dict[str, Any], pg: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL/SQLite per compared operation (req/s and p50) and for the bulk load.

    `sqlite` is the main size's entry in results["sizes"], `pg` results["postgres"].
    """
    out: dict[str, Any] = {}
    for name in COMPARED:
        a, b = sqlite.get("ops", {}).get(name), pg.get("ops", {}).get(name)
        row: dict[str, Any] = {
            "sqlite_rps": _median(a, "rps"),
            "postgres_rps": _median(b, "rps"),
            "sqlite_p50_ms": _median(a, "p50_ms"),
            "postgres_p50_ms": _median(b, "p50_ms"),
            "sqlite_server_cpu_pct": a.get("server_cpu_pct") if a else None,
            "postgres_server_cpu_pct": b.get("server_cpu_pct") if b else None,
            "sqlite_errors": a.get("errors") if a else None,
            "postgres_errors": b.get("errors") if b else None,
        }
        s, p = row["sqlite_rps"], row["postgres_rps"]
        row["ratio"] = p / s if s and p is not None else None
        whys = (("SQLite", _why(a)), ("PostgreSQL", _why(b)))
        notes = [f"{db}: {why}" for db, why in whys if why]
        for db, found in (("SQLite", a), ("PostgreSQL", b)):
            if found and found.get("errors"):
                notes.append(f"**{db}: {found['errors']} errors ({found['timeouts']} timeouts, "
                             f"{found['non_2xx_3xx']} non-2xx)**")  # fmt: skip
        if notes:
            row["notes"] = "; ".join(notes)
        out[name] = row
    s_load, p_load = sqlite.get("load", {}).get("rate"), pg.get("load", {}).get("rate")
    if s_load and p_load:
        s_rate, p_rate = s_load["median"], p_load
        out["bulk_load"] = {"sqlite_rps": s_rate, "postgres_rps": p_rate, "ratio": p_rate / s_rate}
    return out


def number(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def markdown(results: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """The "PostgreSQL vs SQLite" section of the results (lines of markdown)."""
    pg, main_size = results.get("postgres"), results["main_size"]
    if not pg:
        return []
    if pg.get("skipped"):
        return ["", f"PostgreSQL vs SQLite: not measured ({pg['skipped']})."]
    settings = pg.get("settings", {})
    runs = f"{pg['runs']} run(s) × {pg['duration_s']} s after a {pg['warmup_s']} s warm-up"
    if pg.get("fewer_runs"):
        runs += f" (**{pg['fewer_runs']}**; SQLite had {results['method']['runs']})"
    lines = [
        "",
        f"PostgreSQL vs SQLite at {main_size}: the same data loaded with `fhir-sandbox load` "
        f"into a fresh database, the same pinned server and wrk workloads, {runs}. PostgreSQL "
        f"{settings.get('server_version', '?')} on this machine (shared_buffers "
        f"{settings.get('shared_buffers', '?')}, synchronous_commit "
        f"{settings.get('synchronous_commit', '?')}, fsync {settings.get('fsync', '?')}): its "
        "backends are not pinned and share both cores with the server and wrk, and their CPU "
        "is not in the server CPU figures (a server below 100 % is waiting for its database, "
        "or was not given its core).",
        "",
        "| operation | SQLite req/s | PostgreSQL req/s | PostgreSQL / SQLite | SQLite p50 ms "
        "| PostgreSQL p50 ms | server CPU SQLite / PostgreSQL | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    comparison = pg.get("comparison", {})
    for name in COMPARED:
        c = comparison.get(name)
        if not c:
            continue
        cpus = [number(c.get(f"{db}_server_cpu_pct"), ".0f") for db in ("sqlite", "postgres")]
        cpu = " / ".join(f"{x}%" if x else "?" for x in cpus)
        lines.append(
            f"| {labels[name]} | {number(c['sqlite_rps'], ',.0f')} | "
            f"{number(c['postgres_rps'], ',.0f')} | {number(c['ratio'], '.2f')} | "
            f"{number(c['sqlite_p50_ms'], '.2f')} | {number(c['postgres_p50_ms'], '.2f')} | "
            f"{cpu} | {c.get('notes', '')} |"
        )
    bulk = comparison.get("bulk_load")
    if bulk:
        load = pg["load"]
        lines.append(
            f"| bulk load (`fhir-sandbox load`), resources/s | {bulk['sqlite_rps']:,.0f} | "
            f"{bulk['postgres_rps']:,.0f} | {bulk['ratio']:.2f} | | | | PostgreSQL: "
            f"{load['seconds']} s wall, {load['cpu_seconds']} s CPU (loader and workers), "
            f"{load.get('rss_peak_mb', 0):.0f} MB peak RSS; both loads with the CLI's defaults "
            f"on {load.get('cpus', '?')} CPUs; then `ANALYZE` "
            f"{pg.get('analyze_s', 0):.1f} s (not in the rate) |"
        )
    if pg.get("start_s") is not None:
        lines += [
            "",
            f"PostgreSQL server: first start after the load {pg['first_start_after_load_s']} s "
            f"(reindexed {pg['first_start_reindexed']:,}), later start {pg['start_s']} s, RSS "
            f"{pg.get('rss_idle_mb', 0):.0f} MB idle / {pg.get('rss_peak_mb') or 0:.0f} MB peak; "
            f"database {pg.get('database_mb', 0):,.0f} MB after the load.",
        ]
    return lines
