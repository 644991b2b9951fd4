"""The whole service in this process: ``container.build`` + ``create_app`` served by uvicorn on a
thread, on a free loopback port, over a temporary data root - what ``openrds serve`` runs, with the
clock and the engine driver chosen by the test (the fake engine, a manual clock). The test reaches
into `InProcessService.container` (the fake's servers, the billing round) where a subprocess would
hide it. Everything it starts is stopped and removed at the end, servers included.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from tests.fakes.driver import FakeDriver
from tests.support.service import (
    IAM_PASSWORD,
    IAM_USER,
    SECRET_ID,
    SECRET_KEY,
    destroy_servers,
    free_port,
    temp_root,
    wait_for,
)

from openrds.api.app import create_app
from openrds.clock import Clock
from openrds.container import Container, build
from openrds.engine.driver import Driver
from openrds.services.bootstrap import bootstrap
from openrds.settings import Settings

#: The first tenant's credentials, as `tests.support.service.start_service` gives them.
BOOTSTRAP_ENV = {"OPENRDS_BOOTSTRAP_SECRET_ID": SECRET_ID, "OPENRDS_BOOTSTRAP_SECRET_KEY": SECRET_KEY,
                 "OPENRDS_BOOTSTRAP_IAM_USER": IAM_USER, "OPENRDS_BOOTSTRAP_IAM_PASSWORD": IAM_PASSWORD}


@dataclass
class InProcessService:
    """Duck-types `tests.support.service.RunningService` for the clients (``tests.api_tencent.sdk.Api``,
    ``openrds admin`` subprocesses through `env`)."""

    container: Container
    data_dir: Path
    port: int
    server: uvicorn.Server
    env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def verify(self) -> bool:
        return True

    def log(self) -> str:
        return "(in-process service: see the captured log)"


def _port_range() -> str:
    # Away from tests.support.service's bands (20000-39999 by pid): its services may run in this session.
    base = 40000 + (os.getpid() % 200) * 100
    return f"{base}-{base + 99}"


@contextmanager
def in_process_service(*, clock: Clock | None = None, driver: Driver | None = None, first_tenant: bool = True,
                       **settings: Any) -> Iterator[InProcessService]:
    """``driver``: None for the real engine (`LocalDriver` over the data root); ``first_tenant``: the
    first start's tenant with `BOOTSTRAP_ENV`'s credentials, as ``openrds serve`` makes it; ``settings``
    override the defaults (a free port, supervision every second, a billing round an hour)."""
    root = temp_root()
    data_dir = root / "data"
    container = None
    server = None
    thread = None
    try:
        port = free_port()
        values: dict[str, Any] = {"data_dir": data_dir, "listen": f"127.0.0.1:{port}",
                                  "port_range": _port_range(), "supervise_interval": 1.0, "billing_interval": 3600.0}
        values.update(settings)
        container = build(Settings(**values), clock=clock, driver=driver)
        if first_tenant:
            bootstrap(container.identity, data_dir, BOOTSTRAP_ENV, billing=container.billing)
        server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port,
                                               log_level="warning", access_log=False, lifespan="on"))
        thread = threading.Thread(target=server.run, name="openrds-test-server", daemon=True)
        thread.start()
        # What `openrds admin` subprocesses need to see the service's settings, as they would share its environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENRDS_")}
        env.update({f"OPENRDS_{name.upper()}": str(value) for name, value in settings.items()})
        env["OPENRDS_DATA_DIR"] = str(data_dir)
        started = thread
        wait_for(lambda: server.started or not started.is_alive(), 60, "the in-process service to start")
        assert server.started, "the in-process service did not start"
        yield InProcessService(container, data_dir, port, server, env)
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=60)
        if container is not None and (server is None or not server.started):
            container.stop()  # no lifespan ran to close its store and stop its loops
        if container is None or not isinstance(container.driver, FakeDriver):
            destroy_servers(data_dir)
        shutil.rmtree(root, ignore_errors=True)
