"""fhir-sandbox benchmark suite: `make bench` or `python benchmarks/run.py [--size 100k]`.

Method (benchmarks/README.md has the reasoning):

* data from `fhir-sandbox generate`, loaded into a fresh SQLite file per size with
  `fhir-sandbox load` (its rate is the bulk-load figure);
* the server (`fhir-sandbox serve`, seeding off) runs alone on core 0 (`taskset -c 0`), wrk
  (Debian's, installed here when missing) on core 1 with this script; one wrk thread, 32
  connections, `--latency`;
* a warm-up run before every measurement; each figure is the median of `--runs` runs, with
  min and max;
* a bare ASGI app (benchmarks/baseline_app.py: uvicorn + uvloop + httptools, fixed 2 KB JSON)
  measured the same way at the start and at the end of the run, and every throughput also
  given as a ratio to it;
* query values (ids, identifiers, names, organisations) are read from the generated NDJSON,
  never typed by hand; the same searches run at every size and their p50 ratio is reported;
* targets live here (TARGETS); each is printed PASS or FAIL with the measured number;
* the main size again on PostgreSQL (a fresh database, dropped at the end; benchmarks/
  postgres.py): bulk load and the operations in postgres.COMPARED, reported as ratios to
  SQLite (`--no-postgres` skips it).

Writes benchmarks/results/<date>.json and .md (`--quick` writes to results/tmp/) and the
table between the `<!-- bench:start -->` / `<!-- bench:end -->` markers in README.md.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import gzip
import http.client
import importlib.metadata
import importlib.util
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import postgres

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LUA = HERE / "lua"
RESULTS = HERE / "results"
README = ROOT / "README.md"
START_MARK, END_MARK = "<!-- bench:start -->", "<!-- bench:end -->"

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
SERVER_CORE, CLIENT_CORE = "0", "1"
CONNECTIONS = 32
# 100-entry transactions are serialised by the writer lock and take ~1 s each: with 32
# connections every request would wait longer than WRK_TIMEOUT_S, so they get fewer.
TRANSACTION_CONNECTIONS = 4
WRK_TIMEOUT_S = 10  # wrk counts a request slower than this as a timeout
PROBE_TIMEOUT_S = 15.0  # one unloaded request slower than this: not load-tested, reported
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
GEN_SEED = 1
# `make bench` (100k, default runs) has to finish within 15 min: when the PostgreSQL
# comparison would take it past this, its operations get fewer runs (and the output says so)
DEFAULT_RUN_BUDGET_S = 14 * 60

# The same searches at every size (their p50 ratio is the scale figure).
SEARCH_OPS = ("identifier", "name", "chained", "include", "revinclude", "deep_page", "count")
# The scale target covers the indexed searches; `_summary=count` counts every match, and the
# number of matches grows with the data by construction, so it is reported but not judged.
SCALE_JUDGED = ("identifier", "name", "chained", "include", "revinclude", "deep_page")
LABELS = {
    "read": "read by id",
    "vread": "vread",
    "identifier": "search by identifier (token, 1 hit)",
    "name": "search by name (string prefix, page of 20)",
    "chained": "chained (PractitionerRole?organization.identifier=)",
    "include": "search + _include=Organization:endpoint",
    "revinclude": "search + _revinclude=PractitionerRole:organization",
    "deep_page": "deep page (page 50 of Practitioner, via next links)",
    "count": "_summary=count (Practitioner?active=true)",
    "create": "create Practitioner (validated, indexed, committed)",
    "transaction": "transaction Bundle, 100 creates",
    "update": "update with If-Match (each PUT on a distinct resource)",
}


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    text: str
    goal: str
    check: Callable[[dict[str, Any]], tuple[str, bool | None]]


def _op(results: dict[str, Any], size: str, op: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = results["sizes"].get(size, {}).get("ops", {}).get(op)
    return found


def _measured(found: dict[str, Any] | None) -> bool:
    return bool(found and found.get("rps") and found["rps"]["median"] > 0)


def _rps_target(size: str, op: str, minimum: float) -> Callable[[dict[str, Any]], Any]:
    def check(results: dict[str, Any]) -> tuple[str, bool | None]:
        where = results["main_size"] if size == "main" else size
        found = _op(results, where, op)
        if found and found.get("skipped"):
            return (f"{found['skipped']} at {where}", False)
        if found and not found.get("p50_ms"):
            return (f"{_unanswered(found)} at {where}", False)
        if not _measured(found):
            return (f"not measured at {where}", None)
        assert found is not None
        rps = found["rps"]["median"]
        text = f"{rps:,.0f} req/s at {where} (×{_ratio(found['ratio_to_baseline'])} baseline)"
        return (text, rps >= minimum)

    return check


def _unanswered(found: dict[str, Any]) -> str:
    """What to say about an operation none of whose requests finished within the wrk timeout."""
    probe = found.get("probe", {}).get("ms")
    alone = f"; one request alone {probe / 1000:.1f} s" if probe is not None else ""
    return f"no answer within {WRK_TIMEOUT_S} s at {found.get('connections')} connections{alone}"


def _check_read(results: dict[str, Any]) -> tuple[str, bool | None]:
    found = _op(results, results["main_size"], "read")
    if not _measured(found):
        return ("not measured", None)
    assert found is not None
    rps, p99 = found["rps"]["median"], found["p99_ms"]["median"]
    text = f"{rps:,.0f} req/s, p99 {p99:.1f} ms (×{_ratio(found['ratio_to_baseline'])} baseline)"
    return (text, rps >= 5000 and p99 <= 10)


def _check_bulk(results: dict[str, Any]) -> tuple[str, bool | None]:
    load = results["sizes"][results["main_size"]].get("load")
    if not load:
        return ("not measured", None)
    rate = load["rate"]["median"]
    return (f"{rate:,.0f} resources/s ({load['resources']:,} resources)", rate >= 5000)


def _check_scale(results: dict[str, Any]) -> tuple[str, bool | None]:
    scale = results.get("scale", {}).get("100k/10k")
    if not scale:
        return ("needs --size 100k or 1m", None)
    judged = {op: r for op, r in scale.items() if op in SCALE_JUDGED}
    measured = {op: r for op, r in judged.items() if r is not None}
    missing = [op for op, r in judged.items() if r is None]
    parts = []
    if measured:
        worst = max(measured, key=lambda op: measured[op])
        parts.append(f"worst {worst} {measured[worst]:.2f} (" + ", ".join(
            f"{op} {r:.2f}" for op, r in measured.items()) + ")")  # fmt: skip
    if missing:
        parts.append("no p50 at both sizes (timed out): " + ", ".join(missing))
    return ("; ".join(parts), not missing and max(measured.values()) <= 1.5)


def _check_cold(results: dict[str, Any]) -> tuple[str, bool | None]:
    cold = results.get("cold_start")
    if not cold or not cold.get("seconds"):
        return ("not measured", None)
    s = cold["seconds"]
    return (f"{s['median']:.2f} s (min {s['min']:.2f}, max {s['max']:.2f})", s["median"] <= 2.0)


def _check_rss(results: dict[str, Any]) -> tuple[str, bool | None]:
    rss = results["sizes"].get("100k", {}).get("rss_peak_mb")
    if rss is None:
        return ("needs --size 100k or 1m", None)
    return (f"{rss:.0f} MB peak at 100k", rss <= 300)


TARGETS = (
    Target("read by id, 32 connections", "≥ 5,000 req/s, p99 ≤ 10 ms", _check_read),
    Target("identifier search (1 hit) at 100k", "≥ 3,000 req/s",
           _rps_target("100k", "identifier", 3000)),
    Target("name-prefix search, page of 20, at 100k", "≥ 1,000 req/s",
           _rps_target("100k", "name", 1000)),
    Target("chained search at 100k", "≥ 500 req/s", _rps_target("100k", "chained", 500)),
    Target("create (validated, indexed, committed)", "≥ 1,000 req/s",
           _rps_target("main", "create", 1000)),
    Target("bulk load (validated)", "≥ 5,000 resources/s", _check_bulk),
    Target("indexed search p50 at 100k / p50 at 10k", "≤ 1.5", _check_scale),
    Target("cold start to first answer, with seed", "≤ 2 s", _check_cold),
    Target("server RSS under load at 100k", "≤ 300 MB", _check_rss),
)  # fmt: skip


# --------------------------------------------------------------------------- utilities


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_text(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def pinned(core: str, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", core, *cmd]


def fhir_cli() -> list[str]:
    script = Path(sys.executable).parent / "fhir-sandbox"
    return [str(script)] if script.exists() else [sys.executable, "-m", "fhir_sandbox"]


def proc_status(pid: int, name: str) -> int | None:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = {"Accept": "application/fhir+json", **(headers or {})}
    if body is not None:
        sent["Content-Type"] = "application/fhir+json"
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def search_path(resource_type: str, params: list[tuple[str, str]]) -> str:
    return f"/fhir/{resource_type}?" + urllib.parse.urlencode(params)


def write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# --------------------------------------------------------------------------- environment


def ensure_tools(need_profiler: bool) -> None:
    """wrk from Debian, and the bench-only Python packages, installed when missing."""
    if importlib.util.find_spec("fhir_sandbox") is None:
        sys.exit("run with the project's virtualenv: .venv/bin/python benchmarks/run.py")
    if shutil.which("taskset") is None:
        sys.exit("taskset (util-linux) is needed to pin the server and wrk to cores")
    if shutil.which("wrk") is None:
        log("wrk is missing: apt-get update && apt-get install -y wrk")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        quiet = {"stdout": subprocess.DEVNULL, "env": env, "check": True}
        subprocess.run([*sudo, "apt-get", "update"], **quiet)  # type: ignore[call-overload]
        subprocess.run([*sudo, "apt-get", "install", "-y", "wrk"], **quiet)  # type: ignore[call-overload]
    wanted = ["uvloop", "httptools", "pyinstrument"]
    missing = [m for m in wanted if importlib.util.find_spec(m) is None]
    if need_profiler and shutil.which("py-spy", path=str(Path(sys.executable).parent)) is None:
        missing.append("py-spy")
    if missing:  # bench-only: never added to the project's dependencies
        log(f"installing bench-only packages into {sys.prefix}: {', '.join(missing)}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)


def machine() -> dict[str, Any]:
    lscpu = run_text(["lscpu"])
    model = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)
    meminfo = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    commit = run_text(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"])
    dirty = run_text(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    versions = {}
    for dist in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "sqlalchemy",
                 "orjson", "pydantic", "fhir.resources"):  # fmt: skip
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    return {
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(int(meminfo.group(1)) / 1024 / 1024, 1) if meminfo else None,
        "kernel": platform.release(),
        "os": run_text(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": run_text(["sh", "-c", "wrk -v 2>&1 | head -1"]),
        "git_commit": commit + ("-dirty" if dirty else ""),
        "packages": versions,
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


# --------------------------------------------------------------------------- processes


class Server:
    """A server process pinned to the server core; stopped by its own pid (SIGTERM)."""

    def __init__(self, name: str, cmd: list[str], port: int, env: dict[str, str], logfile: Path):
        self.name, self.cmd, self.port, self.env, self.logfile = name, cmd, port, env, logfile
        self.restarts = 0
        self._spawn()

    def _spawn(self) -> None:
        self._log = self.logfile.open("ab")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            pinned(SERVER_CORE, self.cmd), env=self.env, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, path: str = "/fhir/metadata", timeout: float = 3600.0) -> float:
        """Seconds from spawn to the first 200 on `path` (polled every 5 ms)."""
        while time.perf_counter() - self.started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; {self.logfile}:\n{self.tail()}")
            with contextlib.suppress(OSError):
                if http_call(self.port, "GET", path, timeout=5)[0] == 200:
                    return time.perf_counter() - self.started
            time.sleep(0.005)
        raise RuntimeError(f"{self.name} not ready after {timeout} s")

    def tail(self, lines: int = 20) -> str:
        text = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def head_text(self, max_bytes: int = 20000) -> str:
        with self.logfile.open("rb") as handle:
            return handle.read(max_bytes).decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def restart(self) -> float:
        """Stop and start again (drops work queued by requests that wrk gave up on)."""
        self.stop()
        self.restarts += 1
        self._spawn()
        return self.wait_ready()


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


class Sampler:
    """Samples a process's RSS every 0.2 s while wrk runs."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, proc_status(self.pid, "VmRSS") or 0)
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------- wrk


@dataclass
class Workload:
    """What wrk does: a Lua script (benchmarks/lua/) and its arguments."""

    script: str
    args: list[str]
    # called before every wrk run (warm-up included) with the run's seconds; returns args
    prepare: Callable[[int], list[str]] | None = None
    # called after every wrk run with its parsed summary
    after: Callable[[dict[str, Any]], None] | None = None
    connections: int = CONNECTIONS


@dataclass
class Op:
    """One operation: its wrk workload, a single request to check it first, and notes."""

    workload: Workload
    probe: Callable[[], dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)


class Bench:
    def __init__(self, opts: argparse.Namespace, workdir: Path):
        self.opts, self.workdir = opts, workdir
        self.scripts = workdir / "lua"
        self.scripts.mkdir(parents=True, exist_ok=True)
        report = (LUA / "report.lua").read_text()
        for script in LUA.glob("*.lua"):
            if script.name != "report.lua":
                (self.scripts / script.name).write_text(script.read_text() + "\n" + report)

    def wrk(self, port: int, workload: Workload, seconds: int) -> dict[str, Any]:
        args = workload.prepare(seconds) if workload.prepare else workload.args
        cmd = pinned(CLIENT_CORE, [
            "wrk", "-t1", f"-c{workload.connections}", f"-d{seconds}s",
            "--timeout", f"{WRK_TIMEOUT_S}s", "--latency",
            "-s", str(self.scripts / workload.script), f"http://127.0.0.1:{port}/",
            "--", *args,
        ])  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk gave no summary: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        summary: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
        summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6)
        if workload.after:
            workload.after(summary)
        return summary

    def measure(self, port: int, pid: int | None, workload: Workload) -> dict[str, Any]:
        """A warm-up run, then `--runs` measured wrk runs: medians with min and max."""
        opts = self.opts
        self.wrk(port, workload, opts.warmup)
        raw: list[dict[str, Any]] = []
        peak_kb = 0
        for _ in range(opts.runs):
            cpu0 = cpu_seconds(pid) if pid else None
            with Sampler(pid) if pid else contextlib.nullcontext() as sampler:
                summary = self.wrk(port, workload, opts.duration)
            cpu1 = cpu_seconds(pid) if pid else None
            if cpu0 is not None and cpu1 is not None:
                seconds = summary["duration_us"] / 1e6
                summary["server_cpu_pct"] = round(100 * (cpu1 - cpu0) / seconds, 1)
            if isinstance(sampler, Sampler):
                summary["rss_peak_kb"] = sampler.peak_kb
                peak_kb = max(peak_kb, sampler.peak_kb)
            raw.append(summary)
        answered = [r for r in raw if r["requests"]]

        def latency(p: str) -> dict[str, float] | None:
            return stats([r["latency_us"][p] / 1000 for r in answered]) if answered else None

        result: dict[str, Any] = {
            "rps": stats([r["rps"] for r in raw]),
            "p50_ms": latency("p50"),
            "p99_ms": latency("p99"),
            "errors": sum(sum(r["errors"].values()) for r in raw),
            "non_2xx_3xx": sum(r["errors"]["status"] for r in raw),
            "timeouts": sum(r["errors"]["timeout"] for r in raw),
            "bytes_per_response": round(
                sum(r["bytes"] for r in raw) / max(1, sum(r["requests"] for r in raw))
            ),
            "connections": workload.connections,
            "runs": raw,
        }  # fmt: skip
        if pid:
            result["rss_peak_mb"] = round(peak_kb / 1024, 1)
            cpus = [r["server_cpu_pct"] for r in raw if "server_cpu_pct" in r]
            result["server_cpu_pct"] = statistics.median(cpus) if cpus else None
        return result


def fmt_line(m: dict[str, Any]) -> str:
    if not m.get("p50_ms"):
        return "no request answered within the run"
    return (
        f"{m['rps']['median']:>9,.0f} req/s ({m['rps']['min']:,.0f}–{m['rps']['max']:,.0f})"
        f"  p50 {m['p50_ms']['median']:.2f} ms  p99 {m['p99_ms']['median']:.2f} ms"
        + (f"  errors {m['errors']}" if m["errors"] else "")
        + (f"  server CPU {m['server_cpu_pct']:.0f}%" if m.get("server_cpu_pct") else "")
    )


def bench_ops(bench: Bench, server: Server, ops: dict[str, Op], results: dict[str, Any]) -> None:
    """Probe each operation with one request, then measure it under load.

    An operation whose single request fails or takes longer than PROBE_TIMEOUT_S is reported
    as such and not load-tested; after one whose requests time out under load the server is
    restarted, so requests that wrk abandoned do not slow down the next measurement.
    """
    for name, op in ops.items():
        started = time.perf_counter()
        try:
            probe = op.probe()
        except TimeoutError:
            probe = {"status": None, "timed_out": True}
        probe["ms"] = round((time.perf_counter() - started) * 1000, 1)
        if probe.get("timed_out") or probe.get("status") not in (200, 201):
            why = (
                f"one request took more than {PROBE_TIMEOUT_S:.0f} s"
                if probe.get("timed_out")
                else f"one request answered {probe.get('status')}"
            )
            results[name] = {**op.info, "probe": probe, "skipped": why}
            log(f"  {name:11} not load-tested: {why}")
            if probe.get("timed_out"):
                server.restart()
            continue
        measured = bench.measure(server.port, server.pid, op.workload)
        results[name] = {**measured, **op.info, "probe": probe}
        log(f"  {name:11} {fmt_line(measured)}")
        if measured["timeouts"] or not measured.get("p50_ms"):
            results[name]["server_restarted_after"] = True
            server.restart()


# --------------------------------------------------------------------------- data


@dataclass
class Dataset:
    label: str
    directory: Path
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.ndjson"))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def resources(self, resource_type: str) -> Iterator[dict[str, Any]]:
        with (self.directory / f"{resource_type}.ndjson").open("rb") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)


def generate(label: str, size: int, workdir: Path) -> Dataset:
    """`fhir-sandbox generate` with the organisation count that gives ~size resources."""
    probe = workdir / "probe"
    per_org = sum(_generate(probe, 1000).values()) / 1000
    shutil.rmtree(probe)
    organizations = max(1, round(size / per_org))
    directory = workdir / f"data-{label}"
    counts = _generate(directory, organizations)
    log(f"generated {label}: {sum(counts.values()):,} resources ({organizations:,} organisations)")
    return Dataset(label, directory, counts)


def _generate(directory: Path, organizations: int) -> dict[str, int]:
    subprocess.run(
        [*fhir_cli(), "generate", "--out", str(directory), "--organizations", str(organizations),
         "--seed", str(GEN_SEED)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    counts = {}
    for path in sorted(directory.glob("*.ndjson")):
        with path.open("rb") as handle:
            counts[path.stem] = sum(1 for line in handle if line.strip())
    return counts


def remove_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


def sqlite_url(db: Path) -> str:
    return f"sqlite:///{db}"


def load(dataset: Dataset, db: Path, logfile: Path) -> dict[str, Any]:
    """A timed load into a fresh SQLite file."""
    remove_db(db)
    return load_into(dataset, sqlite_url(db), logfile)


def load_into(
    dataset: Dataset, url: str, logfile: Path, timeout: float | None = None
) -> dict[str, Any]:
    """`db upgrade`, then a timed `fhir-sandbox load` pinned to the server core (stopped
    after `timeout` seconds, when given)."""
    with logfile.open("ab") as out:
        subprocess.run([*fhir_cli(), "db", "upgrade", "--database-url", url],
                       check=True, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        before, started = os.times(), time.perf_counter()
        files = [str(f) for f in dataset.files]
        try:
            done = subprocess.run(
                pinned(SERVER_CORE, [*fhir_cli(), "load", *files, "--database-url", url]),
                stdout=out, stderr=subprocess.STDOUT, check=False, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"`fhir-sandbox load` had not finished after {timeout:.0f} s and was stopped"
            ) from None
        seconds, after = time.perf_counter() - started, os.times()
    if done.returncode != 0:
        raise RuntimeError(f"`fhir-sandbox load` failed (exit {done.returncode}) after "
                           f"{seconds:.0f} s: {last_words(logfile)}")  # fmt: skip
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "rate": dataset.total / seconds,
        "resources": dataset.total,
    }


def last_words(logfile: Path, limit: int = 400) -> str:
    """The end of a CLI log after its last progress bar (the error it printed), on one line."""
    text = logfile.read_text(errors="replace") if logfile.exists() else ""
    lines = [ln.strip() for ln in re.split(r"[\r\n]+", text) if ln.strip()]
    tail: list[str] = []
    for line in reversed(lines):
        if "━" in line:  # rich's progress bar
            break
        tail.insert(0, line)
    return " ".join(tail)[-limit:] or f"see {logfile}"


def spread(items: list[Any], count: int) -> list[Any]:
    """`count` items evenly spread over the list (deterministic)."""
    if len(items) <= count:
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


@dataclass
class Queries:
    """Query values for every operation, read from the generated NDJSON."""

    reads: list[str]  # "Type/id", spread over every type of the main dataset
    org_codes: list[str]  # ODS codes of exactly one Organization, the same one at every size
    org_codes_with_roles: list[str]
    org_codes_with_endpoints: list[str]
    name_prefixes: list[str]  # 3-letter family-name prefixes with ≥ 20 hits at the smallest
    create_body: bytes
    transaction_body: bytes


def org_facts(dataset: Dataset) -> tuple[dict[str, str], collections.Counter[str], set[str]]:
    """ODS code -> org id (unique codes only), roles per org id, org ids with endpoints."""
    codes: dict[str, list[str]] = collections.defaultdict(list)
    with_endpoints = set()
    for org in dataset.resources("Organization"):
        for ident in org.get("identifier", []):
            if ident.get("system") == ODS_ORG and "value" in ident:
                codes[ident["value"]].append(org["id"])
        if org.get("endpoint"):
            with_endpoints.add(org["id"])
    roles: collections.Counter[str] = collections.Counter()
    for role in dataset.resources("PractitionerRole"):
        ref = role.get("organization", {}).get("reference", "")
        if ref.startswith("Organization/"):
            roles[ref.split("/", 1)[1]] += 1
    unique = {code: ids[0] for code, ids in codes.items() if len(ids) == 1}
    return unique, roles, with_endpoints


def pick_queries(small: Dataset, others: list[Dataset], main: Dataset, quick: bool) -> Queries:
    """Values from the smallest dataset that mean the same thing in every larger one."""
    per_op = 100 if quick else 500
    codes, roles, endpoints = org_facts(small)
    for other in others:  # keep values that are valid (and unique) at every size
        o_codes, o_roles, o_endpoints = org_facts(other)
        codes = {c: i for c, i in codes.items() if o_codes.get(c) == i}
        roles = collections.Counter({i: n for i, n in roles.items() if o_roles.get(i)})
        endpoints &= o_endpoints
    ordered = sorted(codes)
    families: collections.Counter[str] = collections.Counter()
    for practitioner in small.resources("Practitioner"):
        for name in practitioner.get("name", []):
            if len(name.get("family", "")) >= 3:
                families[name["family"][:3]] += 1

    reads = []
    for resource_type in sorted(main.counts):
        ids = [r["id"] for r in main.resources(resource_type)]
        share = max(1, round((200 if quick else 1000) * len(ids) / main.total))
        reads += [f"{resource_type}/{i}" for i in spread(ids, share)]

    practitioner = next(main.resources("Practitioner"))
    practitioner.pop("id", None)
    practitioner.pop("meta", None)
    entries = [
        {"fullUrl": f"urn:uuid:{uuid.UUID(int=n + 1)}", "resource": practitioner,
         "request": {"method": "POST", "url": "Practitioner"}}
        for n in range(100)
    ]  # fmt: skip
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    return Queries(
        reads=reads,
        org_codes=spread(ordered, per_op),
        org_codes_with_roles=spread([c for c in ordered if roles.get(codes[c])], per_op),
        org_codes_with_endpoints=spread([c for c in ordered if codes[c] in endpoints], per_op),
        name_prefixes=sorted(p for p, n in families.items() if n >= 20),
        create_body=json.dumps(practitioner).encode(),
        transaction_body=json.dumps(transaction).encode(),
    )


def update_pool(dataset: Dataset) -> Iterator[str]:
    """Lines for update.lua: a flipped `active` on resources never updated before."""
    for resource_type in ("Practitioner", "PractitionerRole", "Organization", "HealthcareService"):
        for resource in dataset.resources(resource_type):
            resource["active"] = not resource.get("active", True)
            body = json.dumps(resource, separators=(",", ":"))
            yield f'/fhir/{resource_type}/{resource["id"]}\tW/"1"\t{body}'


# --------------------------------------------------------------------------- operations


def get_probe(port: int, path: str) -> Callable[[], dict[str, Any]]:
    """One GET: status, size, and for a Bundle its total and entries by search mode."""

    def probe() -> dict[str, Any]:
        status, body, _ = http_call(port, "GET", path, timeout=PROBE_TIMEOUT_S)
        found: dict[str, Any] = {"status": status, "bytes": len(body), "path": path}
        if status == 200:
            doc = json.loads(body)
            if doc.get("resourceType") == "Bundle":
                found["total"] = doc.get("total")
                modes = collections.Counter(
                    e.get("search", {}).get("mode") for e in doc.get("entry", [])
                )
                found["entries"] = dict(modes)
        return found

    return probe


def post_probe(port: int, path: str, body: bytes) -> Callable[[], dict[str, Any]]:
    def probe() -> dict[str, Any]:
        status, answer, _ = http_call(port, "POST", path, body=body, timeout=PROBE_TIMEOUT_S)
        return {"status": status, "bytes": len(answer), "path": path}

    return probe


def deep_page_path(port: int, first: str, page: int = 50) -> str:
    """Follow `next` links from page 1 to `page`: that page's URL (an opaque cursor)."""
    path = first
    for _ in range(page - 1):
        status, body, _ = http_call(port, "GET", path, timeout=PROBE_TIMEOUT_S)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        links = {ln["relation"]: ln["url"] for ln in json.loads(body).get("link", [])}
        if "next" not in links:
            raise RuntimeError(f"fewer than {page} pages from {first}")
        path = path_of(links["next"])
    return path


def read_ops(bench: Bench, port: int, q: Queries) -> dict[str, Op]:
    d = bench.workdir
    paths = ["/fhir/" + r for r in q.reads]
    vreads = [p + "/_history/1" for p in paths]
    reads_file = write_lines(d / "paths-read.txt", paths)
    vreads_file = write_lines(d / "paths-vread.txt", vreads)
    return {
        "read": Op(Workload("paths.lua", [reads_file]), get_probe(port, paths[0]),
                   {"distinct_urls": len(paths)}),
        "vread": Op(Workload("paths.lua", [vreads_file]), get_probe(port, vreads[0]),
                    {"distinct_urls": len(vreads)}),
    }  # fmt: skip


def search_ops(
    bench: Bench, port: int, q: Queries, tag: str, only: tuple[str, ...] = SEARCH_OPS
) -> dict[str, Op]:
    """The searches run at every size (or those of them in `only`)."""
    ods = [f"{ODS_ORG}|{c}" for c in q.org_codes]
    with_roles = [f"{ODS_ORG}|{c}" for c in q.org_codes_with_roles]
    with_endpoints = [f"{ODS_ORG}|{c}" for c in q.org_codes_with_endpoints]
    paths = {
        "identifier": [search_path("Organization", [("identifier", v)]) for v in ods],
        "name": [search_path("Practitioner", [("name", p), ("_count", "20")])
                 for p in q.name_prefixes],
        "chained": [search_path("PractitionerRole", [("organization.identifier", v)])
                    for v in with_roles],
        "include": [search_path("Organization", [("identifier", v),
                                                 ("_include", "Organization:endpoint")])
                    for v in with_endpoints],
        "revinclude": [search_path("Organization",
                                   [("identifier", v),
                                    ("_revinclude", "PractitionerRole:organization")])
                       for v in with_roles],
        "count": [search_path("Practitioner", [("active", "true"), ("_summary", "count")])],
    }  # fmt: skip
    try:
        if "deep_page" in only:
            first = search_path("Practitioner", [("_count", "20")])
            paths["deep_page"] = [deep_page_path(port, first)]
    except (RuntimeError, TimeoutError) as exc:
        log(f"  deep page: {exc}")
    ops = {}
    for name in SEARCH_OPS:
        if name in paths and name in only:
            file = write_lines(bench.workdir / f"paths-{tag}-{name}.txt", paths[name])
            ops[name] = Op(Workload("paths.lua", [file]), get_probe(port, paths[name][0]),
                           {"distinct_urls": len(paths[name])})  # fmt: skip
    return ops


def write_ops(
    bench: Bench, port: int, q: Queries, main: Dataset, results: dict[str, Any]
) -> tuple[dict[str, Op], Callable[[dict[str, Any]], None]]:
    """create, transaction (when POST /fhir takes one), update with If-Match."""
    d = bench.workdir
    ops = {"create": create_op(bench, port, q)}
    available, why = probe_transaction(port)
    if available:
        (d / "transaction.json").write_bytes(q.transaction_body)
        ops["transaction"] = Op(
            Workload("post.lua", ["/fhir", str(d / "transaction.json")],
                     connections=TRANSACTION_CONNECTIONS),
            post_probe(port, "/fhir", q.transaction_body), {"entries": 100},
        )  # fmt: skip
    else:
        results["not_available"]["transaction"] = why
        log(f"  transaction: not available ({why})")

    pool = update_pool(main)
    state: dict[str, Any] = {"rate": 2000.0, "used": 0, "exhausted": False}

    def prepare(seconds: int) -> list[str]:
        # fresh resources for this run: 1.5× what the fastest run so far could use
        lines = list(itertools.islice(pool, max(500, int(state["rate"] * seconds * 1.5))))
        state["exhausted"] = state["exhausted"] or not lines
        return [write_lines(d / "updates.txt", lines or ['/fhir/x\tW/"1"\t{}'])]

    def after(summary: dict[str, Any]) -> None:
        # lines a run did not reach are never used again: every PUT hits a fresh resource
        state["used"] += summary["requests"]
        state["rate"] = max(state["rate"], summary["rps"])

    def probe() -> dict[str, Any]:
        line = next(pool)
        path, etag, body = line.split("\t", 2)
        status, _, _ = http_call(port, "PUT", path, body=body.encode(),
                                 headers={"If-Match": etag}, timeout=PROBE_TIMEOUT_S)  # fmt: skip
        return {"status": status, "path": path}

    ops["update"] = Op(
        Workload("update.lua", [], prepare=prepare, after=after), probe,
        {"scheme": 'each PUT on a distinct, never-updated resource with If-Match: W/"1"'},
    )  # fmt: skip

    def finish(measured: dict[str, Any]) -> None:
        if "update" in measured:
            measured["update"]["pool_exhausted"] = state["exhausted"]
            measured["update"]["resources_updated"] = state["used"]
        transaction = measured.get("transaction", {})
        if transaction.get("rps"):
            transaction["resources_per_s"] = transaction["rps"]["median"] * 100

    return ops, finish


def create_op(bench: Bench, port: int, q: Queries) -> Op:
    body = bench.workdir / "create.json"
    body.write_bytes(q.create_body)
    return Op(Workload("post.lua", ["/fhir/Practitioner", str(body)]),
              post_probe(port, "/fhir/Practitioner", q.create_body))  # fmt: skip


def probe_transaction(port: int) -> tuple[bool, str]:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": "urn:uuid:00000000-0000-0000-0000-00000000beef",
        "resource": {"resourceType": "Practitioner", "active": True},
        "request": {"method": "POST", "url": "Practitioner"}}]}  # fmt: skip
    status, body, _ = http_call(port, "POST", "/fhir", body=json.dumps(bundle).encode())
    with contextlib.suppress(ValueError):
        if status == 200 and json.loads(body).get("type") == "transaction-response":
            return True, "POST /fhir answered a transaction-response"
    return False, f"POST /fhir with a transaction Bundle answered {status}"


def export_figure(port: int, resources: int, timeout: float = 900) -> dict[str, Any]:
    """`$export` kick-off to a complete manifest, when the server has it (Bulk Data flow)."""
    kickoff = {"Prefer": "respond-async"}
    status, _, headers = http_call(port, "GET", "/fhir/$export", headers=kickoff)
    if status != 202 or "content-location" not in headers:
        return {"available": False,
                "why": f"GET /fhir/$export (Prefer: respond-async) answered {status}"}  # fmt: skip
    started = time.perf_counter()  # the probe's export warmed up; this one is measured
    status, _, headers = http_call(port, "GET", "/fhir/$export", headers=kickoff)
    location = path_of(headers.get("content-location", ""))
    while time.perf_counter() - started < timeout:
        if http_call(port, "GET", location)[0] == 200:
            seconds = time.perf_counter() - started
            return {"available": True, "seconds": round(seconds, 2), "rate": resources / seconds}
        time.sleep(0.05)
    return {"available": True, "error": f"not complete after {timeout} s"}


def serve_cmd(port: int, database_url: str | None) -> list[str]:
    cmd = [*fhir_cli(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return cmd + (["--database-url", database_url] if database_url else [])


def first_start(
    label: str, cmd: list[str], port: int, env: dict[str, str], workdir: Path
) -> tuple[float, int]:
    """The first start after a load (which may reindex): seconds and resources reindexed."""
    first = Server(f"first {label}", cmd, port, env, workdir / f"first-{label}.log")
    with running(first):
        took = first.wait_ready()
        reindexed = re.search(r"reindexed (\d+) resources", first.head_text())
    return round(took, 2), int(reindexed.group(1)) if reindexed else 0


def server_env(data_dir: Path, seed: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SANDBOX_")}
    env.update(FHIR_SANDBOX_DATA_DIR=str(data_dir), FHIR_SANDBOX_SEED_ON_START=str(seed).lower())
    return env


def cold_start(workdir: Path, runs: int) -> dict[str, Any]:
    """Spawn to the first 200 on /fhir/metadata, seeding an empty data directory each time."""
    seconds, seeded = [], None
    for n in range(runs + 1):  # the first start is the warm-up (page cache, .pyc files)
        data_dir, port = workdir / f"cold-{n}", free_port()
        env = server_env(data_dir, seed=True)
        server = Server(
            f"cold start {n}", serve_cmd(port, None), port, env, workdir / f"cold-{n}.log"
        )
        with running(server):
            took = server.wait_ready(timeout=300)
            match = re.search(r"seeded the directory: (\d+) resources", server.head_text())
            seeded = int(match.group(1)) if match else seeded
        shutil.rmtree(data_dir, ignore_errors=True)
        if n:
            seconds.append(took)
        log(f"  cold start {'(warm-up) ' if not n else ''}{took:.2f} s")
    return {"seconds": stats(seconds), "runs": seconds, "seeded_resources": seeded}


# --------------------------------------------------------------------------- profiling


def profile_ops(bench: Bench, server: Server, ops: dict[str, Op], which: str) -> dict[str, Any]:
    """py-spy against the pinned server while wrk runs each chosen operation.

    Two recordings at once: every busy thread (`<op>.folded`, SQLite time included, since it
    runs without the GIL) and only the GIL holder (`<op>.gil.folded`, Python CPU time), plus
    one `py-spy dump` half-way (`<op>.dump.txt`). Folded stacks feed flamegraph tools.
    """
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        log("py-spy not found; no profiles")
        return {}
    chosen = list(ops) if which == "all" else [o for o in which.split(",") if o in ops]
    out = (RESULTS / "tmp" if bench.opts.quick else RESULTS) / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    seconds = max(bench.opts.duration, 10)
    found: dict[str, Any] = {}
    for name in chosen:
        base = out / f"{dt.date.today().isoformat()}-{server.name.split()[-1]}-{name}"
        record = [spy, "record", "--pid", str(server.pid), "--duration", str(seconds - 3),
                  "--rate", "200", "--nonblocking", "--format", "raw"]  # fmt: skip
        recorders = [
            subprocess.Popen(pinned(CLIENT_CORE, [*record, *extra, "--output", f"{base}{suffix}"]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for extra, suffix in (([], ".folded"), (["--gil"], ".gil.folded"))
        ]  # fmt: skip
        load = threading.Thread(target=bench.wrk, args=(server.port, ops[name].workload, seconds))
        load.start()
        time.sleep(seconds / 2)
        dump = run_text(
            pinned(CLIENT_CORE, [spy, "dump", "--pid", str(server.pid), "--nonblocking"])
        )
        Path(f"{base}.dump.txt").write_text(dump)
        for recorder in recorders:
            recorder.wait()
        load.join()
        found[name] = {
            "folded": str(Path(f"{base}.folded.gz").relative_to(ROOT)),
            "busy_threads": summarize_folded(Path(f"{base}.folded")),
            "gil_holder": summarize_folded(Path(f"{base}.gil.folded")),
        }
        for suffix in (".folded", ".gil.folded"):  # kept small: zcat them into a flamegraph tool
            with contextlib.suppress(OSError):
                folded = Path(f"{base}{suffix}")
                Path(f"{base}{suffix}.gz").write_bytes(gzip.compress(folded.read_bytes()))
                folded.unlink()
        top = found[name]["gil_holder"]
        log(
            f"  profiled {name}: "
            + "; ".join(f"{t['frame']} {t['inclusive_pct']}%" for t in top[3:7])
        )
        server.restart()
    return found


IDLE_LEAVES = ("Condition.wait (threading.py)", "Event.wait (threading.py)")


def summarize_folded(path: Path, limit: int = 40) -> list[dict[str, Any]]:
    """Share of busy samples per function (inclusive and self), from py-spy's folded stacks.

    Samples of idle worker threads (a leaf in IDLE_LEAVES) are left out; the event loop's
    own C code (uvloop) shows up as the self time of `Runner.run`.
    """
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    if path.suffix == ".gz":
        text = gzip.decompress(path.read_bytes()).decode() if path.exists() else ""
    else:
        text = path.read_text() if path.exists() else ""
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        if frames[-1] in IDLE_LEAVES:
            continue
        total += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
        own[frames[-1]] += int(count)
    if not total:
        return []
    return [
        {
            "frame": f,
            "inclusive_pct": round(100 * n / total, 1),
            "self_pct": round(100 * own[f] / total, 1),
        }
        for f, n in inclusive.most_common(limit)
    ]


# --------------------------------------------------------------------------- the run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--size", choices=SIZES, default="100k", help="dataset size (default 100k)")
    add("--duration", type=int, help="seconds per measured run (default 5; quick 2)")
    add(
        "--warmup", type=int, help="seconds of warm-up before each measurement (default 2; quick 1)"
    )
    add("--runs", type=int, help="measured runs per figure (default 3; quick 1)")
    add(
        "--quick",
        action="store_true",
        help="smoke mode: 2 s single runs, no scale comparison, results in results/tmp/",
    )
    add(
        "--profile",
        default="",
        help="after measuring, py-spy the main size's operations (a comma list or 'all'); "
        "profiles go to results/profiles/, the run's figures to results/tmp/",
    )
    add("--workdir", type=Path, help="data and databases (default: a temporary directory)")
    add("--keep", action="store_true", help="keep the work directory")
    add("--no-readme", action="store_true", help="do not update README.md")
    add(
        "--no-postgres",
        action="store_true",
        help="skip the PostgreSQL comparison (the main size again on a fresh PostgreSQL "
        "database: bulk load and the operations in postgres.COMPARED)",
    )
    opts = parser.parse_args()  # fmt: skip
    default_method = opts.size == "100k" and not (opts.quick or opts.profile or opts.runs
                                                  or opts.duration or opts.warmup)  # fmt: skip
    opts.duration = opts.duration or (2 if opts.quick else 5)
    opts.warmup = opts.warmup or (1 if opts.quick else 2)
    opts.runs = opts.runs or (1 if opts.quick else 3)

    began = time.perf_counter()
    opts.deadline = began + DEFAULT_RUN_BUDGET_S if default_method else None
    # stop cleanly (servers and wrk ended by pid, work directory removed) on Ctrl-C or kill,
    # also when started in the background, where SIGINT arrives ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_tools(need_profiler=bool(opts.profile))
    if not opts.no_postgres and (why := postgres.ensure_running()):
        log(f"PostgreSQL is not available ({why}): the comparison will be reported as not "
            "measured; start it or pass --no-postgres")  # fmt: skip
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {int(CLIENT_CORE)})  # this script keeps off the server's core
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="fhir-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(opts, workdir)
    main_size = opts.size
    # the scale comparison: every standard size up to the chosen one (none in quick mode)
    scale = [main_size] if opts.quick else [s for s in SIZES if SIZES[s] <= SIZES[main_size]]
    pg_method = (
        f"the main size again on a fresh database (dropped at the end) of the PostgreSQL server "
        f"at {postgres.ADMIN_URL.rsplit('/', 1)[0]}: the same load, server and workloads for "
        f"{', '.join(postgres.COMPARED)}; PostgreSQL's own processes are not pinned"
    )
    results: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "main_size": main_size,
        "quick": opts.quick,
        "method": {
            "server_core": SERVER_CORE,
            "client_core": CLIENT_CORE,
            "connections": CONNECTIONS,
            "wrk_threads": 1,
            "wrk_timeout_s": WRK_TIMEOUT_S,
            "duration_s": opts.duration,
            "warmup_s": opts.warmup,
            "runs": opts.runs,
            "generator_seed": GEN_SEED,
            "database": "SQLite file (the server's settings: WAL, synchronous=NORMAL)",
            "access_log": "on (the server's default), to a file",
            "postgres": "not measured (--no-postgres)" if opts.no_postgres else pg_method,
        },
        "machine": machine(),
        "sizes": {},
        "not_available": {},
    }
    log(f"work directory {workdir}; sizes {scale}; {opts.runs} run(s) × {opts.duration} s "
        f"after {opts.warmup} s warm-up; "
        f"load average {results['machine']['loadavg_start']}")  # fmt: skip
    try:
        run_suite(bench, opts, workdir, scale, results)
    finally:
        if opts.keep or opts.workdir:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_s"] = round(time.perf_counter() - began, 1)
    results["targets"] = [
        {"target": t.text, "goal": t.goal, "measured": measured,
         "result": {True: "PASS", False: "FAIL", None: "n/a"}[ok]}
        for t in TARGETS
        for measured, ok in [t.check(results)]
    ]  # fmt: skip
    write_outputs(results, opts)
    print()
    for t in results["targets"]:
        print(f"{t['result']:5} {t['target']}: {t['measured']}  (goal {t['goal']})")
    comparison = results.get("postgres", {}).get("comparison", {})
    if results.get("postgres", {}).get("skipped"):
        print(f"\nPostgreSQL vs SQLite: not measured ({results['postgres']['skipped']})")
    if comparison:
        print("\nPostgreSQL / SQLite (req/s; bulk load resources/s):")
    for name, c in comparison.items():
        ratio = "" if c["ratio"] is None else f"{c['ratio']:.2f}"
        sq, pg = (postgres.number(c[k], ",.0f") or "-" for k in ("sqlite_rps", "postgres_rps"))
        print(f"  {name:11} {ratio:>6}  (SQLite {sq}, PostgreSQL {pg}) {c.get('notes', '')}")
    print(f"\nfinished in {results['elapsed_s'] / 60:.1f} min")
    return 0


def run_suite(
    bench: Bench, opts: argparse.Namespace, workdir: Path, scale: list[str], results: dict[str, Any]
) -> None:
    main_size = opts.size
    # ---- data: generate and load every size; the load's rate is the bulk-load figure
    datasets: dict[str, Dataset] = {}
    for label in scale:
        dataset = datasets[label] = generate(label, SIZES[label], workdir)
        # several loads only where they are cheap: the main size when it is the smallest
        repeats = opts.runs if label == scale[0] == main_size else 1
        loads = []
        for n in range(repeats):
            db = workdir / (f"{label}.db" if n == 0 else f"{label}-again.db")
            loads.append(load(dataset, db, workdir / f"load-{label}.log"))
            x = loads[-1]
            log(f"loaded {label}: {x['rate']:,.0f} resources/s "
                f"({x['seconds']} s wall, {x['cpu_seconds']} s CPU)")  # fmt: skip
        remove_db(workdir / f"{label}-again.db")
        results["sizes"][label] = {
            "resources": dataset.total,
            "counts": dataset.counts,
            "load": {"rate": stats([x["rate"] for x in loads]), "runs": loads,
                     "resources": dataset.total},
        }  # fmt: skip
    main = datasets[main_size]
    queries = pick_queries(datasets[scale[0]], [datasets[s] for s in scale[1:]], main, opts.quick)

    # ---- baseline at the start (the same script and paths as read by id)
    base_port = free_port()
    base_cmd = [sys.executable, str(HERE / "baseline_app.py"), "--port", str(base_port)]
    reads_file = write_lines(workdir / "paths-baseline.txt", ["/fhir/" + r for r in queries.reads])
    base_workload = Workload("paths.lua", [reads_file])
    baseline = Server("baseline", base_cmd, base_port, dict(os.environ), workdir / "baseline.log")
    with running(baseline):
        baseline.wait_ready("/", timeout=60)
        base_start = bench.measure(base_port, baseline.pid, base_workload)
    log(f"baseline     {fmt_line(base_start)}")

    # ---- cold start with the seed
    log("cold start (seed on an empty data directory)")
    results["cold_start"] = cold_start(workdir, opts.runs)

    # ---- every size: first start after the load, a normal start, the operations
    for label in scale:
        entry = results["sizes"][label]
        url, port = sqlite_url(workdir / f"{label}.db"), free_port()
        env = server_env(workdir / f"unused-{label}", seed=False)
        took, reindexed = first_start(label, serve_cmd(port, url), port, env, workdir)
        entry["first_start_after_load_s"], entry["first_start_reindexed"] = took, reindexed
        log(f"{label}: first start after load {took:.1f} s (reindexed {reindexed:,})")
        server = Server(
            f"server {label}", serve_cmd(port, url), port, env, workdir / f"server-{label}.log"
        )
        with running(server):
            entry["start_s"] = round(server.wait_ready(), 2)
            entry["rss_idle_mb"] = round((proc_status(server.pid, "VmRSS") or 0) / 1024, 1)
            log(f"{label}: server ready in {entry['start_s']} s, RSS {entry['rss_idle_mb']} MB")
            ops: dict[str, Op] = {}
            if label == main_size:
                ops.update(read_ops(bench, port, queries))
            ops.update(search_ops(bench, port, queries, label))
            measured: dict[str, Any] = {}
            entry["ops"] = measured
            bench_ops(bench, server, ops, measured)
            if label == main_size:
                writes, finish = write_ops(bench, port, queries, main, results)
                bench_ops(bench, server, writes, measured)
                finish(measured)
                ops.update(writes)
                export = export_figure(port, main.total)
                if export["available"]:
                    entry["export"] = export
                else:
                    results["not_available"]["export"] = export["why"]
                    log(f"  $export: not available ({export['why']})")
            peaks = [m.get("rss_peak_mb") or 0 for m in measured.values()]
            entry["rss_peak_mb"] = max(peaks, default=None)
            entry["server_restarts"] = server.restarts
            if opts.profile and label == main_size:
                results["profiles"] = profile_ops(bench, server, ops, opts.profile)

    # ---- the main size again on PostgreSQL
    if not opts.no_postgres:
        sqlite_load = results["sizes"][main_size]["load"]
        try:
            harness = sys.modules[__name__]  # postgres.py runs it with this module's machinery
            results["postgres"] = postgres.measure(
                harness, opts, workdir, main, queries, sqlite_load
            )
        except Exception as exc:  # the comparison is extra: the SQLite figures still get written
            log(f"PostgreSQL comparison failed: {exc!r}")
            results["postgres"] = {"skipped": f"the comparison failed: {exc!r}"}

    # ---- baseline at the end, and the ratios
    baseline = Server("baseline", base_cmd, base_port, dict(os.environ), workdir / "baseline.log")
    with running(baseline):
        baseline.wait_ready("/", timeout=60)
        base_end = bench.measure(base_port, baseline.pid, base_workload)
    log(f"baseline end {fmt_line(base_end)}")
    runs = base_start["runs"] + base_end["runs"]
    results["baseline"] = {
        "rps": stats([r["rps"] for r in runs]),
        "p50_ms": stats([r["latency_us"]["p50"] / 1000 for r in runs]),
        "p99_ms": stats([r["latency_us"]["p99"] / 1000 for r in runs]),
        "body_bytes": 2048,
        "start": base_start,
        "end": base_end,
    }
    base_rps = results["baseline"]["rps"]["median"]
    for entry in [*results["sizes"].values(), results.get("postgres", {})]:
        for m in entry.get("ops", {}).values():
            if m.get("rps"):
                m["ratio_to_baseline"] = m["rps"]["median"] / base_rps
    results["scale"] = scale_ratios(results, scale)
    if results.get("postgres", {}).get("ops"):
        pg = results["postgres"]
        pg["comparison"] = postgres.compare(results["sizes"][main_size], pg)
    results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]


def scale_ratios(results: dict[str, Any], scale: list[str]) -> dict[str, dict[str, float | None]]:
    """p50(larger) / p50(smaller) of the same searches, for each step and end to end."""
    pairs = [(b, a) for a, b in itertools.pairwise(scale)]
    if len(scale) > 2:
        pairs.append((scale[-1], scale[0]))
    out: dict[str, dict[str, float | None]] = {}
    for large, small in pairs:
        ratios: dict[str, float | None] = {}
        for name in SEARCH_OPS:
            a, b = _op(results, large, name), _op(results, small, name)
            ok = a and b and a.get("p50_ms") and b.get("p50_ms")
            ratios[name] = a["p50_ms"]["median"] / b["p50_ms"]["median"] if ok else None  # type: ignore[index]
        out[f"{large}/{small}"] = ratios
    return out


# --------------------------------------------------------------------------- outputs


def markdown(results: dict[str, Any]) -> str:
    m, meth, main_size = results["machine"], results["method"], results["main_size"]
    base = results["baseline"]
    lines = [
        f"Measured {results['date'][:16].replace('T', ' ')} with `benchmarks/run.py --size "
        f"{main_size}{' --quick' if results['quick'] else ''}` "
        f"({results['elapsed_s'] / 60:.1f} min) on {m['cpu_model']}, {m['cores']} cores, "
        f"{m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}, SQLite {m['sqlite']}, commit `{m['git_commit']}`. Load average "
        f"{' / '.join(m['loadavg_start'])} at the start and {' / '.join(m.get('loadavg_end', []))} "
        "at the end: the machine is shared, so read the × baseline column first.",
        "",
        f"Server alone on core {meth['server_core']} (`taskset`), wrk on core "
        f"{meth['client_core']}, {meth['connections']} connections, {meth['runs']} run(s) × "
        f"{meth['duration_s']} s after a {meth['warmup_s']} s warm-up; medians (min–max). "
        f"Baseline, a bare ASGI app on uvicorn + uvloop + httptools answering a fixed 2 KB JSON, "
        f"measured the same way at the start and the end: **{base['rps']['median']:,.0f} req/s** "
        f"({base['rps']['min']:,.0f}–{base['rps']['max']:,.0f}), p50 "
        f"{base['p50_ms']['median']:.2f} ms, p99 {base['p99_ms']['median']:.2f} ms.",
        "",
        "| target | goal | measured | result |",
        "|---|---|---|---|",
    ]  # fmt: skip
    for t in results["targets"]:
        mark = {"PASS": "**PASS**", "FAIL": "**FAIL**"}.get(t["result"], t["result"])
        lines.append(f"| {t['target']} | {t['goal']} | {t['measured']} | {mark} |")
    entry = results["sizes"][main_size]
    lines += [
        "",
        f"Operations at {main_size} ({entry['resources']:,} resources):",
        "",
        "| operation | req/s (min–max) | × baseline | p50 ms | p99 ms | server CPU | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    ops = entry.get("ops", {})
    for name in ("read", "vread", *SEARCH_OPS, "create", "transaction", "update"):
        o = ops.get(name)
        if name in results["not_available"]:
            why = results["not_available"][name]
            lines.append(f"| {LABELS[name]} | not available | | | | | {why} |")
        elif o and o.get("skipped"):
            lines.append(f"| {LABELS[name]} | not load-tested | | | | | {o['skipped']} |")
        elif o and o.get("p50_ms"):
            lines.append(
                f"| {LABELS[name]} | {o['rps']['median']:,.0f} ({o['rps']['min']:,.0f}–"
                f"{o['rps']['max']:,.0f}) | {_ratio(o['ratio_to_baseline'])} | "
                f"{o['p50_ms']['median']:.2f} | {o['p99_ms']['median']:.2f} | "
                f"{o.get('server_cpu_pct') or 0:.0f}% | {op_notes(name, o)} |"
            )
        elif o:
            lines.append(f"| {LABELS[name]} | 0 | | | | | {_unanswered(o)} |")
    if "export" in results["not_available"]:
        lines.append(
            f"| `$export` | not available | | | | | {results['not_available']['export']} |"
        )
    elif entry.get("export"):
        e = entry["export"]
        lines.append(f"| `$export`, kick-off to complete | {e.get('rate', 0):,.0f} resources/s "
                     f"| | | | | {e.get('seconds')} s |")  # fmt: skip
    lines += postgres.markdown(results, LABELS)
    for pair, ratios in results.get("scale", {}).items():
        large, small = pair.split("/")
        lines += [
            "",
            f"Scale: the same searches at {small} and {large} (the ratio is judged ≤ 1.5 for all "
            "but `_summary=count`, whose work grows with the number of matches):",
            "",
            f"| search | p50 {small} ms | p50 {large} ms | req/s {small} | req/s {large} "
            "| p50 ratio |",
            "|---|---|---|---|---|---|",
        ]
        for name in SEARCH_OPS:
            a, b = _op(results, large, name), _op(results, small, name)
            lines.append(f"| {LABELS[name]} | {_p50(b)} | {_p50(a)} | {_rps(b)} | {_rps(a)} | "
                         f"{'' if ratios[name] is None else f'{ratios[name]:.2f}'} |")  # fmt: skip
    sizes = results["sizes"]
    lines += ["", "Data, start-up and memory:", "",
              "| what | " + " | ".join(sizes) + " |", "|---|" + "---|" * len(sizes)]  # fmt: skip

    def row(title: str, get: Callable[[dict[str, Any]], str]) -> None:
        cells = []
        for e in sizes.values():
            try:
                cells.append(get(e))
            except (KeyError, TypeError):
                cells.append("")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")

    def load_cell(e: dict[str, Any]) -> str:
        rate, runs = e["load"]["rate"], e["load"]["runs"]
        spread_ = (
            f" ({rate['min']:,.0f}–{rate['max']:,.0f}, {len(runs)} runs)" if len(runs) > 1 else ""
        )
        first = runs[0]
        return (
            f"{rate['median']:,.0f}{spread_}; {first['seconds']} s wall, "
            f"{first['cpu_seconds']} s CPU"
        )

    row("resources", lambda e: f"{e['resources']:,}")
    row("`fhir-sandbox load`, resources/s", load_cell)
    row("first start after the load", lambda e: f"{e['first_start_after_load_s']} s "
        f"(reindexed {e['first_start_reindexed']:,})")  # fmt: skip
    row("later start to first answer", lambda e: f"{e['start_s']} s")
    row(
        "server RSS idle / peak under load",
        lambda e: f"{e['rss_idle_mb']:.0f} / {e['rss_peak_mb']:.0f} MB",
    )
    row("server restarts (after timeouts)", lambda e: str(e["server_restarts"]))
    cold = results.get("cold_start", {})
    if cold.get("seconds"):
        s = cold["seconds"]
        lines += ["", f"Cold start with the seed ({cold.get('seeded_resources')} resources into an "
                  f"empty data directory): {s['median']:.2f} s ({s['min']:.2f}–{s['max']:.2f}) "
                  "from spawn to the first `/fhir/metadata` answer, "
                  "after one unmeasured start."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _p50(o: dict[str, Any] | None) -> str:
    if o and o.get("p50_ms"):
        return f"{o['p50_ms']['median']:.2f}"
    if o and o.get("skipped"):
        return "one request > 15 s" if o.get("probe", {}).get("timed_out") else o["skipped"]
    return f"no answer in {WRK_TIMEOUT_S} s" if o else ""


def _ratio(r: float) -> str:
    return f"{r:.3f}" if r >= 0.01 else f"{r:.4f}"


def _rps(o: dict[str, Any] | None) -> str:
    return f"{o['rps']['median']:,.0f}" if o and o.get("p50_ms") else ""


def op_notes(name: str, o: dict[str, Any]) -> str:
    notes = []
    probe = o.get("probe", {})
    if probe.get("total") is not None:
        notes.append(f"total {probe['total']:,}")
    if probe.get("entries"):
        notes.append(", ".join(f"{n} {mode}" for mode, n in probe["entries"].items()))
    if o.get("connections") != CONNECTIONS:
        notes.append(f"**{o.get('connections')} connections**")
    if o.get("distinct_urls", 1) > 1:
        notes.append(f"{o['distinct_urls']} URLs")
    notes.append(f"{o['bytes_per_response']:,} B/response")
    if probe.get("ms") is not None:
        notes.append(f"one unloaded request {probe['ms']:.0f} ms")
    if o.get("errors"):
        notes.append(
            f"**{o['errors']} errors ({o['timeouts']} timeouts, {o['non_2xx_3xx']} non-2xx)**"
        )
    if name == "transaction" and o.get("resources_per_s"):
        notes.append(f"{o['resources_per_s']:,.0f} resources/s")
    if name == "update":
        notes.append(f"{o.get('resources_updated', 0):,} resources, each updated once")
    return "; ".join(notes)


def write_outputs(results: dict[str, Any], opts: argparse.Namespace) -> None:
    scratch = opts.quick or opts.profile  # smoke and profiling runs are not the record
    folder = RESULTS / "tmp" if scratch else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    stem = dt.date.today().isoformat()
    if scratch:
        stem += f"-{'quick' if opts.quick else 'profile'}-{opts.size}"
    elif opts.size != "100k":
        stem += f"-{opts.size}"
    md = markdown(results)
    (folder / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (folder / f"{stem}.md").write_text(f"# fhir-sandbox benchmark, {stem}\n\n{md}")
    log(f"wrote {folder / stem}.json and .md")
    if not scratch and not opts.no_readme:
        update_readme(md, f"benchmarks/results/{stem}.md")


def update_readme(md: str, source: str) -> bool:
    """Rewrite only the block between the bench markers in README.md."""
    text = README.read_text()
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start < 0 or end < start:
        log("README.md has no bench markers; table not updated")
        return False
    note = f"<!-- generated by benchmarks/run.py into {source}; edits here are overwritten -->"
    README.write_text(f"{text[:start]}{START_MARK}\n{note}\n\n{md}\n{text[end:]}")
    log("updated the table in README.md")
    return True


if __name__ == "__main__":
    sys.exit(main())
