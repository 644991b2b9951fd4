"""pgBackRest on the local driver, against real PostgreSQL servers and a real (encrypted) repository.

One data root and one source primary per module; each test adds what it needs. Times of the
recovery targets come from the source's own commit timestamps (``track_commit_timestamp``), so a
restore that stops one transaction early or late gives a different row count.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.engine.conftest import SMALL, admin_connect, eventually, major, primary_request

from openrds.engine.backups import BackupType, RestoreRequest
from openrds.engine.driver import CopyMethod, EngineError, ReplicaRequest, ServerInfo, ServerRole, ServerState
from openrds.engine.local import LocalDriver

pytestmark = pytest.mark.slow

SOURCE = "bk-src"
ROWS_AT_FULL = 100


def superuser_sql(driver: LocalDriver, instance_id: str, query: str) -> list[tuple[object, ...]]:
    """Run ``query`` as the service's superuser (what pg_switch_wal and the like need)."""
    meta = driver.layout.read_meta(instance_id)
    assert meta is not None
    with driver.sessions.open(meta, "test") as conn:
        cursor = conn.execute(query)
        return cursor.fetchall() if cursor.description else []


def count(info: ServerInfo) -> int:
    with admin_connect(info, "app") as conn:
        row = conn.execute("SELECT count(*) FROM items").fetchone()
    assert row is not None
    return int(row[0])


def insert_one_per_commit(info: ServerInfo, rows: int) -> None:
    with admin_connect(info, "app") as conn:
        for _ in range(rows):
            conn.execute("INSERT INTO items (note) VALUES ('x')")  # autocommit: one commit per row


def restore(driver: LocalDriver, instance_id: str, source: str, **target: object) -> ServerInfo:
    return driver.restore(RestoreRequest(instance_id, source, major(), SMALL, **target))  # type: ignore[arg-type]


def assert_gone(driver: LocalDriver, instance_id: str) -> None:
    """Nothing of a server is left: no directory (so no port is held), no stanza."""
    assert not driver.layout.instance(instance_id).exists()
    assert instance_id not in {m.instance_id for m in driver.layout.all_meta()}
    assert driver.stanza(instance_id) is None
    assert not driver.backups._tool().has_stanza_conf(instance_id)


@pytest.fixture(scope="module")
def source(backup_driver: LocalDriver) -> Iterator[ServerInfo]:
    info = backup_driver.create_primary(primary_request(SOURCE))
    with admin_connect(info) as conn:
        conn.execute("CREATE DATABASE app")
    with admin_connect(info, "app") as conn:
        conn.execute("CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text)")
        conn.execute("INSERT INTO items (note) SELECT 'seed' FROM generate_series(1, %s)", (ROWS_AT_FULL,))
    yield info


@pytest.fixture(scope="module")
def full(backup_driver: LocalDriver, source: ServerInfo):  # type: ignore[no-untyped-def]
    return backup_driver.backup(SOURCE, "bk-full-1", BackupType.FULL, "manual")


def test_archiving_from_birth_into_an_encrypted_repository(backup_driver: LocalDriver, source: ServerInfo) -> None:
    superuser_sql(backup_driver, SOURCE, "SELECT pg_switch_wal()")
    eventually(lambda: backup_driver.archive_status(SOURCE).archived_count >= 1, "the first segment archived")
    status = backup_driver.archive_status(SOURCE)
    assert status.failed_count == 0 and status.last_archived_wal is not None
    stanza = backup_driver.stanza(SOURCE)
    assert stanza is not None and stanza.wal_max is not None and stanza.wal_stored_bytes > 0
    raw = backup_driver.backups._tool().info(SOURCE)[0]
    assert raw["cipher"] == "aes-256-cbc"
    tool = backup_driver.backups._tool()
    for secret_file in (tool.config, tool.key_file):
        st = secret_file.stat()
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == backup_driver.os_user.uid
    assert tool.key_file.read_text().strip() in tool.config.read_text()


def test_full_and_incremental_listed_with_sizes_and_annotations(
    backup_driver: LocalDriver, source: ServerInfo, full: object
) -> None:
    again = backup_driver.backup(SOURCE, "bk-full-1", BackupType.FULL, "manual")
    assert again == full  # a re-run job finds its set instead of taking another
    insert_one_per_commit(source, 5)
    incr = backup_driver.backup(SOURCE, "bk-incr-1", BackupType.INCR, "auto")
    stanza = backup_driver.stanza(SOURCE)
    assert stanza is not None
    by_id = {b.backup_id: b for b in stanza.backups}
    first = by_id["bk-full-1"]
    assert first.type is BackupType.FULL and first.annotations["kind"] == "manual"
    assert incr.type is BackupType.INCR and incr.prior == first.label and incr.annotations["kind"] == "auto"
    assert first.database_bytes > 1_000_000 and 0 < first.stored_bytes < first.database_bytes
    assert 0 < incr.stored_bytes < first.stored_bytes
    assert first.started_at <= first.finished_at <= incr.started_at
    assert stanza.stored_bytes >= first.stored_bytes + incr.stored_bytes + stanza.wal_stored_bytes


def test_point_in_time_restore_gives_exactly_the_commits_up_to_the_target(
    backup_driver: LocalDriver, source: ServerInfo, full: object
) -> None:
    insert_one_per_commit(source, 60)
    with admin_connect(source, "app") as conn:
        rows = conn.execute(
            "SELECT id, pg_xact_commit_timestamp(xmin) FROM items ORDER BY pg_xact_commit_timestamp(xmin), id"
        ).fetchall()
    # The target is one commit's own time, in the middle of the burst: recovery keeps that commit and
    # stops before the next one (which is later: one row per commit).
    target_index = len(rows) - 30
    target = rows[target_index][1]
    assert rows[target_index + 1][1] > target
    expected = sum(1 for _, committed in rows if committed <= target)
    fence = backup_driver.fence(SOURCE)
    assert fence > rows[-1][1]
    restored = restore(backup_driver, "bk-pitr", SOURCE, target_time=target)
    assert restored.state is ServerState.RUNNING and restored.role is ServerRole.PRIMARY
    assert restored.port != source.port
    assert count(restored) == expected
    with admin_connect(restored, "app") as conn:  # writable, and its admin logs in with the source's password
        conn.execute("INSERT INTO items (note) VALUES ('after restore')")
    # It archives into its own stanza (timeline 2), never into its source's.
    superuser_sql(backup_driver, "bk-pitr", "SELECT pg_switch_wal()")
    eventually(
        lambda: (s := backup_driver.stanza("bk-pitr")) is not None and (s.wal_max or "").startswith("00000002"),
        "the restored server archiving into its own stanza",
    )
    source_wal = backup_driver.stanza(SOURCE)
    assert source_wal is not None and not (source_wal.wal_max or "").startswith("00000002")
    conf = (backup_driver.layout.data("bk-pitr") / "postgresql.conf").read_text()
    assert "--stanza=bk-pitr" in conf and f"--stanza={SOURCE}" not in conf
    # The restored server got its own internal passwords.
    assert (backup_driver.layout.instance("bk-pitr") / "superuser.pgpass").read_text() != (
        backup_driver.layout.instance(SOURCE) / "superuser.pgpass"
    ).read_text()
    backup_driver.destroy("bk-pitr")
    assert backup_driver.stanza("bk-pitr") is not None  # destroy keeps the stanza
    spool = backup_driver.backups._tool().spool / "archive" / "bk-pitr"
    assert spool.exists()
    backup_driver.delete_stanza("bk-pitr")
    assert_gone(backup_driver, "bk-pitr")
    assert not spool.exists()  # stanza-delete leaves it; delete_stanza does not
    backup_driver.delete_stanza("bk-pitr")  # idempotent


def test_restore_of_a_set_stops_at_its_end(backup_driver: LocalDriver, source: ServerInfo, full: object) -> None:
    restored = restore(backup_driver, "bk-set", SOURCE, backup_label=full.label)  # type: ignore[attr-defined]
    assert count(restored) == ROWS_AT_FULL
    backup_driver.destroy("bk-set")
    backup_driver.delete_stanza("bk-set")


def test_a_target_after_the_last_archived_commit_fails_and_leaves_nothing(
    backup_driver: LocalDriver, source: ServerInfo, full: object
) -> None:
    fence = backup_driver.fence(SOURCE)
    with pytest.raises(EngineError, match="after the last archived commit") as caught:
        restore(backup_driver, "bk-late", SOURCE, target_time=fence + timedelta(hours=1))
    assert not caught.value.transient
    assert_gone(backup_driver, "bk-late")
    # (A restore to the fence itself succeeds: tests/fakes/test_contract.py, on this driver too.)


def test_replica_seeded_from_the_repository_streams_and_promotes_into_its_own_stanza(
    backup_driver: LocalDriver, source: ServerInfo, full: object
) -> None:
    (replica,) = backup_driver.create_replicas([ReplicaRequest("bk-ro", SOURCE, SMALL)])
    assert replica.copy_method is CopyMethod.REPOSITORY
    with admin_connect(source, "app") as conn:
        conn.execute("INSERT INTO items (note) VALUES ('streamed')")
    eventually(lambda: count(replica) == count(source), "the replica to replay the master's new row")
    assert backup_driver.replication(SOURCE).replicas[0].state == "streaming"
    backup_driver.promote("bk-ro")
    superuser_sql(backup_driver, "bk-ro", "SELECT pg_switch_wal()")
    eventually(
        lambda: (s := backup_driver.stanza("bk-ro")) is not None and s.wal_max is not None,
        "the promoted replica archiving into its own stanza",
    )
    backup_driver.destroy("bk-ro")
    backup_driver.delete_stanza("bk-ro")


def _backup_process(stanza: str) -> int | None:
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"pgbackrest") and f"--stanza={stanza}".encode() in argv and b"backup" in argv:
            return int(entry.name)
    return None


def test_a_killed_backup_is_retried_and_the_repository_stays_valid(
    backup_driver: LocalDriver, source: ServerInfo, full: object
) -> None:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            backup_driver.backup(SOURCE, "bk-killed", BackupType.FULL, "manual")
        except BaseException as exc:  # the test reads it below
            failures.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        pid = _wait_for_backup_process()
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    finally:
        worker.join(timeout=120)
    assert failures and isinstance(failures[0], EngineError), "the killed backup must fail"
    made = backup_driver.backup(SOURCE, "bk-killed", BackupType.FULL, "manual")
    assert made.backup_id == "bk-killed" and made.type is BackupType.FULL
    backup_driver.ensure_stanza(SOURCE)  # stanza-create + check: the repository accepts the stanza


def _wait_for_backup_process() -> int:
    pid: int | None = None

    def running() -> bool:
        nonlocal pid
        pid = _backup_process(SOURCE)
        return pid is not None

    eventually(running, "pgbackrest backup of the source to be running", timeout=60)
    assert pid is not None
    return pid


def test_expire_removes_a_set_and_its_dependents(backup_driver: LocalDriver, source: ServerInfo, full: object) -> None:
    stanza = backup_driver.stanza(SOURCE)
    assert stanza is not None
    first = next(b for b in stanza.backups if b.backup_id == "bk-full-1")
    backup_driver.expire_backup(SOURCE, first.label)
    after = backup_driver.stanza(SOURCE)
    assert after is not None
    assert all(b.label != first.label and b.prior != first.label for b in after.backups)
    backup_driver.expire_backup(SOURCE, first.label)  # a missing label is done


def test_a_primary_made_before_backups_is_brought_to_archive_by_ensure_stanza(
    backup_driver: LocalDriver, backup_root: Path
) -> None:
    band = (backup_driver.ports.low, backup_driver.ports.high)
    before = LocalDriver(backup_root, port_range=band)  # no repository: no archiving
    old = before.create_primary(primary_request("bk-old"))
    assert not backup_driver.backups.archiving(backup_driver.layout.read_meta("bk-old"))  # type: ignore[arg-type]
    backup_driver.ensure_stanza("bk-old")  # reconfigures, restarts, creates the stanza, checks
    assert backup_driver.status("bk-old").state is ServerState.RUNNING
    assert backup_driver.status("bk-old").port == old.port
    # check switched WAL and saw the segment in the repository; the archiver counts it once its
    # archive_command has returned, a moment later.
    eventually(lambda: backup_driver.archive_status("bk-old").archived_count >= 1, "bk-old's archiver to count it")
    backup_driver.destroy("bk-old")
    backup_driver.delete_stanza("bk-old")


def test_auto_seeds_from_the_repository_only_for_a_recent_set_of_a_large_master(
    backup_driver: LocalDriver, source: ServerInfo, full: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openrds.engine.local import driver as local_driver

    meta = backup_driver.layout.read_meta(SOURCE)
    assert meta is not None
    monkeypatch.setattr(backup_driver, "replica_seed", "auto")
    monkeypatch.setattr(backup_driver, "copy_method", lambda: CopyMethod.BASEBACKUP)  # as on ext4
    assert backup_driver._replica_copy_method(meta) is CopyMethod.BASEBACKUP  # a small master: streamed
    monkeypatch.setattr(local_driver, "REPOSITORY_SEED_MIN_BYTES", 1)
    assert backup_driver._replica_copy_method(meta) is CopyMethod.REPOSITORY  # "large", with a fresh set
    monkeypatch.setattr(local_driver, "REPOSITORY_SEED_MAX_AGE", timedelta(0))
    assert backup_driver._replica_copy_method(meta) is CopyMethod.BASEBACKUP  # the set is too old
    monkeypatch.setattr(backup_driver, "copy_method", lambda: CopyMethod.CLONE)
    monkeypatch.setattr(local_driver, "REPOSITORY_SEED_MAX_AGE", timedelta(days=1))
    assert backup_driver._replica_copy_method(meta) is CopyMethod.CLONE  # a reflink clone copies nothing
