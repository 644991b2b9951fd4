"""End to end through the official SDK only: buy a master, write to it, buy two read-only instances, read
and replicate through them, then isolate and destroy everything (one replica alone, then the master
with the rest) and find nothing left behind: no server, directory, process or replication slot.

The service runs with ``OPENRDS_MAX_READONLY_PER_MASTER=2`` so the per-master limit is reached for
real (a third read-only instance is refused after two exist).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors as pg_errors
from tests.support.service import RunningService, running_service, wait_for

from .sdk import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    OPERATION_TIMEOUT,
    POSTPAID,
    SPEC,
    ZONE,
    Api,
    expect_error,
    nothing_created,
    processes_under,
    server_dirs,
    slot_name,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service(extra_env={"OPENRDS_MAX_READONLY_PER_MASTER": "2"}) as running:
        yield running


def connect(address: tuple[str, int], dbname: str = "postgres") -> psycopg.Connection:
    host, port = address
    return psycopg.connect(host=host, port=port, user=ADMIN_NAME, password=ADMIN_PASSWORD, dbname=dbname,
                           connect_timeout=5, autocommit=True)


def address(instance) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    assert instance.DBInstanceNetInfo, f"{instance.DBInstanceId} has no address"
    net = instance.DBInstanceNetInfo[0]
    assert net.Status == "opened" and net.Port > 0
    return net.Address, net.Port


def count_rows(at: tuple[str, int]) -> int:
    with connect(at, "app") as conn:
        row = conn.execute("SELECT count(*) FROM items").fetchone()
    assert row is not None
    return int(row[0])


def refuses_connections(at: tuple[str, int]) -> bool:
    try:
        connect(at).close()
    except psycopg.OperationalError:
        return True
    return False


def test_readonly_instances_end_to_end(service: RunningService) -> None:
    api = Api(service)

    # --- what can be bought ------------------------------------------------------------------
    zones = api.send("DescribeZones", {}).ZoneSet
    assert ZONE in {z.Zone for z in zones}
    major = api.send("DescribeDBVersions", {}).VersionSet[0].DBMajorVersion
    classes = api.send("DescribeClasses", {"Zone": ZONE, "DBEngine": "postgresql", "DBMajorVersion": major})
    spec = {c.SpecCode: c for c in classes.ClassInfoSet}[SPEC]
    assert (spec.MinStorage, spec.MaxStorage) == (10, 1000)

    # --- a master with rows ------------------------------------------------------------------
    master_id = api.create_master(POSTPAID)
    assert master_id.startswith("postgres-")
    master = api.wait_status([master_id], "running")[master_id]
    assert master.DBInstanceType == "primary" and master.ReadOnlyInstanceNum == 0
    master_at = address(master)
    with connect(master_at) as conn:
        conn.execute("CREATE DATABASE app")
    with connect(master_at, "app") as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL)")
        conn.execute("INSERT INTO items SELECT g, 'before ' || g FROM generate_series(1, 100) g")

    # --- two read-only instances -------------------------------------------------------------
    created = api.send("CreateReadOnlyDBInstance", {
        "MasterDBInstanceId": master_id, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 2,
        "Period": 1, "InstanceChargeType": POSTPAID,
    })
    replica_ids = list(created.DBInstanceIdSet)
    assert len(replica_ids) == 2 and all(r.startswith("pgro-") for r in replica_ids), created.to_json_string()
    assert len(created.DealNames) == 2 and all(d.isdigit() for d in created.DealNames)
    assert created.BillId.isdigit()
    replicas = api.wait_status(replica_ids, "running")
    replica_at = {r: address(replicas[r]) for r in replica_ids}
    assert len({master_at, *replica_at.values()}) == 3, "every server has its own address"

    # The rows written before the copy are there; rows written after arrive by streaming.
    for at in replica_at.values():
        assert wait_for(lambda at=at: count_rows(at) == 100, 30, "the base rows on a replica")
    with connect(master_at, "app") as conn:
        conn.execute("INSERT INTO items SELECT g, 'after ' || g FROM generate_series(101, 150) g")
    for rid, at in replica_at.items():
        wait_for(lambda at=at: count_rows(at) == 150, 30, f"new rows to reach {rid}", interval=0.05)
        with connect(at, "app") as conn:
            assert conn.execute("SELECT note FROM items WHERE id = 150").fetchone() == ("after 150",)
            with pytest.raises(pg_errors.ReadOnlySqlTransaction) as refused:
                conn.execute("INSERT INTO items VALUES (999, 'on a replica')")
            assert refused.value.sqlstate == "25006"

    # Both stream from the master under their own names, each through its own slot.
    with connect(master_at) as conn:
        streaming = {r[0] for r in conn.execute(
            "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")}
        slots = {r[0]: r[1] for r in conn.execute("SELECT slot_name, active FROM pg_replication_slots")}
    assert streaming == set(replica_ids)
    assert slots == {slot_name(r): True for r in replica_ids}

    # --- what DescribeDBInstances says -------------------------------------------------------
    listed = api.instances()
    assert set(listed) == {master_id, *replica_ids}
    assert listed[master_id].ReadOnlyInstanceNum == 2
    assert listed[master_id].DBInstanceType == "primary" and listed[master_id].MasterDBInstanceId == ""
    for rid in replica_ids:
        assert listed[rid].DBInstanceType == "readonly"
        assert listed[rid].MasterDBInstanceId == master_id
        assert listed[rid].DBInstanceStatus == "running"
        assert (listed[rid].Zone, listed[rid].DBInstanceClass, listed[rid].DBInstanceStorage) == (ZONE, SPEC, 20)
        assert listed[rid].PayType == "postpaid"
        assert listed[rid].DBVersion == listed[master_id].DBVersion
    assert set(api.instances(("db-master-instance-id", [master_id]))) == set(replica_ids)

    # --- the per-master limit (2 here) -------------------------------------------------------
    with nothing_created(api):
        expect_error("OperationDenied.RoInstanceCountExeedError", lambda: api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": master_id, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1,
            "Period": 1, "InstanceChargeType": POSTPAID,
        }), field="InstanceCount")

    # --- DescribeTasks shows the work --------------------------------------------------------
    tasks = api.send("DescribeTasks", {}).TaskSet
    by_type = {t.TaskType: t for t in tasks}
    assert {"CreateInstance", "CreateReadOnlyInstance"} <= set(by_type)
    for task in tasks:
        assert (task.Status, task.Progress) == ("Success", 100), task
    assert by_type["CreateReadOnlyInstance"].DBInstanceId in replica_ids
    assert {t.TaskType for t in api.send("DescribeTasks", {"DBInstanceId": master_id}).TaskSet} == {"CreateInstance"}

    # --- one replica on its own: isolate, destroy; its slot goes from the running master ------
    first, second = replica_ids
    api.send("IsolateDBInstances", {"DBInstanceIdSet": [first]})
    api.wait_status([first], "isolated", OPERATION_TIMEOUT)
    assert refuses_connections(replica_at[first])
    assert api.instance(master_id).DBInstanceStatus == "running"
    api.send("DestroyDBInstance", {"DBInstanceId": first})
    api.wait_gone([first])
    assert first not in server_dirs(service)
    with connect(master_at) as conn:
        left = {r[0] for r in conn.execute("SELECT slot_name FROM pg_replication_slots")}
    assert left == {slot_name(second)}
    assert api.instance(master_id).ReadOnlyInstanceNum == 1

    # --- the freed place can be used again ------------------------------------------------------
    third = api.send("CreateReadOnlyDBInstance", {
        "MasterDBInstanceId": master_id, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1,
        "Period": 1, "InstanceChargeType": POSTPAID,
    }).DBInstanceIdSet[0]
    replica_at[third] = address(api.wait_status([third], "running")[third])
    assert wait_for(lambda: count_rows(replica_at[third]) == 150, 30, "the rows on the third replica")

    # --- the master takes its replicas with it: the running one, and not the already isolated one twice
    api.send("IsolateDBInstances", {"DBInstanceIdSet": [second]})
    api.wait_status([second], "isolated", OPERATION_TIMEOUT)
    api.send("IsolateDBInstances", {"DBInstanceIdSet": [master_id]})
    api.wait_status([master_id, second, third], "isolated", OPERATION_TIMEOUT)
    api.send("DestroyDBInstance", {"DBInstanceId": master_id})
    api.wait_gone([master_id, second, third])

    # --- nothing is left ---------------------------------------------------------------------
    assert api.send("DescribeDBInstances", {}).TotalCount == 0
    assert server_dirs(service) == set()
    assert processes_under(service.data_dir) == []
    for at in (master_at, *replica_at.values()):
        assert refuses_connections(at), f"something still answers on {at}"
    done = api.send("DescribeTasks", {"Limit": 100}).TaskSet
    assert sorted(t.TaskType for t in done if t.TaskType in ("IsolateInstance", "DestroyInstance")) == [
        "DestroyInstance"] * 4 + ["IsolateInstance"] * 4
    assert all(t.Status == "Success" for t in done), [(t.TaskType, t.Status, t.TaskDetail.Message) for t in done]
