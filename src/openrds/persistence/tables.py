"""SQLAlchemy 2 table mappings. Rows, not domain objects: `repositories.py` converts between them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns timezone-aware UTC (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class TenantRow(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    secret_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    app_id: Mapped[int] = mapped_column(Integer)
    uin: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class IamUserRow(Base):
    __tablename__ = "iam_users"
    __table_args__ = (UniqueConstraint("domain", "name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    domain: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    region: Mapped[str] = mapped_column(String(64))


class TokenRow(Base):
    __tablename__ = "tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("iam_users.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    project_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class RevokedConsoleSessionRow(Base):
    """A console session signed out before its cookie expired: its nonce is refused until ``expires_at``."""

    __tablename__ = "revoked_console_sessions"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]


class InstanceRow(Base):
    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_tenant_lifecycle", "tenant_id", "lifecycle"),
        # The API's listing: one tenant's instances of one region in creation order, read by index order
        # instead of sorting every row for each page.
        Index("ix_instances_listing", "tenant_id", "region", "created_at", "code"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[int]
    spec_code: Mapped[str] = mapped_column(String(64))
    storage_gb: Mapped[int]
    major_version: Mapped[int]
    version: Mapped[str] = mapped_column(String(32))
    charset: Mapped[str] = mapped_column(String(16))
    admin_user: Mapped[str] = mapped_column(String(64))
    network: Mapped[dict[str, Any]]
    charge_type: Mapped[str] = mapped_column(String(32))
    period_months: Mapped[int]
    auto_renew: Mapped[bool]
    deletion_protection: Mapped[bool]
    lifecycle: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    master_id: Mapped[str | None] = mapped_column(String(36), index=True)
    group_id: Mapped[str | None] = mapped_column(String(32), index=True)
    weight: Mapped[int]
    member_status: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int]
    health: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text)
    expire_at: Mapped[datetime | None]
    isolated_at: Mapped[datetime | None]
    tags: Mapped[list[Any]]
    extra: Mapped[dict[str, Any]]
    billed_until: Mapped[datetime | None]  # postpaid: metered up to here
    isolation_reason: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # Set by a trigger on every insert and update (SQLite): what the listing reads changes by (migration 0013).
    change_seq: Mapped[int] = mapped_column(default=0, server_default="0", index=True)


class GroupRow(Base):
    __tablename__ = "ro_groups"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    master_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[int]
    region: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    network: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    max_replay_lag_seconds: Mapped[int]
    max_replay_latency_mb: Mapped[int]
    min_delay_eliminate_reserve: Mapped[int]
    replay_lag_eliminate: Mapped[bool]
    replay_latency_eliminate: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int]
    rebalance: Mapped[bool] = mapped_column(default=False, server_default="0")


class OrderRow(Base):
    __tablename__ = "orders"
    deal_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    bill_id: Mapped[str] = mapped_column(String(32), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(32))
    charge_type: Mapped[str] = mapped_column(String(32))
    period_months: Mapped[int]
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state", "state"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    step: Mapped[int]
    steps_total: Mapped[int]
    attempts: Mapped[int]
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    instance_ids: Mapped[list[Any]]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]
    not_before: Mapped[datetime | None]


class EventRow(Base):
    """Things that happened to a resource, for people: evictions, restarts by the supervisor, failures."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    resource_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AccountRow(Base):
    """A tenant's money: the balance is changed only together with a ledger entry."""

    __tablename__ = "accounts"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    balance_cents: Mapped[int] = mapped_column(BigInteger)
    arrears_since: Mapped[datetime | None]


class QuotaRow(Base):
    """A tenant's own quota limits (`domain.quotas.Overrides`); NULL, or no row: the service's default."""

    __tablename__ = "quotas"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    instances: Mapped[int | None]
    ro_groups: Mapped[int | None]
    storage_gb: Mapped[int | None]


class LedgerRow(Base):
    __tablename__ = "ledger"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # + top-up, refund; - purchase, renewal, metering
    balance_after_cents: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(64))  # bill id, deal name, instance id
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class VoucherRow(Base):
    __tablename__ = "vouchers"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    spent_at: Mapped[datetime | None]
    spent_reference: Mapped[str] = mapped_column(String(64))


class DbAccountRow(Base):
    """What the store keeps about a database account of an instance (`domain.accounts.AccountNote`);
    the server's catalog says whether the role exists."""

    __tablename__ = "db_accounts"
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    remark: Mapped[str] = mapped_column(String(240))
    type: Mapped[str] = mapped_column(String(16))
    locked: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    password_updated_at: Mapped[datetime]


class MaintenanceWindowRow(Base):
    """An instance's maintenance window (`domain.resize.MaintenanceWindow`); no row: the default one."""

    __tablename__ = "maintenance_windows"
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    start_time: Mapped[str] = mapped_column(String(8))  # HH:MM:SS, in the zone the service writes times in
    duration_hours: Mapped[int]
    weekdays: Mapped[str] = mapped_column(String(80))  # monday,tuesday,... in week order
    updated_at: Mapped[datetime]


class InstanceParameterRow(Base):
    """A tenant's value of one server parameter of one instance (``persistence.parameters``); no row:
    the service's own value."""

    __tablename__ = "instance_parameters"
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    modified_at: Mapped[datetime]


class ParameterEventRow(Base):
    """One parameter change of one instance: who asked, old and new value, the job that applies it."""

    __tablename__ = "parameter_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    old_value: Mapped[str] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # domain.parameters.EventState
    operator: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    message: Mapped[str] = mapped_column(Text)
    modified_at: Mapped[datetime]
    effective_at: Mapped[datetime | None]


class ParameterTemplateRow(Base):
    """A tenant's named set of parameter values for one engine and major version."""

    __tablename__ = "parameter_templates"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    major_version: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BackupPlanRow(Base):
    """When an instance is backed up and how long its backups are kept (`domain.backups.BackupPlan`)."""

    __tablename__ = "backup_plans"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(64))
    plan_type: Mapped[str] = mapped_column(String(16))
    period_type: Mapped[str] = mapped_column(String(16))
    period: Mapped[list[Any]]
    window_start: Mapped[str] = mapped_column(String(8))  # hh:mm:ss in utc_offset_minutes
    window_end: Mapped[str] = mapped_column(String(8))
    utc_offset_minutes: Mapped[int]
    base_retention_days: Mapped[int]
    log_retention_days: Mapped[int]
    method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_slot_at: Mapped[datetime | None]  # the schedule's slot it last ran


class BackupRow(Base):
    """One base backup set (`domain.backups.Backup`); a deleted one stays as history."""

    __tablename__ = "backups"
    __table_args__ = (Index("ix_backups_tenant_state", "tenant_id", "state"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expire_at: Mapped[datetime]
    plan_id: Mapped[str | None] = mapped_column(String(40))
    job_id: Mapped[str | None] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(64))
    prior_label: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    database_bytes: Mapped[int] = mapped_column(BigInteger)
    wal_start: Mapped[str | None] = mapped_column(String(24))
    wal_stop: Mapped[str | None] = mapped_column(String(24))
    error: Mapped[str] = mapped_column(Text)


class BackupStanzaRow(Base):
    """What the repository holds of one instance, as the backup schedule last saw it (`domain.backups.StanzaState`)."""

    __tablename__ = "backup_stanzas"
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    wal_min: Mapped[str | None] = mapped_column(String(24))
    wal_max: Mapped[str | None] = mapped_column(String(24))
    wal_stored_bytes: Mapped[int] = mapped_column(BigInteger)
    stored_bytes: Mapped[int] = mapped_column(BigInteger)
    fenced_at: Mapped[datetime | None]
    archive_failed_count: Mapped[int] = mapped_column(BigInteger)
    archive_last_failed_at: Mapped[datetime | None]
    archive_lag_segments: Mapped[int | None]
    archive_failing: Mapped[bool]
    delete_after: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class CloneRow(Base):
    """Where a cloned instance came from (`domain.backups.Clone`)."""

    __tablename__ = "clones"
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    source_id: Mapped[str] = mapped_column(String(36), index=True)
    backup_id: Mapped[str | None] = mapped_column(String(40))
    target_time: Mapped[datetime | None]
    created_at: Mapped[datetime]


class SecurityGroupRow(Base):
    """A tenant's security group (`domain.security_groups.SecurityGroup`), managed by the operator."""

    __tablename__ = "security_groups"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class SecurityGroupRuleRow(Base):
    """One inbound rule of a security group, at its place in the group's order."""

    __tablename__ = "security_group_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("security_groups.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))
    cidr: Mapped[str] = mapped_column(String(64))
    port_range: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(255))


class SecurityGroupBindingRow(Base):
    """A security group bound to an instance (its internal id) or a read-only group, at its place in the
    resource's order."""

    __tablename__ = "security_group_bindings"
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("security_groups.id"), primary_key=True, index=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    position: Mapped[int] = mapped_column(Integer)
