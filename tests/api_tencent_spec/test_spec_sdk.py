"""The spec-change actions' wire: prices, documented error codes for bad input and nothing half-done,
through the official SDK against the service in this process over the fake engine (fast)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.api_tencent.sdk import POSTPAID, PREPAID, Api, expect_error
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import SECRET_ID

from openrds.clock import ManualClock

BAD_VALUE = "InvalidParameterValue.InvalidParameterValueError"


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    with in_process_service(clock=clock, driver=FakeDriver()) as running:
        yield running


@pytest.fixture(scope="module")
def api(service: InProcessService) -> Api:
    return Api(service)  # type: ignore[arg-type]  # duck-types RunningService


@pytest.fixture(scope="module")
def masters(api: Api) -> dict[str, str]:
    # "window" only for the window actions: the SDK signs whole seconds and the action travels unsigned,
    # so two actions with the same parameters in one second would share a signature (the replay guard's).
    found = {"postpaid": api.create_master(POSTPAID), "prepaid": api.create_master(PREPAID),
             "window": api.create_master(POSTPAID)}
    api.wait_status(found.values(), "running")
    return found


def everything(service: InProcessService, api: Api) -> tuple[Any, ...]:
    tenant = service.container.identity.find_api_key(SECRET_ID)
    assert tenant is not None
    statement = service.container.billing.statement(tenant[0].tenant_id)
    instances = {k: (v.DBInstanceStatus, v.DBInstanceMemory, v.DBInstanceStorage) for k, v in api.instances().items()}
    return instances, api.task_count(), len(statement.ledger), statement.account.balance_cents


def test_inquiry_price_upgrade_answers_the_new_hourly_price_or_the_prepaid_difference(api: Api, masters) -> None:
    postpaid = api.send("InquiryPriceUpgradeDBInstance", {"DBInstanceId": masters["postpaid"], "Memory": 4,
                                                          "Storage": 20})
    assert (postpaid.OriginalPrice, postpaid.Price, postpaid.Currency) == (50 + 2, 50 + 2, "CNY")
    prepaid = api.send("InquiryPriceUpgradeDBInstance", {"DBInstanceId": masters["prepaid"], "Memory": 4,
                                                         "Storage": 20})
    assert prepaid.Price > 0 and prepaid.Price == prepaid.OriginalPrice  # the rest of the month, 18000 a month more
    down = api.send("InquiryPriceUpgradeDBInstance", {"DBInstanceId": masters["prepaid"], "Memory": 2, "Storage": 30})
    assert down.Price == -(-10 * 50 * prepaid.Price // 18000)  # only the storage grows: 5 CNY a month more


@pytest.mark.parametrize(("params", "code", "field"), [
    ({"Memory": 3, "Storage": 20}, "InvalidParameterValue.BadSpec", "Memory"),
    ({"Memory": 4, "Storage": 20, "Cpu": 3}, "InvalidParameterValue.BadSpec", "Memory"),
    ({"Memory": 4, "Storage": 25}, BAD_VALUE, "Storage"),
    ({"Memory": 2, "Storage": 5000}, BAD_VALUE, "Storage"),
    ({"Memory": 2, "Storage": 20}, BAD_VALUE, "Memory"),  # nothing would change
    ({"Memory": 4, "Storage": 20, "SwitchTag": 3}, BAD_VALUE, "SwitchTag"),
    ({"Memory": 4, "Storage": 20, "SwitchTag": 1}, BAD_VALUE, "SwitchStartTime"),
    ({"Memory": 4, "Storage": 20, "SwitchTag": 1, "SwitchStartTime": "25:00:00", "SwitchEndTime": "01:00:00"},
     BAD_VALUE, "SwitchStartTime"),
    ({"Memory": 4, "Storage": 20, "AutoVoucher": 2}, BAD_VALUE, "AutoVoucher"),
    ({"Memory": 4, "Storage": 20, "VoucherIds": ["voucher-x"]}, BAD_VALUE, "VoucherIds"),
    ({"Memory": 4, "Storage": 20, "SyncModifyParams": [{"Name": "work_mem", "ExpectedValue": "8MB"}]},
     BAD_VALUE, "SyncModifyParams"),
    ({"Memory": "4", "Storage": 20}, "InvalidParameter", "Memory"),
    ({"Storage": 20}, "MissingParameter", "Memory"),
])
def test_bad_spec_changes_answer_documented_codes_and_change_nothing(service, api, masters, params, code,
                                                                     field) -> None:
    before = everything(service, api)
    expect_error(code, lambda: api.call("ModifyDBInstanceSpec", {"DBInstanceId": masters["postpaid"], **params}),
                 field)
    assert everything(service, api) == before


def test_an_unknown_instance_and_an_instance_holding_more_than_the_storage_are_refused(service, api,
                                                                                       masters) -> None:
    expect_error("ResourceNotFound.InstanceNotFoundError",
                 lambda: api.call("ModifyDBInstanceSpec", {"DBInstanceId": "postgres-nothere", "Memory": 4,
                                                           "Storage": 20}))
    fake = service.container.driver
    assert isinstance(fake, FakeDriver)
    fake.write(masters["postpaid"], 15 * 1024**3)
    before = everything(service, api)
    expect_error("InvalidParameterValue.InvalidInstanceVolume",
                 lambda: api.call("ModifyDBInstanceSpec", {"DBInstanceId": masters["postpaid"], "Memory": 2,
                                                           "Storage": 10}), "Storage")
    expect_error("InvalidParameterValue.InvalidInstanceVolume",
                 lambda: api.call("InquiryPriceUpgradeDBInstance", {"DBInstanceId": masters["postpaid"], "Memory": 2,
                                                                    "Storage": 10}), "Storage")
    assert everything(service, api) == before


@pytest.mark.parametrize(("params", "field"), [
    ({"MaintainStartTime": "7pm"}, "MaintainStartTime"),
    ({"MaintainDuration": 5}, "MaintainDuration"),
    ({"MaintainWeekDays": ["someday"]}, "MaintainWeekDays"),
    ({"MaintainWeekDays": []}, "MaintainWeekDays"),
])
def test_bad_maintenance_windows_are_refused_and_the_window_kept(api, masters, params, field) -> None:
    before = api.call("DescribeMaintainTimeWindow", {"DBInstanceId": masters["window"]})
    expect_error(BAD_VALUE, lambda: api.call("ModifyMaintainTimeWindow", {"DBInstanceId": masters["window"],
                                                                          **params}), field)
    after = api.call("DescribeMaintainTimeWindow", {"DBInstanceId": masters["window"]})
    assert {k: v for k, v in after.items() if k != "RequestId"} == {k: v for k, v in before.items()
                                                                    if k != "RequestId"}


def test_switch_time_period_takes_only_switch_tag_0_and_a_waiting_instance(api, masters) -> None:
    expect_error(BAD_VALUE, lambda: api.call("ModifySwitchTimePeriod", {"DBInstanceId": masters["prepaid"],
                                                                        "SwitchTag": 1}), "SwitchTag")
    expect_error("OperationDenied.InstanceStatusLimitError",
                 lambda: api.call("ModifySwitchTimePeriod", {"DBInstanceId": masters["postpaid"], "SwitchTag": 0}))


def test_a_change_waiting_for_its_switch_shows_wait_switch_until_switched(api: Api) -> None:
    """Tencent's ``waitSwitch`` (等待切换) while the change waits, in the listing and the attribute alike;
    ``expanding`` then ``running`` once ModifySwitchTimePeriod switches it."""
    master = api.create_master(POSTPAID, name="waiting")
    api.wait_status([master], "running")
    api.send("ModifyDBInstanceSpec", {"DBInstanceId": master, "Memory": 4, "Storage": 20, "SwitchTag": 1,
                                      "SwitchStartTime": "03:00:00", "SwitchEndTime": "04:00:00"})
    assert api.instance(master).DBInstanceStatus == "waitSwitch"
    assert api.instances()[master].DBInstanceStatus == "waitSwitch"
    api.send("ModifySwitchTimePeriod", {"DBInstanceId": master, "SwitchTag": 0})
    assert api.instance(master).DBInstanceStatus in ("expanding", "running")
    api.wait_status([master], "running")
    assert api.instance(master).DBInstanceMemory == 4


def test_a_prepaid_change_charges_what_the_inquiry_said_in_one_bill(service, api, masters) -> None:
    quoted = api.send("InquiryPriceUpgradeDBInstance", {"DBInstanceId": masters["prepaid"], "Memory": 8,
                                                        "Storage": 20}).Price
    answer = api.send("ModifyDBInstanceSpec", {"DBInstanceId": masters["prepaid"], "Memory": 8, "Storage": 20,
                                               "SwitchTag": 2})
    found = service.container.identity.find_api_key(SECRET_ID)
    assert found is not None
    entries = [e for e in service.container.billing.statement(found[0].tenant_id).ledger if e.kind == "modify"]
    assert [(e.amount_cents, e.reference) for e in entries] == [(-quoted, answer.BillId)]
    orders = api.send("DescribeOrders", {"DealNames": [answer.DealName]}).Deals
    assert [o.DBInstanceIdSet for o in orders] == [[masters["prepaid"]]]
    tasks = api.send("DescribeTasks", {"DBInstanceId": masters["prepaid"], "Limit": 100}).TaskSet
    assert ("ModifyDBInstanceSpec", "Running") in [(t.TaskType, t.Status) for t in tasks]  # waits for its window
    api.send("ModifySwitchTimePeriod", {"DBInstanceId": masters["prepaid"], "SwitchTag": 0})
    api.wait_status([masters["prepaid"]], "running")
    assert api.instance(masters["prepaid"]).DBInstanceMemory == 8
