"""The method's settings (paths, sizes, cores, connections, timeouts, labels) and the helpers
every module of the harness uses (log, stats, write_lines)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # benchmarks/
ROOT = HERE.parent
LUA = HERE / "lua"
RESULTS = HERE / "results"
README = ROOT / "README.md"
START_MARK, END_MARK = "<!-- bench:start -->", "<!-- bench:end -->"

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
# the size at which the bulk load is also measured pinned to one core (informational, cheap)
ONE_CORE_LOAD_SIZE = "10k"
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


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)
