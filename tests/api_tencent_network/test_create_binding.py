"""Security groups named when something is created (``SecurityGroupIds`` of CreateInstances,
CreateReadOnlyDBInstance, CreateReadOnlyGroup and CloneDBInstance), through the official SDK over the
fake engine (fast): the tenant's groups are bound with the create and enforced by its job before the
instance shows running (or, for a read-only group, by an admission job once its endpoint listens); a
catalogue id is accepted and binds nothing; an unknown id is refused with the documented code naming the
field (``InvalidParameter.VpcNotFoundError``, the create's code for every unknown network field), and
nothing is created."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, POSTPAID, SPEC, ZONE, Api, expect_error
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import wait_for

from openrds.domain.catalogue import DEFAULT_SECURITY_GROUPS
from openrds.domain.security_groups import parse_rule

BAD_VALUE = "InvalidParameterValue.InvalidParameterValueError"
NO_NETWORK = "InvalidParameter.VpcNotFoundError"
CATALOGUE_GROUP = "sg-iwnfp51z"
assert CATALOGUE_GROUP in DEFAULT_SECURITY_GROUPS


@dataclass
class World:
    service: InProcessService
    api: Api
    driver: FakeDriver
    app: str  # a tenant security group admitting 10.0.0.0/8
    office: str  # another admitting 192.168.0.0/16

    def bound(self, **resource: str) -> list[str]:
        found = self.api.send("DescribeDBInstanceSecurityGroups", resource).SecurityGroupSet
        return [g.SecurityGroupId for g in found]

    def created(self) -> tuple[int, int, int]:
        """How many instances, read-only groups and tasks the tenant has (to show nothing was made)."""
        groups = len(self.api.send("DescribeReadOnlyGroups", {}).ReadOnlyGroupList)
        return len(self.api.instances()), groups, self.api.task_count()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    driver = FakeDriver()
    with in_process_service(driver=driver) as service:
        tenant_id = service.container.identity.tenants()[0].id
        network = service.container.network
        app = network.create_group(tenant_id, "app", rules=[parse_rule("ACCEPT", "10.0.0.0/8")]).id
        office = network.create_group(tenant_id, "office", rules=[parse_rule("ACCEPT", "192.168.0.0/16")]).id
        yield World(service, Api(service), driver, app, office)


def create_master(api: Api, **extra: Any) -> str:
    (code,) = api.send("CreateInstances", {
        "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1, "Period": 1, "Zone": ZONE, "Charset": "UTF8",
        "AdminName": ADMIN_NAME, "AdminPassword": ADMIN_PASSWORD, "InstanceChargeType": POSTPAID, **extra,
    }).DBInstanceIdSet
    return str(code)


def create_replica(api: Api, master: str, **extra: Any) -> str:
    (code,) = api.send("CreateReadOnlyDBInstance", {
        "MasterDBInstanceId": master, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1,
        "Period": 1, "InstanceChargeType": POSTPAID, **extra}).DBInstanceIdSet
    return str(code)


def test_groups_named_at_create_are_bound_and_enforced_before_the_instance_runs(world: World) -> None:
    master = create_master(world.api, SecurityGroupIds=[world.app, world.office])
    assert world.bound(DBInstanceId=master) == [world.app, world.office], "bound with the create, in order"
    world.api.wait_status([master], "running")
    # Read at once: the create job applied it before it marked the instance running.
    admission = world.driver.admission(master)
    assert not admission.open and admission.rules == (("10.0.0.0/8", True), ("192.168.0.0/16", True))
    assert admission.admits("10.1.2.3") and not admission.admits("172.16.0.1")

    # A read-only instance takes its master's groups unless it names its own.
    inherited = create_replica(world.api, master)
    own = create_replica(world.api, master, SecurityGroupIds=[world.office])
    world.api.wait_status([inherited, own], "running")
    assert world.bound(DBInstanceId=inherited) == [world.app, world.office]
    assert world.bound(DBInstanceId=own) == [world.office]
    assert world.driver.admission(own).rules == (("192.168.0.0/16", True),) and world.driver.via_endpoint(own)
    assert world.driver.admission(inherited).rules == admission.rules

    # A read-only group's endpoint: bound with the group, filtered once its admission job ran.
    group = world.api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": master, "Name": "readers",
                                                   "SecurityGroupIds": [world.office]}).ReadOnlyGroupId
    assert world.bound(ReadOnlyGroupId=group) == [world.office]
    wait_for(lambda: not world.driver.admission_of_endpoint(group).open, 30, "the group's endpoint to be filtered")
    assert world.driver.admission_of_endpoint(group).rules == (("192.168.0.0/16", True),)


def test_a_catalogue_group_is_accepted_and_binds_nothing(world: World) -> None:
    master = create_master(world.api, SecurityGroupIds=[CATALOGUE_GROUP])
    world.api.wait_status([master], "running")
    assert world.bound(DBInstanceId=master) == []
    assert world.driver.admission(master).open, "a catalogue group holds no rules: every address may connect"


def test_a_clone_takes_the_groups_it_names(world: World) -> None:
    source = create_master(world.api, SecurityGroupIds=[world.app])
    world.api.wait_status([source], "running")
    backup_id = world.api.send("CreateBaseBackup", {"DBInstanceId": source}).BaseBackupId
    wait_for(lambda: world.api.call("DescribeBaseBackups", {"Filters": [
        {"Name": "base-backup-id", "Values": [backup_id]}]})["BaseBackupSet"][0]["State"] == "finished",
        30, f"backup {backup_id} to finish")
    clone = world.api.send("CloneDBInstance", {
        "DBInstanceId": source, "SpecCode": SPEC, "Storage": 20, "Period": 1, "AutoRenewFlag": 0,
        "InstanceChargeType": POSTPAID, "BackupSetId": backup_id, "VpcId": "vpc-8btfafeo",
        "SubnetId": "subnet-1i9huswn", "SecurityGroupIds": [world.office]}).DBInstanceId
    world.api.wait_status([clone], "running")
    assert world.bound(DBInstanceId=clone) == [world.office]
    assert world.driver.admission(clone).rules == (("192.168.0.0/16", True),)


def test_unknown_groups_are_refused_naming_the_field_and_nothing_is_created(world: World) -> None:
    master = create_master(world.api)
    world.api.wait_status([master], "running")
    neighbour = world.service.container.identity.create_tenant("neighbour")
    theirs = world.service.container.network.create_group(neighbour.id, "theirs").id
    before = world.created()
    for ids in (["sg-nothere1"], [world.app, "sg-nothere1"], [theirs]):
        expect_error(NO_NETWORK, lambda ids=ids: create_master(world.api, SecurityGroupIds=ids), "SecurityGroupIds")
        expect_error(NO_NETWORK, lambda ids=ids: create_replica(world.api, master, SecurityGroupIds=ids),
                     "SecurityGroupIds")
        expect_error(NO_NETWORK, lambda ids=ids: world.api.send("CreateReadOnlyGroup", {
            "MasterDBInstanceId": master, "Name": "refused", "SecurityGroupIds": ids}), "SecurityGroupIds")
    expect_error(BAD_VALUE, lambda: create_master(world.api, SecurityGroupIds=[world.app, world.app]),
                 "SecurityGroupIds")
    # A driver that cannot enforce admission refuses the create rather than run it open.
    world.driver.access_refusal = "this driver cannot enforce admission rules"
    try:
        error = expect_error("ResourceInsufficient.ResourceNotEnough",
                             lambda: create_master(world.api, SecurityGroupIds=[world.app]))
        assert "cannot enforce" in error.message
    finally:
        world.driver.access_refusal = ""
    assert world.created() == before
