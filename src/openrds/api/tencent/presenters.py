"""Domain values -> Tencent Cloud API shapes: each presenter returns a TypedDict of :mod:`.fields`, so a
misspelt or mistyped field is a type error here instead of a field the SDK silently drops."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from openrds.api.tencent import fields as f
from openrds.domain.catalogue import Catalogue, Region, Spec, Version, Zone
from openrds.domain.errors import InvalidInput
from openrds.domain.model import Instance, Job, ReadOnlyGroup
from openrds.domain.resize import waits_for_switch
from openrds.domain.states import (
    ChargeType,
    GroupStatus,
    Health,
    JobKind,
    JobState,
    Lifecycle,
    MemberStatus,
    Role,
)
from openrds.services import flows
from openrds.services.billing import OrderView, Quote

ENGINE = "postgresql"
NO_TIME = "0000-00-00 00:00:00"

#: The one table from a domain state to ``DBInstanceStatus``. Every value is one the SDK documents
#: (``DBInstance.DBInstanceStatus`` in its models.py; ``creating``/``deleting`` are not among them), so a
#: client waiting for a documented status sees it; a test holds this table to that docstring and to
#: every member of ``Lifecycle``.
STATUSES: dict[Lifecycle, str] = {
    Lifecycle.CREATING: "initing",  # 初始化中: the server is being made (what Tencent shows after a purchase)
    Lifecycle.RUNNING: "running",
    Lifecycle.RESTARTING: "restarting",
    Lifecycle.ISOLATING: "isolating",
    Lifecycle.ISOLATED: "isolated",
    Lifecycle.DISISOLATING: "disisolating",
    Lifecycle.DELETING: "offlining",  # 下线中: going away for good
    Lifecycle.DELETED: "recycled",
    # No "failed" exists in the API's list; "offline" is the closest an SDK user can act on
    # (DescribeTasks carries the reason).
    Lifecycle.FAILED: "offline",
    Lifecycle.EXPANDING: "expanding",  # a spec or storage change being applied
    Lifecycle.MODIFYING_PARAMETERS: "parameter modifying",
}
#: 等待切换: running, with a spec change waiting for its switch time (``domain.resize.waits_for_switch``);
#: ``expanding`` once it switches (at that time, or at once with ModifySwitchTimePeriod).
WAIT_SWITCH = "waitSwitch"

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


#: The zone every time of the Tencent face is written and read in: Beijing time (UTC+8), the zone of the
#: documents' examples and of Tencent's console, until :func:`use_time_zone` sets the operator's
#: ``tencent_time_zone``.
DOCUMENTED_ZONE: tzinfo = timezone(timedelta(hours=8), "UTC+8")
_zone: tzinfo = DOCUMENTED_ZONE
#: Longest time text :func:`parse_tencent_time` looks at (``YYYY-MM-DDThh:mm:ss.ffffff+hh:mm`` is 32).
_MAX_TIME_TEXT = 40


def use_time_zone(zone: tzinfo) -> None:
    """Make ``zone`` the face's zone for :func:`tencent_time` and :func:`parse_tencent_time`.

    Called once by :func:`openrds.api.tencent.registry.build` with the setting ``tencent_time_zone``; a
    process serves one zone (the last service built in it decides).
    """
    global _zone
    _zone = zone


def tencent_time(value: datetime | None, default: str = NO_TIME) -> str:
    """``value`` as the Tencent face writes every time: ``YYYY-MM-DD hh:mm:ss`` in the face's zone
    (:data:`DOCUMENTED_ZONE` unless configured), whole seconds; ``default`` for ``None``.

    ``value`` is an aware datetime (the store returns UTC); a naive one is taken as UTC. isoformat is
    the same text as strftime at a fraction of the cost.
    """
    if value is None:
        return default
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_zone).replace(tzinfo=None).isoformat(" ", "seconds")


#: The name this helper had before times were written in the face's zone; same function.
time_text = tencent_time


def parse_tencent_time(text: str, field: str) -> datetime:
    """A time the Tencent face reads (``SwitchStartTime``, ``RecoveryTargetTime``, ``MinStartTime`` ...)
    as an aware UTC datetime: ``YYYY-MM-DD hh:mm:ss`` in the face's zone, the same way
    :func:`tencent_time` writes it, so a time read back from an answer means the same instant when sent.

    Also accepted: ``T`` for the space, fractions of a second, and an explicit offset
    (``...+08:00``/``Z``), which then wins over the face's zone.

    :param field: the request field, named in the error.
    :raises InvalidInput: anything else (a date alone, other layouts, impossible dates, over 40 characters).
    """
    stripped = text.strip()
    parsed: datetime | None = None
    if 19 <= len(stripped) <= _MAX_TIME_TEXT and stripped[10:11] in (" ", "T"):
        try:
            parsed = datetime.fromisoformat(stripped)
        except ValueError:
            parsed = None
    if parsed is None:
        shown = text if len(text) <= _MAX_TIME_TEXT else text[:_MAX_TIME_TEXT] + "..."
        raise InvalidInput(
            f"{field} must be a time 'YYYY-MM-DD hh:mm:ss' ({_zone}), got {shown!r}", field=field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone)
    return parsed.astimezone(UTC)


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
    if instance.lifecycle is Lifecycle.RUNNING and waits_for_switch(instance):
        return WAIT_SWITCH
    return STATUSES[instance.lifecycle]


def task_number(job_id: str) -> int:
    """Tencent task ids are integers: the first 13 hex digits of the job id (52 bits, exact in JSON)."""
    return int(job_id[:13], 16)


def flow_number(job_id: str) -> int:
    """``FlowId``/``TaskId`` of an answer: the task number of the job (or finished flow) the call
    recorded; 0 when it recorded none (nothing changed)."""
    return task_number(job_id) if job_id else 0


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
        # A read-only instance's one node is a standby server (DBNode.Role documents Primary and Standby).
        "DBNodeSet": [{"Role": "Standby" if i.role is Role.READONLY else "Primary", "Zone": i.zone,
                       "DedicatedClusterId": ""}],
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


#: ``TaskSet.TaskType``: what the task does, in the API's own words (its examples show
#: ``DestroyInstance``, ``RestoreDatabase``: the action, or what it does, in CamelCase). A kind missing
#: here (another part's new job) is shown CamelCased (``modify_parameters`` -> ``ModifyParameters``).
TASK_TYPES: dict[str, str] = {
    JobKind.CREATE_PRIMARIES: "CreateInstance",
    JobKind.CREATE_REPLICAS: "CreateReadOnlyInstance",
    JobKind.RESTART: "RestartInstance",
    JobKind.ISOLATE: "IsolateInstance",
    JobKind.DISISOLATE: "DisIsolateInstance",
    JobKind.DESTROY: "DestroyInstance",
    JobKind.PROMOTE: "PromoteReadOnlyInstance",
    JobKind.APPLY_ADMISSION: "ModifyDBInstanceSecurityGroups",
    JobKind.RESIZE: "ModifyDBInstanceSpec",
    JobKind.MODIFY_PARAMETERS: "ModifyDBInstanceParameters",
    JobKind.BACKUP: "CreateBaseBackup",
    JobKind.DELETE_BACKUP: "DeleteBaseBackup",
    JobKind.DELETE_STANZA: "DeleteBackupData",
    JobKind.CLONE: "CloneDBInstance",
    JobKind.RESIZE: "ModifyDBInstanceSpec",
    JobKind.MODIFY_PARAMETERS: "ModifyDBInstanceParameters",
    flows.CREATE_GROUP: "CreateReadOnlyGroup",
    flows.ADD_TO_GROUP: "AddDBInstanceToReadOnlyGroup",
    flows.REMOVE_FROM_GROUP: "RemoveDBInstanceFromReadOnlyGroup",
    flows.MOVE_TO_GROUP: "ModifyDBInstanceReadOnlyGroup",
    flows.DELETE_GROUP: "DeleteReadOnlyGroup",
}


def task_type(kind: str) -> str:
    return TASK_TYPES.get(kind) or "".join(word.capitalize() for word in kind.split("_"))


def task(job: Job, instance_code: str, steps: Sequence[str] = ()) -> f.TaskSet:
    """``TaskSet``. ``steps`` are the names of the job's steps in order: ``CurrentStep`` is the name of
    the one running (the last one once the job has ended) and ``AllSteps`` the JSON list the API's
    examples show (``[{"StepId": 1, "StepName": "..."}, ...]``); both "" without steps."""
    current = steps[min(job.step, len(steps) - 1)] if steps else ""
    all_steps = json.dumps([{"StepId": n, "StepName": name} for n, name in enumerate(steps, 1)],
                           ensure_ascii=False) if steps else ""
    return {
        "TaskId": task_number(job.id), "TaskType": task_type(job.kind), "DBInstanceId": instance_code,
        "StartTime": time_text(job.started_at or job.created_at), "EndTime": time_text(job.ended_at, ""),
        "Status": _TASK_STATUS[job.state], "Progress": job.progress,
        "TaskDetail": {"CurrentStep": current, "AllSteps": all_steps, "Input": "", "Output": "",
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
