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
    data_dir: Path = DEFAULT_DATA_DIR
    public_base_url: str = "http://127.0.0.1:8000"
    seed_dir: Path | None = Field(
        default=None, description="Where the seed lives; default: the repository's seed/."
    )
    seed_on_start: bool = True
    max_body_bytes: int = 10 * 1024 * 1024
    default_page_size: int = 20
    max_page_size: int = 1000
    cors_origins: list[str] = ["*"]
    log_requests: bool = True

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_base_url must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("max_body_bytes", "default_page_size", "max_page_size")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    def resolved_database_url(self) -> str:
        """The URL actually used: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'fhir-sandbox.db').resolve()}"
