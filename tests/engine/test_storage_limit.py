"""An instance's Storage is a real limit: past it the primary refuses writes, says why, and takes them
again once data is deleted or the storage is raised.

Real server, no mocks: a primary under the local driver and its record in a store. The storage watch
is the service's own (`jobs.storage.StorageWatch`), with one GB of Storage made to hold only a few MB
(``bytes_per_gb``) so that the test writes tens of MB instead of GBs; its rounds are called directly.
The filler table is UNLOGGED so that what is written lands in the data files only: WAL segments, which
PostgreSQL recycles rather than removes, would otherwise keep the directory above the limit after the
data is deleted and make the figures depend on checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import psycopg
import pytest
from tests.console import rows

from openrds.container import Container, build
from openrds.domain import quotas
from openrds.domain.model import Instance
from openrds.engine.driver import ReplicaRequest
from openrds.engine.local import LocalDriver
from openrds.engine.local.files import read_only_in
from openrds.reconcile.storage_watch import StorageWatch
from openrds.settings import Settings

from .conftest import SMALL, admin_connect, cleanup, eventually, major, make_root, primary_request

pytestmark = pytest.mark.slow

MB = 1024 * 1024
STORAGE_GB = 10
HEADROOM = 24 * MB  # room above the fresh server's size: more than one WAL segment (16 MB) of noise
FILL_ROWS = 40_000  # ~1 kB each: ~45 MB of table, well past the headroom


@dataclass
class World:
    driver: LocalDriver
    container: Container
    primary: Instance


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = make_root()
    driver = LocalDriver(root)
    container = build(Settings(data_dir=root / "control"), driver=driver)
    try:
        tenant = container.identity.create_tenant("storage")
        primary = rows.primary(tenant.id, storage_gb=STORAGE_GB, major_version=major())
        with container.store.write() as uow:
            uow.instances(tenant.id).add(primary)
        info = driver.create_primary(primary_request(primary.code))
        with admin_connect(info) as conn:
            conn.execute("CREATE DATABASE app")
        yield World(driver, container, primary)
    finally:
        try:
            container.stop()
        finally:
            cleanup(driver, root)


def connect(world: World) -> psycopg.Connection:
    """The tenant's admin, over TCP with its password, in the database it made."""
    return admin_connect(world.driver.status(world.primary.code), "app")


def can_write(world: World) -> bool:
    """A new session of the tenant can insert; False when refused for a read-only transaction."""
    with connect(world) as conn:
        try:
            conn.execute("INSERT INTO notes (note) VALUES ('hello')")
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            assert "cannot execute INSERT in a read-only transaction" in str(exc)
            return False
    return True


def fill(world: World) -> None:
    with connect(world) as conn:
        conn.execute("SET default_transaction_read_only = off")
        conn.execute(f"INSERT INTO filler (note) SELECT repeat('x', 1000) FROM generate_series(1, {FILL_ROWS})")


def record(world: World) -> Instance:
    with world.container.store.read() as uow:
        found = uow.instances(None).find(world.primary.id)
    assert found is not None
    return found


def event_kinds(world: World) -> list[str]:
    with world.container.store.read() as uow:
        return [kind for _, kind, _ in reversed(uow.events.of(world.primary.id))]


def set_storage(world: World, storage_gb: int) -> None:
    with world.container.store.write() as uow:
        uow.instances(None).save(replace(record(world), storage_gb=storage_gb))


def test_past_its_storage_a_primary_refuses_writes_until_data_is_deleted_or_the_storage_raised(world: World) -> None:
    with connect(world) as conn:
        conn.execute("CREATE TABLE notes (note text)")
        conn.execute("CREATE UNLOGGED TABLE filler (note text)")
    # The limit: the server's size now plus HEADROOM.
    bytes_per_gb = (world.driver.disk_usage(world.primary.code) + HEADROOM) // STORAGE_GB
    watch = StorageWatch(world.container.store, world.driver, world.container.clock, bytes_per_gb=bytes_per_gb)
    watch.check_once()
    assert can_write(world)
    assert record(world).status_reason == "" and event_kinds(world) == []

    # Past the storage: new transactions of every session are read-only, and the instance says why.
    with connect(world) as opened_before:
        fill(world)
        watch.check_once()
        reason = record(world).status_reason
        assert reason == quotas.storage_reason(STORAGE_GB), reason
        assert reason.startswith("storage full: ") and f"{STORAGE_GB} GB of storage" in reason
        assert event_kinds(world) == [quotas.EVENT_FULL]
        eventually(lambda: not can_write(world), "new sessions to be read-only after the reload")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="read-only transaction"):
            opened_before.execute("INSERT INTO notes (note) VALUES ('from a session opened before')")
    watch.check_once()  # a second round changes nothing
    assert event_kinds(world) == [quotas.EVENT_FULL]

    # The mode outlives a restart.
    world.driver.restart(world.primary.code)
    assert not can_write(world)

    # The tenant deletes data (in a session that turned the default off for itself): writable again.
    with connect(world) as conn:
        conn.execute("SET default_transaction_read_only = off")
        conn.execute("TRUNCATE filler")
    watch.check_once()
    assert record(world).status_reason == ""
    assert event_kinds(world) == [quotas.EVENT_FULL, quotas.EVENT_OK]
    eventually(lambda: can_write(world), "new sessions to be writable after the reload")

    # Full again, then the storage is raised (the record is what counts): writable again.
    fill(world)
    watch.check_once()
    eventually(lambda: not can_write(world), "new sessions to be read-only after the reload")
    # A replica made meanwhile does not inherit the mode (its backup adds WAL segments: raise generously).
    replica = world.driver.create_replicas([ReplicaRequest(world.primary.code + "-r", world.primary.code, SMALL)])[0]
    try:
        auto_conf = (world.driver.layout.data(replica.instance_id) / "postgresql.auto.conf").read_text()
        assert not read_only_in(auto_conf), auto_conf
    finally:
        world.driver.destroy(replica.instance_id)
    set_storage(world, 3 * STORAGE_GB)
    watch.check_once()
    assert record(world).status_reason == ""
    assert event_kinds(world) == [quotas.EVENT_FULL, quotas.EVENT_OK, quotas.EVENT_FULL, quotas.EVENT_OK]
    eventually(lambda: can_write(world), "new sessions to be writable after the reload")
