"""wrk: what it runs (Workload), the operations measured with it (Op), and the measurement
itself (Bench: a warm-up, then `--runs` runs with the server's CPU and RSS sampled)."""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.common import (
    CLIENT_CORE,
    CONNECTIONS,
    LUA,
    PROBE_TIMEOUT_S,
    WRK_TIMEOUT_S,
    log,
    stats,
)
from harness.server import Sampler, Server, cpu_seconds, pinned


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
