"""What the harness needs and installs (wrk, bench-only packages) and the machine it runs on."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.common import ROOT, log


def run_text(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


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
