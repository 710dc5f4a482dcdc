"""Processes: pinning to cores, the server under test (stopped by its own pid), RSS sampling of
a process or of its whole tree, and the measured starts (cold, first after a load)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.client import free_port, http_call
from harness.common import SERVER_CORE, log, stats

# The CPUs the harness was given, read before run.py pins itself to the client core (its
# children inherit that pin): "the whole machine" for a process that must not be pinned.
MACHINE_CPUS = sorted(os.sched_getaffinity(0))


def pinned(core: str, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", core, *cmd]


def whole_machine() -> str:
    """The taskset CPU list of every CPU the harness started with (e.g. "0,1")."""
    return ",".join(str(cpu) for cpu in MACHINE_CPUS)


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


def children(pid: int) -> list[int]:
    """A process's children: /proc/<pid>/task/<tid>/children of each of its threads (a child
    is listed under the thread that forked it)."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(child) for child in listing.read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children(current)
    return tree


class Sampler:
    """Samples the RSS of a process (or, with `tree`, the sum over it and its descendants)
    every 0.2 s; `peak_kb` is the highest sample, `processes` the most processes seen."""

    def __init__(self, pid: int, interval: float = 0.2, tree: bool = False):
        self.pid, self.interval, self.tree = pid, interval, tree
        self.peak_kb = self.peak_main_kb = self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            pids = process_tree(self.pid) if self.tree else [self.pid]
            rss = [proc_status(pid, "VmRSS") or 0 for pid in pids]
            self.peak_kb = max(self.peak_kb, sum(rss))
            self.peak_main_kb = max(self.peak_main_kb, rss[0])
            self.processes = max(self.processes, sum(1 for kb in rss if kb))
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


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


def serve_cmd(port: int, database_url: str | None) -> list[str]:
    cmd = [*fhir_cli(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return cmd + (["--database-url", database_url] if database_url else [])


def server_env(data_dir: Path, seed: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SANDBOX_")}
    env.update(FHIR_SANDBOX_DATA_DIR=str(data_dir), FHIR_SANDBOX_SEED_ON_START=str(seed).lower())
    return env


def first_start(
    label: str, cmd: list[str], port: int, env: dict[str, str], workdir: Path
) -> tuple[float, int]:
    """The first start after a load (which may reindex): seconds and resources reindexed."""
    first = Server(f"first {label}", cmd, port, env, workdir / f"first-{label}.log")
    with running(first):
        took = first.wait_ready()
        reindexed = re.search(r"reindexed (\d+) resources", first.head_text())
    return round(took, 2), int(reindexed.group(1)) if reindexed else 0


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
