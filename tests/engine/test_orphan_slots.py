"""A replica destroyed while its source was down leaves its slot on the source; the supervisor drops it
once the source is back, and keeps the slots of the replicas the store still has.

Real servers under a throwaway data root, a real store whose instances are those servers, and the
supervisor's own loop; every wait polls with a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from tests.console import rows

from openrds.container import Container, build
from openrds.domain.model import Instance
from openrds.domain.states import Lifecycle
from openrds.engine.driver import ReplicaRequest, ServerInfo, ServerState
from openrds.engine.local import LocalDriver
from openrds.engine.local.layout import slot_name
from openrds.jobs.kinds import JobEnv
from openrds.reconcile.supervisor import Supervisor
from openrds.settings import Settings

from .conftest import SMALL, admin_connect, cleanup, eventually, make_root, primary_request

pytestmark = pytest.mark.slow


@dataclass
class World:
    driver: LocalDriver
    container: Container
    source: Instance  # the store's records; their codes name the servers
    kept: Instance  # a replica that stays
    doomed: Instance  # a replica destroyed while the source is down

    def supervisor(self) -> Supervisor:
        """A supervisor of its own (the container's is not started), looking every 0.1 s."""
        c = self.container
        return Supervisor(JobEnv(store=c.store, driver=c.driver, catalogue=c.catalogue, box=c.box, clock=c.clock),
                          interval=0.1)

    def delete(self, instance: Instance) -> None:
        """What the destroy job does to the store once the server is gone."""
        with self.container.store.write() as uow:
            current = uow.instances(None).find(instance.id)
            assert current is not None
            uow.instances(None).save(replace(current, lifecycle=Lifecycle.DELETED))


@pytest.fixture
def world() -> Iterator[World]:
    root = make_root()
    driver = LocalDriver(root)
    container = build(Settings(data_dir=root / "control"), driver=driver)
    try:
        tenant = container.identity.create_tenant("orphans")
        source = rows.primary(tenant.id)
        kept, doomed = rows.replica(source), rows.replica(source)
        with container.store.write() as uow:
            for instance in (source, kept, doomed):
                uow.instances(tenant.id).add(instance)
        driver.create_primary(primary_request(source.code))
        driver.create_replicas([ReplicaRequest(kept.code, source.code, SMALL),
                                ReplicaRequest(doomed.code, source.code, SMALL)])
        yield World(driver, container, source, kept, doomed)
    finally:
        try:
            container.stop()
        finally:
            cleanup(driver, root)


def slots_on(info: ServerInfo) -> set[str]:
    with admin_connect(info) as conn:
        return {r[0] for r in conn.execute("SELECT slot_name FROM pg_replication_slots")}


def destroy_while_the_source_is_down(world: World) -> None:
    driver, source = world.driver, world.source.code
    driver.stop(source)
    driver.destroy(world.doomed.code)  # the drop is skipped: its source is down
    world.delete(world.doomed)
    # The slot is still there, on disk, and will be back with the source.
    assert (Path(driver.status(source).data_dir) / "pg_replslot" / slot_name(world.doomed.code)).is_dir()


def test_the_supervisor_restarts_a_source_and_drops_the_slot_of_a_replica_destroyed_meanwhile(
    world: World,
) -> None:
    supervisor = world.supervisor()
    supervisor.check_once()  # the source is up: its slots are those of its two replicas
    source = world.driver.status(world.source.code)
    assert {slot_name(world.kept.code), slot_name(world.doomed.code)} <= slots_on(source)

    destroy_while_the_source_is_down(world)
    supervisor.start()
    try:
        eventually(lambda: world.driver.status(world.source.code).state is ServerState.RUNNING,
                   "the supervisor to restart the source")
        eventually(lambda: slot_name(world.doomed.code) not in slots_on(source),
                   "the slot of the destroyed replica to be dropped from pg_replication_slots")
    finally:
        supervisor.stop()
    assert slot_name(world.kept.code) in slots_on(source)  # the store still has that replica


def test_a_supervisor_starting_over_drops_the_slot_of_a_replica_destroyed_while_its_source_was_down(
    world: World,
) -> None:
    destroy_while_the_source_is_down(world)
    source = world.driver.start(world.source.code)  # back before any supervisor saw it down
    assert slot_name(world.doomed.code) in slots_on(source)
    supervisor = world.supervisor()  # a service starting over: every running server is one that came back
    supervisor.start()
    try:
        eventually(lambda: slot_name(world.doomed.code) not in slots_on(source),
                   "the slot of the destroyed replica to be dropped from pg_replication_slots")
    finally:
        supervisor.stop()
    assert slot_name(world.kept.code) in slots_on(source)


def test_a_copy_under_way_keeps_its_temporary_slot(world: World) -> None:
    # pg_basebackup -X stream (without -S) streams through a temporary slot: reconciling must not end it.
    driver, source = world.driver, world.source.code
    meta = driver.layout.read_meta(source)
    assert meta is not None
    with driver.sessions.open(meta, "test") as holder:
        holder.execute("SELECT pg_create_physical_replication_slot('pg_basebackup_4242', true, true)")
        orphans = driver.reconcile_slots(source, [world.kept.code, world.doomed.code])
        assert orphans == []
        assert holder.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pg_basebackup_4242'"
                              ).fetchone() == (1,)
