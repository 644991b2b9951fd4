"""Detach on real PostgreSQL, through troveclient: the promoted replica accepts writes while its old
master keeps running, and the master's replication slot for it is gone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import wait_for

from .test_trove import ADMIN, FLAVOR, trove_for

pytestmark = pytest.mark.slow  # real PostgreSQL servers

CREATE_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def live() -> Iterator[InProcessService]:
    with in_process_service() as running:  # the real engine: PostgreSQL servers on this host
        yield running


def connect(instance: Any, dbname: str = "app") -> psycopg.Connection[Any]:
    return psycopg.connect(host=instance.hostname, port=instance.port, user=ADMIN["name"], password=ADMIN["password"],
                           dbname=dbname, connect_timeout=5, autocommit=True)


def wait(trove: Any, instance_id: str, done: Any, what: str) -> Any:
    def reached() -> Any:
        found = trove.instances.get(instance_id)
        assert found.status != "ERROR", found._info
        return found if done(found) else None

    return wait_for(reached, CREATE_TIMEOUT, what)


def test_detached_replica_accepts_writes_and_its_slot_is_gone(live: InProcessService) -> None:
    trove = trove_for(live)
    primary = trove.instances.create("live-primary", flavor_id=FLAVOR, volume={"size": 20}, users=[ADMIN])
    primary = wait(trove, primary.id, lambda i: i.status == "ACTIVE", "the primary to be ACTIVE")
    with connect(primary, "postgres") as conn:
        conn.execute("CREATE DATABASE app")  # the admin owns its databases (not a superuser)
    with connect(primary) as conn:
        conn.execute("CREATE TABLE notes (body text)")
        conn.execute("INSERT INTO notes VALUES ('before the detach')")
    replica = trove.instances.create("live-replica", replica_of=primary.id)
    replica = wait(trove, replica.id, lambda i: i.status == "ACTIVE", "the replica to be ACTIVE")
    with connect(replica) as conn:
        wait_for(lambda: conn.execute("SELECT count(*) FROM notes").fetchone() == (1,), 30, "the row to replicate")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO notes VALUES ('refused on a replica')")
    with connect(primary) as conn:
        assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone() == (1,)

    trove.instances.update(replica.id, detach_replica_source=True)
    promoted = wait(trove, replica.id, lambda i: i.status == "ACTIVE" and not hasattr(i, "replica_of"),
                    "the replica to be detached")
    with connect(promoted) as conn:
        conn.execute("INSERT INTO notes VALUES ('written on the promoted replica')")
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    with connect(primary) as conn:  # the old master keeps running, its slot for the replica dropped
        conn.execute("INSERT INTO notes VALUES ('still the master')")
        assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM notes").fetchone() == (2,)  # the promoted one's row is not here
