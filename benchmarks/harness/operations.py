"""The operations measured: reads, the searches run at every size, writes (create,
transaction, update with If-Match) and `$export`, each with a single-request probe."""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from harness.client import http_call, path_of, search_path
from harness.common import (
    ODS_ORG,
    PROBE_TIMEOUT_S,
    SEARCH_OPS,
    TRANSACTION_CONNECTIONS,
    log,
    write_lines,
)
from harness.data import Dataset
from harness.queries import Queries, update_pool
from harness.wrk import Bench, Op, Workload


def get_probe(port: int, path: str) -> Callable[[], dict[str, Any]]:
    """One GET: status, size, and for a Bundle its total and entries by search mode."""

    def probe() -> dict[str, Any]:
        status, body, _ = http_call(port, "GET", path, timeout=PROBE_TIMEOUT_S)
        found: dict[str, Any] = {"status": status, "bytes": len(body), "path": path}
        if status == 200:
            doc = json.loads(body)
            if doc.get("resourceType") == "Bundle":
                found["total"] = doc.get("total")
                modes = collections.Counter(
                    e.get("search", {}).get("mode") for e in doc.get("entry", [])
                )
                found["entries"] = dict(modes)
        return found

    return probe


def post_probe(port: int, path: str, body: bytes) -> Callable[[], dict[str, Any]]:
    def probe() -> dict[str, Any]:
        status, answer, _ = http_call(port, "POST", path, body=body, timeout=PROBE_TIMEOUT_S)
        return {"status": status, "bytes": len(answer), "path": path}

    return probe


def deep_page_path(port: int, first: str, page: int = 50) -> str:
    """Follow `next` links from page 1 to `page`: that page's URL (an opaque cursor)."""
    path = first
    for _ in range(page - 1):
        status, body, _ = http_call(port, "GET", path, timeout=PROBE_TIMEOUT_S)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        links = {ln["relation"]: ln["url"] for ln in json.loads(body).get("link", [])}
        if "next" not in links:
            raise RuntimeError(f"fewer than {page} pages from {first}")
        path = path_of(links["next"])
    return path


def read_ops(bench: Bench, port: int, q: Queries) -> dict[str, Op]:
    d = bench.workdir
    paths = ["/fhir/" + r for r in q.reads]
    vreads = [p + "/_history/1" for p in paths]
    reads_file = write_lines(d / "paths-read.txt", paths)
    vreads_file = write_lines(d / "paths-vread.txt", vreads)
    return {
        "read": Op(Workload("paths.lua", [reads_file]), get_probe(port, paths[0]),
                   {"distinct_urls": len(paths)}),
        "vread": Op(Workload("paths.lua", [vreads_file]), get_probe(port, vreads[0]),
                    {"distinct_urls": len(vreads)}),
    }  # fmt: skip


def search_ops(
    bench: Bench, port: int, q: Queries, tag: str, only: tuple[str, ...] = SEARCH_OPS
) -> dict[str, Op]:
    """The searches run at every size (or those of them in `only`)."""
    ods = [f"{ODS_ORG}|{c}" for c in q.org_codes]
    with_roles = [f"{ODS_ORG}|{c}" for c in q.org_codes_with_roles]
    with_endpoints = [f"{ODS_ORG}|{c}" for c in q.org_codes_with_endpoints]
    paths = {
        "identifier": [search_path("Organization", [("identifier", v)]) for v in ods],
        "name": [search_path("Practitioner", [("name", p), ("_count", "20")])
                 for p in q.name_prefixes],
        "chained": [search_path("PractitionerRole", [("organization.identifier", v)])
                    for v in with_roles],
        "include": [search_path("Organization", [("identifier", v),
                                                 ("_include", "Organization:endpoint")])
                    for v in with_endpoints],
        "revinclude": [search_path("Organization",
                                   [("identifier", v),
                                    ("_revinclude", "PractitionerRole:organization")])
                       for v in with_roles],
        "count": [search_path("Practitioner", [("active", "true"), ("_summary", "count")])],
    }  # fmt: skip
    try:
        if "deep_page" in only:
            first = search_path("Practitioner", [("_count", "20")])
            paths["deep_page"] = [deep_page_path(port, first)]
    except (RuntimeError, TimeoutError) as exc:
        log(f"  deep page: {exc}")
    ops = {}
    for name in SEARCH_OPS:
        if name in paths and name in only:
            file = write_lines(bench.workdir / f"paths-{tag}-{name}.txt", paths[name])
            ops[name] = Op(Workload("paths.lua", [file]), get_probe(port, paths[name][0]),
                           {"distinct_urls": len(paths[name])})  # fmt: skip
    return ops


def write_ops(
    bench: Bench, port: int, q: Queries, main: Dataset, results: dict[str, Any]
) -> tuple[dict[str, Op], Callable[[dict[str, Any]], None]]:
    """create, transaction (when POST /fhir takes one), update with If-Match."""
    d = bench.workdir
    ops = {"create": create_op(bench, port, q)}
    available, why = probe_transaction(port)
    if available:
        (d / "transaction.json").write_bytes(q.transaction_body)
        ops["transaction"] = Op(
            Workload("post.lua", ["/fhir", str(d / "transaction.json")],
                     connections=TRANSACTION_CONNECTIONS),
            post_probe(port, "/fhir", q.transaction_body), {"entries": 100},
        )  # fmt: skip
    else:
        results["not_available"]["transaction"] = why
        log(f"  transaction: not available ({why})")

    pool = update_pool(main)
    state: dict[str, Any] = {"rate": 2000.0, "used": 0, "exhausted": False}

    def prepare(seconds: int) -> list[str]:
        # fresh resources for this run: 1.5× what the fastest run so far could use
        lines = list(itertools.islice(pool, max(500, int(state["rate"] * seconds * 1.5))))
        state["exhausted"] = state["exhausted"] or not lines
        return [write_lines(d / "updates.txt", lines or ['/fhir/x\tW/"1"\t{}'])]

    def after(summary: dict[str, Any]) -> None:
        # lines a run did not reach are never used again: every PUT hits a fresh resource
        state["used"] += summary["requests"]
        state["rate"] = max(state["rate"], summary["rps"])

    def probe() -> dict[str, Any]:
        line = next(pool)
        path, etag, body = line.split("\t", 2)
        status, _, _ = http_call(port, "PUT", path, body=body.encode(),
                                 headers={"If-Match": etag}, timeout=PROBE_TIMEOUT_S)  # fmt: skip
        return {"status": status, "path": path}

    ops["update"] = Op(
        Workload("update.lua", [], prepare=prepare, after=after), probe,
        {"scheme": 'each PUT on a distinct, never-updated resource with If-Match: W/"1"'},
    )  # fmt: skip

    def finish(measured: dict[str, Any]) -> None:
        if "update" in measured:
            measured["update"]["pool_exhausted"] = state["exhausted"]
            measured["update"]["resources_updated"] = state["used"]
        transaction = measured.get("transaction", {})
        if transaction.get("rps"):
            transaction["resources_per_s"] = transaction["rps"]["median"] * 100

    return ops, finish


def create_op(bench: Bench, port: int, q: Queries) -> Op:
    body = bench.workdir / "create.json"
    body.write_bytes(q.create_body)
    return Op(Workload("post.lua", ["/fhir/Practitioner", str(body)]),
              post_probe(port, "/fhir/Practitioner", q.create_body))  # fmt: skip


def probe_transaction(port: int) -> tuple[bool, str]:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": "urn:uuid:00000000-0000-0000-0000-00000000beef",
        "resource": {"resourceType": "Practitioner", "active": True},
        "request": {"method": "POST", "url": "Practitioner"}}]}  # fmt: skip
    status, body, _ = http_call(port, "POST", "/fhir", body=json.dumps(bundle).encode())
    with contextlib.suppress(ValueError):
        if status == 200 and json.loads(body).get("type") == "transaction-response":
            return True, "POST /fhir answered a transaction-response"
    return False, f"POST /fhir with a transaction Bundle answered {status}"


def export_figure(port: int, timeout: float = 900) -> dict[str, Any]:
    """`$export` kick-off to a complete manifest, when the server has it (Bulk Data flow).

    A first, unmeasured export warms up and is waited for, so that the measured one does not
    share the core with it; the rate counts what the manifest says was exported (the write
    operations measured before it have added resources to the dataset)."""
    kickoff = {"Prefer": "respond-async"}
    status, _, headers = http_call(port, "GET", "/fhir/$export", headers=kickoff)
    if status != 202 or "content-location" not in headers:
        return {"available": False,
                "why": f"GET /fhir/$export (Prefer: respond-async) answered {status}"}  # fmt: skip
    if _manifest(port, path_of(headers["content-location"]), timeout) is None:
        return {"available": True, "error": f"warm-up export not complete after {timeout} s"}
    started = time.perf_counter()
    status, _, headers = http_call(port, "GET", "/fhir/$export", headers=kickoff)
    manifest = _manifest(port, path_of(headers.get("content-location", "")), timeout)
    if manifest is None:
        return {"available": True, "error": f"not complete after {timeout} s"}
    seconds = time.perf_counter() - started
    exported = sum(int(o.get("count", 0)) for o in manifest.get("output", []))
    return {"available": True, "seconds": round(seconds, 2), "resources": exported,
            "rate": exported / seconds}  # fmt: skip


def _manifest(port: int, location: str, timeout: float) -> dict[str, Any] | None:
    """Poll an export's status URL until it answers 200 with the manifest (None: timeout)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        status, body, _ = http_call(port, "GET", location)
        if status == 200:
            manifest: dict[str, Any] = json.loads(body)
            return manifest
        time.sleep(0.05)
    return None
