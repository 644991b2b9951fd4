"""The offline manifest validator (validate.py) checked against CNPG's own samples and against each rule it
claims to enforce: schema only, no cluster. What passes here is what CNPG 1.30.0's CRDs, CEL rules and the
copied webhook rules accept; nothing here talks to a kube-apiserver or an operator.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tests.k8s_schema.validate import (
    SAMPLES_DIR,
    _strict,
    load_documents,
    schema_errors,
    validate_manifest,
    webhook_errors,
)

# Which of CNPG's own samples must fail, and why (../shared/reference/cnpg-driver.md section 3): real
# mismatches between the samples and the 1.30.0 CRD, not validator bugs.
KNOWN_BAD_SAMPLES = {
    # a map where the CRD has a list: fails even a non-strict check
    "cluster-restore-with-tablespaces.yaml": "spec.tablespaces: ",
    # backup.volumeSnapshot.groupSnapshot exists in no CRD and no Go type: strict mode only
    "cluster-example-bis.yaml": "spec.backup.volumeSnapshot: Additional properties are not allowed ('groupSnapshot'",
    # synchronous.podFailureDomainKeys is a field of CNPG's main branch, newer than 1.30.0: strict mode only
    "cluster-example-syncreplicas-explicit.yaml":
        "spec.postgresql.synchronous: Additional properties are not allowed ('podFailureDomainKeys'",
}
# Kinds of other operators in the samples (cert-manager, prometheus-operator): no schema here, refused as such.
FOREIGN_KINDS = {"Certificate", "Issuer", "PodMonitor"}


def _sample_documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in sorted(SAMPLES_DIR.glob("*.yaml")) for doc in load_documents(path)]


def test_cnpg_samples_exactly_the_three_known_bad_ones_fail() -> None:
    failures: dict[str, list[str]] = {}
    kinds: set[str] = set()
    for name, doc in _sample_documents():
        kinds.add(doc["kind"])
        errors = validate_manifest(doc)
        if doc["kind"] in FOREIGN_KINDS:
            assert errors and "no schema for" in errors[0], (name, errors)
        elif errors:
            failures.setdefault(name, []).extend(errors)
    assert sorted(failures) == sorted(KNOWN_BAD_SAMPLES), failures
    for name, expected in KNOWN_BAD_SAMPLES.items():
        assert len(failures[name]) == 1 and failures[name][0].startswith(expected), failures[name]
    # The samples exercise CNPG kinds and built-in ones alike, so both validators ran on valid input.
    assert {"Cluster", "Pooler", "Database", "Backup", "Secret", "ConfigMap", "Service"} <= kinds


def test_the_two_known_bad_strict_samples_pass_without_strictness() -> None:
    """Strictness is what fails them: the same documents pass once unknown fields are allowed again."""
    for name, path in (("cluster-example-bis.yaml", ("backup", "volumeSnapshot", "groupSnapshot")),
                       ("cluster-example-syncreplicas-explicit.yaml", ("postgresql", "synchronous",
                                                                       "podFailureDomainKeys"))):
        doc = next(d for d in load_documents(SAMPLES_DIR / name) if d["kind"] == "Cluster")
        errors = validate_manifest(doc)
        assert len(errors) == 1 and "Additional properties are not allowed" in errors[0]
        *parents, field = path
        holder = doc["spec"]
        for key in parents:
            holder = holder[key]
        del holder[field]
        assert validate_manifest(doc) == []


# --- the reference's two example Clusters (cnpg-driver.md 1.1 and 1.3) ------------------------------------
def primary_cluster() -> dict[str, Any]:
    return {
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "postgres-abc123", "namespace": "openrds",
                     "labels": {"openrds.io/managed": "true", "openrds.io/instance-id": "postgres-abc123",
                                "openrds.io/role": "primary"},
                     "annotations": {"openrds.io/spec": '{"cpu":2,"memory_gb":4}'}},
        "spec": {
            "instances": 2,
            "imageCatalogRef": {"apiGroup": "postgresql.cnpg.io", "kind": "ClusterImageCatalog",
                                "name": "postgresql", "major": 16},
            "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
            "postgresql": {"parameters": {"max_connections": "200", "shared_buffers": "1GB"}},
            "enableSuperuserAccess": True,
            "superuserSecret": {"name": "postgres-abc123-superuser"},
            "bootstrap": {"initdb": {"database": "postgres_app", "owner": "admin",
                                     "secret": {"name": "postgres-abc123-admin"}, "encoding": "UTF8",
                                     "localeCollate": "C", "localeCType": "C"}},
            "storage": {"size": "50Gi"},
        },
    }


def replica_cluster() -> dict[str, Any]:
    return {
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "pgro-def456", "namespace": "openrds",
                     "labels": {"openrds.io/managed": "true", "openrds.io/role": "readonly",
                                "openrds.io/source": "postgres-abc123"}},
        "spec": {
            "instances": 1,
            "imageName": "ghcr.io/cloudnative-pg/postgresql:16.4",
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
            "postgresql": {"parameters": {"max_connections": "300", "hot_standby_feedback": "on"}},
            "bootstrap": {"pg_basebackup": {"source": "src", "database": "postgres_app", "owner": "admin",
                                            "secret": {"name": "postgres-abc123-admin"}}},
            "replica": {"enabled": True, "source": "src"},
            "storage": {"size": "50Gi"},
            "externalClusters": [{
                "name": "src",
                "connectionParameters": {"host": "postgres-abc123-rw.openrds.svc", "user": "streaming_replica",
                                         "sslmode": "verify-full", "dbname": "postgres",
                                         "application_name": "pgro-def456"},
                "sslKey": {"name": "postgres-abc123-replication", "key": "tls.key"},
                "sslCert": {"name": "postgres-abc123-replication", "key": "tls.crt"},
                "sslRootCert": {"name": "postgres-abc123-ca", "key": "ca.crt"},
            }],
        },
    }


def test_the_reference_primary_and_replica_clusters_are_valid() -> None:
    assert validate_manifest(primary_cluster()) == []
    assert validate_manifest(replica_cluster()) == []


# --- layer 1: the CRD schema, strict ---------------------------------------------------------------------
@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c["spec"].update(instance=2), "spec: Additional properties are not allowed ('instance'"),
    (lambda c: c["metadata"].update(lables={}), "metadata: Additional properties are not allowed ('lables'"),
    (lambda c: c["spec"]["bootstrap"]["initdb"].update(databse="x"), "spec.bootstrap.initdb: Additional properties"),
    (lambda c: c["spec"].update(instances="1"), "spec.instances: '1' is not of type 'integer'"),
    (lambda c: c["spec"].update(instances=0), "spec.instances: 0 is less than the minimum of 1"),
    (lambda c: c["spec"]["resources"]["limits"].update(memory="4 GB"), "spec.resources.limits.memory: '4 GB' does not"),
    (lambda c: c["spec"]["postgresql"]["parameters"].update(max_connections=200),
     "spec.postgresql.parameters.max_connections: 200 is not of type 'string'"),
    (lambda c: c["metadata"]["labels"].update(bad=1), "metadata.labels.bad: 1 is not of type"),
], ids=["typo", "metadata-typo", "nested-typo", "string-instances", "zero-instances", "quantity", "int-parameter",
        "int-label"])
def test_strict_schema_refuses(change: Any, expected: str) -> None:
    cluster = primary_cluster()
    change(cluster)
    errors = validate_manifest(cluster)
    assert any(e.startswith(expected) for e in errors), errors


def test_int_or_string_fields_take_both_and_nothing_else() -> None:
    cluster = primary_cluster()
    for lag in (16777216, "16Mi"):
        cluster["spec"]["probes"] = {"readiness": {"type": "streaming", "maximumLag": lag}}
        assert validate_manifest(cluster) == [], lag
    cluster["spec"]["probes"]["readiness"]["maximumLag"] = True
    assert any(e.startswith("spec.probes.readiness.maximumLag:") for e in validate_manifest(cluster))


def test_strict_translation_honours_preserve_unknown_fields_and_embedded_resources() -> None:
    """CNPG 1.30.0's CRDs use neither marker, so the translation is checked on a schema of its own."""
    import jsonschema

    schema = _strict({"type": "object", "properties": {
        "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                 "properties": {"a": {"type": "string"}}},
        "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "properties": {"spec": {"type": "object"}}},
        "maybe": {"type": "string", "nullable": True},
    }})
    validator = jsonschema.Draft4Validator(schema)
    assert not list(validator.iter_errors({"open": {"a": "x", "anything": 1}, "maybe": None}))
    assert [e.message for e in validator.iter_errors({"closed": {"b": 1}})] == [
        "Additional properties are not allowed ('b' was unexpected)"]
    errors = [e.message for e in validator.iter_errors({"template": {"spec": {}}})]
    assert "'apiVersion' is a required property" in errors and "'kind' is a required property" in errors
    assert not list(validator.iter_errors({"template": {"apiVersion": "v1", "kind": "Pod", "spec": {}}}))


# --- layer 2: CEL rules ---------------------------------------------------------------------------------
def test_cel_image_name_and_catalog_are_exclusive() -> None:
    cluster = primary_cluster()
    cluster["spec"]["imageName"] = "ghcr.io/cloudnative-pg/postgresql:16.4"
    assert schema_errors(cluster) == ["spec: imageName and imageCatalogRef are mutually exclusive"]


def test_cel_image_catalog_kind() -> None:
    cluster = primary_cluster()
    cluster["spec"]["imageCatalogRef"]["kind"] = "ConfigMap"
    assert schema_errors(cluster) == ["spec.imageCatalogRef: Only image catalogs are supported"]


def test_cel_rules_see_schema_defaults() -> None:
    """`synchronous` rules read `dataDurability`, which only its default supplies: without defaulting the
    rule could not evaluate and every synchronous Cluster would be refused."""
    cluster = primary_cluster()
    cluster["spec"]["postgresql"]["synchronous"] = {"method": "any", "number": 1}
    assert schema_errors(cluster) == []
    cluster["spec"]["postgresql"]["synchronous"].update(dataDurability="preferred", standbyNamesPre=["x"])
    assert schema_errors(cluster) == ["spec.postgresql.synchronous: dataDurability set to 'preferred' requires empty "
                                      "'standbyNamesPre' and empty 'standbyNamesPost'"]


def test_cel_locale_provider_rule() -> None:
    cluster = primary_cluster()
    cluster["spec"]["bootstrap"]["initdb"].update(icuLocale="en-US")
    assert [e for e in schema_errors(cluster) if "icuLocale is only available" in e]
    cluster["spec"]["bootstrap"]["initdb"].update(localeProvider="icu")
    assert schema_errors(cluster) == []


# --- layer 3: CNPG webhook rules (CloudNativePG a95a534, internal/webhook/v1/cluster_webhook.go) -------------
def _webhook(change: Any, cluster: dict[str, Any] | None = None) -> list[str]:
    cluster = copy.deepcopy(cluster or primary_cluster())
    change(cluster)
    assert schema_errors(cluster) == [], "the webhook cases must be schema-valid"
    return validate_manifest(cluster)


def test_webhook_name_is_a_dns1035_label_of_at_most_50() -> None:
    # cluster_webhook.go l.1841-1859 (validateName)
    assert _webhook(lambda c: c["metadata"].update(name="p" * 50)) == []
    assert _webhook(lambda c: c["metadata"].update(name="p" * 51)) == [
        f"metadata.name: {'p' * 51!r}: the maximum length of a cluster name is 50 characters"]
    assert _webhook(lambda c: c["metadata"].update(name="1abc"))[0].endswith("cluster name must be a valid DNS label")
    assert _webhook(lambda c: c["metadata"].update(name="a.b"))[0].endswith("cluster name must be a valid DNS label")


def test_webhook_one_bootstrap_method() -> None:
    # cluster_webhook.go l.600-630 (validateBootstrapMethod)
    errors = _webhook(lambda c: c["spec"]["bootstrap"].update(pg_basebackup={"source": "src"}), replica_cluster())
    assert errors == []  # the replica has one method; now give it two
    errors = _webhook(lambda c: c["spec"]["bootstrap"].update(initdb={}), replica_cluster())
    assert "spec.bootstrap: Only one bootstrap method can be specified at a time" in errors
    assert "spec.replica: replica mode bootstrap is compatible only with pg_basebackup or recovery" not in errors


def test_webhook_database_and_owner_go_together() -> None:
    # cluster_webhook.go l.505-531 (validateApplicationDatabase), for initdb l.301-317 and pg_basebackup l.487-502
    assert _webhook(lambda c: c["spec"]["bootstrap"]["initdb"].pop("owner")) == [
        "spec.bootstrap.initdb.owner: You need to specify the database owner user"]
    assert _webhook(lambda c: c["spec"]["bootstrap"]["pg_basebackup"].pop("database"), replica_cluster()) == [
        "spec.bootstrap.pg_basebackup.database: You need to specify the database name"]


def test_webhook_pg_basebackup_and_replica_source_must_be_external_clusters() -> None:
    # cluster_webhook.go l.632-654 (validateBootstrapPgBaseBackupSource), l.2144-2160 (replica.source)
    errors = _webhook(lambda c: c["spec"]["externalClusters"][0].update(name="other"), replica_cluster())
    assert errors == ["spec.bootstrap.pg_basebackup.source: External cluster src not found",
                      "spec.replica.source: External cluster src not found"]


def test_webhook_replica_mode_needs_a_clone_bootstrap_and_no_primary() -> None:
    # cluster_webhook.go l.2104-2142 (validateReplicaMode)
    def to_initdb(c: dict[str, Any]) -> None:
        c["spec"]["bootstrap"] = {"initdb": {}}
    assert _webhook(to_initdb, replica_cluster()) == [
        "spec.replica: replica mode bootstrap is compatible only with pg_basebackup or recovery"]
    assert _webhook(lambda c: c["spec"].pop("bootstrap"), replica_cluster()) == [
        "spec.bootstrap: bootstrap configuration is required for replica mode"]
    assert _webhook(lambda c: c["spec"]["replica"].update(primary="src"), replica_cluster()) == [
        "spec.replica.enabled: replica mode enabled is not compatible with the primary field"]
    # promote (cnpg-driver.md 1.6) is `enabled: false`: still valid
    assert _webhook(lambda c: c["spec"]["replica"].update(enabled=False), replica_cluster()) == []


def test_webhook_external_clusters_unique_and_reachable() -> None:
    # cluster_webhook.go l.1927-1948 (validateExternalClusters), l.1950-1971 (validateExternalCluster)
    def duplicate(c: dict[str, Any]) -> None:
        c["spec"]["externalClusters"].append({"name": "src"})
    assert _webhook(duplicate, replica_cluster()) == [
        "spec.externalClusters: the list of external clusters contains duplicate values",
        "spec.externalClusters[1]: one of connectionParameters, plugin and barmanObjectStore is required"]


def test_webhook_fixed_parameters_and_parameter_names() -> None:
    # cluster_webhook.go l.1083-1106 (validateConfiguration); fixed list: pkg/postgres/configuration.go l.487-555
    # (primary_slot_name l.507 is the one a replica Cluster would be tempted to set)
    assert _webhook(lambda c: c["spec"]["postgresql"]["parameters"].update(primary_slot_name="s")) == [
        "spec.postgresql.parameters.primary_slot_name: 's': Can't set fixed configuration parameter"]
    assert _webhook(lambda c: c["spec"]["postgresql"]["parameters"].update({"bad-name": "1"})) == [
        "spec.postgresql.parameters.bad-name: must be a valid PostgreSQL configuration parameter name"]
    assert _webhook(lambda c: c["spec"]["postgresql"]["parameters"].update({"wal_keep_size": "2GB"})) == []


def test_webhook_requests_not_above_limits() -> None:
    # cluster_webhook.go l.831-859 (validateResources)
    assert _webhook(lambda c: c["spec"]["resources"]["requests"].update(cpu="2500m")) == [
        "spec.resources.requests.cpu: cpu request is greater than the limit"]
    assert _webhook(lambda c: c["spec"]["resources"]["requests"].update(memory="4096Mi")) == []
    assert _webhook(lambda c: c["spec"]["resources"]["requests"].update(memory="5Gi")) == [
        "spec.resources.requests.memory: memory request is greater than the limit"]


def test_webhook_storage_size_required() -> None:
    # cluster_webhook.go l.1714-1739 (validateStorageConfigurationSize)
    assert _webhook(lambda c: c["spec"].pop("storage")) == [
        "spec.storage.size: Size not configured. Please add it, or a storage request in the pvcTemplate."]
    template = {"pvcTemplate": {"resources": {"requests": {"storage": "1Gi"}}}}
    assert _webhook(lambda c: c["spec"].update(storage=template)) == []


def test_webhook_hibernation_annotation_values() -> None:
    # cluster_webhook.go l.2834-2852 (validateHibernationAnnotation)
    assert _webhook(lambda c: c["metadata"]["annotations"].update({"cnpg.io/hibernation": "on"})) == []
    assert _webhook(lambda c: c["metadata"]["annotations"].update({"cnpg.io/hibernation": "yes"})) == [
        "metadata.annotations.cnpg.io/hibernation: 'yes': should be \"on\" or \"off\""]


def test_webhook_image_tag() -> None:
    # cluster_webhook.go l.773-798 (validateImageName)
    def image(name: str) -> Any:
        return lambda c: c["spec"].update(imageName=name)
    assert _webhook(image("ghcr.io/cloudnative-pg/postgresql:latest"), replica_cluster())[0].endswith(
        "Can't use 'latest' as image tag as we can't detect upgrades")
    assert _webhook(image("registry:5000/postgresql@sha256:" + "a" * 64), replica_cluster())[0].endswith(
        "Can't use just the image sha as we can't detect upgrades")


def test_webhook_rules_run_only_on_clusters() -> None:
    assert webhook_errors(primary_cluster()) == []
    database = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Database",
                "metadata": {"name": "x" * 60}, "spec": {"name": "d", "owner": "o", "cluster": {"name": "c"}}}
    assert validate_manifest(database) == []


# --- layer 4: built-in kinds ----------------------------------------------------------------------------
def test_builtin_kinds_strict_with_kubernetes_validate() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
              "metadata": {"name": "postgres-abc123-admin", "namespace": "openrds"},
              "stringData": {"username": "admin", "password": "x"}}
    assert validate_manifest(secret) == []
    assert validate_manifest({**secret, "strinData": {}})[0].startswith("<root>: Additional properties")
    assert validate_manifest({**secret, "data": {"username": 1}})[0].startswith("data.username: 1 is not of type")
    assert validate_manifest({**secret, "kind": "Secrett"})[0].startswith("<root>: no schema for v1 Secrett")
    assert validate_manifest({"kind": "Secret"}) == ["<root>: apiVersion and kind must be strings"]
