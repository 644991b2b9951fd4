"""The Tencent Cloud API 3.0 face: each action is parse -> call a service -> present.

Field meanings that live in no other face (``Filters`` names, ``OrderBy`` words, ``PayType``
strings) are translated here; every rule is the services' and the domain's. Each handler returns
its action's TypedDict of :mod:`.fields`, so the type checker holds every answer to the SDK's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from openrds.api.tencent import fields as f
from openrds.api.tencent import presenters as present
from openrds.api.tencent import schemas as s
from openrds.api.tencent.auth import Caller
from openrds.api.tencent.protocol import ActionContext, Rendered
from openrds.api.tencent.rendered import RenderedInstances
from openrds.container import Container
from openrds.domain.errors import InvalidInput
from openrds.domain.model import InstanceQuery, Network, Tag
from openrds.domain.states import ChargeType
from openrds.services.billing import Payment, PriceQuery
from openrds.services.groups import GroupConfig, GroupOrder
from openrds.services.instances import InstancePage, PrimaryOrder, ReadOnlyOrder

_PAY_MODES = {"prepaid": ChargeType.PREPAID.value, "postpaid": ChargeType.POSTPAID.value}
_ORDER_BY = {"CreateTime": "created", "Name": "name", "EndTime": "expire", "DBInstanceId": "created"}


def _extra(request: BaseModel, *names: str) -> dict[str, Any]:
    """Accepted fields with no meaning on this host: stored with the instance, never dropped."""
    dumped = request.model_dump(by_alias=True, exclude_none=True)
    return {name: dumped[name] for name in names if name in dumped}


def _tags(tags: list[s.Tag] | None) -> tuple[Tag, ...]:
    return tuple(Tag(t.tag_key, t.tag_value) for t in tags or ())


def _vouchers(voucher_ids: list[str] | None) -> tuple[str, ...]:
    return tuple(voucher_ids or ())


def _flag(value: int | None, name: str) -> bool:
    """A documented 0/1 switch (``AutoVoucher``, ``AutoRenewFlag`` of the purchases): absent is 0.

    :raises InvalidInput: any other number, naming the parameter (it used to be read as 0).
    """
    if value is None or value == 0:
        return False
    if value == 1:
        return True
    raise InvalidInput(f"{name} must be 0 or 1, got {value}", field=name)


def _region(ctx: ActionContext) -> str:
    assert ctx.region is not None  # the router refuses region-less calls to these actions
    return ctx.region


class TencentActions:
    """The handlers, bound to one container."""

    def __init__(self, container: Container) -> None:
        self.c = container
        self._rows = RenderedInstances()

    # --- catalogue -------------------------------------------------------------------------
    def describe_regions(self, ctx: ActionContext, _req: s.DescribeRegionsRequest) -> f.DescribeRegionsResponse:
        regions = [present.region(r, ctx.language) for r in self.c.catalogue.regions]
        return {"TotalCount": len(regions), "RegionSet": regions}

    def describe_zones(self, ctx: ActionContext, _req: s.DescribeZonesRequest) -> f.DescribeZonesResponse:
        zones = [present.zone(z, ctx.language) for z in self.c.catalogue.region(_region(ctx)).zones]
        return {"TotalCount": len(zones), "ZoneSet": zones}

    def describe_classes(self, ctx: ActionContext, req: s.DescribeClassesRequest) -> f.DescribeClassesResponse:
        self.c.catalogue.region(_region(ctx)).zone(req.zone)
        self.c.catalogue.version(req.db_major_version)
        return {"ClassInfoSet": [present.spec_class(spec) for spec in self.c.catalogue.specs if not spec.readonly_only]}

    def describe_db_versions(
        self, _ctx: ActionContext, _req: s.DescribeDBVersionsRequest
    ) -> f.DescribeDBVersionsResponse:
        return {"VersionSet": [present.version(v) for v in self.c.catalogue.versions]}

    def describe_product_config(
        self, ctx: ActionContext, req: s.DescribeProductConfigRequest
    ) -> f.DescribeProductConfigResponse:
        region = self.c.catalogue.region(_region(ctx))
        zones = [region.zone(req.zone)] if req.zone else list(region.zones)
        specs = [spec for spec in self.c.catalogue.specs if not spec.readonly_only]
        return {
            "SpecInfoList": [
                {
                    "Region": region.name,
                    "Zone": z.name,
                    "SupportKMSRegions": [],
                    "SpecItemInfoList": [
                        present.spec_item(spec, v) for v in self.c.catalogue.versions for spec in specs
                    ],
                }
                for z in zones
            ]
        }

    # --- instances -------------------------------------------------------------------------
    def create_instances(self, ctx: ActionContext, req: s.CreateInstancesRequest) -> f.CreateInstancesResponse:
        created = self.c.instances.create_primaries(
            ctx.caller.tenant_id,
            PrimaryOrder(
                region=_region(ctx),
                zone=req.zone,
                spec_code=req.spec_code,
                storage_gb=req.storage,
                admin_user=req.admin_name,
                admin_password=req.admin_password,
                count=req.instance_count,
                period_months=req.period,
                charge_type=req.instance_charge_type,
                version=req.db_version or req.db_major_version or req.db_kernel_version,
                charset=req.charset,
                project_id=req.project_id or 0,
                name=req.name or "",
                network=Network(req.vpc_id or "", req.subnet_id or "", tuple(req.security_group_ids or ())),
                auto_renew=_flag(req.auto_renew_flag, "AutoRenewFlag"),
                deletion_protection=bool(req.deletion_protection),
                tags=_tags(req.tag_list),
                dry_run=req.dry_run,
                voucher_ids=_vouchers(req.voucher_ids),
                auto_voucher=_flag(req.auto_voucher, "AutoVoucher"),
                extra=_extra(
                    req,
                    "DBNodeSet",
                    "ActivityId",
                    "NeedSupportTDE",
                    "KMSKeyId",
                    "KMSRegion",
                    "KMSClusterId",
                    "DBEngine",
                    "DBEngineConfig",
                    "SyncMode",
                    "NeedSupportIpv6",
                    "StorageType",
                ),
            ),
        )
        return {
            "DealNames": list(created.deal_names),
            "BillId": created.bill_id,
            "DBInstanceIdSet": [i.code for i in created.instances],
        }

    def create_read_only_db_instance(
        self, ctx: ActionContext, req: s.CreateReadOnlyDBInstanceRequest
    ) -> f.CreateReadOnlyDBInstanceResponse:
        created = self.c.instances.create_readonly(
            ctx.caller.tenant_id,
            ReadOnlyOrder(
                region=_region(ctx),
                master=req.master_db_instance_id,
                spec_code=req.spec_code,
                zone=req.zone,
                storage_gb=req.storage,
                count=req.instance_count,
                period_months=req.period,
                charge_type=req.instance_charge_type,
                project_id=req.project_id or 0,
                name=req.name or "",
                # No network given: the replica joins its master's (ReadOnlyOrder's None).
                network=Network(req.vpc_id or "", req.subnet_id or "", tuple(req.security_group_ids or ()))
                if req.vpc_id or req.subnet_id or req.security_group_ids
                else None,
                auto_renew=_flag(req.auto_renew_flag, "AutoRenewFlag"),
                deletion_protection=bool(req.deletion_protection),
                group_id=req.read_only_group_id or None,
                tags=_tags(req.tag_list) + _tags(req.tags),
                dry_run=req.dry_run,
                voucher_ids=_vouchers(req.voucher_ids),
                auto_voucher=_flag(req.auto_voucher, "AutoVoucher"),
                # DBVersion is accepted and ignored: a replica runs its master's version (the SDK marks it obsolete).
                extra=_extra(
                    req,
                    "ActivityId",
                    "NeedSupportIpv6",
                    "DedicatedClusterId",
                    "DBVersion",
                    "DBMajorVersion",
                    "DBKernelVersion",
                    "BillingParameters",
                ),
            ),
        )
        result: f.CreateReadOnlyDBInstanceResponse = {
            "DealNames": list(created.deal_names),
            "BillId": created.bill_id,
            # Documented: instance ids are returned for postpaid purchases only.
            "DBInstanceIdSet": [i.code for i in created.instances if i.charge_type is ChargeType.POSTPAID],
        }
        if req.billing_parameters:
            result["BillingParameters"] = req.billing_parameters
        return result

    def _rendered(self, caller: Caller, page: InstancePage) -> list[bytes]:
        """The page's instances as :func:`.presenters.instance` shows them, as JSON text (kept per
        instance while it is the same: :mod:`.rendered`)."""
        return [
            self._rows.instance(
                i,
                self.c.catalogue,
                app_id=caller.app_id,
                uin=caller.uin,
                replica_count=page.replica_counts.get(i.id, 0),
                master_code=page.codes.get(i.master_id or "", ""),
            )
            for i in page.items
        ]

    def describe_db_instances(
        self, ctx: ActionContext, req: s.DescribeDBInstancesRequest
    ) -> f.DescribeDBInstancesResponse | Rendered:
        query = _instance_query(_region(ctx), req)
        page = self.c.listing.describe(ctx.caller.tenant_id, query)
        # f.DescribeDBInstancesResponse, assembled from its rows' JSON text.
        rows = b",".join(self._rendered(ctx.caller, page))
        return Rendered(b'"TotalCount":%d,"DBInstanceSet":[%s]' % (page.total, rows))

    def describe_db_instance_attribute(
        self, ctx: ActionContext, req: s.DescribeDBInstanceAttributeRequest
    ) -> f.DescribeDBInstanceAttributeResponse | Rendered:
        page = self.c.listing.describe(ctx.caller.tenant_id, InstanceQuery(ids=(req.db_instance_id,), limit=1))
        if not page.items:
            self.c.instances.get(ctx.caller.tenant_id, req.db_instance_id)  # raises InstanceNotFound
        # f.DescribeDBInstanceAttributeResponse, assembled from its instance's JSON text.
        return Rendered(b'"DBInstance":' + self._rendered(ctx.caller, page)[0])

    def modify_db_instance_name(
        self, ctx: ActionContext, req: s.ModifyDBInstanceNameRequest
    ) -> f.ModifyDBInstanceNameResponse:
        self.c.instances.rename(ctx.caller.tenant_id, req.db_instance_id, req.instance_name)
        return {}

    def modify_db_instance_deletion_protection(
        self, ctx: ActionContext, req: s.ModifyDBInstanceDeletionProtectionRequest
    ) -> f.ModifyDBInstanceDeletionProtectionResponse:
        self.c.instances.set_deletion_protection(ctx.caller.tenant_id, req.db_instance_id, req.deletion_protection)
        return {}

    def restart_db_instance(self, ctx: ActionContext, req: s.RestartDBInstanceRequest) -> f.RestartDBInstanceResponse:
        job = self.c.instances.restart(ctx.caller.tenant_id, req.db_instance_id)
        number = present.task_number(job.id)
        return {"FlowId": number, "TaskId": number}

    def isolate_db_instances(
        self, ctx: ActionContext, req: s.IsolateDBInstancesRequest
    ) -> f.IsolateDBInstancesResponse:
        self.c.instances.isolate(ctx.caller.tenant_id, req.db_instance_id_set)
        return {}

    def dis_isolate_db_instances(
        self, ctx: ActionContext, req: s.DisIsolateDBInstancesRequest
    ) -> f.DisIsolateDBInstancesResponse:
        self.c.instances.disisolate(
            ctx.caller.tenant_id,
            req.db_instance_id_set,
            months=req.period,
            payment=Payment(_vouchers(req.voucher_ids), bool(req.auto_voucher)),
        )
        return {}

    def destroy_db_instance(self, ctx: ActionContext, req: s.DestroyDBInstanceRequest) -> f.DestroyDBInstanceResponse:
        self.c.instances.destroy(ctx.caller.tenant_id, req.db_instance_id)
        return {}

    def describe_tasks(self, ctx: ActionContext, req: s.DescribeTasksRequest) -> f.DescribeTasksResponse:
        prefix = present.task_prefix(req.task_id) if req.task_id is not None else None
        # Both bounds in the face's zone, like the StartTime the tasks show; parsed before any read.
        after = present.parse_tencent_time(req.min_start_time, "MinStartTime") if req.min_start_time else None
        before = present.parse_tencent_time(req.max_start_time, "MaxStartTime") if req.max_start_time else None
        # Narrowed and paged in the store: only the page's jobs are read whole and presented.
        total, views = self.c.jobs.page(
            ctx.caller.tenant_id, id_prefix=prefix, instance=req.db_instance_id, started_from=after,
            started_to=before, oldest_first=(req.order_by_type or "desc").lower() == "asc",
            offset=req.offset or 0, limit=min(req.limit or 20, 100))
        tasks = [present.task(v.job, next(iter(v.instance_codes.values()), ""), self.c.jobs.steps(v.job.kind))
                 for v in views]
        return {"TotalCount": total, "TaskSet": tasks}

    # --- money -----------------------------------------------------------------------------
    def inquiry_price_create_db_instances(
        self, ctx: ActionContext, req: s.InquiryPriceCreateDBInstancesRequest
    ) -> f.InquiryPriceCreateDBInstancesResponse:
        return present.quote(
            self.c.billing.quote_create(
                PriceQuery(
                    region=_region(ctx),
                    zone=req.zone,
                    spec_code=req.spec_code,
                    storage_gb=req.storage,
                    count=req.instance_count,
                    period_months=req.period,
                    charge_type=req.instance_charge_type,
                    readonly=_readonly_type(req.instance_type),
                )
            )
        )

    def inquiry_price_renew_db_instance(
        self, ctx: ActionContext, req: s.InquiryPriceRenewDBInstanceRequest
    ) -> f.InquiryPriceRenewDBInstanceResponse:
        return present.quote(self.c.billing.quote_renewal(ctx.caller.tenant_id, req.db_instance_id, req.period))

    def renew_instance(self, ctx: ActionContext, req: s.RenewInstanceRequest) -> f.RenewInstanceResponse:
        placed = self.c.billing.renew(
            ctx.caller.tenant_id,
            req.db_instance_id,
            req.period,
            Payment(_vouchers(req.voucher_ids), _flag(req.auto_voucher, "AutoVoucher")),
        )
        return {"DealName": placed.deal_names[0]}

    def set_auto_renew_flag(self, ctx: ActionContext, req: s.SetAutoRenewFlagRequest) -> f.SetAutoRenewFlagResponse:
        return {
            "Count": self.c.billing.set_auto_renew(ctx.caller.tenant_id, req.db_instance_id_set, req.auto_renew_flag)
        }

    def describe_orders(self, ctx: ActionContext, req: s.DescribeOrdersRequest) -> f.DescribeOrdersResponse:
        views = self.c.billing.orders(ctx.caller.tenant_id, req.deal_names)
        return {"TotalCount": len(views), "Deals": [present.deal(v, ctx.caller.uin) for v in views]}

    # --- read-only groups ------------------------------------------------------------------
    def create_read_only_group(
        self, ctx: ActionContext, req: s.CreateReadOnlyGroupRequest
    ) -> f.CreateReadOnlyGroupResponse:
        network = (
            Network(req.vpc_id or "", req.subnet_id or "", tuple(req.security_group_ids or ()))
            if req.vpc_id or req.subnet_id or req.security_group_ids
            else None
        )
        view = self.c.groups.create(
            ctx.caller.tenant_id,
            GroupOrder(
                master=req.master_db_instance_id,
                name=req.name,
                project_id=req.project_id or 0,
                network=network,
                max_replay_lag_seconds=req.max_replay_lag or 0,
                max_replay_latency_mb=req.max_replay_latency or 0,
                min_delay_eliminate_reserve=req.min_delay_eliminate_reserve or 0,
                replay_lag_eliminate=bool(req.replay_lag_eliminate),
                replay_latency_eliminate=bool(req.replay_latency_eliminate),
                dry_run=req.dry_run,
            ),
        )
        flow = present.flow_number(view.flow_id) if view else 0
        return {"ReadOnlyGroupId": view.group.id if view else "", "FlowId": flow, "TaskId": flow}

    def describe_read_only_groups(
        self, ctx: ActionContext, req: s.DescribeReadOnlyGroupsRequest
    ) -> f.DescribeReadOnlyGroupsAnswer:
        narrowed = _filtered(req.filters, GROUP_FILTERS)
        # A group has one master: the first one named narrows the listing.
        master = next(iter(narrowed.get("master", ())), None)
        size = req.page_size or 10
        start = max(0, (req.page_number or 1) - 1) * size  # PageNumber counts from 1 (0 is taken as 1)
        # Only the page's groups have their members read and presented.
        total, views = self.c.groups.page(ctx.caller.tenant_id, group_ids=narrowed.get("group_ids", ()),
                                          master=master, offset=start, limit=size)
        caller = ctx.caller
        groups = [
            present.group(
                view.group,
                [
                    present.group_member(
                        i, self.c.catalogue, app_id=caller.app_id, uin=caller.uin, master_code=view.master_code
                    )
                    for i in view.members
                ],
                view.master_code,
            )
            for view in views
        ]
        return {"ReadOnlyGroupList": groups, "TotalCount": total}

    def add_db_instance_to_read_only_group(
        self, ctx: ActionContext, req: s.AddDBInstanceToReadOnlyGroupRequest
    ) -> f.AddDBInstanceToReadOnlyGroupResponse:
        view = self.c.groups.add_member(ctx.caller.tenant_id, req.db_instance_id, req.read_only_group_id)
        flow = present.flow_number(view.flow_id)
        return {"FlowId": flow, "TaskId": flow}

    def remove_db_instance_from_read_only_group(
        self, ctx: ActionContext, req: s.RemoveDBInstanceFromReadOnlyGroupRequest
    ) -> f.RemoveDBInstanceFromReadOnlyGroupResponse:
        view = self.c.groups.remove_member(ctx.caller.tenant_id, req.db_instance_id, req.read_only_group_id)
        flow = present.flow_number(view.flow_id)
        return {"FlowId": flow, "TaskId": flow}

    def modify_db_instance_read_only_group(
        self, ctx: ActionContext, req: s.ModifyDBInstanceReadOnlyGroupRequest
    ) -> f.ModifyDBInstanceReadOnlyGroupResponse:
        view = self.c.groups.move_member(
            ctx.caller.tenant_id, req.db_instance_id, req.read_only_group_id, req.new_read_only_group_id
        )
        flow = present.flow_number(view.flow_id)
        return {"FlowId": flow, "TaskId": flow}

    def delete_read_only_group(
        self, ctx: ActionContext, req: s.DeleteReadOnlyGroupRequest
    ) -> f.DeleteReadOnlyGroupResponse:
        return {"FlowId": present.flow_number(self.c.groups.delete(ctx.caller.tenant_id, req.read_only_group_id))}

    def modify_read_only_group_config(
        self, ctx: ActionContext, req: s.ModifyReadOnlyGroupConfigRequest
    ) -> f.ModifyReadOnlyGroupConfigResponse:
        self.c.groups.configure(
            ctx.caller.tenant_id,
            req.read_only_group_id,
            GroupConfig(
                name=req.read_only_group_name,
                max_replay_lag_seconds=req.max_replay_lag,
                max_replay_latency_mb=req.max_replay_latency,
                min_delay_eliminate_reserve=req.min_delay_eliminate_reserve,
                replay_lag_eliminate=None if req.replay_lag_eliminate is None else bool(req.replay_lag_eliminate),
                replay_latency_eliminate=None
                if req.replay_latency_eliminate is None
                else bool(req.replay_latency_eliminate),
                rebalance=None if req.rebalance is None else bool(req.rebalance),
            ),
        )
        return {}

    def modify_read_only_db_instance_weight(
        self, ctx: ActionContext, req: s.ModifyReadOnlyDBInstanceWeightRequest
    ) -> f.ModifyReadOnlyDBInstanceWeightResponse:
        view = self.c.groups.get(ctx.caller.tenant_id, req.read_only_group_id)
        self.c.groups.set_weight(ctx.caller.tenant_id, req.db_instance_id, req.weight, group_id=view.group.id)
        return {}

    def rebalance_read_only_group(
        self, ctx: ActionContext, req: s.RebalanceReadOnlyGroupRequest
    ) -> f.RebalanceReadOnlyGroupResponse:
        self.c.groups.rebalance(ctx.caller.tenant_id, req.read_only_group_id)
        return {}


def _readonly_type(instance_type: str | None) -> bool:
    """InquiryPriceCreateDBInstances ``InstanceType``: ``primary`` (the default) or ``readonly``."""
    if instance_type in (None, "", "primary"):
        return False
    if instance_type == "readonly":
        return True
    raise InvalidInput("InstanceType must be primary or readonly", field="InstanceType")


# --- listing filters -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filter:
    """What one ``Filters.Name`` does: the query field its values are added to (``None``: accepted,
    narrows nothing on this host) and how each value is read (raising InvalidInput for one it cannot
    read). A filter's values match any of them; several filters must all match."""

    field: str | None
    value: Callable[[str], object] = str


def _project_id(value: str) -> int:
    if not value.lstrip("-").isdigit():
        raise InvalidInput("db-project-id values must be integers", field="Filters.Values")
    return int(value)


def _pay_mode(value: str) -> str:
    if value not in _PAY_MODES:
        raise InvalidInput("db-pay-mode values are prepaid or postpaid", field="Filters.Values")
    return _PAY_MODES[value]


#: ``DescribeDBInstances`` filters -> fields of :class:`InstanceQuery` (whose columns and operators
#: the instance repository declares).
INSTANCE_FILTERS: Mapping[str, Filter] = {
    "db-instance-id": Filter("ids"),
    "db-instance-name": Filter("name_contains"),
    "db-project-id": Filter("project_ids", _project_id),
    "db-pay-mode": Filter("charge_types", _pay_mode),
    "db-tag-key": Filter("tag_keys"),
    "db-master-instance-id": Filter("master_ids"),
    # Every instance listens on this host, in no dedicated cluster: these narrow nothing here.
    "db-private-ip": Filter(None),
    "db-public-address": Filter(None),
    "db-dedicated-cluster-id": Filter(None),
}

#: ``DescribeReadOnlyGroups`` filters -> arguments of :meth:`GroupService.describe`.
GROUP_FILTERS: Mapping[str, Filter] = {
    "read-only-group-id": Filter("group_ids"),
    "db-master-instance-id": Filter("master"),
}


def _filtered(filters: Sequence[s.Filter] | None, table: Mapping[str, Filter]) -> dict[str, tuple[Any, ...]]:
    """The values of ``filters``, read and gathered per field as ``table`` says, in the order given.

    :raises InvalidInput: a filter name not in ``table``, or a value its filter cannot read.
    """
    values: dict[str, tuple[Any, ...]] = {}
    for given in filters or ():
        name = given.name or ""
        rule = table.get(name)
        if rule is None:
            raise InvalidInput(f"filter {name} is not supported", field="Filters.Name")
        if rule.field is not None:
            values[rule.field] = values.get(rule.field, ()) + tuple(rule.value(v) for v in given.values or ())
    return values


def _instance_query(region: str, req: s.DescribeDBInstancesRequest) -> InstanceQuery:
    values = _filtered(req.filters, INSTANCE_FILTERS)
    if req.order_by is not None and req.order_by not in _ORDER_BY:
        raise InvalidInput(f"OrderBy must be one of {', '.join(_ORDER_BY)}", field="OrderBy")
    if req.order_by_type is not None and req.order_by_type.lower() not in ("asc", "desc"):
        raise InvalidInput("OrderByType must be asc or desc", field="OrderByType")
    limit = req.limit or 10
    if limit > 100:
        raise InvalidInput("Limit must be between 0 and 100", field="Limit")
    return InstanceQuery(
        region=region,
        order_by=_ORDER_BY.get(req.order_by or "CreateTime", "created"),
        descending=(req.order_by_type or "asc").lower() == "desc",
        offset=req.offset or 0,
        limit=limit,
        **values,
    )


#: Actions whose answer is the store's contents seen by the caller: reused while nothing is committed.
STORE_READS = frozenset(
    {"DescribeDBInstances", "DescribeDBInstanceAttribute", "DescribeReadOnlyGroups", "DescribeTasks"}
)
