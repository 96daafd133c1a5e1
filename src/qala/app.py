"""``create_app()``: the one place that wires settings, database, modules and routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qala.core import alerts
from qala.core.api import router as kernel_router
from qala.core.auth.api import router as auth_router
from qala.core.db import Database
from qala.core.events import EventBus
from qala.core.http import (
    BodyLimit,
    Metrics,
    RequestContext,
    install_error_handlers,
)
from qala.core.modules import enabled_modules, handlers_of, import_models, tiles_of
from qala.core.runtime import Runtime, tune_gc
from qala.core.templating import build_templates
from qala.settings import Settings


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    *,
    start_workers: bool = True,
    inline_events: bool = False,
) -> FastAPI:
    """Build the Qala application for one deployment."""
    settings = settings or Settings()
    database = database or Database.from_url(settings.effective_database_url)
    modules = enabled_modules(settings.modules)
    import_models()
    bus = EventBus(database, handlers_of(modules), every_event=(alerts.record_alert,))
    runtime = Runtime(
        settings=settings,
        database=database,
        bus=bus,
        modules=modules,
        tiles=tiles_of(modules),
        templates=build_templates(modules),
        inline_events=inline_events,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stops = []
        if start_workers:  # a serving process (tests build apps without workers)
            bus.start(settings.event_poll_seconds)
            stops = [module.load("workers")(runtime) for module in modules if module.workers]
            tune_gc()
        try:
            yield
        finally:
            for stop in stops:
                stop()
            bus.stop()

    app = FastAPI(
        title="Qala",
        summary="Open smart-city platform for the cities of Kazakhstan",
        version="0.1.0",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.qala = runtime
    metrics = Metrics()
    install_error_handlers(app)
    app.add_middleware(RequestContext, metrics=metrics, default_language=settings.default_language)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    _mount_static(app, runtime)
    _mount_probes(app, runtime, metrics)
    app.include_router(kernel_router)
    app.include_router(auth_router)
    for module in modules:
        if module.api:
            app.include_router(module.load("api"), prefix=f"/api/{module.name}")
        for path, reference in module.mounts.items():
            from qala.core.modules import resolve

            app.include_router(resolve(reference), prefix=path)
        if module.pages:
            app.include_router(module.load("pages"))
    return app


def _mount_static(app: FastAPI, runtime: Runtime) -> None:
    from xstatic.pkg import leaflet

    app.mount("/static/vendor/leaflet", StaticFiles(directory=leaflet.BASE_DIR), name="leaflet")
    for module in runtime.modules:
        folder = files(f"qala.{module.name}").joinpath("static")
        if folder.is_dir():
            app.mount(
                f"/static/{module.name}",
                StaticFiles(directory=str(folder)),
                name=f"static-{module.name}",
            )


def _mount_probes(app: FastAPI, runtime: Runtime, metrics: Metrics) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        ready = runtime.database.ping()
        body = {"status": "ready" if ready else "database unreachable"}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
