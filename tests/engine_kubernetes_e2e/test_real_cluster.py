"""The Tencent SDK flow against a REAL Kubernetes cluster with CloudNativePG (marker ``k8s``).

CI has no cluster: these tests are skipped unless ``OPENRDS_K8S_E2E=1`` and a kubeconfig
(``OPENRDS_K8S_KUBECONFIG`` or ``KUBECONFIG``) are given. They prove what the fakes cannot: that CNPG
really builds the Clusters the driver asks for, that a read-only instance really streams from its
master, and that the addresses the API reports are where clients connect. README ("Kubernetes
(CloudNativePG)") says how to run them with kind.

The instances' addresses must be reachable from where the tests run: run them inside the cluster, or set
``OPENRDS_K8S_EXPOSE=NodePort`` with ``OPENRDS_K8S_EXTERNAL_HOST`` (a node address), or ``LoadBalancer``
where the cluster gives one. Everything the tests create they destroy.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, POSTPAID, SPEC, ZONE, Api
from tests.support.service import RunningService, running_service, wait_for

pytestmark = [
    pytest.mark.k8s,
    pytest.mark.skipif(
        os.environ.get("OPENRDS_K8S_E2E") != "1"
        or not (os.environ.get("OPENRDS_K8S_KUBECONFIG") or os.environ.get("KUBECONFIG")),
        reason="needs a real cluster with CloudNativePG: set OPENRDS_K8S_E2E=1 and a kubeconfig",
    ),
]

#: A Cluster is pulled images, volumes and a pg_basebackup away: minutes, not seconds.
CLUSTER_TIMEOUT = float(os.environ.get("OPENRDS_K8S_E2E_TIMEOUT", "900"))
PASSED_ON = ("OPENRDS_K8S_KUBECONFIG", "KUBECONFIG", "OPENRDS_K8S_NAMESPACE", "OPENRDS_K8S_STORAGE_CLASS",
             "OPENRDS_K8S_IMAGE", "OPENRDS_K8S_EXPOSE", "OPENRDS_K8S_EXTERNAL_HOST", "OPENRDS_K8S_INSTANCES")


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    env = {"OPENRDS_DRIVER": "kubernetes", **{k: os.environ[k] for k in PASSED_ON if k in os.environ}}
    with running_service(extra_env=env) as running:
        yield running


def _connect(api: Api, code: str) -> psycopg.Connection[tuple[object, ...]]:
    net = api.instance(code).DBInstanceNetInfo[0]
    return psycopg.connect(host=net.Address or net.Ip, port=net.Port, user=ADMIN_NAME, password=ADMIN_PASSWORD,
                           dbname="postgres", connect_timeout=10, autocommit=True)


def test_a_master_and_two_read_only_instances_stream_on_cnpg(service: RunningService) -> None:
    api = Api(service)
    master = api.create_master(POSTPAID, name="e2e-master")
    created: list[str] = [master]
    try:
        api.wait_status([master], "running", CLUSTER_TIMEOUT)
        replicas = list(api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": master, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 2, "Period": 1,
            "Zone": ZONE, "InstanceChargeType": POSTPAID, "Name": "e2e-ro"}).DBInstanceIdSet)
        created += replicas
        api.wait_status(replicas, "running", CLUSTER_TIMEOUT)

        marker = uuid.uuid4().hex
        with _connect(api, master) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS e2e (marker text)")
            conn.execute("INSERT INTO e2e VALUES (%s)", (marker,))
        for replica in replicas:
            def has_row(code: str = replica) -> bool:
                try:
                    with _connect(api, code) as conn:
                        return conn.execute("SELECT count(*) FROM e2e WHERE marker = %s", (marker,)).fetchone() == (1,)
                except psycopg.Error:
                    return False  # the table itself has not replayed yet

            wait_for(has_row, 120, f"the row written on {master} to be read on {replica}")
            with _connect(api, replica) as conn:
                assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    finally:
        for code in reversed(created):
            with contextlib.suppress(Exception):  # already gone with its master, or never made
                api.send("DestroyDBInstance", {"DBInstanceId": code})
        api.wait_gone(created, CLUSTER_TIMEOUT)
