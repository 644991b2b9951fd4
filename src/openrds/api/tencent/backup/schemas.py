"""Request models of the backup actions, one per action, under the rules of :mod:`openrds.api.tencent.schemas`.

Wire names, types and required flags are the SDK's (``tests/api_tencent_protocol/test_schemas.py``
checks them against ``models.py`` and tccli's ``api.json``); every list and string is bounded. Times
(``MinFinishTime``, ``NewExpireTime``, ``RecoveryTargetTime`` ...) are ``YYYY-MM-DD hh:mm:ss``
strings here; the handlers read them (:mod:`.times`), so a malformed one is ``InvalidParameterValue``
naming its field rather than a type error.
"""

from __future__ import annotations

from pydantic import Field

from openrds.api.tencent.schemas import (
    MAX_DB_NODES,
    MAX_FILTERS,
    MAX_IDS,
    MAX_SECURITY_GROUPS,
    MAX_TAGS,
    DBNode,
    Filter,
    Int64,
    Tag,
    TencentModel,
    UInt64,
)

#: ``BackupPeriod``: seven weekdays or 31 month days at most.
MAX_BACKUP_PERIOD = 31


# --- base backups --------------------------------------------------------------------------------
class CreateBaseBackupRequest(TencentModel):
    """CreateBaseBackup: a manual full backup of a running primary."""

    db_instance_id: str = Field(alias="DBInstanceId")
    backup_method: str | None = Field(None, alias="BackupMethod")


class DescribeBaseBackupsRequest(TencentModel):
    """DescribeBaseBackups: finished between Min/MaxFinishTime (default: the last 7 days), filtered, paged."""

    min_finish_time: str | None = Field(None, alias="MinFinishTime")
    max_finish_time: str | None = Field(None, alias="MaxFinishTime")
    filters: list[Filter] | None = Field(None, alias="Filters", max_length=MAX_FILTERS)
    limit: UInt64 | None = Field(None, alias="Limit")
    offset: UInt64 | None = Field(None, alias="Offset")
    order_by: str | None = Field(None, alias="OrderBy")
    order_by_type: str | None = Field(None, alias="OrderByType")


class DeleteBaseBackupRequest(TencentModel):
    """DeleteBaseBackup."""

    db_instance_id: str = Field(alias="DBInstanceId")
    base_backup_id: str = Field(alias="BaseBackupId")


class ModifyBaseBackupExpireTimeRequest(TencentModel):
    """ModifyBaseBackupExpireTime."""

    db_instance_id: str = Field(alias="DBInstanceId")
    base_backup_id: str = Field(alias="BaseBackupId")
    new_expire_time: str = Field(alias="NewExpireTime")


# --- plans ---------------------------------------------------------------------------------------
class DescribeBackupPlansRequest(TencentModel):
    """DescribeBackupPlans."""

    db_instance_id: str = Field(alias="DBInstanceId")


class CreateBackupPlanRequest(TencentModel):
    """CreateBackupPlan: a custom plan (the API allows ``BackupPeriodType`` ``month`` only)."""

    db_instance_id: str = Field(alias="DBInstanceId")
    plan_name: str = Field(alias="PlanName")
    backup_period_type: str = Field(alias="BackupPeriodType")
    backup_period: list[str] = Field(alias="BackupPeriod", max_length=MAX_BACKUP_PERIOD)
    min_backup_start_time: str | None = Field(None, alias="MinBackupStartTime")
    max_backup_start_time: str | None = Field(None, alias="MaxBackupStartTime")
    base_backup_retention_period: UInt64 | None = Field(None, alias="BaseBackupRetentionPeriod")


class ModifyBackupPlanRequest(TencentModel):
    """ModifyBackupPlan: the plan ``PlanId`` names, or the default plan."""

    db_instance_id: str = Field(alias="DBInstanceId")
    min_backup_start_time: str | None = Field(None, alias="MinBackupStartTime")
    max_backup_start_time: str | None = Field(None, alias="MaxBackupStartTime")
    base_backup_retention_period: UInt64 | None = Field(None, alias="BaseBackupRetentionPeriod")
    backup_period: list[str] | None = Field(None, alias="BackupPeriod", max_length=MAX_BACKUP_PERIOD)
    log_backup_retention_period: UInt64 | None = Field(None, alias="LogBackupRetentionPeriod")
    plan_id: str | None = Field(None, alias="PlanId")
    plan_name: str | None = Field(None, alias="PlanName")
    backup_method: str | None = Field(None, alias="BackupMethod")


class DeleteBackupPlanRequest(TencentModel):
    """DeleteBackupPlan (a custom plan; the default one cannot be deleted)."""

    db_instance_id: str = Field(alias="DBInstanceId")
    plan_id: str = Field(alias="PlanId")


# --- overview, log backups, window, download -----------------------------------------------------
class DescribeBackupOverviewRequest(TencentModel):
    """DescribeBackupOverview: no parameters (the caller's region)."""


class DescribeBackupSummariesRequest(TencentModel):
    """DescribeBackupSummaries: per instance, filtered, paged."""

    limit: UInt64 | None = Field(None, alias="Limit")
    offset: UInt64 | None = Field(None, alias="Offset")
    filters: list[Filter] | None = Field(None, alias="Filters", max_length=MAX_FILTERS)
    order_by: str | None = Field(None, alias="OrderBy")
    order_by_type: str | None = Field(None, alias="OrderByType")


class DescribeLogBackupsRequest(TencentModel):
    """DescribeLogBackups: the same parameters as DescribeBaseBackups."""

    min_finish_time: str | None = Field(None, alias="MinFinishTime")
    max_finish_time: str | None = Field(None, alias="MaxFinishTime")
    filters: list[Filter] | None = Field(None, alias="Filters", max_length=MAX_FILTERS)
    limit: UInt64 | None = Field(None, alias="Limit")
    offset: UInt64 | None = Field(None, alias="Offset")
    order_by: str | None = Field(None, alias="OrderBy")
    order_by_type: str | None = Field(None, alias="OrderByType")


class DescribeAvailableRecoveryTimeRequest(TencentModel):
    """DescribeAvailableRecoveryTime."""

    db_instance_id: str = Field(alias="DBInstanceId")


class BackupDownloadRestriction(TencentModel):
    """``BackupDownloadRestriction``: accepted; only ``NONE`` can be honoured here (see the handler)."""

    restriction_type: str | None = Field(None, alias="RestrictionType")
    vpc_restriction_effect: str | None = Field(None, alias="VpcRestrictionEffect")
    vpc_id_set: list[str] | None = Field(None, alias="VpcIdSet", max_length=MAX_IDS)
    ip_restriction_effect: str | None = Field(None, alias="IpRestrictionEffect")
    ip_set: list[str] | None = Field(None, alias="IpSet", max_length=MAX_IDS)


class DescribeBackupDownloadURLRequest(TencentModel):
    """DescribeBackupDownloadURL: ``URLExpireTime`` in hours, 0-36 (default 12)."""

    db_instance_id: str = Field(alias="DBInstanceId")
    backup_type: str = Field(alias="BackupType")
    backup_id: str = Field(alias="BackupId")
    url_expire_time: UInt64 | None = Field(None, alias="URLExpireTime")
    backup_download_restriction: BackupDownloadRestriction | None = Field(None, alias="BackupDownloadRestriction")


# --- clones --------------------------------------------------------------------------------------
class CloneDBInstanceRequest(TencentModel):
    """CloneDBInstance: a new primary restored from ``BackupSetId`` or to ``RecoveryTargetTime`` (one of them)."""

    db_instance_id: str = Field(alias="DBInstanceId")
    spec_code: str = Field(alias="SpecCode")
    storage: Int64 = Field(alias="Storage")
    period: Int64 = Field(alias="Period")
    auto_renew_flag: Int64 = Field(alias="AutoRenewFlag")
    vpc_id: str = Field(alias="VpcId")
    subnet_id: str = Field(alias="SubnetId")
    name: str | None = Field(None, alias="Name")
    instance_charge_type: str | None = Field(None, alias="InstanceChargeType")
    security_group_ids: list[str] | None = Field(None, alias="SecurityGroupIds", max_length=MAX_SECURITY_GROUPS)
    project_id: Int64 | None = Field(None, alias="ProjectId")
    tag_list: list[Tag] | None = Field(None, alias="TagList", max_length=MAX_TAGS)
    db_node_set: list[DBNode] | None = Field(None, alias="DBNodeSet", max_length=MAX_DB_NODES)
    auto_voucher: Int64 | None = Field(None, alias="AutoVoucher")
    voucher_ids: str | None = Field(None, alias="VoucherIds")  # one id here, a list in CreateInstances
    activity_id: Int64 | None = Field(None, alias="ActivityId")
    backup_set_id: str | None = Field(None, alias="BackupSetId")
    recovery_target_time: str | None = Field(None, alias="RecoveryTargetTime")
    sync_mode: str | None = Field(None, alias="SyncMode")
    deletion_protection: bool | None = Field(None, alias="DeletionProtection")


class DescribeCloneDBInstanceSpecRequest(TencentModel):
    """DescribeCloneDBInstanceSpec: the smallest spec and storage a clone of this point may have."""

    db_instance_id: str = Field(alias="DBInstanceId")
    backup_set_id: str | None = Field(None, alias="BackupSetId")
    recovery_target_time: str | None = Field(None, alias="RecoveryTargetTime")


#: Action name -> request model, for every action of this area.
REQUEST_MODELS: dict[str, type[TencentModel]] = {
    "CreateBaseBackup": CreateBaseBackupRequest,
    "DescribeBaseBackups": DescribeBaseBackupsRequest,
    "DeleteBaseBackup": DeleteBaseBackupRequest,
    "ModifyBaseBackupExpireTime": ModifyBaseBackupExpireTimeRequest,
    "DescribeBackupPlans": DescribeBackupPlansRequest,
    "CreateBackupPlan": CreateBackupPlanRequest,
    "ModifyBackupPlan": ModifyBackupPlanRequest,
    "DeleteBackupPlan": DeleteBackupPlanRequest,
    "DescribeBackupOverview": DescribeBackupOverviewRequest,
    "DescribeBackupSummaries": DescribeBackupSummariesRequest,
    "DescribeLogBackups": DescribeLogBackupsRequest,
    "DescribeAvailableRecoveryTime": DescribeAvailableRecoveryTimeRequest,
    "DescribeBackupDownloadURL": DescribeBackupDownloadURLRequest,
    "CloneDBInstance": CloneDBInstanceRequest,
    "DescribeCloneDBInstanceSpec": DescribeCloneDBInstanceSpecRequest,
}
