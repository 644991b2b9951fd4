"""The spec-change and maintenance-window actions: parse -> :class:`openrds.services.resize.ResizeService` -> present.

Wire words translated here: ``SwitchTag`` (0 now, 1 between ``SwitchStartTime`` and ``SwitchEndTime``,
2 in the maintenance window) and the maintenance window's ``HH:MM`` start. Every rule is the
service's and the domain's.
"""

from __future__ import annotations

from openrds.api.tencent.protocol import ActionContext
from openrds.api.tencent.spec import fields as f
from openrds.api.tencent.spec import schemas as s
from openrds.container import Container
from openrds.domain.errors import InvalidInput
from openrds.domain.resize import SwitchMode
from openrds.services.billing import Payment
from openrds.services.resize import ChangeRequest


def _switch_mode(tag: int | None) -> SwitchMode:
    try:
        return SwitchMode(0 if tag is None else tag)
    except ValueError:
        raise InvalidInput(f"SwitchTag must be 0 (now), 1 (between SwitchStartTime and SwitchEndTime) or 2 "
                           f"(in the maintenance window), not {tag}", field="switch_tag") from None


def _auto_voucher(flag: int | None) -> bool:
    if flag not in (None, 0, 1):
        raise InvalidInput(f"AutoVoucher must be 0 or 1, not {flag}", field="auto_voucher")
    return flag == 1


class SpecActions:
    """The handlers, bound to one container."""

    def __init__(self, container: Container) -> None:
        self.c = container

    def modify_db_instance_spec(
        self, ctx: ActionContext, req: s.ModifyDBInstanceSpecRequest
    ) -> f.ModifyDBInstanceSpecResponse:
        if req.sync_modify_params:
            raise InvalidInput("SyncModifyParams is not taken with a spec change here: a spec's settings are "
                               "recomputed; change parameters with ModifyDBInstanceParameters",
                               field="sync_modify_params")
        change = self.c.resize.modify(ctx.caller.tenant_id, req.db_instance_id, ChangeRequest(
            memory_gb=req.memory,
            storage_gb=req.storage,
            cpu=req.cpu,
            switch=_switch_mode(req.switch_tag),
            switch_start=req.switch_start_time or "",
            switch_end=req.switch_end_time or "",
            payment=Payment(tuple(req.voucher_ids or ()), _auto_voucher(req.auto_voucher)),
        ))
        return {"DealName": change.deal_name, "BillId": change.bill_id}

    def modify_switch_time_period(
        self, ctx: ActionContext, req: s.ModifySwitchTimePeriodRequest
    ) -> f.ModifySwitchTimePeriodResponse:
        if req.switch_tag != 0:
            raise InvalidInput(f"SwitchTag must be 0 (switch now), not {req.switch_tag}", field="switch_tag")
        self.c.resize.switch_now(ctx.caller.tenant_id, req.db_instance_id)
        return {}

    def inquiry_price_upgrade_db_instance(
        self, ctx: ActionContext, req: s.InquiryPriceUpgradeDBInstanceRequest
    ) -> f.InquiryPriceUpgradeDBInstanceResponse:
        if req.instance_charge_type not in (None, "", "PREPAID", "POSTPAID_BY_HOUR", "POSTPAID"):
            raise InvalidInput(f"InstanceChargeType {req.instance_charge_type} is not PREPAID or POSTPAID_BY_HOUR",
                               field="charge_type")
        if req.storage < 0 or req.memory < 0 or (req.cpu is not None and req.cpu < 0):
            raise InvalidInput("Storage, Memory and Cpu cannot be negative", field="storage")
        quote = self.c.resize.quote(ctx.caller.tenant_id, req.db_instance_id, req.memory, req.storage, req.cpu)
        return {"OriginalPrice": quote.original_cents, "Price": quote.price_cents, "Currency": quote.currency}

    def describe_maintain_time_window(
        self, ctx: ActionContext, req: s.DescribeMaintainTimeWindowRequest
    ) -> f.DescribeMaintainTimeWindowResponse:
        instance, window = self.c.resize.window(ctx.caller.tenant_id, req.db_instance_id)
        return {"DBInstanceId": instance.code, "MaintainStartTime": window.start.strftime("%H:%M"),
                "MaintainDuration": window.duration_hours, "MaintainWeekDays": list(window.weekdays)}

    def modify_maintain_time_window(
        self, ctx: ActionContext, req: s.ModifyMaintainTimeWindowRequest
    ) -> f.ModifyMaintainTimeWindowResponse:
        _, current = self.c.resize.window(ctx.caller.tenant_id, req.db_instance_id)
        self.c.resize.set_window(
            ctx.caller.tenant_id,
            req.db_instance_id,
            req.maintain_start_time if req.maintain_start_time is not None else current.start.strftime("%H:%M"),
            req.maintain_duration if req.maintain_duration is not None else current.duration_hours,
            req.maintain_week_days if req.maintain_week_days is not None else current.weekdays,
        )
        return {}
