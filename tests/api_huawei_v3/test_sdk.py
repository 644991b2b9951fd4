"""``huaweicloudsdkrds`` (RDS API v3) unchanged against OpenRDS, on the in-process service with the fake
engine: a primary and a read replica of it, listed with ``type=Replica`` and their topology, the job
polled, a restart and a delete; the catalogue calls; and bad input through the SDK, each answered in
v3's error shape with Huawei's code and creating nothing. (That the replica really streams is
``test_streams.py``'s, on real PostgreSQL.)"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from huaweicloudsdkrds.v3 import (
    DeleteInstanceRequest,
    InstanceRestartRequsetBody,
    ListDatastoresRequest,
    ListFlavorsRequest,
    ListInstancesRequest,
    RdsClient,
    RestartConfiguration,
    ShowReplicationStatusRequest,
    StartInstanceRestartActionRequest,
)
from tests.api_huawei.support import issue_token
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import SECRET_ID, SECRET_KEY

from .support import (
    REGION,
    client,
    instance,
    primary_request,
    project_id,
    refused,
    replica_request,
    signed,
    wait_job,
)


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service(driver=FakeDriver()) as running:
        yield running


@pytest.fixture(scope="module")
def rds(service: InProcessService) -> RdsClient:
    return client(service.url, project_id(service.container))


@pytest.fixture(scope="module")
def pair(rds: RdsClient) -> dict[str, Any]:
    """A primary and a read replica of it, both made through the SDK and running."""
    made = rds.create_instance(primary_request("sdk-primary"))
    assert made.status_code == 202 and made.instance.status == "BUILD" and made.job_id
    wait_job(rds, made.job_id)
    replica = rds.create_instance(replica_request("sdk-replica", made.instance.id))
    assert replica.status_code == 202 and replica.instance.status == "BUILD"
    job = wait_job(rds, replica.job_id)
    assert job.name == "CreateReadReplica" and job.instance.id == replica.instance.id and job.process == "100%"
    return {"primary": made.instance.id, "replica": replica.instance.id}


def test_catalogue(rds: RdsClient) -> None:
    stores = rds.list_datastores(ListDatastoresRequest(database_name="PostgreSQL")).data_stores
    assert [d.name for d in stores] == ["16", "15"]  # the fake engine's versions, newest first
    flavors = rds.list_flavors(ListFlavorsRequest(database_name="PostgreSQL", version_name="16")).flavors
    modes = {f.spec_code: f.instance_mode for f in flavors}
    assert modes["rds.pg.s1.large"] == "single" and modes["rds.pg.s1.large.rr"] == "replica"
    assert all(f.version_name == ["16"] and f.az_status[f"{REGION}a"] == "normal" for f in flavors)


def test_replica_listed_with_its_topology(rds: RdsClient, pair: dict[str, Any]) -> None:
    listed = rds.list_instances(ListInstancesRequest(type="Replica", datastore_type="PostgreSQL", limit=10))
    assert listed.total_count == 1 and [i.id for i in listed.instances] == [pair["replica"]]
    replica = listed.instances[0]
    assert (replica.type, replica.status, replica.flavor_ref) == ("Replica", "ACTIVE", "rds.pg.s1.large.rr")
    assert [(r.id, r.type) for r in replica.related_instance] == [(pair["primary"], "replica_of")]
    assert replica.nodes[0].role == "readreplica" and replica.port > 0 and replica.private_ips
    primary = instance(rds, pair["primary"])
    assert primary.type == "Single" and primary.datastore.type == "PostgreSQL" and primary.volume.size == 40
    assert [(r.id, r.type) for r in primary.related_instance] == [(pair["replica"], "replica")]
    singles = rds.list_instances(ListInstancesRequest(type="Single")).instances
    assert pair["primary"] in [i.id for i in singles] and pair["replica"] not in [i.id for i in singles]
    assert rds.list_instances(ListInstancesRequest(type="Ha")).total_count == 0


def test_replication_status(rds: RdsClient, pair: dict[str, Any]) -> None:
    status = rds.show_replication_status(ShowReplicationStatusRequest(instance_id=pair["replica"]))
    assert status.replication_status in ("normal", "abnormal")  # the fake monitor may not have seen it yet
    assert (status.replication_status == "normal") == (status.abnormal_reason == "")


def test_the_same_instances_through_an_iam_token(service: InProcessService, pair: dict[str, Any]) -> None:
    token, body = issue_token(service.url, REGION)
    reply = httpx.get(f"{service.url}/v3/{body['project']['id']}/instances", params={"type": "Replica"},
                      headers={"X-Auth-Token": token}, timeout=30)
    assert reply.status_code == 200 and reply.headers["X-Request-Id"], reply.text
    assert [i["id"] for i in reply.json()["instances"]] == [pair["replica"]]


def test_restart_then_delete(rds: RdsClient, pair: dict[str, Any]) -> None:
    restart = rds.start_instance_restart_action(StartInstanceRestartActionRequest(
        instance_id=pair["replica"], body=InstanceRestartRequsetBody(restart=RestartConfiguration())))
    assert restart.status_code == 202
    assert wait_job(rds, restart.job_id).name == "RestartInstance"
    gone = rds.delete_instance(DeleteInstanceRequest(instance_id=pair["primary"]))  # takes its replica along
    assert gone.status_code == 202
    wait_job(rds, gone.job_id)
    remaining = {i.id for i in rds.list_instances(ListInstancesRequest()).instances}
    assert not remaining & {pair["primary"], pair["replica"]}


# --- bad input through the SDK: the documented shape and code, nothing created ---------------------
def instance_ids(rds: RdsClient) -> set[str]:
    return {i.id for i in rds.list_instances(ListInstancesRequest()).instances}


def test_wrong_secret_key(service: InProcessService, rds: RdsClient) -> None:
    before = instance_ids(rds)
    forged = client(service.url, project_id(service.container), sk="not-the-secret-key-000000")
    error = refused(lambda: forged.create_instance(primary_request("forged")), 401, "APIGW.0301")
    assert "signature" in error.error_msg
    refused(lambda: client(service.url, project_id(service.container), ak="AKIDunknown000000000").list_instances(
        ListInstancesRequest()), 401, "APIGW.0301")
    assert instance_ids(rds) == before


def test_expired_sdk_date(service: InProcessService, rds: RdsClient) -> None:
    before = instance_ids(rds)
    stale = client(service.url, project_id(service.container), headers={"X-Sdk-Date": "20200101T000000Z"})
    error = refused(lambda: stale.create_instance(primary_request("stale")), 401, "APIGW.0301")
    assert "X-Sdk-Date" in error.error_msg
    assert instance_ids(rds) == before


def test_project_mismatch(service: InProcessService, rds: RdsClient) -> None:
    before = instance_ids(rds)
    mine, other = project_id(service.container), project_id(service.container, "cn-north-4")
    body = json.dumps({"name": "crossed", "flavor_ref": "rds.pg.s1.large"}).encode()
    reply = signed(service.url, "POST", f"/v3/{mine}/instances", body, {"x-project-id": other})
    assert reply.status_code == 403 and reply.json()["error_code"] == "DBS.200044", reply.text
    stranger = "0123456789abcdef0123456789abcdef"  # a project of no tenant's
    refused(lambda: client(service.url, stranger).list_instances(ListInstancesRequest()), 403, "DBS.200044")
    # Without a project id the SDK sends the path's "{project_id}" as is: told what to pass.
    error = refused(lambda: client(service.url, "").list_instances(ListInstancesRequest()), 403, "DBS.200044")
    assert "BasicCredentials" in error.error_msg
    assert instance_ids(rds) == before


def test_unknown_flavor_and_malformed_bodies(service: InProcessService, rds: RdsClient) -> None:
    before = instance_ids(rds)
    error = refused(lambda: rds.create_instance(primary_request("noflavor", flavor_ref="rds.pg.nope")),
                    400, "DBS.200053")
    assert "flavor_ref" in error.error_msg
    refused(lambda: rds.create_instance(primary_request("nopass", password=None)), 400, "DBS.200001")
    refused(lambda: rds.create_instance(primary_request("1bad name")), 400, "DBS.200021")
    refused(lambda: rds.create_instance(replica_request("orphan", "no-such-primary")), 404, "DBS.200002")
    for body in (b"{not json", b"[]", b'{"name": 5}'):  # bodies the SDK cannot send, signed as it signs
        reply = signed(service.url, "POST", f"/v3/{project_id(service.container)}/instances", body)
        assert reply.status_code == 400 and reply.json()["error_code"] == "DBS.200001", reply.text
        assert reply.headers["X-Request-Id"]
    assert instance_ids(rds) == before


def test_language(service: InProcessService) -> None:
    rds = client(service.url, project_id(service.container), headers={"X-Language": "zh-cn"})
    error = refused(lambda: rds.create_instance(primary_request("noflavor", flavor_ref="rds.pg.nope")),
                    400, "DBS.200053")
    assert "规格" in error.error_msg


def test_admin_prints_a_working_snippet_without_the_secret(service: InProcessService) -> None:
    tenant = sorted(service.container.identity.tenants(), key=lambda t: t.created_at)[0]
    shown = subprocess.run([sys.executable, "-m", "openrds", "admin", "huawei-sdk-snippet", tenant.name,
                            "--region", REGION], env={**service.env, "OPENRDS_LISTEN": service.endpoint},
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert f'AK = "{SECRET_ID}"' in shown.stdout and SECRET_KEY not in shown.stdout
    assert f'PROJECT_ID = "{project_id(service.container)}"' in shown.stdout
    # The snippet runs as printed once the SK is filled in (the endpoint is the settings' listen address).
    program = shown.stdout.replace('SK = "..."', f'SK = "{SECRET_KEY}"')
    ran = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and "total_count" in ran.stdout, ran.stderr
