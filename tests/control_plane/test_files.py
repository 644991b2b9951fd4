"""The data root is private to the service: run as root (servers then run as ``postgres``), the
servers' OS user can read no file of the service's - the metadata store with its scrypt hashes and
sealed API secrets, the key that unseals them, the console's key, the first tenant's credentials -
nor list the root, yet still reaches its servers' directories below it."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from tests.support.service import destroy_servers, start_service, stop_service, temp_root, wait_for

from openrds.services.bootstrap import CREDENTIALS_FILE


def _has_postgres_user() -> bool:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not _has_postgres_user(),
                                reason="needs root, with servers run as the postgres OS user")

#: Every file of the service in its data root.
PRIVATE = ("openrds.db", "openrds.db-wal", "openrds.db-shm", "secret.key", "console.key", CREDENTIALS_FILE,
           ".ports.lock")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def as_postgres(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, timeout=30,
                          cwd="/")


def test_the_servers_os_user_reads_no_file_of_the_service() -> None:
    root = temp_root()
    data_dir = root / "data"
    # A data root as an earlier version left it: listable by all, a file readable by all.
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    (data_dir / ".ports.lock").write_bytes(b"")
    os.chmod(data_dir / ".ports.lock", 0o644)
    service = start_service(data_dir)
    try:
        wait_for(lambda: all((data_dir / name).exists() for name in PRIVATE), 30, f"the service to make {PRIVATE}")
        # Traverse only (o+x): the postgres account runs servers below it, in instances/.
        assert mode(data_dir) == 0o701
        assert {name: oct(mode(data_dir / name)) for name in PRIVATE} == {name: "0o600" for name in PRIVATE}
        for name in ("openrds.db", "openrds.db-wal", "secret.key"):
            denied = as_postgres("cat", str(data_dir / name))
            assert denied.returncode != 0 and "Permission denied" in denied.stderr, (name, denied)
        listing = as_postgres("ls", str(data_dir))
        assert listing.returncode != 0 and "Permission denied" in listing.stderr, listing
        reach = as_postgres("ls", str(data_dir / "instances"))
        assert reach.returncode == 0, reach
        log = service.log()
        assert f"tightened {data_dir} from 0755 to 0701" in log, log
        assert f"tightened {data_dir / '.ports.lock'} from 0644 to 0600" in log, log
    finally:
        stop_service(service)
        destroy_servers(data_dir)
        shutil.rmtree(root, ignore_errors=True)
