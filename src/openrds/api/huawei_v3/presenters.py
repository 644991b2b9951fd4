"""Domain values -> Huawei RDS v3 shapes. Pure functions: no store, no rules. Each returns a TypedDict
of :mod:`.fields`. The words shared with v1 - statuses, job names and the job answer - are the v1
face's (:mod:`openrds.api.huawei.presenters`): one Huawei vocabulary."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openrds.api.huawei.presenters import STATUSES, timestamp
from openrds.api.huawei.schemas import DATASTORE, DEFAULT_BACKUP, DEFAULT_VOLUME_TYPE, EXTRA_KEY
from openrds.api.huawei_v3 import fields as f
from openrds.domain.catalogue import Catalogue, Spec, Version
from openrds.domain.model import Instance
from openrds.domain.states import ChargeType, Lifecycle, Role

#: Lifecycle -> a node's status (lower case, as v3 writes node statuses).
NODE_STATUSES: Mapping[Lifecycle, str] = {
    Lifecycle.CREATING: "build",
    Lifecycle.RUNNING: "active",
    Lifecycle.FAILED: "failed",
}


def datastores(versions: Iterable[Version]) -> f.ListDatastoresResponse:
    """One entry per installed major version; the id is the version's datastore id (the v1 face's)."""
    return {"dataStores": [{"id": v.datastore_id, "name": str(v.major)} for v in versions]}


def flavors(specs: Iterable[Spec], versions: Sequence[Version], zones: Sequence[str]) -> f.ListFlavorsResponse:
    return {"flavors": [
        {"id": s.flavor_id, "vcpus": str(s.cpu), "ram": s.memory_mb // 1024, "spec_code": s.code,
         "instance_mode": "replica" if s.readonly_only else "single",
         "az_status": dict.fromkeys(zones, "normal"), "az_desc": {z: z for z in zones},
         "version_name": [str(v.major) for v in versions], "group_type": "general"}
        for s in specs
    ]}


def _backup(extra: Mapping[str, Any]) -> f.BackupStrategy:
    """The v1 words kept in ``extra`` (``startTime`` ``hh:mm:ss``) as v3's one-hour window."""
    kept = extra.get("backupStrategy", DEFAULT_BACKUP)
    hour, minute = int(kept["startTime"][:2]), kept["startTime"][3:5]
    return {"start_time": f"{hour:02d}:{minute}-{(hour + 1) % 24:02d}:{minute}", "keep_days": int(kept["keepDays"])}


def _datastore(item: Instance) -> f.Datastore:
    return {"type": DATASTORE, "version": str(item.major_version), "complete_version": item.version}


def _status(item: Instance) -> str:
    return STATUSES.get(item.lifecycle, item.lifecycle.value.upper())


def _charge_mode(item: Instance) -> str:
    return "prePaid" if item.charge_type is ChargeType.PREPAID else "postPaid"


def instance(item: Instance, catalogue: Catalogue, replicas: Sequence[str]) -> f.Instance:
    """One instance; ``related_instance`` shows the topology: a replica's primary (``replica_of``), or a
    primary's read replicas (``replica``, the ids in ``replicas``)."""
    extra = item.extra.get(EXTRA_KEY, {})
    spec = next((s for s in catalogue.specs if s.code == item.spec_code), None)
    related: list[f.RelatedInstance] = (
        [{"id": item.master_id, "type": "replica_of"}] if item.master_id
        else [{"id": r, "type": "replica"} for r in replicas]
    )
    body: f.Instance = {
        "id": item.id,
        "name": item.name,
        "status": _status(item),
        "type": "Replica" if item.role is Role.READONLY else "Single",
        "private_ips": [item.host] if item.host else [],
        "public_ips": [],
        "port": item.port,
        "created": timestamp(item.created_at),
        "updated": timestamp(item.updated_at),
        "db_user_name": item.admin_user,
        "datastore": _datastore(item),
        "flavor_ref": item.spec_code,
        "cpu": str(spec.cpu) if spec else "",
        "mem": str(spec.memory_mb // 1024) if spec else "",
        "volume": {"type": extra.get("volumeType", DEFAULT_VOLUME_TYPE), "size": item.storage_gb},
        "region": item.region,
        "vpc_id": item.network.vpc_id,
        "subnet_id": item.network.subnet_id,
        "security_group_id": item.network.security_group_ids[0] if item.network.security_group_ids else "",
        "backup_strategy": _backup(extra),
        "charge_info": {"charge_mode": _charge_mode(item)},
        "enterprise_project_id": "0",
        "time_zone": "UTC",
        "enable_ssl": False,
        "read_only_by_user": False,
        "maintenance_window": "",
        "switch_strategy": "",
        "related_instance": related,
        "nodes": [{"id": item.id, "name": item.name, "role": "readreplica" if item.master_id else "master",
                   "status": NODE_STATUSES.get(item.lifecycle, item.lifecycle.value), "availability_zone": item.zone}],
        "tags": [{"key": t.key, "value": t.value} for t in item.tags],
        "alias": "",
    }
    if item.status_reason:
        body["status_reason"] = item.status_reason
    return body


def instances(items: Sequence[Instance], total: int, catalogue: Catalogue,
              replicas: Mapping[str, Sequence[str]]) -> f.ListInstancesResponse:
    """A page; ``replicas``: primary id -> its read replicas' ids."""
    return {"instances": [instance(i, catalogue, replicas.get(i.id, ())) for i in items], "total_count": total}


def created(item: Instance, job_id: str, order_id: str = "") -> f.CreateInstanceResponse:
    extra = item.extra.get(EXTRA_KEY, {})
    answer: f.CreateInstanceResponse = {
        "instance": {
            "id": item.id, "name": item.name, "status": _status(item), "datastore": _datastore(item),
            "flavor_ref": item.spec_code,
            "volume": {"type": extra.get("volumeType", DEFAULT_VOLUME_TYPE), "size": item.storage_gb},
            "region": item.region, "availability_zone": item.zone, "port": str(item.port),
            "vpc_id": item.network.vpc_id, "subnet_id": item.network.subnet_id,
            "security_group_id": item.network.security_group_ids[0] if item.network.security_group_ids else "",
            "backup_strategy": _backup(extra), "charge_info": {"charge_mode": _charge_mode(item)},
        },
        "job_id": job_id,
    }
    if order_id:
        answer["order_id"] = order_id
    return answer


def job_id(value: str) -> f.JobIdResponse:
    return {"job_id": value}


def replication_status(problems: Sequence[str]) -> f.ReplicationStatus:
    """``normal`` when nothing is wrong; else ``abnormal`` with every problem found."""
    return {"replication_status": "abnormal" if problems else "normal", "abnormal_reason": "; ".join(problems)}
