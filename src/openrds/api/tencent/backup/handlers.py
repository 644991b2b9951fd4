"""The backup actions of the Tencent face: each is parse -> call :class:`openrds.services.backups.BackupService`
-> present.

What only this face knows is translated here: filter names, ``OrderBy`` words, ``BackupType``,
times in the face's zone (:func:`openrds.api.tencent.presenters.parse_tencent_time`) and the request
parameter a domain error names. The rules (retention bounds, periods, which set may go, what a clone
may be) are the services' and the domain's.

Actions of the API's backup part that mean nothing on this service stay ``UnsupportedOperation``
(not served here): ``DeleteLogBackup`` (pgBackRest keeps WAL as one archive per instance, pruned by
retention, never by hand), ``RestoreDBInstanceObjects``, ``DescribeBackupDownloadRestriction`` /
``ModifyBackupDownloadRestriction`` (links are bearer links, see :mod:`openrds.api.download_links`),
``DescribeDBBackups`` (superseded by DescribeBaseBackups) and the cross-region backup actions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

from openrds.api.download_links import DownloadGrant
from openrds.api.downloads import exporter_of, signer_for
from openrds.api.tencent import presenters as present
from openrds.api.tencent.backup import fields as f
from openrds.api.tencent.backup import presenters as show
from openrds.api.tencent.backup import schemas as s
from openrds.api.tencent.handlers import Filter, _filtered, _flag
from openrds.api.tencent.protocol import ActionContext
from openrds.container import Container
from openrds.domain.backups import BackupQuery, PeriodType, PlanChange, PlanType, SummaryQuery
from openrds.domain.errors import BackupDenied, InvalidInput, OpenRDSError
from openrds.domain.model import Network, Tag
from openrds.domain.states import Lifecycle
from openrds.services.backups import CloneOrder

MAX_LIMIT = 100
#: DescribeBackupDownloadURL ``URLExpireTime``, hours.
DEFAULT_LINK_HOURS, MAX_LINK_HOURS = 12, 36

_BACKUP_ORDER = {"StartTime": "started", "FinishTime": "finished", "Size": "size"}
_SUMMARY_ORDER = {
    "TotalBackupSize": "total",
    "LogBackupSize": "log",
    "ManualBaseBackupSize": "manual",
    "AutoBaseBackupSize": "auto",
}
#: ``db-instance-status`` values (``DBInstanceStatus``) -> lifecycles, the inverse of the face's presenter.
_STATUS_LIFECYCLES: Mapping[str, tuple[str, ...]] = {
    "creating": (Lifecycle.CREATING.value,),
    "running": (Lifecycle.RUNNING.value,),
    "restarting": (Lifecycle.RESTARTING.value,),
    "isolating": (Lifecycle.ISOLATING.value,),
    "isolated": (Lifecycle.ISOLATED.value,),
    "disisolating": (Lifecycle.DISISOLATING.value,),
    "deleting": (Lifecycle.DELETING.value,),
    "recycled": (Lifecycle.DELETED.value,),
    "offline": (Lifecycle.FAILED.value,),
}


def _status(value: str) -> tuple[str, ...]:
    if value not in _STATUS_LIFECYCLES:
        raise InvalidInput(f"db-instance-status values are {', '.join(_STATUS_LIFECYCLES)}", field="Filters.Values")
    return _STATUS_LIFECYCLES[value]


#: Filters of the listings -> fields of :class:`BackupQuery` / :class:`SummaryQuery`.
_INSTANCE_FILTERS: Mapping[str, Filter] = {
    "db-instance-id": Filter("instance_ids"),
    "db-instance-name": Filter("instance_names"),
    "db-instance-ip": Filter("instance_ips"),
}
BASE_BACKUP_FILTERS: Mapping[str, Filter] = {
    **_INSTANCE_FILTERS,
    "base-backup-id": Filter("backup_ids"),
    "db-instance-status": Filter("instance_states", _status),
}
LOG_BACKUP_FILTERS: Mapping[str, Filter] = {
    **_INSTANCE_FILTERS,
    "db-instance-status": Filter("instance_states", _status),
}

#: Domain field names (``OpenRDSError.field``) -> this area's request parameters. Per action where the
#: same domain field is a different parameter (a backup id is ``BaseBackupId``, ``BackupSetId`` or ``BackupId``).
_PARAMETERS: Mapping[str, str] = {
    "plan_id": "PlanId",
    "plan_name": "PlanName",
    "backup_period_type": "BackupPeriodType",
    "backup_period": "BackupPeriod",
    "backup_start_time": "MinBackupStartTime",
    "base_backup_retention_period": "BaseBackupRetentionPeriod",
    "log_backup_retention_period": "LogBackupRetentionPeriod",
    "backup_method": "BackupMethod",
    "backup_id": "BaseBackupId",
    "expire_time": "NewExpireTime",
    "expire_at": "NewExpireTime",
    "recovery_target_time": "RecoveryTargetTime",
    "target_time": "RecoveryTargetTime",
}


@contextmanager
def _parameters(**overrides: str) -> Iterator[None]:
    """Domain errors raised inside name this area's request parameter (see :data:`_PARAMETERS`)."""
    try:
        yield
    except OpenRDSError as exc:
        if exc.field is not None:
            exc.field = overrides.get(exc.field) or _PARAMETERS.get(exc.field, exc.field)
        raise


def _limit(value: int | None) -> int:
    limit = value or 10
    if limit > MAX_LIMIT:
        raise InvalidInput(f"Limit must be between 1 and {MAX_LIMIT}", field="Limit")
    return limit


def _descending(value: str | None, default: str) -> bool:
    if value is not None and value.lower() not in ("asc", "desc"):
        raise InvalidInput("OrderByType must be asc or desc", field="OrderByType")
    return (value or default).lower() == "desc"


def _time_of_day(text: str | None, field: str) -> time | None:
    """``hh:mm:ss`` (or ``hh:mm``) of a plan window; None when not given."""
    if text is None:
        return None
    value = text.strip()
    try:
        if len(value) in (5, 8) and value[2:3] == ":":
            return time.fromisoformat(value)
    except ValueError:
        pass
    raise InvalidInput(f"{field} must be a time of day hh:mm:ss, got {text[:40]!r}", field=field)


def _period_type(text: str | None) -> PeriodType | None:
    if text is None:
        return None
    try:
        return PeriodType(text)
    except ValueError:
        raise InvalidInput("BackupPeriodType must be week or month", field="BackupPeriodType") from None


def _one_of(backup_set_id: str | None, target_time: str | None) -> None:
    """CloneDBInstance and DescribeCloneDBInstanceSpec take exactly one of the two."""
    if backup_set_id and target_time:
        raise InvalidInput("give either BackupSetId or RecoveryTargetTime, not both", field="RecoveryTargetTime")
    if not backup_set_id and not target_time:
        raise InvalidInput("give BackupSetId or RecoveryTargetTime", field="BackupSetId")


class BackupActions:
    """The backup handlers, bound to one container."""

    def __init__(self, container: Container) -> None:
        self.c = container
        self._links = signer_for(container)

    # --- helpers ---------------------------------------------------------------------------------
    def _zone_offset(self) -> int:
        return show.offset_minutes(self.c.settings.tencent_tz, self.c.clock.now())

    def _plan_offset(self, tenant_id: str, instance: str, plan_id: str | None) -> int:
        """The offset the plan's window is written in (the default plan's for ``None`` or a new plan); the
        face's when there is no such plan (the service then says why)."""
        try:
            plans = self.c.backups.describe_plans(tenant_id, instance)
        except OpenRDSError:
            return self._zone_offset()
        for plan in plans:
            if (plan.id == plan_id) if plan_id else (plan.plan_type is PlanType.DEFAULT):
                return plan.utc_offset_minutes
        return self._zone_offset()

    def _window(self, text: str | None, field: str, offset: int) -> time | None:
        """A window time of the request (the face's zone) in the plan's offset ``offset``."""
        value = _time_of_day(text, field)
        if value is None:
            return None
        moment = datetime.combine(date(2000, 1, 3), value) + timedelta(minutes=offset - self._zone_offset())
        return moment.time()

    def _query(
        self, req: s.DescribeBaseBackupsRequest | s.DescribeLogBackupsRequest, table: Mapping[str, Filter]
    ) -> BackupQuery:
        values = _filtered(req.filters, table)
        if req.order_by is not None and req.order_by not in _BACKUP_ORDER:
            raise InvalidInput(f"OrderBy must be one of {', '.join(_BACKUP_ORDER)}", field="OrderBy")
        # Without MinFinishTime nothing is cut by age (Tencent: the last 7 days), so that a backup being
        # taken - no finish time yet - is listed while callers poll for it; retention bounds the list.
        finished_from = (
            present.parse_tencent_time(req.min_finish_time, "MinFinishTime") if req.min_finish_time else None
        )
        finished_to = present.parse_tencent_time(req.max_finish_time, "MaxFinishTime") if req.max_finish_time else None
        states = tuple(state for group in values.pop("instance_states", ()) for state in group)
        return BackupQuery(
            finished_from=finished_from,
            finished_to=finished_to,
            instance_states=states,
            order_by=_BACKUP_ORDER[req.order_by or "StartTime"],
            descending=_descending(req.order_by_type, "desc"),
            offset=req.offset or 0,
            limit=_limit(req.limit),
            **values,
        )

    # --- base backups ----------------------------------------------------------------------------
    def create_base_backup(self, ctx: ActionContext, req: s.CreateBaseBackupRequest) -> f.CreateBaseBackupResponse:
        with _parameters():
            started = self.c.backups.create_backup(ctx.caller.tenant_id, req.db_instance_id, req.backup_method)
        return {"BaseBackupId": started.backup.id}

    def describe_base_backups(
        self, ctx: ActionContext, req: s.DescribeBaseBackupsRequest
    ) -> f.DescribeBaseBackupsResponse:
        page = self.c.backups.describe_backups(ctx.caller.tenant_id, self._query(req, BASE_BACKUP_FILTERS))
        return {
            "TotalCount": page.total,
            "BaseBackupSet": [show.base_backup(b, page.codes.get(b.instance_id, b.instance_id)) for b in page.items],
        }

    def delete_base_backup(self, ctx: ActionContext, req: s.DeleteBaseBackupRequest) -> f.DeleteBaseBackupResponse:
        with _parameters():
            self.c.backups.delete_backup(ctx.caller.tenant_id, req.db_instance_id, req.base_backup_id)
        return {}

    def modify_base_backup_expire_time(
        self, ctx: ActionContext, req: s.ModifyBaseBackupExpireTimeRequest
    ) -> f.ModifyBaseBackupExpireTimeResponse:
        expire_at = present.parse_tencent_time(req.new_expire_time, "NewExpireTime")
        with _parameters():
            self.c.backups.modify_backup_expire_time(
                ctx.caller.tenant_id, req.db_instance_id, req.base_backup_id, expire_at
            )
        return {}

    # --- plans -----------------------------------------------------------------------------------
    def describe_backup_plans(
        self, ctx: ActionContext, req: s.DescribeBackupPlansRequest
    ) -> f.DescribeBackupPlansResponse:
        plans = self.c.backups.describe_plans(ctx.caller.tenant_id, req.db_instance_id)
        now = self.c.clock.now()
        return {"Plans": [show.plan(p, self.c.settings.tencent_tz, now) for p in plans]}

    def create_backup_plan(self, ctx: ActionContext, req: s.CreateBackupPlanRequest) -> f.CreateBackupPlanResponse:
        offset = self._plan_offset(ctx.caller.tenant_id, req.db_instance_id, None)
        change = PlanChange(
            name=req.plan_name,
            period_type=_period_type(req.backup_period_type),
            period=tuple(req.backup_period),
            window_start=self._window(req.min_backup_start_time, "MinBackupStartTime", offset),
            window_end=self._window(req.max_backup_start_time, "MaxBackupStartTime", offset),
            base_retention_days=req.base_backup_retention_period,
            # CreateBackupPlan has no log retention: a custom plan keeps its WAL as long as its fulls, so
            # that every set it keeps stays restorable to any instant after it.
            log_retention_days=req.base_backup_retention_period,
            utc_offset_minutes=offset,
        )
        with _parameters():
            created = self.c.backups.create_plan(ctx.caller.tenant_id, req.db_instance_id, change)
        return {"PlanId": created.id}

    def modify_backup_plan(self, ctx: ActionContext, req: s.ModifyBackupPlanRequest) -> f.ModifyBackupPlanResponse:
        offset = self._plan_offset(ctx.caller.tenant_id, req.db_instance_id, req.plan_id or None)
        change = PlanChange(
            name=req.plan_name,
            period=tuple(req.backup_period) if req.backup_period is not None else None,
            window_start=self._window(req.min_backup_start_time, "MinBackupStartTime", offset),
            window_end=self._window(req.max_backup_start_time, "MaxBackupStartTime", offset),
            base_retention_days=req.base_backup_retention_period,
            log_retention_days=req.log_backup_retention_period,
            method=req.backup_method,
            utc_offset_minutes=offset,
        )
        with _parameters():
            self.c.backups.modify_plan(ctx.caller.tenant_id, req.db_instance_id, req.plan_id or None, change)
        return {}

    def delete_backup_plan(self, ctx: ActionContext, req: s.DeleteBackupPlanRequest) -> f.DeleteBackupPlanResponse:
        with _parameters():
            self.c.backups.delete_plan(ctx.caller.tenant_id, req.db_instance_id, req.plan_id)
        return {}

    # --- overview, summaries, log backups ---------------------------------------------------------
    def describe_backup_overview(
        self, ctx: ActionContext, _req: s.DescribeBackupOverviewRequest
    ) -> f.DescribeBackupOverviewResponse:
        return show.overview(self.c.backups.overview(ctx.caller.tenant_id))

    def describe_backup_summaries(
        self, ctx: ActionContext, req: s.DescribeBackupSummariesRequest
    ) -> f.DescribeBackupSummariesResponse:
        values = _filtered(req.filters, _INSTANCE_FILTERS)
        if req.order_by is not None and req.order_by not in _SUMMARY_ORDER:
            raise InvalidInput(f"OrderBy must be one of {', '.join(_SUMMARY_ORDER)}", field="OrderBy")
        query = SummaryQuery(
            order_by=_SUMMARY_ORDER.get(req.order_by or ""),
            descending=_descending(req.order_by_type, "asc"),
            offset=req.offset or 0,
            limit=_limit(req.limit),
            **values,
        )
        page = self.c.backups.summaries(ctx.caller.tenant_id, query)
        return {
            "BackupSummarySet": [show.summary(x, page.codes.get(x.instance_id, x.instance_id)) for x in page.items],
            "TotalCount": page.total,
        }

    def describe_log_backups(
        self, ctx: ActionContext, req: s.DescribeLogBackupsRequest
    ) -> f.DescribeLogBackupsResponse:
        page = self.c.backups.describe_log_backups(ctx.caller.tenant_id, self._query(req, LOG_BACKUP_FILTERS))
        return {
            "TotalCount": page.total,
            "LogBackupSet": [show.log_backup(b, page.codes.get(b.instance_id, b.instance_id)) for b in page.items],
        }

    # --- recovery window and download links -------------------------------------------------------
    def describe_available_recovery_time(
        self, ctx: ActionContext, req: s.DescribeAvailableRecoveryTimeRequest
    ) -> f.DescribeAvailableRecoveryTimeResponse:
        return show.recovery_time(self.c.backups.recovery_window(ctx.caller.tenant_id, req.db_instance_id))

    def describe_backup_download_url(
        self, ctx: ActionContext, req: s.DescribeBackupDownloadURLRequest
    ) -> f.DescribeBackupDownloadURLResponse:
        """A link to one finished base backup, as a tar of the data directory it restores (see
        :mod:`openrds.api.downloads`). Log backups are WAL segments inside the repository, not one file:
        refused, naming ``BackupType``. Download restrictions other than ``NONE`` cannot be enforced on a
        bearer link: refused, naming the field, rather than ignored."""
        if req.backup_type not in ("BaseBackup", "LogBackup"):
            raise InvalidInput("BackupType must be BaseBackup or LogBackup", field="BackupType")
        if req.backup_type == "LogBackup":
            raise InvalidInput(
                "log backups are WAL kept inside the repository and cannot be downloaded here;"
                " clone the instance to a point in time instead",
                field="BackupType",
            )
        hours = req.url_expire_time or DEFAULT_LINK_HOURS
        if hours > MAX_LINK_HOURS:
            raise InvalidInput(f"URLExpireTime must be between 0 and {MAX_LINK_HOURS} hours", field="URLExpireTime")
        restriction = req.backup_download_restriction
        if restriction is not None and (restriction.restriction_type or "NONE") != "NONE":
            raise InvalidInput(
                "download restrictions are not offered: a link is valid for whoever holds it"
                " until it expires; only NONE is accepted",
                field="BackupDownloadRestriction.RestrictionType",
            )
        if exporter_of(self.c) is None:
            raise BackupDenied("this service's engine cannot export backups", field="BackupId")
        with _parameters(backup_id="BackupId"):
            backup = self.c.backups.get_backup(ctx.caller.tenant_id, req.db_instance_id, req.backup_id)
        if not backup.kept:
            raise BackupDenied(
                f"backup {backup.id} is {backup.state.value}: only a finished backup can be downloaded",
                field="BackupId",
            )
        expires = int(self.c.clock.now().timestamp()) + hours * 3600
        grant = DownloadGrant(ctx.caller.tenant_id, backup.instance_id, "base", backup.id, expires)
        return {"BackupDownloadURL": self._links.link(grant)}

    # --- clones ----------------------------------------------------------------------------------
    def _target(self, backup_set_id: str | None, target_time: str | None) -> datetime | None:
        _one_of(backup_set_id, target_time)
        return present.parse_tencent_time(target_time, "RecoveryTargetTime") if target_time else None

    def describe_clone_db_instance_spec(
        self, ctx: ActionContext, req: s.DescribeCloneDBInstanceSpecRequest
    ) -> f.DescribeCloneDBInstanceSpecResponse:
        target_time = self._target(req.backup_set_id, req.recovery_target_time)
        with _parameters(backup_id="BackupSetId"):
            spec = self.c.backups.clone_spec(
                ctx.caller.tenant_id, req.db_instance_id, backup_id=req.backup_set_id or None, target_time=target_time
            )
        return {"MinSpecCode": spec.min_spec_code, "MinStorage": spec.min_storage_gb}

    def clone_db_instance(self, ctx: ActionContext, req: s.CloneDBInstanceRequest) -> f.CloneDBInstanceResponse:
        target_time = self._target(req.backup_set_id, req.recovery_target_time)
        assert ctx.region is not None  # the router refuses region-less calls to these actions
        zone = next((node.zone for node in req.db_node_set or () if node.role == "Primary"), None)
        order = CloneOrder(
            region=ctx.region,
            source=req.db_instance_id,
            spec_code=req.spec_code,
            storage_gb=req.storage,
            backup_id=req.backup_set_id or None,
            target_time=target_time,
            period_months=req.period,
            charge_type=req.instance_charge_type,
            zone=zone,
            project_id=req.project_id,
            name=req.name or "",
            network=Network(req.vpc_id, req.subnet_id, tuple(req.security_group_ids or ())),
            auto_renew=_flag(req.auto_renew_flag, "AutoRenewFlag"),
            deletion_protection=bool(req.deletion_protection),
            tags=tuple(Tag(t.tag_key, t.tag_value) for t in req.tag_list or ()),
            extra={k: v for k, v in (("ActivityId", req.activity_id), ("SyncMode", req.sync_mode)) if v is not None},
            voucher_ids=(req.voucher_ids,) if req.voucher_ids else (),
            auto_voucher=_flag(req.auto_voucher, "AutoVoucher"),
        )
        with _parameters(backup_id="BackupSetId"):
            created = self.c.backups.clone(ctx.caller.tenant_id, order)
        return {
            "DealName": next(iter(created.deal_names), ""),
            "BillId": created.bill_id,
            "DBInstanceId": created.instances[0].code,
        }
