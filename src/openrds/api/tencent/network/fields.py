"""Response shapes of the security-group and network-access actions (:mod:`.schemas`), transcribed from
tccli's API table under the rules of :mod:`openrds.api.tencent.fields`."""

# No ``from __future__ import annotations``: ``NotRequired`` must be visible at run time.
from typing import NotRequired, TypedDict


class PolicyRule(TypedDict):
    """``PolicyRule``: 安全组规则信息"""

    # 策略，ACCEPT 或者 DROP
    Action: str
    # 来源或目的 IP 或 IP 段，例如172.16.0.0/12
    CidrIp: str
    # 端口
    PortRange: str
    # 网络协议，支持 UDP、TCP 等
    IpProtocol: str
    # 规则描述
    Description: str


class SecurityGroup(TypedDict):
    """``SecurityGroup``: 安全组信息"""

    # 项目Id
    ProjectId: int
    # 创建时间
    CreateTime: str
    # 入站规则
    Inbound: list[PolicyRule]
    # 出站规则
    Outbound: list[PolicyRule]
    # 安全组ID
    SecurityGroupId: str
    # 安全组名称
    SecurityGroupName: str
    # 安全组备注
    SecurityGroupDescription: str


class DescribeDBInstanceSecurityGroupsResponse(TypedDict):
    """``DescribeDBInstanceSecurityGroups`` result (the router adds ``RequestId``)."""

    # 安全组信息数组
    SecurityGroupSet: list[SecurityGroup]


class ModifyDBInstanceSecurityGroupsResponse(TypedDict):
    """``ModifyDBInstanceSecurityGroups`` result (the router adds ``RequestId``)."""


class CreateDBInstanceNetworkAccessResponse(TypedDict):
    """``CreateDBInstanceNetworkAccess`` result (the router adds ``RequestId``)."""

    # 流程ID。
    FlowId: int
    # 任务ID。
    TaskId: NotRequired[int]


class DeleteDBInstanceNetworkAccessResponse(TypedDict):
    """``DeleteDBInstanceNetworkAccess`` result (the router adds ``RequestId``)."""

    # 流程ID。
    FlowId: int
    # 任务ID。
    TaskId: NotRequired[int]


class CreateReadOnlyGroupNetworkAccessResponse(TypedDict):
    """``CreateReadOnlyGroupNetworkAccess`` result (the router adds ``RequestId``)."""

    # 流程ID。
    FlowId: int
    # 任务ID。
    TaskId: NotRequired[int]


class DeleteReadOnlyGroupNetworkAccessResponse(TypedDict):
    """``DeleteReadOnlyGroupNetworkAccess`` result (the router adds ``RequestId``)."""

    # 流程ID。
    FlowId: int
    # 任务ID。
    TaskId: NotRequired[int]
