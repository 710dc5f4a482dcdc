"""The `fhir-sandbox` command line (Typer)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from fhir_sandbox import cli_data, cli_db
from fhir_sandbox.cli_common import DatabaseUrl, console, settings_for

app = typer.Typer(
    help="fhir-sandbox: a FHIR R4 sandbox of the UK organisation registry.", no_args_is_help=True
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    database_url: DatabaseUrl = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Start the server (seeding an empty directory on first start)."""
    import os

    import uvicorn

    from fhir_sandbox.app import create_app, create_repository

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = settings_for(database_url)
    create_repository(settings).close()  # fail fast: unreachable, or a schema that is behind
    console.print(
        f"fhir-sandbox on http://{host}:{port}/fhir  (store: {settings.resolved_database_url()})"
    )
    if workers > 1 and database_url:
        os.environ["FHIR_SANDBOX_DATABASE_URL"] = database_url  # the workers read Settings()
    uvicorn.run(
        # several workers need an import string: each process builds its app from the env
        "fhir_sandbox.app:create_app" if workers > 1 else create_app(settings),
        factory=workers > 1,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command()
def seed(
    database_url: DatabaseUrl = None,
    reset: Annotated[bool, typer.Option("--reset", help="Wipe the directory tenant first")] = False,
) -> None:
    """Load the curated seed into the directory (idempotent)."""
    from fhir_sandbox.app import open_store
    from fhir_sandbox.seeding import DIRECTORY_TENANT, default_seed_dir, load_seed

    settings = settings_for(database_url)
    context = open_store(settings)
    if reset:
        context.repository.wipe(DIRECTORY_TENANT)
    seed_dir = settings.seed_dir or default_seed_dir()
    report = load_seed(context, seed_dir, settings.public_base_url)
    context.repository.close()
    console.print(f"seed: {report.written} written, {report.unchanged} unchanged")


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write")] = Path("openapi/openapi.json"),
) -> None:
    """Regenerate the committed OpenAPI document from the app."""
    from fhir_sandbox.openapi import openapi_document

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n")
    console.print(f"wrote {output}")


cli_data.register(app)
cli_db.register(app)


def main() -> None:
    with cli_db.friendly_errors():
        app()
