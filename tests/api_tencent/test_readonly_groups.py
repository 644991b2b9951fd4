"""Read-only groups as records, through the official SDK: create, fill through CreateReadOnlyDBInstance,
describe, weigh, refuse to delete while not empty, empty, delete."""

from __future__ import annotations

from typing import Any

from .sdk import POSTPAID, SPEC, ZONE, Api, Masters, expect_error, nothing_created


def groups(api: Api, *filters: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """DescribeReadOnlyGroups, raw (member weights are not in the SDK's DBInstance model)."""
    answer = api.call("DescribeReadOnlyGroups", {
        "Filters": [{"Name": name, "Values": [value]} for name, value in filters], "PageSize": 100})
    assert answer["TotalCount"] == len(answer["ReadOnlyGroupList"])
    return {g["ReadOnlyGroupId"]: g for g in answer["ReadOnlyGroupList"]}


def members(api: Api, group_id: str) -> dict[str, dict[str, Any]]:
    return {m["DBInstanceId"]: m for m in groups(api, ("read-only-group-id", group_id))[group_id]
            ["ReadOnlyDBInstanceList"]}


def test_read_only_group_lifecycle(api: Api, masters: Masters) -> None:
    with nothing_created(api):
        dry = api.call("CreateReadOnlyGroup", {"MasterDBInstanceId": masters.postpaid, "Name": "dry", "DryRun": True})
    assert dry["ReadOnlyGroupId"] == ""
    assert not groups(api, ("db-master-instance-id", masters.postpaid)), f"a dry run made a group: {dry}"

    created = api.send("CreateReadOnlyGroup", {
        "MasterDBInstanceId": masters.postpaid, "Name": "reporting", "ProjectId": 0, "ReplayLagEliminate": 1,
        "ReplayLatencyEliminate": 1, "MaxReplayLag": 10, "MaxReplayLatency": 512, "MinDelayEliminateReserve": 1})
    group_id = created.ReadOnlyGroupId
    assert group_id.startswith("pgrogrp-") and len(group_id) == len("pgrogrp-") + 8
    shown = groups(api, ("read-only-group-id", group_id))[group_id]
    assert (shown["ReadOnlyGroupName"], shown["MasterDBInstanceId"], shown["Status"]) == (
        "reporting", masters.postpaid, "ok")
    assert (shown["MaxReplayLag"], shown["MaxReplayLatency"], shown["ReplayLagEliminate"]) == (10, 512, 1)
    assert shown["ReadOnlyDBInstanceList"] == []

    # A read-only instance bought into the group is a member from the start.
    bought = api.send("CreateReadOnlyDBInstance", {
        "MasterDBInstanceId": masters.postpaid, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1,
        "Period": 1, "InstanceChargeType": POSTPAID, "ReadOnlyGroupId": group_id, "Name": "in-group"})
    (member,) = bought.DBInstanceIdSet
    api.wait_status([member], "running")
    listed = members(api, group_id)
    assert set(listed) == {member}
    assert listed[member]["MasterDBInstanceId"] == masters.postpaid
    assert listed[member]["Weight"] == 1  # by memory size as Tencent assigns it: pg.it.small2 has 2 GB -> 1
    assert api.instance(member).StatusInReadonlyGroup == "running"
    assert group_id in groups(api, ("db-master-instance-id", masters.postpaid))

    # Weights: 1..50.
    for weight in (1, 50):
        api.send("ModifyReadOnlyDBInstanceWeight", {"DBInstanceId": member, "ReadOnlyGroupId": group_id,
                                                    "Weight": weight})
        assert members(api, group_id)[member]["Weight"] == weight
    for weight in (0, 51):
        expect_error("InvalidParameterValue.ParameterOutOfRange", lambda weight=weight: api.send(
            "ModifyReadOnlyDBInstanceWeight", {"DBInstanceId": member, "ReadOnlyGroupId": group_id,
                                               "Weight": weight}), "Weight")
    assert members(api, group_id)[member]["Weight"] == 50

    # Not deleted while it has members.
    expect_error("FailedOperation.ROGroupCannotBeDeletedError",
                 lambda: api.send("DeleteReadOnlyGroup", {"ReadOnlyGroupId": group_id}), "ReadOnlyGroupId")
    assert set(members(api, group_id)) == {member}

    # Emptied, it goes.
    api.send("RemoveDBInstanceFromReadOnlyGroup", {"DBInstanceId": member, "ReadOnlyGroupId": group_id})
    assert members(api, group_id) == {}
    assert api.instance(member).StatusInReadonlyGroup == ""
    api.send("DeleteReadOnlyGroup", {"ReadOnlyGroupId": group_id})
    assert group_id not in groups(api, ("db-master-instance-id", masters.postpaid))
    with nothing_created(api):
        expect_error("FailedOperation.ROGroupNotFoundError", lambda: api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": masters.postpaid, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20,
            "InstanceCount": 1, "Period": 1, "InstanceChargeType": POSTPAID, "ReadOnlyGroupId": group_id}),
            "ReadOnlyGroupId")
    # The instance itself is untouched by leaving the group.
    assert api.instance(member).DBInstanceStatus == "running"
