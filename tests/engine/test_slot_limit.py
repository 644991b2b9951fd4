"""A stopped replica cannot fill its upstream's disk any more, and says it must be re-created.

Real servers, no mocks: a primary and a replica under a driver whose servers cap what slots may hold
(``max_slot_wal_keep_size``) at 16 MB. The replica is stopped and WAL is generated on the primary until
its slot reads ``unreserved``, then a checkpoint invalidates it (``lost``); the primary's pg_wal stays
within the cap plus what PostgreSQL keeps on its own. The control plane's replication monitor (over a
store whose instances are these servers) sees both states, the replica's status reason says what to
do, and /metrics shows the slot's ``wal_status``. Every wait polls with a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.console import rows

from openrds.container import Container, build
from openrds.domain import slots
from openrds.domain.model import Instance
from openrds.domain.slots import SlotState
from openrds.domain.states import Lifecycle
from openrds.engine.driver import ReplicaRequest, ServerSpec, SlotInfo
from openrds.engine.local import LocalDriver, sql
from openrds.engine.local.files import SUPERUSER
from openrds.engine.local.secrets import SUPERUSER_PASSFILE
from openrds.engine.wait import wait_until
from openrds.metrics import Metrics
from openrds.monitoring.snapshot import Snapshot
from openrds.settings import Settings

from .conftest import SMALL, TIMEOUT_FACTOR, cleanup, eventually, make_root, primary_request

pytestmark = pytest.mark.slow

# One 16 MB WAL segment: the smallest cap under which a streaming replica's slot still reads "reserved"
# (with 1 MB it reads "unreserved" whenever the replica is one segment behind, and a checkpoint at such
# a moment invalidates a healthy replica).
CAP_MB = 16
MB = 1024 * 1024
WAL_ROUNDS = 12  # segments written (each with a checkpoint) once the slot is lost


@dataclass
class World:
    driver: LocalDriver
    container: Container
    primary: Instance  # the store's records; their codes name the servers
    replica: Instance


@dataclass
class Loss:
    """What was seen while the stopped replica's slot went from reserved to lost."""

    statuses: list[str | None] = field(default_factory=list)  # wal_status after each segment, up to "unreserved"
    at_risk: Snapshot | None = None  # the monitor's round while it read "unreserved"
    at_risk_reason: str = ""
    lost: Snapshot | None = None  # the monitor's round once it read "lost"
    lost_reason: str = ""
    slot: SlotInfo | None = None  # the engine's word once lost
    peak_wal_bytes: int = 0  # the most pg_wal held while WAL kept being written after the loss
    bound_bytes: int = 0
    generated_bytes: int = 0  # WAL written since the replica stopped


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = make_root()
    driver = LocalDriver(root, max_slot_wal_keep_mb=CAP_MB)
    container = build(Settings(data_dir=root / "control"), driver=driver)
    try:
        tenant = container.identity.create_tenant("slots")
        primary = rows.primary(tenant.id, storage_gb=10)
        replica = rows.replica(primary)
        with container.store.write() as uow:
            for instance in (primary, replica):
                uow.instances(tenant.id).add(instance)
        spec = ServerSpec(SMALL.cpu, SMALL.memory_mb, SMALL.max_connections, storage_gb=10)
        driver.create_primary(primary_request(primary.code, spec=spec))
        driver.create_replicas([ReplicaRequest(replica.code, primary.code, spec)])
        yield World(driver, container, primary, replica)
    finally:
        try:
            container.stop()
        finally:
            cleanup(driver, root)  # every server, its port and directory, then the root


def superuser(world: World, instance_id: str) -> psycopg.Connection:
    """The service's own superuser over the socket (pg_switch_wal and pg_ls_waldir are not the tenant's)."""
    driver = world.driver
    port = driver.status(instance_id).port
    return sql.connect(driver.layout.run, port, driver.layout.instance(instance_id) / SUPERUSER_PASSFILE,
                       user=SUPERUSER)


def slot_of(world: World) -> SlotInfo:
    found = [s for s in world.driver.stats(world.primary.code).slots if s.replica_id == world.replica.code]
    assert len(found) == 1, world.driver.stats(world.primary.code).slots
    return found[0]


def write_segment(conn: psycopg.Connection) -> None:
    """Some rows, then a switch to a new WAL segment: 16 MB more WAL since the last switch."""
    conn.execute("INSERT INTO filler (note) SELECT repeat('x', 100) FROM generate_series(1, 1000)")
    conn.execute("SELECT pg_catalog.pg_switch_wal()")


def wal_on_disk(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT COALESCE(sum(size), 0)::bigint FROM pg_catalog.pg_ls_waldir()"
                       " WHERE name ~ '^[0-9A-F]{24}$'").fetchone()
    assert row is not None
    return int(row[0])


def setting_bytes(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute("SELECT pg_catalog.pg_size_bytes(pg_catalog.current_setting(%s))", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def reason_of(world: World, instance: Instance) -> str:
    with world.container.store.read() as uow:
        found = uow.instances(None).find(instance.id)
    assert found is not None
    return found.status_reason


@pytest.fixture(scope="module")
def loss(world: World) -> Loss:
    """Stop the replica and write WAL on the primary until the slot is lost, watching all the way."""
    seen = Loss()
    world.driver.stop(world.replica.code)
    with superuser(world, world.primary.code) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS filler (id int GENERATED ALWAYS AS IDENTITY, note text)")
        start = conn.execute("SELECT pg_catalog.pg_current_wal_lsn()").fetchone()
        assert start is not None

        def unreserved() -> bool:
            write_segment(conn)  # no checkpoint yet: the WAL is past the cap but still on disk
            seen.statuses.append(slot_of(world).wal_status)
            return seen.statuses[-1] == "unreserved"

        eventually(unreserved, f"the stopped replica's slot to read 'unreserved' once WAL passed the {CAP_MB} MB cap")
        seen.at_risk = world.container.monitor.poll_once()
        seen.at_risk_reason = reason_of(world, world.replica)
        conn.execute("CHECKPOINT")
        eventually(lambda: slot_of(world).wal_status == "lost", "the checkpoint to invalidate the slot ('lost')")
        seen.slot = slot_of(world)
        seen.lost = world.container.monitor.poll_once()
        seen.lost_reason = reason_of(world, world.replica)
        for _ in range(WAL_ROUNDS):
            write_segment(conn)
            conn.execute("CHECKPOINT")
            seen.peak_wal_bytes = max(seen.peak_wal_bytes, wal_on_disk(conn))
        row = conn.execute("SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), %s)::bigint",
                           (start[0],)).fetchone()
        assert row is not None
        seen.generated_bytes = int(row[0])
        # What PostgreSQL keeps whatever the slots: the segment being written, the one the last checkpoint
        # started in, and up to min_wal_size of old segments recycled for reuse (plus one in passing).
        seen.bound_bytes = CAP_MB * MB + setting_bytes(conn, "min_wal_size") \
            + 3 * setting_bytes(conn, "wal_segment_size")
    return seen


def test_the_cap_lands_in_postgresql_conf(world: World) -> None:
    for instance in (world.primary, world.replica):
        conf = world.driver.layout.data(instance.code) / "postgresql.conf"
        assert f"max_slot_wal_keep_size = '{CAP_MB}MB'\n" in conf.read_text(encoding="utf-8"), instance.code
    with superuser(world, world.primary.code) as conn:
        assert setting_bytes(conn, "max_slot_wal_keep_size") == CAP_MB * MB
        assert setting_bytes(conn, "wal_keep_size") == 0


def test_a_streaming_replica_s_slot_is_reserved_and_shown_so(world: World) -> None:
    eventually(lambda: slot_of(world).wal_status == "reserved" and slot_of(world).active,
               "the streaming replica's slot to be active and 'reserved'")
    slot = slot_of(world)
    assert slot.safe_wal_bytes is not None and 0 < slot.safe_wal_bytes <= CAP_MB * MB + 16 * MB
    link = world.container.monitor.poll_once().links[world.replica.code]
    assert (link.slot_wal_status, link.streaming) == ("reserved", True)
    assert reason_of(world, world.replica) == ""


def test_a_stopped_replica_loses_its_slot_instead_of_filling_the_disk(loss: Loss) -> None:
    assert loss.statuses[-1] == "unreserved" and set(loss.statuses) <= {"reserved", "extended", "unreserved"}
    assert loss.slot is not None
    assert (loss.slot.wal_status, loss.slot.active, loss.slot.retained_bytes, loss.slot.safe_wal_bytes) == (
        "lost", False, None, None)
    # Without the cap the slot would have kept every byte written since the replica stopped.
    assert loss.generated_bytes > loss.bound_bytes, (loss.generated_bytes, loss.bound_bytes)
    assert loss.peak_wal_bytes <= loss.bound_bytes, (
        f"pg_wal held {loss.peak_wal_bytes / MB:.0f} MB, over the {CAP_MB} MB cap plus PostgreSQL's own "
        f"segments ({loss.bound_bytes / MB:.0f} MB)")


def test_the_monitor_sees_it_and_the_replica_says_to_re_create_it(world: World, loss: Loss) -> None:
    p, r = world.primary, world.replica
    assert loss.at_risk is not None and loss.lost is not None
    assert loss.at_risk.links[r.code].slot_wal_status == "unreserved"
    assert loss.at_risk_reason == slots.reason(SlotState.AT_RISK, p.code)
    link = loss.lost.links[r.code]
    assert (link.source, link.slot_wal_status, link.streaming, link.slot_retained_bytes) == (p.code, "lost", False,
                                                                                             None)
    assert loss.lost_reason == slots.reason(SlotState.LOST, p.code)
    assert "Delete this read-only instance and create a new one" in loss.lost_reason
    with world.container.store.read() as uow:
        found = uow.instances(None).find(r.id)
        kinds = [kind for _, kind, _ in uow.events.of(r.id)]
    assert found is not None and found.lifecycle is Lifecycle.RUNNING  # no new lifecycle state
    assert kinds[:2] == ["replication.slot_lost", "replication.slot_unreserved"]  # newest first
    metrics = Metrics(world.container.monitor.snapshot, world.container.store)
    metrics.inventory.refresh()
    families = {f.name: f.samples for f in text_string_to_metric_families(metrics.render()[0].decode())}
    status = {s.labels["openrds_replication_slot_wal_status"]: s.value
              for s in families["openrds_replication_slot_wal_status"] if s.labels["instance_id"] == r.code}
    assert status == {"reserved": 0, "extended": 0, "unreserved": 0, "lost": 1}
    assert not [s for s in families["openrds_replication_slot_safe_wal_bytes"] if s.labels["instance_id"] == r.code]


def test_a_restarted_replica_stays_lost(world: World, loss: Loss) -> None:
    r = world.replica
    world.driver.start(r.code)

    def seen_up() -> Snapshot | None:
        snap = world.container.monitor.poll_once()
        server = snap.servers.get(r.code)
        return snap if server is not None and server.up else None

    snap = wait_until(seen_up, timeout=30 * TIMEOUT_FACTOR, what="the monitor to see the restarted replica up")
    link = snap.links[r.code]
    assert (link.slot_wal_status, link.streaming) == ("lost", False)
    assert reason_of(world, r) == loss.lost_reason  # still says to re-create it

