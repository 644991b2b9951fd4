"""Helpers of the backup tests: the real composition root over a fresh store with the in-memory engine
(`FakeDriver`, its clock the test's `ManualClock`), nothing started; jobs run by `finish_jobs`, the
backup schedule's rounds called by the test."""

from __future__ import annotations

import atexit
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.billing.support import finish_jobs
from tests.fakes.driver import FakeDriver
from tests.support.service import temp_root

from openrds.clock import ManualClock
from openrds.container import Container, build, open_store
from openrds.domain.model import Instance
from openrds.services.instances import PrimaryOrder
from openrds.settings import Settings

#: A Monday at noon (UTC).
T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@dataclass
class World:
    c: Container
    clock: ManualClock
    driver: FakeDriver
    tenant: str

    def run_jobs(self) -> None:
        finish_jobs(self.c, self.clock)

    def primary(self, storage: int = 20, **extra: Any) -> Instance:
        """A running primary (its creation job run), postpaid."""
        created = self.c.instances.create_primaries(self.tenant, PrimaryOrder(
            region="ap-beijing", zone="ap-beijing-4", spec_code="pg.it.small2", storage_gb=storage,
            admin_user="dbadmin", admin_password="Openrds-Test1", charge_type="POSTPAID_BY_HOUR", **extra))
        self.run_jobs()
        return self.c.instances.get(self.tenant, created.instances[0].id)


_TEMPLATE: list[Path] = []  # a store migrated once, copied by every world (migrating takes most of a build)


def _migrated_store(data_dir: Path) -> None:
    """``data_dir`` gets a metadata store already at head (the session's template, made on first use)."""
    if not _TEMPLATE:
        template = temp_root() / "data"
        store, _ = open_store(Settings(data_dir=template))
        store.close()
        _TEMPLATE.append(template)
        atexit.register(shutil.rmtree, template.parent, True)
    data_dir.mkdir(parents=True, mode=0o700)
    for name in ("openrds.db", "openrds.db-wal"):
        if (_TEMPLATE[0] / name).exists():
            shutil.copy2(_TEMPLATE[0] / name, data_dir / name)


@contextmanager
def world(*, backups: bool = True, **settings: Any) -> Iterator[World]:
    """``backups``: False for an engine that cannot back up (`FakeDriver`'s ``backups``)."""
    root = temp_root()
    _migrated_store(root / "data")
    clock = ManualClock(T0)
    driver = FakeDriver(port_range=(1024, 65535), clock=clock, backups=backups)
    container = build(Settings(data_dir=root / "data", **settings), clock=clock, driver=driver)
    try:
        tenant = container.identity.create_tenant("backup-tenant").id
        container.billing.top_up(tenant, 1_000_000)
        yield World(container, clock, driver, tenant)
    finally:
        container.stop()
        shutil.rmtree(root, ignore_errors=True)
