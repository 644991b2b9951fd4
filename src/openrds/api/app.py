"""The ASGI application: every face of the service on one server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from openrds import __version__
from openrds.container import Container


def create_app(container: Container, *, manage_background: bool = True) -> FastAPI:
    """The app over a built container; with ``manage_background`` its lifespan starts and stops the
    job runner and supervisor (PostgreSQL servers are never stopped by a shutdown)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_background:
            container.start()
        try:
            yield
        finally:
            if manage_background:
                container.stop()

    app = FastAPI(title="OpenRDS", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.container = container

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        with container.store.read() as uow:
            uow.tenants.count()
        return JSONResponse({"status": "ok", "jobs_running": container.runner.busy})

    @app.get("/version", include_in_schema=False)
    def version() -> JSONResponse:
        return JSONResponse({"version": __version__,
                             "postgresql": [v.full for v in container.catalogue.versions]})

    from openrds.api.huawei import routes as huawei_routes
    from openrds.api.tencent import routes as tencent_routes

    app.include_router(huawei_routes.build(container))
    app.include_router(tencent_routes.build(container))

    # Prometheus metrics at /metrics (and the lag history the console charts), then the web console.
    from openrds import console, metrics

    app.state.metrics = metrics.install(app, container)
    app.state.console = console.mount(app, container, app.state.metrics)
    return app
