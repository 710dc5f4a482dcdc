"""The run, phase by phase: data (generate and load every size), the baseline at the start,
the cold start, every size on SQLite, the main size on PostgreSQL, the baseline at the end,
then the ratios (to the baseline, between sizes, PostgreSQL/SQLite)."""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path
from typing import Any

import postgres

from harness.client import free_port
from harness.common import (
    HERE,
    ONE_CORE_LOAD_SIZE,
    SEARCH_OPS,
    SERVER_CORE,
    SIZES,
    log,
    stats,
    write_lines,
)
from harness.data import Dataset, generate, load, remove_db, sqlite_url
from harness.operations import export_figure, read_ops, search_ops, write_ops
from harness.profiling import profile_ops
from harness.queries import Queries, pick_queries
from harness.server import (
    Server,
    cold_start,
    first_start,
    proc_status,
    running,
    serve_cmd,
    server_env,
)
from harness.targets import op_result
from harness.wrk import Bench, Op, Workload, bench_ops, fmt_line


def run_suite(
    bench: Bench, opts: argparse.Namespace, workdir: Path, scale: list[str], results: dict[str, Any]
) -> None:
    main_size = opts.size
    datasets = load_data(opts, workdir, scale, results)
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
        measure_size(bench, opts, workdir, label, main, queries, results)

    # ---- the main size again on PostgreSQL
    if not opts.no_postgres:
        sqlite_load = results["sizes"][main_size]["load"]
        try:
            results["postgres"] = postgres.measure(opts, workdir, main, queries, sqlite_load)
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


def load_data(
    opts: argparse.Namespace, workdir: Path, scale: list[str], results: dict[str, Any]
) -> dict[str, Dataset]:
    """Generate and load every size. The judged bulk-load figure is the load with the CLI's
    defaults on the whole machine; at ONE_CORE_LOAD_SIZE the same load pinned to the server
    core is added as an informational figure."""
    datasets: dict[str, Dataset] = {}
    for label in scale:
        dataset = datasets[label] = generate(label, SIZES[label], workdir)
        # several loads only where they are cheap: the main size when it is the smallest
        repeats = opts.runs if label == scale[0] == opts.size else 1
        loads = []
        for n in range(repeats):
            db = workdir / (f"{label}.db" if n == 0 else f"{label}-again.db")
            loads.append(load(dataset, db, workdir / f"load-{label}.log"))
            log(f"loaded {label}: {describe_load(loads[-1])}")
        remove_db(workdir / f"{label}-again.db")
        entry = results["sizes"][label] = {
            "resources": dataset.total,
            "counts": dataset.counts,
            "generate": dataset.generated,
            "load": {"rate": stats([x["rate"] for x in loads]), "runs": loads,
                     "resources": dataset.total},
        }  # fmt: skip
        if label == ONE_CORE_LOAD_SIZE:
            db = workdir / f"{label}-one-core.db"
            entry["load_one_core"] = x = load(
                dataset, db, workdir / f"load-{label}-one-core.log", cores=SERVER_CORE
            )
            remove_db(db)
            log(f"loaded {label} pinned to core {SERVER_CORE} (informational): "
                f"{describe_load(x)}")  # fmt: skip
    return datasets


def describe_load(x: dict[str, Any]) -> str:
    return (f"{x['rate']:,.0f} resources/s ({x['seconds']} s wall, {x['cpu_seconds']} s CPU, "
            f"{x['cpus']} CPU(s); peak RSS {x['rss_peak_mb']:.0f} MB over {x['processes']} "
            f"process{'' if x['processes'] == 1 else 'es'})")  # fmt: skip


def measure_size(
    bench: Bench,
    opts: argparse.Namespace,
    workdir: Path,
    label: str,
    main: Dataset,
    queries: Queries,
    results: dict[str, Any],
) -> None:
    """One size on SQLite: first start after the load, a normal start, the operations (reads
    and writes, `$export` and profiles at the main size only)."""
    main_size = opts.size
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
            export = export_figure(port)
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


def scale_ratios(results: dict[str, Any], scale: list[str]) -> dict[str, dict[str, float | None]]:
    """p50(larger) / p50(smaller) of the same searches, for each step and end to end."""
    pairs = [(b, a) for a, b in itertools.pairwise(scale)]
    if len(scale) > 2:
        pairs.append((scale[-1], scale[0]))
    out: dict[str, dict[str, float | None]] = {}
    for large, small in pairs:
        ratios: dict[str, float | None] = {}
        for name in SEARCH_OPS:
            a, b = op_result(results, large, name), op_result(results, small, name)
            ok = a and b and a.get("p50_ms") and b.get("p50_ms")
            ratios[name] = a["p50_ms"]["median"] / b["p50_ms"]["median"] if ok else None  # type: ignore[index]
        out[f"{large}/{small}"] = ratios
    return out
