"""Request models of the Tencent Cloud PostgreSQL API (version 2017-03-12), one per action.

Contract for every model:

* Wire names are exactly the SDK's (``tencentcloud/postgres/v20170312/models.py``); they are pydantic
  aliases of snake_case attributes, and only the wire names are accepted (``validate_by_name=False``).
* Every request field the SDK defines is accepted; which ones are required, and their types, follow
  the API table tccli ships (``tccli/services/postgres/v20170312/api.json``). ``tests/
  api_tencent_protocol/test_schemas.py`` checks the models against both, so SDK drift is caught.
* ``extra="forbid"``: any other field is ``UnknownParameter``.
* Strict JSON types: ``"10"`` for an Integer, ``1`` for a Boolean or ``10`` for a String is
  ``InvalidParameter``; the SDK and tccli send real JSON types (tccli converts its arguments with the
  API table first). ``uint64`` fields reject negative numbers. The router relaxes this only for GET
  requests, whose values all arrive as query-string text.
* Every list and every string is bounded (the ``MAX_*`` constants below, README "Limits"), and no
  string may hold a control character (``rules.CONTROL_CATEGORIES``: newline, tab, NUL, invisible
  format characters, ...): ``InvalidParameter`` naming the field, before any handler runs.
* Otherwise only types are checked here. Value rules (storage steps, 1-6 instances, name characters,
  ...) are domain rules: services raise ``openrds.domain.errors`` for them.
* Additions beyond the SDK, for other clients (see ``reference/tencent-api-notes.md``): ``DryRun`` on
  the create actions; on CreateReadOnlyDBInstance ``DBMajorVersion``/``DBKernelVersion`` next to
  ``DBVersion`` and ``BillingParameters`` (the response documents it as echoing an input of that
  name). ``TagList`` of CreateReadOnlyDBInstance is one ``Tag`` object in the SDK; a list is accepted
  too and both arrive as a list.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from openrds.domain import rules

#: Bounds of the lists and strings (README "Limits"). Tencent documents 100 for its id lists and 50
#: tags per resource with 127/255-character keys/values; where it documents nothing the bound leaves
#: room for any real use while keeping one call's work small.
MAX_IDS = 100  # DBInstanceIdSet, DealNames, and a filter's Values
MAX_FILTERS = 10
MAX_TAGS = 50
MAX_TAG_KEY, MAX_TAG_VALUE = 127, 255
MAX_SECURITY_GROUPS = 10
MAX_VOUCHERS = 10  # the services accept one; up to this many the answer says so
MAX_DB_NODES = 2  # a primary and its standby
MAX_STRING = 1024  # every other string

#: Tencent ``uint64`` / ``int64`` fields. Python ints are unbounded; the bounds keep out values the
#: real service could not parse.
UInt64 = Annotated[int, Field(ge=0, le=2**64 - 1)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


def _one_or_many(value: Any) -> Any:
    """Accept a single object where a list is meant (CreateReadOnlyDBInstance ``TagList``)."""
    return [value] if isinstance(value, dict) else value


class TencentModel(BaseModel):
    """Base of every request model and nested structure: strict, closed, immutable, wire-named."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        str_max_length=MAX_STRING,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        """Every string field, and every string of a list field, of every model (nested ones check their own)."""
        for text in value if isinstance(value, list) else (value,):
            if isinstance(text, str) and (found := rules.control_character(text)) is not None:
                raise PydanticCustomError("control_character", "control character {character} in a string",
                                          {"character": f"U+{ord(found):04X}"})
        return value


# --- nested structures ---------------------------------------------------------------------------
class Tag(TencentModel):
    """``Tag``: a resource tag."""

    tag_key: str = Field(alias="TagKey", max_length=MAX_TAG_KEY)
    tag_value: str = Field(alias="TagValue", max_length=MAX_TAG_VALUE)


class Filter(TencentModel):
    """``Filter``: a list filter, e.g. ``{"Name": "db-instance-id", "Values": ["postgres-..."]}``."""

    name: str | None = Field(None, alias="Name")
    values: list[str] | None = Field(None, alias="Values", max_length=MAX_IDS)


class DBNode(TencentModel):
    """``DBNode``: where one node of a (multi-zone) primary is placed."""

    role: str = Field(alias="Role")
    zone: str = Field(alias="Zone")
    dedicated_cluster_id: str | None = Field(None, alias="DedicatedClusterId")


# --- catalogue -----------------------------------------------------------------------------------
class DescribeRegionsRequest(TencentModel):
    """DescribeRegions: no parameters."""


class DescribeZonesRequest(TencentModel):
    """DescribeZones."""

    storage_type: str | None = Field(None, alias="StorageType")


class DescribeClassesRequest(TencentModel):
    """DescribeClasses: purchasable specs of one zone, engine and major version."""

    zone: str = Field(alias="Zone")
    db_engine: str = Field(alias="DBEngine")
    db_major_version: str = Field(alias="DBMajorVersion")
    storage_type: str | None = Field(None, alias="StorageType")


class DescribeDBVersionsRequest(TencentModel):
    """DescribeDBVersions."""

    storage_type: str | None = Field(None, alias="StorageType")


class DescribeProductConfigRequest(TencentModel):
    """DescribeProductConfig."""

    zone: str | None = Field(None, alias="Zone")
    db_engine: str | None = Field(None, alias="DBEngine")
    storage_type: str | None = Field(None, alias="StorageType")


# --- instances -----------------------------------------------------------------------------------
class CreateInstancesRequest(TencentModel):
    """CreateInstances: buy and initialise primaries (plus ``DryRun``)."""

    spec_code: str = Field(alias="SpecCode")
    storage: UInt64 = Field(alias="Storage")
    instance_count: UInt64 = Field(alias="InstanceCount")
    period: UInt64 = Field(alias="Period")
    charset: str = Field(alias="Charset")
    admin_name: str = Field(alias="AdminName")
    admin_password: str = Field(alias="AdminPassword", repr=False)
    zone: str = Field(alias="Zone")
    db_major_version: str | None = Field(None, alias="DBMajorVersion")
    db_version: str | None = Field(None, alias="DBVersion")
    db_kernel_version: str | None = Field(None, alias="DBKernelVersion")
    instance_charge_type: str | None = Field(None, alias="InstanceChargeType")
    vpc_id: str | None = Field(None, alias="VpcId")
    subnet_id: str | None = Field(None, alias="SubnetId")
    db_node_set: list[DBNode] | None = Field(None, alias="DBNodeSet", max_length=MAX_DB_NODES)
    auto_renew_flag: Int64 | None = Field(None, alias="AutoRenewFlag")
    auto_voucher: UInt64 | None = Field(None, alias="AutoVoucher")
    voucher_ids: list[str] | None = Field(None, alias="VoucherIds", max_length=MAX_VOUCHERS)
    project_id: Int64 | None = Field(None, alias="ProjectId")
    activity_id: Int64 | None = Field(None, alias="ActivityId")
    name: str | None = Field(None, alias="Name")
    tag_list: list[Tag] | None = Field(None, alias="TagList", max_length=MAX_TAGS)
    security_group_ids: list[str] | None = Field(None, alias="SecurityGroupIds", max_length=MAX_SECURITY_GROUPS)
    need_support_tde: UInt64 | None = Field(None, alias="NeedSupportTDE")
    kms_key_id: str | None = Field(None, alias="KMSKeyId")
    kms_region: str | None = Field(None, alias="KMSRegion")
    kms_cluster_id: str | None = Field(None, alias="KMSClusterId")
    db_engine: str | None = Field(None, alias="DBEngine")
    db_engine_config: str | None = Field(None, alias="DBEngineConfig")
    sync_mode: str | None = Field(None, alias="SyncMode")
    need_support_ipv6: UInt64 | None = Field(None, alias="NeedSupportIpv6")
    deletion_protection: bool | None = Field(None, alias="DeletionProtection")
    storage_type: str | None = Field(None, alias="StorageType")
    dry_run: bool = Field(False, alias="DryRun")


class DescribeDBInstancesRequest(TencentModel):
    """DescribeDBInstances: filtered, paged list."""

    filters: list[Filter] | None = Field(None, alias="Filters", max_length=MAX_FILTERS)
    limit: UInt64 | None = Field(None, alias="Limit")
    offset: UInt64 | None = Field(None, alias="Offset")
    order_by: str | None = Field(None, alias="OrderBy")
    order_by_type: str | None = Field(None, alias="OrderByType")


class DescribeDBInstanceAttributeRequest(TencentModel):
    """DescribeDBInstanceAttribute."""

    db_instance_id: str = Field(alias="DBInstanceId")


class ModifyDBInstanceNameRequest(TencentModel):
    """ModifyDBInstanceName."""

    db_instance_id: str = Field(alias="DBInstanceId")
    instance_name: str = Field(alias="InstanceName")


class ModifyDBInstanceDeletionProtectionRequest(TencentModel):
    """ModifyDBInstanceDeletionProtection."""

    db_instance_id: str = Field(alias="DBInstanceId")
    deletion_protection: bool = Field(alias="DeletionProtection")


class RestartDBInstanceRequest(TencentModel):
    """RestartDBInstance."""

    db_instance_id: str = Field(alias="DBInstanceId")


class IsolateDBInstancesRequest(TencentModel):
    """IsolateDBInstances."""

    db_instance_id_set: list[str] = Field(alias="DBInstanceIdSet", max_length=MAX_IDS)


class DisIsolateDBInstancesRequest(TencentModel):
    """DisIsolateDBInstances. Note ``AutoVoucher`` is a Boolean here but an Integer in the create actions."""

    db_instance_id_set: list[str] = Field(alias="DBInstanceIdSet", max_length=MAX_IDS)
    period: Int64 | None = Field(None, alias="Period")
    auto_voucher: bool | None = Field(None, alias="AutoVoucher")
    voucher_ids: list[str] | None = Field(None, alias="VoucherIds", max_length=MAX_VOUCHERS)


class DestroyDBInstanceRequest(TencentModel):
    """DestroyDBInstance."""

    db_instance_id: str = Field(alias="DBInstanceId")


class DescribeTasksRequest(TencentModel):
    """DescribeTasks. ``MinStartTime``/``MaxStartTime`` are ``YYYY-MM-DD hh:mm:ss`` strings."""

    task_id: UInt64 | None = Field(None, alias="TaskId")
    db_instance_id: str | None = Field(None, alias="DBInstanceId")
    min_start_time: str | None = Field(None, alias="MinStartTime")
    max_start_time: str | None = Field(None, alias="MaxStartTime")
    limit: UInt64 | None = Field(None, alias="Limit")
    offset: UInt64 | None = Field(None, alias="Offset")
    order_by: str | None = Field(None, alias="OrderBy")
    order_by_type: str | None = Field(None, alias="OrderByType")


# --- read-only instances and groups --------------------------------------------------------------
class CreateReadOnlyDBInstanceRequest(TencentModel):
    """CreateReadOnlyDBInstance (seed ``002``): every SDK field plus the additions above."""

    zone: str = Field(alias="Zone")
    master_db_instance_id: str = Field(alias="MasterDBInstanceId")
    spec_code: str = Field(alias="SpecCode")
    storage: UInt64 = Field(alias="Storage")
    instance_count: UInt64 = Field(alias="InstanceCount")
    period: UInt64 = Field(alias="Period")
    vpc_id: str | None = Field(None, alias="VpcId")
    subnet_id: str | None = Field(None, alias="SubnetId")
    instance_charge_type: str | None = Field(None, alias="InstanceChargeType")
    auto_voucher: UInt64 | None = Field(None, alias="AutoVoucher")
    voucher_ids: list[str] | None = Field(None, alias="VoucherIds", max_length=MAX_VOUCHERS)
    auto_renew_flag: Int64 | None = Field(None, alias="AutoRenewFlag")
    project_id: UInt64 | None = Field(None, alias="ProjectId")
    activity_id: Int64 | None = Field(None, alias="ActivityId")
    read_only_group_id: str | None = Field(None, alias="ReadOnlyGroupId")
    tag_list: Annotated[list[Tag] | None, BeforeValidator(_one_or_many)] = Field(
        None, alias="TagList", max_length=MAX_TAGS
    )
    security_group_ids: list[str] | None = Field(None, alias="SecurityGroupIds", max_length=MAX_SECURITY_GROUPS)
    need_support_ipv6: UInt64 | None = Field(None, alias="NeedSupportIpv6")
    name: str | None = Field(None, alias="Name")
    db_version: str | None = Field(None, alias="DBVersion")
    db_major_version: str | None = Field(None, alias="DBMajorVersion")
    db_kernel_version: str | None = Field(None, alias="DBKernelVersion")
    dedicated_cluster_id: str | None = Field(None, alias="DedicatedClusterId")
    deletion_protection: bool | None = Field(None, alias="DeletionProtection")
    tags: list[Tag] | None = Field(None, alias="Tags", max_length=MAX_TAGS)
    billing_parameters: str | None = Field(None, alias="BillingParameters")
    dry_run: bool = Field(False, alias="DryRun")


class CreateReadOnlyGroupRequest(TencentModel):
    """CreateReadOnlyGroup (plus ``DryRun``)."""

    master_db_instance_id: str = Field(alias="MasterDBInstanceId")
    name: str = Field(alias="Name")
    project_id: UInt64 | None = Field(None, alias="ProjectId")
    vpc_id: str | None = Field(None, alias="VpcId")
    subnet_id: str | None = Field(None, alias="SubnetId")
    replay_lag_eliminate: UInt64 | None = Field(None, alias="ReplayLagEliminate")
    replay_latency_eliminate: UInt64 | None = Field(None, alias="ReplayLatencyEliminate")
    max_replay_lag: UInt64 | None = Field(None, alias="MaxReplayLag")
    max_replay_latency: UInt64 | None = Field(None, alias="MaxReplayLatency")
    min_delay_eliminate_reserve: UInt64 | None = Field(None, alias="MinDelayEliminateReserve")
    security_group_ids: list[str] | None = Field(None, alias="SecurityGroupIds", max_length=MAX_SECURITY_GROUPS)
    dry_run: bool = Field(False, alias="DryRun")


class DescribeReadOnlyGroupsRequest(TencentModel):
    """DescribeReadOnlyGroups. Filters: ``db-master-instance-id``, ``read-only-group-id``."""

    filters: list[Filter] | None = Field(None, alias="Filters", max_length=MAX_FILTERS)
    page_size: Int64 | None = Field(None, alias="PageSize")
    page_number: Int64 | None = Field(None, alias="PageNumber")
    order_by: str | None = Field(None, alias="OrderBy")
    order_by_type: str | None = Field(None, alias="OrderByType")


class AddDBInstanceToReadOnlyGroupRequest(TencentModel):
    """AddDBInstanceToReadOnlyGroup."""

    db_instance_id: str = Field(alias="DBInstanceId")
    read_only_group_id: str = Field(alias="ReadOnlyGroupId")


class RemoveDBInstanceFromReadOnlyGroupRequest(TencentModel):
    """RemoveDBInstanceFromReadOnlyGroup."""

    db_instance_id: str = Field(alias="DBInstanceId")
    read_only_group_id: str = Field(alias="ReadOnlyGroupId")


class DeleteReadOnlyGroupRequest(TencentModel):
    """DeleteReadOnlyGroup."""

    read_only_group_id: str = Field(alias="ReadOnlyGroupId")


class ModifyReadOnlyGroupConfigRequest(TencentModel):
    """ModifyReadOnlyGroupConfig: every setting optional, ``None`` means unchanged."""

    read_only_group_id: str = Field(alias="ReadOnlyGroupId")
    read_only_group_name: str | None = Field(None, alias="ReadOnlyGroupName")
    replay_lag_eliminate: UInt64 | None = Field(None, alias="ReplayLagEliminate")
    replay_latency_eliminate: UInt64 | None = Field(None, alias="ReplayLatencyEliminate")
    max_replay_latency: UInt64 | None = Field(None, alias="MaxReplayLatency")
    max_replay_lag: UInt64 | None = Field(None, alias="MaxReplayLag")
    rebalance: UInt64 | None = Field(None, alias="Rebalance")
    min_delay_eliminate_reserve: UInt64 | None = Field(None, alias="MinDelayEliminateReserve")


class ModifyDBInstanceReadOnlyGroupRequest(TencentModel):
    """ModifyDBInstanceReadOnlyGroup: move a read-only instance to another group."""

    db_instance_id: str = Field(alias="DBInstanceId")
    read_only_group_id: str = Field(alias="ReadOnlyGroupId")
    new_read_only_group_id: str = Field(alias="NewReadOnlyGroupId")


class ModifyReadOnlyDBInstanceWeightRequest(TencentModel):
    """ModifyReadOnlyDBInstanceWeight: ``Weight`` is 1-50 (a domain rule)."""

    db_instance_id: str = Field(alias="DBInstanceId")
    read_only_group_id: str = Field(alias="ReadOnlyGroupId")
    weight: Int64 = Field(alias="Weight")


class RebalanceReadOnlyGroupRequest(TencentModel):
    """RebalanceReadOnlyGroup."""

    read_only_group_id: str = Field(alias="ReadOnlyGroupId")


# --- money ---------------------------------------------------------------------------------------
class InquiryPriceCreateDBInstancesRequest(TencentModel):
    """InquiryPriceCreateDBInstances: the price of new instances (``Pid`` is obsolete and ignored)."""

    zone: str = Field(alias="Zone")
    spec_code: str = Field(alias="SpecCode")
    storage: UInt64 = Field(alias="Storage")
    instance_count: UInt64 = Field(alias="InstanceCount")
    period: UInt64 = Field(alias="Period")
    pid: UInt64 | None = Field(None, alias="Pid")
    instance_charge_type: str | None = Field(None, alias="InstanceChargeType")
    instance_type: str | None = Field(None, alias="InstanceType")
    db_engine: str | None = Field(None, alias="DBEngine")
    storage_type: str | None = Field(None, alias="StorageType")


class InquiryPriceRenewDBInstanceRequest(TencentModel):
    """InquiryPriceRenewDBInstance: the price of renewing a prepaid instance for ``Period`` months."""

    db_instance_id: str = Field(alias="DBInstanceId")
    period: Int64 = Field(alias="Period")


class RenewInstanceRequest(TencentModel):
    """RenewInstance: buy ``Period`` more months of a prepaid instance."""

    db_instance_id: str = Field(alias="DBInstanceId")
    period: Int64 = Field(alias="Period")
    auto_voucher: Int64 | None = Field(None, alias="AutoVoucher")
    voucher_ids: list[str] | None = Field(None, alias="VoucherIds", max_length=MAX_VOUCHERS)


class SetAutoRenewFlagRequest(TencentModel):
    """SetAutoRenewFlag: 0 renew by hand, 1 renew automatically, 2 do not renew."""

    db_instance_id_set: list[str] = Field(alias="DBInstanceIdSet", max_length=MAX_IDS)
    auto_renew_flag: Int64 = Field(alias="AutoRenewFlag")


class DescribeOrdersRequest(TencentModel):
    """DescribeOrders: orders by deal name (``DealNames`` of the create and renew answers)."""

    deal_names: list[str] = Field(alias="DealNames", max_length=MAX_IDS)


#: Action name -> request model, for every action this module covers.
REQUEST_MODELS: dict[str, type[TencentModel]] = {
    "DescribeRegions": DescribeRegionsRequest,
    "DescribeZones": DescribeZonesRequest,
    "DescribeClasses": DescribeClassesRequest,
    "DescribeDBVersions": DescribeDBVersionsRequest,
    "DescribeProductConfig": DescribeProductConfigRequest,
    "CreateInstances": CreateInstancesRequest,
    "DescribeDBInstances": DescribeDBInstancesRequest,
    "DescribeDBInstanceAttribute": DescribeDBInstanceAttributeRequest,
    "ModifyDBInstanceName": ModifyDBInstanceNameRequest,
    "ModifyDBInstanceDeletionProtection": ModifyDBInstanceDeletionProtectionRequest,
    "RestartDBInstance": RestartDBInstanceRequest,
    "IsolateDBInstances": IsolateDBInstancesRequest,
    "DisIsolateDBInstances": DisIsolateDBInstancesRequest,
    "DestroyDBInstance": DestroyDBInstanceRequest,
    "DescribeTasks": DescribeTasksRequest,
    "CreateReadOnlyDBInstance": CreateReadOnlyDBInstanceRequest,
    "CreateReadOnlyGroup": CreateReadOnlyGroupRequest,
    "DescribeReadOnlyGroups": DescribeReadOnlyGroupsRequest,
    "AddDBInstanceToReadOnlyGroup": AddDBInstanceToReadOnlyGroupRequest,
    "RemoveDBInstanceFromReadOnlyGroup": RemoveDBInstanceFromReadOnlyGroupRequest,
    "DeleteReadOnlyGroup": DeleteReadOnlyGroupRequest,
    "ModifyReadOnlyGroupConfig": ModifyReadOnlyGroupConfigRequest,
    "ModifyDBInstanceReadOnlyGroup": ModifyDBInstanceReadOnlyGroupRequest,
    "ModifyReadOnlyDBInstanceWeight": ModifyReadOnlyDBInstanceWeightRequest,
    "RebalanceReadOnlyGroup": RebalanceReadOnlyGroupRequest,
    "InquiryPriceCreateDBInstances": InquiryPriceCreateDBInstancesRequest,
    "InquiryPriceRenewDBInstance": InquiryPriceRenewDBInstanceRequest,
    "RenewInstance": RenewInstanceRequest,
    "SetAutoRenewFlag": SetAutoRenewFlagRequest,
    "DescribeOrders": DescribeOrdersRequest,
}

#: Actions whose ``Region`` common parameter the API documents as not required.
REGION_OPTIONAL_ACTIONS: frozenset[str] = frozenset({"DescribeRegions"})
