"""Spec changes through the official SDK (and Huawei v1 through httpx) against the whole service in this
process on real PostgreSQL servers, with a manual clock that the tests move to reach a switch time.

One service, one postpaid master and its read-only instance for the module; the tests run in order
and build on each other's changes (the master grows first, so its read-only instance's floor rises).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from tests.api_huawei.support import Rds
from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, POSTPAID, SPEC, ZONE, Api, expect_error
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import SECRET_ID, wait_for

from openrds.clock import ManualClock
from openrds.domain.money import LedgerKind

pytestmark = pytest.mark.slow

UTC8 = timezone(timedelta(hours=8))
TIMEOUT = 120.0
BAD_SPEC = "InvalidParameterValue.BadSpec"


@dataclass
class Live:
    service: InProcessService
    clock: ManualClock
    api: Api
    master: str
    replica: str

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.service.container.runner.wake()  # the runner looks at due jobs now, not at its next poll

    def show(self, instance_id: str, setting: str) -> str:
        return self.query(instance_id, f"SHOW {setting}")

    def query(self, instance_id: str, sql: str) -> str:
        net = self.api.instance(instance_id).DBInstanceNetInfo[0]
        with psycopg.connect(host=net.Ip or net.Address, port=net.Port, user=ADMIN_NAME, password=ADMIN_PASSWORD,
                             dbname="postgres", connect_timeout=10) as conn:
            row = conn.execute(sql).fetchone()  # type: ignore[call-overload]  # a test's own literal SQL
        assert row is not None
        return str(row[0])

    def wait_spec(self, instance_id: str, memory_gb: int, storage_gb: int) -> Any:
        def arrived() -> Any:
            found = self.api.instance(instance_id)
            done = (found.DBInstanceStatus, found.DBInstanceMemory, found.DBInstanceStorage)
            if done == ("running", memory_gb, storage_gb):
                return found
            tasks = self.api.send("DescribeTasks", {"DBInstanceId": instance_id, "Limit": 100}).TaskSet
            failed = [t.TaskDetail.Message for t in tasks
                      if t.TaskType == "ModifyDBInstanceSpec" and t.Status == "Fail"]
            assert not failed, f"the spec change of {instance_id} failed: {failed}"
            # A step that failed transiently is retried after a backoff on the job runner's clock, this
            # manual one: let it pass, so a slow restart on a loaded host is retried rather than waited on.
            self.advance(timedelta(seconds=2))
            return None

        return wait_for(arrived, TIMEOUT, f"{instance_id} running with {memory_gb} GB memory, {storage_gb} GB storage")


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    with in_process_service(clock=clock) as service:
        api = Api(service)  # type: ignore[arg-type]  # duck-types RunningService
        master = api.create_master(POSTPAID, name="resize-master")
        api.wait_status([master], "running")
        replica = api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": master, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1, "Period": 1,
            "Zone": ZONE, "InstanceChargeType": POSTPAID}).DBInstanceIdSet[0]
        api.wait_status([replica], "running")
        yield Live(service, clock, api, master, replica)


def test_a_change_in_the_maintenance_window_waits_then_restarts_with_new_settings_and_is_billed(live: Live) -> None:
    api = live.api
    window = api.send("DescribeMaintainTimeWindow", {"DBInstanceId": live.master})
    assert (window.MaintainStartTime, window.MaintainDuration, len(window.MaintainWeekDays)) == ("03:00", 1, 7)
    opens = (live.clock.now() + timedelta(hours=3)).astimezone(UTC8)
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    api.send("ModifyMaintainTimeWindow", {"DBInstanceId": live.master, "MaintainStartTime": f"{opens:%H:%M}",
                                          "MaintainDuration": 2, "MaintainWeekDays": days})
    window = api.send("DescribeMaintainTimeWindow", {"DBInstanceId": live.master})
    assert (window.MaintainStartTime, window.MaintainDuration) == (f"{opens:%H:%M}", 2)

    assert live.show(live.master, "shared_buffers") == "512MB"
    answer = api.send("ModifyDBInstanceSpec", {"DBInstanceId": live.master, "Memory": 4, "Storage": 20,
                                               "SwitchTag": 2})
    assert answer.DealName and answer.BillId
    assert api.instance(live.master).DBInstanceStatus == "waitSwitch"  # waiting for its window
    live.advance(timedelta(hours=1))
    assert api.instance(live.master).DBInstanceMemory == 2 and live.show(live.master, "shared_buffers") == "512MB"
    assert api.instance(live.master).DBInstanceStatus == "waitSwitch"

    live.advance(timedelta(hours=2, minutes=1))  # inside the window
    live.wait_spec(live.master, 4, 20)
    assert live.show(live.master, "shared_buffers") == "1GB"
    assert live.show(live.master, "max_connections") == "200"
    assert api.instance(live.master).DBInstanceStatus == "running"
    assert live.show(live.replica, "max_connections") == "200"  # its floor was raised before the master restarted
    statement = live.service.container.billing.statement(_tenant(live))
    metered = [e for e in statement.ledger if e.kind == LedgerKind.METERING and live.master in e.note]
    assert [(e.amount_cents, e.note) for e in metered] == [(-3 * 27, f"3 h of {live.master} before its spec change")]


def test_a_read_only_instance_is_refused_below_its_masters_floor_and_resized_at_once_above_it(live: Live) -> None:
    api = live.api
    expect_error(BAD_SPEC, lambda: api.send("ModifyDBInstanceSpec", {"DBInstanceId": live.replica, "Memory": 2,
                                                                     "Storage": 30}), "Memory")
    assert api.instance(live.replica).DBInstanceStorage == 20  # nothing done
    api.send("ModifyDBInstanceSpec", {"DBInstanceId": live.replica, "Memory": 4, "Storage": 30, "SwitchTag": 0})
    assert api.instance(live.replica).DBInstanceStatus == "expanding"
    live.wait_spec(live.replica, 4, 30)
    assert live.show(live.replica, "shared_buffers") == "1GB"


def test_switch_time_period_applies_a_waiting_change_now(live: Live) -> None:
    api = live.api
    later = (live.clock.now() + timedelta(hours=5)).astimezone(UTC8)
    api.send("ModifyDBInstanceSpec", {"DBInstanceId": live.master, "Memory": 4, "Storage": 30, "SwitchTag": 1,
                                      "SwitchStartTime": f"{later:%H:%M:%S}",
                                      "SwitchEndTime": f"{later + timedelta(hours=1):%H:%M:%S}"})
    assert api.instance(live.master).DBInstanceStorage == 20
    started = live.query(live.master, "SELECT pg_postmaster_start_time()")
    api.send("ModifySwitchTimePeriod", {"DBInstanceId": live.master, "SwitchTag": 0})
    live.wait_spec(live.master, 4, 30)
    assert live.show(live.master, "max_slot_wal_keep_size") == "3GB"  # a tenth of 30 GB ...
    assert live.query(live.master, "SELECT pg_postmaster_start_time()") == started  # ... by a reload
    expect_error("OperationDenied.InstanceStatusLimitError",
                 lambda: api.send("ModifySwitchTimePeriod", {"DBInstanceId": live.master, "SwitchTag": 0}))


def test_huawei_v1_resizes_volume_and_flavor(live: Live) -> None:
    rds = Rds.login(live.service.url, "ap-beijing")
    volume = rds.post(f"instances/{live.master}/action", {"resize": {"volume": {"size": 40}}})
    assert volume.status_code == 202, volume.text
    rds.wait_job(volume.json()["extendparam"]["jobs"][0]["id"], TIMEOUT)
    small = live.service.container.catalogue.spec(SPEC).flavor_id
    flavor = rds.post(f"instances/{live.master}/action", {"resize": {"flavorRef": small}})
    assert flavor.status_code == 202, flavor.text
    rds.wait_job(flavor.json()["jobId"][0], TIMEOUT)
    live.wait_spec(live.master, 2, 40)
    assert live.show(live.master, "shared_buffers") == "512MB"
    assert live.show(live.replica, "max_connections") == "200"  # a standby keeps what it has
    shrink = rds.post(f"instances/{live.master}/action", {"resize": {"volume": {"size": 30}}})
    assert shrink.status_code == 400 and "volume.size" in shrink.json()["externalMessage"], shrink.text


def _tenant(live: Live) -> str:
    found = live.service.container.identity.find_api_key(SECRET_ID)
    assert found is not None
    return found[0].tenant_id
