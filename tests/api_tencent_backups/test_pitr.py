"""Point-in-time recovery end to end: a real `openrds serve` (PostgreSQL + pgBackRest on this host), driven
through the official SDK only, one service and one master for the module.

The write burst has a clean second in it: the last transaction before the second ``B`` commits at least
0.3 s before it and the first one after at least 0.3 s after it (the client polls the server clock between
them). A clone to ``B`` must hold exactly the rows of the first phase: one transaction early or late and
the count is wrong.
"""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, SPEC, Api
from tests.support.service import RunningService, free_port, running_service, wait_for

pytestmark = pytest.mark.slow

TIME = "%Y-%m-%d %H:%M:%S"
ZONE = timedelta(hours=8)  # OPENRDS_TENCENT_TIME_ZONE below: the face reads and writes UTC+8
ROWS_BEFORE_BACKUP = 5
#: Transactions on each side of the clean second.
BURST = 40


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service({"OPENRDS_TENCENT_TIME_ZONE": "+08:00"}) as running:
        yield running


@pytest.fixture(scope="module")
def api(service: RunningService) -> Api:
    return Api(service)


@pytest.fixture(scope="module")
def master(api: Api) -> str:
    code = api.create_master(name="pitr-source")
    api.wait_status([code], "running")
    return code


def connect(api: Api, code: str, dbname: str = "pitr") -> psycopg.Connection[Any]:
    net = api.instance(code).DBInstanceNetInfo[0]
    return psycopg.connect(
        host=net.Address,
        port=net.Port,
        user=ADMIN_NAME,
        password=ADMIN_PASSWORD,
        dbname=dbname,
        autocommit=True,
        connect_timeout=10,
    )


def face_time(moment: datetime) -> str:
    return (moment.astimezone(UTC) + ZONE).strftime(TIME)


def read_face_time(text: str) -> datetime:
    return (datetime.strptime(text, TIME) - ZONE).replace(tzinfo=UTC)


def backed_up(api: Api, code: str) -> dict[str, Any]:
    backup_id = api.send("CreateBaseBackup", {"DBInstanceId": code}).BaseBackupId

    def finished() -> dict[str, Any] | None:
        page = api.send("DescribeBaseBackups", {"Filters": [{"Name": "base-backup-id", "Values": [backup_id]}]})
        found: dict[str, Any] = json.loads(page.to_json_string())["BaseBackupSet"][0]
        assert found["State"] not in ("failed", "canceled"), (found, api.service.log()[-3000:])
        return found if found["State"] == "finished" else None

    return wait_for(finished, 120, f"backup {backup_id} to finish", interval=0.2)


def clone(api: Api, code: str, name: str, **target: str) -> str:
    """Submit a clone of ``code`` (to ``RecoveryTargetTime`` or ``BackupSetId``); its new instance's id."""
    source = api.instance(code)
    created = api.send(
        "CloneDBInstance",
        {
            "DBInstanceId": code,
            "SpecCode": SPEC,
            "Storage": 20,
            "Period": 1,
            "AutoRenewFlag": 0,
            "VpcId": source.VpcId,
            "SubnetId": source.SubnetId,
            "InstanceChargeType": "POSTPAID_BY_HOUR",
            "Name": name,
            **target,
        },
    )
    new: str = created.DBInstanceId
    return new


def ids(api: Api, code: str) -> list[int]:
    with connect(api, code) as conn:
        return [row[0] for row in conn.execute("select id from burst order by id").fetchall()]


@pytest.fixture(scope="module")
def history(api: Api, master: str) -> dict[str, Any]:
    """Rows before a first backup, then the burst around the clean second ``B``, then a second backup."""
    with connect(api, master, "postgres") as conn:
        conn.execute("create database pitr")  # the admin account creates and owns its databases
    with connect(api, master) as conn:
        conn.execute("create table burst (id int primary key, at timestamptz not null default clock_timestamp())")
        for i in range(ROWS_BEFORE_BACKUP):
            conn.execute("insert into burst (id) values (%s)", (i,))
    first = backed_up(api, master)
    with connect(api, master) as conn:
        before = list(range(100, 100 + BURST))
        for i in before:
            conn.execute("insert into burst (id) values (%s)", (i,))
        # The clean second: the first whole second at least 0.3 s after the last commit of the first phase.
        last: datetime = conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]
        later = last + timedelta(seconds=0.3)
        boundary = later.replace(microsecond=0) + (timedelta(seconds=1) if later.microsecond else timedelta())

        def past_boundary() -> bool:
            clock: datetime = conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]
            return bool(clock >= boundary + timedelta(seconds=0.3))

        wait_for(past_boundary, 10, "the server clock to pass the clean second", interval=0.05)
        after = list(range(1000, 1000 + BURST))
        for i in after:
            conn.execute("insert into burst (id) values (%s)", (i,))
    second = backed_up(api, master)
    return {"first": first, "second": second, "boundary": boundary, "before": before, "after": after}


def test_the_recovery_window_covers_the_burst(api: Api, master: str, history: dict[str, Any]) -> None:
    window = api.send("DescribeAvailableRecoveryTime", {"DBInstanceId": master})
    begin, end = read_face_time(window.RecoveryBeginTime), read_face_time(window.RecoveryEndTime)
    assert begin <= read_face_time(history["first"]["FinishTime"]) + timedelta(seconds=1)
    assert end >= history["boundary"] + timedelta(seconds=1)
    assert end <= datetime.now(UTC) + timedelta(seconds=1)


def test_a_manual_backup_is_finished_with_its_size(history: dict[str, Any]) -> None:
    for backup in (history["first"], history["second"]):
        assert backup["Size"] > 0 and backup["BackupMode"] == "manual" and backup["BackupMethod"] == "physical"


def test_a_downloaded_backup_is_a_data_directory_that_recovers_alone(
    api: Api, master: str, history: dict[str, Any]
) -> None:
    params = {"DBInstanceId": master, "BackupType": "BaseBackup", "BackupId": history["first"]["Id"]}
    url = api.send("DescribeBackupDownloadURL", params).BackupDownloadURL
    reply = httpx.get(url, timeout=120)
    assert reply.status_code == 200, reply.text
    with tarfile.open(fileobj=io.BytesIO(reply.content)) as tar:
        names = set(tar.getnames())
        auto = tar.extractfile("./postgresql.auto.conf").read().decode()  # type: ignore[union-attr]
    assert {"./backup_label", "./PG_VERSION", "./global/pg_control"} <= names
    assert any(n.startswith("./pg_wal/0000") for n in names), "the WAL the set needs is in the copy"
    assert "./recovery.signal" not in names and "restore_command" not in auto
    assert "archive_mode='off'" in auto.replace(" ", "")
    assert started_copy_rows(reply.content) == list(range(ROWS_BEFORE_BACKUP))


def started_copy_rows(archive: bytes) -> list[int]:
    """Extract the tar, start PostgreSQL on it (its own port and socket directory, as the ``postgres`` OS
    user when run as root), read the rows, stop it: the copy recovers with no repository at hand."""
    root = Path(tempfile.mkdtemp(prefix="ordx-"))
    data = root / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    pg_ctl = str(Path(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")[-1]))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(data, filter="data")
        data.chmod(0o700)
        if as_postgres:
            shutil.chown(root, "postgres")
            subprocess.run(["chown", "-R", "postgres:", str(root)], check=True, timeout=60)
        port = free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c archive_mode=off"
        started = subprocess.run(
            [*as_postgres, pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "120", "start"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert started.returncode == 0, started.stdout + started.stderr + (root / "log").read_text(errors="replace")
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=ADMIN_NAME, password=ADMIN_PASSWORD, dbname="pitr", connect_timeout=10
            ) as conn:
                return [row[0] for row in conn.execute("select id from burst order by id").fetchall()]
        finally:
            subprocess.run(
                [*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=120,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def clones(api: Api, master: str, history: dict[str, Any]) -> dict[str, str]:
    """Both clones: to the clean second, and from the first backup set. One after the other: two restores
    of one stanza at once race in pgBackRest's spool (see the report of issue 16)."""
    second = clone(api, master, "pitr-second", RecoveryTargetTime=face_time(history["boundary"]))
    api.wait_status([second], "running", timeout=180)
    from_set = clone(api, master, "pitr-set", BackupSetId=history["first"]["Id"])
    api.wait_status([from_set], "running", timeout=180)
    return {"second": second, "set": from_set}


def test_clone_to_a_second_has_exactly_the_rows_committed_before_it(
    api: Api, history: dict[str, Any], clones: dict[str, str]
) -> None:
    assert ids(api, clones["second"]) == list(range(ROWS_BEFORE_BACKUP)) + history["before"]
    with connect(api, clones["second"]) as conn:  # a primary of its own: it takes writes
        conn.execute("insert into burst (id) values (-1)")


def test_clone_from_a_backup_set_has_the_rows_of_the_set(api: Api, clones: dict[str, str]) -> None:
    assert ids(api, clones["set"]) == list(range(ROWS_BEFORE_BACKUP))
