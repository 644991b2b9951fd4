"""The ASGI application: every face of the service on one server.

``/`` is the Tencent face's own ASGI app: it is the API's hottest path and needs nothing a framework
route offers (one path, the action in a header, a raw body the signature covers), so it skips the
framework's routing and middleware. Everything else - the Huawei face, the console, ``/healthz`` - is
one FastAPI app, which also runs the lifespan. Both are counted by the same request metrics. Prometheus'
``/metrics`` is not here: `openrds.metrics.listener_app` serves it on a listener of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from openrds import __version__
from openrds.container import Container
from openrds.metrics.requests import ApiMetricsMiddleware
from openrds.metrics.stats import HistogramSet
from openrds.persistence.uow import REQUEST_WRITE_WAIT, write_wait


class OpenRDSApp:
    """``/`` to the Tencent face, every other path to the web app (see the module docstring)."""

    def __init__(self, tencent: ASGIApp, web: FastAPI, requests: HistogramSet) -> None:
        self.web = web
        self._tencent = ApiMetricsMiddleware(tencent, stats=requests)
        self._web = ApiMetricsMiddleware(web, stats=requests)

    @property
    def state(self) -> Any:
        """The web app's state (container, metrics, console), for tests and benches."""
        return self.web.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the lifespan: background work keeps the store's long write wait
            await self._web(scope, receive, send)
            return
        # A request's writes give up (StoreBusy) rather than queue behind a stuck writer for long.
        with write_wait(REQUEST_WRITE_WAIT):
            await (self._tencent if scope["path"] == "/" else self._web)(scope, receive, send)


def create_app(container: Container, *, manage_background: bool = True) -> OpenRDSApp:
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
    from openrds.api.huawei_v3 import routes as huawei_v3_routes
    from openrds.api.tencent import registry as tencent_registry

    app.include_router(huawei_routes.build(container))  # first: IAM's /v3/auth, /v3/projects, /v3/regions
    app.include_router(huawei_v3_routes.build(container))  # /v3/{project_id}/...
    from openrds.api.trove import routes as trove_routes

    app.include_router(trove_routes.build(container))  # Trove v1.0, behind the Huawei face's Keystone
    from openrds.api import downloads

    app.include_router(downloads.build(container))  # /backup-downloads/{token}: links DescribeBackupDownloadURL signs

    # The metrics (served on their own listener, see openrds.metrics) and the lag history the console
    # charts, fed by the monitor's rounds and the finished jobs from now on; then the web console.
    from openrds import console
    from openrds.metrics import Metrics

    metrics = Metrics(container.monitor.snapshot, container.store)
    container.monitor.on_round(metrics.on_round)
    container.runner.on_finish(metrics.on_job_finished)
    app.state.metrics = metrics
    app.state.console = console.mount(app, container, metrics)
    app.state.tencent = tencent_registry.build(container)
    metrics.count_answers("tencent", app.state.tencent.answers)
    return OpenRDSApp(app.state.tencent, app, metrics.requests)
