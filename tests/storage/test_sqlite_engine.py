"""The embedded SQLite engine's connection settings (storage/sql/engine.py)."""

from __future__ import annotations

from pathlib import Path

from fhir_sandbox.storage.sql.engine import WAL_CHECKPOINT_PAGES, make_engine


def test_every_connection_gets_wal_and_the_checkpoint_interval(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'settings.db'}")
    try:
        with engine.connect() as conn:
            settings = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "wal_autocheckpoint", "foreign_keys")
            }
        # synchronous 1 = NORMAL: durable against a crash of the process
        assert settings == {
            "journal_mode": "wal",
            "synchronous": 1,
            "wal_autocheckpoint": WAL_CHECKPOINT_PAGES,
            "foreign_keys": 1,
        }
    finally:
        engine.dispose()
