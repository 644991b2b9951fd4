"""Helpers of the money tests.

* :func:`offline_container`: the real composition root over a fresh store, its clock a
  :class:`ManualClock`, nothing started and no engine (jobs are recorded, never run): fast tests of
  the billing rules through the services.
* :func:`in_process_service`: the whole service in this process (``container.build`` +
  ``create_app`` served by uvicorn on a thread, on a free loopback port) with a manual clock and the
  real engine, so tests move time forward through the official SDK instead of waiting. Everything it
  starts is stopped and removed at the end, servers included.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from tests.support.service import destroy_servers, free_port, temp_root, wait_for

from openrds.api.app import create_app
from openrds.clock import ManualClock
from openrds.container import Container, build
from openrds.domain.catalogue import Version
from openrds.domain.money import LedgerEntry
from openrds.domain.states import JobState
from openrds.jobs.kinds import KINDS, JobEnv
from openrds.jobs.model import JobContext
from openrds.services.instances import Created, PrimaryOrder
from openrds.settings import Settings

#: A Monday at noon (UTC), a month with 31 days: expiries and refunds are easy to reason about.
T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
PREPAID, POSTPAID = "PREPAID", "POSTPAID_BY_HOUR"
MONTH_20GB = 18000 + 20 * 50  # pg.it.small2 with 20 GB, one month (catalogue defaults)
HOUR_20GB = 25 + 2  # the same, one hour


class _NoEngine:
    """A driver that only knows which versions exist: for tests that never run a job."""

    def versions(self) -> list[Version]:
        return [Version(16, "16.4"), Version(15, "15.8")]


@contextmanager
def offline_container(**settings: Any) -> Iterator[tuple[Container, ManualClock]]:
    root = temp_root()
    clock = ManualClock(T0)
    container = build(Settings(data_dir=root / "data", **settings), clock=clock, driver=_NoEngine())  # type: ignore[arg-type]
    try:
        yield container, clock
    finally:
        container.stop()
        shutil.rmtree(root, ignore_errors=True)


def new_tenant(c: Container, name: str, yuan: int = 0) -> str:
    tenant = c.identity.create_tenant(name)
    if yuan:
        c.billing.top_up(tenant.id, yuan * 100)
    return tenant.id


def buy(c: Container, tenant_id: str, charge_type: str = PREPAID, *, period: int = 1, count: int = 1,
        storage: int = 20, **extra: Any) -> Created:
    return c.instances.create_primaries(tenant_id, PrimaryOrder(
        region="ap-beijing", zone="ap-beijing-4", spec_code="pg.it.small2", storage_gb=storage, admin_user="dbadmin",
        admin_password="Openrds-Test1", count=count, period_months=period, charge_type=charge_type, **extra))


def finish_jobs(c: Container, clock: ManualClock) -> None:
    """What the job runner would record: each pending job's bookkeeping (its last, "mark ..." step)."""
    env = JobEnv(store=c.store, driver=c.driver, catalogue=c.catalogue, box=c.box, clock=clock)
    with c.store.read() as uow:
        pending = [j for j in uow.jobs.unfinished()]
    for job in pending:
        KINDS[job.kind].steps[-1].do(JobContext(job, env, {}))
        with c.store.write() as uow:
            uow.jobs.save(replace(job, state=JobState.SUCCEEDED))


def ledger_sum(container: Container, tenant_id: str) -> int:
    return sum(e.amount_cents for e in container.billing.statement(tenant_id).ledger)


def ledger(container: Container, tenant_id: str) -> list[LedgerEntry]:
    return list(container.billing.statement(tenant_id).ledger)


@dataclass
class InProcessService:
    """Duck-types ``tests.support.service.RunningService`` for ``tests.api_tencent.sdk.Api``."""

    container: Container
    clock: ManualClock
    data_dir: Path
    port: int
    server: uvicorn.Server

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def log(self) -> str:
        return "(in-process service: see the captured log)"

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    def tick(self):  # type: ignore[no-untyped-def]
        return self.container.billing.tick()


def _port_range() -> str:
    # Away from tests.support.service's bands (20000-39999 by pid): its services may run in this session.
    base = 40000 + (os.getpid() % 200) * 100
    return f"{base}-{base + 99}"


@contextmanager
def in_process_service(**settings: Any) -> Iterator[InProcessService]:
    root = temp_root()
    data_dir = root / "data"
    port = free_port()
    values: dict[str, Any] = {"data_dir": data_dir, "listen": f"127.0.0.1:{port}", "port_range": _port_range(),
                              "supervise_interval": 1.0, "billing_interval": 3600.0}
    values.update(settings)
    # Start at the real time (job and server timestamps look ordinary); tests only move it forward.
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    container = build(Settings(**values), clock=clock)
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, name="openrds-test-server", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), 60, "the in-process service to start")
        assert server.started, "the in-process service did not start"
        yield InProcessService(container, clock, data_dir, port, server)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        destroy_servers(data_dir)
        shutil.rmtree(root, ignore_errors=True)
