"""Request models of the security-group and network-access actions, under the rules of
:mod:`openrds.api.tencent.schemas` (wire names, types and required flags are the SDK's; every list and
string bounded)."""

from __future__ import annotations

from pydantic import Field

from openrds.api.tencent.schemas import MAX_SECURITY_GROUPS, TencentModel


class DescribeDBInstanceSecurityGroupsRequest(TencentModel):
    """DescribeDBInstanceSecurityGroups: of an instance, or (without one) of a read-only group."""

    db_instance_id: str | None = Field(None, alias="DBInstanceId")
    read_only_group_id: str | None = Field(None, alias="ReadOnlyGroupId")


class ModifyDBInstanceSecurityGroupsRequest(TencentModel):
    """ModifyDBInstanceSecurityGroups: the whole list of groups, replacing the resource's; the instance
    wins when both ids are given."""

    security_group_id_set: list[str] = Field(alias="SecurityGroupIdSet", max_length=MAX_SECURITY_GROUPS)
    db_instance_id: str | None = Field(None, alias="DBInstanceId")
    read_only_group_id: str | None = Field(None, alias="ReadOnlyGroupId")


class CreateDBInstanceNetworkAccessRequest(TencentModel):
    """CreateDBInstanceNetworkAccess: a second VPC address for an instance (refused here, with why)."""

    db_instance_id: str = Field(alias="DBInstanceId")
    vpc_id: str = Field(alias="VpcId")
    subnet_id: str = Field(alias="SubnetId")
    is_assign_vip: bool = Field(alias="IsAssignVip")
    vip: str | None = Field(None, alias="Vip")


class DeleteDBInstanceNetworkAccessRequest(TencentModel):
    """DeleteDBInstanceNetworkAccess: remove one of an instance's VPC addresses (refused here, with why)."""

    db_instance_id: str = Field(alias="DBInstanceId")
    vpc_id: str = Field(alias="VpcId")
    subnet_id: str = Field(alias="SubnetId")
    vip: str = Field(alias="Vip")


class CreateReadOnlyGroupNetworkAccessRequest(TencentModel):
    """CreateReadOnlyGroupNetworkAccess: a second VPC address for a read-only group (refused, with why)."""

    read_only_group_id: str = Field(alias="ReadOnlyGroupId")
    vpc_id: str = Field(alias="VpcId")
    subnet_id: str = Field(alias="SubnetId")
    is_assign_vip: bool = Field(alias="IsAssignVip")
    vip: str | None = Field(None, alias="Vip")


class DeleteReadOnlyGroupNetworkAccessRequest(TencentModel):
    """DeleteReadOnlyGroupNetworkAccess: remove a read-only group's VPC address (refused, with why)."""

    read_only_group_id: str = Field(alias="ReadOnlyGroupId")
    vpc_id: str = Field(alias="VpcId")
    subnet_id: str = Field(alias="SubnetId")
    vip: str = Field(alias="Vip")


REQUEST_MODELS: dict[str, type[TencentModel]] = {
    "DescribeDBInstanceSecurityGroups": DescribeDBInstanceSecurityGroupsRequest,
    "ModifyDBInstanceSecurityGroups": ModifyDBInstanceSecurityGroupsRequest,
    "CreateDBInstanceNetworkAccess": CreateDBInstanceNetworkAccessRequest,
    "DeleteDBInstanceNetworkAccess": DeleteDBInstanceNetworkAccessRequest,
    "CreateReadOnlyGroupNetworkAccess": CreateReadOnlyGroupNetworkAccessRequest,
    "DeleteReadOnlyGroupNetworkAccess": DeleteReadOnlyGroupNetworkAccessRequest,
}
