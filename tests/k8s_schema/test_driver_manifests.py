"""What the `kubernetes` driver applies (openrds.engine.kubernetes.manifests) is accepted by CNPG 1.30.0's
CRD schema (strict), its CEL rules and the copied webhook rules, and the Secrets by Kubernetes 1.37's
schema: a primary, a read-only instance, a cascade, under the default and a non-default configuration.
Schema only: whether CNPG then builds what the manifests describe needs a real cluster.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.k8s_schema.validate import validate_manifest

from openrds.engine import driver
from openrds.engine.kubernetes import manifests

CONFIGS = {
    "defaults": manifests.KubernetesConfig(namespace="openrds"),
    "catalog-loadbalancer-one-instance": manifests.KubernetesConfig(
        namespace="tenant-dbs", storage_class="fast-ssd", image_catalog="postgresql", instances=1,
        expose="LoadBalancer", wal_keep_mb=4096),
    "nodeport": manifests.KubernetesConfig(namespace="openrds", expose="NodePort", external_host="10.0.0.7"),
}


def _chain(config: Any, charset: str = "UTF8") -> dict[str, list[dict[str, Any]]]:
    """The documents of a primary, a read-only instance of it, and a read-only instance of that one."""
    primary = manifests.primary_manifests(
        driver.PrimaryRequest("postgres-abc12345", 16, driver.ServerSpec(2, 4096, 200, 50), charset, "dbadmin",
                              "Openrds-Test1"), config, "Superuser-Passw0rd")
    readonly = manifests.replica_manifests(
        driver.ReplicaRequest("pgro-def45678", "postgres-abc12345", driver.ServerSpec(1, 2048, 100, 20)),
        manifests.parse_cluster(primary[-1]), config, admin_password="Openrds-Test1",
        superuser_password="Superuser-Passw0rd")
    cascade = manifests.replica_manifests(
        driver.ReplicaRequest("pgro-ghi45678", "pgro-def45678", driver.ServerSpec(1, 2048, 300, 20)),
        manifests.parse_cluster(readonly[-1]), config, admin_password="Openrds-Test1",
        superuser_password="Superuser-Passw0rd")
    return {"primary": primary, "readonly": readonly, "cascade": cascade}


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_primary_readonly_and_cascade_manifests_are_valid(config_name: str) -> None:
    chain = _chain(CONFIGS[config_name])
    for role, documents in chain.items():
        assert [d["kind"] for d in documents] == ["Secret", "Secret", "Cluster"], role
        for doc in documents:
            assert validate_manifest(doc) == [], f"{config_name} {role} {doc['kind']}/{doc['metadata']['name']}"
    # The cascade follows the read-only instance, not the primary (the validator only sees one document).
    (source,) = chain["cascade"][-1]["spec"]["externalClusters"]
    assert source["connectionParameters"]["host"].startswith("pgro-def45678-rw.")


def test_latin1_primary_is_valid() -> None:
    for doc in _chain(CONFIGS["defaults"], charset="LATIN1")["primary"]:
        assert validate_manifest(doc) == []


def test_redacted_manifests_stay_valid() -> None:
    """`openrds kubernetes render` prints redacted documents; they are still what the API server accepts."""
    for documents in _chain(CONFIGS["defaults"]).values():
        for doc in documents:
            assert validate_manifest(manifests.redacted(doc)) == []
