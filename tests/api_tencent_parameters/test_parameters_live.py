"""Parameters and logs against real PostgreSQL, through the official SDK and a real ``openrds serve``:
one master and one read-only instance for the whole module.

What the fake-engine tests cannot show: the value in ``SHOW`` on the servers, a reload that does not
restart and a restart where the setting needs one, the standby floor's order seen in the servers'
own start times, nothing written for a value PostgreSQL would refuse, the server's log read back as
slow queries and errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg
import pytest
from tests.api_huawei.support import Rds
from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, Api, expect_error
from tests.support.service import RunningService, running_service, wait_for

pytestmark = pytest.mark.slow

READONLY = {"SpecCode": "pg.it.small2", "Storage": 20, "InstanceCount": 1, "Period": 1, "Zone": "ap-beijing-4",
            "InstanceChargeType": "POSTPAID_BY_HOUR"}


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service() as running:
        yield running


@pytest.fixture(scope="module")
def api(service: RunningService) -> Api:
    return Api(service)


@pytest.fixture(scope="module")
def pair(api: Api) -> tuple[str, str]:
    master = api.create_master()
    api.wait_status([master], "running")
    replica = api.send("CreateReadOnlyDBInstance", {**READONLY, "MasterDBInstanceId": master}).DBInstanceIdSet[0]
    api.wait_status([replica], "running")
    return master, replica


def connect(api: Api, instance_id: str) -> psycopg.Connection:
    net = api.instance(instance_id).DBInstanceNetInfo[0]
    return psycopg.connect(host=net.Address, port=net.Port, user=ADMIN_NAME, password=ADMIN_PASSWORD,
                           dbname="postgres", connect_timeout=5, autocommit=True)


def show(api: Api, instance_id: str, name: str) -> str:
    with connect(api, instance_id) as conn:
        row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
    assert row is not None
    return str(row[0])


def started_at(api: Api, instance_id: str) -> datetime:
    with connect(api, instance_id) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


def modify(api: Api, instance_id: str, **values: str) -> None:
    api.send("ModifyDBInstanceParameters", {
        "DBInstanceId": instance_id, "ParamList": [{"Name": k, "ExpectedValue": v} for k, v in values.items()]})


def settle(api: Api, *ids: str) -> None:
    """The parameter job has run: every instance is running again and none has a job under way."""
    api.wait_status(list(ids), "running", timeout=90)


def beijing(moment: datetime) -> str:
    return moment.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")


def test_reload_restart_and_the_standby_floor(api: Api, service: RunningService, pair: tuple[str, str]) -> None:
    master, replica = pair
    # A reload: in effect without a restart.
    before = started_at(api, master)
    modify(api, master, work_mem="8MB", log_min_duration_statement="100")
    settle(api, master)
    assert show(api, master, "work_mem") == "8MB"
    assert started_at(api, master) == before
    # A raise of a floor setting: needs a restart, and the replica is restarted (raised) first.
    modify(api, master, max_connections="130")
    settle(api, master, replica)
    assert show(api, master, "max_connections") == "130"
    assert show(api, replica, "max_connections") == "130"
    assert started_at(api, replica) < started_at(api, master)
    # A lowering: the master alone (first); the replica keeps its higher value and is not restarted.
    replica_started = started_at(api, replica)
    modify(api, master, max_connections="110")
    settle(api, master, replica)
    assert show(api, master, "max_connections") == "110"
    assert show(api, replica, "max_connections") == "130"
    assert started_at(api, replica) == replica_started
    # The replica still replays: a database made on the master reaches it.
    with connect(api, master) as conn:
        conn.execute("CREATE DATABASE floor_check")

    def replicated() -> bool:
        with connect(api, replica) as conn:
            row = conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'floor_check'").fetchone()
        return bool(row and row[0] == 1)

    wait_for(replicated, 30, "the database made on the master to reach the replica")
    events = {i.ParamName: i for i in api.send("DescribeParamsEvent", {"DBInstanceId": master}).EventItems}
    assert [d.NewValue for d in events["max_connections"].EventDetail] == ["130", "110"]
    assert all(d.State == "success" for d in events["max_connections"].EventDetail)


def test_values_postgresql_would_refuse_are_never_written(api: Api, service: RunningService,
                                                          pair: tuple[str, str]) -> None:
    master, _ = pair
    conf = next((service.data_dir / "instances").glob(f"{master}/data")) / "tenant.conf"
    before = conf.read_text() if conf.exists() else ""
    for name, value in [("random_page_cost", "abc"), ("shared_buffers", "1PB"), ("no_such_setting", "1"),
                        ("search_path", '"unclosed'), ("port", "5433")]:
        expect_error("InvalidParameterValue.InvalidParameterValueError",
                     lambda n=name, v=value: modify(api, master, **{n: v}), field="ParamList")
    assert (conf.read_text() if conf.exists() else "") == before
    assert api.instance(master).DBInstanceStatus == "running"


def test_slow_queries_and_errors_are_read_from_the_log(api: Api, pair: tuple[str, str]) -> None:
    master, _ = pair
    start = datetime.now(UTC) - timedelta(seconds=5)
    if show(api, master, "log_min_duration_statement") != "100ms":
        modify(api, master, log_min_duration_statement="100")
        settle(api, master)
    with connect(api, master) as conn:
        conn.execute("SELECT pg_sleep(0.3)")
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table_here")
    window: dict[str, Any] = {"DBInstanceId": master, "StartTime": beijing(start),
                              "EndTime": beijing(datetime.now(UTC) + timedelta(minutes=1))}

    def slow_listed() -> Any:
        found = api.send("DescribeSlowQueryList", window)
        return found if any("pg_sleep" in q.RawQuery for q in found.RawSlowQueryList) else None

    found = wait_for(slow_listed, 20, "the slow statement in DescribeSlowQueryList")
    query = next(q for q in found.RawSlowQueryList if "pg_sleep" in q.RawQuery)
    assert query.Duration >= 300 and query.UserName == ADMIN_NAME and query.DatabaseName == "postgres"
    analysis = api.send("DescribeSlowQueryAnalysis", window)
    assert any(item.NormalQuery == "SELECT pg_sleep($1)" for item in analysis.Detail.AnalysisItems)
    errors = api.send("DescribeDBErrlogs", {**window, "SearchKeys": ["no_such_table_here"]})
    assert errors.TotalCount >= 1 and "does not exist" in errors.Details[0].ErrMsg


def test_huawei_v1_sets_a_parameter(api: Api, service: RunningService, pair: tuple[str, str]) -> None:
    master, _ = pair
    rds = Rds.login(service.url, "ap-beijing")  # the project of the region the Tencent instances are in
    reply = httpx.put(rds.path(f"instances/{master}/parameters"), headers=rds.headers(), timeout=30,
                      json={"values": {"work_mem": "4096", "enable_seqscan": False}})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"shouldRestart": "0", "setParameteResult": "1"}
    settle(api, master)
    assert (show(api, master, "work_mem"), show(api, master, "enable_seqscan")) == ("4MB", "off")
