"""One $export job, run in its own thread (https://hl7.org/fhir/uv/bulkdata/STU2/export.html).

transactionTime is taken at kick-off, before anything is read. The runner first waits for
every write stamped before it: a write session takes the tenant's writer lock, and writers
stamp meta.lastUpdated while holding it, so once the runner holds that lock every change
up to transactionTime is committed and visible. Then each type is written page by page
(bulk/exporter.py) in short read sessions, so the files hold each resource as of
transactionTime or later: a resource changed while the export runs may appear in its newer
state, and one deleted meanwhile may be missing. A client that exports again with
`_since=<transactionTime>` gets every such change (`_since` is inclusive), so nothing is
lost between exports; the IG's "SHOULD NOT include resources modified after
transactionTime" is the part this does not promise.

Before every page the runner runs the test hook, stops if the server is shutting down or
the job was cancelled, and rewrites job.json with its progress: that write is also the
heartbeat that tells other processes the job is alive.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

import orjson

from fhir_sandbox.bulk.export_store import ExportStore, JobRecord
from fhir_sandbox.bulk.exporter import export_query, export_type
from fhir_sandbox.errors import FhirError, Issue
from fhir_sandbox.fhir import outcomes
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.export import OutputFile

log = logging.getLogger("fhir_sandbox.export")

ERROR_FILE = "error-1.ndjson"


class Cancelled(Exception):
    """The client cancelled the job, or its folder was removed: stop and clean up."""


class Stopped(Exception):
    """The server is shutting down: stop and report the job as failed."""


class ExportRunner:
    def __init__(
        self,
        ctx: Context,
        store: ExportStore,
        record: JobRecord,
        *,
        max_per_file: int,
        clock: Callable[[], datetime],
        hook: Callable[[], None],
        stopping: threading.Event,
    ) -> None:
        self.ctx, self.store, self.record = ctx, store, record
        self.max_per_file, self.clock, self.hook, self.stopping = (
            max_per_file, clock, hook, stopping
        )  # fmt: skip
        self.folder = store.folder(record.id)
        self.total = 0
        self.done = 0  # resources written by the types already finished

    def run(self) -> None:
        try:
            self._export()
        except Cancelled:
            self.store.remove(self.record.id)
        except Stopped:
            self._finish("failed", "the server stopped during the export; start a new one")
        except Exception as exc:
            if self.store.is_cancelled(self.record.id) or not self.folder.is_dir():
                self.store.remove(self.record.id)  # cancelled mid-page: nothing to report
                return
            log.error("export %s failed", self.record.id, exc_info=exc)
            self._finish("failed", _describe(exc))

    def _export(self) -> None:
        tenant, since = self.record.tenant, self.record.since
        with self.ctx.repository.session(tenant, write=True):
            pass  # the barrier: every write stamped before transactionTime has committed
        queries = [export_query(t, since) for t in self.record.types]
        with self.ctx.repository.session(tenant) as session:
            self.total = sum(session.count(q) for q in queries)
        for query in queries:
            files = export_type(
                self.ctx, tenant, query, self.folder,
                max_per_file=self.max_per_file, on_page=self._page,
            )  # fmt: skip
            self.record.output += [OutputFile(query.resource_type, n, c) for n, c in files]
            self.done += sum(count for _, count in files)
        if self.record.notes:
            self.record.error.append(self._write_notes())
        self._finish("completed", "")

    def _page(self, written: int) -> None:
        self.hook()
        if self.stopping.is_set():
            raise Stopped
        if self.store.is_cancelled(self.record.id):
            raise Cancelled
        done = self.done + written
        percent = min(99, done * 100 // self.total) if self.total else 0
        self.record.progress = f"{percent}% ({done} of {self.total} resources)"
        self.record.heartbeat = self.clock()
        try:
            self.store.save(self.record)
        except FileNotFoundError:
            raise Cancelled from None  # the folder was removed under us

    def _write_notes(self) -> OutputFile:
        """What lenient mode set aside, one OperationOutcome per line (the IG's error file)."""
        lines = [
            orjson.dumps(outcomes.operation_outcome([Issue("not-supported", n, "warning")]))
            for n in self.record.notes
        ]
        (self.folder / ERROR_FILE).write_bytes(b"".join(line + b"\n" for line in lines))
        return OutputFile("OperationOutcome", ERROR_FILE, len(lines))

    def _finish(self, status: str, message: str) -> None:
        self.record.status, self.record.message = status, message
        self.record.progress = status
        self.record.finished = self.clock()
        try:
            self.store.save(self.record)
        except FileNotFoundError:
            return  # removed meanwhile
        if self.store.is_cancelled(self.record.id):
            self.store.remove(self.record.id)  # cancelled while finishing


def _describe(exc: Exception) -> str:
    if isinstance(exc, FhirError):
        return exc.diagnostics
    return "an internal error occurred (the server log has the details)"
