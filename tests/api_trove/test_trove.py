"""The Trove face through the real clients: python-troveclient over a keystoneauth1 session (Keystone v3
password auth against this service), on the fake engine; the same instances through the Tencent SDK.

One in-process service for the module; every test makes its own instances.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from tests.api_tencent.sdk import Api
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import IAM_PASSWORD, IAM_USER, wait_for
from troveclient import exceptions
from troveclient.v1 import client as trove_client

REGION = "ap-beijing"  # the Tencent SDK helpers' region: one project, the same instances
FLAVOR = "pg.it.small2"
ADMIN = {"name": "dbadmin", "password": "Openrds-Test1"}
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service(driver=FakeDriver()) as running:
        yield running


def trove_for(service: InProcessService, user: str = IAM_USER, password: str = IAM_PASSWORD) -> Any:
    """troveclient as its users build it: a keystoneauth1 v3 password session, the catalogue's endpoint."""
    auth = v3.Password(auth_url=f"{service.url}/v3", username=user, password=password, project_name=REGION,
                       user_domain_name=user, project_domain_name=user)
    return trove_client.Client(session=ks_session.Session(auth=auth))


@pytest.fixture(scope="module")
def trove(service: InProcessService) -> Any:
    return trove_for(service)


@pytest.fixture(scope="module")
def tencent(service: InProcessService) -> Api:
    return Api(service)  # type: ignore[arg-type]  # duck-types RunningService


@pytest.fixture(scope="module")
def primary(trove: Any) -> Any:
    created = trove.instances.create("trove-primary", flavor_id=FLAVOR, volume={"size": 20}, users=[ADMIN])
    return wait_active(trove, created.id)


def wait_active(trove: Any, instance_id: str) -> Any:
    def active() -> Any:
        found = trove.instances.get(instance_id)
        assert found.status != "ERROR", found._info
        return found if found.status == "ACTIVE" else None

    return wait_for(active, TIMEOUT, f"instance {instance_id} to be ACTIVE")


def counts(trove: Any) -> int:
    return len(trove.instances.list())


# --- Keystone ------------------------------------------------------------------------------------
def test_keystone_version_document_and_database_catalogue(service: InProcessService, trove: Any) -> None:
    version = httpx.get(f"{service.url}/v3", timeout=10).json()["version"]
    assert version["id"].startswith("v3") and version["links"][0]["href"] == f"{service.url}/v3/"
    endpoint = trove.client.session.get_endpoint(service_type="database", interface="public")
    project_id = trove.client.session.get_project_id()
    assert endpoint == f"{service.url}/v1.0/{project_id}"


def test_catalogue_calls(trove: Any) -> None:
    [store] = trove.datastores.list()
    assert store.name == "postgresql" and store.versions
    versions = trove.datastore_versions.list("postgresql")
    assert [v.name for v in versions] == [v["name"] for v in store.versions]
    flavors = {f.name: f for f in trove.flavors.list()}
    assert flavors[FLAVOR].ram == 2048 and flavors[FLAVOR].vcpus == 1
    assert trove.flavors.get(flavors[FLAVOR].id).name == FLAVOR


# --- the replica flow ----------------------------------------------------------------------------
def test_replica_created_listed_detached_is_a_primary_everywhere(
        service: InProcessService, trove: Any, tencent: Api, primary: Any) -> None:
    replica = trove.instances.create("trove-replica", replica_of=primary.id, replica_count=1)
    replica = wait_active(trove, replica.id)
    assert replica.replica_of["id"] == primary.id
    listed = {i.id: i for i in trove.instances.list()}
    assert replica.id in {r["id"] for r in listed[primary.id].replicas}
    assert listed[replica.id].replica_of["id"] == primary.id
    # The Tencent face sees the same two, by their codes.
    codes = service.container.instances
    tenant = service.container.identity.tenants()[0].id
    master_code, replica_code = codes.code_of(tenant, primary.id), codes.code_of(tenant, replica.id)
    seen = tencent.instances()
    assert seen[replica_code].MasterDBInstanceId == master_code
    assert seen[replica_code].DBInstanceType == "readonly"
    driver: Any = service.container.driver
    assert replica_code in {link.replica_id for link in driver.replication(master_code).replicas}

    trove.instances.update(replica.id, detach_replica_source=True)

    def detached() -> Any:
        found = trove.instances.get(replica.id)
        return found if found.status == "ACTIVE" and not hasattr(found, "replica_of") else None

    promoted = wait_for(detached, TIMEOUT, f"{replica.id} to be detached")
    assert promoted.status == "ACTIVE"
    assert not getattr(trove.instances.get(primary.id), "replicas", [])
    # Tencent: a primary with no master; its promote task listed.
    now = tencent.instance(replica_code)
    assert now.DBInstanceType == "primary" and not now.MasterDBInstanceId
    tasks = tencent.call("DescribeTasks", {"Limit": 100})["TaskSet"]
    assert any(t["TaskType"] == "PromoteReadOnlyInstance" and t["DBInstanceId"] == replica_code for t in tasks), tasks
    # The engine: a writable primary, its slot on the old master gone, the old master still running.
    assert driver.status(replica_code).role == "primary"
    assert replica_code not in {link.replica_id for link in driver.replication(master_code).replicas}
    assert driver.status(master_code).state == "running"
    # Detaching it again is refused in Trove's shape: it is a primary now.
    with pytest.raises(exceptions.UnprocessableEntity) as refused:
        trove.instances.update(replica.id, detach_replica_source=True)
    assert "primary" in str(refused.value)


@pytest.mark.parametrize("action", ["promote_to_replica_source", "eject_replica_source"])
def test_switchover_actions_are_refused_with_the_reason(trove: Any, primary: Any, action: str) -> None:
    with pytest.raises(exceptions.BadRequest) as refused:
        getattr(trove.instances, action)(primary.id)
    assert action in str(refused.value) and "detach" in str(refused.value)
    assert trove.instances.get(primary.id).status == "ACTIVE"


def test_restart_through_the_action(trove: Any, primary: Any, service: InProcessService) -> None:
    driver: Any = service.container.driver
    code = service.container.instances.code_of(service.container.identity.tenants()[0].id, primary.id)
    restarts_before = driver.calls.count(("restart", code))
    trove.instances.restart(primary.id)
    wait_for(lambda: driver.calls.count(("restart", code)) > restarts_before, TIMEOUT,
             f"the engine to restart {code}")
    wait_active(trove, primary.id)


# --- bad input -----------------------------------------------------------------------------------
def test_unknown_flavor_is_bad_request_and_creates_nothing(trove: Any) -> None:
    before = counts(trove)
    with pytest.raises(exceptions.BadRequest) as refused:
        trove.instances.create("no-such-flavor", flavor_id="pg.no.such", volume={"size": 20}, users=[ADMIN])
    assert "flavorRef" in str(refused.value)
    assert counts(trove) == before


def test_malformed_bodies_answer_trove_shape(trove: Any, primary: Any) -> None:
    before = counts(trove)
    adapter = trove.client
    base = adapter.get_endpoint()
    headers = {"X-Auth-Token": adapter.session.get_token(), "Content-Type": "application/json"}
    for raw in (b"{not json", b"[]", json.dumps({"instance": {"name": "x", "replica_count": "two"}}).encode()):
        reply = httpx.post(f"{base}/instances", content=raw, headers=headers, timeout=10)
        assert reply.status_code == 400, reply.text
        assert set(reply.json()) == {"badRequest"} and reply.json()["badRequest"]["code"] == 400
    missing = httpx.post(f"{base}/instances", json={"instance": {"name": "x", "volume": {"size": 20}}},
                         headers=headers, timeout=10)
    assert missing.status_code == 400 and "flavorRef" in missing.json()["badRequest"]["message"]
    action = httpx.post(f"{base}/instances/{primary.id}/action", json={"reboot_everything": {}}, headers=headers,
                        timeout=10)
    assert action.status_code == 400 and "restart" in action.json()["badRequest"]["message"]
    assert counts(trove) == before


def test_another_tenants_instance_does_not_exist(service: InProcessService, primary: Any) -> None:
    identity = service.container.identity
    other = identity.create_tenant("trove-other")
    identity.create_iam_user(other.id, "otherdomain", "otheruser", "Other-Passw0rd!")
    auth = v3.Password(auth_url=f"{service.url}/v3", username="otheruser", password="Other-Passw0rd!",
                       project_name=REGION, user_domain_name="otherdomain", project_domain_name="otherdomain")
    stranger = trove_client.Client(session=ks_session.Session(auth=auth))
    for call in (lambda: stranger.instances.get(primary.id), lambda: stranger.instances.delete(primary.id),
                 lambda: stranger.instances.create("steal", replica_of=primary.id)):
        with pytest.raises(exceptions.NotFound):
            call()
    assert stranger.instances.list() == []
    assert primary.id not in {i.id for i in stranger.instances.list()}
