"""CreateReadOnlyDBInstance through the official SDK: the seed's two examples, dry runs, and every error
code the seed lists for the rules this service enforces, each through a real signed request.

Every refused call is checked to leave nothing behind: no instance in DescribeDBInstances, no task,
no server directory.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from tests.support.service import RunningService

from .sdk import (
    OPERATION_TIMEOUT,
    POSTPAID,
    PREPAID,
    SPEC,
    ZONE,
    Api,
    Masters,
    SeedReplica,
    expect_error,
    models,
    nothing_created,
    seed_example,
    server_dirs,
)


def order(master: str, **changes: Any) -> dict[str, Any]:
    """A valid postpaid order for one read-only instance of ``master``; ``None`` removes a field."""
    body: dict[str, Any] = {"MasterDBInstanceId": master, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20,
                            "InstanceCount": 1, "Period": 1, "InstanceChargeType": POSTPAID}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


EMPTY_ANSWER = {"DealNames": [], "BillId": "", "DBInstanceIdSet": []}


# --- the seed's examples ---------------------------------------------------------------------------
def test_seed_example_1_creates_a_read_only_instance(api: Api, masters: Masters, seed_replica: SeedReplica) -> None:
    answer = seed_replica.response
    assert len(answer["DealNames"]) == 1 and answer["DealNames"][0].isdigit()
    assert answer["BillId"].isdigit()
    assert re.fullmatch(r"pgro-[a-z0-9]{8}", seed_replica.instance_id)
    replica = api.instance(seed_replica.instance_id)
    assert replica.DBInstanceStatus == "running"
    assert (replica.DBInstanceType, replica.MasterDBInstanceId) == ("readonly", masters.postpaid)
    assert (replica.Zone, replica.DBInstanceClass, replica.DBInstanceStorage) == (ZONE, SPEC, 100)
    assert (replica.ProjectId, replica.VpcId, replica.SubnetId, replica.PayType) == (
        1, "vpc-8btfafeo", "subnet-1i9huswn", "postpaid")
    assert replica.DBMajorVersion == api.instance(masters.postpaid).DBMajorVersion  # DBVersion 12.22 is ignored
    assert api.instance(masters.postpaid).ReadOnlyInstanceNum >= 1


def test_seed_example_2_dry_run_creates_nothing(api: Api, masters: Masters) -> None:
    with nothing_created(api):
        answer = api.call("CreateReadOnlyDBInstance", seed_example(masters.postpaid, DryRun=True))
    assert {k: answer[k] for k in EMPTY_ANSWER} == EMPTY_ANSWER


def test_dry_run_through_the_typed_sdk_request(api: Api, masters: Masters) -> None:
    request = models.CreateReadOnlyDBInstanceRequest()
    request.from_json_string(json.dumps(seed_example(masters.postpaid)))
    request._DryRun = True  # the SDK sends underscore attributes without the underscore: "DryRun": true
    with nothing_created(api):
        answer = api.client.CreateReadOnlyDBInstance(request)
    assert (answer.DealNames, answer.BillId, answer.DBInstanceIdSet) == ([], "", [])


def test_dry_run_still_checks_every_rule(api: Api, masters: Masters) -> None:
    with nothing_created(api):
        expect_error("InvalidParameterValue.IllegalZone", lambda: api.call(
            "CreateReadOnlyDBInstance", seed_example(masters.postpaid, Zone="ap-beijing-99", DryRun=True)), "Zone")


def test_valid_edges_pass(api: Api, masters: Masters) -> None:
    """Boundaries that must be accepted (checked in verification mode, so nothing is built)."""
    edges = [
        # Prepaid orders are paid from the tenant's balance: each edge alone, to stay within it.
        order(masters.prepaid, InstanceChargeType=PREPAID, Period=36),
        order(masters.prepaid, InstanceChargeType=PREPAID, Period=1, InstanceCount=6),
        order(masters.prepaid, InstanceChargeType=PREPAID, Period=1, Storage=1000),
        order(masters.prepaid, InstanceChargeType=PREPAID, Period=1, Storage=10),
        order(masters.prepaid, InstanceChargeType=None, Period=12),  # the default is PREPAID
        order(masters.prepaid),  # a postpaid replica of a prepaid master is fine
        order(masters.postpaid, Name="r" * 59),
        order(masters.postpaid, Name="只读_replica-1"),
        order(masters.postpaid, ProjectId=0, VpcId="vpc-8btfafeo", SubnetId="subnet-1i9huswn"),
    ]
    with nothing_created(api):
        for body in edges:
            answer = api.call("CreateReadOnlyDBInstance", {**body, "DryRun": True})
            assert {k: answer[k] for k in EMPTY_ANSWER} == EMPTY_ANSWER, body


def test_prepaid_purchase_returns_no_instance_ids(api: Api, masters: Masters) -> None:
    """Documented: DBInstanceIdSet "is available only in postpaid scenarios"; the deal names are the receipt."""
    before = set(api.instances(("db-master-instance-id", [masters.prepaid])))
    answer = api.call("CreateReadOnlyDBInstance", order(masters.prepaid, InstanceChargeType=PREPAID, Period=1))
    assert answer["DBInstanceIdSet"] == [] and len(answer["DealNames"]) == 1 and answer["BillId"].isdigit()
    (replica,) = set(api.instances(("db-master-instance-id", [masters.prepaid]))) - before
    shown = api.wait_status([replica], "running")[replica]
    assert (shown.PayType, shown.DBInstanceType, shown.MasterDBInstanceId) == ("prepaid", "readonly", masters.prepaid)


# --- one error code per rule ---------------------------------------------------------------------
BadSpec = "InvalidParameterValue.BadSpec"
BadValue = "InvalidParameterValue.InvalidParameterValueError"
BadNum = "InvalidParameterValue.InvalidInstanceNum"
BadCharge = "InvalidParameterValue.IllegalInstanceChargeType"
NoVpc = "InvalidParameter.VpcNotFoundError"

# (master: "postpaid"/"prepaid", changes to a valid order, code, the parameter the message names)
ERROR_CASES = {
    "unknown-master": ("postpaid", {"MasterDBInstanceId": "postgres-nosuch00"},
                       "ResourceNotFound.InstanceNotFoundError", "MasterDBInstanceId"),
    "unknown-zone": ("postpaid", {"Zone": "ap-beijing-99"}, "InvalidParameterValue.IllegalZone", "Zone"),
    "zone-of-another-region": ("postpaid", {"Zone": "ap-guangzhou-3"}, "InvalidParameterValue.IllegalZone", "Zone"),
    "unknown-spec": ("postpaid", {"SpecCode": "pg.it.nosuch"}, BadSpec, "SpecCode"),
    "primary-only-spec": ("postpaid", {"SpecCode": "rds.pg.s1.large"}, BadSpec, "SpecCode"),
    "storage-not-a-multiple-of-10": ("postpaid", {"Storage": 25}, BadValue, "Storage"),
    "storage-below-the-spec": ("postpaid", {"Storage": 0}, BadValue, "Storage"),
    "storage-above-the-spec": ("postpaid", {"Storage": 1010}, BadValue, "Storage"),
    "instance-count-0": ("postpaid", {"InstanceCount": 0}, BadNum, "InstanceCount"),
    "instance-count-7": ("postpaid", {"InstanceCount": 7}, BadNum, "InstanceCount"),
    "postpaid-period-2": ("postpaid", {"Period": 2}, BadValue, "Period"),
    "prepaid-period-13": ("prepaid", {"InstanceChargeType": PREPAID, "Period": 13}, BadValue, "Period"),
    "prepaid-period-0": ("prepaid", {"InstanceChargeType": PREPAID, "Period": 0}, BadValue, "Period"),
    "prepaid-replica-of-postpaid-master": ("postpaid", {"InstanceChargeType": PREPAID}, BadCharge,
                                           "InstanceChargeType"),
    "default-prepaid-replica-of-postpaid-master": ("postpaid", {"InstanceChargeType": None}, BadCharge,
                                                   "InstanceChargeType"),
    "more-than-the-balance": ("prepaid", {"InstanceChargeType": PREPAID, "Period": 36, "InstanceCount": 2,
                                          "Storage": 1000}, "OperationDenied.InsufficientBalanceError", None),
    "unknown-charge-type": ("postpaid", {"InstanceChargeType": "MONTHLY"}, BadCharge, "InstanceChargeType"),
    "name-characters": ("postpaid", {"Name": "ro name!"}, "InvalidParameterValue.ParameterCharacterError", "Name"),
    "name-60-characters": ("postpaid", {"Name": "r" * 60}, "InvalidParameterValue.ParameterLengthLimitError", "Name"),
    "unknown-group": ("postpaid", {"ReadOnlyGroupId": "pgrogrp-nosuch00"}, "FailedOperation.ROGroupNotFoundError",
                      "ReadOnlyGroupId"),
    "unknown-project": ("postpaid", {"ProjectId": 7}, "InvalidParameterValue.IllegalProjectId", "ProjectId"),
    "unknown-vpc": ("postpaid", {"VpcId": "vpc-nosuch00", "SubnetId": "subnet-1i9huswn"}, NoVpc, "VpcId"),
    "unknown-subnet": ("postpaid", {"VpcId": "vpc-8btfafeo", "SubnetId": "subnet-nosuch00"}, NoVpc, "SubnetId"),
    "subnet-without-vpc": ("postpaid", {"SubnetId": "subnet-1i9huswn"}, NoVpc, "SubnetId"),
    "unknown-security-group": ("postpaid", {"SecurityGroupIds": ["sg-nosuch00"]}, NoVpc, "SecurityGroupIds"),
}


@pytest.mark.parametrize(("master", "changes", "code", "field"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_refused_with_its_code(api: Api, masters: Masters, master: str, changes: dict[str, Any], code: str,
                               field: str | None) -> None:
    body = order(getattr(masters, master), **changes)
    with nothing_created(api):
        expect_error(code, lambda: api.send("CreateReadOnlyDBInstance", body), field)


def test_a_read_only_instance_is_no_master(api: Api, seed_replica: SeedReplica) -> None:
    with nothing_created(api):
        error = expect_error("OperationDenied.InstanceStatusLimitError", lambda: api.send(
            "CreateReadOnlyDBInstance", order(seed_replica.instance_id)), "MasterDBInstanceId")
    assert seed_replica.instance_id in error.message


def test_an_isolated_master_is_refused(api: Api, masters: Masters) -> None:
    api.send("IsolateDBInstances", {"DBInstanceIdSet": [masters.spare]})
    api.wait_status([masters.spare], "isolated", OPERATION_TIMEOUT)
    with nothing_created(api):
        error = expect_error("OperationDenied.InstanceStatusLimitError", lambda: api.send(
            "CreateReadOnlyDBInstance", order(masters.spare)), "MasterDBInstanceId")
    assert "isolated" in error.message
    api.send("DestroyDBInstance", {"DBInstanceId": masters.spare})
    api.wait_gone([masters.spare])
    with nothing_created(api):  # a destroyed master is not found at all
        expect_error("ResourceNotFound.InstanceNotFoundError", lambda: api.send(
            "CreateReadOnlyDBInstance", order(masters.spare)), "MasterDBInstanceId")


def test_a_group_of_another_master_is_refused(api: Api, masters: Masters) -> None:
    group = api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": masters.prepaid, "Name": "of-the-prepaid-master"})
    try:
        with nothing_created(api):
            expect_error("FailedOperation.ROGroupMasterInstanceNotRight", lambda: api.send(
                "CreateReadOnlyDBInstance", order(masters.postpaid, ReadOnlyGroupId=group.ReadOnlyGroupId)),
                "ReadOnlyGroupId")
    finally:
        api.send("DeleteReadOnlyGroup", {"ReadOnlyGroupId": group.ReadOnlyGroupId})


def test_too_many_read_only_instances_for_one_master(api: Api, masters: Masters, seed_replica: SeedReplica) -> None:
    existing = api.instance(masters.postpaid).ReadOnlyInstanceNum
    assert existing >= 1  # the seed example's replica; the limit is 6 (a real refusal: test_readonly_flow)
    with nothing_created(api):
        expect_error("OperationDenied.RoInstanceCountExeedError", lambda: api.call(
            "CreateReadOnlyDBInstance", order(masters.postpaid, InstanceCount=7 - existing, DryRun=True)),
            "InstanceCount")
        expect_error("OperationDenied.RoInstanceCountExeedError", lambda: api.send(
            "CreateReadOnlyDBInstance", order(masters.postpaid, InstanceCount=7 - existing)), "InstanceCount")


# --- tenants -------------------------------------------------------------------------------------
def create_tenant(service: RunningService, name: str) -> tuple[str, str]:
    """``openrds admin create-tenant`` against the running service's data root: (SecretId, SecretKey)."""
    done = subprocess.run([sys.executable, "-m", "openrds", "admin", "create-tenant", name,
                           "--data-dir", str(service.data_dir)],
                          env=service.env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    secret_id = re.search(r"^SecretId\s+(\S+)$", done.stdout, re.M)
    secret_key = re.search(r"^SecretKey\s+(\S+)$", done.stdout, re.M)
    assert secret_id and secret_key, done.stdout
    return secret_id.group(1), secret_key.group(1)


def test_another_tenant_cannot_see_or_use_the_master(api: Api, masters: Masters, service: RunningService) -> None:
    other = Api(service, *create_tenant(service, "tenant-b"))
    assert other.instances() == {}
    assert other.send("DescribeDBInstances", {}).TotalCount == 0
    not_found = "ResourceNotFound.InstanceNotFoundError"
    with nothing_created(api), nothing_created(other):
        expect_error(not_found, lambda: other.instance(masters.postpaid), "DBInstanceId")
        expect_error(not_found, lambda: other.send("CreateReadOnlyDBInstance", order(masters.postpaid)),
                     "MasterDBInstanceId")
        expect_error(not_found, lambda: other.call("CreateReadOnlyDBInstance", seed_example(masters.postpaid)),
                     "MasterDBInstanceId")
        expect_error(not_found, lambda: other.call(
            "CreateReadOnlyDBInstance", seed_example(masters.postpaid, DryRun=True)), "MasterDBInstanceId")
        expect_error(not_found, lambda: other.send(
            "CreateReadOnlyGroup", {"MasterDBInstanceId": masters.postpaid, "Name": "theirs"}))
        expect_error(not_found, lambda: other.send("IsolateDBInstances", {"DBInstanceIdSet": [masters.postpaid]}))
        expect_error(not_found, lambda: other.send("DestroyDBInstance", {"DBInstanceId": masters.postpaid}))
    assert other.send("DescribeTasks", {}).TotalCount == 0
    assert api.instance(masters.postpaid).DBInstanceStatus == "running"
    assert masters.postpaid in server_dirs(service)
