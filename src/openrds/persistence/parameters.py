"""The store's side of parameters: tenant values per instance, change events, templates.

Scoped by tenant like every repository (``None`` only for system components: the parameter job)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from openrds.domain.parameters import EventState, ParameterEvent, ParameterTemplate
from openrds.persistence.tables import InstanceParameterRow, ParameterEventRow, ParameterTemplateRow

#: The most events one instance keeps (older ones are dropped as new ones come).
MAX_EVENTS_PER_INSTANCE = 1000


class ParameterRepository:
    def __init__(self, session: Session, tenant_id: str | None) -> None:
        self._s = session
        self._tenant = tenant_id

    # --- tenant values ----------------------------------------------------------------------------
    def values(self, instance_id: str) -> dict[str, str]:
        """The tenant's values of one instance (an instance of another tenant's is the caller's to refuse)."""
        rows = self._s.scalars(select(InstanceParameterRow).where(InstanceParameterRow.instance_id == instance_id))
        return {r.name: r.value for r in rows}

    def modified_times(self, instance_id: str) -> dict[str, datetime]:
        rows = self._s.scalars(select(InstanceParameterRow).where(InstanceParameterRow.instance_id == instance_id))
        return {r.name: r.modified_at for r in rows}

    def set_values(self, instance_id: str, values: Mapping[str, str], when: datetime) -> None:
        for name, value in values.items():
            row = self._s.get(InstanceParameterRow, (instance_id, name))
            if row is None:
                self._s.add(InstanceParameterRow(instance_id=instance_id, name=name, value=value, modified_at=when))
            else:
                row.value, row.modified_at = value, when

    def forget(self, instance_id: str) -> None:
        self._s.execute(delete(InstanceParameterRow).where(InstanceParameterRow.instance_id == instance_id))

    # --- events -----------------------------------------------------------------------------------
    def add_event(self, tenant_id: str, event: ParameterEvent) -> None:
        self._s.add(
            ParameterEventRow(
                tenant_id=tenant_id,
                instance_id=event.instance_id,
                name=event.name,
                old_value=event.old_value,
                new_value=event.new_value,
                state=event.state.value,
                operator=event.operator,
                job_id=event.job_id,
                message=event.message,
                modified_at=event.modified_at,
                effective_at=event.effective_at,
            )
        )
        self._s.flush()
        count = (
            self._s.scalar(
                select(func.count())
                .select_from(ParameterEventRow)
                .where(ParameterEventRow.instance_id == event.instance_id)
            )
            or 0
        )
        if count > MAX_EVENTS_PER_INSTANCE:
            oldest = (
                select(ParameterEventRow.id)
                .where(ParameterEventRow.instance_id == event.instance_id)
                .order_by(ParameterEventRow.id)
                .limit(count - MAX_EVENTS_PER_INSTANCE)
            )
            self._s.execute(delete(ParameterEventRow).where(ParameterEventRow.id.in_(oldest)))

    def events(self, instance_id: str) -> list[ParameterEvent]:
        """The instance's events, oldest first."""
        query = select(ParameterEventRow).where(ParameterEventRow.instance_id == instance_id)
        if self._tenant is not None:
            query = query.where(ParameterEventRow.tenant_id == self._tenant)
        return [_event(r) for r in self._s.scalars(query.order_by(ParameterEventRow.id))]

    def settle_events(self, job_id: str, state: EventState, when: datetime | None, message: str = "") -> None:
        """Every event of the job now ``state`` (in effect at ``when``)."""
        for row in self._s.scalars(select(ParameterEventRow).where(ParameterEventRow.job_id == job_id)):
            row.state = state.value
            row.effective_at = when
            if message:
                row.message = message[:1000]

    # --- templates --------------------------------------------------------------------------------
    def templates(self) -> list[ParameterTemplate]:
        query = select(ParameterTemplateRow)
        if self._tenant is not None:
            query = query.where(ParameterTemplateRow.tenant_id == self._tenant)
        return [_template(r) for r in self._s.scalars(query.order_by(ParameterTemplateRow.created_at))]

    def template(self, template_id: str) -> ParameterTemplate | None:
        row = self._s.get(ParameterTemplateRow, template_id)
        if row is None or (self._tenant is not None and row.tenant_id != self._tenant):
            return None
        return _template(row)

    def save_template(self, template: ParameterTemplate) -> None:
        row = self._s.get(ParameterTemplateRow, template.id)
        if row is None:
            row = ParameterTemplateRow(id=template.id, tenant_id=template.tenant_id, created_at=template.created_at)
            self._s.add(row)
        row.name, row.major_version, row.engine = template.name, template.major_version, template.engine
        row.description, row.params, row.updated_at = template.description, dict(template.values), template.updated_at

    def delete_template(self, template_id: str) -> None:
        self._s.execute(delete(ParameterTemplateRow).where(ParameterTemplateRow.id == template_id))

    def count_templates(self) -> int:
        query = select(func.count()).select_from(ParameterTemplateRow)
        if self._tenant is not None:
            query = query.where(ParameterTemplateRow.tenant_id == self._tenant)
        return self._s.scalar(query) or 0


def _event(row: ParameterEventRow) -> ParameterEvent:
    return ParameterEvent(
        instance_id=row.instance_id,
        name=row.name,
        old_value=row.old_value,
        new_value=row.new_value,
        state=EventState(row.state),
        operator=row.operator,
        job_id=row.job_id,
        message=row.message,
        modified_at=row.modified_at,
        effective_at=row.effective_at,
    )


def _template(row: ParameterTemplateRow) -> ParameterTemplate:
    params: Mapping[str, str] = {str(k): str(v) for k, v in row.params.items()}
    return ParameterTemplate(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        major_version=row.major_version,
        engine=row.engine,
        description=row.description,
        values=params,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


__all__: Sequence[str] = ("ParameterRepository",)
