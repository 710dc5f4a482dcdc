"""`fhir-sandbox load`'s defaults: the loader's batch size, and a large SQLite page cache
unless told otherwise (the server keeps SQLite's default: its pool holds many connections)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from fhir_sandbox import cli_data
from fhir_sandbox.bulk import loader
from fhir_sandbox.config import Settings
from fhir_sandbox.storage.sql.engine import EngineOptions, make_engine


def _cache_kib(url: str, options: EngineOptions) -> int:
    engine = make_engine(url, options)
    try:
        with engine.connect() as conn:
            pages = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
    finally:
        engine.dispose()
    return -pages if pages < 0 else pages * 4


def test_the_cache_option_sets_the_page_cache(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert _cache_kib(url, EngineOptions(sqlite_cache_mb=64)) == 64 * 1024
    assert _cache_kib(url, EngineOptions()) == 2000  # SQLite's default: -2000 (KiB)


def test_load_asks_for_its_cache_unless_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[int | None] = []

    def stop(settings: Settings, *args: Any) -> None:
        seen.append(settings.sqlite_cache_mb)
        raise SystemExit(0)

    monkeypatch.setattr("fhir_sandbox.app.open_store", stop)
    data = tmp_path / "x.ndjson"
    data.write_text("")
    url = f"sqlite:///{tmp_path / 'l.db'}"
    for configured in (None, "8"):
        if configured:
            monkeypatch.setenv("FHIR_SANDBOX_SQLITE_CACHE_MB", configured)
        with pytest.raises(SystemExit):
            cli_data.load([data], database_url=url)
    assert seen == [cli_data.LOAD_SQLITE_CACHE_MB, 8]


def test_the_cli_batch_size_is_the_loaders() -> None:
    default = inspect.signature(cli_data.load).parameters["batch_size"].default
    assert (
        default
        == loader.BATCH_SIZE
        == inspect.signature(loader.load).parameters["batch_size"].default
    )
