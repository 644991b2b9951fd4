"""Fixtures of the read-only group tests: a real ``openrds serve`` (its HAProxy endpoints and PostgreSQL
servers), driven through the official SDK, plus the engine's own view of the same data root for what
only the engine may do (pause replay, stop a server) and see (the balancer's live state).

Everything started here is stopped and removed at the end, pass or fail: the service, every endpoint
(HAProxy process, admin socket, port) and server under its data root, and the directory.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, POSTPAID, SPEC, ZONE, Api  # noqa: E402
from tests.support.service import (  # noqa: E402
    RunningService,
    destroy_servers,
    start_service,
    stop_service,
    temp_root,
    wait_for,
)

from openrds.engine.driver import EndpointInfo  # noqa: E402
from openrds.engine.local import LocalDriver  # noqa: E402

# The supervisor would restart a server the fault test stops on purpose: it looks once, at start only.
SERVICE_ENV = {"OPENRDS_SUPERVISE_INTERVAL": "600"}
# Group thresholds of the tests: 5 s or 16 MB of replay lag; the writer makes ~10 MB of WAL a second.
MAX_LAG_SECONDS = 5
MAX_LAG_MB = 16


@dataclass
class World:
    """One service with two masters; replicas ``a`` and ``b`` of ``master`` in ``group``, ``c`` of ``other``."""

    root: Path
    service: RunningService
    api: Api
    driver: LocalDriver
    master: str
    other: str
    a: str
    b: str
    c: str
    group: str
    ports: dict[str, int]  # instance -> its own port

    @property
    def data_dir(self) -> Path:
        return self.service.data_dir

    def member_of(self, port: int) -> str:
        return next(i for i, p in self.ports.items() if p == port)


def create_world() -> World:
    root = temp_root()
    service = start_service(root / "data", extra_env=SERVICE_ENV)
    api = Api(service)
    world = World(root, service, api, LocalDriver(service.data_dir), "", "", "", "", "", "", {})
    try:
        world.master = api.create_master(POSTPAID, name="ro-master")
        world.other = api.create_master(POSTPAID, name="other-master")
        api.wait_status([world.master, world.other], "running")
        world.group = api.send("CreateReadOnlyGroup", {
            "MasterDBInstanceId": world.master, "Name": "reads", "ReplayLagEliminate": 1, "ReplayLatencyEliminate": 1,
            "MaxReplayLag": MAX_LAG_SECONDS, "MaxReplayLatency": MAX_LAG_MB, "MinDelayEliminateReserve": 0,
        }).ReadOnlyGroupId
        world.a, world.b = sorted(api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": world.master, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 2,
            "Period": 1, "InstanceChargeType": POSTPAID, "ReadOnlyGroupId": world.group}).DBInstanceIdSet)
        (world.c,) = api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": world.other, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1,
            "Period": 1, "InstanceChargeType": POSTPAID}).DBInstanceIdSet
        shown = api.wait_status([world.a, world.b, world.c, world.master], "running")
        world.ports = {code: i.DBInstanceNetInfo[0].Port for code, i in shown.items()}
    except BaseException:
        close_world(world)
        raise
    return world


def close_world(world: World) -> None:
    try:
        stop_service(world.service)
        log = world.service.log()
        assert "listener failed" not in log, f"the eviction listener failed:\n{log[-6000:]}"
        destroy_servers(world.root / "data")
    finally:
        shutil.rmtree(world.root, ignore_errors=True)
    leftovers = [p for p in _processes() if str(world.root) in p[1]]
    assert not leftovers, f"processes survived the teardown: {leftovers}"


def _processes() -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
            except OSError:
                continue
    return found


@pytest.fixture(scope="package")
def world() -> Iterator[World]:
    built = create_world()
    try:
        yield built
    finally:
        close_world(built)


# --- reading the group ---------------------------------------------------------------------------
def group_answer(api: Api, group_id: str) -> dict[str, Any]:
    """DescribeReadOnlyGroups for one group, raw (member weights are not in the SDK's model)."""
    answer = api.call("DescribeReadOnlyGroups", {"Filters": [{"Name": "read-only-group-id", "Values": [group_id]}]})
    (found,) = answer["ReadOnlyGroupList"]
    return found


def statuses(api: Api, group_id: str) -> dict[str, str]:
    """StatusInReadonlyGroup of every member, as DescribeReadOnlyGroups shows it."""
    members = group_answer(api, group_id)["ReadOnlyDBInstanceList"]
    return {m["DBInstanceId"]: m["StatusInReadonlyGroup"] for m in members}


def endpoint_port(api: Api, group_id: str) -> int:
    (net,) = group_answer(api, group_id)["DBInstanceNetInfo"]
    assert (net["NetType"], net["Status"], net["ProtocolType"]) == ("private", "opened", "postgresql")
    return int(net["Port"])


def live(world: World, group_id: str | None = None) -> dict[str, tuple[str, int, bool]]:
    """The balancer's own view: member -> (admin state, weight, health checks pass)."""
    info: EndpointInfo = world.driver.endpoint(group_id or world.group)
    return {m.instance_id: (m.admin.value, m.weight, m.up) for m in info.members}


# --- connections through an address --------------------------------------------------------------
def connect(port: int, dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, user=ADMIN_NAME, password=ADMIN_PASSWORD, dbname=dbname,
                           connect_timeout=5, autocommit=True)


def server_port(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT inet_server_port(), pg_is_in_recovery()").fetchone()
    assert row is not None and row[1] is True, "a read-only group must only reach read-only instances"
    return int(row[0])


@contextmanager
def held(port: int, count: int) -> Iterator[list[psycopg.Connection]]:
    """``count`` connections opened one after another through ``port`` and kept open (as a pool does)."""
    conns: list[psycopg.Connection] = []
    try:
        for _ in range(count):
            conns.append(connect(port))
        yield conns
    finally:
        for conn in conns:
            conn.close()


def spread(world: World, port: int, count: int) -> Counter[str]:
    """Which members ``count`` new connections through ``port`` reach (held open together)."""
    with held(port, count) as conns:
        return Counter(world.member_of(server_port(c)) for c in conns)


def alive(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


# --- load ----------------------------------------------------------------------------------------
@contextmanager
def writing(port: int) -> Iterator[None]:
    """A writer on the master making roughly 10 MB of WAL a second until the block ends."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with connect(port) as conn, contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute("CREATE DATABASE churn")  # the admin may create databases, not tables in postgres
            with connect(port, "churn") as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS churn (id bigint, pad text)")
                batches = 0
                while not stop.wait(0.1):  # paced: about ten 1 MB batches a second
                    conn.execute("INSERT INTO churn SELECT g, repeat('x', 200) FROM generate_series(1, 4000) g")
                    batches += 1
                    if batches % 20 == 0:
                        conn.execute("TRUNCATE churn")  # WAL is what counts, not a growing table
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    thread = threading.Thread(target=run, name="wal-writer", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, f"the writer failed: {errors[0]}"


def events(world: World, kind_prefix: str = "group.") -> list[tuple[str, str]]:
    """(kind, message) of the service's recorded events, oldest first (read from its SQLite store)."""
    import sqlite3

    with sqlite3.connect(f"file:{world.data_dir / 'openrds.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT kind, message FROM events WHERE kind LIKE ? ORDER BY id",
                          (f"{kind_prefix}%",)).fetchall()
    return [(str(k), str(m)) for k, m in rows]


def create_tenant(service: RunningService, name: str) -> tuple[str, str]:
    """``openrds admin create-tenant`` against the running service's data root: (SecretId, SecretKey)."""
    import re

    done = subprocess.run([sys.executable, "-m", "openrds", "admin", "create-tenant", name,
                           "--data-dir", str(service.data_dir)],
                          env=service.env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    secret_id = re.search(r"^SecretId\s+(\S+)$", done.stdout, re.M)
    secret_key = re.search(r"^SecretKey\s+(\S+)$", done.stdout, re.M)
    assert secret_id and secret_key, done.stdout
    return secret_id.group(1), secret_key.group(1)


__all__ = ["World", "wait_for"]
