"""Entities and value objects. Pure Python: no SQLAlchemy, HTTP or subprocess.

Entities are frozen; a change is a new value (``dataclasses.replace``) written back through a
repository, so a service always reasons over a consistent snapshot.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A Tencent-style key pair. The secret is kept encrypted; services decrypt it only to verify."""

    secret_id: str
    tenant_id: str
    app_id: int
    uin: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IamUser:
    """A Huawei-style IAM user: a domain (account) name, a user name, a slow password hash."""

    id: str
    tenant_id: str
    domain: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Project:
    """A Huawei-style project: 32 hex characters, named after its region."""

    id: str
    tenant_id: str
    name: str
    region: str


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Network:
    vpc_id: str = ""
    subnet_id: str = ""
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Instance:
    id: str  # internal UUID (Huawei's native form)
    code: str  # postgres-xxxxxxxx / pgro-xxxxxxxx (Tencent's native form)
    tenant_id: str
    name: str
    role: Role
    region: str
    zone: str
    project_id: int
    spec_code: str
    storage_gb: int
    major_version: int
    version: str  # full version, e.g. "15.18"
    charset: str
    admin_user: str
    network: Network
    charge_type: ChargeType
    period_months: int
    auto_renew: bool
    deletion_protection: bool
    lifecycle: Lifecycle
    created_at: datetime
    updated_at: datetime
    master_id: str | None = None  # read-only instances: the primary they follow
    group_id: str | None = None
    weight: int = 0
    member_status: MemberStatus = MemberStatus.IN_ROTATION
    host: str = ""
    port: int = 0
    health: Health = Health.UNKNOWN
    status_reason: str = ""
    expire_at: datetime | None = None
    isolated_at: datetime | None = None
    tags: tuple[Tag, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # accepted fields with no meaning on this host
    billed_until: datetime | None = None  # postpaid: metered up to here
    isolation_reason: IsolationReason = IsolationReason.NONE  # why an isolated instance is isolated

    @property
    def is_readonly(self) -> bool:
        return self.role is Role.READONLY

    def matches(self, identifier: str) -> bool:
        return identifier in (self.id, self.code)

    def arrived(self, state: Lifecycle, now: datetime) -> Instance:
        """The instance once its job brought it to ``state`` (a job's last step records this): its
        server up or down to match, its status reason cleared; isolated since ``now``; running again:
        no isolation reason, and a postpaid one metered from ``now`` - metering starts when the server
        is up, which only the job knows; deleted: out of its group. A deleted instance stays deleted."""
        if self.lifecycle is Lifecycle.DELETED:
            return self
        running = state is Lifecycle.RUNNING
        starts_metering = running and self.charge_type is ChargeType.POSTPAID and self.billed_until is None
        return replace(
            self,
            lifecycle=state,
            health=Health.DOWN if state in (Lifecycle.ISOLATED, Lifecycle.DELETED) else Health.UP,
            status_reason="",
            isolated_at=now if state is Lifecycle.ISOLATED else self.isolated_at,
            isolation_reason=IsolationReason.NONE if running else self.isolation_reason,
            billed_until=now if starts_metering else self.billed_until,
            group_id=None if state is Lifecycle.DELETED else self.group_id,
        )


@dataclass(frozen=True, slots=True)
class ReadOnlyGroup:
    id: str  # pgrogrp-xxxxxxxx
    tenant_id: str
    master_id: str
    name: str
    project_id: int
    region: str
    zone: str
    network: Network
    status: GroupStatus
    max_replay_lag_seconds: int
    max_replay_latency_mb: int
    min_delay_eliminate_reserve: int
    replay_lag_eliminate: bool
    replay_latency_eliminate: bool
    created_at: datetime
    updated_at: datetime
    host: str = ""
    port: int = 0
    rebalance: bool = False  # weight changes drop existing sessions so new ones follow the weights


class OrderAction(enum.StrEnum):
    """What an order bought or gave back; stored, never renamed."""

    CREATE = "create"  # a new instance (prepaid: its first period)
    RENEW = "renew"  # more prepaid time (RenewInstance, auto-renewal, DisIsolate of an expired instance)
    REFUND = "refund"  # the unused whole days of a prepaid instance taken out of service
    MODIFY = "modify"  # a spec or storage change: the price difference for the rest of the period (+/-)


@dataclass(frozen=True, slots=True)
class Order:
    """One deal per instance, all deals of a call in one bill."""

    deal_name: str
    bill_id: str
    tenant_id: str
    instance_id: str
    action: OrderAction
    charge_type: ChargeType
    period_months: int
    amount_cents: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Job:
    id: str  # 32 hex characters
    tenant_id: str
    kind: str  # a JobKind for the service's jobs (the runner runs whatever kinds it was given)
    params: dict[str, Any]
    state: JobState
    step: int  # index of the next step to run (or to undo, while undoing)
    steps_total: int
    attempts: int
    error: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    instance_ids: tuple[str, ...] = ()
    lease_owner: str | None = None
    lease_until: datetime | None = None
    not_before: datetime | None = None

    @property
    def progress(self) -> int:
        """Percent done, for the APIs."""
        if self.state is JobState.SUCCEEDED:
            return 100
        if self.steps_total == 0:
            return 0
        return min(99, int(100 * self.step / self.steps_total))

    @property
    def finished(self) -> bool:
        return self.state in (JobState.SUCCEEDED, JobState.FAILED)


@dataclass(frozen=True, slots=True)
class InstanceQuery:
    """A filtered, ordered page of a tenant's instances (what every dialect's list call needs)."""

    region: str | None = None
    ids: tuple[str, ...] = ()  # internal ids or codes
    name_contains: tuple[str, ...] = ()
    project_ids: tuple[int, ...] = ()
    charge_types: tuple[str, ...] = ()
    master_ids: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    lifecycles: tuple[str, ...] = ()
    vpc_ids: tuple[str, ...] = ()
    tag_keys: tuple[str, ...] = ()
    order_by: str = "created"  # created | name | expire
    descending: bool = False
    offset: int = 0
    limit: int = 10
