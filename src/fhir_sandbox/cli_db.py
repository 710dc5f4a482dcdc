"""`fhir-sandbox db …`: schema migrations (Alembic, see storage/sql/migrate.py).

fhir-sandbox db upgrade  [--database-url URL] [--revision REV]   apply pending migrations
fhir-sandbox db current  [--database-url URL]                    where the database stands
fhir-sandbox db revision -m "what changes" [--autogenerate]      start a new revision (dev)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from fhir_sandbox.cli_common import DatabaseUrl, console, settings_for

db = typer.Typer(help="Database schema: migrations (Alembic).", no_args_is_help=True)


@db.command()
def upgrade(
    database_url: DatabaseUrl = None,
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Apply the pending migrations (in one transaction; safe to run from several places)."""
    from fhir_sandbox.storage.sql import migrate
    from fhir_sandbox.storage.sql.engine import make_engine

    engine = make_engine(settings_for(database_url).resolved_database_url())
    try:
        before, after = migrate.upgrade(engine, revision)
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"{where}: already at revision {after}")
    else:
        console.print(f"{where}: upgraded from revision {before or '(none)'} to {after}")


@db.command()
def current(database_url: DatabaseUrl = None) -> None:
    """Show the database's revision and the newest one; exit status 1 when it is behind."""
    from fhir_sandbox.storage.sql import migrate
    from fhir_sandbox.storage.sql.engine import make_engine

    engine = make_engine(settings_for(database_url).resolved_database_url())
    try:
        found = migrate.status(engine)
    finally:
        engine.dispose()
    console.print(f"database revision: {found.current or '(none)'}; newest: {found.head}")
    if not found.up_to_date:
        console.print(f"behind: run `{migrate.UPGRADE_COMMAND}`")
        raise typer.Exit(1)


@db.command()
def revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the revision changes")],
    autogenerate: Annotated[
        bool, typer.Option(help="Diff schema.py against a database at head (--database-url)")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Start the next revision file in the package's migrations/versions (development)."""
    from alembic import command

    from fhir_sandbox.storage.sql import migrate
    from fhir_sandbox.storage.sql.engine import make_engine

    rev_id = f"{int(migrate.head()) + 1:04d}"
    if not autogenerate:
        command.revision(migrate.alembic_config(), message, rev_id=rev_id)
        return
    engine = make_engine(settings_for(database_url).resolved_database_url())
    try:
        with engine.begin() as conn:
            config = migrate.alembic_config(conn)
            command.revision(config, message, autogenerate=True, rev_id=rev_id)
    finally:
        engine.dispose()


@contextmanager
def friendly_errors() -> Iterator[None]:
    """A schema that is behind or an unreachable database: one clear line, exit status 1."""
    try:
        yield
    except Exception as exc:
        # imported only now: migrate pulls in alembic and SQLAlchemy (~0.3 s), which
        # `generate` and `--help` never need
        from fhir_sandbox.errors import Unavailable
        from fhir_sandbox.storage.sql.migrate import SchemaOutOfDate

        if isinstance(exc, SchemaOutOfDate):
            console.print(f"[red]{exc}[/red]", highlight=False)
            raise SystemExit(1) from None
        if isinstance(exc, Unavailable):
            console.print(f"[red]{exc.diagnostics}: {exc.__cause__}[/red]", highlight=False)
            raise SystemExit(1) from None
        raise


def register(app: typer.Typer) -> None:
    app.add_typer(db, name="db")
