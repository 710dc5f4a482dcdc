"""Settings: every knob in one validated object, read from `FHIR_SANDBOX_*` variables.

Nothing reads the environment at import time; `create_app(settings)` receives one of these.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FHIR_SANDBOX_", extra="ignore")

    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means a SQLite file in data_dir.",
    )
    database_pool_size: int = Field(
        default=10, description="PostgreSQL: connections each server process keeps open."
    )
    database_max_overflow: int = Field(
        default=20, description="PostgreSQL: extra connections allowed under load."
    )
    database_pool_timeout: float = Field(
        default=10.0, description="Seconds a request waits for a free connection (then 503)."
    )
    database_statement_timeout: float = Field(
        default=30.0,
        description="Seconds one statement may run (PostgreSQL) or wait for the writer lock "
        "(SQLite) before the request fails with 503.",
    )
    database_connect_timeout: int = Field(
        default=5, description="Seconds to open a PostgreSQL connection (then 503)."
    )
    sqlite_cache_mb: int | None = Field(
        default=None,
        ge=1,
        description="SQLite page cache per connection, MB. Default: SQLite's own (2 MB) for "
        "the server, whose pool holds many connections; 64 MB for `fhir-sandbox load`.",
    )
    data_dir: Path = DEFAULT_DATA_DIR
    public_base_url: str = "http://127.0.0.1:8000"
    seed_dir: Path | None = Field(
        default=None, description="Where the seed lives; default: the repository's seed/."
    )
    seed_on_start: bool = True
    max_body_bytes: int = 10 * 1024 * 1024
    default_page_size: int = 20
    max_page_size: int = 1000
    max_bundle_entries: int = Field(
        default=1000, description="Most entries in one batch or transaction Bundle (413 beyond)."
    )
    cors_origins: list[str] = ["*"]
    search_parameters: list[Path] = Field(
        default_factory=list,
        description="Extra SearchParameter Bundles (JSON); a change triggers a reindex at start.",
    )
    log_requests: bool = True
    export_dir: Path | None = Field(
        default=None,
        description="Where $export jobs keep their state and NDJSON files; default "
        "data_dir/exports. Several server processes (or hosts) must share it.",
    )
    export_expiry_seconds: float = Field(
        default=3600.0,
        description="Seconds an export's files stay downloadable after it finished.",
    )
    max_concurrent_exports: int = Field(
        default=2, description="Exports running at once (a further kick-off gets 429)."
    )
    export_file_max_resources: int = Field(
        default=100_000, description="Most resources in one $export NDJSON file."
    )
    read_threads: int = Field(
        default=8,
        description="Fast-lane worker threads for writes, and for searches and reads of a "
        "networked database (PostgreSQL).",
    )
    embedded_search_threads: int = Field(
        default=2,
        description="Fast-lane threads for searches of the embedded SQLite store. Its work "
        "is CPU in this process: more threads only queue for the GIL, and a name search at "
        "100k ran ~40 % slower with 8 than with 2 (benchmarks/README.md).",
    )

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_base_url must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator(
        "max_body_bytes",
        "default_page_size",
        "max_page_size",
        "max_bundle_entries",
        "read_threads",
        "embedded_search_threads",
        "database_pool_size",
        "database_pool_timeout",
        "database_statement_timeout",
        "database_connect_timeout",
        "export_expiry_seconds",
        "max_concurrent_exports",
        "export_file_max_resources",
    )
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    def resolved_export_dir(self) -> Path:
        return self.export_dir or self.data_dir / "exports"

    def resolved_database_url(self) -> str:
        """The URL actually used: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'fhir-sandbox.db').resolve()}"
