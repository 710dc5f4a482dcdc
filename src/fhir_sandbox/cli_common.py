"""What the CLI modules share: the --database-url option and settings built from it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from fhir_sandbox.config import Settings

console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL (env FHIR_SANDBOX_DATABASE_URL)"),
]


def settings_for(database_url: str | None) -> Settings:
    """Settings from the environment, with --database-url winning when given."""
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings
