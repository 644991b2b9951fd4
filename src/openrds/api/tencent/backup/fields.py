"""Response shapes of the backup actions (:mod:`.schemas`), transcribed from tccli's API table.

Same rules as :mod:`openrds.api.tencent.fields`: one TypedDict per nested structure and one
``<Action>Response`` per action without ``RequestId``; ``output_required: false`` -> ``NotRequired``.
The comment above each field is the table's own description, trimmed.
"""

# No ``from __future__ import annotations``: ``NotRequired`` must be visible at run time.
from typing import NotRequired, TypedDict


class BaseBackup(TypedDict):
    """``BaseBackup``: 数据库数据备份信息"""

    # 实例ID。
    DBInstanceId: str
    # 备份文件唯一标识。
    Id: str
    # 备份文件名称。
    Name: str
    # 备份方式：physical - 物理备份、logical - 逻辑备份。
    BackupMethod: str
    # 备份模式：automatic - 自动备份、manual - 手动备份。
    BackupMode: str
    # 备份任务状态。枚举值：init、running、finished、failed、canceled
    State: str
    # 备份集大小，单位bytes。
    Size: int
    # 备份的开始时间。
    StartTime: str
    # 备份的结束时间。
    FinishTime: str
    # 备份的过期时间。
    ExpireTime: str


class LogBackup(TypedDict):
    """``LogBackup``: 数据库日志备份信息"""

    # 实例ID。
    DBInstanceId: str
    # 备份文件唯一标识。
    Id: str
    # 备份文件名称。
    Name: str
    # 备份方式。枚举值，physical - 物理备份；logical - 逻辑备份。
    BackupMethod: str
    # 备份模式。枚举值，manual - 手动备份；automatic - 自动备份 。
    BackupMode: str
    # 备份任务状态。枚举值：init、running、finished、failed、canceled
    State: str
    # 备份集大小，单位bytes。
    Size: int
    # 备份的开始时间。
    StartTime: str
    # 备份的结束时间。
    FinishTime: str
    # 备份的过期时间。
    ExpireTime: str


class BackupPlan(TypedDict):
    """``BackupPlan``: 备份计划"""

    # 备份周期
    BackupPeriod: str
    # 数据备份保留时长。单位：天
    BaseBackupRetentionPeriod: int
    # 开始备份的最早时间
    MinBackupStartTime: str
    # 开始备份的最晚时间
    MaxBackupStartTime: str
    # 备份类型 枚举值： physical： 物理备份 logical： 逻辑备份 snapshot： 快照备份
    BackupMethod: str
    # 备份计划ID
    PlanId: str
    # 备份计划自定义名称。
    PlanName: str
    # 日志备份保留时长。单位：天
    LogBackupRetentionPeriod: int
    # 创建时间。
    CreatedTime: NotRequired[str]
    # 最近一次的修改时间。
    UpdatedTime: NotRequired[str]
    # 备份计划类型。系统默认创建的为default，自定义的为custom。
    PlanType: NotRequired[str]
    # 备份周期类型。当前支持week、month。
    BackupPeriodType: NotRequired[str]


class BackupSummary(TypedDict):
    """``BackupSummary``: 实例备份统计项"""

    # 实例ID。
    DBInstanceId: str
    # 实例日志备份数量。
    LogBackupCount: int
    # 实例日志备份大小。
    LogBackupSize: int
    # 手动创建的实例数据备份数量。
    ManualBaseBackupCount: int
    # 手动创建的实例数据备份大小。
    ManualBaseBackupSize: int
    # 自动创建的实例数据备份数量。
    AutoBaseBackupCount: int
    # 自动创建的实例数据备份大小。
    AutoBaseBackupSize: int
    # 总备份数量
    TotalBackupCount: int
    # 总备份大小
    TotalBackupSize: int


class CreateBaseBackupResponse(TypedDict):
    """``CreateBaseBackup`` result (the router adds ``RequestId``)."""

    # 数据备份集ID
    BaseBackupId: str


class DescribeBaseBackupsResponse(TypedDict):
    """``DescribeBaseBackups`` result (the router adds ``RequestId``)."""

    # 查询到的数据备份数量。
    TotalCount: int
    # 数据备份详细信息列表。
    BaseBackupSet: list[BaseBackup]


class DeleteBaseBackupResponse(TypedDict):
    """``DeleteBaseBackup`` result (the router adds ``RequestId``)."""


class ModifyBaseBackupExpireTimeResponse(TypedDict):
    """``ModifyBaseBackupExpireTime`` result (the router adds ``RequestId``)."""


class DescribeBackupPlansResponse(TypedDict):
    """``DescribeBackupPlans`` result (the router adds ``RequestId``)."""

    # 实例的备份计划集
    Plans: list[BackupPlan]


class CreateBackupPlanResponse(TypedDict):
    """``CreateBackupPlan`` result (the router adds ``RequestId``)."""

    # 备份策略的ID.
    PlanId: str


class ModifyBackupPlanResponse(TypedDict):
    """``ModifyBackupPlan`` result (the router adds ``RequestId``)."""


class DeleteBackupPlanResponse(TypedDict):
    """``DeleteBackupPlan`` result (the router adds ``RequestId``)."""


class DescribeBackupOverviewResponse(TypedDict):
    """``DescribeBackupOverview`` result (the router adds ``RequestId``)."""

    # 总免费空间大小，单位byte。
    TotalFreeSize: int
    # 已使用免费空间大小，单位byte。
    UsedFreeSize: int
    # 已使用收费空间大小，单位byte。
    UsedBillingSize: int
    # 日志备份数量。
    LogBackupCount: int
    # 日志备份大小，单位byte。
    LogBackupSize: int
    # 手动创建的基础备份数量。
    ManualBaseBackupCount: int
    # 手动创建的基础备份大小，单位byte。
    ManualBaseBackupSize: int
    # 自动创建的基础备份数量。
    AutoBaseBackupCount: int
    # 自动创建的基础备份大小，单位byte。
    AutoBaseBackupSize: int


class DescribeBackupSummariesResponse(TypedDict):
    """``DescribeBackupSummaries`` result (the router adds ``RequestId``)."""

    # 备份统计信息列表。
    BackupSummarySet: list[BackupSummary]
    # 查询到的所有备份信息数量。
    TotalCount: int


class DescribeLogBackupsResponse(TypedDict):
    """``DescribeLogBackups`` result (the router adds ``RequestId``)."""

    # 查询到的日志备份数量。
    TotalCount: int
    # 日志备份详细信息列表。
    LogBackupSet: list[LogBackup]


class DescribeAvailableRecoveryTimeResponse(TypedDict):
    """``DescribeAvailableRecoveryTime`` result (the router adds ``RequestId``)."""

    # 可恢复的最早时间，时区为东八区（UTC+8）。
    RecoveryBeginTime: str
    # 可恢复的最晚时间，时区为东八区（UTC+8）。
    RecoveryEndTime: str


class DescribeBackupDownloadURLResponse(TypedDict):
    """``DescribeBackupDownloadURL`` result (the router adds ``RequestId``)."""

    # 备份的下载地址。
    BackupDownloadURL: str


class CloneDBInstanceResponse(TypedDict):
    """``CloneDBInstance`` result (the router adds ``RequestId``)."""

    # 订单号。
    DealName: str
    # 订单流水号。
    BillId: str
    # 克隆出的新实例ID，当前只支持后付费返回该值。
    DBInstanceId: str


class DescribeCloneDBInstanceSpecResponse(TypedDict):
    """``DescribeCloneDBInstanceSpec`` result (the router adds ``RequestId``)."""

    # 可购买的最小规格码。
    MinSpecCode: str
    # 可购买的最小磁盘容量，单位GB。
    MinStorage: int
