"""What a signed request costs the store, cut without giving up exactness: the data version read once per
request (`Store.one_version`), and the workers' shared signature table in memory
(`openrds.api.shared.SharedSignatures`)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from openrds.api.replay import SignatureMemory, SignatureReused, SignatureUse, TooManySignatures
from openrds.api.shared import SIGNATURE_PROBES, FirstUse, SharedSignatures
from openrds.persistence.db import open_engine, upgrade
from openrds.persistence.uow import Store

WINDOW = 300


@pytest.fixture
def store() -> Iterator[Store]:
    root = Path(tempfile.mkdtemp(prefix="ordt-pr-"))
    engine = open_engine(f"sqlite:///{root / 'openrds.db'}")
    upgrade(engine)
    opened = Store(engine)
    try:
        yield opened
    finally:
        opened.close()
        shutil.rmtree(root, ignore_errors=True)


def _commit_elsewhere(store: Store) -> None:
    """A commit through a connection of its own, as another process makes it."""
    path = store.engine.url.database
    assert path is not None
    with sqlite3.connect(path) as other:
        other.execute("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, '2025-01-01 00:00:00')",
                      (os.urandom(8).hex(), os.urandom(8).hex()))


def test_one_version_reads_once_until_the_request_itself_commits(store: Store) -> None:
    with store.one_version():
        first = store.version()
        _commit_elsewhere(store)
        assert store.version() == first, "read again within one request"
        with store.write() as uow:
            uow.session.execute(text("DELETE FROM tenants WHERE id = ''"))
        assert store.version() != first, "a commit of the request itself must make the next read see it"
    assert store.version() != first
    before = store.version()
    _commit_elsewhere(store)
    assert store.version() != before, "outside a request every read reads"


def _use(signature: str, action: str, *, changes_state: bool, connection: str) -> SignatureUse:
    return SignatureUse(secret_id="AKIDx", signature=signature, timestamp=1_000, tenant_id="t", action=action,
                        region="ap-beijing", changes_state=changes_state, connection=connection)


def test_a_read_signature_of_one_worker_is_refused_as_a_change_by_another() -> None:
    shared = SharedSignatures(slots=64)
    now = [1_000.0]
    one = SignatureMemory(lambda: now[0], window=WINDOW, shared=shared)
    # Another worker: a memory of its own over the same table.
    other = SignatureMemory(lambda: now[0], window=WINDOW, shared=shared)
    read = "ab" * 32
    one.check(_use(read, "DescribeDBInstanceAttribute", changes_state=False, connection="a:1"))
    other.check(_use(read, "DescribeDBInstanceAttribute", changes_state=False, connection="b:2"))  # a read again
    with pytest.raises(SignatureReused, match="already used for DescribeDBInstanceAttribute"):
        SignatureMemory(lambda: now[0], window=WINDOW, shared=shared).check(
            _use(read, "RestartDBInstance", changes_state=True, connection="c:3"))
    change = "cd" * 32
    one.check(_use(change, "RestartDBInstance", changes_state=True, connection="a:1"))
    with pytest.raises(SignatureReused, match="changes state"):
        other.check(_use(change, "RestartDBInstance", changes_state=True, connection="b:2"))


def test_the_shared_table_forgets_expired_signatures_and_refuses_when_full() -> None:
    shared = SharedSignatures(slots=SIGNATURE_PROBES)
    keys = [os.urandom(40) for _ in range(SIGNATURE_PROBES)]
    for key in keys:
        assert shared.first_use(key, valid_until=2_000, action="A", region=None, changes_state=False,
                                now=1_000) is None
    assert shared.first_use(keys[3], valid_until=2_000, action="B", region="r", changes_state=True,
                            now=1_500) == FirstUse("A", None, False, 1_000)
    memory = SignatureMemory(lambda: 1_200.0, window=WINDOW, shared=shared)
    with pytest.raises(TooManySignatures):  # every slot taken and valid: refused (retryable), not forgotten
        memory.check(_use("ef" * 32, "DescribeRegions", changes_state=False, connection="a:1"))
    # Past their last valid second the entries are gone: a new signature takes a slot, the old ones are new.
    assert shared.first_use(os.urandom(40), valid_until=4_000, action="C", region=None, changes_state=False,
                            now=2_001) is None
    assert shared.first_use(keys[3], valid_until=4_000, action="D", region=None, changes_state=False,
                            now=2_001) is None
