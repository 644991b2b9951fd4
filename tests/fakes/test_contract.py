"""The engine contract (`openrds.engine.driver.Driver`), checked on the fake and on the real driver.

Every test runs against `FakeDriver` and (marked slow: real PostgreSQL servers, HAProxy) against
`LocalDriver` over a fresh data root of its own, so no test sees another's servers. What the two
must agree on is what the layers above rely on: states, idempotency, which error when, slots.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator

import pytest
from tests.engine.conftest import SMALL, cleanup, make_root, primary_request

from openrds.domain.security_groups import Admission
from openrds.engine.driver import (
    Driver,
    EndpointMember,
    EndpointNotFound,
    EndpointSpec,
    EngineError,
    ReplicaRequest,
    ServerNotFound,
    ServerRole,
    ServerState,
    SourceUnavailable,
)

from .driver import FakeDriver, slot_name


@pytest.fixture(params=["fake", pytest.param("local", marks=pytest.mark.slow)])
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    if request.param == "fake":
        yield FakeDriver()
        return
    from openrds.engine.local import LocalDriver

    root = make_root()
    # A band of ports of its own (the engine tests use the default range, the services 20000-59999).
    base = 60000 + (os.getpid() % 50) * 100
    real = LocalDriver(root, port_range=(base, base + 99))
    try:
        yield real
    finally:
        for endpoint in real.endpoints():
            real.destroy_endpoint(endpoint.endpoint_id)
        cleanup(real, root)


def test_the_fake_has_every_method_of_the_contract_with_its_parameters() -> None:
    contract = {name: f for name, f in inspect.getmembers(Driver, inspect.isfunction) if not name.startswith("_")}
    assert "create_replicas" in contract and "ensure_endpoint" in contract  # both protocols are read
    for name, method in contract.items():
        fake = getattr(FakeDriver, name, None)
        assert fake is not None, f"FakeDriver lacks {name}"
        assert list(inspect.signature(fake).parameters) == list(inspect.signature(method).parameters), name


def _replica(instance_id: str, source_id: str) -> ReplicaRequest:
    return ReplicaRequest(instance_id=instance_id, source_id=source_id, spec=SMALL)


def test_a_primary_is_created_once_and_stopped_started_and_destroyed_idempotently(driver: Driver) -> None:
    with pytest.raises(ServerNotFound):
        driver.status("p1")
    with pytest.raises(ServerNotFound):
        driver.disk_usage("p1")
    driver.destroy("p1")  # no-op when missing

    created = driver.create_primary(primary_request("p1"))
    assert (created.role, created.state, created.in_recovery, created.source_id) == (
        ServerRole.PRIMARY, ServerState.RUNNING, False, None)
    again = driver.create_primary(primary_request("p1"))
    assert (again.port, again.state) == (created.port, ServerState.RUNNING)
    assert [s.instance_id for s in driver.servers()] == ["p1"]
    assert driver.disk_usage("p1") > 0
    assert driver.stats("p1").slots == ()
    assert driver.replication("p1").replicas == ()

    driver.stop("p1")
    driver.stop("p1")  # no-op when stopped
    stopped = driver.status("p1")
    assert (stopped.state, stopped.in_recovery) == (ServerState.STOPPED, None)
    for read in (driver.replication, driver.stats):
        with pytest.raises(EngineError) as down:
            read("p1")
        assert down.value.transient
    assert driver.disk_usage("p1") > 0  # running or not

    assert driver.start("p1").state is ServerState.RUNNING
    assert driver.start("p1").state is ServerState.RUNNING  # no-op when running
    assert driver.restart("p1").state is ServerState.RUNNING
    with pytest.raises(EngineError):
        driver.create_replicas([_replica("p1", "p1")])  # exists as a primary, and replicates itself
    driver.destroy("p1")
    driver.destroy("p1")
    assert driver.servers() == []
    with pytest.raises(ServerNotFound):
        driver.status("p1")


def test_read_only_mode_changes_once_and_needs_a_running_server_only_to_change(driver: Driver) -> None:
    with pytest.raises(ServerNotFound):
        driver.set_read_only("p1", True)
    driver.create_primary(primary_request("p1"))
    assert driver.set_read_only("p1", True) is True
    assert driver.set_read_only("p1", True) is False
    driver.stop("p1")
    assert driver.set_read_only("p1", True) is False  # unchanged: no connection needed
    with pytest.raises(EngineError) as down:
        driver.set_read_only("p1", False)
    assert down.value.transient
    driver.start("p1")
    assert driver.set_read_only("p1", False) is True


def test_admission_is_kept_with_the_server_through_a_stop_and_applies_again_idempotently(driver: Driver) -> None:
    closed = Admission((("10.0.0.0/8", True), ("192.168.0.0/16", False)), open=False)
    with pytest.raises(ServerNotFound):
        driver.apply_admission("p1", closed)
    driver.create_primary(primary_request("p1"))
    assert driver.access_support() == ""
    assert driver.admission("p1") == Admission(), "open until told otherwise"
    assert driver.apply_admission("p1", closed) == 0  # no session from a refused address
    assert driver.apply_admission("p1", closed) == 0
    driver.stop("p1")
    assert driver.apply_admission("p1", closed, via_endpoint=True) == 0  # stopped: recorded for its start
    assert driver.start("p1").state is ServerState.RUNNING
    assert driver.admission("p1") == closed
    driver.apply_admission("p1", Admission())
    assert driver.admission("p1") == Admission()
    with pytest.raises(EndpointNotFound):
        driver.apply_endpoint_admission("pgrogrp-nothere0", closed)


def test_replicas_stream_through_slots_and_a_slot_left_by_a_source_that_was_down_is_reconciled(
        driver: Driver) -> None:
    with pytest.raises(SourceUnavailable):
        driver.create_replicas([_replica("r1", "p1")])
    assert driver.servers() == []
    driver.create_primary(primary_request("p1"))
    with pytest.raises(EngineError):
        driver.create_replicas([_replica("r1", "p1"), _replica("r1", "p1")])  # an id twice
    assert [s.instance_id for s in driver.servers()] == ["p1"]

    (replica,) = driver.create_replicas([_replica("r1", "p1")])
    assert (replica.role, replica.source_id, replica.state, replica.in_recovery) == (
        ServerRole.REPLICA, "p1", ServerState.RUNNING, True)
    (again,) = driver.create_replicas([_replica("r1", "p1")])
    assert again.port == replica.port
    assert {link.replica_id for link in driver.replication("p1").replicas} == {"r1"}
    assert driver.replication("r1").receive_lsn is not None
    slots = driver.stats("p1").slots
    assert [(s.name, s.replica_id) for s in slots] == [(slot_name("r1"), "r1")]

    driver.stop("p1")
    with pytest.raises(SourceUnavailable) as stopped:
        driver.create_replicas([_replica("r2", "p1")])
    assert stopped.value.transient
    driver.destroy("r1")  # its source is down: the slot stays there
    driver.start("p1")
    assert [(s.name, s.replica_id) for s in driver.stats("p1").slots] == [(slot_name("r1"), None)]
    assert driver.reconcile_slots("p1", replica_ids=["r1"]) == []  # still recorded as a replica of it
    assert driver.reconcile_slots("p1") == [slot_name("r1")]
    assert driver.stats("p1").slots == ()
    assert driver.reconcile_slots("p1") == []


def test_a_group_endpoint_serves_exactly_its_spec(driver: Driver) -> None:
    if driver.endpoint_support():
        pytest.skip(driver.endpoint_support())
    with pytest.raises(EndpointNotFound):
        driver.endpoint("grp1")
    with pytest.raises(EndpointNotFound):
        driver.drop_sessions("grp1")
    driver.destroy_endpoint("grp1")  # no-op when missing
    primary = driver.create_primary(primary_request("p1"))

    info = driver.ensure_endpoint(EndpointSpec("grp1", (EndpointMember("p1", 5), EndpointMember("ghost", 3))))
    assert info.state is ServerState.RUNNING and info.port != primary.port
    assert [(m.instance_id, m.weight, m.admin.value) for m in info.members] == [("p1", 5, "ready")]
    again = driver.ensure_endpoint(EndpointSpec("grp1", (EndpointMember("p1", 7, drained=True),)))
    assert again.port == info.port
    assert [(m.instance_id, m.weight, m.admin.value) for m in again.members] == [("p1", 7, "drain")]
    with pytest.raises(EngineError):
        driver.ensure_endpoint(EndpointSpec("grp1", (EndpointMember("p1", 0),)))
    assert [e.endpoint_id for e in driver.endpoints()] == ["grp1"]
    assert driver.drop_sessions("grp1") == 0
    assert driver.ensure_endpoint(EndpointSpec("grp1")).members == ()

    driver.destroy_endpoint("grp1")
    driver.destroy_endpoint("grp1")
    assert driver.endpoints() == []


@pytest.fixture(params=["fake", pytest.param("local", marks=pytest.mark.slow)])
def backup_driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    """As `driver`, with a backup repository (the local one: pgBackRest under the data root)."""
    if request.param == "fake":
        yield FakeDriver()
        return
    from openrds.engine.local import LocalDriver
    from openrds.engine.local.pgbackrest import Repository, find_pgbackrest

    if find_pgbackrest() is None:
        pytest.skip("pgBackRest is not installed")
    root = make_root()
    base = 60000 + (os.getpid() % 50) * 100
    real = LocalDriver(root, port_range=(base, base + 99), backup_repository=Repository())
    try:
        yield real
    finally:
        cleanup(real, root)


def test_backups_outlive_their_server_and_a_restore_past_the_archive_fails_leaving_nothing(
    backup_driver: Driver,
) -> None:
    from datetime import timedelta

    from openrds.engine.backups import BackupType, RestoreRequest

    driver = backup_driver
    assert driver.backup_support() is None
    assert driver.stanza("p1") is None
    driver.create_primary(primary_request("p1"))
    driver.ensure_stanza("p1")  # the creation job's step (the local driver made it with the server already)
    made = driver.backup("p1", "b1", BackupType.FULL, "manual")
    assert (made.backup_id, made.type, made.annotations.get("kind")) == ("b1", BackupType.FULL, "manual")
    assert driver.backup("p1", "b1", BackupType.FULL, "manual").label == made.label  # a re-run finds its set
    assert driver.archive_status("p1").failed_count == 0
    end = driver.fence("p1")
    stanza = driver.stanza("p1")
    assert stanza is not None and [b.label for b in stanza.backups] == [made.label]
    assert made.finished_at <= end

    major = primary_request("p1").major_version
    with pytest.raises(EngineError) as late:
        driver.restore(RestoreRequest("late", "p1", major, SMALL, target_time=end + timedelta(hours=1)))
    assert not late.value.transient
    with pytest.raises(ServerNotFound):
        driver.status("late")
    assert driver.stanza("late") is None

    driver.destroy("p1")
    assert driver.stanza("p1") is not None  # the stanza outlives its server, and still restores
    restored = driver.restore(RestoreRequest("r1", "p1", major, SMALL, target_time=end))
    assert (restored.role, restored.state, restored.in_recovery) == (ServerRole.PRIMARY, ServerState.RUNNING, False)
    again = driver.restore(RestoreRequest("r1", "p1", major, SMALL, target_time=end))
    assert again.port == restored.port  # idempotent
    r1 = driver.stanza("r1")
    assert r1 is not None and r1.backups == ()  # its own stanza, empty until its first backup

    driver.destroy("r1")
    driver.delete_stanza("r1")
    driver.delete_stanza("p1")
    driver.delete_stanza("p1")
    assert driver.stanza("p1") is None and driver.stanza("r1") is None


def test_tenant_parameters_reload_or_wait_for_a_restart(driver: Driver) -> None:
    with pytest.raises(ServerNotFound):
        driver.write_parameters("p1", {"work_mem": "8192"})
    driver.create_primary(primary_request("p1"))
    applied = driver.write_parameters("p1", {"work_mem": "8192", "max_connections": "120"})
    assert applied.pending_restart == ("max_connections",)
    settings = {s.name: s for s in driver.settings("p1")}
    assert (settings["work_mem"].setting, settings["work_mem"].tenant_value) == ("8192", "8192")
    assert settings["max_connections"].pending_restart
    driver.restart("p1")
    settings = {s.name: s for s in driver.settings("p1")}
    assert settings["max_connections"].setting == "120" and not settings["max_connections"].pending_restart
    assert driver.write_parameters("p1", {"work_mem": "8192", "max_connections": "120"}).pending_restart == ()
    assert driver.check_parameters("p1", {"search_path": '"unclosed'})  # the server's own parser refuses it
    assert not driver.replay_paused("p1")  # a primary has no replay
    driver.destroy("p1")
