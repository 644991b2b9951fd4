"""The whole service (a real ``openrds serve`` with ``OPENRDS_DRIVER=kubernetes``) on the fake Kubernetes API
server (`tests.fakes.kube_server`), through the official clients. The Tencent SDK: a master and two read-only
instances made in one call reach ``running`` exactly when the fake operator marks their Clusters ready;
a read-only group is refused (this driver runs no endpoint); isolate and destroy remove the Clusters and
the Secrets the driver made; a clone that CNPG reports failed fails the instance with CNPG's reason. The
Huawei seed sequence runs unchanged. troveclient's detach promotes a replica Cluster. Every Cluster and
Secret the service wrote (as created, and each Cluster after every patch) validates strictly against the
CNPG 1.30.0 CRD and Kubernetes' schemas (`tests.k8s_schema.validate`).

What this proves: the driver's requests and waits work over the real ``kubernetes`` client and HTTP, and
the layers above are unchanged. What it does NOT prove: anything CNPG or PostgreSQL does (no pod runs
here; the ``-rw`` Services resolve nowhere, so replication lag is unknown, which must not fail anything)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from tests.api_huawei.support import MASTER_FLAVOR, REPLICA_FLAVOR, Rds, primary_body
from tests.api_huawei.support import REGION as HUAWEI_REGION
from tests.api_tencent.sdk import OPERATION_TIMEOUT, POSTPAID, SPEC, ZONE, Api, expect_error
from tests.fakes.kube_server import CLUSTERS, SECRETS, KubeServer, kube_server
from tests.k8s_schema.validate import require_reference, validate_manifest
from tests.support.service import IAM_PASSWORD, IAM_USER, RunningService, running_service, wait_for
from troveclient.v1 import client as trove_client

NS = "openrds"


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeServer]:
    directory = Path(tempfile.mkdtemp(prefix="kube-svc-"))
    try:
        with kube_server(directory, namespace=NS, ready_after=0.3) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def service(kube: KubeServer) -> Iterator[RunningService]:
    env = {"OPENRDS_DRIVER": "kubernetes", "OPENRDS_K8S_NAMESPACE": NS, "OPENRDS_K8S_KUBECONFIG": str(kube.kubeconfig),
           "OPENRDS_MAX_READONLY_PER_MASTER": "3"}
    with running_service(extra_env=env) as running:
        yield running


@pytest.fixture(scope="module")
def api(service: RunningService) -> Api:
    return Api(service)


def secrets_of(kube: KubeServer, instance_id: str) -> set[str]:
    """Names of the Secrets in the namespace that belong to ``instance_id`` (the driver's and CNPG's)."""
    items, _ = kube.store.list(SECRETS, NS)
    return {s["metadata"]["name"] for s in items if s["metadata"]["name"].startswith(f"{instance_id}-")}


def spec_of(kube: KubeServer, instance_id: str) -> dict[str, Any]:
    found = kube.store.find(CLUSTERS, NS, instance_id)
    assert found is not None, f"no Cluster {instance_id}"
    spec: dict[str, Any] = found["spec"]
    return spec


def test_tencent_sdk_master_two_readonly_in_one_call_isolate_destroy(api: Api, kube: KubeServer,
                                                                     service: RunningService) -> None:
    # --- the master: a Cluster with a hot standby, running once CNPG says Ready ----------------------------
    master_id = api.create_master(POSTPAID, name="on-kubernetes")
    master = api.wait_status([master_id], "running")[master_id]
    cluster = kube.clusters()[master_id]
    assert cluster["metadata"]["labels"]["openrds.io/role"] == "primary"
    assert cluster["spec"]["instances"] == 2, "a primary is two pods by default: CNPG's hot standby"
    assert json.loads(cluster["metadata"]["annotations"]["openrds.io/spec"])["storage_gb"] == 20
    assert master.DBInstanceNetInfo[0].Address.startswith(f"{master_id}-rw."), master.DBInstanceNetInfo
    assert {f"{master_id}-admin", f"{master_id}-superuser"} <= secrets_of(kube, master_id)
    admin = kube.store.get(SECRETS, NS, f"{master_id}-admin")
    assert admin["type"] == "kubernetes.io/basic-auth" and "password" in admin["data"]
    assert "Openrds-Test1" not in service.log(), "the admin password is never logged"

    # --- two read-only instances in one call: "initing" while the operator has not made them ready -------
    kube.operator.pause()
    try:
        created = api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": master_id, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 2,
            "Period": 1, "InstanceChargeType": POSTPAID})
        replica_ids = list(created.DBInstanceIdSet)
        assert len(replica_ids) == 2
        kube.wait(lambda: set(replica_ids) <= set(kube.clusters()), 30, "both replica Clusters to be created")
        statuses = {i.DBInstanceStatus for i in api.instances(("db-instance-id", replica_ids)).values()}
        assert statuses == {"initing"}, "not running before CNPG reports the Clusters ready"
    finally:
        kube.operator.resume()
    replicas = api.wait_status(replica_ids, "running")
    for rid in replica_ids:
        spec = spec_of(kube, rid)
        labels = kube.clusters()[rid]["metadata"]["labels"]
        assert (labels["openrds.io/role"], labels["openrds.io/source"]) == ("readonly", master_id)
        assert spec["instances"] == 1 and spec["replica"] == {"enabled": True, "source": spec["externalClusters"][0]
                                                              ["name"]}
        connection = spec["externalClusters"][0]["connectionParameters"]
        assert connection["host"].startswith(f"{master_id}-rw.") and connection["application_name"] == rid
        assert "pg_basebackup" in spec["bootstrap"]
        assert replicas[rid].MasterDBInstanceId == master_id and replicas[rid].DBInstanceType == "readonly"
    parameters = spec_of(kube, master_id)["postgresql"]["parameters"]
    assert parameters.get("wal_keep_size", "").endswith("MB"), "a source of read-only instances keeps more WAL"

    # A read-only group needs an endpoint this driver does not run: refused, saying so; nothing recorded.
    error = expect_error("ResourceInsufficient.ResourceNotEnough", lambda: api.call("CreateReadOnlyGroup", {
        "MasterDBInstanceId": master_id, "Name": "reads", "ReplayLagEliminate": 0, "ReplayLatencyEliminate": 0}))
    assert "kubernetes driver" in (error.message or ""), error.message
    assert api.call("DescribeReadOnlyGroups", {})["ReadOnlyGroupList"] == []

    # Describing works although no PostgreSQL is reachable here (lag unknown is not a failure).
    assert api.instance(master_id).DBInstanceStatus == "running"
    assert api.instances()[master_id].ReadOnlyInstanceNum == 2

    # --- one replica isolated (hibernated) and destroyed: its Cluster and Secrets go ----------------------
    first, second = replica_ids
    api.send("IsolateDBInstances", {"DBInstanceIdSet": [first]})
    api.wait_status([first], "isolated", OPERATION_TIMEOUT)
    assert kube.clusters()[first]["metadata"]["annotations"].get("cnpg.io/hibernation") == "on"
    api.send("DestroyDBInstance", {"DBInstanceId": first})
    api.wait_gone([first])
    assert first not in kube.clusters() and not secrets_of(kube, first)
    assert api.instance(master_id).DBInstanceStatus == "running"

    # --- the master takes the other replica with it -------------------------------------------------------
    api.send("IsolateDBInstances", {"DBInstanceIdSet": [master_id]})
    api.wait_status([master_id, second], "isolated", OPERATION_TIMEOUT)
    api.send("DestroyDBInstance", {"DBInstanceId": master_id})
    api.wait_gone([master_id, second])
    wait_for(lambda: not kube.clusters(), 30, "every Cluster to be deleted")
    assert not secrets_of(kube, master_id) and not secrets_of(kube, second)
    deletes = [r for r in kube.requests if r.method == "DELETE" and "/clusters/" in r.path]
    assert deletes and all(r.query.get("propagationPolicy") == "Foreground" for r in deletes), deletes
    tasks = api.send("DescribeTasks", {"Limit": 100}).TaskSet
    assert all(t.Status == "Success" for t in tasks), [(t.TaskType, t.Status, t.TaskDetail.Message) for t in tasks]


def test_a_clone_cnpg_fails_marks_the_instance_failed_with_cnpgs_reason(api: Api, kube: KubeServer) -> None:
    master_id = api.create_master(POSTPAID, name="source-of-a-failed-clone")
    api.wait_status([master_id], "running")
    kube.operator.pause()
    try:
        replica_id = api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": master_id, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1,
            "Period": 1, "InstanceChargeType": POSTPAID}).DBInstanceIdSet[0]
        kube.wait(lambda: replica_id in kube.clusters(), 30, "the replica Cluster to be created")
        kube.operator.fail(replica_id, "pg_basebackup: could not connect to the source")
    finally:
        kube.operator.resume()
    wait_for(lambda: api.instance(replica_id).DBInstanceStatus == "offline", 60, f"{replica_id} to fail")
    assert "pg_basebackup: could not connect to the source" in api.failure(replica_id)
    wait_for(lambda: replica_id not in kube.clusters(), 30, "the failed Cluster to be removed (undo)")
    kube.operator.release(replica_id)
    api.send("IsolateDBInstances", {"DBInstanceIdSet": [master_id]})
    api.wait_status([master_id], "isolated", OPERATION_TIMEOUT)
    api.send("DestroyDBInstance", {"DBInstanceId": master_id})
    api.wait_gone([master_id])
    wait_for(lambda: master_id not in kube.clusters(), 30, "the master's Cluster to be deleted")


def test_huawei_seed_sequence(service: RunningService, kube: KubeServer) -> None:
    """The seed's Huawei RDS v1 calls (token, datastores, flavors, a master, its read replica by
    ``replicaOf``), then a restart of the replica and the master's delete taking the replica with it."""
    rds = Rds.login(service.url, HUAWEI_REGION)
    reply = rds.get("datastores/PostgreSQL/versions")
    assert reply.status_code == 200, reply.text
    version = reply.json()["dataStores"][0]
    reply = rds.get("flavors", dbId=version["id"], region=HUAWEI_REGION)
    assert reply.status_code == 200, reply.text
    flavors = {f["specCode"]: f for f in reply.json()["flavors"]}
    reply = rds.post("instances", primary_body("seed-on-kubernetes", version=version["name"],
                                               flavorRef=flavors[MASTER_FLAVOR]["id"]))
    assert reply.status_code == 202, reply.text
    master = rds.wait_status(reply.json()["instance"]["id"], "ACTIVE")
    reply = rds.post("instances", {"instance": {"name": "seed-on-kubernetes-rep",
                                                "flavorRef": flavors[REPLICA_FLAVOR]["id"], "replicaOf": master["id"]}})
    assert reply.status_code == 202, reply.text
    created = reply.json()["instance"]
    assert created["status"] == "BUILD" and created["type"] == "readreplica"
    assert rds.wait_job(created["extendparam"]["jobs"][0]["id"])["name"] == "CreateReadReplica"
    replica = rds.wait_status(created["id"], "ACTIVE")
    assert replica["replica_of"] == master["id"]
    assert len(kube.clusters(selector="openrds.io/role=readonly")) == 1

    restarts = len([r for r in kube.requests if r.method == "PATCH"])
    reply = rds.post(f"instances/{replica['id']}/action", {"restart": {}})
    assert reply.status_code == 202, reply.text
    assert rds.wait_job(reply.json()["instance"]["extendparam"]["jobs"][0]["id"])["name"] == "RestartInstance"
    rds.wait_status(replica["id"], "ACTIVE")
    assert len([r for r in kube.requests if r.method == "PATCH"]) > restarts, "the restart patched the Cluster"

    reply = rds.delete(f"instances/{master['id']}")
    assert reply.status_code == 202, reply.text
    for job in reply.json()["instance"]["extendparam"]["jobs"]:
        assert rds.wait_job(job["id"])["name"] == "DeleteInstance"
    wait_for(lambda: not kube.clusters(), 30, "the master's and the replica's Clusters to be deleted")


def test_trove_detach_promotes_the_replica_cluster(service: RunningService, api: Api, kube: KubeServer) -> None:
    """troveclient's ``detach_replica_source`` (the service's promote): the replica's Cluster leaves replica
    mode and is labelled a primary; the old master's Cluster is untouched."""
    auth = v3.Password(auth_url=f"{service.url}/v3", username=IAM_USER, password=IAM_PASSWORD,
                       project_name="ap-beijing", user_domain_name=IAM_USER, project_domain_name=IAM_USER)
    trove = trove_client.Client(session=ks_session.Session(auth=auth))

    def active(instance_id: str, *, detached: bool = False) -> Any:
        def reached() -> Any:
            found = trove.instances.get(instance_id)
            assert found.status != "ERROR", found._info
            return found if found.status == "ACTIVE" and not (detached and hasattr(found, "replica_of")) else None

        return wait_for(reached, 60, f"trove instance {instance_id} to be ACTIVE")

    primary = active(trove.instances.create("trove-on-kubernetes", flavor_id=SPEC, volume={"size": 20},
                                            users=[{"name": "dbadmin", "password": "Openrds-Test1"}]).id)
    replica = active(trove.instances.create("trove-on-kubernetes-rep", replica_of=primary.id, replica_count=1).id)
    codes = {i.DBInstanceName: i.DBInstanceId for i in api.instances().values()}
    master_code, replica_code = codes["trove-on-kubernetes"], codes["trove-on-kubernetes-rep"]
    assert kube.clusters()[replica_code]["spec"]["replica"]["enabled"] is True

    trove.instances.update(replica.id, detach_replica_source=True)
    active(replica.id, detached=True)
    promoted = kube.clusters()[replica_code]
    assert promoted["spec"]["replica"]["enabled"] is False
    assert promoted["metadata"]["labels"]["openrds.io/role"] == "primary"
    assert "openrds.io/source" not in promoted["metadata"]["labels"]
    assert api.instance(replica_code).DBInstanceType == "primary"
    assert kube.clusters()[master_code]["metadata"]["labels"]["openrds.io/role"] == "primary"

    for instance in (replica, primary):
        trove.instances.delete(instance.id)
    wait_for(lambda: not {master_code, replica_code} & set(kube.clusters()), 60, "both Clusters to be deleted")


def test_every_cluster_and_secret_written_validates_strictly(api: Api, kube: KubeServer) -> None:
    """What the service sent in this module (run after the flows above; alone, it makes a master first): each
    created Cluster and Secret as POSTed, and each Cluster as it stood after every write (patches included),
    spec and the driver's metadata only, as a creation would carry them."""
    require_reference()
    if not any(r.method == "POST" and r.path.endswith("/clusters") for r in kube.requests):
        master_id = api.create_master(POSTPAID, name="validated")
        api.wait_status([master_id], "running")
    documents = [r.body for r in kube.requests
                 if r.method == "POST" and (r.path.endswith("/clusters") or r.path.endswith("/secrets"))]
    for event in kube.store.history():
        if event.key[0] is CLUSTERS and event.type != "DELETED":
            metadata = event.object["metadata"]
            documents.append({"apiVersion": event.object["apiVersion"], "kind": "Cluster", "spec": event.object["spec"],
                              "metadata": {k: metadata[k] for k in ("name", "namespace", "labels", "annotations")
                                           if k in metadata}})
    assert any(d["kind"] == "Cluster" for d in documents) and any(d["kind"] == "Secret" for d in documents)
    errors = {f"{d['kind']}/{d['metadata']['name']}": found for d in documents if (found := validate_manifest(d))}
    assert errors == {}, errors
