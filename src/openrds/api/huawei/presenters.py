"""Domain values -> Huawei shapes (RDS v1 and Keystone v3). Pure functions: no store, no rules. Each
returns a TypedDict of :mod:`.fields`, so a misspelt or mistyped field is a type error here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypedDict

from openrds.api.huawei import fields as f
from openrds.api.huawei.schemas import DATASTORE, DEFAULT_BACKUP, DEFAULT_VOLUME_TYPE, EXTRA_KEY
from openrds.domain.catalogue import Catalogue, Region, Spec, Version
from openrds.domain.model import Instance, Project
from openrds.domain.states import JobKind, JobState, Lifecycle, Role
from openrds.services import flows
from openrds.services.identity import TokenGrant
from openrds.services.jobs import JobView

_NAMESPACE = uuid.UUID("0b5d8a52-4a0e-4c1e-9f43-7d3c29a1e6b0")
DATASTORE_ID = str(uuid.uuid5(_NAMESPACE, "datastore/postgresql"))

#: Lifecycle -> Huawei status (v1's BUILD, ACTIVE, FAILED, REBOOTING, MODIFYING; later APIs' SHUTDOWN,
#: DELETING). Frozen: clients poll for these strings.
STATUSES: Mapping[Lifecycle, str] = {
    Lifecycle.CREATING: "BUILD",
    Lifecycle.RUNNING: "ACTIVE",
    Lifecycle.RESTARTING: "REBOOTING",
    Lifecycle.ISOLATING: "MODIFYING",
    Lifecycle.ISOLATED: "SHUTDOWN",
    Lifecycle.DISISOLATING: "MODIFYING",
    Lifecycle.DELETING: "DELETING",
    Lifecycle.DELETED: "DELETED",
    Lifecycle.FAILED: "FAILED",
    Lifecycle.EXPANDING: "MODIFYING",  # a flavor or volume resize being applied
    Lifecycle.MODIFYING_PARAMETERS: "MODIFYING",
}

JOB_NAMES: Mapping[str, str] = {
    JobKind.CREATE_PRIMARIES: "CreatePostgreSQLInstance",
    JobKind.CREATE_REPLICAS: "CreateReadReplica",
    JobKind.RESTART: "RestartInstance",
    JobKind.ISOLATE: "StopInstance",
    JobKind.DISISOLATE: "StartInstance",
    JobKind.DESTROY: "DeleteInstance",
    JobKind.PROMOTE: "PromoteReadReplica",
    JobKind.BACKUP: "CreateBackup",
    JobKind.DELETE_BACKUP: "DeleteBackup",
    JobKind.DELETE_STANZA: "DeleteInstanceBackups",
    JobKind.CLONE: "RestoreToNewInstance",
    JobKind.APPLY_ADMISSION: "SetSecurityGroup",
    JobKind.RESIZE: "ResizeInstance",
    JobKind.MODIFY_PARAMETERS: "UpdateInstanceConfiguration",
    # Finished flows (services.flows): read-only group changes, applied while the call ran.
    flows.CREATE_GROUP: "CreateReadOnlyGroup",
    flows.ADD_TO_GROUP: "AddReadReplicaToGroup",
    flows.REMOVE_FROM_GROUP: "RemoveReadReplicaFromGroup",
    flows.MOVE_TO_GROUP: "MoveReadReplicaToGroup",
    flows.DELETE_GROUP: "DeleteReadOnlyGroup",
}

JOB_STATUSES: Mapping[JobState, str] = {
    JobState.PENDING: "Running",
    JobState.RUNNING: "Running",
    JobState.UNDOING: "Running",
    JobState.SUCCEEDED: "Completed",
    JobState.FAILED: "Failed",
}


def timestamp(when: datetime | None) -> str:
    """RDS v1 times: ``2016-06-18T21:21:50+0200``; empty when unknown."""
    return when.strftime("%Y-%m-%dT%H:%M:%S%z") if when else ""


def keystone_time(when: datetime) -> str:
    """Keystone times: ``2024-06-18T19:21:50.000000Z`` (UTC)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def flavor_id(catalogue: Catalogue, spec_code: str) -> str:
    for spec in catalogue.specs:
        if spec.code == spec_code:
            return spec.flavor_id
    return spec_code  # a spec dropped from the catalogue since: its code is all we know


# --- RDS v1 --------------------------------------------------------------------------------------
def datastore_versions(versions: Iterable[Version]) -> f.DataStoresResponse:
    return {"dataStores": [
        {"id": v.datastore_id, "datastore": DATASTORE_ID, "name": v.full,
         "image": str(uuid.uuid5(_NAMESPACE, f"image/postgresql-{v.full}")), "packages": f"postgresql-{v.major}",
         "active": 1}
        for v in versions
    ]}


#: Huawei's spec codes all start so (``rds.pg.s1.large``, ``rds.pg.x1.xlarge.4.rr``); the others of the
#: catalogue (``pg.it.small2``) are Tencent's and are not Huawei flavors.
HUAWEI_SPEC_PREFIX = "rds."


def is_huawei_flavor(spec: Spec) -> bool:
    """Whether the v1 flavor list shows ``spec`` (instances of any spec still show their flavor id)."""
    return spec.code.startswith(HUAWEI_SPEC_PREFIX)


def flavors(specs: Iterable[Spec]) -> f.FlavorsResponse:
    return {"flavors": [
        {"id": s.flavor_id, "name": s.code, "ram": s.memory_mb // 1024, "vcpus": str(s.cpu), "specCode": s.code}
        for s in specs
    ]}


def instance_body(item: Instance, catalogue: Catalogue, replicas: Sequence[str] = ()) -> f.Instance:
    """One instance as the seed shows it, plus ``dbPort``, ``dataStoreInfo`` and the replica links."""
    extra = item.extra.get(EXTRA_KEY, {})
    backup: f.BackupStrategy = extra.get("backupStrategy", DEFAULT_BACKUP)
    body: f.Instance = {
        "id": item.id,
        "status": STATUSES.get(item.lifecycle, item.lifecycle.value.upper()),
        "name": item.name,
        "created": timestamp(item.created_at),
        "updated": timestamp(item.updated_at),
        "hostname": item.host,
        "dbPort": item.port,
        "type": "readreplica" if item.role is Role.READONLY else "master",
        "region": item.region,
        "availabilityZone": item.zone,
        "vpc": item.network.vpc_id,
        "nics": {"subnetId": item.network.subnet_id},
        "securityGroup": {"id": item.network.security_group_ids[0] if item.network.security_group_ids else ""},
        "flavor": {"id": flavor_id(catalogue, item.spec_code)},
        "volume": {"type": extra.get("volumeType", DEFAULT_VOLUME_TYPE), "size": item.storage_gb},
        "backupStrategy": backup.copy(),
        "dataStoreInfo": {"type": DATASTORE, "version": item.version},
    }
    if item.master_id:
        body["replica_of"] = item.master_id
    if item.role is Role.PRIMARY:
        body["replicas"] = list(replicas)
    return body


def instance(item: Instance, catalogue: Catalogue, replicas: Sequence[str] = ()) -> f.InstanceResponse:
    return {"instance": instance_body(item, catalogue, replicas)}


def instances(items: Sequence[Instance], catalogue: Catalogue) -> f.InstancesResponse:
    """The list; each master names its replicas among ``items`` (the whole project's list)."""
    replicas: dict[str, list[str]] = {}
    for item in items:
        if item.master_id:
            replicas.setdefault(item.master_id, []).append(item.id)
    return {"instances": [instance_body(i, catalogue, replicas.get(i.id, ())) for i in items]}


def accepted(item: Instance, catalogue: Catalogue, job_ids: Iterable[str]) -> f.AcceptedResponse:
    """The answer to a create, restart or delete: the instance now, and the jobs doing the work."""
    return {"instance": {**instance_body(item, catalogue), "extendparam": {"jobs": [{"id": i} for i in job_ids]}}}


def job(view: JobView) -> f.JobResponse:
    j = view.job
    first = j.instance_ids[0] if j.instance_ids else ""
    return {"job": {
        "id": j.id,
        "name": JOB_NAMES.get(j.kind, j.kind),
        "status": JOB_STATUSES[j.state],
        "created": timestamp(j.created_at),
        "ended": timestamp(j.ended_at),
        "process": f"{j.progress}%",
        "instance": {"id": first, "name": view.instance_names.get(first, "")},
        "fail_reason": j.error if j.state is JobState.FAILED else "",
    }}


# --- Keystone v3 ---------------------------------------------------------------------------------
def domain_id(tenant_id: str) -> str:
    """A Keystone domain id (32 hex characters) for a tenant."""
    return uuid.UUID(tenant_id).hex


def _project(project: Project, domain_name: str, base_url: str) -> f.Project:
    return {"id": project.id, "name": project.name, "domain_id": domain_id(project.tenant_id),
            "domain": {"id": domain_id(project.tenant_id), "name": domain_name},
            "enabled": True, "is_domain": False, "parent_id": domain_id(project.tenant_id), "description": "",
            "links": {"self": f"{base_url}/v3/projects/{project.id}"}}


def token(grant: TokenGrant, methods: Sequence[str], base_url: str, *, domain_scoped: bool = False) -> f.TokenResponse:
    """A token's body: a project-scoped token carries the project and a catalogue whose ``rds`` endpoint is
    this service's ``/v1/{project_id}`` and whose ``database`` endpoint (what python-troveclient looks
    up) is its Trove face's ``/v1.0/{project_id}``; an unscoped (or domain-scoped) one carries none."""
    user = grant.user
    body: f.Token = {
        "methods": list(methods),
        "expires_at": keystone_time(grant.expires_at),
        "issued_at": keystone_time(grant.issued_at),
        "user": {"id": user.id.replace("-", ""), "name": user.name,
                 "domain": {"id": domain_id(user.tenant_id), "name": user.domain}, "password_expires_at": ""},
        "catalog": [],
    }
    if grant.project is not None:
        project = grant.project
        body["project"] = {"id": project.id, "name": project.name,
                           "domain": {"id": domain_id(project.tenant_id), "name": user.domain}}
        body["roles"] = [{"id": uuid.uuid5(_NAMESPACE, "role/rds_adm").hex, "name": "rds_adm"}]
        body["catalog"] = [{
            "id": uuid.uuid5(_NAMESPACE, "service/rds").hex, "type": "rds", "name": "rds",
            "endpoints": [{"id": uuid.uuid5(_NAMESPACE, f"endpoint/rds/{project.id}").hex, "interface": "public",
                           "region": project.region, "region_id": project.region,
                           "url": f"{base_url}/v1/{project.id}"}],
        }, {
            "id": uuid.uuid5(_NAMESPACE, "service/database").hex, "type": "database", "name": "trove",
            "endpoints": [{"id": uuid.uuid5(_NAMESPACE, f"endpoint/database/{project.id}").hex,
                           "interface": "public", "region": project.region, "region_id": project.region,
                           "url": f"{base_url}/v1.0/{project.id}"}],
        }]
    elif domain_scoped:
        body["domain"] = {"id": domain_id(user.tenant_id), "name": user.domain}
    return {"token": body}


# Keystone writes "media-types": a TypedDict of the functional form for the hyphen.
_IdentityVersion = TypedDict("_IdentityVersion", {"id": str, "status": str, "updated": str,
                                                  "links": list[dict[str, str]],
                                                  "media-types": list[dict[str, str]]})


def identity_version(base_url: str) -> dict[str, _IdentityVersion]:
    """``GET /v3``: the one identity version offered (keystoneauth1 discovers with it)."""
    version: _IdentityVersion = {
        "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base_url}/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }
    return {"version": version}


def projects(items: Iterable[Project], domain_name: str, base_url: str, path: str) -> f.ProjectsResponse:
    return {"projects": [_project(p, domain_name, base_url) for p in items],
            "links": {"self": f"{base_url}{path}", "previous": None, "next": None}}


def regions(items: Iterable[Region], base_url: str) -> f.RegionsResponse:
    return {"regions": [
        {"id": r.name, "description": "", "parent_region_id": None, "type": "public",
         "locales": {"en-us": r.display_name, "zh-cn": r.display_name_zh},
         "links": {"self": f"{base_url}/v3/regions/{r.name}"}}
        for r in items
    ], "links": {"self": f"{base_url}/v3/regions", "previous": None, "next": None}}
