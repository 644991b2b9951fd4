"""`KubernetesDriver` itself over the real ``kubernetes`` client and the fake API server (`tests.fakes.kube_server`),
for what no API face reaches: a cascade (a read-only instance of a read-only instance, in the same batch as its
source), promote, stop/start (hibernation), restart, a watch that expires (410 Gone) mid-wait, and replication
state when no PostgreSQL is reachable (unknown, never an error). Nothing here runs CNPG or PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kubernetes import client, config
from tests.fakes.kube_server import CLUSTERS, SECRETS, KubeServer

from openrds.engine.driver import (
    PrimaryRequest,
    ReplicaRequest,
    ServerRole,
    ServerSpec,
    ServerState,
)
from openrds.engine.kubernetes import KubernetesConfig, KubernetesDriver

NS = "openrds"
SPEC = ServerSpec(cpu=1, memory_mb=1024, max_connections=100, storage_gb=10)


@pytest.fixture(scope="module")
def driver(kube: KubeServer) -> Iterator[KubernetesDriver]:
    api = config.new_client_from_config(config_file=str(kube.kubeconfig))
    try:
        yield KubernetesDriver(client.CustomObjectsApi(api), client.CoreV1Api(api), KubernetesConfig(namespace=NS),
                               create_timeout=30, timeout=30)
    finally:
        api.close()


def primary(instance_id: str) -> PrimaryRequest:
    return PrimaryRequest(instance_id, 16, SPEC, "UTF8", "dbadmin", "Openrds-Test1")


def test_cascade_in_one_batch_promote_and_destroy(driver: KubernetesDriver, kube: KubeServer) -> None:
    master = driver.create_primary(primary("postgres-casc0001"))
    assert master.state is ServerState.RUNNING and master.role is ServerRole.PRIMARY
    # The cascade's source is in the same batch: the driver must make it ready first.
    made = driver.create_replicas([ReplicaRequest("pgro-casc0002", "postgres-casc0001", SPEC),
                                   ReplicaRequest("pgro-casc0003", "pgro-casc0002", SPEC)])
    assert [(i.instance_id, i.source_id, i.state) for i in made] == [
        ("pgro-casc0002", "postgres-casc0001", ServerState.RUNNING),
        ("pgro-casc0003", "pgro-casc0002", ServerState.RUNNING)]
    cascade = kube.clusters()["pgro-casc0003"]
    source_host = cascade["spec"]["externalClusters"][0]["connectionParameters"]["host"]
    assert source_host.startswith("pgro-casc0002-rw."), "a cascade follows its source's Cluster"
    # The cascade's Cluster was created only once its source's Cluster was Ready.
    history = kube.store.history()
    source_ready = min(e.resource_version for e in history if e.key[2] == "pgro-casc0002"
                       and any(c["type"] == "Ready" and c["status"] == "True"
                               for c in (e.object.get("status") or {}).get("conditions", [])))
    cascade_added = next(e.resource_version for e in history if e.key[2] == "pgro-casc0003" and e.type == "ADDED")
    assert cascade_added > source_ready

    # Replication state: the -rw Services resolve nowhere here, so it is unknown, and not an error.
    state = driver.replication("postgres-casc0001")
    assert state.current_lsn is None and state.replicas == ()

    # Promote the middle one: out of replica mode, labelled a primary; its cascade is left alone.
    promoted = driver.promote("pgro-casc0002")
    assert promoted.role is ServerRole.PRIMARY and promoted.source_id is None
    now = kube.clusters()["pgro-casc0002"]
    assert now["spec"]["replica"]["enabled"] is False and "openrds.io/source" not in now["metadata"]["labels"]
    assert kube.clusters()["pgro-casc0003"]["metadata"]["labels"]["openrds.io/source"] == "pgro-casc0002"

    for instance_id in ("pgro-casc0003", "pgro-casc0002", "postgres-casc0001"):
        driver.destroy(instance_id)
        assert kube.store.find(CLUSTERS, NS, instance_id) is None
        assert kube.store.find(SECRETS, NS, f"{instance_id}-admin") is None
    driver.destroy("postgres-casc0001")  # idempotent: nothing left to delete


def test_stop_start_restart_and_a_watch_that_expires_mid_wait(driver: KubernetesDriver, kube: KubeServer) -> None:
    driver.create_primary(primary("postgres-life0001"))
    driver.stop("postgres-life0001")
    assert driver.status("postgres-life0001").state is ServerState.STOPPED
    assert kube.clusters()["postgres-life0001"]["status"]["readyInstances"] == 0
    assert driver.start("postgres-life0001").state is ServerState.RUNNING

    # The restart's watch loses its history (as after etcd compaction) while the Cluster is held not ready:
    # the driver must re-list after the 410 and still see the Cluster come back.
    kube.operator.hold("postgres-life0001")
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(driver.restart("postgres-life0001")))
    worker.start()
    kube.wait(lambda: kube.clusters()["postgres-life0001"]["status"]["phase"] != "Cluster in healthy state", 10,
              "the restart to take the Cluster out of the healthy phase")
    kube.store.create(SECRETS, NS, {"metadata": {"name": "unrelated-write"}})  # history moves on...
    kube.store.compact()  # ...and is forgotten: the restart's next watch starts from a version now too old
    seen = len(kube.requests)

    def relisted() -> bool:
        return any(r.path.endswith("/clusters") and "watch" not in r.query
                   and r.query.get("fieldSelector") == "metadata.name=postgres-life0001" for r in kube.requests[seen:])

    kube.wait(relisted, 15, "the driver to list the Cluster again after 410 Gone")
    kube.operator.release("postgres-life0001")
    worker.join(timeout=30)
    assert not worker.is_alive(), "restart did not return"
    assert outcome and getattr(outcome[0], "state", None) is ServerState.RUNNING, outcome
    driver.destroy("postgres-life0001")
    kube.store.delete(SECRETS, NS, "unrelated-write")
