"""Response shapes of the spec-change and maintenance-window actions (:mod:`.schemas`), transcribed
from the SDK's ``models.py`` under the rules of :mod:`openrds.api.tencent.fields`: one
``<Action>Response`` per action, without ``RequestId`` (the router adds it).
"""

# No ``from __future__ import annotations``: the TypedDicts must be visible at run time.
from typing import TypedDict


class ModifyDBInstanceSpecResponse(TypedDict):
    """``ModifyDBInstanceSpec`` result."""

    # 订单号。
    DealName: str
    # 冻结流水号。
    BillId: str


class ModifySwitchTimePeriodResponse(TypedDict):
    """``ModifySwitchTimePeriod`` result: nothing but the RequestId."""


class InquiryPriceUpgradeDBInstanceResponse(TypedDict):
    """``InquiryPriceUpgradeDBInstance`` result."""

    # 刊例价费用
    OriginalPrice: int
    # 折后实际付款金额
    Price: int
    # 币种。例如，CNY：人民币。
    Currency: str


class DescribeMaintainTimeWindowResponse(TypedDict):
    """``DescribeMaintainTimeWindow`` result."""

    # 实例ID
    DBInstanceId: str
    # 维护开始时间。时区为东八区（UTC+8）
    MaintainStartTime: str
    # 维护持续时间。单位：小时
    MaintainDuration: int
    # 维护周期
    MaintainWeekDays: list[str]


class ModifyMaintainTimeWindowResponse(TypedDict):
    """``ModifyMaintainTimeWindow`` result: nothing but the RequestId."""
