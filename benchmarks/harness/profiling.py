"""py-spy against the pinned server while wrk loads it (`--profile`), and a summary of the
folded stacks it records."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import gzip
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from harness.common import CLIENT_CORE, RESULTS, ROOT, log
from harness.environment import run_text
from harness.server import Server, pinned
from harness.wrk import Bench, Op


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
