"""Instances, groups and monitor snapshots made up in memory, for tests that need no PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from openrds.domain.ids import GROUP_PREFIX, PRIMARY_PREFIX, READONLY_PREFIX, new_uuid
from openrds.domain.model import Instance, Network, ReadOnlyGroup
from openrds.domain.states import ChargeType, GroupStatus, Health, Lifecycle, MemberStatus, Role
from openrds.monitoring.snapshot import LinkView, ServerView, Snapshot

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
_n = itertools.count(1)


def primary(tenant_id: str, **changes: Any) -> Instance:
    n = next(_n)
    base = Instance(
        id=new_uuid(), code=f"{PRIMARY_PREFIX}{n:08d}", tenant_id=tenant_id, name=f"db-{n}", role=Role.PRIMARY,
        region="ap-beijing", zone="ap-beijing-4", project_id=0, spec_code="pg.it.small2", storage_gb=10,
        major_version=15, version="15.18", charset="UTF8", admin_user="dbadmin", network=Network(),
        charge_type=ChargeType.POSTPAID, period_months=1, auto_renew=False, deletion_protection=False,
        lifecycle=Lifecycle.RUNNING, created_at=T0 + timedelta(seconds=n), updated_at=T0, host="127.0.0.1",
        port=20000 + n, health=Health.UP)
    return replace(base, **changes)


def replica(master: Instance, **changes: Any) -> Instance:
    n = next(_n)
    values: dict[str, Any] = dict(id=new_uuid(), code=f"{READONLY_PREFIX}{n:08d}", name=f"ro-{n}", role=Role.READONLY,
                                  master_id=master.id, created_at=T0 + timedelta(seconds=n), port=20000 + n,
                                  group_id=None, weight=0, member_status=MemberStatus.IN_ROTATION)
    values.update(changes)
    return replace(master, **values)


def group(master: Instance, **changes: Any) -> ReadOnlyGroup:
    n = next(_n)
    base = ReadOnlyGroup(
        id=f"{GROUP_PREFIX}{n:08d}", tenant_id=master.tenant_id, master_id=master.id, name=f"grp-{n}", project_id=0,
        region=master.region, zone=master.zone, network=Network(), status=GroupStatus.OK, max_replay_lag_seconds=10,
        max_replay_latency_mb=64, min_delay_eliminate_reserve=0, replay_lag_eliminate=True,
        replay_latency_eliminate=True, created_at=T0, updated_at=T0, host="127.0.0.1", port=30000 + n)
    return replace(base, **changes)


def member(instance: Instance, group_: ReadOnlyGroup, status: MemberStatus = MemberStatus.IN_ROTATION) -> Instance:
    return replace(instance, group_id=group_.id, weight=2, member_status=status)


def snapshot(instances: list[Instance], *, taken_at: datetime | None = None, lag: dict[str, tuple[int, float]] | None
             = None, down: tuple[str, ...] = ()) -> Snapshot:
    """Every running instance up (but those in ``down``); every replica streaming with ``lag[code]``
    (bytes, seconds), 0 by default."""
    lag = lag or {}
    codes = {i.id: i.code for i in instances}
    servers = {}
    links = {}
    for i in instances:
        if i.lifecycle is not Lifecycle.RUNNING:
            continue
        is_replica = i.role is Role.READONLY
        up = i.code not in down
        servers[i.code] = ServerView(
            i.code, i.tenant_id, up=up, in_recovery=is_replica if up else None, connections=3 if up else None,
            max_connections=100 if up else None, database_size_bytes=7_500_000 if up else None,
            current_lsn=50_000_000 if up else None, replay_lsn=(50_000_000 - lag.get(i.code, (0, 0.0))[0])
            if is_replica and up else None, wal_receiver_status="streaming" if is_replica and up else None)
        if is_replica and i.master_id in codes:
            lag_bytes, lag_seconds = lag.get(i.code, (0, 0.0))
            links[i.code] = LinkView(codes[i.master_id], i.code, streaming=up, state="streaming" if up else "absent",
                                     lag_bytes=lag_bytes if up else None, lag_seconds=lag_seconds if up else None,
                                     sent_lsn=50_000_000 if up else None, replay_lsn=50_000_000 - lag_bytes,
                                     slot_active=up, slot_retained_bytes=lag_bytes)
    return Snapshot(taken_at=taken_at or datetime.now(UTC), round_seconds=0.012, servers=servers, links=links)
