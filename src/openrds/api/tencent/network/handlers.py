"""The security-group and network-access actions: parse -> :mod:`openrds.services.network` -> present.

Security groups are the operator's (``openrds admin security-group``); a tenant sees and binds its own.
Network access (a second VPC address) cannot mean anything on this host, where a server or endpoint has
exactly one listen address: those four actions answer ``FailedOperation.NetworkNumLimitError`` with the
reason, once the instance or group is known to be the caller's.
"""

from __future__ import annotations

from openrds.api.tencent import presenters as present
from openrds.api.tencent.network import fields as f
from openrds.api.tencent.network import schemas as s
from openrds.api.tencent.protocol import ActionContext
from openrds.container import Container
from openrds.domain.security_groups import Rule, SecurityGroup


def _rule(rule: Rule) -> f.PolicyRule:
    return {"Action": rule.action.value, "CidrIp": rule.cidr, "PortRange": rule.port_range,
            "IpProtocol": rule.protocol.value, "Description": rule.description}


def security_group(group: SecurityGroup) -> f.SecurityGroup:
    """``SecurityGroup``: its inbound rules in evaluation order; no outbound rules (a database opens no
    connections, so none are kept)."""
    return {"ProjectId": group.project_id, "CreateTime": present.tencent_time(group.created_at),
            "Inbound": [_rule(r) for r in group.inbound], "Outbound": [], "SecurityGroupId": group.id,
            "SecurityGroupName": group.name, "SecurityGroupDescription": group.description}


class NetworkActions:
    def __init__(self, container: Container) -> None:
        self.c = container

    def describe_db_instance_security_groups(
        self, ctx: ActionContext, req: s.DescribeDBInstanceSecurityGroupsRequest
    ) -> f.DescribeDBInstanceSecurityGroupsResponse:
        bound = self.c.network.describe(ctx.caller.tenant_id, instance=req.db_instance_id,
                                        group_id=req.read_only_group_id)
        return {"SecurityGroupSet": [security_group(g) for g in bound.groups]}

    def modify_db_instance_security_groups(
        self, ctx: ActionContext, req: s.ModifyDBInstanceSecurityGroupsRequest
    ) -> f.ModifyDBInstanceSecurityGroupsResponse:
        self.c.network.bind(ctx.caller.tenant_id, req.security_group_id_set, instance=req.db_instance_id,
                            group_id=req.read_only_group_id)
        return {}

    def create_db_instance_network_access(
        self, ctx: ActionContext, req: s.CreateDBInstanceNetworkAccessRequest
    ) -> f.CreateDBInstanceNetworkAccessResponse:
        self.c.network.network_access(ctx.caller.tenant_id, instance=req.db_instance_id, adding=True)

    def delete_db_instance_network_access(
        self, ctx: ActionContext, req: s.DeleteDBInstanceNetworkAccessRequest
    ) -> f.DeleteDBInstanceNetworkAccessResponse:
        self.c.network.network_access(ctx.caller.tenant_id, instance=req.db_instance_id, adding=False)

    def create_read_only_group_network_access(
        self, ctx: ActionContext, req: s.CreateReadOnlyGroupNetworkAccessRequest
    ) -> f.CreateReadOnlyGroupNetworkAccessResponse:
        self.c.network.network_access(ctx.caller.tenant_id, group_id=req.read_only_group_id, adding=True)

    def delete_read_only_group_network_access(
        self, ctx: ActionContext, req: s.DeleteReadOnlyGroupNetworkAccessRequest
    ) -> f.DeleteReadOnlyGroupNetworkAccessResponse:
        self.c.network.network_access(ctx.caller.tenant_id, group_id=req.read_only_group_id, adding=False)
