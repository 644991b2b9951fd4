"""Request models of the spec-change and maintenance-window actions, under the rules of
:mod:`openrds.api.tencent.schemas` (wire names, types and required flags are the SDK's; every list
and string bounded). Times of day (``SwitchStartTime``, ``MaintainStartTime``) are strings here; the
domain reads them (``domain.resize.parse_time_of_day``), so a malformed one is
``InvalidParameterValue`` naming its field.
"""

from __future__ import annotations

from pydantic import Field

from openrds.api.tencent.schemas import Int64, TencentModel, UInt64

#: ``SyncModifyParams``: PostgreSQL has a few hundred settings; more than this in one call is no use.
MAX_SYNC_PARAMS = 100
#: ``MaintainWeekDays``: the seven days.
MAX_WEEKDAYS = 7
MAX_TIME_OF_DAY = 8  # HH:MM:SS
MAX_VOUCHERS = 10


class ParamEntry(TencentModel):
    """``ParamEntry``: a parameter and the value it should have."""

    name: str = Field(alias="Name", max_length=128)
    expected_value: str = Field(alias="ExpectedValue", max_length=1024)


class ModifyDBInstanceSpecRequest(TencentModel):
    """ModifyDBInstanceSpec: a new memory (GB, and CPU cores) and storage (GB), switched now, between
    two times of day, or in the maintenance window."""

    db_instance_id: str = Field(alias="DBInstanceId")
    memory: UInt64 = Field(alias="Memory")
    storage: UInt64 = Field(alias="Storage")
    auto_voucher: UInt64 | None = Field(None, alias="AutoVoucher")
    voucher_ids: list[str] | None = Field(None, alias="VoucherIds", max_length=MAX_VOUCHERS)
    activity_id: UInt64 | None = Field(None, alias="ActivityId")
    switch_tag: UInt64 | None = Field(None, alias="SwitchTag")
    switch_start_time: str | None = Field(None, alias="SwitchStartTime", max_length=MAX_TIME_OF_DAY)
    switch_end_time: str | None = Field(None, alias="SwitchEndTime", max_length=MAX_TIME_OF_DAY)
    cpu: UInt64 | None = Field(None, alias="Cpu")
    sync_modify_params: list[ParamEntry] | None = Field(None, alias="SyncModifyParams", max_length=MAX_SYNC_PARAMS)


class ModifySwitchTimePeriodRequest(TencentModel):
    """ModifySwitchTimePeriod: ``SwitchTag`` 0 applies a change waiting for its switch time now."""

    db_instance_id: str = Field(alias="DBInstanceId")
    switch_tag: UInt64 = Field(alias="SwitchTag")


class InquiryPriceUpgradeDBInstanceRequest(TencentModel):
    """InquiryPriceUpgradeDBInstance: the price of a spec or storage change."""

    storage: Int64 = Field(alias="Storage")
    memory: Int64 = Field(alias="Memory")
    db_instance_id: str = Field(alias="DBInstanceId")
    instance_charge_type: str | None = Field(None, alias="InstanceChargeType", max_length=32)
    cpu: Int64 | None = Field(None, alias="Cpu")


class DescribeMaintainTimeWindowRequest(TencentModel):
    """DescribeMaintainTimeWindow."""

    db_instance_id: str = Field(alias="DBInstanceId")


class ModifyMaintainTimeWindowRequest(TencentModel):
    """ModifyMaintainTimeWindow: what is not given keeps its current value."""

    db_instance_id: str = Field(alias="DBInstanceId")
    maintain_start_time: str | None = Field(None, alias="MaintainStartTime", max_length=MAX_TIME_OF_DAY)
    maintain_duration: UInt64 | None = Field(None, alias="MaintainDuration")
    maintain_week_days: list[str] | None = Field(None, alias="MaintainWeekDays", max_length=MAX_WEEKDAYS)


REQUEST_MODELS: dict[str, type[TencentModel]] = {
    "ModifyDBInstanceSpec": ModifyDBInstanceSpecRequest,
    "ModifySwitchTimePeriod": ModifySwitchTimePeriodRequest,
    "InquiryPriceUpgradeDBInstance": InquiryPriceUpgradeDBInstanceRequest,
    "DescribeMaintainTimeWindow": DescribeMaintainTimeWindowRequest,
    "ModifyMaintainTimeWindow": ModifyMaintainTimeWindowRequest,
}
