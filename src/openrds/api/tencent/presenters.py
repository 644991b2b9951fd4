"""Domain values -> Tencent Cloud API shapes: each presenter returns a TypedDict of :mod:`.fields`, so a
misspelt or mistyped field is a type error here instead of a field the SDK silently drops."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from openrds.api.tencent import fields as f
from openrds.domain.catalogue import Catalogue, Region, Spec, Version, Zone
from openrds.domain.model import Instance, Job, ReadOnlyGroup
from openrds.domain.states import ChargeType, GroupStatus, Health, JobState, Lifecycle, MemberStatus, Role
from openrds.services.billing import OrderView, Quote

ENGINE = "postgresql"
NO_TIME = "0000-00-00 00:00:00"

_STATUS = {
    Lifecycle.CREATING: "creating",
    Lifecycle.RUNNING: "running",
    Lifecycle.RESTARTING: "restarting",
    Lifecycle.ISOLATING: "isolating",
    Lifecycle.ISOLATED: "isolated",
    Lifecycle.DISISOLATING: "disisolating",
    Lifecycle.DELETING: "deleting",
    Lifecycle.DELETED: "recycled",
    # No "failed" exists in the API's list; "offline" is the closest an SDK user can act on
    # (DescribeTasks carries the reason).
    Lifecycle.FAILED: "offline",
}

_TASK_STATUS = {
    JobState.PENDING: "Running",
    JobState.RUNNING: "Running",
    JobState.UNDOING: "Running",
    JobState.SUCCEEDED: "Success",
    JobState.FAILED: "Fail",
}

_GROUP_STATUS = {
    GroupStatus.CREATING: "creating",
    GroupStatus.OK: "ok",
    GroupStatus.MODIFYING: "modifying",
    GroupStatus.DELETING: "deleting",
    GroupStatus.DELETED: "deleted",
}

# "running" is what the documents' examples show for a member; for an evicted one they show nothing, and
# "eliminated" follows the API's own word (ReplayLagEliminate; the console's 剔除中, "being evicted").
_MEMBER_STATUS = {MemberStatus.IN_ROTATION: "running", MemberStatus.EVICTED: "eliminated"}


def time_text(value: datetime | None, default: str = NO_TIME) -> str:
    """``YYYY-MM-DD hh:mm:ss`` (isoformat is the same text as strftime, at a fraction of the cost)."""
    return value.replace(tzinfo=None).isoformat(" ", "seconds") if value else default


def _spec_of(catalogue: Catalogue, code: str) -> Spec:
    """The spec an instance records by code. ``Catalogue.spec`` also matches flavor ids, which are
    uuid5 hashes computed on every comparison: too slow for every row of a listing."""
    for spec in catalogue.specs:
        if spec.code == code:
            return spec
    return catalogue.spec(code)


def instance_status(instance: Instance) -> str:
    """The one function that derives DBInstanceStatus from lifecycle and health."""
    if instance.lifecycle is Lifecycle.RUNNING and instance.health is Health.DOWN:
        return "restarting"  # the supervisor is bringing the server back
    return _STATUS[instance.lifecycle]


def task_number(job_id: str) -> int:
    """Tencent task ids are integers: the first 13 hex digits of the job id (52 bits, exact in JSON)."""
    return int(job_id[:13], 16)


def task_prefix(number: int) -> str:
    return f"{number:013x}"


def region(r: Region, language: str) -> f.RegionInfo:
    return {"Region": r.name, "RegionName": r.display_name_zh if language == "zh-CN" else r.display_name,
            "RegionId": r.region_id, "RegionState": "AVAILABLE", "SupportInternational": 1}


def zone(z: Zone, language: str) -> f.ZoneInfo:
    return {"Zone": z.name, "ZoneName": z.display_name_zh if language == "zh-CN" else z.display_name,
            "ZoneId": z.zone_id, "ZoneState": "AVAILABLE", "ZoneSupportIpv6": 0, "StandbyZoneSet": []}


def spec_class(spec: Spec) -> f.ClassInfo:
    return {"SpecCode": spec.code, "CPU": spec.cpu, "Memory": spec.memory_mb, "MaxStorage": spec.max_storage_gb,
            "MinStorage": spec.min_storage_gb, "QPS": spec.qps}


def version(v: Version) -> f.Version:
    return {"DBEngine": ENGINE, "DBVersion": v.full, "DBMajorVersion": str(v.major), "DBKernelVersion": v.kernel,
            "SupportedFeatureNames": [], "Status": "AVAILABLE", "AvailableUpgradeTarget": []}


def spec_item(spec: Spec, v: Version) -> f.SpecItemInfo:
    return {"SpecCode": spec.code, "Version": v.full, "VersionName": f"PostgreSQL {v.full}", "Cpu": spec.cpu,
            "Memory": spec.memory_mb, "MaxStorage": spec.max_storage_gb, "MinStorage": spec.min_storage_gb,
            "Qps": spec.qps, "Pid": 0, "Type": "", "MajorVersion": str(v.major), "KernelVersion": v.kernel,
            "IsSupportTDE": 0}


def net_info(host: str, port: int, vpc_id: str, subnet_id: str, *, opened: bool = True) -> f.DBInstanceNetInfo:
    return {"Address": host, "Ip": host, "Port": port, "NetType": "private", "Status": "opened" if opened else "closed",
            "VpcId": vpc_id, "SubnetId": subnet_id, "ProtocolType": "postgresql"}


def instance(i: Instance, catalogue: Catalogue, *, app_id: int, uin: str, replica_count: int = 0,
             master_code: str = "") -> f.DBInstance:
    spec = _spec_of(catalogue, i.spec_code)
    return {
        "Region": i.region, "Zone": i.zone, "VpcId": i.network.vpc_id, "SubnetId": i.network.subnet_id,
        "DBInstanceId": i.code, "DBInstanceName": i.name, "DBInstanceStatus": instance_status(i),
        "DBInstanceMemory": spec.memory_mb // 1024, "DBInstanceStorage": i.storage_gb, "DBInstanceCpu": spec.cpu,
        "DBInstanceClass": spec.code, "DBMajorVersion": str(i.major_version), "DBVersion": i.version,
        "DBKernelVersion": f"v{i.version}_r1.0",
        "DBInstanceType": "readonly" if i.role is Role.READONLY else "primary",
        "DBInstanceVersion": "standard", "DBCharset": i.charset,
        "CreateTime": time_text(i.created_at), "UpdateTime": time_text(i.updated_at),
        "ExpireTime": time_text(i.expire_at), "IsolatedTime": time_text(i.isolated_at),
        "PayType": "prepaid" if i.charge_type is ChargeType.PREPAID else "postpaid",
        "AutoRenew": int(i.auto_renew),
        "DBInstanceNetInfo": [net_info(i.host, i.port, i.network.vpc_id, i.network.subnet_id)] if i.port else [],
        "Type": "", "AppId": app_id, "Uid": int(uin) if uin.isdigit() else 0, "ProjectId": i.project_id,
        "TagList": [{"TagKey": t.key, "TagValue": t.value} for t in i.tags],
        "MasterDBInstanceId": master_code if i.role is Role.READONLY else "",
        "ReadOnlyInstanceNum": replica_count if i.role is Role.PRIMARY else 0,
        "StatusInReadonlyGroup": _MEMBER_STATUS[i.member_status] if i.group_id else "",
        "OfflineTime": NO_TIME,
        "DBNodeSet": [{"Role": "Primary", "Zone": i.zone, "DedicatedClusterId": ""}],
        "IsSupportTDE": 0, "DBEngine": ENGINE, "DBEngineConfig": "", "NetworkAccessList": [],
        "SupportIpv6": int(bool(i.extra.get("NeedSupportIpv6"))), "ExpandedCpu": 0,
        "DeletionProtection": i.deletion_protection, "DBInstanceStorageType": "PHYSICAL_LOCAL_SSD",
    }


def group_member(
    i: Instance, catalogue: Catalogue, *, app_id: int, uin: str, master_code: str
) -> f.ReadOnlyGroupMember:
    """A member as its group's listing shows it: the instance and its weight (0 while evicted, as Tencent
    shows it)."""
    return {**instance(i, catalogue, app_id=app_id, uin=uin, master_code=master_code),
            "Weight": 0 if i.member_status is MemberStatus.EVICTED else i.weight}


def group(g: ReadOnlyGroup, members: Sequence[f.DBInstance], master_code: str) -> f.ReadOnlyGroup:
    return {
        "ReadOnlyGroupId": g.id, "ReadOnlyGroupName": g.name, "ProjectId": g.project_id,
        "MasterDBInstanceId": master_code, "MinDelayEliminateReserve": g.min_delay_eliminate_reserve,
        "MaxReplayLatency": g.max_replay_latency_mb, "ReplayLatencyEliminate": int(g.replay_latency_eliminate),
        "MaxReplayLag": float(g.max_replay_lag_seconds), "ReplayLagEliminate": int(g.replay_lag_eliminate),
        "VpcId": g.network.vpc_id, "SubnetId": g.network.subnet_id, "Region": g.region, "Zone": g.zone,
        "Status": _GROUP_STATUS[g.status], "ReadOnlyDBInstanceList": list(members), "Rebalance": int(g.rebalance),
        "DBInstanceNetInfo": [net_info(g.host, g.port, g.network.vpc_id, g.network.subnet_id)] if g.port else [],
        "NetworkAccessList": [],
    }


def task(job: Job, instance_code: str) -> f.TaskSet:
    return {
        "TaskId": task_number(job.id), "TaskType": job.kind, "DBInstanceId": instance_code,
        "StartTime": time_text(job.started_at or job.created_at), "EndTime": time_text(job.ended_at),
        "Status": _TASK_STATUS[job.state], "Progress": job.progress,
        "TaskDetail": {"CurrentStep": str(job.step), "AllSteps": str(job.steps_total), "Input": "", "Output": "",
                       "SwitchTag": 0, "SwitchTime": "", "Message": job.error},
    }


def quote(q: Quote) -> f.InquiryPriceCreateDBInstancesResponse:
    """``InquiryPrice*`` answers (the two shapes are the same): cents (分) as integers, and the currency."""
    return {"OriginalPrice": q.original_cents, "Price": q.price_cents, "Currency": q.currency}


def deal(view: OrderView, owner_uin: str) -> f.PgDeal:
    """``PgDeal``: one order; its flow is the task that carries it out (creates), 0 for the others."""
    return {"DealName": view.order.deal_name, "OwnerUin": owner_uin, "Count": 1,
            "PayMode": 1 if view.order.charge_type is ChargeType.PREPAID else 0,
            "FlowId": task_number(view.job_id) if view.job_id else 0, "DBInstanceIdSet": [view.instance_code]}
