"""The pgBackRest wrapper's pure parts: reading ``info --output=json``, restore options, WAL names,
the configuration it writes and the S3 key file it accepts. No server, no pgBackRest run."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from openrds.engine.backups import BackupType
from openrds.engine.driver import EngineError
from openrds.engine.local.backups import restore_failure, segment_number
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.pgbackrest import (
    PgBackRest,
    Repository,
    S3Repository,
    read_key_file,
    restore_options,
    stanza_info,
    time_target,
)
from openrds.engine.local.process import Masker, Runner

# Trimmed from a real `pgbackrest info --output=json` (reference, section 1).
INFO = {
    "name": "db1",
    "status": {"code": 0, "message": "ok"},
    "db": [{"id": 1, "system-id": 7716323551886373207, "version": "15"}],
    "archive": [{"id": "15-1", "min": "000000010000000000000043", "max": "0000000100000000000000F3"}],
    "backup": [
        {
            "label": "20261206-230007F",
            "type": "full",
            "prior": None,
            "error": False,
            "annotation": {"openrds-backup-id": "bk-1", "kind": "auto"},
            "timestamp": {"start": 1796598007, "stop": 1796598012},
            "archive": {"start": "000000010000000000000050", "stop": "000000010000000000000051"},
            "info": {"size": 1058928335, "delta": 1058928335, "repository": {"size": 44000000, "delta": 44000000}},
        },
        {
            "label": "20261206-230007F_20261206-230020D",
            "type": "diff",
            "prior": "20261206-230007F",
            "error": False,
            "annotation": {"kind": "manual"},
            "timestamp": {"start": 1796598020, "stop": 1796598024},
            "archive": {"start": "000000010000000000000056", "stop": "000000010000000000000057"},
            "info": {"size": 1058928335, "delta": 1037746444, "repository": {"size": 64586381, "delta": 62052535}},
        },
        {
            "label": "20261206-230107F",
            "type": "full",
            "prior": None,
            "error": True,
            "timestamp": {"start": 1796598067, "stop": 1796598070},
            "info": {"size": 1, "delta": 1, "repository": {"delta": 1}},
        },
    ],
}


def test_info_becomes_a_stanza_with_its_sets_oldest_first_and_errored_sets_left_out() -> None:
    stanza = stanza_info(INFO, {"db1": (3_000_000, 106_052_535)})
    assert [b.label for b in stanza.backups] == ["20261206-230007F", "20261206-230007F_20261206-230020D"]
    full, diff = stanza.backups
    assert (full.backup_id, full.type, full.annotations["kind"]) == ("bk-1", BackupType.FULL, "auto")
    assert (diff.backup_id, diff.type, diff.prior) == (None, BackupType.DIFF, "20261206-230007F")
    assert diff.started_at == datetime(2026, 12, 6, 23, 0, 20, tzinfo=UTC)
    assert (diff.database_bytes, diff.stored_bytes) == (1058928335, 62052535)  # its own files: the delta
    assert (diff.wal_start, diff.wal_stop) == ("000000010000000000000056", "000000010000000000000057")
    assert (stanza.wal_min, stanza.wal_max) == ("000000010000000000000043", "0000000100000000000000F3")
    assert (stanza.wal_stored_bytes, stanza.stored_bytes) == (3_000_000, 109_052_535)


def test_wal_names_give_timeline_and_segment_and_other_files_none() -> None:
    assert segment_number("0000000100000002000000FF") == (1, 0x2FF)
    assert segment_number("000000020000000000000003.partial") == (2, 3)
    assert segment_number("000000010000000000000002.00000028.backup") == (1, 2)
    assert segment_number("00000002.history") is None
    assert segment_number(None) is None


def test_restore_options_to_a_set_or_an_instant_in_utc() -> None:
    data = Path("/d")
    assert list(restore_options(data, backup_label="20261206-230007F", target_time=None)) == [
        "--pg1-path=/d",
        "--target-action=promote",
        "--set=20261206-230007F",
        "--type=immediate",
    ]
    shanghai = datetime(2026, 12, 7, 7, 0, 46, 762007, tzinfo=timezone(timedelta(hours=8)))
    assert time_target(shanghai) == "2026-12-06 23:00:46.762007+00"
    options = restore_options(data, backup_label=None, target_time=shanghai, base_label="20261206-230007F")
    assert "--target=2026-12-06 23:00:46.762007+00" in options and "--set=20261206-230007F" in options
    with pytest.raises(EngineError):
        restore_options(data, backup_label="x", target_time=shanghai)
    with pytest.raises(EngineError):
        time_target(datetime(2026, 12, 7))  # naive: which zone?


def test_a_target_not_reached_is_named_as_such() -> None:
    failed = restore_failure("r1", "FATAL:  recovery ended before configured recovery target was reached")
    assert "after the last archived commit" in failed.detail and not failed.transient
    assert "stopped during recovery" in restore_failure("r1", "FATAL:  something else").detail


def test_global_config_holds_the_passphrase_and_s3_keys_0600_and_errors_mask_them(tmp_path: Path) -> None:
    user = OsUser.resolve(None)
    masker = Masker()
    s3 = S3Repository("127.0.0.1:9000", "pgbr", "us-east-1", "AKIDKEY", "s3-secret-value", verify_tls=False)
    tool = PgBackRest(
        tmp_path / "backup",
        Repository(s3=s3),
        os_user=user,
        runner=Runner(user, masker),
        masker=masker,
        socket_dir=tmp_path / "run",
        user="openrds",
    )
    tool.prepare()
    text = tool.config.read_text()
    passphrase = tool.key_file.read_text().strip()
    assert len(passphrase) >= 64 and f"repo1-cipher-pass={passphrase}" in text
    assert "repo1-cipher-type=aes-256-cbc" in text and "compress-type=zst" in text
    assert "repo1-type=s3" in text and "repo1-storage-port=9000" in text and "repo1-storage-verify-tls=n" in text
    assert "repo1-path=/openrds" in text and "repo1-bundle=y" in text
    for path in (tool.config, tool.key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tool.prepare()
    assert tool.key_file.read_text().strip() == passphrase  # generated once, kept
    shown = masker(f"ERROR: {passphrase} s3-secret-value")
    assert passphrase not in shown and "s3-secret-value" not in shown
    assert "'--stanza=db 1'" in tool.archive_command("db 1")  # quoted for the shell PostgreSQL runs it in


def test_the_s3_key_file_must_be_private_and_hold_two_lines(tmp_path: Path) -> None:
    keys = tmp_path / "s3.keys"
    keys.write_text("AKID\nsecret\n")
    keys.chmod(0o600)
    assert read_key_file(keys) == ("AKID", "secret")
    keys.chmod(0o644)
    with pytest.raises(EngineError, match="chmod 600"):
        read_key_file(keys)
    keys.chmod(0o600)
    keys.write_text("only-one-line\n")
    with pytest.raises(EngineError, match="one per line"):
        read_key_file(keys)


def test_the_kubernetes_driver_refuses_every_backup_method_naming_itself() -> None:
    import inspect

    from openrds.engine.backups import BackupDriver, BackupsUnsupported
    from openrds.engine.kubernetes import KubernetesDriver

    methods = [name for name, _ in inspect.getmembers(BackupDriver, inspect.isfunction) if not name.startswith("_")]
    assert len(methods) == 10
    driver = KubernetesDriver.__new__(KubernetesDriver)  # no cluster needed: nothing is asked of it
    reason = driver.backup_support()
    assert reason is not None and "kubernetes driver" in reason
    for name in methods:
        if name == "backup_support":
            continue
        arguments = [None] * (len(inspect.signature(getattr(BackupDriver, name)).parameters) - 1)
        with pytest.raises(BackupsUnsupported, match="kubernetes driver"):
            getattr(driver, name)(*arguments)


def test_restores_and_manual_archive_gets_stay_off_the_stanzas_shared_spool(tmp_path: Path) -> None:
    user = OsUser.resolve(None)
    masker = Masker()
    tool = PgBackRest(
        tmp_path / "backup",
        Repository(),
        os_user=user,
        runner=Runner(user, masker),
        masker=masker,
        socket_dir=tmp_path / "run",
        user="openrds",
    )
    (tmp_path / "new").mkdir()
    restore = tool._private_queues("restore", ["--pg1-path=" + str(tmp_path / "new" / "data"), "--type=standby"])
    assert f"--spool-path={tmp_path / 'new' / 'restore-spool'}" in restore
    assert (tmp_path / "new" / "restore-spool").is_dir()
    assert "--archive-async=n" in tool._private_queues("archive-get", [])
    chosen = ["--pg1-path=/x/data", "--spool-path=/y"]
    assert list(tool._private_queues("restore", chosen)) == chosen
    assert list(tool._private_queues("backup", ["--type=full"])) == ["--type=full"]
