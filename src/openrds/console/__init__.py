"""The web console at ``/console``: server-rendered pages over the same services as the APIs.

`mount` adds it to the app: the vendored static files, and the pages, fragments and actions of
`routes`. It reads the lag history the metrics layer keeps (`openrds.metrics.Metrics.history`).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from openrds.console.routes import STATIC, Console, build_router
from openrds.console.security import Signer, SignInThrottle, load_key
from openrds.container import Container
from openrds.metrics.history import LagHistory


def mount(app: FastAPI, container: Container, history: LagHistory, *, throttle: SignInThrottle | None = None,
          secure_cookies: bool = False) -> Console:
    """Serve the console on ``app``. Cookies get ``Secure`` with ``secure_cookies`` (behind TLS)."""
    console = Console(container, history, Signer(load_key(container.settings.data_dir)),
                      throttle or SignInThrottle(), secure_cookies=secure_cookies)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.include_router(build_router(console))
    return console
