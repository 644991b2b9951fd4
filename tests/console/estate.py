"""Building a replication estate for the console and metrics tests, against a real `openrds serve`.

Primaries, read-only groups and replicas are made through the Tencent API (the official SDK's
``CommonClient``), as a tenant would. A cascade (a replica of a replica) cannot be asked for through
any API, so it is recorded the way the service records a replica (an instance row and a
``create_replicas`` job, with the replica as its source) straight into the service's store; the
service's own job runner then builds it through the engine, exactly as it builds any replica.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tests.support.service import SECRET_ID, SECRET_KEY, RunningService, wait_for

from openrds.clock import SystemClock
from openrds.crypto import SecretBox
from openrds.domain.ids import READONLY_PREFIX, new_uuid, short_code
from openrds.domain.model import Instance
from openrds.domain.states import Health, JobKind, Lifecycle, MemberStatus
from openrds.jobs.kinds import KINDS
from openrds.jobs.runner import JobQueue
from openrds.persistence.db import open_engine
from openrds.persistence.uow import Store
from openrds.services.identity import IdentityService

REGION = "ap-beijing"
ZONE = "ap-beijing-4"
SPEC = "pg.it.small2"
ADMIN = "dbadmin"
ADMIN_PASSWORD = "Console-Test1"
CREATE_TIMEOUT = 120.0


def screenshot_dir() -> Path:
    """Where the tests save their screenshots: ``OPENRDS_SCREENSHOTS`` (``docs/screenshots`` refreshes
    the README's), else ``tests/artifacts/screenshots`` (ignored by git)."""
    root = Path(__file__).resolve().parents[2]
    path = Path(os.environ.get("OPENRDS_SCREENSHOTS") or root / "tests" / "artifacts" / "screenshots")
    if not path.is_absolute():
        path = root / path
    path.mkdir(parents=True, exist_ok=True)
    return path


class Tencent:
    """Raw Tencent API calls with the bootstrap tenant's key."""

    def __init__(self, service: RunningService) -> None:
        profile = ClientProfile(httpProfile=HttpProfile(endpoint=service.endpoint, protocol="http", reqTimeout=30),
                                language="en-US")
        self.client = CommonClient("postgres", "2017-03-12", credential.Credential(SECRET_ID, SECRET_KEY), REGION,
                                   profile)

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.client.call_json(action, params)["Response"]
        return response

    def create_primary(self, name: str) -> str:
        answer = self.call("CreateInstances", {
            "SpecCode": SPEC, "Storage": 10, "InstanceCount": 1, "Period": 1, "Zone": ZONE, "Charset": "UTF8",
            "AdminName": ADMIN, "AdminPassword": ADMIN_PASSWORD, "InstanceChargeType": "POSTPAID_BY_HOUR",
            "Name": name})
        return str(answer["DBInstanceIdSet"][0])

    def create_group(self, master: str, name: str, *, evict_over_mb: int | None = None) -> str:
        """A read-only group; with ``evict_over_mb``, members lagging more than that are evicted (none kept)."""
        params: dict[str, Any] = {"MasterDBInstanceId": master, "Name": name}
        if evict_over_mb is not None:
            params.update(ReplayLatencyEliminate=1, MaxReplayLatency=evict_over_mb, MinDelayEliminateReserve=0)
        answer = self.call("CreateReadOnlyGroup", params)
        return str(answer["ReadOnlyGroupId"])

    def create_replica(self, master: str, group: str | None = None) -> str:
        params: dict[str, Any] = {"MasterDBInstanceId": master, "SpecCode": SPEC, "Storage": 10, "InstanceCount": 1,
                                  "Period": 1, "Zone": ZONE, "InstanceChargeType": "POSTPAID_BY_HOUR"}
        if group:
            params["ReadOnlyGroupId"] = group
        return str(self.call("CreateReadOnlyDBInstance", params)["DBInstanceIdSet"][0])


@dataclass
class Estate:
    """A primary, a replica of it in a read-only group (which evicts members more than 1 MB behind),
    and a cascade from that replica."""

    service: RunningService
    tenant_id: str
    primary: Instance
    replica: Instance
    cascade: Instance
    group_id: str


def open_store(service: RunningService) -> Store:
    return Store(open_engine(f"sqlite:///{service.data_dir / 'openrds.db'}"))


def wait_running(store: Store, code: str, timeout: float = CREATE_TIMEOUT) -> Instance:
    def running() -> Instance | None:
        with store.read() as uow:
            found = uow.instances(None).find(code)
        if found is not None and found.lifecycle is Lifecycle.FAILED:
            raise AssertionError(f"{code} failed: {found.status_reason}")
        return found if found is not None and found.lifecycle is Lifecycle.RUNNING else None

    return wait_for(running, timeout, f"{code} to be running", interval=0.2)


def record_cascade(store: Store, source: Instance) -> str:
    """Record a replica of ``source`` (itself a replica) and its create job; returns its code."""
    now = datetime.now(UTC)
    cascade = replace(source, id=new_uuid(), code=short_code(READONLY_PREFIX), name="", master_id=source.id,
                      group_id=None, weight=0, member_status=MemberStatus.IN_ROTATION, lifecycle=Lifecycle.CREATING,
                      host="", port=0, health=Health.UNKNOWN, status_reason="", created_at=now, updated_at=now,
                      expire_at=None, isolated_at=None, billed_until=None)
    cascade = replace(cascade, name=f"cascade-{cascade.code[-4:]}")
    queue = JobQueue(KINDS, SystemClock())
    with store.write() as uow:
        uow.instances(source.tenant_id).add(cascade)
        queue.submit(uow, kind=JobKind.CREATE_REPLICAS, tenant_id=source.tenant_id, instance_ids=[cascade.id],
                     params={"source_id": source.id})
    return cascade.code


def build_estate(service: RunningService, name: str) -> Estate:
    api = Tencent(service)
    store = open_store(service)
    try:
        primary_code = api.create_primary(name)
        primary = wait_running(store, primary_code)
        group = api.create_group(primary_code, f"{name}-readers", evict_over_mb=1)
        replica = wait_running(store, api.create_replica(primary_code, group))
        cascade = wait_running(store, record_cascade(store, replica))
        return Estate(service, primary.tenant_id, primary, replica, cascade, group)
    finally:
        store.close()


def add_tenant(service: RunningService, name: str, user: str, password: str) -> str:
    """Another tenant with an IAM user, made in the service's store (as `openrds admin` does)."""
    store = open_store(service)
    try:
        identity = IdentityService(store, SecretBox.from_key_file(service.data_dir / "secret.key"), SystemClock(),
                                   regions=(REGION,))
        tenant = identity.create_tenant(name)
        identity.create_iam_user(tenant.id, user, user, password)
        return tenant.id
    finally:
        store.close()


def write_on(primary: Instance, megabytes: int) -> None:
    """Write about ``megabytes`` of WAL on the primary as its admin user (in a database of its own: the
    admin is not a superuser and may not create tables in ``postgres``'s public schema)."""
    where = {"host": primary.host or "127.0.0.1", "port": primary.port, "user": ADMIN, "password": ADMIN_PASSWORD,
             "autocommit": True, "connect_timeout": 10}
    with psycopg.connect(dbname="postgres", **where) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'lag_probe'").fetchone() is None:
            conn.execute("CREATE DATABASE lag_probe")
    with psycopg.connect(dbname="lag_probe", **where) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS lag_probe (id bigserial, filler text)")
        conn.execute("INSERT INTO lag_probe (filler) SELECT repeat(md5(random()::text), 30) "
                     "FROM generate_series(1, %s)", (megabytes * 1024,))
