"""The data commands through the real CLI: generate, load, export, reindex."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fhir_sandbox.cli import app

runner = CliRunner()


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, databases: Any) -> Path:
    monkeypatch.setenv("FHIR_SANDBOX_DATA_DIR", str(tmp_path / "data"))
    if databases.backend == "postgresql":  # else the embedded SQLite file in the data dir
        monkeypatch.setenv("FHIR_SANDBOX_DATABASE_URL", databases.new())
    return tmp_path


def test_generate_is_deterministic(env: Path) -> None:
    for name in ("a", "b"):
        result = runner.invoke(
            app, ["generate", "--out", str(env / name), "--organizations", "30", "--seed", "5"]
        )
        assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (env / "a").glob("*.ndjson"))
    assert files and all(
        (env / "a" / f).read_bytes() == (env / "b" / f).read_bytes() for f in files
    )
    other = runner.invoke(
        app, ["generate", "--out", str(env / "c"), "--organizations", "30", "--seed", "6"]
    )
    assert other.exit_code == 0
    assert (env / "c" / "Organization.ndjson").read_bytes() != (
        env / "a" / "Organization.ndjson"
    ).read_bytes()


def test_load_export_and_exit_codes(env: Path) -> None:
    runner.invoke(app, ["generate", "--out", str(env / "gen"), "--organizations", "20"])
    files = [str(p) for p in sorted((env / "gen").glob("*.ndjson"))]
    loaded = runner.invoke(app, ["load", *files])
    assert loaded.exit_code == 0, loaded.output
    assert "0 errors" in loaded.output
    exported = runner.invoke(app, ["export", "--out", str(env / "out")])
    assert exported.exit_code == 0
    assert (env / "out" / "Organization.ndjson").read_text().count("\n") == 20
    bad = env / "bad.ndjson"
    bad.write_text('{"resourceType": "Organization", "active": "maybe"}\n')
    failed = runner.invoke(app, ["load", str(bad)])
    assert failed.exit_code == 1
    assert "bad.ndjson:1" in failed.output


def test_load_takes_directories(env: Path) -> None:
    runner.invoke(app, ["generate", "--out", str(env / "gen"), "--organizations", "12"])
    (env / "gen" / "notes.txt").write_text("not a resource")  # ignored: not a loadable name
    (env / "gen" / "nested").mkdir()  # ignored: only the directory's own files
    (env / "gen" / "nested" / "Bad.ndjson").write_text("{}\n")
    bundle = env / "one.json"
    bundle.write_text(
        '{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
        '{"resourceType": "Organization", "id": "from-a-bundle", "name": "Bundled"}}]}'
    )
    loaded = runner.invoke(app, ["load", str(env / "gen"), str(bundle)])
    assert loaded.exit_code == 0, loaded.output
    assert "0 errors" in loaded.output
    lines = sum(p.read_text().count("\n") for p in (env / "gen").glob("*.ndjson"))
    assert f"{lines + 1} written" in loaded.output
    (env / "empty").mkdir()
    refused = runner.invoke(app, ["load", str(env / "empty")], env={"COLUMNS": "300"})
    assert refused.exit_code == 2
    assert "holds no file to load" in refused.output


def test_seed_twice_changes_nothing_and_reset(env: Path) -> None:
    first = runner.invoke(app, ["seed"])
    assert first.exit_code == 0 and "0 unchanged" in first.output
    second = runner.invoke(app, ["seed"])
    assert second.exit_code == 0 and " 0 written" in second.output
    reset = runner.invoke(app, ["seed", "--reset"])
    assert reset.exit_code == 0 and "0 unchanged" in reset.output


def test_reindex_command(env: Path) -> None:
    runner.invoke(app, ["seed"])
    result = runner.invoke(app, ["reindex"])
    assert result.exit_code == 0 and "reindexed" in result.output
