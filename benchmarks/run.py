"""fhir-sandbox benchmark suite: `make bench` or `python benchmarks/run.py [--size 100k]`.

Method (benchmarks/README.md has the reasoning):

* data from `fhir-sandbox generate` (timed, pinned to core 0: the generator figure), loaded
  into a fresh SQLite file per size with `fhir-sandbox load` with its defaults on the whole
  machine (its rate and the peak RSS of its process tree are the bulk-load figures; at 10k
  also pinned to one core, for information);
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
* targets live in harness/targets.py (TARGETS); each is printed PASS or FAIL with the
  measured number;
* the main size again on PostgreSQL (a fresh database, dropped at the end; benchmarks/
  postgres.py): bulk load and the operations in postgres.COMPARED, reported as ratios to
  SQLite (`--no-postgres` skips it).

Writes benchmarks/results/<date>.json and .md (`--quick` writes to results/tmp/) and the
table between the `<!-- bench:start -->` / `<!-- bench:end -->` markers in README.md. This
file is the entry point; the harness is in benchmarks/harness/ (one module per noun).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import postgres
from harness.common import (
    CLIENT_CORE,
    CONNECTIONS,
    DEFAULT_RUN_BUDGET_S,
    GEN_SEED,
    ONE_CORE_LOAD_SIZE,
    SERVER_CORE,
    SIZES,
    WRK_TIMEOUT_S,
    log,
)
from harness.environment import ensure_tools, machine
from harness.report import print_summary, write_outputs
from harness.server import whole_machine
from harness.suite import run_suite
from harness.targets import judge
from harness.wrk import Bench


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
            "generate": f"the dataset's `fhir-sandbox generate` pinned to core {SERVER_CORE}, "
            "spawn to exit (not the 1,000-organisation probe)",
            "bulk_load": f"`fhir-sandbox load` with its defaults, not pinned: CPUs "
            f"{whole_machine()} (default workers = their number); peak RSS of its process tree "
            f"sampled every 0.2 s; also pinned to core {SERVER_CORE} at {ONE_CORE_LOAD_SIZE} "
            "(informational)",
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
    results["targets"] = judge(results)
    write_outputs(results, opts)
    print_summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
