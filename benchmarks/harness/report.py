"""The report: the markdown (targets, operations, PostgreSQL, scale, data and start-up), the
results files (`results/<date>.json` and `.md`), the README block, and the console summary."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import postgres

from harness.common import (
    CONNECTIONS,
    END_MARK,
    LABELS,
    README,
    RESULTS,
    SEARCH_OPS,
    START_MARK,
    WRK_TIMEOUT_S,
    log,
)
from harness.targets import op_result, ratio_text, unanswered


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
                f"{o['rps']['max']:,.0f}) | {ratio_text(o['ratio_to_baseline'])} | "
                f"{o['p50_ms']['median']:.2f} | {o['p99_ms']['median']:.2f} | "
                f"{o.get('server_cpu_pct') or 0:.0f}% | {op_notes(name, o)} |"
            )
        elif o:
            lines.append(f"| {LABELS[name]} | 0 | | | | | {unanswered(o)} |")
    if "export" in results["not_available"]:
        lines.append(
            f"| `$export` | not available | | | | | {results['not_available']['export']} |"
        )
    elif entry.get("export"):
        e = entry["export"]
        lines.append(f"| `$export`, kick-off to complete | {e.get('rate', 0):,.0f} resources/s "
                     f"| | | | | {e.get('resources', 0):,} resources in {e.get('seconds')} s "
                     "(the dataset plus what the write operations added) |")  # fmt: skip
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
            a, b = op_result(results, large, name), op_result(results, small, name)
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

    def generate_cell(e: dict[str, Any]) -> str:
        g = e["generate"]
        return f"{g['rate']:,.0f}; {g['seconds']} s wall"

    def one_core_cell(e: dict[str, Any]) -> str:
        x = e["load_one_core"]
        return (
            f"{x['rate']:,.0f}; {x['seconds']} s wall, {x['cpu_seconds']} s CPU, "
            f"{x['rss_peak_mb']:.0f} MB peak RSS"
        )

    def load_memory_cell(e: dict[str, Any]) -> str:
        runs = e["load"]["runs"]
        peak = max(runs, key=lambda x: x["rss_peak_mb"])
        return (
            f"{peak['rss_peak_mb']:.0f} MB ({peak['processes']} processes; the load process "
            f"alone {peak['rss_peak_load_process_mb']:.0f} MB)"
        )

    cores = next((r["cpus"] for e in sizes.values() for r in e.get("load", {}).get("runs", [])
                  if "cpus" in r), "all")  # fmt: skip
    row("resources", lambda e: f"{e['resources']:,}")
    row("`fhir-sandbox generate` on one core, resources/s", generate_cell)
    row(f"`fhir-sandbox load`, {cores} cores, default workers, resources/s", load_cell)
    row("bulk load peak RSS (the load and its workers)", load_memory_cell)
    row("`fhir-sandbox load` pinned to one core (informational), resources/s", one_core_cell)
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


def print_summary(results: dict[str, Any]) -> None:
    """The targets, the PostgreSQL/SQLite ratios and the elapsed time, on the console."""
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
