"""What the `kubernetes` driver applies, as plain dicts: pure functions from a request to manifests.

One CloudNativePG (CNPG) ``Cluster`` per instance, named by the instance id (`cluster_name`), in the
driver's namespace (see /work/shared/reference/cnpg-driver.md, section 1):

- a primary: ``instances`` = `KubernetesConfig.instances` (2: a hot standby CNPG fails over to),
  ``bootstrap.initdb`` making the tenant's admin the owner of database ``postgres_app``, and two
  ``kubernetes.io/basic-auth`` Secrets this driver makes: the admin's and ``postgres``'s (the
  driver's own SQL: lag, ``CHECKPOINT``);
- a read-only instance: its own Cluster with ``instances: 1`` in replica mode, cloned with
  ``pg_basebackup`` from an ``externalClusters`` entry at its source's ``-rw`` Service (TLS client
  certificate ``<source>-replication``, server CA ``<source>-ca``), ``application_name`` = its id so
  its source's ``pg_stat_replication`` names it. ``bootstrap.pg_basebackup`` repeats the admin and
  database, so that a promoted instance keeps them (CNPG applies them on promotion). Its admin and
  ``postgres`` Secrets are copies of its source's (the cloned ``pg_authid`` holds those passwords).

Labels carry the instance id, role and source, annotation ``openrds.io/spec`` the requested spec, so
`parse_cluster` can rebuild everything `servers` (adoption) needs from the objects alone; Clusters have
no ownerReferences to each other (promote detaches, and deleting a source must never cascade).
Nothing here talks to Kubernetes: ``openrds kubernetes render`` prints these documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from openrds.engine.driver import EngineError, PrimaryRequest, ReplicaRequest, ServerRole, ServerSpec

GROUP = "postgresql.cnpg.io"
VERSION = "v1"
PLURAL = "clusters"
API_VERSION = f"{GROUP}/{VERSION}"

MANAGED = "openrds.io/managed"
INSTANCE = "openrds.io/instance-id"
ROLE = "openrds.io/role"
SOURCE = "openrds.io/source"
SPEC = "openrds.io/spec"
MANAGED_SELECTOR = f"{MANAGED}=true"

HIBERNATION = "cnpg.io/hibernation"  # annotation "on"/"off" and the condition reporting it
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"  # what `kubectl cnpg restart` sets

APP_DATABASE = "postgres_app"
SUPERUSER = "postgres"
EXTERNAL_SOURCE = "source"  # the externalClusters entry of a read-only instance
EXTERNAL_SERVICE = "external"  # managed.services.additional selectorType rw, "<id>-external"
PG_PORT = 5432
#: CNPG's own ``wal_keep_size`` default (pkg/postgres/configuration.go l.577), kept on sources without RO instances.
CNPG_WAL_KEEP_MB = 512
#: ``Cluster.metadata.name`` is a DNS-1035 label of at most 50 characters (cluster_webhook.go l.1844-1851).
_CLUSTER_NAME = re.compile(r"[a-z]([-a-z0-9]{0,48}[a-z0-9])?")
_RESERVED_ROLES = frozenset({SUPERUSER, "streaming_replica", "cnpg_pooler_pgbouncer", "public"})
REDACTED = "<redacted>"

Expose = Literal["", "LoadBalancer", "NodePort"]


@dataclass(frozen=True, slots=True)
class KubernetesConfig:
    """How the driver lays instances out on the cluster; every field has a default that works where CNPG is
    installed.

    :param namespace: where every Cluster and Secret goes (one namespace per OpenRDS deployment, so a
        replica Cluster can use its source's ``-replication`` and ``-ca`` Secrets).
    :param storage_class: the PVCs' StorageClass; empty: the cluster's default class.
    :param image: ``imageName`` per major, ``{major}`` replaced (CNPG's published images by default).
    :param image_catalog: a ``ClusterImageCatalog`` name; when set it is used instead of ``image``.
    :param majors: the PostgreSQL majors offered, newest first.
    :param instances: PostgreSQL pods of a primary's Cluster (2: a hot standby with CNPG failover; 1: none).
    :param expose: how clients outside the cluster reach an instance: "" the ``-rw`` Service's DNS name;
        "LoadBalancer"/"NodePort" an extra Service per Cluster (CNPG ``managed.services.additional``).
    :param external_host: with NodePort, the node address clients use.
    :param wal_keep_mb: ``wal_keep_size`` set on a source once it has a read-only instance (CNPG keeps
        no slot for replica Clusters); 0: a tenth of the source's storage, at least 1024.
    :param cluster_domain: the DNS suffix of Services (``<svc>.<ns>.svc``).
    """

    namespace: str = "default"
    storage_class: str = ""
    image: str = "ghcr.io/cloudnative-pg/postgresql:{major}"
    image_catalog: str = ""
    majors: tuple[int, ...] = (17, 16, 15, 14, 13)
    instances: int = 2
    expose: Expose = ""
    external_host: str = ""
    wal_keep_mb: int = 0
    cluster_domain: str = "svc"


class K8sSettings(Protocol):
    """The `openrds.settings.Settings` fields `config_from_settings` reads (engine imports no settings)."""
    @property
    def k8s_namespace(self) -> str: ...
    @property
    def k8s_kubeconfig(self) -> str: ...
    @property
    def k8s_storage_class(self) -> str: ...
    @property
    def k8s_image(self) -> str: ...
    @property
    def k8s_image_catalog(self) -> str: ...
    @property
    def k8s_majors(self) -> str: ...
    @property
    def k8s_instances(self) -> int: ...
    @property
    def k8s_expose(self) -> Any: ...
    @property
    def k8s_external_host(self) -> str: ...
    @property
    def k8s_wal_keep_mb(self) -> int: ...
    @property
    def k8s_create_timeout(self) -> float: ...


def config_from_settings(settings: K8sSettings, namespace: str) -> KubernetesConfig:
    """The `KubernetesConfig` the settings describe, in ``namespace`` (resolved by the caller)."""
    majors = tuple(int(m) for m in settings.k8s_majors.replace(" ", "").split(",") if m)
    return KubernetesConfig(
        namespace=namespace,
        storage_class=settings.k8s_storage_class,
        image=settings.k8s_image,
        image_catalog=settings.k8s_image_catalog,
        majors=tuple(sorted(majors, reverse=True)),
        instances=settings.k8s_instances,
        expose=settings.k8s_expose,
        external_host=settings.k8s_external_host,
        wal_keep_mb=settings.k8s_wal_keep_mb,
    )


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What one Cluster object says about its instance (`parse_cluster`)."""

    instance_id: str
    role: ServerRole
    source_id: str | None
    major_version: int
    spec: ServerSpec
    admin_user: str
    resource_version: str
    instances: int
    ready_instances: int
    ready: bool
    hibernated: bool
    phase: str
    phase_reason: str


# ---------------------------------------------------------------------------------------------- names


def cluster_name(instance_id: str) -> str:
    """The Cluster's name: the instance id itself (``postgres-ab12cd34``, ``pgro-...``, a UUID).

    :raises EngineError: it is not a DNS-1035 label of at most 50 characters (a UUID starting with a
        digit is not; CNPG's webhook would refuse it).
    """
    if not _CLUSTER_NAME.fullmatch(instance_id):
        raise EngineError("validate", f"instance id {instance_id!r} is not a Cluster name (DNS-1035, at most 50)")
    return instance_id


def admin_secret(instance_id: str) -> str:
    return f"{instance_id}-admin"


def superuser_secret(instance_id: str) -> str:
    return f"{instance_id}-superuser"


def rw_host(instance_id: str, config: KubernetesConfig) -> str:
    """The ``-rw`` Service's DNS name: the primary, or a replica Cluster's designated primary."""
    return f"{instance_id}-rw.{config.namespace}.{config.cluster_domain}"


def external_service(instance_id: str) -> str:
    return f"{instance_id}-{EXTERNAL_SERVICE}"


def wal_keep_mb(config: KubernetesConfig, storage_gb: int) -> int:
    """``wal_keep_size`` (MB) of a source with read-only instances."""
    return config.wal_keep_mb or max(1024, storage_gb * 1024 // 10)


def check_admin(name: str, password: str) -> None:
    if not name or len(name) > 63 or name.lower() in _RESERVED_ROLES or name.lower().startswith("pg_"):
        raise EngineError("validate", f"admin user name {name!r} is reserved or invalid")
    if not password:
        raise EngineError("validate", "the admin password is empty")


# ---------------------------------------------------------------------------------------------- building


def basic_auth_secret(
    name: str, instance_id: str, username: str, password: str, config: KubernetesConfig
) -> dict[str, Any]:
    """A ``kubernetes.io/basic-auth`` Secret (CNPG's format for role passwords), labelled as the driver's."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": config.namespace, "labels": _labels(instance_id, None, None)},
        "type": "kubernetes.io/basic-auth",
        "stringData": {"username": username, "password": password},
    }


def primary_manifests(
    request: PrimaryRequest, config: KubernetesConfig, superuser_password: str
) -> list[dict[str, Any]]:
    """The admin Secret, the ``postgres`` Secret and the Cluster of a new primary, in the order they are applied."""
    name = cluster_name(request.instance_id)
    check_admin(request.admin_user, request.admin_password)
    if request.major_version not in config.majors:
        raise EngineError("validate", f"PostgreSQL {request.major_version} is not offered (offered: "
                          f"{', '.join(map(str, config.majors))})")
    locale = "C.UTF-8" if request.charset.upper() in ("UTF8", "UTF-8") else "C"
    spec = _common_spec(request.major_version, request.spec, config, {}, name)
    spec.update(
        instances=config.instances,
        enableSuperuserAccess=True,
        superuserSecret={"name": superuser_secret(name)},
        bootstrap={
            "initdb": {
                "database": APP_DATABASE,
                "owner": request.admin_user,
                "secret": {"name": admin_secret(name)},
                "encoding": "UTF8" if locale == "C.UTF-8" else request.charset.upper(),
                "localeCollate": locale,
                "localeCType": locale,
            }
        },
    )
    return [
        basic_auth_secret(admin_secret(name), name, request.admin_user, request.admin_password, config),
        basic_auth_secret(superuser_secret(name), name, SUPERUSER, superuser_password, config),
        _cluster(name, ServerRole.PRIMARY, None, request.spec, request.admin_user, spec, config),
    ]


def replica_manifests(
    request: ReplicaRequest,
    source: ClusterView,
    config: KubernetesConfig,
    *,
    admin_password: str,
    superuser_password: str,
) -> list[dict[str, Any]]:
    """The admin and ``postgres`` Secrets (copies of its source's: the clone holds those passwords) and the
    replica-mode Cluster of a read-only instance. Each Cluster refers only to its own Secrets, so a
    promoted instance keeps working after its old source is destroyed.

    ``max_connections`` is raised to the source's where lower: a hot standby refuses to start with less
    (CNPG enforces the same list on restore, pkg/management/postgres/restore.go l.81-87).
    """
    name = cluster_name(request.instance_id)
    if name == source.instance_id:
        raise EngineError("validate", f"{name} cannot replicate itself")
    spec_values = ServerSpec(
        cpu=request.spec.cpu,
        memory_mb=request.spec.memory_mb,
        max_connections=max(request.spec.max_connections, source.spec.max_connections),
        storage_gb=request.spec.storage_gb,
    )
    # A temporary slot while streaming (PostgreSQL >= 13): CNPG keeps no permanent one for replica Clusters.
    extra = {"hot_standby_feedback": "on", "wal_receiver_create_temp_slot": "on"}
    spec = _common_spec(source.major_version, spec_values, config, extra, name)
    src = source.instance_id
    spec.update(
        instances=1,
        enableSuperuserAccess=True,
        superuserSecret={"name": superuser_secret(name)},
        bootstrap={
            "pg_basebackup": {
                "source": EXTERNAL_SOURCE,
                "database": APP_DATABASE,
                "owner": source.admin_user,
                "secret": {"name": admin_secret(name)},
            }
        },
        replica={"enabled": True, "source": EXTERNAL_SOURCE},
        externalClusters=[
            {
                "name": EXTERNAL_SOURCE,
                "connectionParameters": {
                    "host": rw_host(src, config),
                    "user": "streaming_replica",
                    "sslmode": "verify-full",
                    "dbname": "postgres",
                    "application_name": name,
                },
                "sslKey": {"name": f"{src}-replication", "key": "tls.key"},
                "sslCert": {"name": f"{src}-replication", "key": "tls.crt"},
                "sslRootCert": {"name": f"{src}-ca", "key": "ca.crt"},
            }
        ],
    )
    return [
        basic_auth_secret(admin_secret(name), name, source.admin_user, admin_password, config),
        basic_auth_secret(superuser_secret(name), name, SUPERUSER, superuser_password, config),
        _cluster(name, ServerRole.REPLICA, src, spec_values, source.admin_user, spec, config),
    ]


def redacted(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``manifest`` with every Secret value replaced by `REDACTED` (for printing)."""
    copy: dict[str, Any] = json.loads(json.dumps(manifest))
    if copy.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if key in copy:
                copy[key] = {k: (v if k == "username" else REDACTED) for k, v in copy[key].items()}
    return copy


def _common_spec(
    major: int, spec: ServerSpec, config: KubernetesConfig, parameters: Mapping[str, str], name: str
) -> dict[str, Any]:
    cpu = str(spec.cpu)
    memory = f"{spec.memory_mb}Mi"
    out: dict[str, Any] = {
        # requests == limits: Guaranteed QoS, as a cloud instance's spec promises (docs/src/resource_management.md)
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
        "postgresql": {
            "parameters": {
                "max_connections": str(spec.max_connections),
                "shared_buffers": f"{max(16, spec.memory_mb // 4)}MB",
                **parameters,
            }
        },
        "storage": {"size": f"{max(1, spec.storage_gb)}Gi"},
    }
    if config.image_catalog:
        out["imageCatalogRef"] = {
            "apiGroup": GROUP, "kind": "ClusterImageCatalog", "name": config.image_catalog, "major": major
        }
    else:
        out["imageName"] = config.image.format(major=major)
    if config.storage_class:
        out["storage"]["storageClass"] = config.storage_class
    if config.expose:
        out["managed"] = {
            "services": {
                "additional": [
                    {
                        "selectorType": "rw",
                        "serviceTemplate": {
                            "metadata": {"name": external_service(name)},
                            "spec": {"type": config.expose},
                        },
                    }
                ]
            }
        }
    return out


def _cluster(
    name: str,
    role: ServerRole,
    source_id: str | None,
    spec_values: ServerSpec,
    admin_user: str,
    spec: dict[str, Any],
    config: KubernetesConfig,
) -> dict[str, Any]:
    recorded = {
        "cpu": spec_values.cpu,
        "memory_mb": spec_values.memory_mb,
        "max_connections": spec_values.max_connections,
        "storage_gb": spec_values.storage_gb,
        "admin_user": admin_user,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": {
            "name": name,
            "namespace": config.namespace,
            "labels": _labels(name, role, source_id),
            "annotations": {SPEC: json.dumps(recorded, sort_keys=True)},
        },
        "spec": spec,
    }


def _labels(instance_id: str, role: ServerRole | None, source_id: str | None) -> dict[str, str]:
    labels = {MANAGED: "true", INSTANCE: instance_id}
    if role is not None:
        labels[ROLE] = "primary" if role is ServerRole.PRIMARY else "readonly"
    if source_id is not None:
        labels[SOURCE] = source_id
    return labels


# ---------------------------------------------------------------------------------------------- reading


def parse_cluster(obj: Mapping[str, Any]) -> ClusterView:
    """The `ClusterView` of a Cluster object made by this driver.

    :raises EngineError: it lacks the driver's labels or annotation (not one of ours, or edited by hand).
    """
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    name = str(meta.get("name", ""))
    try:
        recorded = json.loads((meta.get("annotations") or {})[SPEC])
        spec = ServerSpec(
            cpu=int(recorded["cpu"]),
            memory_mb=int(recorded["memory_mb"]),
            max_connections=int(recorded["max_connections"]),
            storage_gb=int(recorded.get("storage_gb", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EngineError("adopt", f"Cluster {name} has no valid {SPEC} annotation ({exc})") from None
    body = obj.get("spec") or {}
    status = obj.get("status") or {}
    replica_mode = bool((body.get("replica") or {}).get("enabled"))
    conditions = {c.get("type"): c for c in status.get("conditions") or ()}
    ready = (conditions.get("Ready") or {}).get("status") == "True"
    hibernated = (conditions.get(HIBERNATION) or {}).get("status") == "True"
    return ClusterView(
        instance_id=str(labels.get(INSTANCE, name)),
        role=ServerRole.REPLICA if replica_mode else ServerRole.PRIMARY,
        source_id=labels.get(SOURCE) if replica_mode else None,
        major_version=_major_of(body),
        spec=spec,
        admin_user=str(recorded.get("admin_user", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        instances=int(body.get("instances", 1)),
        ready_instances=int(status.get("readyInstances", 0)),
        ready=ready,
        hibernated=hibernated,
        phase=str(status.get("phase", "")),
        phase_reason=str(status.get("phaseReason", "")),
    )


def _major_of(spec: Mapping[str, Any]) -> int:
    catalog = spec.get("imageCatalogRef")
    if catalog:
        return int(catalog["major"])
    tag = str(spec.get("imageName", "")).rpartition(":")[2]
    digits = re.match(r"\d+", tag)
    if digits is None:
        raise EngineError("adopt", f"cannot tell the PostgreSQL major of image {spec.get('imageName')!r}")
    return int(digits.group())
