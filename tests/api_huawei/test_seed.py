"""The seed's call sequence (Huawei RDS v1, "调用样例") against a real `openrds serve`, with plain httpx
calls carrying exactly the seed's headers, ending in a real read replica that streams the master's
data; then restart and delete, and an instance created through the Tencent face seen here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.postgres.v20170312 import models, postgres_client
from tests.support.service import (
    IAM_PASSWORD,
    IAM_USER,
    SECRET_ID,
    SECRET_KEY,
    RunningService,
    running_service,
    wait_for,
)

from .support import (
    CREATE_TIMEOUT,
    REGION,
    ROOT_PASSWORD,
    SECURITY_GROUP,
    SUBNET,
    VPC,
    ZONE,
    Rds,
    connect,
)

pytestmark = pytest.mark.slow

HEX32 = re.compile(r"^[0-9a-f]{32}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$")


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service() as running:
        yield running


@pytest.fixture(scope="module")
def seed(service: RunningService) -> dict[str, Any]:
    """The seed's sequence, step by step; what later tests need is returned."""
    server_url = service.url

    # Token (IAM, Keystone v3): the seed's $X-Subject-Token.
    reply = httpx.post(f"{server_url}/v3/auth/tokens", headers={"Content-Type": "application/json"}, json={
        "auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": IAM_USER, "password": IAM_PASSWORD, "domain": {"name": IAM_USER}}}},
            "scope": {"project": {"name": REGION}}}})
    assert reply.status_code == 201, reply.text
    token = reply.headers["X-Subject-Token"]
    project_id = reply.json()["token"]["project"]["id"]
    assert HEX32.match(project_id)
    endpoint = reply.json()["token"]["catalog"][0]["endpoints"][0]
    assert endpoint["url"] == f"{server_url}/v1/{project_id}" and endpoint["region"] == REGION
    headers = {"Content-Type": "application/json", "X-Auth-Token": token, "X-Language": "en-us"}

    # 1. List Datastore Version.
    reply = httpx.get(f"{server_url}/v1/{project_id}/datastores/PostgreSQL/versions", headers=headers)
    assert reply.status_code == 200, reply.text
    version = reply.json()["dataStores"][0]
    assert version["active"] == 1 and version["name"][0].isdigit()

    # 2. The region.
    reply = httpx.get(f"{server_url}/v3/regions", headers=headers)
    assert reply.status_code == 200, reply.text
    assert REGION in [r["id"] for r in reply.json()["regions"]]

    # 3. List Flavor.
    reply = httpx.get(f"{server_url}/v1/{project_id}/flavors?dbId={version['id']}&region={REGION}", headers=headers)
    assert reply.status_code == 200, reply.text
    flavors = {f["specCode"]: f for f in reply.json()["flavors"]}
    assert all(code.startswith("rds.") for code in flavors), f"only Huawei's flavors are listed: {sorted(flavors)}"
    master_flavor, replica_flavor = flavors["rds.pg.s1.large"], flavors["rds.pg.s1.large.rr"]
    assert master_flavor["ram"] == 4 and UUID.match(master_flavor["id"])

    # (The single-instance sample the seed refers to: a master to replicate.)
    reply = httpx.post(f"{server_url}/v1/{project_id}/instances", headers=headers, json={"instance": {
        "name": "tenant-instance-123", "datastore": {"type": "PostgreSQL", "version": version["name"]},
        "flavorRef": master_flavor["id"], "volume": {"type": "COMMON", "size": 100}, "region": REGION,
        "availabilityZone": ZONE, "vpc": VPC, "nics": {"subnetId": SUBNET}, "securityGroup": {"id": SECURITY_GROUP},
        "backupStrategy": {"startTime": "01:00:00", "keepDays": 3}, "dbRtPd": ROOT_PASSWORD}})
    assert reply.status_code == 202, reply.text
    created = reply.json()["instance"]
    assert created["status"] == "BUILD" and created["type"] == "master"
    assert HEX32.match(created["extendparam"]["jobs"][0]["id"])
    rds = Rds(server_url, token, project_id)
    master = rds.wait_status(created["id"], "ACTIVE")
    with connect(master) as conn:  # root is no superuser: it creates and owns its databases
        conn.execute("CREATE DATABASE app")
    with connect(master, "app") as conn:
        conn.execute("CREATE TABLE seed (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO seed VALUES (1, 'written on the master before the replica')")

    # 4. List instances; the master's id is $instanceId.
    reply = httpx.get(f"{server_url}/v1/{project_id}/instances", headers=headers)
    assert reply.status_code == 200, reply.text
    listed = reply.json()["instances"]
    assert isinstance(listed, list)
    instance_id = next(i["id"] for i in listed if i["type"] == "master" and i["name"] == "tenant-instance-123")

    # 5. Create the read replica: name, flavorRef, replicaOf.
    reply = httpx.post(f"{server_url}/v1/{project_id}/instances", headers=headers, json={"instance": {
        "name": "tenant-instance-123-rep", "flavorRef": replica_flavor["id"], "replicaOf": instance_id}})
    assert reply.status_code == 202, reply.text
    return {"rds": rds, "version": version, "flavors": flavors, "master": master, "listed": listed,
            "replica_reply": reply.json()["instance"]}


def test_list_answers_the_seed_fields(seed: dict[str, Any]) -> None:
    master = next(i for i in seed["listed"] if i["id"] == seed["master"]["id"])
    assert master["status"] == "ACTIVE" and master["name"] == "tenant-instance-123" and master["type"] == "master"
    assert UUID.match(master["id"]) and TIME.match(master["created"]) and TIME.match(master["updated"])
    assert master["hostname"] and master["dbPort"] > 0
    assert (master["region"], master["availabilityZone"], master["vpc"]) == (REGION, ZONE, VPC)
    assert master["nics"] == {"subnetId": SUBNET} and master["securityGroup"] == {"id": SECURITY_GROUP}
    assert master["flavor"] == {"id": seed["flavors"]["rds.pg.s1.large"]["id"]}
    assert master["volume"] == {"type": "COMMON", "size": 100}
    assert master["backupStrategy"] == {"startTime": "01:00:00", "keepDays": 3}
    assert master["dataStoreInfo"] == {"type": "PostgreSQL", "version": seed["version"]["name"]}


def test_replica_answer_is_the_seeds(seed: dict[str, Any]) -> None:
    replica, master = seed["replica_reply"], seed["master"]
    assert replica["status"] == "BUILD" and replica["type"] == "readreplica"
    assert replica["name"] == "tenant-instance-123-rep" and UUID.match(replica["id"])
    assert replica["replica_of"] == master["id"]
    assert HEX32.match(replica["extendparam"]["jobs"][0]["id"])
    assert replica["flavor"] == {"id": seed["flavors"]["rds.pg.s1.large.rr"]["id"]}
    for inherited in ("region", "availabilityZone", "vpc", "nics", "securityGroup", "volume", "backupStrategy",
                      "dataStoreInfo"):
        assert replica[inherited] == master[inherited], inherited


@pytest.fixture(scope="module")
def active_replica(seed: dict[str, Any]) -> dict[str, Any]:
    rds: Rds = seed["rds"]
    job_id = seed["replica_reply"]["extendparam"]["jobs"][0]["id"]
    job = rds.wait_job(job_id)
    assert job["name"] == "CreateReadReplica" and job["process"] == "100%" and TIME.match(job["ended"])
    assert job["instance"] == {"id": seed["replica_reply"]["id"], "name": "tenant-instance-123-rep"}
    return rds.wait_status(seed["replica_reply"]["id"], "ACTIVE")


def test_replica_streams_the_masters_data(seed: dict[str, Any], active_replica: dict[str, Any]) -> None:
    assert (active_replica["hostname"], active_replica["dbPort"]) != (seed["master"]["hostname"],
                                                                      seed["master"]["dbPort"])
    with connect(active_replica, "app") as conn:
        rows = conn.execute("SELECT note FROM seed WHERE id = 1").fetchall()
        assert rows == [("written on the master before the replica",)]
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    with connect(seed["master"], "app") as conn:
        conn.execute("INSERT INTO seed VALUES (2, 'written while the replica streams')")

    def streamed() -> bool:
        with connect(active_replica, "app") as conn:
            return conn.execute("SELECT count(*) FROM seed WHERE id = 2").fetchone() == (1,)

    wait_for(streamed, 30, "row 2 to reach the replica")


def test_master_names_its_replicas_both_prefixes_and_id_forms(seed: dict[str, Any],
                                                              active_replica: dict[str, Any]) -> None:
    rds: Rds = seed["rds"]
    assert rds.instance(seed["master"]["id"])["replicas"] == [active_replica["id"]]
    other = Rds(rds.url, rds.token, rds.project_id, prefix="/rds/v1")
    assert other.instance(active_replica["id"])["replica_of"] == seed["master"]["id"]
    job = other.get("jobs", id=seed["replica_reply"]["extendparam"]["jobs"][0]["id"]).json()["job"]
    v3 = httpx.get(f"{rds.url}/v3/{rds.project_id}/jobs", params={"id": job["id"]}, headers=rds.headers())
    assert v3.status_code == 200 and v3.json()["job"] == job


def test_restart_replica(seed: dict[str, Any], active_replica: dict[str, Any]) -> None:
    rds: Rds = seed["rds"]
    reply = rds.post(f"instances/{active_replica['id']}/action", {"restart": {}})
    assert reply.status_code == 202, reply.text
    assert reply.json()["instance"]["status"] == "REBOOTING"
    job = rds.wait_job(reply.json()["instance"]["extendparam"]["jobs"][0]["id"])
    assert job["name"] == "RestartInstance"
    restarted = rds.wait_status(active_replica["id"], "ACTIVE")
    with connect(restarted, "app") as conn:
        assert conn.execute("SELECT count(*) FROM seed").fetchone() == (2,)


def test_tencent_instance_is_seen_here(service: RunningService) -> None:
    """An instance bought through the Tencent face is in the Huawei list of the same region's project."""
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=service.endpoint, protocol="http"))
    client = postgres_client.PostgresClient(credential.Credential(SECRET_ID, SECRET_KEY), "ap-beijing", profile)
    request = models.CreateInstancesRequest()
    request.from_json_string(
        '{"SpecCode": "pg.it.small2", "Storage": 100, "InstanceCount": 1, "Period": 1, "Zone": "ap-beijing-4",'
        ' "Charset": "UTF8", "AdminName": "dbadmin", "AdminPassword": "Secret-Passw0rd",'
        ' "InstanceChargeType": "POSTPAID_BY_HOUR", "Name": "from-tencent"}')
    code = client.CreateInstances(request).DBInstanceIdSet[0]
    beijing = Rds.login(service.url, "ap-beijing")
    listed = beijing.get("instances").json()["instances"]
    seen = next(i for i in listed if i["name"] == "from-tencent")
    assert seen["type"] == "master" and seen["status"] in ("BUILD", "ACTIVE")
    assert (seen["region"], seen["availabilityZone"]) == ("ap-beijing", "ap-beijing-4")
    assert beijing.instance(code)["id"] == seen["id"]  # the Tencent code is accepted as well
    cn_north = Rds.login(service.url, REGION)
    assert cn_north.get(f"instances/{seen['id']}").status_code == 404  # another project's (region's)
    beijing.wait_status(seen["id"], "ACTIVE", CREATE_TIMEOUT)


def test_delete_master_takes_its_replica(seed: dict[str, Any], active_replica: dict[str, Any]) -> None:
    rds: Rds = seed["rds"]
    master_id = seed["master"]["id"]
    reply = rds.delete(f"instances/{master_id}")
    assert reply.status_code == 202, reply.text
    answer = reply.json()["instance"]
    assert answer["status"] == "DELETING" and len(answer["extendparam"]["jobs"]) == 2
    assert rds.instance(active_replica["id"])["status"] == "DELETING"
    for job in answer["extendparam"]["jobs"]:
        assert rds.wait_job(job["id"])["name"] == "DeleteInstance"

    def gone() -> bool:
        ids = {i["id"] for i in rds.get("instances").json()["instances"]}
        return not ids & {master_id, active_replica["id"]}

    wait_for(gone, CREATE_TIMEOUT, "the master and its replica to leave the list")
    assert rds.get(f"instances/{master_id}").status_code == 404
