"""Datasets: `fhir-sandbox generate` (timed, pinned to the server core) and `fhir-sandbox
load` into a fresh database (timed, with the peak RSS of the loader's process tree)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.common import GEN_SEED, SERVER_CORE, log
from harness.server import MACHINE_CPUS, Sampler, fhir_cli, pinned, process_tree, whole_machine


@dataclass
class Dataset:
    label: str
    directory: Path
    counts: dict[str, int] = field(default_factory=dict)
    # how `fhir-sandbox generate` wrote it: seconds from spawn to exit, resources/s, …
    generated: dict[str, Any] = field(default_factory=dict)

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
    """`fhir-sandbox generate` with the organisation count that gives ~size resources.

    The count comes from a 1,000-organisation probe (not timed); the dataset itself is
    generated pinned to the server core and timed from spawn to exit (the generator figure).
    """
    probe = workdir / "probe"
    per_org = sum(_generate(probe, 1000).values()) / 1000
    shutil.rmtree(probe)
    organizations = max(1, round(size / per_org))
    directory = workdir / f"data-{label}"
    started = time.perf_counter()
    counts = _generate(directory, organizations, core=SERVER_CORE)
    seconds = time.perf_counter() - started
    total = sum(counts.values())
    generated = {
        "seconds": round(seconds, 2),
        "rate": total / seconds,
        "resources": total,
        "organizations": organizations,
        "core": SERVER_CORE,
    }
    log(f"generated {label}: {total:,} resources ({organizations:,} organisations) in "
        f"{seconds:.2f} s on core {SERVER_CORE}: {total / seconds:,.0f} resources/s")  # fmt: skip
    return Dataset(label, directory, counts, generated)


def _generate(directory: Path, organizations: int, core: str | None = None) -> dict[str, int]:
    cmd = [*fhir_cli(), "generate", "--out", str(directory), "--organizations",
           str(organizations), "--seed", str(GEN_SEED)]  # fmt: skip
    subprocess.run(
        pinned(core, cmd) if core else cmd,
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


def load(dataset: Dataset, db: Path, logfile: Path, cores: str | None = None) -> dict[str, Any]:
    """A timed load into a fresh SQLite file (see load_into)."""
    remove_db(db)
    return load_into(dataset, sqlite_url(db), logfile, cores=cores)


def load_into(
    dataset: Dataset,
    url: str,
    logfile: Path,
    timeout: float | None = None,
    cores: str | None = None,
) -> dict[str, Any]:
    """`db upgrade`, then a timed `fhir-sandbox load` with the CLI's defaults.

    Not pinned by default: the load gets every CPU the harness started with (run.py pins
    itself to the client core, and a child would inherit that), so its `--workers` default,
    the CPUs in its affinity mask, is the machine's. `cores` pins it instead (e.g. "0": one
    CPU, hence the in-process path). The RSS of the load and its workers (process tree) is
    sampled every 0.2 s; the CPU seconds are those of the load and its workers. Stopped after
    `timeout` seconds, when given.
    """
    cpus = cores or whole_machine()
    with logfile.open("ab") as out:
        subprocess.run([*fhir_cli(), "db", "upgrade", "--database-url", url],
                       check=True, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        before, started = os.times(), time.perf_counter()
        files = [str(f) for f in dataset.files]
        proc = subprocess.Popen(
            pinned(cpus, [*fhir_cli(), "load", *files, "--database-url", url]),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        with Sampler(proc.pid, tree=True) as sampler:
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop_tree(proc)
                raise RuntimeError(
                    f"`fhir-sandbox load` had not finished after {timeout:.0f} s and was stopped"
                ) from None
        seconds, after = time.perf_counter() - started, os.times()
    if returncode != 0:
        raise RuntimeError(f"`fhir-sandbox load` failed (exit {returncode}) after "
                           f"{seconds:.0f} s: {last_words(logfile)}")  # fmt: skip
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "rate": dataset.total / seconds,
        "resources": dataset.total,
        "cpus": len(cores.split(",")) if cores else len(MACHINE_CPUS),
        "taskset": cpus,
        "pinned": cores is not None,
        "rss_peak_mb": round(sampler.peak_kb / 1024, 1),
        "rss_peak_load_process_mb": round(sampler.peak_main_kb / 1024, 1),
        "processes": sampler.processes,
    }


def stop_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a load and its workers, each by its pid, and reap the load."""
    for pid in process_tree(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


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
