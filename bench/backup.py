"""What backups, point-in-time restores and repository-seeded replicas cost on the local driver.

On one ~1 GB database (``pgbench -i -s 60``), in one run:

- ``pg_basebackup -X stream -c fast`` into a scratch directory: the copy floor;
- a full backup as OpenRDS runs it (`LocalDriver.backup`: pgBackRest, zst, 2 processes, encrypted);
- an incremental after an ``UPDATE`` of 5% of the rows (2.45 copies every changed file whole);
- a point-in-time restore end to end (`LocalDriver.restore` to a fence: restore, configuration,
  own stanza, start, promotion, new passwords) against ``pgbackrest restore`` + ``pg_ctl start`` by
  hand until the copy is promoted (goal: within 1.2x);
- a replica seeded from the repository against one streamed from the master (`create_replicas`,
  until the master shows it streaming);
- the WAL rate ``archive-push`` (async) keeps up with under ``pgbench -c 4 -j 2`` writes: WAL made
  and archived per second, the largest archive lag in segments, and the catch-up after the load.

Prints figures; it is not a test. Usage::

    .venv/bin/python bench/backup.py [--scale 60] [--load-seconds 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import psycopg

from openrds.engine.backups import BackupType, RestoreRequest
from openrds.engine.driver import PrimaryRequest, ReplicaRequest, ServerSpec
from openrds.engine.local import LocalDriver
from openrds.engine.local.backups import segment_number
from openrds.engine.local.files import REPLICATION_USER, SUPERUSER
from openrds.engine.local.pgbackrest import Repository, time_target
from openrds.engine.local.secrets import REPLICATION_PASSFILE, SUPERUSER_PASSFILE
from openrds.engine.wait import wait_until

SPEC = ServerSpec(cpu=2, memory_mb=2048, max_connections=100)
ADMIN, PASSWORD = "bench_admin", "bench-password"
MB = 1024 * 1024


def timed(what: str, fn):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = fn()
    elapsed = time.monotonic() - started
    print(f"{what:<58} {elapsed:8.2f} s", flush=True)
    return result, elapsed


def pgbench(port: int, *args: str) -> None:
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    subprocess.run(
        ["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", ADMIN, *args, "app"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def admin(port: int) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, user=ADMIN, password=PASSWORD, dbname="app", autocommit=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=int, default=60)
    parser.add_argument("--load-seconds", type=int, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ordb-"))
    driver = LocalDriver(root, backup_repository=Repository(), replica_seed="basebackup")
    major = driver.versions()[0].major
    try:
        run(driver, root, major, args.scale, args.load_seconds)
    finally:
        for info in sorted(driver.servers(), key=lambda s: s.role != "replica"):
            driver.destroy(info.instance_id)
        shutil.rmtree(root, ignore_errors=True)


def run(driver: LocalDriver, root: Path, major: int, scale: int, load_seconds: int) -> None:
    master = driver.create_primary(PrimaryRequest("bench", major, SPEC, "UTF8", ADMIN, PASSWORD))
    with psycopg.connect(
        host="127.0.0.1", port=master.port, user=ADMIN, password=PASSWORD, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute("CREATE DATABASE app")
    timed(f"pgbench -i -s {scale}", lambda: pgbench(master.port, "-i", "-q", "-s", str(scale)))
    with admin(master.port) as conn:
        size = conn.execute("SELECT pg_database_size('app')").fetchone()[0]  # type: ignore[index]
    print(f"database app: {size / MB:.0f} MB; data directory {driver.disk_usage('bench') / MB:.0f} MB")

    scratch = driver.os_user.mkdir(root / "scratch")  # pg_basebackup runs as the servers' OS user
    floor_argv = [
        driver._programs(major).binaries.path("pg_basebackup"),
        "-D",
        str(scratch),
        "-X",
        "stream",
        "-c",
        "fast",
        "-h",
        "127.0.0.1",
        "-p",
        str(master.port),
        "-U",
        REPLICATION_USER,
        "-w",
    ]
    env = {"PGPASSFILE": str(driver.layout.instance("bench") / REPLICATION_PASSFILE)}
    timed(
        "pg_basebackup -X stream -c fast (the copy floor)",
        lambda: driver.runner.run(floor_argv, step="bench", timeout=3600, env=env),
    )
    shutil.rmtree(scratch)

    full, _ = timed(
        "full backup (LocalDriver.backup, zst, 2 processes)",
        lambda: driver.backup("bench", "full-1", BackupType.FULL, "manual"),
    )
    print(f"  stored {full.stored_bytes / MB:.1f} MB of {full.database_bytes / MB:.0f} MB")
    with admin(master.port) as conn:
        conn.execute("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= %s", (scale * 100000 // 20,))
    incr, _ = timed("incremental after a 5% UPDATE", lambda: driver.backup("bench", "incr-1", BackupType.INCR, "auto"))
    print(f"  stored {incr.stored_bytes / MB:.1f} MB")

    fence = driver.fence("bench")
    _, ours = timed(
        "PITR restore end to end (LocalDriver.restore to the fence)",
        lambda: driver.restore(RestoreRequest("pitr", "bench", major, SPEC, target_time=fence)),
    )
    driver.destroy("pitr")
    driver.delete_stanza("pitr")
    _, by_hand = timed(
        "pgbackrest restore + pg_ctl start by hand, until promoted", lambda: restore_by_hand(driver, root, major, fence)
    )
    print(f"  ratio {ours / by_hand:.2f}x (goal <= 1.2x)")

    driver.replica_seed = "repository"
    _, repo_seconds = timed(
        "replica seeded from the repository (create_replicas)",
        lambda: driver.create_replicas([ReplicaRequest("ro-repo", "bench", SPEC)]),
    )
    driver.destroy("ro-repo")
    driver.replica_seed = "basebackup"
    _, bb_seconds = timed(
        "replica streamed from the master (create_replicas)",
        lambda: driver.create_replicas([ReplicaRequest("ro-bb", "bench", SPEC)]),
    )
    driver.destroy("ro-bb")
    print(f"  repository / master {repo_seconds / bb_seconds:.2f}x")

    archive_under_load(driver, master.port, load_seconds)


def restore_by_hand(driver: LocalDriver, root: Path, major: int, fence: datetime) -> None:
    """What an operator would type: restore into a new directory, move the port, start, await promotion."""
    tool = driver.backups._tool()
    hand = driver.os_user.mkdir(root / "hand")
    data = driver.os_user.mkdir(hand / "data")
    port = driver.ports.allocate({m.port for m in driver.layout.all_meta()}, None)
    try:
        tool.run(
            "restore",
            f"--pg1-path={data}",
            "--type=time",
            f"--target={time_target(fence)}",
            "--target-action=promote",
            stanza="bench",
            step="bench",
            timeout=3600,
        )
        with (data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {port}\narchive_mode = off\n")
        programs = driver._programs(major)
        programs.start(data, hand / "server.log")
        passfile = driver.layout.instance("bench") / SUPERUSER_PASSFILE

        def promoted() -> bool:
            with psycopg.connect(
                host=str(driver.layout.run),
                port=port,
                user=SUPERUSER,
                passfile=str(passfile),
                dbname="postgres",
                autocommit=True,
            ) as conn:
                return not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]  # type: ignore[index]

        wait_until(promoted, timeout=600, interval=0.02, what="the hand-restored copy promoted")
    finally:
        driver._programs(major).stop(data, "immediate")
        shutil.rmtree(hand, ignore_errors=True)


def archive_under_load(driver: LocalDriver, port: int, seconds: int) -> None:
    """pgbench TPC-B with 4 clients; every 0.5 s: WAL written and archived (pg_stat_archiver)."""
    samples: list[tuple[float, int, int]] = []  # (time, current segment, last archived segment)
    done = threading.Event()
    meta = driver.layout.read_meta("bench")
    assert meta is not None

    def sample() -> None:
        deadline = time.monotonic() + seconds + 600  # the load, then at most 10 minutes to catch up
        with driver.sessions.open(meta, "bench") as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT pg_walfile_name(pg_current_wal_lsn()), last_archived_wal FROM pg_stat_archiver"
                ).fetchone()
                assert row is not None
                current, last = segment_number(row[0]), segment_number(row[1])
                if current and last:
                    samples.append((time.monotonic(), current[1], last[1]))
                if done.is_set() and current and last and current[1] - last[1] <= 1:
                    return
                time.sleep(0.5)  # bench sampling period
            print("archiving did not catch up within 10 minutes of the load's end: the figures stop there")

    sampler = threading.Thread(target=sample)
    started = time.monotonic()
    sampler.start()
    pgbench(port, "-c", "4", "-j", "2", "-T", str(seconds), "-n")
    load_end = time.monotonic()
    done.set()
    sampler.join(timeout=600)
    in_load = [s for s in samples if s[0] <= load_end]
    made = (in_load[-1][1] - in_load[0][1]) if len(in_load) > 1 else 0
    archived = (samples[-1][2] - samples[0][2]) if len(samples) > 1 else 0
    max_lag = max((s[1] - s[2] - 1 for s in samples), default=0)
    caught_up = (samples[-1][0] - load_end) if samples else float("nan")
    print(
        f"pgbench -c 4 -j 2 -T {seconds}: WAL made {made * 16 / (load_end - started):.1f} MB/s "
        f"({made} segments), archived {archived} segments; max lag {max_lag} segments; caught up "
        f"{max(caught_up, 0):.2f} s after the load"
    )


if __name__ == "__main__":
    main()
