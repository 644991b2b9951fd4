"""Security groups, their inbound rules and what they are bound to (`domain.security_groups`), tenant-scoped.

A binding's resource is an instance's internal id or a read-only group's id; the order of a resource's
groups (``position``) and of a group's rules is the order they are evaluated in.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from openrds.domain.security_groups import Protocol, Rule, RuleAction, SecurityGroup
from openrds.persistence.tables import SecurityGroupBindingRow, SecurityGroupRow, SecurityGroupRuleRow


class SecurityGroupRepository:
    """One tenant's security groups, or every tenant's when ``tenant_id`` is None (the operator, jobs)."""

    def __init__(self, session: Session, tenant_id: str | None) -> None:
        self._s = session
        self._tenant = tenant_id

    def _row(self, group_id: str) -> SecurityGroupRow | None:
        row = self._s.get(SecurityGroupRow, group_id)
        if row is None or (self._tenant is not None and row.tenant_id != self._tenant):
            return None
        return row

    def _rules(self, group_ids: Sequence[str]) -> dict[str, list[Rule]]:
        found: dict[str, list[Rule]] = {g: [] for g in group_ids}
        if not group_ids:
            return found
        query = (select(SecurityGroupRuleRow).where(SecurityGroupRuleRow.group_id.in_(group_ids))
                 .order_by(SecurityGroupRuleRow.group_id, SecurityGroupRuleRow.position))
        for r in self._s.scalars(query):
            found[r.group_id].append(Rule(RuleAction(r.action), r.cidr, r.port_range, Protocol(r.protocol),
                                          r.description))
        return found

    def _groups(self, rows: Sequence[SecurityGroupRow]) -> list[SecurityGroup]:
        rules = self._rules([r.id for r in rows])
        return [SecurityGroup(r.id, r.tenant_id, r.name, r.description, r.project_id, r.created_at,
                              tuple(rules[r.id])) for r in rows]

    def add(self, group: SecurityGroup) -> None:
        if self._tenant is not None and group.tenant_id != self._tenant:
            raise ValueError("security group of another tenant")
        self._s.add(SecurityGroupRow(id=group.id, tenant_id=group.tenant_id, name=group.name,
                                     description=group.description, project_id=group.project_id,
                                     created_at=group.created_at))
        self._s.flush()
        self.set_rules(group.id, group.inbound)

    def find(self, group_id: str) -> SecurityGroup | None:
        row = self._row(group_id)
        return None if row is None else self._groups([row])[0]

    def all(self) -> list[SecurityGroup]:
        query = select(SecurityGroupRow).order_by(SecurityGroupRow.created_at, SecurityGroupRow.id)
        if self._tenant is not None:
            query = query.where(SecurityGroupRow.tenant_id == self._tenant)
        return self._groups(list(self._s.scalars(query)))

    def set_rules(self, group_id: str, rules: Sequence[Rule]) -> None:
        """Replace the group's inbound rules by ``rules``, in that order."""
        self._s.execute(delete(SecurityGroupRuleRow).where(SecurityGroupRuleRow.group_id == group_id))
        for position, rule in enumerate(rules):
            self._s.add(SecurityGroupRuleRow(group_id=group_id, position=position, action=rule.action.value,
                                             cidr=rule.cidr, port_range=rule.port_range,
                                             protocol=rule.protocol.value, description=rule.description))
        self._s.flush()

    def remove(self, group_id: str) -> None:
        """Delete the group and its rules (the caller checked it is bound to nothing)."""
        self._s.execute(delete(SecurityGroupRuleRow).where(SecurityGroupRuleRow.group_id == group_id))
        self._s.execute(delete(SecurityGroupRow).where(SecurityGroupRow.id == group_id))

    # --- bindings --------------------------------------------------------------------------------
    def bound_to(self, resource_id: str) -> list[SecurityGroup]:
        """The groups bound to a resource, in its order."""
        query = (select(SecurityGroupRow).join(SecurityGroupBindingRow,
                                               SecurityGroupBindingRow.group_id == SecurityGroupRow.id)
                 .where(SecurityGroupBindingRow.resource_id == resource_id)
                 .order_by(SecurityGroupBindingRow.position))
        if self._tenant is not None:
            query = query.where(SecurityGroupBindingRow.tenant_id == self._tenant)
        return self._groups(list(self._s.scalars(query)))

    def bind(self, tenant_id: str, resource_id: str, group_ids: Sequence[str]) -> None:
        """Make ``group_ids`` (in that order) the resource's groups, replacing what it had."""
        self.unbind_all(resource_id)
        for position, group_id in enumerate(group_ids):
            self._s.add(SecurityGroupBindingRow(resource_id=resource_id, group_id=group_id, tenant_id=tenant_id,
                                                position=position))
        self._s.flush()

    def unbind_all(self, resource_id: str) -> None:
        statement = delete(SecurityGroupBindingRow).where(SecurityGroupBindingRow.resource_id == resource_id)
        if self._tenant is not None:
            statement = statement.where(SecurityGroupBindingRow.tenant_id == self._tenant)
        self._s.execute(statement)

    def resources_of(self, group_id: str) -> Sequence[str]:
        """The resources a group is bound to (instance internal ids and read-only group ids)."""
        query = select(SecurityGroupBindingRow.resource_id).where(SecurityGroupBindingRow.group_id == group_id)
        return list(self._s.scalars(query.order_by(SecurityGroupBindingRow.resource_id)))

    def binding_count(self, group_id: str) -> int:
        query = select(func.count()).select_from(SecurityGroupBindingRow).where(
            SecurityGroupBindingRow.group_id == group_id)
        return int(self._s.scalar(query) or 0)
