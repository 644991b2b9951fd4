"""A repository in an S3-compatible object store: moto's S3 server behind a local TLS proxy.

pgBackRest 2.45 speaks only TLS to S3, and moto's own ``--ssl`` mode closes TLS without
close_notify, which pgBackRest reads as an error; a small asyncio proxy that closes properly in front
of plain ``moto_server`` works (reference: backups-pitr.md, section 3). One primary archives into a
bucket from birth, is backed up there, and a restore of that set gives its rows back.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.engine.conftest import SMALL, admin_connect, cleanup, eventually, major, make_root, primary_request

from openrds.engine.backups import BackupType, RestoreRequest
from openrds.engine.local import LocalDriver
from openrds.engine.local.pgbackrest import Repository, S3Repository

from .conftest import need_pgbackrest, port_band

pytestmark = pytest.mark.slow

BUCKET = "openrds-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class TlsProxy:
    """TLS on ``port`` in front of plain TCP on ``backend``; closing a side sends close_notify."""

    def __init__(self, port: int, backend: int, cert: Path, key: Path) -> None:
        self.port, self.backend = port, backend
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.server: asyncio.base_events.Server | None = None

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(10), "the TLS proxy did not start"

    def stop(self) -> None:
        async def close() -> None:
            if self.server is not None:
                self.server.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                writer.close()

        async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
            backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", self.backend)
            await asyncio.gather(pipe(client_reader, backend_writer), pipe(backend_reader, client_writer))

        async def serve() -> None:
            self.server = await asyncio.start_server(handle, "127.0.0.1", self.port, ssl=self.context)
            self.ready.set()

        self.loop.run_until_complete(serve())
        self.loop.run_forever()


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    moto = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    assert Path(moto).exists(), "moto_server is missing: it is a test dependency (pip install -e '.[test]')"
    directory = tmp_path_factory.mktemp("s3")
    backend, front = free_port(), free_port()
    server = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(backend)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    proxy = TlsProxy(front, backend, *self_signed(directory))
    try:

        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{backend}/", timeout=2).status_code < 500
            except httpx.HTTPError:
                return False  # not listening yet

        eventually(answers, "moto_server to answer", timeout=60)
        assert httpx.put(f"http://127.0.0.1:{backend}/{BUCKET}", timeout=10).status_code == 200
        proxy.start()
        yield f"127.0.0.1:{front}"
    finally:
        if proxy.thread.is_alive():
            proxy.stop()
        server.terminate()
        server.wait(30)


def test_archive_backup_and_restore_through_an_s3_bucket(s3_endpoint: str) -> None:
    need_pgbackrest()
    root = make_root()
    s3 = S3Repository(s3_endpoint, BUCKET, "us-east-1", "test-key", "test-secret", verify_tls=False)
    driver = LocalDriver(root, port_range=port_band(), backup_repository=Repository(s3=s3))
    try:
        source = driver.create_primary(primary_request("s3-src"))
        with admin_connect(source) as conn:
            conn.execute("CREATE DATABASE app")
        with admin_connect(source, "app") as conn:
            conn.execute("CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 321) g")
        made = driver.backup("s3-src", "s3-full", BackupType.FULL, "manual")
        assert made.stored_bytes > 0
        stanza = driver.stanza("s3-src")
        assert stanza is not None and stanza.wal_max is not None and stanza.wal_stored_bytes > 0
        restored = driver.restore(RestoreRequest("s3-copy", "s3-src", major(), SMALL, backup_label=made.label))
        with admin_connect(restored, "app") as conn:
            row = conn.execute("SELECT count(*) FROM items").fetchone()
        assert row is not None and row[0] == 321
        listing = httpx.get(
            f"https://{s3_endpoint}/{BUCKET}?list-type=2&prefix=openrds/backup/s3-src/", verify=False, timeout=10
        )
        assert "backup.info" in listing.text  # the sets are in the bucket, not on this host
        assert not (root / "backup" / "repo").exists()
    finally:
        cleanup(driver, root)
