"""One backup set of the host's repository as a tar a user can start anywhere (``engine.backups.BackupExport``).

``pgbackrest restore --set=<label> --type=immediate --archive-mode=off`` into a private scratch
directory (``<data root>/exports/<random>/data``), the WAL the set needs fetched into its ``pg_wal``
(``archive-get`` of every segment from the set's first to its last), and the recovery settings
pgBackRest wrote removed: ``tar -x`` then ``pg_ctl start`` replays those segments from ``backup_label``
and opens the database as of the set's end, with no repository at hand, like a ``pg_basebackup -X fetch``
copy. ``archive_mode=off`` stays in ``postgresql.auto.conf``, so a copy started on this host never
pushes into its source's stanza. The tar is streamed from ``tar -c`` as it is produced; the scratch
directory is removed when the stream ends or is closed.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from openrds.engine.driver import EngineError
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.pgbackrest import RESTORE_TIMEOUT, PgBackRest, backup_set

CHUNK = 1024 * 1024
#: The recovery settings ``restore`` appends; the export recovers from ``backup_label`` alone.
_RECOVERY_SETTINGS = ("restore_command", "recovery_target", "recovery_target_action")
_SEGMENTS_PER_LOG = 0x100


def segments(first: str, last: str) -> list[str]:
    """The 16 MB WAL segment names from ``first`` to ``last`` of one timeline, both included."""
    timeline = first[:8]
    start = int(first[8:16], 16) * _SEGMENTS_PER_LOG + int(first[16:24], 16)
    stop = int(last[8:16], 16) * _SEGMENTS_PER_LOG + int(last[16:24], 16)
    return [f"{timeline}{n // _SEGMENTS_PER_LOG:08X}{n % _SEGMENTS_PER_LOG:08X}" for n in range(start, stop + 1)]


def export_set(tool: PgBackRest, os_user: OsUser, data_root: Path, instance_id: str, label: str) -> Iterator[bytes]:
    """The set ``label`` of ``instance_id``'s stanza as an uncompressed tar, in chunks (see the module
    docstring). Nothing is restored before the first chunk is asked for.

    :raises EngineError: (``export``) the stanza has no such set, or the restore, a WAL fetch or ``tar`` failed.
    """
    found = tool.info(instance_id)
    sets = [backup_set(raw) for raw in (found[0].get("backup") or ()) if not raw.get("error")] if found else []
    chosen = next((s for s in sets if s.label == label), None)
    if chosen is None:
        raise EngineError("export", f"the repository holds no backup set {label} of {instance_id}")
    exports = os_user.mkdir(data_root / "exports")
    work = os_user.mkdir(exports / secrets.token_hex(8))
    try:
        data = work / "data"
        tool.run(
            "restore",
            f"--pg1-path={data}",
            f"--set={label}",
            "--type=immediate",
            "--archive-mode=off",
            stanza=instance_id,
            step="export",
            timeout=RESTORE_TIMEOUT,
        )
        for segment in segments(chosen.wal_start, chosen.wal_stop):
            tool.run(
                "archive-get", stanza=instance_id, step="export", arguments=[segment, str(data / "pg_wal" / segment)]
            )
        (data / "recovery.signal").unlink(missing_ok=True)
        auto = data / "postgresql.auto.conf"
        kept = [
            line for line in auto.read_text().splitlines() if line.split("=", 1)[0].strip() not in _RECOVERY_SETTINGS
        ]
        auto.write_text("\n".join(kept) + "\n")
        yield from _tar(data)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tar(directory: Path) -> Iterator[bytes]:
    """``tar -c`` of ``directory``'s contents, streamed; the process is stopped if the reader goes away."""
    process = subprocess.Popen(
        ["tar", "-C", str(directory), "-cf", "-", "."], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        while chunk := process.stdout.read(CHUNK):
            yield chunk
        if process.wait(timeout=60) != 0:
            stderr = process.stderr.read().decode(errors="replace")[-500:] if process.stderr else ""
            raise EngineError("export", f"tar exited with code {process.returncode}", stderr)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
