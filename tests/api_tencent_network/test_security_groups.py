"""Security groups on real PostgreSQL and HAProxy, through the official SDK and ``openrds admin``: rules
that admit one host and refuse another, sessions of a host no longer admitted ended, a read-only group's
endpoint filtering its clients, and bad input answered with the documented codes.

The client's address is chosen by binding the client socket (`relay.Relay`, `relay.startup_answer`):
127.0.0.1 and 127.0.0.2 are both this host, and the server sees whichever the socket was bound to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, POSTPAID, SPEC, ZONE, Api, expect_error
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import wait_for
from typer.testing import CliRunner

from openrds import cli

from .relay import Relay, startup_answer

pytestmark = pytest.mark.slow

HERE, OTHER = "127.0.0.1", "127.0.0.2"  # the host the rules admit, and another one
APPLIED = 30.0  # seconds an admission job may take on a loaded host


@dataclass
class World:
    service: InProcessService
    api: Api
    tenant: str
    master: str  # DBInstanceId
    port: int  # the master's server port

    def admin(self, *args: str, ok: bool = True) -> str:
        """``openrds admin <args>`` against the service's data root; its output (exit code as ``ok`` says)."""
        done = CliRunner().invoke(cli.app, ["admin", *args], env={**self.service.env, "COLUMNS": "200"})
        assert (done.exit_code == 0) == ok, done.output
        return done.output

    def answer(self, source: str) -> str:
        return startup_answer("127.0.0.1", self.port, source=source)

    def wait_answer(self, source: str, wanted: str) -> None:
        wait_for(lambda: self.answer(source) == wanted, APPLIED,
                 f"the server to answer a startup from {source} with {wanted!r}")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with in_process_service() as service:
        api = Api(service)
        master = api.create_master(POSTPAID, name="guarded")
        port = api.wait_status([master], "running")[master].DBInstanceNetInfo[0].Port
        tenant = service.container.identity.tenants()[0].name
        yield World(service, api, tenant, master, port)


def session(port: int) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, user=ADMIN_NAME, password=ADMIN_PASSWORD, dbname="postgres",
                           connect_timeout=5, autocommit=True)


def alive(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def new_group(world: World, name: str, *rules: str) -> str:
    output = world.admin("security-group", "create", world.tenant, name, "--description", f"{name} hosts")
    group_id = output.strip().splitlines()[-1]
    assert re.fullmatch(r"sg-[a-z0-9]{8}", group_id), output
    for cidr in rules:
        world.admin("security-group", "add-rule", group_id, cidr)
    return group_id


def bind(world: World, *group_ids: str) -> None:
    world.api.send("ModifyDBInstanceSecurityGroups", {"DBInstanceId": world.master,
                                                      "SecurityGroupIdSet": list(group_ids)})


def test_rules_admit_one_host_and_refuse_another(world: World) -> None:
    assert world.answer(OTHER) == "R", "open before any group is bound"
    group_id = new_group(world, "app", f"{HERE}/32")
    bind(world, group_id)
    world.wait_answer(OTHER, "E")
    assert world.answer(HERE) == "R"
    with session(world.port) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with Relay(("127.0.0.1", world.port), source=OTHER) as relay, pytest.raises(psycopg.OperationalError) as refused:
        session(relay.port)
    assert "pg_hba.conf rejects connection" in str(refused.value) and OTHER in str(refused.value)

    (shown,) = world.api.send("DescribeDBInstanceSecurityGroups", {"DBInstanceId": world.master}).SecurityGroupSet
    assert (shown.SecurityGroupId, shown.SecurityGroupName, shown.SecurityGroupDescription) == (
        group_id, "app", "app hosts")
    assert [(r.Action, r.CidrIp, r.PortRange, r.IpProtocol) for r in shown.Inbound] == [
        ("ACCEPT", f"{HERE}/32", "ALL", "TCP")]
    assert shown.Outbound == [] and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", shown.CreateTime)
    bind(world)  # back to open for the next test
    world.wait_answer(OTHER, "R")


def test_groups_named_at_create_refuse_another_host_from_the_first_running_moment(world: World) -> None:
    """CreateInstances with SecurityGroupIds: the create job writes the rules before the instance shows
    running, so a host outside the group is refused at once, and the admitted one is not."""
    group_id = new_group(world, "at-create", f"{HERE}/32")
    created = world.api.send("CreateInstances", {
        "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1, "Period": 1, "Zone": ZONE, "Charset": "UTF8",
        "AdminName": ADMIN_NAME, "AdminPassword": ADMIN_PASSWORD, "InstanceChargeType": POSTPAID,
        "SecurityGroupIds": [group_id]})
    (code,) = created.DBInstanceIdSet
    port = world.api.wait_status([code], "running")[code].DBInstanceNetInfo[0].Port
    assert startup_answer("127.0.0.1", port, source=OTHER) == "E", "refused without waiting for anything"
    assert startup_answer("127.0.0.1", port, source=HERE) == "R"
    with session(port) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_sessions_of_hosts_no_longer_admitted_are_ended(world: World) -> None:
    group_id = new_group(world, "both", f"{HERE}/32", f"{OTHER}/32")
    bind(world, group_id)
    with Relay(("127.0.0.1", world.port), source=OTHER) as relay:
        other = wait_for(lambda: _try(relay.port), APPLIED, f"a session from {OTHER} to be admitted")
        here = session(world.port)
        world.admin("security-group", "remove-rule", group_id, "2")  # the rule of 127.0.0.2
        wait_for(lambda: not alive(other), APPLIED, f"the session from {OTHER} to be ended")
        assert alive(here), f"the session from {HERE} is still admitted and kept"
        assert world.answer(OTHER) == "E"
        here.close()
    # An ordered DROP before a broader ACCEPT refuses just that host.
    world.admin("security-group", "add-rule", group_id, f"{OTHER}/32", "--action", "DROP", "--position", "1")
    world.admin("security-group", "add-rule", group_id, "127.0.0.0/8")
    world.wait_answer(HERE, "R")
    assert world.answer(OTHER) == "E"
    bind(world)
    world.wait_answer(OTHER, "R")


def _try(port: int) -> psycopg.Connection | None:
    try:
        return session(port)
    except psycopg.OperationalError:
        return None


def test_a_read_only_groups_endpoint_admits_only_its_groups_networks(world: World) -> None:
    """ModifyDBInstanceSecurityGroups with ReadOnlyGroupId: the group's HAProxy endpoint cuts clients of
    refused addresses before a byte, and shuts a session already open through it from such an address."""
    api = world.api
    group_id = api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": world.master, "Name": "readers"}).ReadOnlyGroupId
    (replica,) = api.send("CreateReadOnlyDBInstance", {
        "MasterDBInstanceId": world.master, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1,
        "Period": 1, "InstanceChargeType": POSTPAID, "ReadOnlyGroupId": group_id}).DBInstanceIdSet
    api.wait_status([replica], "running")
    (group,) = api.send("DescribeReadOnlyGroups", {"Filters": [{"Name": "read-only-group-id", "Values": [group_id]}]
                                                   }).ReadOnlyGroupList
    port = group.DBInstanceNetInfo[0].Port
    wait_for(lambda: startup_answer("127.0.0.1", port, source=OTHER) == "R", APPLIED,
             "the group's endpoint to reach its member")
    with Relay(("127.0.0.1", port), source=OTHER) as relay:
        through = wait_for(lambda: _try(relay.port), APPLIED, f"a session from {OTHER} through the endpoint")
        sg_id = new_group(world, "readers", f"{HERE}/32")
        api.send("ModifyDBInstanceSecurityGroups", {"ReadOnlyGroupId": group_id, "SecurityGroupIdSet": [sg_id]})
        wait_for(lambda: not alive(through), APPLIED, f"the session from {OTHER} through the endpoint to end")
    assert startup_answer("127.0.0.1", port, source=OTHER) == "closed"
    assert startup_answer("127.0.0.1", port, source=HERE) == "R"
    (shown,) = api.send("DescribeDBInstanceSecurityGroups", {"ReadOnlyGroupId": group_id}).SecurityGroupSet
    assert shown.SecurityGroupId == sg_id
    assert api.send("DescribeDBInstanceSecurityGroups", {"DBInstanceId": replica}).SecurityGroupSet == []


def test_bad_input_is_refused_with_the_documented_codes(world: World) -> None:
    api = world.api
    group_id = new_group(world, "bad-input", f"{HERE}/32")
    before = api.call("DescribeDBInstanceSecurityGroups", {"DBInstanceId": world.master})["SecurityGroupSet"]
    for ids in (["sg-nothere1"], [group_id, group_id]):
        expect_error("InvalidParameterValue.InvalidParameterValueError", lambda ids=ids: api.send(
            "ModifyDBInstanceSecurityGroups", {"DBInstanceId": world.master, "SecurityGroupIdSet": ids}),
            "SecurityGroupIdSet")
    expect_error("InvalidParameter", lambda: api.send("ModifyDBInstanceSecurityGroups", {
        "DBInstanceId": world.master, "SecurityGroupIdSet": [group_id] * 11}), "SecurityGroupIdSet")
    # Another tenant's group does not exist for this one.
    world.admin("create-tenant", "neighbour")
    theirs = world.admin("security-group", "create", "neighbour", "theirs").strip().splitlines()[-1]
    expect_error("InvalidParameterValue.InvalidParameterValueError", lambda: api.send(
        "ModifyDBInstanceSecurityGroups", {"DBInstanceId": world.master, "SecurityGroupIdSet": [theirs]}),
        "SecurityGroupIdSet")
    assert api.call("DescribeDBInstanceSecurityGroups", {"DBInstanceId": world.master})["SecurityGroupSet"] == before

    expect_error("MissingParameter", lambda: api.send("DescribeDBInstanceSecurityGroups", {}), "DBInstanceId")
    expect_error("ResourceNotFound.InstanceNotFoundError",
                 lambda: api.send("DescribeDBInstanceSecurityGroups", {"DBInstanceId": "postgres-nothere1"}))
    expect_error("FailedOperation.ROGroupNotFoundError", lambda: api.send(
        "ModifyDBInstanceSecurityGroups", {"ReadOnlyGroupId": "pgrogrp-nothere1", "SecurityGroupIdSet": []}))

    network = {"VpcId": "vpc-8btfafeo", "SubnetId": "subnet-1i9huswn"}
    refused = expect_error("FailedOperation.NetworkNumLimitError", lambda: api.send(
        "CreateDBInstanceNetworkAccess", {"DBInstanceId": world.master, "IsAssignVip": False, **network}))
    assert "listen" in refused.message and str(world.port) in refused.message
    expect_error("FailedOperation.NetworkNumLimitError", lambda: api.send(
        "DeleteDBInstanceNetworkAccess", {"DBInstanceId": world.master, "Vip": "127.0.0.1", **network}))
    expect_error("ResourceNotFound.InstanceNotFoundError", lambda: api.send(
        "CreateDBInstanceNetworkAccess", {"DBInstanceId": "postgres-nothere1", "IsAssignVip": True, **network}))
    for action, extra in (("CreateReadOnlyGroupNetworkAccess", {"IsAssignVip": True}),
                          ("DeleteReadOnlyGroupNetworkAccess", {"Vip": "127.0.0.1"})):
        expect_error("FailedOperation.ROGroupNotFoundError", lambda action=action, extra=extra: api.send(
            action, {"ReadOnlyGroupId": "pgrogrp-nothere1", **network, **extra}))

    # The operator's mistakes: said, and nothing changed.
    assert "CidrIp" in world.admin("security-group", "add-rule", group_id, "10.1.2.3/8", ok=False)
    assert "ACCEPT or DROP" in world.admin("security-group", "add-rule", group_id, "10.0.0.0/8", "--action", "maybe",
                                           ok=False)
    bind(world, group_id)
    assert "bound to" in world.admin("security-group", "delete", group_id, ok=False)
    bind(world)
    world.admin("security-group", "delete", group_id)
    assert group_id not in world.admin("security-group", "list", world.tenant)
