"""Backups on the Huawei RDS v1 face: the automated backup policy, manual backups, and restoring to a
new instance (``restorePoint`` on ``POST .../instances``). Parse -> call
:class:`openrds.services.backups.BackupService` -> present, like :mod:`.routes`.

Paths (each also under ``/rds/v1/{project_id}``, like every v1 path):

- ``GET|PUT /v1/{project_id}/instances/{instanceId}/backups/policy``: ``{"policy": {"keepday", "starttime"}}``
  is the instance's default backup plan; ``starttime`` is UTC (``hh:mm:ss`` or ``hh:mm``) and starts a
  one-hour window, as Huawei documents; ``keepday`` is 1-732 days, and backups are kept at least
  :data:`MIN_KEEP_DAYS` whatever is asked (a window needs a full and its WAL; ``0``, "no policy", keeps
  the minimum too: automated backups cannot be turned off here).
- ``POST /v1/{project_id}/backups`` ``{"backup": {"name", "instance", "description"}}``: a manual full backup.
- ``GET /v1/{project_id}/backups``: every base backup of the project's instances (``backuptype`` ``"1"``
  manual, ``"0"`` automatic); ``size`` in GB.
- ``DELETE /v1/{project_id}/backups/{backupId}``: ``{}``.

A policy given at create (``backupStrategy``) becomes the new instance's plan the same way. The
instance body shows ``backupStrategy`` from the plan (:func:`strategy_of`).
"""

# No ``from __future__ import annotations``: FastAPI resolves the routes' annotations (``CallerDep``,
# local to add_routes) at run time.
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from typing import Annotated, Any, TypedDict

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from openrds.api.huawei import presenters as present
from openrds.api.huawei.auth import Caller
from openrds.api.huawei.fields import BackupStrategy
from openrds.api.huawei.schemas import EXTRA_KEY, HuaweiModel, InstanceBody, check_huawei_name
from openrds.api.huawei.wire import json_object, ok, parse
from openrds.container import Container
from openrds.domain.backups import (
    MIN_RETENTION_DAYS,
    Backup,
    BackupPlan,
    BackupQuery,
    BackupState,
    PlanChange,
    PlanType,
)
from openrds.domain.errors import BackupNotFound, InvalidInput, MissingInput, NotFound
from openrds.domain.model import Instance, Network
from openrds.domain.states import ChargeType
from openrds.services.backups import CloneOrder

#: Backups are kept at least this long, whatever ``keepday`` says (the domain's minimum retention).
MIN_KEEP_DAYS = MIN_RETENTION_DAYS
MAX_KEEP_DAYS = 732
#: Huawei documents the backup as starting "within one hour after the backup start time".
WINDOW = timedelta(minutes=59)
#: Backups read per page while listing (the service's bound).
PAGE = 100
_DESCRIPTION_FORBIDDEN = re.compile(r"[!<>='&\"]")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")

_STATUS = {
    BackupState.PENDING: "BUILDING",
    BackupState.RUNNING: "BUILDING",
    BackupState.FINISHED: "COMPLETED",
    BackupState.FAILED: "FAILED",
    BackupState.CANCELED: "FAILED",
    BackupState.DELETING: "DELETING",
    BackupState.DELETED: "DELETED",
}


# --- request bodies ----------------------------------------------------------------------------------
class Policy(HuaweiModel):
    keepday: int = Field(ge=0, le=MAX_KEEP_DAYS)
    starttime: str = Field(pattern=_TIME_OF_DAY.pattern)


class PolicyRequest(HuaweiModel):
    policy: Policy


class BackupBody(HuaweiModel):
    name: str
    instance: str
    description: str = Field("", max_length=256)


class CreateBackupRequest(HuaweiModel):
    backup: BackupBody


# --- answers -------------------------------------------------------------------------------------------
class DataStore(TypedDict):
    type: str
    version: str
    version_id: str


class BackupShape(TypedDict):
    """One backup as ``GET .../backups`` lists it (``POST`` answers the same object)."""

    id: str
    name: str
    description: str
    locationRef: str | None
    created: str
    updated: str | None
    size: float | None  # GB; null while it is being taken
    status: str
    backuptype: str
    dataStore: DataStore
    instance_id: str
    parent_id: str | None


class PolicyShape(TypedDict):
    keepday: int
    starttime: str


# --- translation -------------------------------------------------------------------------------------
def _time_of_day(text: str) -> time:
    return time.fromisoformat(text if len(text) == 8 else text + ":00")


def plan_change(keepday: int, starttime: str, offset_minutes: int) -> PlanChange:
    """A v1 policy as a change of the default plan: a one-hour window from ``starttime`` (UTC), written in
    the plan's own offset ``offset_minutes`` (ending at 23:59 at the latest), base and log backups kept
    ``keepday`` days (at least :data:`MIN_KEEP_DAYS`)."""
    utc = datetime.combine(datetime(2000, 1, 3).date(), _time_of_day(starttime), tzinfo=UTC)
    start = utc.astimezone(timezone(timedelta(minutes=offset_minutes))).time()
    end_minutes = min(start.hour * 60 + start.minute + int(WINDOW.total_seconds() // 60), 23 * 60 + 59)
    days = max(keepday, MIN_KEEP_DAYS)
    return PlanChange(
        window_start=start,
        window_end=time(end_minutes // 60, end_minutes % 60),
        base_retention_days=days,
        log_retention_days=days,
        utc_offset_minutes=offset_minutes,
    )


def _offset_minutes(zone: tzinfo, now: datetime) -> int:
    offset = now.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def _utc_start(plan: BackupPlan, today: datetime) -> time:
    moment = datetime.combine(today.date(), plan.window_start, tzinfo=plan.zone).astimezone(UTC)
    return moment.time()


def strategy_of(plan: BackupPlan, recorded: BackupStrategy | None, today: datetime) -> BackupStrategy:
    """The policy the instance body and ``GET .../backups/policy`` show: the default plan's start (UTC)
    and retention. Where the plan is still what a v1 policy made of it (same start minute, retention
    ``max(keepDays, 7)``), the words the caller sent are shown back (``keepDays: 3``, seconds)."""
    start = _utc_start(plan, today)
    shown: BackupStrategy = {"startTime": start.strftime("%H:%M:%S"), "keepDays": plan.base_retention_days}
    if recorded is not None:
        sent = _time_of_day(recorded["startTime"]) if _TIME_OF_DAY.match(recorded["startTime"]) else None
        if (
            sent is not None
            and (sent.hour, sent.minute) == (start.hour, start.minute)
            and max(int(recorded["keepDays"]), MIN_KEEP_DAYS) == plan.base_retention_days
        ):
            shown = {"startTime": recorded["startTime"], "keepDays": int(recorded["keepDays"])}
    return shown


def _size_gb(b: Backup) -> float | None:
    return round(b.size_bytes / 1024**3, 6) if b.state is BackupState.FINISHED else None


class BackupHandlers:
    """The v1 backup handlers over one container; ``find`` and ``every`` are the face's instance lookups in
    the caller's project (:meth:`openrds.api.huawei.routes.RdsHandlers.find`, ``.every``)."""

    def __init__(
        self, container: Container, find: Callable[[Caller, str], Instance], every: Callable[[Caller], list[Instance]]
    ) -> None:
        self.c = container
        self.find = find
        self.every = every

    # --- presentation ----------------------------------------------------------------------------
    def _datastore(self, instance: Instance) -> DataStore:
        version_id = next((v.datastore_id for v in self.c.catalogue.versions if v.full == instance.version), "")
        return {"type": "PostgreSQL", "version": instance.version, "version_id": version_id}

    def _backup(self, b: Backup, instance: Instance, description: str = "") -> BackupShape:
        return {
            "id": b.id,
            "name": b.name,
            "description": description,
            "locationRef": "",
            "created": present.timestamp(b.created_at),
            "updated": present.timestamp(b.finished_at) or None,
            "size": _size_gb(b),
            "status": _STATUS[b.state],
            "backuptype": "0" if b.mode.value == "automatic" else "1",
            "dataStore": self._datastore(instance),
            "instance_id": instance.id,
            "parent_id": None,
        }

    def default_plan(self, caller: Caller, instance: Instance) -> BackupPlan | None:
        plans = self.c.backups.describe_plans(caller.tenant_id, instance.id)
        return next((p for p in plans if p.plan_type is PlanType.DEFAULT), None)

    def with_plan(self, caller: Caller, instance: Instance) -> Instance:
        """``instance`` with the ``backupStrategy`` its body shows taken from its default plan (a primary);
        others unchanged."""
        plan = self.default_plan(caller, instance)
        if plan is None:
            return instance
        extra = dict(instance.extra.get(EXTRA_KEY, {}))
        extra["backupStrategy"] = strategy_of(plan, extra.get("backupStrategy"), self.c.clock.now())
        return replace(instance, extra={**instance.extra, EXTRA_KEY: extra})

    # --- policy ----------------------------------------------------------------------------------
    def show_policy(self, caller: Caller, instance_id: str) -> JSONResponse:
        instance = self.find(caller, instance_id)
        plan = self.default_plan(caller, instance)
        if plan is None:  # a read replica: its master's backups cover it; Huawei shows "no policy"
            return ok({"policy": {"keepday": 0, "starttime": "00:00:00"}})
        strategy = strategy_of(plan, instance.extra.get(EXTRA_KEY, {}).get("backupStrategy"), self.c.clock.now())
        policy: PolicyShape = {"keepday": strategy["keepDays"], "starttime": strategy["startTime"]}
        return ok({"policy": policy})

    def set_policy(self, caller: Caller, instance_id: str, body: dict[str, Any]) -> JSONResponse:
        policy = parse(PolicyRequest, body).policy
        instance = self.find(caller, instance_id)
        self._set_plan(caller, instance, policy.keepday, policy.starttime)
        return ok({})

    def _set_plan(self, caller: Caller, instance: Instance, keepday: int, starttime: str) -> None:
        plan = self.default_plan(caller, instance)
        # No default plan yet (made on first use): the service writes it in the Tencent face's zone.
        now = self.c.clock.now()
        offset = plan.utc_offset_minutes if plan is not None else _offset_minutes(self.c.settings.tencent_tz, now)
        self.c.backups.modify_plan(caller.tenant_id, instance.id, None, plan_change(keepday, starttime, offset))

    def apply_strategy(self, caller: Caller, instance: Instance, body: InstanceBody) -> None:
        """``backupStrategy`` of a create, made the new primary's default plan."""
        if body.backup_strategy is not None:
            self._set_plan(caller, instance, body.backup_strategy.keep_days, body.backup_strategy.start_time)

    # --- manual backups ----------------------------------------------------------------------------
    def create_backup(self, caller: Caller, body: dict[str, Any]) -> JSONResponse:
        req = parse(CreateBackupRequest, body).backup
        check_huawei_name(req.name)
        if _DESCRIPTION_FORBIDDEN.search(req.description):
            raise InvalidInput("the description may not contain !<>='&\"", field="description")
        instance = self.find(caller, req.instance)
        started = self.c.backups.create_backup(caller.tenant_id, instance.id, None, name=req.name)
        return ok(
            {
                "backup": self._backup(started.backup, instance, req.description),
                "extendparam": {"jobs": [{"id": started.job.id}]},
            }
        )

    def _project_backups(self, caller: Caller, backup_ids: tuple[str, ...] = ()) -> list[tuple[Backup, Instance]]:
        """The tenant's base backups of the instances of the caller's project (region), newest first."""
        instances = {i.id: i for i in self.every(caller)}
        found: list[tuple[Backup, Instance]] = []
        offset = 0
        while True:
            page = self.c.backups.describe_backups(
                caller.tenant_id,
                BackupQuery(backup_ids=backup_ids, order_by="started", descending=True, offset=offset, limit=PAGE),
            )
            found += [(b, instances[b.instance_id]) for b in page.items if b.instance_id in instances]
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return found

    def list_backups(self, caller: Caller) -> JSONResponse:
        return ok({"backups": [self._backup(b, i) for b, i in self._project_backups(caller)]})

    def delete_backup(self, caller: Caller, backup_id: str) -> JSONResponse:
        matches = self._project_backups(caller, (backup_id,))
        if not matches:
            raise BackupNotFound(f"backup {backup_id} does not exist", field="backup_id")
        backup, instance = matches[0]
        self.c.backups.delete_backup(caller.tenant_id, instance.id, backup.id)
        return ok({})

    # --- restore to a new instance -------------------------------------------------------------------
    def restore(self, caller: Caller, body: InstanceBody) -> JSONResponse:
        """``POST .../instances`` with ``restorePoint``: a new primary from a backup (``backupRef`` wins when
        both are given) or a point in time (``restoreTime``, epoch milliseconds, with ``sourceInstanceId``)."""
        point = body.restore_point
        assert point is not None
        body.check_name()
        if body.volume is None:
            raise MissingInput("volume is required", field="volume")
        source_id: str | None = point.source_instance_id or None
        target_time: datetime | None = None
        if point.backup_ref:
            matches = self._project_backups(caller, (point.backup_ref,))
            if not matches:
                raise BackupNotFound(f"backup {point.backup_ref} does not exist", field="backup_id")
            source_id = matches[0][1].id
        elif point.restore_time is not None:
            if not source_id:
                raise MissingInput(
                    "sourceInstanceId is required with restoreTime", field="restorePoint.sourceInstanceId"
                )
            target_time = datetime.fromtimestamp(point.restore_time / 1000, UTC)
        else:
            raise MissingInput("restorePoint needs backupRef or restoreTime", field="restorePoint.backupRef")
        try:
            source = self.find(caller, source_id)
        except NotFound:
            raise InvalidInput(
                f"source instance {source_id} does not exist", field="restorePoint.sourceInstanceId"
            ) from None
        order = CloneOrder(
            region=caller.region,
            source=source.id,
            spec_code=body.flavor_ref,
            storage_gb=body.volume.size,
            backup_id=point.backup_ref or None,
            target_time=target_time,
            charge_type=ChargeType.POSTPAID.value,
            zone=body.availability_zone.split(",")[0] if body.availability_zone else None,
            name=body.name,
            network=Network(
                body.vpc or source.network.vpc_id,
                body.nics.subnet_id if body.nics else source.network.subnet_id,
                (body.security_group.id,) if body.security_group else source.network.security_group_ids,
            ),
            extra={
                EXTRA_KEY: {
                    "volumeType": body.volume.type,
                    "backupStrategy": source.extra.get(EXTRA_KEY, {}).get("backupStrategy")
                    or {"startTime": "00:00:00", "keepDays": MIN_KEEP_DAYS},
                }
            },
        )
        created = self.c.backups.clone(caller.tenant_id, order)
        job_ids = [created.job.id] if created.job else []
        return ok(present.accepted(created.instances[0], self.c.catalogue, job_ids), 202)


def add_routes(v1: APIRouter, handlers: BackupHandlers, caller_dependency: Callable[..., Caller]) -> None:
    """The v1 backup paths, on the face's v1 router (mounted under ``/v1`` and ``/rds/v1``)."""
    CallerDep = Annotated[Caller, Depends(caller_dependency)]
    Body = Annotated[dict[str, Any], Depends(json_object)]

    @v1.get("/{project_id}/instances/{instance_id}/backups/policy")
    def show_policy(caller: CallerDep, instance_id: str) -> JSONResponse:
        return handlers.show_policy(caller, instance_id)

    @v1.put("/{project_id}/instances/{instance_id}/backups/policy")
    def set_policy(caller: CallerDep, instance_id: str, body: Body) -> JSONResponse:
        return handlers.set_policy(caller, instance_id, body)

    @v1.post("/{project_id}/backups")
    def create_backup(caller: CallerDep, body: Body) -> JSONResponse:
        return handlers.create_backup(caller, body)

    @v1.get("/{project_id}/backups")
    def list_backups(caller: CallerDep) -> JSONResponse:
        return handlers.list_backups(caller)

    @v1.delete("/{project_id}/backups/{backup_id}")
    def delete_backup(caller: CallerDep, backup_id: str) -> JSONResponse:
        return handlers.delete_backup(caller, backup_id)
