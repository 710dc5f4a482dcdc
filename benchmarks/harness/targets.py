"""The targets (TARGETS) and how each is judged from the results: PASS, FAIL, or None when
the run did not measure it (a size it did not run). An operation with no answer within the
timeout is a FAIL, never "not measured"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.common import ONE_CORE_LOAD_SIZE, SCALE_JUDGED, WRK_TIMEOUT_S
from harness.server import MACHINE_CPUS


@dataclass(frozen=True)
class Target:
    text: str
    goal: str
    check: Callable[[dict[str, Any]], tuple[str, bool | None]]


def op_result(results: dict[str, Any], size: str, op: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = results["sizes"].get(size, {}).get("ops", {}).get(op)
    return found


def ratio_text(r: float) -> str:
    return f"{r:.3f}" if r >= 0.01 else f"{r:.4f}"


def unanswered(found: dict[str, Any]) -> str:
    """What to say about an operation none of whose requests finished within the wrk timeout."""
    probe = found.get("probe", {}).get("ms")
    alone = f"; one request alone {probe / 1000:.1f} s" if probe is not None else ""
    return f"no answer within {WRK_TIMEOUT_S} s at {found.get('connections')} connections{alone}"


def _measured(found: dict[str, Any] | None) -> bool:
    return bool(found and found.get("rps") and found["rps"]["median"] > 0)


def _rps_target(size: str, op: str, minimum: float) -> Callable[[dict[str, Any]], Any]:
    def check(results: dict[str, Any]) -> tuple[str, bool | None]:
        where = results["main_size"] if size == "main" else size
        found = op_result(results, where, op)
        if found and found.get("skipped"):
            return (f"{found['skipped']} at {where}", False)
        if found and not found.get("p50_ms"):
            return (f"{unanswered(found)} at {where}", False)
        if not _measured(found):
            return (f"not measured at {where}", None)
        assert found is not None
        rps = found["rps"]["median"]
        text = f"{rps:,.0f} req/s at {where} (×{ratio_text(found['ratio_to_baseline'])} baseline)"
        return (text, rps >= minimum)

    return check


def _check_read(results: dict[str, Any]) -> tuple[str, bool | None]:
    found = op_result(results, results["main_size"], "read")
    if not _measured(found):
        return ("not measured", None)
    assert found is not None
    rps, p99 = found["rps"]["median"], found["p99_ms"]["median"]
    text = (
        f"{rps:,.0f} req/s, p99 {p99:.1f} ms (×{ratio_text(found['ratio_to_baseline'])} baseline)"
    )
    return (text, rps >= 5000 and p99 <= 10)


def _check_bulk(results: dict[str, Any]) -> tuple[str, bool | None]:
    """The load with the CLI's defaults on the whole machine; the one-core load (at
    ONE_CORE_LOAD_SIZE) is mentioned, not judged."""
    main_size = results["main_size"]
    load = results["sizes"][main_size].get("load")
    if not load:
        return ("not measured", None)
    rate = load["rate"]["median"]
    text = f"{rate:,.0f} resources/s at {main_size} ({load['resources']:,} resources)"
    one_core = results["sizes"].get(ONE_CORE_LOAD_SIZE, {}).get("load_one_core")
    if one_core:
        text += (f"; one core, in-process (informational): {one_core['rate']:,.0f} resources/s "
                 f"at {ONE_CORE_LOAD_SIZE}")  # fmt: skip
    return (text, rate >= 5000)


def _check_load_memory(results: dict[str, Any]) -> tuple[str, bool | None]:
    """Peak RSS of the load and its workers, at every size loaded; judged on the highest."""
    peaks = {
        label: max(run["rss_peak_mb"] for run in entry["load"]["runs"])
        for label, entry in results["sizes"].items()
        if entry.get("load") and all("rss_peak_mb" in run for run in entry["load"]["runs"])
    }
    if not peaks:
        return ("not measured", None)
    text = ", ".join(f"{mb:.0f} MB at {label}" for label, mb in peaks.items())
    return (f"peak {text}", max(peaks.values()) <= 500)


def _check_million(results: dict[str, Any]) -> tuple[str, bool | None]:
    load = results["sizes"].get("1m", {}).get("load")
    if not load:
        return ("needs --size 1m", None)
    run = load["runs"][0]
    seconds = run["seconds"]
    text = (f"{seconds / 60:.1f} min ({seconds:.0f} s) for {run['resources']:,} resources, "
            f"{run['rate']:,.0f} resources/s")  # fmt: skip
    return (text, seconds < 300)


def _check_generate(results: dict[str, Any]) -> tuple[str, bool | None]:
    main_size = results["main_size"]
    generated = results["sizes"][main_size].get("generate")
    if not generated:
        return ("not measured", None)
    rate = generated["rate"]
    text = (
        f"{rate:,.0f} resources/s at {main_size} ({generated['resources']:,} resources in "
        f"{generated['seconds']:.2f} s wall, spawn to exit, core {generated['core']})"
    )
    return (text, rate >= 50_000)


def _check_transaction(results: dict[str, Any]) -> tuple[str, bool | None]:
    """Validated resources/s through 100-entry transaction Bundles (the issue's figure)."""
    main_size = results["main_size"]
    found = op_result(results, main_size, "transaction")
    if "transaction" in results.get("not_available", {}):
        return (f"not available: {results['not_available']['transaction']}", False)
    if not found or not found.get("resources_per_s"):
        return ("not measured", None)
    rate = found["resources_per_s"]
    text = f"{rate:,.0f} resources/s at {main_size} ({found['rps']['median']:.1f} Bundles/s)"
    return (text, rate >= 3000)


def _check_export(results: dict[str, Any]) -> tuple[str, bool | None]:
    """`$export` of the main dataset, kick-off to a complete manifest."""
    main_size = results["main_size"]
    if "export" in results.get("not_available", {}):
        return (f"not available: {results['not_available']['export']}", False)
    export = results["sizes"][main_size].get("export")
    if not export:
        return ("not measured", None)
    if export.get("error"):
        return (export["error"], False)
    text = (f"{export['rate']:,.0f} resources/s at {main_size} ({export.get('resources', 0):,} "
            f"resources in {export['seconds']:.1f} s)")  # fmt: skip
    return (text, export["rate"] >= 20_000)


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
    Target("transaction Bundles of 100 creates", "≥ 3,000 resources/s", _check_transaction),
    Target("$export, kick-off to complete manifest", "≥ 20,000 resources/s", _check_export),
    Target(f"bulk load (validated), {len(MACHINE_CPUS)} cores, default workers",
           "≥ 5,000 resources/s", _check_bulk),
    Target("bulk load memory", "≤ 500 MB RSS (process tree peak)", _check_load_memory),
    Target("1M resources loaded", "< 5 min", _check_million),
    Target("generate (synthetic directory)", "≥ 50,000 resources/s", _check_generate),
    Target("indexed search p50 at 100k / p50 at 10k", "≤ 1.5", _check_scale),
    Target("cold start to first answer, with seed", "≤ 2 s", _check_cold),
    Target("server RSS under load at 100k", "≤ 300 MB", _check_rss),
)  # fmt: skip


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with what was measured and PASS / FAIL / n/a."""
    return [
        {"target": t.text, "goal": t.goal, "measured": measured,
         "result": {True: "PASS", False: "FAIL", None: "n/a"}[ok]}
        for t in TARGETS
        for measured, ok in [t.check(results)]
    ]  # fmt: skip
