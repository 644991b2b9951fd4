"""Where the face used to differ from the documented API, through the official SDK (issue 17, "Fidelity"):
documented statuses, InstanceCount 1-10, 0/1 switches refused outside their enum, a read-only
instance's node role, group actions' FlowId followed by DescribeTasks with documented TaskType and steps,
times in UTC+8 both ways."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from tencentcloud.postgres.v20170312 import models

from openrds.api.tencent.presenters import STATUSES
from openrds.domain.states import Lifecycle

from .sdk import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    POSTPAID,
    SPEC,
    ZONE,
    Api,
    Masters,
    SeedReplica,
    expect_error,
    nothing_created,
)

BEIJING = timedelta(hours=8)


def documented_statuses() -> set[str]:
    """The values ``DBInstance.DBInstanceStatus``'s docstring lists in the installed SDK (``name（meaning）``)."""
    doc = models.DBInstance.DBInstanceStatus.__doc__ or ""
    found = set(re.findall(r"([a-zA-Z][a-zA-Z -]*?)\s*[（(]", doc.split("：", 1)[1]))
    assert {"running", "initing", "isolated", "offlining"} <= found, f"the SDK's docstring changed: {doc}"
    return found


def create_params(**extra: object) -> dict[str, object]:
    return {"SpecCode": SPEC, "Storage": 20, "InstanceCount": 1, "Period": 1, "Zone": ZONE, "Charset": "UTF8",
            "AdminName": ADMIN_NAME, "AdminPassword": ADMIN_PASSWORD, "InstanceChargeType": POSTPAID, **extra}


def test_the_status_table_speaks_only_documented_words() -> None:
    assert set(STATUSES) == set(Lifecycle), "every domain state has its status"
    assert set(STATUSES.values()) <= documented_statuses(), set(STATUSES.values()) - documented_statuses()


def test_clients_waiting_on_documented_statuses_see_them(api: Api, masters: Masters) -> None:
    """A client polls for ``initing`` while an instance is made and ``offlining`` while it goes away."""
    driver = api.service.container.driver  # type: ignore[attr-defined]  # the in-process service's FakeDriver
    with driver.hold("create_primary"):
        created = api.create_master(POSTPAID, name="status-watch")
        assert api.instance(created).DBInstanceStatus == "initing"
    api.wait_status([created], "running")
    api.send("IsolateDBInstances", {"DBInstanceIdSet": [created]})
    api.wait_status([created], "isolated")
    with driver.hold("destroy"):
        api.send("DestroyDBInstance", {"DBInstanceId": created})
        assert api.instance(created).DBInstanceStatus == "offlining"
    api.wait_gone([created])


def test_instance_count_is_one_to_ten(api: Api) -> None:
    with nothing_created(api):
        dry = api.call("CreateInstances", create_params(InstanceCount=10, DryRun=True))
        assert dry["DBInstanceIdSet"] == []
        for count in (0, 11):
            expect_error("InvalidParameterValue.InvalidInstanceNum",
                         lambda count=count: api.send("CreateInstances", create_params(InstanceCount=count)),
                         "InstanceCount")


def test_switches_outside_their_enum_are_refused(api: Api, masters: Masters) -> None:
    with nothing_created(api):
        for name, value in (("AutoVoucher", 2), ("AutoRenewFlag", 3), ("AutoRenewFlag", -1)):
            expect_error("InvalidParameterValue.InvalidParameterValueError",
                         lambda name=name, value=value: api.send("CreateInstances", create_params(**{name: value})),
                         name)
            expect_error("InvalidParameterValue.InvalidParameterValueError",
                         lambda name=name, value=value: api.send("CreateReadOnlyDBInstance", {
                             "MasterDBInstanceId": masters.postpaid, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20,
                             "InstanceCount": 1, "Period": 1, "InstanceChargeType": POSTPAID, name: value}), name)


def test_read_only_node_is_a_standby(api: Api, masters: Masters, seed_replica: SeedReplica) -> None:
    assert [n.Role for n in api.instance(seed_replica.instance_id).DBNodeSet] == ["Standby"]
    assert [n.Role for n in api.instance(masters.postpaid).DBNodeSet] == ["Primary"]


def task(api: Api, task_id: int) -> models.TaskSet:
    (found,) = api.send("DescribeTasks", {"TaskId": task_id}).TaskSet
    assert found.TaskId == task_id
    return found


def steps_of(found: models.TaskSet) -> list[str]:
    steps = json.loads(found.TaskDetail.AllSteps)
    assert [s["StepId"] for s in steps] == list(range(1, len(steps) + 1))
    return [s["StepName"] for s in steps]


def test_group_actions_answer_flows_that_describe_tasks_follows(
    api: Api, masters: Masters, seed_replica: SeedReplica
) -> None:
    created = api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": masters.postpaid, "Name": "flows"})
    assert created.FlowId and created.TaskId == created.FlowId
    shown = task(api, created.FlowId)
    assert (shown.TaskType, shown.Status, shown.Progress, shown.DBInstanceId) == (
        "CreateReadOnlyGroup", "Success", 100, masters.postpaid)
    assert shown.TaskDetail.CurrentStep == steps_of(shown)[-1]

    group_id, member = created.ReadOnlyGroupId, seed_replica.instance_id
    added = api.send("AddDBInstanceToReadOnlyGroup", {"DBInstanceId": member, "ReadOnlyGroupId": group_id})
    assert task(api, added.FlowId).TaskType == "AddDBInstanceToReadOnlyGroup"
    assert added.FlowId in {t.TaskId for t in api.send("DescribeTasks", {"DBInstanceId": member}).TaskSet}
    removed = api.send("RemoveDBInstanceFromReadOnlyGroup", {"DBInstanceId": member, "ReadOnlyGroupId": group_id})
    assert task(api, removed.FlowId).TaskType == "RemoveDBInstanceFromReadOnlyGroup"
    deleted = api.send("DeleteReadOnlyGroup", {"ReadOnlyGroupId": group_id})
    assert task(api, deleted.FlowId).TaskType == "DeleteReadOnlyGroup"
    assert len({created.FlowId, added.FlowId, removed.FlowId, deleted.FlowId}) == 4


def test_task_type_and_steps_of_a_create(api: Api, masters: Masters) -> None:
    tasks = api.send("DescribeTasks", {"DBInstanceId": masters.prepaid}).TaskSet
    create = next(t for t in tasks if t.TaskType == "CreateInstance")
    steps = steps_of(create)
    assert len(steps) >= 2 and create.TaskDetail.CurrentStep == steps[-1]
    assert create.Status == "Success" and create.EndTime >= create.StartTime


def test_times_are_beijing_time_both_ways(api: Api, masters: Masters) -> None:
    before = datetime.now(UTC)
    shown = api.instance(masters.postpaid).CreateTime
    as_beijing = datetime.strptime(shown, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) - BEIJING
    assert timedelta(0) <= before - as_beijing < timedelta(minutes=10), f"CreateTime {shown} is not UTC+8"

    # A task's StartTime sent back as MinStartTime finds that task: read as it was written.
    (newest,) = api.send("DescribeTasks", {"DBInstanceId": masters.postpaid, "Limit": 1}).TaskSet
    since = api.send("DescribeTasks", {"DBInstanceId": masters.postpaid, "MinStartTime": newest.StartTime}).TaskSet
    assert newest.TaskId in {t.TaskId for t in since}
    later = (datetime.strptime(newest.StartTime, "%Y-%m-%d %H:%M:%S") + timedelta(seconds=1)).isoformat(" ")
    assert newest.TaskId not in {t.TaskId for t in api.send("DescribeTasks", {
        "DBInstanceId": masters.postpaid, "MinStartTime": later}).TaskSet}
    assert newest.TaskId not in {t.TaskId for t in api.send("DescribeTasks", {
        "DBInstanceId": masters.postpaid, "MaxStartTime": "2000-01-01 00:00:00"}).TaskSet}
    expect_error("InvalidParameterValue.InvalidParameterValueError",
                 lambda: api.send("DescribeTasks", {"MinStartTime": "yesterday"}), "MinStartTime")
