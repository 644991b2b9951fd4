"""Repositories: domain objects in, domain objects out. Tenant-scoped ones never see another tenant's
rows, so a forgotten filter cannot leak data between tenants."""

from __future__ import annotations

import builtins
import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, Self, TypeVar

from sqlalchemy import ColumnElement, String, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import QueryableAttribute, Session

from openrds.domain.model import (
    ApiKey,
    IamUser,
    Instance,
    InstanceQuery,
    Job,
    Network,
    Order,
    OrderAction,
    Project,
    ReadOnlyGroup,
    Tag,
    Tenant,
)
from openrds.domain.money import Account, LedgerEntry, LedgerKind, Voucher
from openrds.domain.quotas import Amounts, Overrides
from openrds.domain.states import (
    ChargeType,
    GroupStatus,
    Health,
    IsolationReason,
    JobState,
    Lifecycle,
    MemberStatus,
    Role,
)
from openrds.persistence.tables import (
    AccountRow,
    ApiKeyRow,
    EventRow,
    GroupRow,
    IamUserRow,
    InstanceRow,
    JobRow,
    LedgerRow,
    OrderRow,
    ProjectRow,
    QuotaRow,
    RevokedConsoleSessionRow,
    TenantRow,
    TokenRow,
    VoucherRow,
)


def _copy_into(row: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        setattr(row, key, value)


# --- conversions ---------------------------------------------------------------------------------
def _network_to_json(network: Network) -> dict[str, Any]:
    return {
        "vpc_id": network.vpc_id,
        "subnet_id": network.subnet_id,
        "security_group_ids": list(network.security_group_ids),
    }


def _network_from_json(data: dict[str, Any]) -> Network:
    return Network(data.get("vpc_id", ""), data.get("subnet_id", ""), tuple(data.get("security_group_ids", ())))


def instance_to_row_values(instance: Instance) -> dict[str, Any]:
    values = {f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)}
    values["network"] = _network_to_json(instance.network)
    values["tags"] = [{"key": t.key, "value": t.value} for t in instance.tags]
    values["role"] = instance.role.value
    values["charge_type"] = instance.charge_type.value
    values["lifecycle"] = instance.lifecycle.value
    values["member_status"] = instance.member_status.value
    values["health"] = instance.health.value
    return values


def instance_from_row(row: InstanceRow) -> Instance:
    return Instance(
        id=row.id,
        code=row.code,
        tenant_id=row.tenant_id,
        name=row.name,
        role=Role(row.role),
        region=row.region,
        zone=row.zone,
        project_id=row.project_id,
        spec_code=row.spec_code,
        storage_gb=row.storage_gb,
        major_version=row.major_version,
        version=row.version,
        charset=row.charset,
        admin_user=row.admin_user,
        network=_network_from_json(row.network),
        charge_type=ChargeType(row.charge_type),
        period_months=row.period_months,
        auto_renew=row.auto_renew,
        deletion_protection=row.deletion_protection,
        lifecycle=Lifecycle(row.lifecycle),
        created_at=row.created_at,
        updated_at=row.updated_at,
        master_id=row.master_id,
        group_id=row.group_id,
        weight=row.weight,
        member_status=MemberStatus(row.member_status),
        host=row.host,
        port=row.port,
        health=Health(row.health),
        status_reason=row.status_reason,
        expire_at=row.expire_at,
        isolated_at=row.isolated_at,
        tags=tuple(Tag(t["key"], t["value"]) for t in row.tags),
        extra=dict(row.extra),
        billed_until=row.billed_until,
        isolation_reason=IsolationReason(row.isolation_reason),
    )


def group_from_row(row: GroupRow) -> ReadOnlyGroup:
    return ReadOnlyGroup(
        id=row.id,
        tenant_id=row.tenant_id,
        master_id=row.master_id,
        name=row.name,
        project_id=row.project_id,
        region=row.region,
        zone=row.zone,
        network=_network_from_json(row.network),
        status=GroupStatus(row.status),
        max_replay_lag_seconds=row.max_replay_lag_seconds,
        max_replay_latency_mb=row.max_replay_latency_mb,
        min_delay_eliminate_reserve=row.min_delay_eliminate_reserve,
        replay_lag_eliminate=row.replay_lag_eliminate,
        replay_latency_eliminate=row.replay_latency_eliminate,
        created_at=row.created_at,
        updated_at=row.updated_at,
        host=row.host,
        port=row.port,
        rebalance=row.rebalance,
    )


def group_to_row_values(group: ReadOnlyGroup) -> dict[str, Any]:
    values = {f.name: getattr(group, f.name) for f in dataclasses.fields(group)}
    values["network"] = _network_to_json(group.network)
    values["status"] = group.status.value
    return values


def job_from_row(row: JobRow) -> Job:
    return Job(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=row.kind,
        params=dict(row.params),
        state=JobState(row.state),
        step=row.step,
        steps_total=row.steps_total,
        attempts=row.attempts,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        instance_ids=tuple(row.instance_ids),
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        not_before=row.not_before,
    )


def job_to_row_values(job: Job) -> dict[str, Any]:
    values = {f.name: getattr(job, f.name) for f in dataclasses.fields(job)}
    values["state"] = job.state.value
    values["instance_ids"] = list(job.instance_ids)
    return values


# --- repositories --------------------------------------------------------------------------------
class TenantRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, tenant: Tenant) -> None:
        self._s.add(TenantRow(id=tenant.id, name=tenant.name, created_at=tenant.created_at))
        # Rows refer to tenants by foreign key but the mappings have no relationship(), so the session
        # would not know to insert the tenant first: flush now, so children added later in the same
        # unit of work find it.
        self._s.flush()

    def get(self, tenant_id: str) -> Tenant | None:
        row = self._s.get(TenantRow, tenant_id)
        return None if row is None else Tenant(row.id, row.name, row.created_at)

    def by_name(self, name: str) -> Tenant | None:
        row = self._s.scalars(select(TenantRow).where(TenantRow.name == name)).first()
        return None if row is None else Tenant(row.id, row.name, row.created_at)

    def list(self) -> list[Tenant]:
        return [
            Tenant(r.id, r.name, r.created_at)
            for r in self._s.scalars(select(TenantRow).order_by(TenantRow.created_at))
        ]

    def count(self) -> int:
        return int(self._s.scalar(select(func.count()).select_from(TenantRow)) or 0)


class CredentialRepository:
    """API keys, IAM users, projects and tokens: looked up across tenants (that is how a caller is found)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add_key(self, key: ApiKey, secret_encrypted: str) -> None:
        self._s.add(
            ApiKeyRow(
                secret_id=key.secret_id,
                tenant_id=key.tenant_id,
                secret_encrypted=secret_encrypted,
                app_id=key.app_id,
                uin=key.uin,
                created_at=key.created_at,
                revoked_at=key.revoked_at,
            )
        )

    def key(self, secret_id: str) -> tuple[ApiKey, str] | None:
        # Read by every worker for every key in use after each commit: a plain row through the connection,
        # not the ORM session's statement handling (245 -> 220 us a lookup, the session's own cost included).
        query = select(*ApiKeyRow.__table__.columns).where(ApiKeyRow.secret_id == secret_id)
        row = self._s.connection().execute(query).first()
        if row is None:
            return None
        return ApiKey(
            row.secret_id, row.tenant_id, row.app_id, row.uin, row.created_at, row.revoked_at
        ), row.secret_encrypted

    def keys_of(self, tenant_id: str) -> list[ApiKey]:
        rows = self._s.scalars(select(ApiKeyRow).where(ApiKeyRow.tenant_id == tenant_id).order_by(ApiKeyRow.created_at))
        return [ApiKey(r.secret_id, r.tenant_id, r.app_id, r.uin, r.created_at, r.revoked_at) for r in rows]

    def revoke_key(self, secret_id: str, when: datetime) -> bool:
        result = self._s.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.secret_id == secret_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=when)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def add_user(self, user: IamUser, password_hash: str) -> None:
        self._s.add(
            IamUserRow(
                id=user.id,
                tenant_id=user.tenant_id,
                domain=user.domain,
                name=user.name,
                password_hash=password_hash,
                created_at=user.created_at,
            )
        )
        self._s.flush()  # tokens refer to it (see TenantRepository.add)

    def user(self, domain: str, name: str) -> tuple[IamUser, str] | None:
        row = self._s.scalars(select(IamUserRow).where(IamUserRow.domain == domain, IamUserRow.name == name)).first()
        if row is None:
            return None
        return IamUser(row.id, row.tenant_id, row.domain, row.name, row.created_at), row.password_hash

    def users_of(self, tenant_id: str) -> list[IamUser]:
        rows = self._s.scalars(select(IamUserRow).where(IamUserRow.tenant_id == tenant_id))
        return [IamUser(r.id, r.tenant_id, r.domain, r.name, r.created_at) for r in rows]

    def add_project(self, project: Project) -> None:
        self._s.add(ProjectRow(id=project.id, tenant_id=project.tenant_id, name=project.name, region=project.region))

    def projects_of(self, tenant_id: str) -> list[Project]:
        rows = self._s.scalars(select(ProjectRow).where(ProjectRow.tenant_id == tenant_id).order_by(ProjectRow.name))
        return [Project(r.id, r.tenant_id, r.name, r.region) for r in rows]

    def project(self, project_id: str) -> Project | None:
        row = self._s.get(ProjectRow, project_id)
        return None if row is None else Project(row.id, row.tenant_id, row.name, row.region)

    def add_token(
        self,
        token_hash: str,
        user_id: str,
        tenant_id: str,
        project_id: str | None,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        self._s.add(
            TokenRow(
                token_hash=token_hash,
                user_id=user_id,
                tenant_id=tenant_id,
                project_id=project_id,
                created_at=created_at,
                expires_at=expires_at,
            )
        )

    def token(self, token_hash: str) -> TokenRow | None:
        row = self._s.get(TokenRow, token_hash)
        if row is not None:
            # Callers read it after their unit of work ended; the ending rollback would expire it.
            self._s.expunge(row)
        return row

    def revoke_console_session(self, nonce: str, expires_at: datetime, now: datetime) -> None:
        """Record a signed-out session until ``expires_at``; drop the records of sessions expired by ``now``."""
        self._s.execute(delete(RevokedConsoleSessionRow).where(RevokedConsoleSessionRow.expires_at <= now))
        self._s.merge(RevokedConsoleSessionRow(nonce=nonce, expires_at=expires_at))

    def revoked_console_sessions(self, now: datetime) -> frozenset[str]:
        """The nonces of signed-out sessions whose cookies have not expired by ``now``."""
        rows = self._s.scalars(select(RevokedConsoleSessionRow.nonce)
                               .where(RevokedConsoleSessionRow.expires_at > now))
        return frozenset(rows)


class _TenantRow(Protocol):
    """A mapped row owned by one tenant."""

    @property
    def tenant_id(self) -> str: ...


_Row = TypeVar("_Row", bound=_TenantRow)


class _Narrowable(Protocol):
    """A statement with a WHERE clause (select, update, delete)."""

    def where(self, *whereclause: Any) -> Self: ...


_Statement = TypeVar("_Statement", bound=_Narrowable)


class _TenantScoped:
    """Base of the repositories of tenant-owned rows: the one place their tenant is applied.

    Every query of such rows goes through :meth:`_scoped`, every row read by key through
    :meth:`_owned`, every row added through :meth:`_admit`; a method cannot forget the tenant by
    writing its own condition. ``tenant_id`` None is the system's view, every tenant's rows (the
    supervisor, jobs, the reconcile loops); the repositories of one tenant's money and quotas always
    have one.
    """

    def __init__(self, session: Session, tenant_id: str | None) -> None:
        self._s = session
        self._tenant = tenant_id

    def _scoped(self, statement: _Statement, owner: ColumnElement[str] | QueryableAttribute[str]) -> _Statement:
        """``statement`` narrowed to the tenant's rows, ``owner`` being their tenant id column (a mapped
        attribute or a table column); unchanged in the system's view."""
        return statement if self._tenant is None else statement.where(owner == self._tenant)

    def _owned(self, row: _Row | None) -> _Row | None:
        """A row read by its key, or None if it is another tenant's (to this tenant it does not exist)."""
        if row is None or (self._tenant is not None and row.tenant_id != self._tenant):
            return None
        return row

    def _admit(self, tenant_id: str, what: str) -> None:
        """Refuse to add a row of another tenant (a bug in the caller, not a client's mistake)."""
        if self._tenant is not None and tenant_id != self._tenant:
            raise ValueError(f"{what} of another tenant")


#: The instances table, for Core statements where the ORM's handling costs more than the query.
_INSTANCES = InstanceRow.__table__
_I = _INSTANCES.c

#: :class:`InstanceQuery`'s narrowing fields -> the condition each puts on the instances table. A field
#: given several values matches any of them; the fields given must all match. Each face's listing
#: filters name these fields (``api/tencent/handlers.py``); only this table knows the columns.
_NARROWING: Mapping[str, Callable[[tuple[Any, ...]], ColumnElement[bool]]] = {
    "ids": lambda ids: or_(_I.id.in_(ids), _I.code.in_(ids)),
    # autoescape: `_` and `%` in a name are characters, not LIKE wildcards. icontains: SQLite's LIKE
    # ignores ASCII case and PostgreSQL's does not; both backends must answer alike.
    "name_contains": lambda names: or_(*[_I.name.icontains(n, autoescape=True) for n in names]),
    "project_ids": lambda ids: _I.project_id.in_(ids),
    "charge_types": lambda types: _I.charge_type.in_(types),
    "master_ids": lambda ids: _I.master_id.in_(ids),
    "roles": lambda roles: _I.role.in_(roles),
    "lifecycles": lambda lifecycles: _I.lifecycle.in_(lifecycles),
    "vpc_ids": lambda ids: or_(*[_I.network["vpc_id"].as_string() == v for v in ids]),
    # Match the key as the JSON column stores it (json.dumps: non-ASCII as \uXXXX escapes).
    "tag_keys": lambda keys: or_(
        *[func.cast(_I.tags, String).contains(f'"key": {json.dumps(k)}', autoescape=True) for k in keys]
    ),
}


class InstanceRepository(_TenantScoped):
    """Instances of one tenant (``tenant_id``), or of all tenants when ``tenant_id`` is None (system use:
    the supervisor and jobs)."""

    def add(self, instance: Instance) -> None:
        self._admit(instance.tenant_id, "instance")
        self._s.add(InstanceRow(**instance_to_row_values(instance)))

    def save(self, instance: Instance) -> None:
        row = self._owned(self._s.get(InstanceRow, instance.id))
        if row is None:
            raise KeyError(instance.id)
        _copy_into(row, instance_to_row_values(instance))

    def find(self, identifier: str) -> Instance | None:
        """By internal id or by Tencent code; deleted instances are not found."""
        query = self._scoped(
            select(InstanceRow).where(or_(InstanceRow.id == identifier, InstanceRow.code == identifier)),
            InstanceRow.tenant_id,
        )
        row = self._s.scalars(query.where(InstanceRow.lifecycle != Lifecycle.DELETED.value)).first()
        return None if row is None else instance_from_row(row)

    def find_all(self, identifiers: Sequence[str]) -> tuple[list[Instance], list[str]]:
        """The instances ``identifiers`` name - internal ids and codes in any mix - each once, in the
        order first named, and the identifiers that name none; deleted instances are not found.

        One query whatever the number of identifiers, exact repeats dropped before it: an instance
        named twice, in one form or in both (``postgres-...`` and its UUID), is one instance."""
        wanted = list(dict.fromkeys(identifiers))
        if not wanted:
            return [], []
        query = self._scoped(
            select(InstanceRow).where(or_(InstanceRow.id.in_(wanted), InstanceRow.code.in_(wanted))),
            InstanceRow.tenant_id,
        )
        rows = self._s.scalars(query.where(InstanceRow.lifecycle != Lifecycle.DELETED.value)).all()
        by_name = {name: row for row in rows for name in (row.id, row.code)}
        found: dict[str, Instance] = {}
        missing = []
        for name in wanted:
            row = by_name.get(name)
            if row is None:
                missing.append(name)
            elif row.id not in found:
                found[row.id] = instance_from_row(row)
        return list(found.values()), missing

    def list(self, *, include_deleted: bool = False, region: str | None = None) -> list[Instance]:
        query = self._scoped(select(InstanceRow), InstanceRow.tenant_id)
        if not include_deleted:
            query = query.where(InstanceRow.lifecycle != Lifecycle.DELETED.value)
        if region is not None:
            query = query.where(InstanceRow.region == region)
        return [instance_from_row(r) for r in self._s.scalars(query.order_by(InstanceRow.created_at, InstanceRow.code))]

    def replicas_of(self, master_id: str) -> builtins.list[Instance]:
        return self.replicas_of_each([master_id])

    def replicas_of_each(self, master_ids: Sequence[str]) -> builtins.list[Instance]:
        """The read-only instances of every master of ``master_ids``, oldest first, in one query."""
        query = self._scoped(
            select(InstanceRow).where(
                InstanceRow.master_id.in_(master_ids), InstanceRow.lifecycle != Lifecycle.DELETED.value
            ),
            InstanceRow.tenant_id,
        )
        return [instance_from_row(r) for r in self._s.scalars(query.order_by(InstanceRow.created_at))]

    def members_of(self, group_id: str) -> builtins.list[Instance]:
        # Plain rows, not ORM objects: read for every group a listing shows.
        c = _I
        query = self._scoped(
            select(*c).where(c.group_id == group_id, c.lifecycle != Lifecycle.DELETED.value), c.tenant_id
        )
        return [instance_from_row(r) for r in self._s.connection().execute(query.order_by(c.created_at))]  # type: ignore[arg-type]

    def query(self, q: InstanceQuery) -> tuple[int, builtins.list[Instance]]:
        """Filtered, ordered, paged: (total matching, the page). Filters run in SQL so a page costs the
        same with 10 or 10,000 instances in the store.

        Core statements over the table's columns, not the mapped class: a listing is read-only and
        this is the API's hottest read, where the ORM's statement handling costs more than SQLite's
        own work."""
        c = _I
        where = [c.lifecycle != Lifecycle.DELETED.value]
        if q.region is not None:
            where.append(c.region == q.region)
        where += [narrow(values) for field, narrow in _NARROWING.items() if (values := getattr(q, field))]
        connection = self._s.connection()
        counted = self._scoped(select(func.count()).select_from(_INSTANCES).where(*where), c.tenant_id)
        total = int(connection.execute(counted).scalar_one())
        column = {"name": c.name, "expire": c.expire_at}.get(q.order_by, c.created_at)
        # NULL (no expiry) sorts as the earliest value on every backend, as SQLite does by itself.
        order = column.desc().nulls_last() if q.descending else column.asc().nulls_first()
        page = self._scoped(select(*c).where(*where), c.tenant_id).order_by(order, c.code)
        rows = connection.execute(page.offset(q.offset).limit(q.limit))
        return total, [instance_from_row(r) for r in rows]  # type: ignore[arg-type]

    def changed_after(self, seq: int) -> builtins.list[tuple[int, Instance]]:
        """(change_seq, instance) of every row whose change counter is past ``seq``, deleted ones
        included, in counter order: what :mod:`openrds.services.listing` brings itself up to date
        with (SQLite only: see migration 0013)."""
        c = _I
        query = self._scoped(select(*c).where(c.change_seq > seq), c.tenant_id).order_by(c.change_seq)
        return [(r.change_seq, instance_from_row(r)) for r in self._s.connection().execute(query)]  # type: ignore[arg-type]

    def last_change(self) -> int:
        """The highest change counter of the rows this repository sees (0 if none)."""
        query = self._scoped(select(func.max(_I.change_seq)), _I.tenant_id)
        return int(self._s.connection().execute(query).scalar() or 0)

    def watched(self, lifecycles: Sequence[Lifecycle]) -> builtins.list[tuple[str, str, str, str | None]]:
        """(id, code, tenant id, master id) of every instance in ``lifecycles`` that has a server port:
        what the monitor polls each second, without loading whole instances."""
        c = _I
        query = self._scoped(
            select(c.id, c.code, c.tenant_id, c.master_id).where(
                c.lifecycle.in_([lc.value for lc in lifecycles]), c.port != 0
            ),
            c.tenant_id,
        )
        return [(r.id, r.code, r.tenant_id, r.master_id) for r in self._s.execute(query)]

    def running_replica_reasons(self) -> dict[str, tuple[str, str]]:
        """code -> (id, status reason) of every running read-only instance: what the slot watch reads
        each time the store changed, without loading whole instances."""
        c = _I
        query = self._scoped(
            select(c.code, c.id, c.status_reason).where(
                c.role == Role.READONLY.value, c.lifecycle == Lifecycle.RUNNING.value
            ),
            c.tenant_id,
        )
        return {code: (instance_id, reason) for code, instance_id, reason in self._s.connection().execute(query)}

    def running_primaries_storage(self) -> builtins.list[tuple[str, str, int, str]]:
        """(id, code, storage GB, status reason) of every running primary: what the storage watch reads
        each round, without loading whole instances."""
        c = _I
        query = self._scoped(
            select(c.id, c.code, c.storage_gb, c.status_reason).where(
                c.role == Role.PRIMARY.value, c.lifecycle == Lifecycle.RUNNING.value
            ),
            c.tenant_id,
        )
        return [(i, code, int(gb), reason) for i, code, gb, reason in self._s.connection().execute(query)]

    def replica_counts(self, master_ids: Sequence[str]) -> dict[str, int]:
        c = _I
        query = self._scoped(
            select(c.master_id, func.count())
            .where(c.master_id.in_(master_ids), c.lifecycle != Lifecycle.DELETED.value)
            .group_by(c.master_id),
            c.tenant_id,
        )
        return {master: int(n) for master, n in self._s.connection().execute(query)}

    def labels(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """internal id -> (code, name, region), deleted instances included (jobs outlive their instances)."""
        query = self._scoped(select(InstanceRow).where(InstanceRow.id.in_(ids)), InstanceRow.tenant_id)
        return {r.id: (r.code, r.name, r.region) for r in self._s.scalars(query)}

    def codes(self, ids: Sequence[str]) -> dict[str, str]:
        """internal id -> Tencent code, for presenting references (master ids) in the Tencent form."""
        c = _I
        query = self._scoped(select(c.id, c.code).where(c.id.in_(ids)), c.tenant_id)
        return {i: code for i, code in self._s.connection().execute(query)}

    def count(self) -> int:
        query = self._scoped(
            select(func.count()).select_from(InstanceRow).where(InstanceRow.lifecycle != Lifecycle.DELETED.value),
            InstanceRow.tenant_id,
        )
        return int(self._s.scalar(query) or 0)


class GroupRepository(_TenantScoped):
    """Read-only groups of one tenant, or of all tenants when ``tenant_id`` is None (system use)."""

    def add(self, group: ReadOnlyGroup) -> None:
        self._admit(group.tenant_id, "group")
        self._s.add(GroupRow(**group_to_row_values(group)))

    def save(self, group: ReadOnlyGroup) -> None:
        row = self._owned(self._s.get(GroupRow, group.id))
        if row is None:
            raise KeyError(group.id)
        _copy_into(row, group_to_row_values(group))

    def find(self, group_id: str) -> ReadOnlyGroup | None:
        row = self._owned(self._s.get(GroupRow, group_id))
        if row is None or row.status == GroupStatus.DELETED.value:
            return None
        return group_from_row(row)

    def list(self, master_id: str | None = None) -> list[ReadOnlyGroup]:
        query = self._scoped(select(GroupRow).where(GroupRow.status != GroupStatus.DELETED.value), GroupRow.tenant_id)
        if master_id is not None:
            query = query.where(GroupRow.master_id == master_id)
        return [group_from_row(r) for r in self._s.scalars(query.order_by(GroupRow.created_at))]


class QuotaRepository(_TenantScoped):
    """One tenant's quota overrides and what counts against its quotas (`domain.quotas`)."""

    _tenant: str

    def __init__(self, session: Session, tenant_id: str) -> None:
        super().__init__(session, tenant_id)

    def lock(self) -> None:
        """Hold the tenant's row until the transaction ends: on PostgreSQL the creates of one tenant queue
        here, so each counts what the one before it recorded (SQLite's write transaction is already
        exclusive, and ignores FOR UPDATE)."""
        self._s.execute(self._scoped(select(TenantRow.id), TenantRow.id).with_for_update())

    def overrides(self) -> Overrides:
        row = self._s.get(QuotaRow, self._tenant)
        return Overrides() if row is None else Overrides(row.instances, row.ro_groups, row.storage_gb)

    def set(self, overrides: Overrides) -> Overrides:
        """Store the limits ``overrides`` gives (its None fields leave the stored ones as they are); the
        tenant's overrides after the change."""
        row = self._s.get(QuotaRow, self._tenant)
        if row is None:
            row = QuotaRow(tenant_id=self._tenant, instances=None, ro_groups=None, storage_gb=None)
            self._s.add(row)
        for name in ("instances", "ro_groups", "storage_gb"):
            value = getattr(overrides, name)
            if value is not None:
                setattr(row, name, value)
        self._s.flush()
        return Overrides(row.instances, row.ro_groups, row.storage_gb)

    def usage(self) -> Amounts:
        """Instances not destroyed (deleted), their storage summed, and read-only groups not deleted:
        two aggregate queries (the tenant/lifecycle index)."""
        c = _I
        instances, storage = self._s.connection().execute(
            self._scoped(
                select(func.count(), func.coalesce(func.sum(c.storage_gb), 0)).where(
                    c.lifecycle != Lifecycle.DELETED.value),
                c.tenant_id,
            )
        ).one()
        groups = self._s.scalar(
            self._scoped(
                select(func.count()).select_from(GroupRow).where(GroupRow.status != GroupStatus.DELETED.value),
                GroupRow.tenant_id,
            )
        )
        return Amounts(int(instances), int(groups or 0), int(storage))


class OrderRepository(_TenantScoped):
    """One tenant's orders."""

    _tenant: str

    def __init__(self, session: Session, tenant_id: str) -> None:
        super().__init__(session, tenant_id)

    def add(self, order: Order) -> None:
        self._admit(order.tenant_id, "order")
        values = {f.name: getattr(order, f.name) for f in dataclasses.fields(order)}
        values["charge_type"] = order.charge_type.value
        self._s.add(OrderRow(**values))

    def by_deal_names(self, names: Sequence[str]) -> list[Order]:
        rows = self._s.scalars(self._scoped(select(OrderRow).where(OrderRow.deal_name.in_(names)), OrderRow.tenant_id))
        return [_order_from_row(r) for r in rows]

    def of_instance(self, instance_id: str) -> list[Order]:
        """Every order of one instance, oldest first (its paid periods, renewals and refunds)."""
        rows = self._s.scalars(
            self._scoped(select(OrderRow).where(OrderRow.instance_id == instance_id), OrderRow.tenant_id)
            .order_by(OrderRow.created_at, OrderRow.deal_name)
        )
        return [_order_from_row(r) for r in rows]


def _order_from_row(r: OrderRow) -> Order:
    return Order(
        r.deal_name,
        r.bill_id,
        r.tenant_id,
        r.instance_id,
        OrderAction(r.action),
        ChargeType(r.charge_type),
        r.period_months,
        r.amount_cents,
        r.created_at,
    )


class AccountRepository(_TenantScoped):
    """One tenant's balance and ledger. The balance changes only through :meth:`post`, which writes
    the ledger entry in the same transaction, so the ledger always sums to the balance."""

    _tenant: str

    def __init__(self, session: Session, tenant_id: str) -> None:
        super().__init__(session, tenant_id)

    def _row(self, lock: bool) -> AccountRow:
        query = self._scoped(select(AccountRow), AccountRow.tenant_id)
        if lock:
            # PostgreSQL: money changes of one tenant queue here (SQLite's write transaction is
            # already exclusive).
            query = query.with_for_update()
        row = self._s.scalars(query).first()
        if row is None:
            # The tenant's first money operation. Two at once (PostgreSQL) both find no row: the
            # insert that comes second waits for the first one's commit and then inserts nothing
            # (ON CONFLICT DO NOTHING) instead of failing on the key; both then lock the one row.
            insert = postgresql_insert if self._s.get_bind().dialect.name == "postgresql" else sqlite_insert
            self._s.execute(
                insert(AccountRow)
                .values(tenant_id=self._tenant, balance_cents=0, arrears_since=None)
                .on_conflict_do_nothing(index_elements=[AccountRow.tenant_id])
            )
            row = self._s.scalars(query).one()
        return row

    def get(self, *, lock: bool = False) -> Account:
        """The account (a tenant that never had money has a zero balance). ``lock``: hold the row until
        the transaction ends; every money-changing use case takes it first."""
        if not lock:
            row = self._s.get(AccountRow, self._tenant)
            if row is None:
                return Account(self._tenant, 0, None)
        else:
            row = self._row(lock=True)
        return Account(row.tenant_id, row.balance_cents, row.arrears_since)

    def post(self, amount_cents: int, kind: str, reference: str, note: str, when: datetime) -> LedgerEntry:
        """Change the balance by ``amount_cents`` and record why. The arrears start when the balance
        falls below zero and end when it is back at zero or above."""
        row = self._row(lock=True)
        row.balance_cents += amount_cents
        if row.balance_cents >= 0:
            row.arrears_since = None
        elif row.arrears_since is None:
            row.arrears_since = when
        entry = LedgerRow(
            tenant_id=self._tenant,
            amount_cents=amount_cents,
            balance_after_cents=row.balance_cents,
            kind=kind,
            reference=reference,
            note=note,
            created_at=when,
        )
        self._s.add(entry)
        self._s.flush()
        return _entry_from_row(entry)

    def set_arrears_since(self, when: datetime | None) -> None:
        """Metering knows the hour the balance really fell below zero (catching up after a pause)."""
        row = self._row(lock=True)
        row.arrears_since = when if row.balance_cents < 0 else None

    def ledger(self) -> list[LedgerEntry]:
        rows = self._s.scalars(self._scoped(select(LedgerRow), LedgerRow.tenant_id).order_by(LedgerRow.id))
        return [_entry_from_row(r) for r in rows]


def _entry_from_row(r: LedgerRow) -> LedgerEntry:
    return LedgerEntry(
        r.id, r.tenant_id, r.amount_cents, r.balance_after_cents, LedgerKind(r.kind), r.reference, r.note, r.created_at
    )


def _voucher_from_row(r: VoucherRow) -> Voucher:
    return Voucher(r.id, r.tenant_id, r.amount_cents, r.expires_at, r.created_at, r.spent_at, r.spent_reference)


class VoucherRepository(_TenantScoped):
    """One tenant's vouchers; another tenant's do not exist here."""

    _tenant: str

    def __init__(self, session: Session, tenant_id: str) -> None:
        super().__init__(session, tenant_id)

    def add(self, voucher: Voucher) -> None:
        self._admit(voucher.tenant_id, "voucher")
        self._s.add(
            VoucherRow(
                id=voucher.id,
                tenant_id=voucher.tenant_id,
                amount_cents=voucher.amount_cents,
                expires_at=voucher.expires_at,
                created_at=voucher.created_at,
                spent_at=voucher.spent_at,
                spent_reference=voucher.spent_reference,
            )
        )

    def find(self, voucher_id: str) -> Voucher | None:
        row = self._owned(self._s.get(VoucherRow, voucher_id))
        return None if row is None else _voucher_from_row(row)

    def list(self) -> list[Voucher]:
        rows = self._s.scalars(
            self._scoped(select(VoucherRow), VoucherRow.tenant_id).order_by(VoucherRow.created_at, VoucherRow.id)
        )
        return [_voucher_from_row(r) for r in rows]

    def spend(self, voucher_id: str, reference: str, when: datetime) -> bool:
        """Compare-and-set: false if it was spent meanwhile (the caller's transaction then fails)."""
        result = self._s.execute(
            self._scoped(
                update(VoucherRow).where(VoucherRow.id == voucher_id, VoucherRow.spent_at.is_(None)),
                VoucherRow.tenant_id,
            ).values(spent_at=when, spent_reference=reference)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class JobRepository:
    """Jobs of all tenants (the runner's view); `of_tenant` narrows for the APIs."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, job: Job) -> None:
        self._s.add(JobRow(**job_to_row_values(job)))

    def save(self, job: Job) -> None:
        row = self._s.get(JobRow, job.id)
        if row is None:
            raise KeyError(job.id)
        _copy_into(row, job_to_row_values(job))

    def get(self, job_id: str) -> Job | None:
        row = self._s.get(JobRow, job_id)
        return None if row is None else job_from_row(row)

    def of_tenant(self, tenant_id: str, job_id: str | None = None, instance_id: str | None = None,
                  kinds: Sequence[str] = ()) -> list[Job]:
        """The tenant's jobs, newest first; narrowed to one job, one instance's, or some kinds."""
        query = select(JobRow).where(JobRow.tenant_id == tenant_id)
        if job_id is not None:
            query = query.where(JobRow.id == job_id)
        if kinds:
            query = query.where(JobRow.kind.in_(kinds))
        rows = [job_from_row(r) for r in self._s.scalars(query.order_by(JobRow.created_at.desc()))]
        if instance_id is not None:
            rows = [j for j in rows if instance_id in j.instance_ids]
        return rows

    def ids_of_tenant(self, tenant_id: str, *, id_prefix: str | None = None, instance_id: str | None = None,
                      started_from: datetime | None = None, started_to: datetime | None = None) -> list[str]:
        """Ids of the tenant's jobs, newest first (created, then id, descending); narrowed by id prefix,
        by an instance it works on, and by its start (its creation while not started) within the bounds
        given. Plain rows of one or two columns, no job built: a listing pages these, then reads its
        page (:meth:`by_ids`)."""
        c = JobRow.__table__.c
        started = func.coalesce(c.started_at, c.created_at)
        query = select(c.id, c.instance_ids) if instance_id is not None else select(c.id)
        query = query.where(c.tenant_id == tenant_id)
        if id_prefix is not None:
            query = query.where(c.id.startswith(id_prefix, autoescape=True))
        if started_from is not None:
            query = query.where(started >= started_from)
        if started_to is not None:
            query = query.where(started <= started_to)
        rows = self._s.connection().execute(query.order_by(c.created_at.desc(), c.id.desc()))
        if instance_id is None:
            return [r.id for r in rows]
        return [r.id for r in rows if instance_id in r.instance_ids]

    def by_ids(self, ids: Sequence[str]) -> list[Job]:
        """The jobs ``ids`` name, in that order (ids of no job left out)."""
        found = {r.id: job_from_row(r) for r in self._s.scalars(select(JobRow).where(JobRow.id.in_(ids)))}
        return [found[i] for i in ids if i in found]

    def unfinished(self) -> list[Job]:
        query = (
            select(JobRow)
            .where(JobRow.state.in_([JobState.PENDING.value, JobState.RUNNING.value, JobState.UNDOING.value]))
            .order_by(JobRow.created_at)
        )
        return [job_from_row(r) for r in self._s.scalars(query)]

    def try_lease(self, job_id: str, expected_owner: str | None, owner: str, until: datetime, *, now: datetime) -> bool:
        """Compare-and-set: take the lease only if its holder is still the one the caller saw, and the job
        is still unfinished and due at ``now``. A runner works from a list read a moment earlier: without
        the last two, it could lease a job another process has just finished (the holder is cleared at the
        end) or run a retried step before its backoff has passed."""
        holder = JobRow.lease_owner.is_(None) if expected_owner is None else JobRow.lease_owner == expected_owner
        unfinished = JobRow.state.in_([JobState.PENDING.value, JobState.RUNNING.value, JobState.UNDOING.value])
        due = or_(JobRow.not_before.is_(None), JobRow.not_before <= now)
        result = self._s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, holder, unfinished, due)
            .values(lease_owner=owner, lease_until=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def renew(self, job_id: str, owner: str, until: datetime) -> bool:
        result = self._s.execute(
            update(JobRow).where(JobRow.id == job_id, JobRow.lease_owner == owner).values(lease_until=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class EventRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, tenant_id: str, resource_id: str, kind: str, message: str, when: datetime) -> None:
        self._s.add(EventRow(tenant_id=tenant_id, resource_id=resource_id, kind=kind, message=message, created_at=when))

    def of(self, resource_id: str, limit: int = 100) -> list[tuple[datetime, str, str]]:
        rows = self._s.scalars(
            select(EventRow).where(EventRow.resource_id == resource_id).order_by(EventRow.id.desc()).limit(limit)
        )
        return [(r.created_at, r.kind, r.message) for r in rows]
