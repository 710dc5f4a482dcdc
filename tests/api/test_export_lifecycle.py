"""$export jobs over HTTP: cancel, limits, expiry, failure, isolation, and that a running
export does not hold up other requests. Jobs are held at a known point by the job
service's `on_page` hook, never by timing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx

from export_client import ASYNC, export, kick_off, manifest, resources
from fhir_sandbox.bulk.export_jobs import ExportManager
from fhir_sandbox.interactions.context import utc_now
from fhir_sandbox.testing import LiveServer

ORG = {"resourceType": "Organization", "name": "Lifecycle Trust"}


def create(http: httpx.Client, base: str) -> str:
    response = http.post(f"{base}/Organization", json=ORG)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def job_id(status_url: str) -> str:
    return status_url.rsplit("/", 1)[1]


def assert_404(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


@contextmanager
def held(jobs: ExportManager) -> Iterator[threading.Semaphore]:
    """Jobs stop before their first page until the block ends; acquire the semaphore
    once per job to know it got there."""
    release, arrived = threading.Event(), threading.Semaphore(0)

    def hook(_: str) -> None:
        arrived.release()
        release.wait(30)

    jobs.on_page = hook
    try:
        yield arrived
    finally:
        release.set()


def test_cancel_of_a_finished_job_removes_its_files(
    http: httpx.Client, xbase: str, jobs: ExportManager, export_dir: Path
) -> None:
    create(http, xbase)
    status_url = kick_off(http, f"{xbase}/$export")
    file_url = manifest(http, status_url)["output"][0]["url"]
    assert (export_dir / job_id(status_url)).is_dir()
    response = http.delete(status_url)
    assert response.status_code == 202
    assert response.json()["issue"][0]["severity"] == "information"
    assert not (export_dir / job_id(status_url)).exists()
    assert_404(http.get(status_url))
    assert_404(http.get(file_url))
    assert_404(http.delete(status_url))


def test_cancel_of_a_running_job_stops_it_and_removes_its_files(
    http: httpx.Client, xbase: str, jobs: ExportManager, export_dir: Path
) -> None:
    create(http, xbase)
    with held(jobs) as arrived:
        status_url = kick_off(http, f"{xbase}/$export")
        assert arrived.acquire(timeout=10)
        progress = http.get(status_url)
        assert progress.status_code == 202
        assert progress.headers["x-progress"] and progress.headers["retry-after"]
        assert http.delete(status_url).status_code == 202
        assert_404(http.get(status_url))
    assert jobs.wait(job_id(status_url))
    assert not (export_dir / job_id(status_url)).exists()


def test_a_running_export_does_not_hold_up_other_requests(
    http: httpx.Client, xbase: str, jobs: ExportManager
) -> None:
    resource_id = create(http, xbase)
    with held(jobs) as arrived:
        status_url = kick_off(http, f"{xbase}/$export")
        assert arrived.acquire(timeout=10)  # the job's thread is inside the export now
        assert http.get(f"{xbase}/Organization/{resource_id}", timeout=5).status_code == 200
        assert http.get(f"{xbase}/Organization?name=lifecycle", timeout=5).status_code == 200
        assert create(http, xbase)  # writes too
        assert http.get(status_url, timeout=5).status_code == 202
    assert manifest(http, status_url)["output"]


def test_too_many_running_exports_get_429_with_retry_after(
    http: httpx.Client, xbase: str, jobs: ExportManager
) -> None:
    create(http, xbase)
    with held(jobs) as arrived:
        running = [kick_off(http, f"{xbase}/$export") for _ in range(jobs.max_running)]
        assert all(arrived.acquire(timeout=10) for _ in running)
        refused = http.get(f"{xbase}/$export", headers=ASYNC)
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
        issue = refused.json()["issue"][0]
        assert issue["code"] == "throttled" and "running" in issue["diagnostics"]
    for status_url in running:
        assert manifest(http, status_url)["output"]
    assert export(http, f"{xbase}/$export")["output"]  # a slot is free again


def test_a_failed_job_reports_500_with_an_outcome(
    http: httpx.Client, xbase: str, jobs: ExportManager
) -> None:
    create(http, xbase)

    def fail(_: str) -> None:
        raise RuntimeError("disk on fire")

    jobs.on_page = fail
    status_url = kick_off(http, f"{xbase}/$export")
    assert jobs.wait(job_id(status_url))
    response = http.get(status_url)
    assert response.status_code == 500
    issue = response.json()["issue"][0]
    assert issue["code"] == "processing" and "failed" in issue["diagnostics"]
    assert "disk on fire" not in issue["diagnostics"]  # internals stay in the server log


def test_expired_jobs_and_their_files_are_removed(
    http: httpx.Client, xbase: str, jobs: ExportManager, export_dir: Path
) -> None:
    create(http, xbase)
    swept = [kick_off(http, f"{xbase}/$export") for _ in range(2)]
    for status_url in swept:
        manifest(http, status_url)
    later = utc_now() + jobs.expiry + timedelta(seconds=1)
    jobs.clock = lambda: later
    assert jobs.sweep() >= 2
    for status_url in swept:
        assert not (export_dir / job_id(status_url)).exists()
        assert_404(http.get(status_url))
    jobs.clock = utc_now
    fresh = kick_off(http, f"{xbase}/$export")
    manifest(http, fresh)
    jobs.clock = lambda: utc_now() + jobs.expiry  # no sweep: the poll itself finds it expired
    assert_404(http.get(fresh))
    assert not (export_dir / job_id(fresh)).exists()


def test_jobs_belong_to_their_tenant(
    http: httpx.Client, xbase: str, jobs: ExportManager, export_sandbox: LiveServer
) -> None:
    mine = create(http, xbase)
    status_url = kick_off(http, f"{xbase}/$export")
    body = manifest(http, status_url)
    directory = f"{export_sandbox.url}/fhir"
    other = xbase.replace("/ehr/x", "/ehr/y")
    for base in (directory, other):
        foreign = status_url.replace(xbase, base)
        assert_404(http.get(foreign))
        assert_404(http.get(body["output"][0]["url"].replace(xbase, base)))
        assert_404(http.delete(foreign))
    assert http.get(status_url).status_code == 200  # untouched by the foreign DELETEs
    assert list(resources(http, body)) == [f"Organization/{mine}"]
    seeded = resources(http, export(http, f"{directory}/$export"))
    assert f"Organization/{mine}" not in seeded
    assert len(seeded) > 50 and any(k.startswith("Endpoint/") for k in seeded)
