"""Domain objects with every field set to something other than its default, for round trips."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from openrds.domain.ids import GROUP_PREFIX, PRIMARY_PREFIX, READONLY_PREFIX, digits, new_job_id, new_uuid
from openrds.domain.model import Instance, Job, Network, Order, ReadOnlyGroup, Tag, Tenant
from openrds.domain.states import ChargeType, GroupStatus, Health, JobState, Lifecycle, MemberStatus, Role

# A zone other than UTC, with microseconds: the store must keep the instant and hand back UTC.
BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=BEIJING)

_counter = itertools.count(1)


def tenant(name: str | None = None) -> Tenant:
    n = next(_counter)
    return Tenant(new_uuid(), name or f"tenant-{n}", T0 + timedelta(seconds=n))


def instance(tenant_id: str, **changes: Any) -> Instance:
    n = next(_counter)
    readonly = changes.get("role") is Role.READONLY
    values: dict[str, Any] = dict(
        id=new_uuid(), code=f"{READONLY_PREFIX if readonly else PRIMARY_PREFIX}{n:08d}", tenant_id=tenant_id,
        name=f"db-{n}", role=Role.PRIMARY, region="ap-guangzhou", zone="ap-guangzhou-3", project_id=7,
        spec_code="pg.it.small2", storage_gb=30, major_version=15, version="15.18", charset="LATIN1",
        admin_user="dbadmin", network=Network("vpc-abc", "subnet-def", ("sg-1", "sg-2")),
        charge_type=ChargeType.PREPAID, period_months=3, auto_renew=True, deletion_protection=True,
        lifecycle=Lifecycle.RUNNING, created_at=T0 + timedelta(minutes=n),
        updated_at=T0 + timedelta(minutes=n, seconds=1),
        master_id=None, group_id=None, weight=5, member_status=MemberStatus.EVICTED, host="127.0.0.2", port=15433,
        health=Health.UP, status_reason="all good", expire_at=T0 + timedelta(days=90),
        isolated_at=T0 + timedelta(days=1), tags=(Tag("env", "prod"), Tag("团队", "数据")),
        extra={"DBNodeSet": [{"Role": "Primary", "Zone": "ap-guangzhou-3"}], "NeedSupportIpv6": 1, "note": "ü"},
    )
    values.update(changes)
    return Instance(**values)


def group(tenant_id: str, master_id: str, **changes: Any) -> ReadOnlyGroup:
    n = next(_counter)
    values: dict[str, Any] = dict(
        id=f"{GROUP_PREFIX}{n:08d}", tenant_id=tenant_id, master_id=master_id, name=f"grp-{n}", project_id=3,
        region="ap-guangzhou", zone="ap-guangzhou-3", network=Network("vpc-g", "subnet-g", ("sg-g",)),
        status=GroupStatus.OK, max_replay_lag_seconds=11, max_replay_latency_mb=22, min_delay_eliminate_reserve=2,
        replay_lag_eliminate=True, replay_latency_eliminate=False, created_at=T0 + timedelta(minutes=n),
        updated_at=T0 + timedelta(minutes=n, seconds=2), host="127.0.0.3", port=16000,
    )
    values.update(changes)
    return ReadOnlyGroup(**values)


def order(tenant_id: str, instance_id: str, **changes: Any) -> Order:
    values: dict[str, Any] = dict(
        deal_name=digits(20), bill_id=digits(18), tenant_id=tenant_id, instance_id=instance_id, action="create",
        charge_type=ChargeType.PREPAID, period_months=12, amount_cents=123456, created_at=T0,
    )
    values.update(changes)
    return Order(**values)


def job(tenant_id: str, **changes: Any) -> Job:
    n = next(_counter)
    values: dict[str, Any] = dict(
        id=new_job_id(), tenant_id=tenant_id, kind="create_replicas",
        params={"source_id": "abc", "nested": {"list": [1, 2, 3]}, "flag": True}, state=JobState.RUNNING, step=1,
        steps_total=3, attempts=2, error="earlier: boom", created_at=T0 + timedelta(seconds=n),
        updated_at=T0 + timedelta(seconds=n, microseconds=5), started_at=T0 + timedelta(seconds=n + 1),
        ended_at=None, instance_ids=("i-1", "i-2"), lease_owner="host:123:abcd",
        lease_until=T0 + timedelta(minutes=5), not_before=T0 + timedelta(seconds=30),
    )
    values.update(changes)
    return Job(**values)


def assert_utc(*values: datetime | None) -> None:
    for value in values:
        if value is None:
            continue
        assert value.tzinfo is not None, f"{value!r} came back naive"
        assert value.utcoffset() == timedelta(0), f"{value!r} came back in another zone than UTC"


def datetimes_of(obj: Any) -> list[datetime]:
    """Every datetime field of a dataclass instance (or row object with those names)."""
    values = (getattr(obj, f.name) for f in dataclasses.fields(obj))
    return [v for v in values if isinstance(v, datetime)]


__all__ = ["BEIJING", "T0", "UTC", "assert_utc", "datetimes_of", "group", "instance", "job", "order", "tenant"]
