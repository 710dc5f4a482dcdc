"""`create_app(settings)`: everything is built here, nothing at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse

from fhir_sandbox import __version__
from fhir_sandbox.api import errors
from fhir_sandbox.api.home import home_page
from fhir_sandbox.api.middleware import RequestIdMiddleware
from fhir_sandbox.api.routes import build_router
from fhir_sandbox.config import Settings
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.maintenance import ensure_index_current
from fhir_sandbox.searchparams.registry import registry_with
from fhir_sandbox.seeding import default_seed_dir, is_empty, load_seed
from fhir_sandbox.storage.base import Repository
from fhir_sandbox.storage.sql.engine import EngineOptions
from fhir_sandbox.storage.sql.repository import SqlRepository

log = logging.getLogger("fhir_sandbox")


def engine_options(settings: Settings) -> EngineOptions:
    return EngineOptions(
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        statement_timeout=settings.database_statement_timeout,
        connect_timeout=settings.database_connect_timeout,
    )


def create_repository(settings: Settings) -> SqlRepository:
    """Open the database and check its schema (migrate.SchemaOutOfDate if behind).

    The embedded SQLite database (no database_url configured) is created on first start,
    so the quickstart needs no extra command; every other database is migrated explicitly
    with `fhir-sandbox db upgrade`, never behind an operator's back.
    """
    repository = SqlRepository(settings.resolved_database_url(), engine_options(settings))
    try:
        if not settings.database_url and repository.schema_status().empty:
            repository.create_schema()
        repository.check_schema()
    except BaseException:
        repository.close()
        raise
    return repository


def create_context(settings: Settings, repository: Repository) -> Context:
    return Context(
        repository=repository,
        registry=registry_with(settings.search_parameters),
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
        max_bundle_entries=settings.max_bundle_entries,
    )


def open_store(settings: Settings, repository: Repository | None = None) -> Context:
    """The context every process works through, with search indexes known to match the
    definitions: a writer never adds rows indexed with definitions other than the stored
    ones (an empty database just records the current fingerprint)."""
    context = create_context(settings, repository or create_repository(settings))
    reindexed = ensure_index_current(context, context.repository)
    if reindexed:
        log.info("search definitions changed: reindexed %d resources", reindexed)
    return context


def create_app(settings: Settings | None = None, repository: Repository | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = open_store(settings, repository)
        app.state.context = context
        if settings.seed_on_start and is_empty(context):
            report = load_seed(
                context, settings.seed_dir or default_seed_dir(), settings.public_base_url
            )
            log.info("seeded the directory: %d resources", report.written)
        yield
        if repository is None:
            context.repository.close()

    app = FastAPI(
        title="fhir-sandbox",
        version=__version__,
        description="A FHIR R4 sandbox of the UK organisation and endpoint registry.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    router = build_router()
    app.include_router(router, prefix="/fhir", tags=["directory"])
    app.include_router(
        router, prefix="/ehr/{tenant}/r4", tags=["mock EHR"], include_in_schema=False
    )

    @app.get("/", include_in_schema=False)
    async def home() -> HTMLResponse:
        return HTMLResponse(home_page())

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["ETag", "Location", "Content-Location", "Last-Modified", "X-Request-Id"],
    )
    app.add_middleware(RequestIdMiddleware, log_requests=settings.log_requests)
    return app
