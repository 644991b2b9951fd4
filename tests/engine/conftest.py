"""Fixtures for the engine tests: real PostgreSQL servers under a throwaway data root.

Everything a test module starts is destroyed at its end, pass or fail: servers (leaves of the
replication tree first, so slots are dropped on running sources), their directories and ports,
then the data root itself; the teardown fails if a PostgreSQL process of the root survives.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from openrds.engine.driver import PrimaryRequest, ServerInfo, ServerSpec
from openrds.engine.local import LocalDriver
from openrds.engine.local.binaries import find_versions
from openrds.engine.local.postmaster import is_alive
from openrds.engine.wait import wait_until

ADMIN_USER = "tenant_admin"
ADMIN_PASSWORD = "Ten4nt pa:ss'word"  # spaces, a colon and a quote: must survive every quoting layer
SMALL = ServerSpec(cpu=1, memory_mb=256, max_connections=40)
# Scales every "eventually within N s" of the tests, for slow CI machines.
TIMEOUT_FACTOR = float(os.environ.get("OPENRDS_TEST_TIMEOUT_FACTOR", "1"))


def eventually(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Assert that ``predicate`` becomes truthy within ``timeout`` seconds (scaled)."""
    wait_until(predicate, timeout=timeout * TIMEOUT_FACTOR, interval=0.05, what=what, retry_on=(psycopg.Error,))


def major() -> int:
    """The newest installed major version (the tests are skipped when there is none)."""
    found = find_versions()
    if not found:
        pytest.skip("no PostgreSQL server installed (pg_config / /usr/lib/postgresql/*/bin)")
    return found[0].major


def primary_request(instance_id: str, *, charset: str = "UTF8", spec: ServerSpec = SMALL) -> PrimaryRequest:
    return PrimaryRequest(
        instance_id=instance_id,
        major_version=major(),
        spec=spec,
        charset=charset,
        admin_user=ADMIN_USER,
        admin_password=ADMIN_PASSWORD,
    )


def admin_connect(info: ServerInfo, dbname: str = "postgres") -> psycopg.Connection:
    """Connect as the tenant would: TCP, the admin role, a password."""
    return psycopg.connect(
        host=info.host,
        port=info.port,
        user=ADMIN_USER,
        password=ADMIN_PASSWORD,
        dbname=dbname,
        connect_timeout=5,
        autocommit=True,
    )


def depth(info: ServerInfo, by_id: dict[str, ServerInfo]) -> int:
    hops, current = 0, info
    while current.source_id in by_id and hops < 50:
        current, hops = by_id[current.source_id], hops + 1
    return hops


def destroy_all(driver: LocalDriver) -> None:
    """Destroy every server (leaves first) and every half-created directory."""
    servers = list(driver.servers())
    by_id = {s.instance_id: s for s in servers}
    for info in sorted(servers, key=lambda s: depth(s, by_id), reverse=True):
        driver.destroy(info.instance_id)
    for instance_id in driver.pending():
        driver.destroy(instance_id)


def postgres_processes_under(root: Path) -> list[int]:
    """Live processes whose working directory is inside ``root`` (servers chdir to their data dir)."""
    prefix = str(root.resolve()) + os.sep
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        except OSError:
            continue
        if cwd.startswith(prefix) and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def make_root() -> Path:
    # Short: the data root also holds the servers' unix sockets (107-byte limit).
    return Path(tempfile.mkdtemp(prefix="ordt-"))


def cleanup(driver: LocalDriver, root: Path) -> None:
    try:
        destroy_all(driver)
    finally:
        leftovers = postgres_processes_under(root)
        shutil.rmtree(root, ignore_errors=True)
    assert not leftovers, f"processes survived the teardown: {leftovers}"


@pytest.fixture(scope="module")
def data_root() -> Iterator[Path]:
    root = make_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def driver(data_root: Path) -> Iterator[LocalDriver]:
    """One driver (and data root) per test module; every server of it is destroyed at the end."""
    drv = LocalDriver(data_root)
    try:
        yield drv
    finally:
        cleanup(drv, data_root)
