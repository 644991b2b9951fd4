"""Secret files made on first use (``secret.key``, ``console.key``, ``download.key``, the backup
repository's ``repo.key``) when several processes start on one data root at once: each gets the same,
whole secret (the API workers did not: one read the file another had created but not yet written)."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from openrds.crypto import SecretBox, secret_file, signing_key


def test_a_process_arriving_while_another_writes_gets_a_whole_secret_and_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "console.key"
    writing, finish = threading.Event(), threading.Event()
    results: list[bytes] = []

    def slow() -> bytes:
        writing.set()  # the first process is between creating its secret and having written it
        assert finish.wait(10), "the second process never got its secret"
        return b"A" * 32

    first = threading.Thread(target=lambda: results.append(secret_file(path, slow)))
    first.start()
    assert writing.wait(10), "the first process never started writing"
    second = secret_file(path, lambda: b"B" * 32)  # arrives meanwhile: nothing half-written to read
    finish.set()
    first.join(10)
    assert second == b"B" * 32 and results == [second], "both processes hold the one secret on disk"
    assert path.read_bytes() == second and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["console.key"], "no temporary file is left behind"


def test_the_key_files_are_made_once_and_read_back(tmp_path: Path) -> None:
    key = signing_key(tmp_path / "download.key")
    assert len(key) == 32 and signing_key(tmp_path / "download.key") == key
    box = SecretBox.from_key_file(tmp_path / "secret.key")
    assert SecretBox.from_key_file(tmp_path / "secret.key").open(box.seal("s3cret")) == "s3cret"
