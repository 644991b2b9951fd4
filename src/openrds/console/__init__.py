"""The web console at ``/console``: server-rendered pages over the same services as the APIs.

`mount` adds it to the app: the vendored static files, and the pages, fragments and actions of
`routes`. It reads what the metrics layer keeps in memory (`openrds.metrics.Metrics`): the lag history
and the inventory of instances and groups refreshed after each monitor round.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from openrds.console.routes import STATIC, Console, build_router
from openrds.console.security import Signer, load_key
from openrds.container import Container
from openrds.metrics import Metrics


def mount(app: FastAPI, container: Container, metrics: Metrics, *, secure_cookies: bool = False) -> Console:
    """Serve the console on ``app``. Cookies get ``Secure`` with ``secure_cookies`` (behind TLS)."""
    console = Console(container, metrics, Signer(load_key(container.settings.data_dir)),
                      secure_cookies=secure_cookies)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.include_router(build_router(console))
    return console
