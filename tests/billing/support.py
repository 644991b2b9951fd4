"""Helpers of the money tests.

* :func:`offline_container`: the real composition root over a fresh store, its clock a
  :class:`ManualClock`, nothing started, its engine the in-memory `FakeDriver`: fast tests of the
  billing rules through the services, whose jobs :func:`finish_jobs` runs for real.
* :func:`in_process_service`: the whole service in this process (`tests.support.in_process`) with a
  manual clock, over the real engine or the fake one, so tests move time forward through the
  official SDK instead of waiting. Everything it starts is stopped and removed at the end.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService
from tests.support.in_process import in_process_service as serve_in_process
from tests.support.service import temp_root, wait_for

from openrds.clock import ManualClock
from openrds.container import Container, build
from openrds.domain.model import Job
from openrds.domain.money import LedgerEntry
from openrds.domain.states import JobState
from openrds.engine.driver import Driver
from openrds.jobs.kinds import KINDS, JobEnv, is_transient
from openrds.jobs.runner import JobRunner
from openrds.services.instances import Created, PrimaryOrder
from openrds.settings import Settings

#: A Monday at noon (UTC), a month with 31 days: expiries and refunds are easy to reason about.
T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
PREPAID, POSTPAID = "PREPAID", "POSTPAID_BY_HOUR"
MONTH_20GB = 18000 + 20 * 50  # pg.it.small2 with 20 GB, one month (catalogue defaults)
HOUR_20GB = 25 + 2  # the same, one hour


#: How long :func:`finish_jobs` waits for the jobs it runs (each takes milliseconds on the fake engine).
JOBS_TIMEOUT = 30.0


@contextmanager
def offline_container(**settings: Any) -> Iterator[tuple[Container, ManualClock]]:
    root = temp_root()
    clock = ManualClock(T0)
    # Every port is free to the fake (nothing binds): the property test makes hundreds of servers.
    container = build(Settings(data_dir=root / "data", **settings), clock=clock,
                      driver=FakeDriver(port_range=(1024, 65535)))
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
    """Run every unfinished job, step by step, through a `JobRunner` over the container's engine (the
    fake), until none is left; each must succeed.

    A runner of its own for each call, stopped at the end: between two calls jobs stay pending, so
    a test sees the states a service shows while its jobs are queued. A step that fails transiently
    would wait for a backoff on the manual clock, which only the test moves: that is a failure too.
    """
    with c.store.read() as uow:
        pending = [j.id for j in uow.jobs.unfinished()]
    if not pending:
        return
    env = JobEnv(store=c.store, driver=c.driver, catalogue=c.catalogue, box=c.box, clock=clock)
    runner = JobRunner(c.store, KINDS, env, clock, workers=4, poll_interval=0.01, is_transient=is_transient)

    def finished() -> list[Job] | None:
        with c.store.read() as uow:
            jobs = [uow.jobs.get(job_id) for job_id in pending]
        done = [j for j in jobs if j is not None and j.finished]
        return done if len(done) == len(jobs) else None

    runner.start()
    try:
        done = wait_for(finished, JOBS_TIMEOUT, f"jobs {pending} to finish", interval=0.005)
    finally:
        runner.stop()
    failed = [(j.kind, j.error) for j in done if j.state is not JobState.SUCCEEDED]
    assert not failed, f"jobs failed: {failed}"


def ledger_sum(container: Container, tenant_id: str) -> int:
    return sum(e.amount_cents for e in container.billing.statement(tenant_id).ledger)


def ledger(container: Container, tenant_id: str) -> list[LedgerEntry]:
    return list(container.billing.statement(tenant_id).ledger)


@dataclass
class MoneyService:
    """An `InProcessService` with the manual clock its tests move (duck-types ``RunningService`` for
    ``tests.api_tencent.sdk.Api``)."""

    service: InProcessService
    clock: ManualClock

    def __getattr__(self, name: str) -> Any:  # container, data_dir, url, endpoint, log, ...
        return getattr(self.service, name)

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    def tick(self):  # type: ignore[no-untyped-def]
        return self.service.container.billing.tick()


@contextmanager
def in_process_service(*, driver: Driver | None = None, **settings: Any) -> Iterator[MoneyService]:
    """The whole service in this process (`tests.support.in_process`) on a manual clock, its engine
    ``driver`` (None: real servers), without a first tenant (the tests make their own)."""
    # Start at the real time (job and server timestamps look ordinary); tests only move it forward.
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    with serve_in_process(clock=clock, driver=driver, first_tenant=False, **settings) as service:
        yield MoneyService(service, clock)
