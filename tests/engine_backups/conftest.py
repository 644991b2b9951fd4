"""Fixtures for the backup engine tests: one data root with a real pgBackRest repository per module.

Everything a module starts is removed at its end, pass or fail: servers, stanzas, the repository
and the data root; the teardown fails if a process of the root survives (a server, or a pgBackRest
async archiver still working in a spool directory).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.engine.conftest import cleanup, make_root

from openrds.engine.local import LocalDriver
from openrds.engine.local.pgbackrest import Repository, find_pgbackrest


def port_band() -> tuple[int, int]:
    """Ports of these tests' own (the engine tests use the default range, the contract tests 60000-64999,
    the services 20000-59999), so a server of another suite running at the same time never takes one."""
    base = 65000 + (os.getpid() % 10) * 50
    return base, base + 49


def need_pgbackrest() -> None:
    if find_pgbackrest() is None:
        pytest.skip("pgBackRest is not installed (Debian package pgbackrest; scripts/install.sh)")


@pytest.fixture(scope="module")
def backup_root() -> Iterator[Path]:
    root = make_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def backup_driver(backup_root: Path) -> Iterator[LocalDriver]:
    """A driver whose primaries archive into an encrypted zst repository under the data root, and
    whose replicas are seeded from that repository whenever their source has a set."""
    need_pgbackrest()
    drv = LocalDriver(backup_root, port_range=port_band(), backup_repository=Repository(), replica_seed="repository")
    try:
        yield drv
    finally:
        cleanup(drv, backup_root)
