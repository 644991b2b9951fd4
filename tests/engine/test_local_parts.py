"""The pure parts of the local driver: names, quoting, secrets, settings, waits. No server needed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from openrds.engine.driver import EngineError, ReplicaRequest, ServerSpec
from openrds.engine.local import LocalDriver
from openrds.engine.local.config import MIN_SLOT_WAL_KEEP_MB, server_settings, slot_wal_keep_mb
from openrds.engine.local.files import conninfo, render_pg_hba, render_postgresql_conf, strip_standby_settings
from openrds.engine.local.layout import check_instance_id, slot_name
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.process import Masker, Runner
from openrds.engine.local.replicas import dependency_rounds
from openrds.engine.local.secrets import read_password, write_passfile
from openrds.engine.wait import WaitTimeout, wait_until


def test_slot_names_are_valid() -> None:
    assert slot_name("postgres-AbC123") == "postgres_abc123"
    assert slot_name("4f9a.x") == "4f9a_x"
    assert len(slot_name("a" * 63)) == 63


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a b", "-x", "x" * 64])
def test_bad_instance_ids_are_refused(bad: str) -> None:
    with pytest.raises(EngineError):
        check_instance_id(bad)


def test_conninfo_quotes_what_libpq_needs() -> None:
    text = conninfo({"host": "127.0.0.1", "passfile": "/a b/it's", "application_name": "r1"})
    assert text == r"host=127.0.0.1 passfile='/a b/it\'s' application_name=r1"


def test_passfile_round_trip_with_separators() -> None:
    owner = OsUser.resolve(None)
    with tempfile.TemporaryDirectory(prefix="ordt-") as tmp:
        path = Path(tmp, "x.pgpass")
        write_passfile(path, "user", r"a:b\c", owner)
        assert path.stat().st_mode & 0o777 == 0o600
        assert read_password(path) == r"a:b\c"


def test_masker_hides_registered_and_password_like_values() -> None:
    masker = Masker()
    masker.add("hunter2")
    text = masker("FATAL: hunter2 and password=abc and PASSWORD 'q w' ok; password authentication failed")
    assert "hunter2" not in text and "abc" not in text and "q w" not in text
    assert "password authentication failed" in text


def test_runner_reports_failures_with_a_masked_tail() -> None:
    masker = Masker()
    masker.add("s3cret")
    runner = Runner(OsUser.resolve(None), masker)
    with pytest.raises(EngineError) as raised:
        runner.run(["sh", "-c", "echo using s3cret >&2; exit 3"], step="probe", timeout=10, as_server_user=False)
    assert raised.value.step == "probe" and "code 3" in raised.value.detail
    assert "s3cret" not in str(raised.value) and "using ********" in raised.value.output_tail
    with pytest.raises(EngineError) as slow:
        runner.run(["sleep", "5"], step="nap", timeout=0.2, as_server_user=False)
    assert slow.value.transient and "timed out" in slow.value.detail


def test_settings_follow_the_spec_with_clamps_and_floor() -> None:
    spec = ServerSpec(cpu=2, memory_mb=4096, max_connections=100)
    plain = server_settings(spec, instance_id="x", port=1, listen_addresses="127.0.0.1", socket_dir="/r")
    assert (plain["shared_buffers"], plain["effective_cache_size"]) == ("1024MB", "3072MB")
    assert plain["wal_level"] == "replica" and plain["hot_standby"] is True
    assert plain["password_encryption"] == "scram-sha-256"
    tiny = server_settings(
        ServerSpec(cpu=1, memory_mb=32, max_connections=5),
        instance_id="x",
        port=1,
        listen_addresses="",
        socket_dir="/r",
    )
    assert tiny["shared_buffers"] == "16MB"
    floored = server_settings(
        spec,
        instance_id="x",
        port=1,
        listen_addresses="127.0.0.1",
        socket_dir="/r",
        floor={"max_connections": 500, "max_worker_processes": 4, "max_locks_per_transaction": 128},
    )
    assert (floored["max_connections"], floored["max_worker_processes"], floored["max_locks_per_transaction"]) == (
        500,
        8,
        128,
    )
    assert "include_if_exists = 'standby.conf'" in render_postgresql_conf(plain)


def test_slots_may_hold_a_tenth_of_the_storage_at_least_a_gigabyte() -> None:
    def spec(storage_gb: int) -> ServerSpec:
        return ServerSpec(cpu=2, memory_mb=4096, max_connections=100, storage_gb=storage_gb)

    assert MIN_SLOT_WAL_KEEP_MB == 1024
    assert slot_wal_keep_mb(spec(0)) == 1024  # unknown quota (a meta written before it was recorded)
    assert slot_wal_keep_mb(spec(10)) == 1024  # the smallest instance: the floor
    assert slot_wal_keep_mb(spec(100)) == 10240
    assert slot_wal_keep_mb(spec(2000)) == 204800
    assert slot_wal_keep_mb(spec(2000), override=16) == 16  # OPENRDS_MAX_SLOT_WAL_KEEP_MB
    assert slot_wal_keep_mb(spec(2000), override=-1) == -1  # unlimited, as PostgreSQL's default
    common = {"instance_id": "x", "port": 1, "listen_addresses": "127.0.0.1", "socket_dir": "/r"}
    assert server_settings(spec(100), **common)["max_slot_wal_keep_size"] == "10240MB"
    assert server_settings(spec(100), major_version=15, max_slot_wal_keep_mb=16, **common)[
        "max_slot_wal_keep_size"] == "16MB"
    unlimited = server_settings(spec(100), max_slot_wal_keep_mb=-1, **common)
    assert "max_slot_wal_keep_size = -1\n" in render_postgresql_conf(unlimited)
    assert "max_slot_wal_keep_size" not in server_settings(spec(100), major_version=12, **common)  # unknown to 12
    assert "max_slot_wal_keep_size = '10240MB'\n" in render_postgresql_conf(server_settings(spec(100), **common))


def test_hba_never_trusts() -> None:
    rules = [line.split() for line in render_pg_hba().splitlines() if line and not line.startswith("#")]
    assert all(rule[-1] in ("scram-sha-256", "reject") for rule in rules)
    assert ["local", "all", "openrds", "scram-sha-256"] in rules


def test_inherited_standby_settings_are_stripped() -> None:
    auto = "# Do not edit\nprimary_conninfo = 'host=x'\nwork_mem = '8MB'\nprimary_slot_name = 'up'\n"
    assert strip_standby_settings(auto) == "# Do not edit\nwork_mem = '8MB'\n"


def test_batches_are_ordered_so_cascades_come_after_their_source() -> None:
    spec = ServerSpec(1, 256, 10)
    rounds = dependency_rounds(
        [ReplicaRequest("c", "b", spec), ReplicaRequest("b", "a", spec), ReplicaRequest("d", "p", spec)]
    )
    assert [[r.instance_id for r in batch] for batch in rounds] == [["b", "d"], ["c"]]
    with pytest.raises(EngineError, match="cycle"):
        dependency_rounds([ReplicaRequest("x", "y", spec), ReplicaRequest("y", "x", spec)])


def test_wait_until_names_what_never_happened() -> None:
    assert wait_until(lambda: 42, timeout=1, what="the answer") == 42
    with pytest.raises(WaitTimeout, match=r"waiting for the moon .*last error: not yet"):

        def never() -> bool:
            raise ValueError("not yet")

        wait_until(never, timeout=0.1, interval=0.02, what="the moon", retry_on=(ValueError,))


def test_a_data_root_too_long_for_sockets_is_refused() -> None:
    with pytest.raises(EngineError, match="107-byte"):
        LocalDriver(Path("/tmp/ordt-" + "x" * 100))
    assert not Path("/tmp/ordt-" + "x" * 100).exists()
