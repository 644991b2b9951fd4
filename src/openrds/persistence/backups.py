"""Repositories of backups: plans, base backup sets, what the repository holds per instance, clones.

Tenant-scoped like every repository (``tenant_id`` None: the system's view, for the jobs and the backup
schedule). Instances are looked up here with their destroyed ones too: a destroyed instance's backups
stay listed, and it can be cloned, until its retention is over.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence
from datetime import time
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from openrds.domain.backups import (
    LISTED_STATES,
    Backup,
    BackupMethod,
    BackupMode,
    BackupPlan,
    BackupQuery,
    BackupState,
    BackupType,
    Clone,
    PeriodType,
    PlanType,
    StanzaState,
)
from openrds.domain.model import Instance
from openrds.persistence.repositories import _TenantScoped, instance_from_row
from openrds.persistence.tables import BackupPlanRow, BackupRow, BackupStanzaRow, CloneRow, InstanceRow


def _time_text(value: time) -> str:
    return value.strftime("%H:%M:%S")


def _values(entity: Any) -> dict[str, Any]:
    return {f.name: getattr(entity, f.name) for f in dataclasses.fields(entity)}


# --- conversions ---------------------------------------------------------------------------------
def plan_to_row_values(plan: BackupPlan) -> dict[str, Any]:
    values = _values(plan)
    values.update(plan_type=plan.plan_type.value, period_type=plan.period_type.value, period=list(plan.period),
                  window_start=_time_text(plan.window_start), window_end=_time_text(plan.window_end),
                  method=plan.method.value)
    return values


def plan_from_row(row: BackupPlanRow) -> BackupPlan:
    return BackupPlan(
        id=row.id, tenant_id=row.tenant_id, instance_id=row.instance_id, name=row.name,
        plan_type=PlanType(row.plan_type), period_type=PeriodType(row.period_type), period=tuple(row.period),
        window_start=time.fromisoformat(row.window_start), window_end=time.fromisoformat(row.window_end),
        base_retention_days=row.base_retention_days, log_retention_days=row.log_retention_days,
        method=BackupMethod(row.method), created_at=row.created_at, updated_at=row.updated_at,
        utc_offset_minutes=row.utc_offset_minutes, last_slot_at=row.last_slot_at,
    )


def backup_to_row_values(backup: Backup) -> dict[str, Any]:
    values = _values(backup)
    values.update(method=backup.method.value, mode=backup.mode.value, type=backup.type.value,
                  state=backup.state.value)
    return values


def backup_from_row(row: BackupRow) -> Backup:
    return Backup(
        id=row.id, tenant_id=row.tenant_id, instance_id=row.instance_id, name=row.name,
        method=BackupMethod(row.method), mode=BackupMode(row.mode), type=BackupType(row.type),
        state=BackupState(row.state), created_at=row.created_at, updated_at=row.updated_at,
        expire_at=row.expire_at, plan_id=row.plan_id, job_id=row.job_id, label=row.label,
        prior_label=row.prior_label, started_at=row.started_at, finished_at=row.finished_at,
        size_bytes=row.size_bytes, database_bytes=row.database_bytes, wal_start=row.wal_start,
        wal_stop=row.wal_stop, error=row.error,
    )


def stanza_from_row(row: BackupStanzaRow) -> StanzaState:
    return StanzaState(**{f.name: getattr(row, f.name) for f in dataclasses.fields(StanzaState)})


#: ``BackupQuery.order_by`` -> the column it sorts on.
_ORDER = {"started": BackupRow.started_at, "finished": BackupRow.finished_at, "size": BackupRow.size_bytes}


# --- repositories --------------------------------------------------------------------------------
class BackupPlanRepository(_TenantScoped):
    def add(self, plan: BackupPlan) -> None:
        self._admit(plan.tenant_id, "backup plan")
        self._s.add(BackupPlanRow(**plan_to_row_values(plan)))

    def save(self, plan: BackupPlan) -> None:
        row = self._owned(self._s.get(BackupPlanRow, plan.id))
        if row is None:
            raise KeyError(plan.id)
        for key, value in plan_to_row_values(plan).items():
            setattr(row, key, value)

    def get(self, plan_id: str) -> BackupPlan | None:
        row = self._owned(self._s.get(BackupPlanRow, plan_id))
        return None if row is None else plan_from_row(row)

    def of_instance(self, instance_id: str) -> builtins.list[BackupPlan]:
        """The instance's plans, the default first, then by creation."""
        query = self._scoped(select(BackupPlanRow).where(BackupPlanRow.instance_id == instance_id),
                             BackupPlanRow.tenant_id)
        rows = self._s.scalars(query.order_by(BackupPlanRow.created_at, BackupPlanRow.id)).all()
        plans = [plan_from_row(r) for r in rows]
        return sorted(plans, key=lambda p: p.plan_type is not PlanType.DEFAULT)

    def list(self) -> builtins.list[BackupPlan]:
        query = self._scoped(select(BackupPlanRow), BackupPlanRow.tenant_id)
        return [plan_from_row(r) for r in self._s.scalars(query.order_by(BackupPlanRow.instance_id, BackupPlanRow.id))]

    def remove(self, plan_id: str) -> None:
        row = self._owned(self._s.get(BackupPlanRow, plan_id))
        if row is not None:
            self._s.delete(row)

    def remove_of_instance(self, instance_id: str) -> None:
        self._s.execute(self._scoped(delete(BackupPlanRow).where(BackupPlanRow.instance_id == instance_id),
                                     BackupPlanRow.tenant_id))


class BackupRepository(_TenantScoped):
    def add(self, backup: Backup) -> None:
        self._admit(backup.tenant_id, "backup")
        self._s.add(BackupRow(**backup_to_row_values(backup)))

    def save(self, backup: Backup) -> None:
        row = self._owned(self._s.get(BackupRow, backup.id))
        if row is None:
            raise KeyError(backup.id)
        for key, value in backup_to_row_values(backup).items():
            setattr(row, key, value)

    def get(self, backup_id: str) -> Backup | None:
        row = self._owned(self._s.get(BackupRow, backup_id))
        return None if row is None else backup_from_row(row)

    def of_instance(self, instance_id: str, *, include_deleted: bool = False) -> builtins.list[Backup]:
        """The instance's sets, oldest first (by creation)."""
        return self.of_instances([instance_id], include_deleted=include_deleted)

    def of_instances(self, instance_ids: Sequence[str], *, include_deleted: bool = False) -> builtins.list[Backup]:
        if not instance_ids:
            return []
        query = self._scoped(select(BackupRow).where(BackupRow.instance_id.in_(list(instance_ids))),
                             BackupRow.tenant_id)
        if not include_deleted:
            query = query.where(BackupRow.state != BackupState.DELETED.value)
        return [backup_from_row(r) for r in self._s.scalars(query.order_by(BackupRow.created_at, BackupRow.id))]

    def in_states(self, states: Sequence[BackupState]) -> builtins.list[Backup]:
        query = self._scoped(select(BackupRow).where(BackupRow.state.in_([s.value for s in states])),
                             BackupRow.tenant_id)
        return [backup_from_row(r) for r in self._s.scalars(query.order_by(BackupRow.created_at, BackupRow.id))]

    def query(self, query: BackupQuery, instance_ids: Sequence[str] | None) -> tuple[int, builtins.list[Backup]]:
        """A page of the listed sets (every state but deleted) of ``instance_ids`` (None: every instance),
        narrowed by the query's backup ids and finish times; and the total before paging."""
        conditions: list[ColumnElement[bool]] = [BackupRow.state.in_([s.value for s in LISTED_STATES])]
        if instance_ids is not None:
            conditions.append(BackupRow.instance_id.in_(list(instance_ids)))
        if query.backup_ids:
            conditions.append(BackupRow.id.in_(list(query.backup_ids)))
        if query.finished_from is not None:
            conditions.append(BackupRow.finished_at >= query.finished_from)
        if query.finished_to is not None:
            conditions.append(BackupRow.finished_at <= query.finished_to)
        base = self._scoped(select(BackupRow).where(and_(*conditions)), BackupRow.tenant_id)
        total = self._s.scalar(select(func.count()).select_from(base.subquery())) or 0
        column = _ORDER.get(query.order_by, BackupRow.started_at)
        # Sets not started yet have no start: they sort as the newest (first when descending).
        key = func.coalesce(column, BackupRow.created_at) if query.order_by != "size" else column
        ordered = base.order_by(key.desc() if query.descending else key.asc(),
                                BackupRow.id.desc() if query.descending else BackupRow.id.asc())
        rows = self._s.scalars(ordered.offset(query.offset).limit(query.limit)).all()
        return total, [backup_from_row(r) for r in rows]


class StanzaRepository(_TenantScoped):
    def get(self, instance_id: str) -> StanzaState | None:
        row = self._owned(self._s.get(BackupStanzaRow, instance_id))
        return None if row is None else stanza_from_row(row)

    def put(self, stanza: StanzaState) -> None:
        """Insert or replace the instance's row."""
        self._admit(stanza.tenant_id, "stanza")
        values = _values(stanza)
        row = self._owned(self._s.get(BackupStanzaRow, stanza.instance_id))
        if row is None:
            self._s.add(BackupStanzaRow(**values))
            return
        for key, value in values.items():
            setattr(row, key, value)

    def of_instances(self, instance_ids: Sequence[str]) -> dict[str, StanzaState]:
        if not instance_ids:
            return {}
        query = self._scoped(select(BackupStanzaRow).where(BackupStanzaRow.instance_id.in_(list(instance_ids))),
                             BackupStanzaRow.tenant_id)
        return {r.instance_id: stanza_from_row(r) for r in self._s.scalars(query)}

    def list(self, *, include_deleted: bool = False) -> builtins.list[StanzaState]:
        query = self._scoped(select(BackupStanzaRow), BackupStanzaRow.tenant_id)
        if not include_deleted:
            query = query.where(BackupStanzaRow.deleted_at.is_(None))
        return [stanza_from_row(r) for r in self._s.scalars(query.order_by(BackupStanzaRow.instance_id))]


class CloneRepository(_TenantScoped):
    def add(self, clone: Clone) -> None:
        self._admit(clone.tenant_id, "clone")
        self._s.add(CloneRow(**_values(clone)))

    def get(self, instance_id: str) -> Clone | None:
        row = self._owned(self._s.get(CloneRow, instance_id))
        return None if row is None else Clone(**{f.name: getattr(row, f.name) for f in dataclasses.fields(Clone)})

    def remove(self, instance_id: str) -> None:
        row = self._owned(self._s.get(CloneRow, instance_id))
        if row is not None:
            self._s.delete(row)


class BackupRepositories(_TenantScoped):
    """Everything backups keep, for one tenant (or the system), through one object of the unit of work."""

    def __init__(self, session: Session, tenant_id: str | None) -> None:
        super().__init__(session, tenant_id)
        self.plans = BackupPlanRepository(session, tenant_id)
        self.sets = BackupRepository(session, tenant_id)
        self.stanzas = StanzaRepository(session, tenant_id)
        self.clones = CloneRepository(session, tenant_id)

    def instance(self, identifier: str) -> Instance | None:
        """An instance by id or code, a destroyed one too (the newest of that code if several)."""
        query = self._scoped(
            select(InstanceRow).where(or_(InstanceRow.id == identifier, InstanceRow.code == identifier)),
            InstanceRow.tenant_id,
        )
        row = self._s.scalars(query.order_by(InstanceRow.created_at.desc())).first()
        return None if row is None else instance_from_row(row)

    def instances(self, ids: Sequence[str]) -> dict[str, Instance]:
        """The instances of these internal ids, destroyed ones too."""
        if not ids:
            return {}
        query = self._scoped(select(InstanceRow).where(InstanceRow.id.in_(list(ids))), InstanceRow.tenant_id)
        return {r.id: instance_from_row(r) for r in self._s.scalars(query)}

    def matching_instances(self, *, ids: Sequence[str] = (), names: Sequence[str] = (), ips: Sequence[str] = (),
                           states: Sequence[str] = ()) -> builtins.list[Instance] | None:
        """The instances (destroyed ones too) the given filters match: ``ids`` ids or codes, ``names`` exact
        names, ``ips`` their host, ``states`` lifecycle values; every filter given must match, any value of
        it. None when no filter is given (every instance)."""
        conditions: list[ColumnElement[bool]] = []
        if ids:
            conditions.append(or_(InstanceRow.id.in_(list(ids)), InstanceRow.code.in_(list(ids))))
        if names:
            conditions.append(InstanceRow.name.in_(list(names)))
        if ips:
            conditions.append(InstanceRow.host.in_(list(ips)))
        if states:
            conditions.append(InstanceRow.lifecycle.in_(list(states)))
        if not conditions:
            return None
        query = self._scoped(select(InstanceRow).where(and_(*conditions)), InstanceRow.tenant_id)
        return [instance_from_row(r) for r in self._s.scalars(query.order_by(InstanceRow.created_at, InstanceRow.id))]

    def all_instances(self) -> builtins.list[Instance]:
        """Every instance whose stanza is kept (destroyed ones too, until their stanza is removed), by creation."""
        with_stanza = select(BackupStanzaRow.instance_id).where(BackupStanzaRow.deleted_at.is_(None))
        query = self._scoped(select(InstanceRow).where(InstanceRow.id.in_(with_stanza)), InstanceRow.tenant_id)
        return [instance_from_row(r) for r in self._s.scalars(query.order_by(InstanceRow.created_at, InstanceRow.id))]
