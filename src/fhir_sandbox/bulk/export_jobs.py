"""The $export job service (the `ExportJobs` of interactions/export.py): admission, one
background thread per job, status views, cancellation and expiry, over an ExportStore.

- At most `max_running` jobs run at once across every process sharing the export folder:
  they are counted from the job.json files under a file lock, so two processes cannot
  both take the last slot. One more kick-off gets 429 with Retry-After.
- A job is alive while its thread runs (in this process) or, for another process's job,
  while its heartbeat (job.json rewritten before every page) is younger than STALE_AFTER.
  A job that is no longer alive but never finished lost its process (a restart or a
  crash): it reports as failed, and no longer counts against the limit.
- Files and state are removed `expiry` after the job finished (a background sweep, and a
  check on every access), at once on cancel when the job is not running, and by the
  runner itself when a running job is cancelled. A client still downloading a removed file
  finishes its download: the open file outlives its directory entry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from fhir_sandbox.bulk.export_runner import ExportRunner
from fhir_sandbox.bulk.export_store import FILE_NAME, ExportStore, JobRecord
from fhir_sandbox.errors import NotFound, TooManyRequests
from fhir_sandbox.interactions.context import Context, utc_now
from fhir_sandbox.interactions.export import JobView, NewExport

log = logging.getLogger("fhir_sandbox.export")

STALE_AFTER = timedelta(minutes=5)
RETRY_AFTER = "30"  # seconds, on 429


class ExportManager:
    def __init__(
        self,
        root: Path,
        *,
        expiry: timedelta,
        max_running: int,
        max_per_file: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Touches nothing on disk until the first job or `start_background`."""
        self.store = ExportStore(root)
        self.expiry, self.max_running, self.max_per_file = expiry, max_running, max_per_file
        self.clock = clock
        #: Runs in a job's thread before each page, with the job id: a test hook to hold a
        #: job at a known point (e.g. on a threading.Event).
        self.on_page: Callable[[str], None] | None = None
        self._threads: dict[str, threading.Thread] = {}
        #: Set by `shutdown`: running jobs stop at their next page and report failure.
        self.stopping = threading.Event()
        self._sweeper: threading.Thread | None = None

    # -- the ExportJobs protocol ---------------------------------------------------------

    def start(self, ctx: Context, job: NewExport) -> str:
        with self.store.admission():
            self.sweep()
            running = sum(1 for r in self._records() if self._alive(r))
            if running >= self.max_running:
                raise TooManyRequests(
                    f"{running} exports are running, the most this server runs at once; "
                    f"retry in {RETRY_AFTER} seconds",
                    headers={"Retry-After": RETRY_AFTER},
                )
            record = self._record(job)
            self.store.create(record)
            self._launch(ctx, record)
        return record.id

    def view(self, tenant: str, job_id: str) -> JobView:
        record = self._find(tenant, job_id)
        if record.status == "in-progress" and not self._alive(record):
            # the job may have finished (and its thread ended) between reading its record
            # and looking at the thread: only a record still in progress now is an orphan
            record = self.store.load(job_id) or record
        state, message = record.status, record.message
        if state == "in-progress" and not self._alive(record):
            state = "failed"
            message = "the server process running it stopped; start a new export"
        expires = record.finished + self.expiry if record.finished else None
        return JobView(
            id=record.id, state=state, request_url=record.request_url,
            transaction_time=record.transaction_time, progress=record.progress,
            output=tuple(record.output), error=tuple(record.error), expires=expires,
            message=message,
        )  # fmt: skip

    def cancel(self, tenant: str, job_id: str) -> None:
        record = self._find(tenant, job_id)
        self.store.mark_cancelled(job_id)
        if not self._alive(record):
            self.store.remove(job_id)  # a running job removes its folder at its next page

    def file(self, tenant: str, job_id: str, name: str) -> Path:
        record = self._find(tenant, job_id)
        listed = {f.file for f in (*record.output, *record.error)}
        if record.status != "completed" or name not in listed or not FILE_NAME.match(name):
            raise NotFound(f"Export {job_id} has no file {name!r}")
        return self.store.folder(job_id) / name

    # -- lifecycle -------------------------------------------------------------------------

    def sweep(self) -> int:
        """Remove expired jobs and cancelled ones no longer running; how many were removed."""
        removed = 0
        for record in self._records():
            cancelled = self.store.is_cancelled(record.id)
            if (cancelled and not self._alive(record)) or self._expired(record):
                self.store.remove(record.id)
                removed += 1
        self.store.remove_leftovers()
        return removed

    def start_background(self) -> None:
        """Sweep now and then periodically (called when the app starts)."""
        self.sweep()
        interval = min(60.0, max(1.0, self.expiry.total_seconds() / 4))
        self._sweeper = threading.Thread(
            target=self._sweep_every, args=(interval,), name="fhir-export-sweeper", daemon=True
        )
        self._sweeper.start()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the sweeper and the running jobs (they report failure) before the store closes."""
        self.stopping.set()
        self.join(timeout)
        if self._sweeper is not None:
            self._sweeper.join(timeout)

    def wait(self, job_id: str, timeout: float = 30.0) -> bool:
        """Wait for a job of this process to end; False if it still runs after `timeout`."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def join(self, timeout: float = 30.0) -> bool:
        """Wait for every job of this process to end; False if one still runs."""
        return all([self.wait(job_id, timeout) for job_id in list(self._threads)])

    # -- internals ---------------------------------------------------------------------------

    def _record(self, job: NewExport) -> JobRecord:
        return JobRecord(
            id=uuid.uuid4().hex, tenant=job.tenant, request_url=job.request_url,
            transaction_time=job.transaction_time, types=list(job.types), since=job.since,
            heartbeat=self.clock(), notes=list(job.notes),
            owner=f"{socket.gethostname()}:{os.getpid()}",
        )  # fmt: skip

    def _launch(self, ctx: Context, record: JobRecord) -> None:
        runner = ExportRunner(
            ctx, self.store, record, max_per_file=self.max_per_file, clock=self.clock,
            hook=lambda: self._hook(record.id), stopping=self.stopping,
        )  # fmt: skip
        self._threads = {k: t for k, t in self._threads.items() if t.is_alive()}
        thread = threading.Thread(target=runner.run, name=f"fhir-export-{record.id[:8]}")
        thread.daemon = True
        self._threads[record.id] = thread
        thread.start()

    def _hook(self, job_id: str) -> None:
        if self.on_page is not None:
            self.on_page(job_id)

    def _find(self, tenant: str, job_id: str) -> JobRecord:
        record = self.store.load(job_id)
        gone = record is None or record.tenant != tenant or self.store.is_cancelled(job_id)
        if record is None or gone:
            raise NotFound(f"No export job {job_id!r} here: unknown, cancelled or expired")
        if self._expired(record):
            self.store.remove(job_id)
            raise NotFound(f"Export job {job_id!r} expired and its files were removed")
        return record

    def _records(self) -> list[JobRecord]:
        return [r for r in map(self.store.load, self.store.ids()) if r is not None]

    def _alive(self, record: JobRecord) -> bool:
        if record.status != "in-progress":
            return False
        thread = self._threads.get(record.id)
        if thread is not None:
            return thread.is_alive()
        return self.clock() - record.heartbeat < STALE_AFTER

    def _expired(self, record: JobRecord) -> bool:
        if self._alive(record):
            return False
        return self.clock() >= (record.finished or record.heartbeat) + self.expiry

    def _sweep_every(self, interval: float) -> None:
        while not self.stopping.wait(interval):
            try:
                self.sweep()
            except Exception:  # keep sweeping; a full disk or a race must not end it
                log.exception("sweeping expired exports failed")
