"""`create_app(settings)`: everything is built here, nothing at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse
from starlette.types import Receive, Scope, Send

from fhir_sandbox import __version__
from fhir_sandbox.api import errors
from fhir_sandbox.api.access_log import AccessLog
from fhir_sandbox.api.export_routes import build_export_router
from fhir_sandbox.api.fastlane import FastLane
from fhir_sandbox.api.home import home_page
from fhir_sandbox.api.middleware import RequestIdMiddleware
from fhir_sandbox.api.routes import build_router
from fhir_sandbox.api.workers import Workers
from fhir_sandbox.bulk.export_jobs import ExportManager
from fhir_sandbox.config import Settings
from fhir_sandbox.heap import long_lived_objects_frozen
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.maintenance import ensure_index_current
from fhir_sandbox.searchparams.registry import registry_with
from fhir_sandbox.seeding import default_seed_dir, is_empty, load_seed
from fhir_sandbox.storage.base import Repository
from fhir_sandbox.storage.sql.engine import EngineOptions
from fhir_sandbox.storage.sql.repository import SqlRepository

log = logging.getLogger("fhir_sandbox")

#: Response headers a browser client may read (CORS), $export's among them.
EXPOSED_HEADERS = [
    "ETag", "Location", "Content-Location", "Last-Modified", "X-Request-Id",
    "X-Progress", "Retry-After", "Expires",
]  # fmt: skip


def engine_options(settings: Settings) -> EngineOptions:
    return EngineOptions(
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        statement_timeout=settings.database_statement_timeout,
        connect_timeout=settings.database_connect_timeout,
        sqlite_cache_mb=settings.sqlite_cache_mb,
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


def export_manager(settings: Settings) -> ExportManager:
    """The $export job service; it touches the disk only once the app starts."""
    return ExportManager(
        settings.resolved_export_dir(),
        expiry=timedelta(seconds=settings.export_expiry_seconds),
        max_running=settings.max_concurrent_exports,
        max_per_file=settings.export_file_max_resources,
    )


class SandboxApp(FastAPI):
    """FastAPI with the fast lane (api/fastlane.py) in front of its whole middleware stack."""

    fast_lane: FastLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_lane is None or not await self.fast_lane.handle(scope, receive, send):
            await super().__call__(scope, receive, send)


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
        exports.start_background()
        with long_lived_objects_frozen():
            yield
        if access_log is not None:
            access_log.flush()
        exports.shutdown()  # running exports stop before the store closes
        workers.shutdown()
        searchers.shutdown()
        if repository is None:
            context.repository.close()

    app = SandboxApp(
        title="fhir-sandbox",
        version=__version__,
        description="A FHIR R4 sandbox of the UK organisation and endpoint registry.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.exports = exports = export_manager(settings)
    app.state.access_log = access_log = AccessLog() if settings.log_requests else None
    workers = Workers(settings.read_threads, "fhir-worker")
    searchers = Workers(settings.embedded_search_threads, "fhir-search")
    app.fast_lane = FastLane(
        lambda: app.state.context,
        workers,
        searchers,
        access_log=access_log,
        max_body_bytes=settings.max_body_bytes,
    )
    errors.install(app)
    export_router = build_export_router()  # before `router`: its /{type}/{id} would match
    app.include_router(export_router, prefix="/fhir", tags=["bulk data"])
    app.include_router(export_router, prefix="/ehr/{tenant}/r4", include_in_schema=False)
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
        expose_headers=EXPOSED_HEADERS,
    )
    app.add_middleware(RequestIdMiddleware, access_log=access_log)
    return app
