"""CLI commands for data: generate, load, export, reindex (registered by cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from fhir_sandbox.bulk import BATCH_SIZE
from fhir_sandbox.cli_common import DatabaseUrl, console, settings_for
from fhir_sandbox.config import Settings

Tenant = Annotated[str, typer.Option(help="Tenant: 'directory' (/fhir) or 'ehr-<name>'")]


#: A load's SQLite page cache: 2 MB (SQLite's default) spilled dirty index pages within
#: every batch; 64 MB took ~6 % off a 100k load, 128 MB nothing more (benchmarks/README.md).
LOAD_SQLITE_CACHE_MB = 64


def generate(
    out: Annotated[Path, typer.Option(help="Output folder for <Type>.ndjson")] = Path("generated"),
    organizations: Annotated[int, typer.Option(min=1, help="Organisations to generate")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives identical files")] = 1,
) -> None:
    """Write a deterministic synthetic UK-like directory as NDJSON, one file per type."""
    from fhir_sandbox.generator import write_ndjson

    counts = write_ndjson(out, organizations, seed, Settings().public_base_url)
    console.print(f"wrote {sum(counts.values())} resources to {out}: {counts}")


def load(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            help="NDJSON or Bundle files, or directories of them (e.g. what `generate` wrote)",
        ),
    ],
    database_url: DatabaseUrl = None,
    tenant: Tenant = "directory",
    batch_size: Annotated[
        int, typer.Option(min=1, help="Resources per write session")
    ] = BATCH_SIZE,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first bad line")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes that parse, validate and index in parallel while this one "
            "writes (default: the CPUs available to it; 1: everything in this process)",
        ),
    ] = None,
) -> None:
    """Validate and load resources (idempotent by id); report every bad line precisely."""
    from fhir_sandbox.app import open_store
    from fhir_sandbox.bulk.loader import FailFast, available_cpus
    from fhir_sandbox.bulk.loader import load as load_items
    from fhir_sandbox.bulk.sources import read_items, source_files
    from fhir_sandbox.errors import Invalid

    try:
        files = source_files(files)
    except Invalid as empty:
        raise typer.BadParameter(empty.diagnostics, param_hint="FILES") from None
    settings = settings_for(database_url)
    if settings.sqlite_cache_mb is None:  # a load inserts all over large B-trees
        settings = settings.model_copy(update={"sqlite_cache_mb": LOAD_SQLITE_CACHE_MB})
    context = open_store(settings)
    repository = context.repository
    total = sum(_count_lines(f) for f in files)
    columns = (
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        _RateColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("loading", total=total)
            items = (item for f in files for item in read_items(f, parse=False))
            report = load_items(
                context, tenant, items, batch_size=batch_size, fail_fast=fail_fast,
                progress=lambda n: bar.advance(task, n), workers=workers or available_cpus(),
            )  # fmt: skip
    except FailFast as stop:
        console.print(f"[red]stopped:[/red] {stop}")
        raise typer.Exit(1) from None
    finally:
        repository.close()
    for problem in report.problems:
        colour = "red" if problem.severity == "error" else "yellow"
        console.print(
            f"[{colour}]{problem.severity}[/{colour}] {problem.origin}: {problem.message}"
        )
    console.print(
        f"loaded: {report.written} written, {report.unchanged} unchanged, "
        f"{len(report.errors)} errors, {len(report.problems) - len(report.errors)} warnings"
    )
    if report.errors:
        raise typer.Exit(1)


class _RateColumn(ProgressColumn):
    """Resources per second, as a whole number (rich's estimate; none before it has one)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("- res/s" if speed is None else f"{speed:,.0f} res/s")


def _count_lines(path: Path) -> int:
    if path.name.endswith((".ndjson", ".jsonl")):
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    return 0  # unknown until parsed (Bundles, gzip)


def export(
    out: Annotated[Path, typer.Option(help="Output folder for <Type>.ndjson")] = Path("export"),
    database_url: DatabaseUrl = None,
    tenant: Tenant = "directory",
) -> None:
    """Write a tenant's current resources as NDJSON that loads back identically."""
    from fhir_sandbox.app import open_store
    from fhir_sandbox.bulk.exporter import export_ndjson

    context = open_store(settings_for(database_url))
    counts = export_ndjson(context, tenant, out)
    context.repository.close()
    console.print(f"exported {sum(counts.values())} resources to {out}: {counts}")


def reindex(database_url: DatabaseUrl = None) -> None:
    """Re-extract every search index row with the current SearchParameter definitions."""
    from fhir_sandbox.app import create_context, create_repository
    from fhir_sandbox.maintenance import reindex as reindex_all

    settings = settings_for(database_url)
    repository = create_repository(settings)
    count = reindex_all(create_context(settings, repository), repository)
    repository.close()
    console.print(f"reindexed {count} resources")


def register(app: typer.Typer) -> None:
    for command in (generate, load, export, reindex):
        app.command()(command)
