"""The $export job service without HTTP: what several processes sharing one export folder
see of each other's jobs (two managers on one folder stand for two processes), dead
processes, shutdown, leftovers; and the exporter's `_since` filter and file splitting."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fhir_sandbox.bulk.export_jobs import STALE_AFTER, ExportManager
from fhir_sandbox.bulk.export_store import LEFTOVER_SECONDS, ExportStore, JobRecord
from fhir_sandbox.bulk.exporter import export_query, export_type
from fhir_sandbox.errors import NotFound, TooManyRequests
from fhir_sandbox.interactions import create
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.export import NewExport, OutputFile
from fhir_sandbox.interactions.request import FhirRequest
from fhir_sandbox.storage.base import PageRequest
from fhir_sandbox.storage.memory import MemoryRepository

TENANT = "directory"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def ctx(clock: Clock) -> Context:
    context = Context(repository=MemoryRepository(), clock=clock)
    for n in range(5):
        add(context, f"Trust {n}")
        clock.tick(timedelta(seconds=1))
    return context


def add(ctx: Context, name: str) -> None:
    request = FhirRequest(
        "POST", TENANT, "http://sandbox.test/fhir", "Organization",
        body={"resourceType": "Organization", "name": name},
    )  # fmt: skip
    assert create.create(ctx, request).status == 201


def manager(root: Path, max_running: int = 1, **options: Any) -> ExportManager:
    return ExportManager(
        root, expiry=timedelta(hours=1), max_running=max_running, max_per_file=2, **options
    )


def new_export(ctx: Context) -> NewExport:
    return NewExport(
        TENANT, "http://sandbox.test/fhir/$export", ctx.clock(), ("Organization",), None
    )


def hold(jobs: ExportManager) -> tuple[threading.Event, threading.Semaphore]:
    release, arrived = threading.Event(), threading.Semaphore(0)

    def hook(_: str) -> None:
        arrived.release()
        release.wait(30)

    jobs.on_page = hook
    return release, arrived


def test_exporter_filters_since_and_splits_files(ctx: Context, tmp_path: Path) -> None:
    with ctx.repository.session(TENANT) as session:
        stored = [
            m.version for m in session.page(export_query("Organization", None), PageRequest(100))
        ]
    since = sorted(v.last_updated for v in stored)[2]
    pages: list[int] = []
    query = export_query("Organization", since)
    files = export_type(ctx, TENANT, query, tmp_path, max_per_file=2, on_page=pages.append)
    assert files == [("Organization-1.ndjson", 2), ("Organization-2.ndjson", 1)]
    assert pages == [0]  # once before the (only) page
    whole = export_type(ctx, TENANT, export_query("Organization", None), tmp_path)
    assert whole == [("Organization.ndjson", 5)]
    assert export_type(ctx, "empty", export_query("Organization", None), tmp_path) == []


def test_the_limit_and_cancel_work_across_processes(ctx: Context, tmp_path: Path) -> None:
    first, second = manager(tmp_path), manager(tmp_path)  # two processes, one folder
    release, arrived = hold(first)
    job = first.start(ctx, new_export(ctx))
    try:
        assert arrived.acquire(timeout=10)
        with pytest.raises(TooManyRequests) as refused:
            second.start(ctx, new_export(ctx))
        assert refused.value.headers["Retry-After"]
        assert second.view(TENANT, job).state == "in-progress"  # its heartbeat is fresh
        second.cancel(TENANT, job)  # only marks it: the first process is running it
        assert first.store.folder(job).is_dir()
        with pytest.raises(NotFound):
            first.view(TENANT, job)
    finally:
        release.set()
    assert first.wait(job)
    assert not first.store.folder(job).exists()  # its runner removed it at the next page


def test_a_job_whose_process_died_fails_frees_its_slot_and_expires(
    ctx: Context, clock: Clock, tmp_path: Path
) -> None:
    jobs = manager(tmp_path, clock=clock)
    dead = JobRecord(
        id=uuid.uuid4().hex, tenant=TENANT, request_url="http://sandbox.test/fhir/$export",
        transaction_time=clock(), types=["Organization"], since=None,
        heartbeat=clock() - STALE_AFTER - timedelta(seconds=1),
    )  # fmt: skip
    ExportStore(tmp_path).create(dead)
    view = jobs.view(TENANT, dead.id)
    assert view.state == "failed" and "stopped" in view.message
    fresh = jobs.start(ctx, new_export(ctx))  # the dead job does not count
    assert jobs.wait(fresh) and jobs.view(TENANT, fresh).state == "completed"
    clock.tick(jobs.expiry)
    assert jobs.sweep() == 2
    assert not jobs.store.folder(dead.id).exists() and not jobs.store.folder(fresh).exists()


def test_shutdown_stops_running_jobs_and_reports_them_failed(ctx: Context, tmp_path: Path) -> None:
    jobs = manager(tmp_path)
    jobs.on_page = lambda _: jobs.stopping.wait(10)
    job = jobs.start(ctx, new_export(ctx))
    jobs.shutdown()
    view = jobs.view(TENANT, job)
    assert view.state == "failed" and "server stopped" in view.message


def test_completed_job_state_on_disk(ctx: Context, tmp_path: Path) -> None:
    jobs = manager(tmp_path)
    job = jobs.start(ctx, new_export(ctx))
    assert jobs.wait(job)
    record = jobs.store.load(job)
    assert record is not None and record.status == "completed"
    assert record.output == [
        OutputFile("Organization", "Organization-1.ndjson", 2),
        OutputFile("Organization", "Organization-2.ndjson", 2),
        OutputFile("Organization", "Organization-3.ndjson", 1),
    ]
    assert JobRecord.from_json(record.to_json()) == record
    assert jobs.file(TENANT, job, "Organization-3.ndjson").read_bytes().count(b"\n") == 1
    for name in ("job.json", "../job.json", "Organization-4.ndjson"):
        with pytest.raises(NotFound):
            jobs.file(TENANT, job, name)
    with pytest.raises(NotFound):
        jobs.file("ehr-other", job, "Organization-1.ndjson")


def test_leftovers_of_a_crash_are_swept(tmp_path: Path) -> None:
    jobs = manager(tmp_path)
    old, recent = tmp_path / ".new-old", tmp_path / ".gone-recent"
    orphan = tmp_path / uuid.uuid4().hex  # a job folder without job.json
    for folder in (old, recent, orphan):
        folder.mkdir()
    aged = time.time() - LEFTOVER_SECONDS - 1
    for folder in (old, orphan):
        os.utime(folder, (aged, aged))
    jobs.sweep()
    assert not old.exists() and not orphan.exists() and recent.exists()


def test_a_job_finishing_while_its_status_is_read_is_not_reported_failed(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record read before the job's last write, the thread looked at after it ended."""
    jobs = manager(tmp_path)
    release, arrived = hold(jobs)
    job = jobs.start(ctx, new_export(ctx))
    assert arrived.acquire(timeout=10)
    stale = jobs.store.load(job)  # in progress, as a status request reads it
    assert stale is not None and stale.status == "in-progress"
    release.set()
    assert jobs.wait(job)  # the job completes and its thread ends
    monkeypatch.setattr(jobs, "_find", lambda tenant, job_id: stale)
    view = jobs.view(TENANT, job)
    assert view.state == "completed" and view.output
