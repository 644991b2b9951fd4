"""Backup domain values -> the Tencent shapes of :mod:`.fields`.

Times are written like every other time of the face (:func:`openrds.api.tencent.presenters.tencent_time`,
in the face's zone). A plan's start window is a time of day in the plan's own offset (the face that
wrote it): it is shown converted to the face's zone.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone, tzinfo

from openrds.api.tencent import presenters as present
from openrds.api.tencent.backup import fields as f
from openrds.domain.backups import (
    Backup,
    BackupOverview,
    BackupPlan,
    BackupSummary,
    LogBackup,
    RecoveryWindow,
    whole_seconds,
)

#: Log backups are WAL archived continuously by pgBackRest: physical, taken automatically.
LOG_METHOD, LOG_MODE = "physical", "automatic"


def offset_minutes(zone: tzinfo, now: datetime) -> int:
    """The face zone's offset from UTC at ``now``, in minutes (what a plan written through it records)."""
    offset = now.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def time_of_day(value: time, offset_minutes_from: int, zone: tzinfo, today: datetime) -> str:
    """``hh:mm:ss`` of a plan's time of day (in ``offset_minutes_from``), as seen in ``zone`` on ``today``."""
    moment = datetime.combine(today.date(), value, tzinfo=timezone(timedelta(minutes=offset_minutes_from)))
    return moment.astimezone(zone).strftime("%H:%M:%S")


def base_backup(b: Backup, code: str) -> f.BaseBackup:
    return {
        "DBInstanceId": code,
        "Id": b.id,
        "Name": b.name,
        "BackupMethod": b.method.value,
        "BackupMode": b.mode.value,
        "State": b.state.value,
        "Size": b.size_bytes,
        "StartTime": present.tencent_time(b.started_at or b.created_at),
        "FinishTime": present.tencent_time(b.finished_at),
        "ExpireTime": present.tencent_time(b.expire_at),
    }


def log_backup(b: LogBackup, code: str) -> f.LogBackup:
    return {
        "DBInstanceId": code,
        "Id": b.id,
        "Name": b.name,
        "BackupMethod": LOG_METHOD,
        "BackupMode": LOG_MODE,
        "State": b.state.value,
        "Size": b.size_bytes,
        "StartTime": present.tencent_time(b.started_at),
        "FinishTime": present.tencent_time(b.finished_at),
        "ExpireTime": present.tencent_time(b.expire_at),
    }


def plan(p: BackupPlan, zone: tzinfo, now: datetime) -> f.BackupPlan:
    """``BackupPeriod`` is a JSON list in a string, as the API's own example shows it
    (``"[\\"monday\\",\\"thursday\\"]"``)."""
    return {
        "BackupPeriod": json.dumps(list(p.period)),
        "BaseBackupRetentionPeriod": p.base_retention_days,
        "MinBackupStartTime": time_of_day(p.window_start, p.utc_offset_minutes, zone, now),
        "MaxBackupStartTime": time_of_day(p.window_end, p.utc_offset_minutes, zone, now),
        "BackupMethod": p.method.value,
        "PlanId": p.id,
        "PlanName": p.name,
        "LogBackupRetentionPeriod": p.log_retention_days,
        "CreatedTime": present.tencent_time(p.created_at),
        "UpdatedTime": present.tencent_time(p.updated_at),
        "PlanType": p.plan_type.value,
        "BackupPeriodType": p.period_type.value,
    }


def summary(s: BackupSummary, code: str) -> f.BackupSummary:
    return {
        "DBInstanceId": code,
        "LogBackupCount": s.log_count,
        "LogBackupSize": s.log_bytes,
        "ManualBaseBackupCount": s.manual_count,
        "ManualBaseBackupSize": s.manual_bytes,
        "AutoBaseBackupCount": s.auto_count,
        "AutoBaseBackupSize": s.auto_bytes,
        "TotalBackupCount": s.total_count,
        "TotalBackupSize": s.total_bytes,
    }


def overview(o: BackupOverview) -> f.DescribeBackupOverviewResponse:
    t = o.totals
    return {
        "TotalFreeSize": o.free_bytes,
        "UsedFreeSize": o.used_free_bytes,
        "UsedBillingSize": o.billable_bytes,
        "LogBackupCount": t.log_count,
        "LogBackupSize": t.log_bytes,
        "ManualBaseBackupCount": t.manual_count,
        "ManualBaseBackupSize": t.manual_bytes,
        "AutoBaseBackupCount": t.auto_count,
        "AutoBaseBackupSize": t.auto_bytes,
    }


def recovery_time(w: RecoveryWindow) -> f.DescribeAvailableRecoveryTimeResponse:
    """Both ends restorable (:func:`whole_seconds`); nothing restorable yet shows the face's "no time"."""
    ends = whole_seconds(w)
    if ends is None:
        return {"RecoveryBeginTime": present.NO_TIME, "RecoveryEndTime": present.NO_TIME}
    return {"RecoveryBeginTime": present.tencent_time(ends[0]), "RecoveryEndTime": present.tencent_time(ends[1])}
