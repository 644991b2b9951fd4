"""Security groups as the control plane sees them, over the fake engine (fast): what a binding or a rule
change hands the engine, for instances, read-only instances and read-only groups, and what is refused
before anything is recorded. The rules themselves (`domain.security_groups`) are checked here too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.api_tencent.sdk import POSTPAID, SPEC, ZONE, Api, expect_error
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import wait_for

from openrds.domain.errors import InvalidInput
from openrds.domain.security_groups import Admission, Protocol, RuleAction, SecurityGroup, admission, parse_rule
from openrds.services.network import NetworkService


@dataclass
class Fake:
    service: InProcessService
    api: Api
    driver: FakeDriver
    network: NetworkService
    tenant_id: str
    master: str
    replica: str
    group_id: str


@pytest.fixture(scope="module")
def fake() -> Iterator[Fake]:
    driver = FakeDriver()
    with in_process_service(driver=driver) as service:
        api = Api(service)
        master = api.create_master(POSTPAID, name="fake-master")
        api.wait_status([master], "running")
        group_id = api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": master, "Name": "g"}).ReadOnlyGroupId
        (replica,) = api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": master, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1,
            "Period": 1, "InstanceChargeType": POSTPAID, "ReadOnlyGroupId": group_id}).DBInstanceIdSet
        api.wait_status([replica], "running")
        tenant_id = service.container.identity.tenants()[0].id
        yield Fake(service, api, driver, service.container.network, tenant_id, master, replica, group_id)


def test_rules_first_match_wins_and_nothing_matched_is_refused() -> None:
    rules = (("10.0.0.5/32", False), ("10.0.0.0/8", True))
    closed = Admission(rules, open=False)
    assert not closed.admits("10.0.0.5") and closed.admits("10.1.2.3") and not closed.admits("192.168.0.1")
    assert closed.admits("::ffff:10.1.2.3"), "an IPv4 client seen through an IPv6 socket"
    assert Admission().admits("192.168.0.1") and Admission(open=False).admits("10.0.0.1") is False
    flat = {str(n) for n in closed.admitted_networks()}
    assert "10.0.0.5/32" not in flat and "10.0.0.4/32" in flat and "10.128.0.0/9" in flat
    assert all(closed.admits(str(n.network_address)) for n in closed.admitted_networks())


def test_only_rules_that_reach_the_port_count() -> None:
    group = SecurityGroup("sg-aaaaaaaa", "t", "g", "", 0, None, (  # type: ignore[arg-type]
        parse_rule("ACCEPT", "10.0.0.0/8", "5432"), parse_rule("ACCEPT", "11.0.0.0/8", "15000-16000"),
        parse_rule("ACCEPT", "12.0.0.0/8", "ALL", "UDP"), parse_rule("drop", "13.0.0.0/8", "22,15432", "all")))
    assert admission([group], 15432, bound=True).rules == (("11.0.0.0/8", True), ("13.0.0.0/8", False))
    assert admission([], 15432, bound=False).open and not admission([], 15432, bound=True).open
    assert parse_rule("accept", "::/0").action is RuleAction.ACCEPT
    assert parse_rule("DROP", "1.2.3.4/32", protocol="tcp").protocol is Protocol.TCP
    for bad in (("ALLOW", "10.0.0.0/8", "ALL"), ("ACCEPT", "10.0.0.1/8", "ALL"), ("ACCEPT", "10.0.0.0/8", "70000"),
                ("ACCEPT", "10.0.0.0/8", "80-"), ("ACCEPT", "nonsense", "ALL")):
        with pytest.raises(InvalidInput):
            parse_rule(*bad)


def test_a_groups_endpoint_and_its_members_get_their_admission(fake: Fake) -> None:
    group = fake.network.create_group(fake.tenant_id, "readers", rules=[parse_rule("ACCEPT", "10.0.0.0/8")])
    fake.driver.open_client_sessions(fake.group_id, "10.1.1.1", "192.168.1.1")
    fake.api.send("ModifyDBInstanceSecurityGroups", {"ReadOnlyGroupId": fake.group_id,
                                                     "SecurityGroupIdSet": [group.id]})
    wait_for(lambda: not fake.driver.admission_of_endpoint(fake.group_id).open, 30,
             "the group's endpoint to get its admission")
    assert fake.driver.admission_of_endpoint(fake.group_id).rules == (("10.0.0.0/8", True),)
    assert fake.driver.client_sessions(fake.group_id) == ["10.1.1.1"], "the refused client's session ended"

    # A read-only instance bound to a group of its own also admits its endpoint's address.
    fake.api.send("ModifyDBInstanceSecurityGroups", {"DBInstanceId": fake.replica, "SecurityGroupIdSet": [group.id]})
    wait_for(lambda: not fake.driver.admission(fake.replica).open, 30, "the replica to get its admission")
    assert fake.driver.via_endpoint(fake.replica)

    # A rule change reaches everything the group is bound to, in one job.
    calls = len(fake.driver.calls)
    fake.network.set_rules(group.id, lambda rules: [*rules, parse_rule("ACCEPT", "192.168.0.0/16")])
    wait_for(lambda: len(fake.driver.admission_of_endpoint(fake.group_id).rules) == 2, 30,
             "the group's endpoint to get the new rule")
    wait_for(lambda: len(fake.driver.admission(fake.replica).rules) == 2, 30, "the replica to get the new rule")
    applied = {c for c in fake.driver.calls[calls:] if c[0] in ("apply_admission", "apply_endpoint_admission")}
    assert applied == {("apply_endpoint_admission", fake.group_id), ("apply_admission", fake.replica)}


def test_refused_before_anything_is_recorded(fake: Fake) -> None:
    group = fake.network.create_group(fake.tenant_id, "refused", rules=[parse_rule("ACCEPT", "10.0.0.0/8")])
    before = fake.api.call("DescribeDBInstanceSecurityGroups", {"DBInstanceId": fake.master})
    fake.driver.access_refusal = "this driver cannot enforce admission rules"
    try:
        error = expect_error("ResourceInsufficient.ResourceNotEnough", lambda: fake.api.send(
            "ModifyDBInstanceSecurityGroups", {"DBInstanceId": fake.master, "SecurityGroupIdSet": [group.id]}))
        assert "cannot enforce" in error.message
    finally:
        fake.driver.access_refusal = ""
    fake.api.send("IsolateDBInstances", {"DBInstanceIdSet": [fake.master]})
    fake.api.wait_status([fake.master], "isolated")
    expect_error("OperationDenied.InstanceStatusLimitError", lambda: fake.api.send(
        "ModifyDBInstanceSecurityGroups", {"DBInstanceId": fake.master, "SecurityGroupIdSet": [group.id]}))
    after = fake.api.call("DescribeDBInstanceSecurityGroups", {"DBInstanceId": fake.master})
    assert after["SecurityGroupSet"] == before["SecurityGroupSet"] == []
