"""Robustness of backups with the real service (issue 16): a real `openrds serve` subprocess over real
PostgreSQL and pgBackRest, driven through the official SDK, one service (restarted on the same data root
after each ``kill -9``) and one master for the module.

- ``kill -9`` of the service while pgBackRest takes a backup, and while it restores a clone: each kill
  lands while the job's ``pgbackrest`` process is at work (found in ``/proc`` and frozen with SIGSTOP
  before the kill, so it cannot finish first). A killed backup's pgBackRest is continued at once. It
  finishes by itself, and the resumed job finds its set. A killed clone's restore stays frozen through the
  restart, standing for a long restore that is still writing. The resumed job must stop it before it
  wipes the directory and restores again. A clone whose set became unreadable meanwhile fails and leaves
  no process, directory, port or stanza. ``pgbackrest check`` (run as the engine runs it) accepts the
  stanzas afterwards.
- A failing ``archive-push`` (the stanza's archive directory made unreachable for the servers' OS user):
  the primary keeps accepting writes, ``openrds_backup_archive_failing`` says so within a minute (a
  schedule round of 1 s here), and it clears once the directory is repaired.
- The repository's disk: `DescribeBackupOverview` and ``openrds_backup_repository_bytes`` against
  ``pgbackrest info`` and ``repo-ls``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, SPEC, Api
from tests.support.service import (
    RunningService,
    destroy_servers,
    start_service,
    stop_service,
    temp_root,
    wait_for,
)

from openrds.engine.local.secrets import SUPERUSER_PASSFILE

pytestmark = pytest.mark.slow

#: The servers' OS user when the tests run as root (`openrds.engine.local.osuser.OsUser.resolve`).
SERVER_USER = "postgres"
ENV = {
    # A schedule round a second: the archive watch reports within seconds, not the default 30 s.
    "OPENRDS_BACKUP_SCHEDULE_INTERVAL": "1",
}


@dataclass
class Live:
    """The module's service: restarted on the same data root after a ``kill -9``."""

    root: Path
    service: RunningService
    api: Api

    @property
    def data_dir(self) -> Path:
        return self.service.data_dir

    @property
    def backup_root(self) -> Path:
        return self.data_dir / "backup"

    def kill(self) -> None:
        """SIGKILL the service: nothing of it runs its shutdown (what it started runs on)."""
        self.service.process.send_signal(signal.SIGKILL)
        self.service.process.wait(timeout=10)

    def restart(self) -> None:
        """Start the service again on the same data root (a new port: a new client)."""
        self.service = start_service(self.data_dir, extra_env=ENV)
        self.api = Api(self.service)


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    root = temp_root()
    data_dir = root / "data"
    service = start_service(data_dir, extra_env=ENV)
    running = Live(root, service, Api(service))
    try:
        yield running
    finally:
        stop_service(running.service)
        kill_leftovers(data_dir)  # an orphan of a failed test: never left running
        destroy_servers(data_dir)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def master(live: Live) -> str:
    code = live.api.create_master(name="robust-source")
    live.api.wait_status([code], "running")
    with connect(live.api, code, "postgres") as conn:
        conn.execute("create database robust")
    with connect(live.api, code) as conn:
        conn.execute("create table t (id int primary key, pad text)")
        conn.execute("insert into t select i, repeat('x', 200) from generate_series(1, 20000) i")
    return code


# --- helpers --------------------------------------------------------------------------------------------
def connect(api: Api, code: str, dbname: str = "robust") -> psycopg.Connection[Any]:
    net = api.instance(code).DBInstanceNetInfo[0]
    return psycopg.connect(host=net.Address, port=net.Port, user=ADMIN_NAME, password=ADMIN_PASSWORD,
                           dbname=dbname, autocommit=True, connect_timeout=10)


def _commands() -> Iterator[tuple[int, list[str]]]:
    """(pid, argv) of every process in ``/proc``."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            yield int(entry.name), [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def pgbackrest_pids(command: str, *needles: str) -> list[int]:
    """The ``pgbackrest <command>`` processes (not their ``runuser`` parents) whose argv holds each of
    ``needles`` inside an argument."""
    return [pid for pid, argv in _commands()
            if argv and os.path.basename(argv[0]) == "pgbackrest" and command in argv
            and all(any(needle in word for word in argv) for needle in needles)]


def kill_leftovers(data_dir: Path) -> None:
    """SIGKILL the process group of every pgBackRest command (and its ``runuser``) working for ``data_dir``."""
    own = os.getpgrp()
    for pid, argv in _commands():
        if any(os.path.basename(a) == "pgbackrest" for a in argv[:6]) and any(str(data_dir) in a for a in argv):
            with suppress(ProcessLookupError):
                group = os.getpgid(pid)
                if group != own:
                    os.killpg(group, signal.SIGKILL)


def pgbackrest(live: Live, *args: str, stanza: str | None = None, passfile: Path | None = None
               ) -> subprocess.CompletedProcess[str]:
    """pgBackRest as the engine runs it (`openrds.engine.local.pgbackrest.PgBackRest.run`): the global file
    and the per-stanza include directory, as the servers' OS user, ``PGPASSFILE`` for what connects."""
    argv = ["pgbackrest", f"--config={live.backup_root / 'pgbackrest.conf'}",
            f"--config-include-path={live.backup_root / 'conf.d'}"]
    if stanza is not None:
        argv.append(f"--stanza={stanza}")
    argv += list(args)
    if os.geteuid() == 0:
        argv = ["runuser", "-u", SERVER_USER, "--", *argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}
    if passfile is not None:
        env["PGPASSFILE"] = str(passfile)
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd="/", timeout=120, check=False)


def check_stanza(live: Live, code: str) -> None:
    """``pgbackrest check`` of ``code``'s stanza passes (a WAL switch archived into the repository)."""
    done = pgbackrest(live, "check", stanza=code,
                      passfile=live.data_dir / "instances" / code / SUPERUSER_PASSFILE)
    assert done.returncode == 0, f"pgbackrest check of {code} failed:\n{done.stdout}\n{done.stderr}"


def info(live: Live, code: str | None = None) -> list[dict[str, Any]]:
    done = pgbackrest(live, "info", "--output=json", stanza=code)
    assert done.returncode == 0, done.stderr
    parsed: list[dict[str, Any]] = json.loads(done.stdout)
    return parsed


def sets_of(live: Live, code: str, backup_id: str) -> list[dict[str, Any]]:
    return [b for s in info(live, code) for b in s.get("backup") or ()
            if (b.get("annotation") or {}).get("openrds-backup-id") == backup_id]


def listed(api: Api, backup_id: str) -> dict[str, Any]:
    page = api.send("DescribeBaseBackups", {"Filters": [{"Name": "base-backup-id", "Values": [backup_id]}]})
    found: dict[str, Any] = json.loads(page.to_json_string())["BaseBackupSet"][0]
    return found


def stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[-1].split()[0] == b"T"
    except (OSError, IndexError):
        return False


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """``pid`` stopped with SIGSTOP inside the block, continued after it. Its ``runuser`` parent (the
    service runs as root) stops itself when it sees its child stop, and continues the child when it is
    continued: it is awaited stopped first, so that no stop of its own is left pending after the block."""
    parent = int(Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[-1].split()[1])
    via_runuser = _pgid(parent) == _pgid(pid)
    os.kill(pid, signal.SIGSTOP)
    if via_runuser:
        wait_for(lambda: stopped(parent), 10, f"runuser {parent} to stop with its child", interval=0.01)
    try:
        yield
    finally:
        with suppress(ProcessLookupError):
            os.killpg(os.getpgid(parent if via_runuser else pid), signal.SIGCONT)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def metric(live: Live, name: str, code: str) -> float | None:
    text = httpx.get(f"{live.service.metrics_url}/metrics", timeout=10).text
    match = re.search(rf'^{name}{{[^}}]*instance_id="{code}"[^}}]*}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


def fill_a_segment(conn: psycopg.Connection[Any], first_id: int) -> None:
    """Write more than a WAL segment (16 MB) as the admin account can (it may not ``pg_switch_wal``)."""
    conn.execute("insert into t select i, repeat(md5(i::text), 8) from generate_series(%s, %s) i",
                 (first_id, first_id + 59999))


def clone_from_set(api: Api, code: str, backup_id: str, name: str) -> str:
    source = api.instance(code)
    created = api.send("CloneDBInstance", {
        "DBInstanceId": code, "SpecCode": SPEC, "Storage": 20, "Period": 1, "AutoRenewFlag": 0,
        "VpcId": source.VpcId, "SubnetId": source.SubnetId, "InstanceChargeType": "POSTPAID_BY_HOUR",
        "Name": name, "BackupSetId": backup_id,
    })
    new: str = created.DBInstanceId
    return new


# --- kill -9 during a backup ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def killed_backup(live: Live, master: str) -> str:
    """A manual backup whose job's service was killed while its ``pgbackrest backup`` ran; its id."""
    backup_id: str = live.api.send("CreateBaseBackup", {"DBInstanceId": master}).BaseBackupId
    pid = wait_for(lambda: next(iter(pgbackrest_pids("backup", f"--stanza={master}")), None), 30,
                   f"the pgbackrest backup of {master} to start", interval=0.01)
    with frozen(pid):
        live.kill()
        # The kill landed mid-work: the set is not in the repository yet.
        assert sets_of(live, master, backup_id) == []
    live.restart()
    return backup_id


def test_a_backup_killed_with_the_service_ends_finished_and_the_stanza_checks(
    live: Live, master: str, killed_backup: str
) -> None:
    def settled() -> dict[str, Any] | None:
        found = listed(live.api, killed_backup)
        return found if found["State"] in ("finished", "failed") else None

    found = wait_for(settled, 120, f"backup {killed_backup} to end after the restart")
    assert found["State"] == "finished", (found, live.service.log()[-3000:])
    assert found["Size"] > 0 and found["FinishTime"]
    made = sets_of(live, master, killed_backup)
    assert len(made) == 1 and not made[0]["error"], made  # one set, complete, not a second one
    assert found["Size"] == made[0]["info"]["repository"]["delta"]
    wait_for(lambda: not pgbackrest_pids("backup", f"--stanza={master}"), 60,
             "the killed run's pgbackrest backup to be gone")
    check_stanza(live, master)


# --- kill -9 during a clone's restore --------------------------------------------------------------------
def test_a_clone_killed_with_the_service_resumes_and_leaves_nothing_behind(
    live: Live, master: str, killed_backup: str
) -> None:
    wait_for(lambda: listed(live.api, killed_backup)["State"] == "finished", 120, "the backup to finish")
    with connect(live.api, master) as conn:
        rows_in_set = conn.execute("select count(*) from t").fetchone()[0]  # type: ignore[index]
        conn.execute("insert into t select i, 'after' from generate_series(100001, 100010) i")  # not in the set
    new = clone_from_set(live.api, master, killed_backup, "robust-clone")
    pid = wait_for(lambda: next(iter(pgbackrest_pids("restore", f"/instances/{new}/")), None), 60,
                   f"the pgbackrest restore of {new} to start", interval=0.01)
    with frozen(pid):
        # The killed run's restore outlives the service (its own session); frozen, it stands for a restore
        # of a large database, still writing into the clone's directory when the job resumes.
        live.kill()
        live.restart()
        live.api.wait_status([new], "running", timeout=120)
        assert not alive(pid), "the killed run's pgbackrest restore was left running beside the new one"
    with connect(live.api, new) as conn:
        assert conn.execute("select count(*) from t").fetchone()[0] == rows_in_set  # type: ignore[index]
    assert not pgbackrest_pids("restore", f"/instances/{new}/"), "a restore of the clone is still running"
    check_stanza(live, new)
    check_stanza(live, master)


def test_a_clone_killed_with_the_service_that_then_fails_leaves_nothing_behind(
    live: Live, master: str, killed_backup: str
) -> None:
    """Killed mid-restore; before the restart the set became unreadable: the resumed job fails, and no
    process, directory, port or stanza of the clone is left."""
    label = listed_label(live, master, killed_backup)
    new = clone_from_set(live.api, master, killed_backup, "robust-failed-clone")
    pid = wait_for(lambda: next(iter(pgbackrest_pids("restore", f"/instances/{new}/")), None), 60,
                   f"the pgbackrest restore of {new} to start", interval=0.01)
    port = json.loads((live.data_dir / "instances" / new / "server.json").read_text())["port"]
    backup_set = live.backup_root / "repo" / "backup" / master / label
    mode = backup_set.stat().st_mode & 0o7777
    with frozen(pid):
        live.kill()
        backup_set.chmod(0)  # the servers' OS user can no longer read the set
        try:
            live.restart()
            wait_for(lambda: live.api.instance(new).DBInstanceStatus == "offline", 120,
                     f"the clone {new} to fail")
        finally:
            backup_set.chmod(mode)
        assert not alive(pid), "the killed run's pgbackrest restore was left running"
    assert "restore" in live.api.failure(new)
    assert not pgbackrest_pids("restore", f"/instances/{new}/")
    assert not [p for p, argv in _commands() if any(f"/instances/{new}/" in a for a in argv)], "a process is left"
    assert not (live.data_dir / "instances" / new).exists()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on the clone's port {port}"
    assert [s for s in info(live) if s["name"] == new] == []
    assert not (live.backup_root / "conf.d" / f"{new}.conf").exists()
    check_stanza(live, master)


def listed_label(live: Live, code: str, backup_id: str) -> str:
    wait_for(lambda: listed(live.api, backup_id)["State"] == "finished", 120, f"backup {backup_id} to finish")
    label: str = sets_of(live, code, backup_id)[0]["label"]
    return label


# --- a failing archive-push ------------------------------------------------------------------------------
def test_a_failing_archive_push_is_seen_within_a_minute_and_clears_after_the_repair(
    live: Live, master: str
) -> None:
    archive = live.backup_root / "repo" / "archive" / master
    mode = archive.stat().st_mode & 0o7777
    wait_for(lambda: metric(live, "openrds_backup_archive_failing", master) == 0.0, 30,
             f"{master} to be watched, archiving fine")
    try:
        archive.chmod(0)  # the servers' OS user can no longer reach the stanza's archive
        broken = time.monotonic()
        with connect(live.api, master) as conn:
            fill_a_segment(conn, 200000)  # a full segment that archive-push cannot store
            wait_for(lambda: metric(live, "openrds_backup_archive_failing", master) == 1.0, 60,
                     "openrds_backup_archive_failing to turn 1")
            seen_after = time.monotonic() - broken
            # The primary keeps accepting writes while its WAL cannot be archived.
            conn.execute("insert into t values (300000, 'still writable')")
            assert conn.execute("select count(*) from t where id = 300000").fetchone()[0] == 1  # type: ignore[index]
        assert seen_after < 60
        assert "WAL archiving fails" in live.service.log()
        assert (metric(live, "openrds_backup_archive_failures_total", master) or 0) >= 1
    finally:
        archive.chmod(mode)
    with connect(live.api, master) as conn:
        fill_a_segment(conn, 400000)  # a new segment wakes the archiver, which retries the old one first
    wait_for(lambda: metric(live, "openrds_backup_archive_failing", master) == 0.0, 60,
             "openrds_backup_archive_failing to clear after the repair")
    assert "WAL archiving works again" in live.service.log()
    check_stanza(live, master)


# --- the repository's disk -------------------------------------------------------------------------------
def repo_bytes(live: Live, under: str) -> int:
    done = pgbackrest(live, "repo-ls", "--recurse", "--output=json", under)
    assert done.returncode == 0, done.stderr
    return sum(int(e.get("size", 0)) for e in json.loads(done.stdout).values() if e.get("type") == "file")


def test_the_overview_matches_what_pgbackrest_reports(live: Live, master: str, killed_backup: str) -> None:
    wait_for(lambda: listed(live.api, killed_backup)["State"] == "finished", 120, "the backup to finish")
    stanzas = [s["name"] for s in info(live)]
    manual = [b for s in info(live) for b in s.get("backup") or ()
              if (b.get("annotation") or {}).get("kind") == "manual" and not b["error"]]
    overview = live.api.call("DescribeBackupOverview", {})
    assert overview["ManualBaseBackupCount"] == len(manual)
    assert overview["ManualBaseBackupSize"] == sum(b["info"]["repository"]["delta"] for b in manual)
    assert overview["AutoBaseBackupCount"] == 0
    used = overview["ManualBaseBackupSize"] + overview["LogBackupSize"]
    # Counted, not charged: the purchased storage of the live primaries is the free allowance.
    assert overview["UsedFreeSize"] == min(used, overview["TotalFreeSize"])
    assert overview["UsedBillingSize"] == max(0, used - overview["TotalFreeSize"])
    # The log backups share out the WAL from the oldest kept set's start: never more than the archive holds.
    assert 0 < overview["LogBackupSize"] <= sum(repo_bytes(live, f"archive/{name}") for name in stanzas)

    def metric_matches() -> bool:
        # The whole stanza (every archived segment and every set) per instance, as the schedule last read it.
        return all(
            metric(live, "openrds_backup_repository_bytes", name)
            == repo_bytes(live, f"archive/{name}") + repo_bytes(live, f"backup/{name}")
            for name in stanzas
        )

    wait_for(metric_matches, 20, "openrds_backup_repository_bytes to match repo-ls of each stanza")
