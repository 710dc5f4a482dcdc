"""$export jobs on disk: one folder per job in the export directory.

    <export_dir>/<job id>/job.json          the job's state (a JobRecord), replaced atomically
    <export_dir>/<job id>/cancelled         present once a client cancelled the job
    <export_dir>/<job id>/<Type>-<n>.ndjson the output files; error-1.ndjson the messages

Files rather than a database table because the NDJSON lives on disk anyway, and state next
to it works for every server process on the machine (`serve --workers N`) with nothing to
migrate. Several machines behind one load balancer need a shared export directory (NFS, a
shared volume) — the same requirement the files already have.

Only the thread running a job writes its job.json, so there are no lost updates; a cancel
(from any process) only creates the `cancelled` marker, which the runner checks before
every page. A folder is removed by renaming it away first, so readers never see half of it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from fhir_sandbox.interactions.export import OutputFile

JOB_FILE = "job.json"
CANCELLED = "cancelled"
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
FILE_NAME = re.compile(r"^[A-Za-z]+-[0-9]+\.ndjson$")  # no separators: no path traversal
LEFTOVER_SECONDS = 3600  # staging and half-removed folders older than this are swept
_TIMES = ("transaction_time", "since", "heartbeat", "finished")


@dataclass
class JobRecord:
    id: str
    tenant: str
    request_url: str
    transaction_time: datetime
    types: list[str]
    since: datetime | None
    heartbeat: datetime
    notes: list[str] = field(default_factory=list)
    status: str = "in-progress"  # then "completed" or "failed"
    owner: str = ""  # host:pid of the process running it, for operators
    progress: str = "queued"
    finished: datetime | None = None
    message: str = ""
    output: list[OutputFile] = field(default_factory=list)
    error: list[OutputFile] = field(default_factory=list)

    def to_json(self) -> bytes:
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, raw: bytes) -> JobRecord:
        data: dict[str, Any] = orjson.loads(raw)
        for key in _TIMES:
            if data.get(key):
                data[key] = datetime.fromisoformat(data[key])
        for key in ("output", "error"):
            data[key] = [OutputFile(**item) for item in data.get(key) or []]
        return cls(**data)


class ExportStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def create(self, record: JobRecord) -> None:
        """Write the job's folder under a staging name, then rename it into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".new-{record.id}"
        staging.mkdir()
        (staging / JOB_FILE).write_bytes(record.to_json())
        staging.rename(self.folder(record.id))

    def save(self, record: JobRecord) -> None:
        """Replace job.json atomically (FileNotFoundError once the folder was removed)."""
        folder = self.folder(record.id)
        temporary = folder / f".{JOB_FILE}.{uuid.uuid4().hex}"
        temporary.write_bytes(record.to_json())
        os.replace(temporary, folder / JOB_FILE)

    def load(self, job_id: str) -> JobRecord | None:
        if not JOB_ID.match(job_id):
            return None
        try:
            return JobRecord.from_json((self.folder(job_id) / JOB_FILE).read_bytes())
        except (OSError, ValueError, TypeError, KeyError):
            return None  # missing, being removed, or unreadable: not a job

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if JOB_ID.match(p.name))

    def mark_cancelled(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):  # already removed
            (self.folder(job_id) / CANCELLED).touch()

    def is_cancelled(self, job_id: str) -> bool:
        return (self.folder(job_id) / CANCELLED).exists()

    def remove(self, job_id: str) -> None:
        doomed = self.root / f".gone-{job_id}-{uuid.uuid4().hex[:8]}"
        try:
            self.folder(job_id).rename(doomed)
        except OSError:
            return  # already gone
        shutil.rmtree(doomed, ignore_errors=True)

    def remove_leftovers(self) -> None:
        """Staging and half-removed folders left by a crash, and folders without a job."""
        if not self.root.is_dir():
            return
        cutoff = time.time() - LEFTOVER_SECONDS
        for path in self.root.iterdir():
            partial = path.name.startswith((".new-", ".gone-"))
            orphan = JOB_ID.match(path.name) and not (path / JOB_FILE).exists()
            if path.is_dir() and (partial or orphan) and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)

    @contextmanager
    def admission(self) -> Iterator[None]:
        """Exclusive across the threads and processes sharing the folder (a file lock), so
        counting running jobs and creating a new one is one step."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock, (self.root / ".admission.lock").open("a+b") as handle:
            _lock_file(handle)
            yield  # closing the file releases the lock


if sys.platform == "win32":  # pragma: no cover - no flock: one process per export folder

    def _lock_file(handle: BinaryIO) -> None:
        pass

else:
    import fcntl

    def _lock_file(handle: BinaryIO) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
