"""Fixtures for the control-plane tests: temporary directories, a throwaway PostgreSQL server, and a
fresh metadata store on each backend (SQLite and PostgreSQL) brought to head by Alembic.

Everything started here is stopped and everything created is removed, pass or fail.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# `tests.support` lives at the repository root, which pytest does not put on sys.path by itself.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support.service import free_port, wait_for  # noqa: E402

from openrds.persistence.db import open_engine, upgrade  # noqa: E402
from openrds.persistence.uow import Store  # noqa: E402

PG_USER = "ordt"
PG_DATABASE = "ordt"
PG_START_TIMEOUT = 60


def make_temp_dir() -> Path:
    # Short paths: unix socket paths are limited to 107 bytes.
    return Path(tempfile.mkdtemp(prefix="ordt-"))


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A temporary directory removed after the test (unlike tmp_path, which pytest keeps)."""
    path = make_temp_dir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- a throwaway PostgreSQL server ---------------------------------------------------------------
def _has_server(bindir: str) -> bool:
    return all(os.access(os.path.join(bindir, name), os.X_OK) for name in ("initdb", "pg_ctl", "postgres"))


def find_pg_bindir() -> str:
    """The server binaries, found at run time: ``pg_config --bindir`` first, then Debian's layout."""
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False)
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(done.stdout.strip())

    def major(path: str) -> int:
        name = Path(path).parent.name
        return int(name) if name.isdigit() else -1

    candidates.extend(sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True))
    for bindir in candidates:
        if _has_server(bindir):
            return bindir
    raise RuntimeError(f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) found in {candidates}")


@dataclass
class PostgresServer:
    bindir: str
    root: Path
    port: int
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def run(self, *argv: str, timeout: float = PG_START_TIMEOUT) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        done = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stdout}\n{done.stderr}")
        return done

    def admin_sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=PG_USER, dbname=database,
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)


def _start_postgres() -> PostgresServer:
    bindir = find_pg_bindir()
    root = make_temp_dir()
    as_postgres = os.geteuid() == 0
    server = PostgresServer(bindir, root, free_port(), as_postgres)
    server.socket_dir.mkdir()
    if as_postgres:
        # initdb refuses to run as root: the server runs as `postgres`, which must own its directory.
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(server.socket_dir, "postgres", "postgres")
        os.chmod(root, 0o700)
    try:
        # trust over loopback: a throwaway server for the metadata-store tests, gone after the session.
        server.run(os.path.join(bindir, "initdb"), "-D", str(server.data), "-U", PG_USER, "--auth=trust",
                   "-E", "UTF8", "--no-sync")
        options = (f"-p {server.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={server.socket_dir}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        server.run(os.path.join(bindir, "pg_ctl"), "start", "-w", "-t", str(PG_START_TIMEOUT), "-D", str(server.data),
                   "-l", str(root / "server.log"), "-o", options)
        wait_for(lambda: server.admin_sql("SELECT 1") or True, 30, f"PostgreSQL to accept connections on {server.port}")
        server.admin_sql(f'CREATE DATABASE "{PG_DATABASE}"')
    except BaseException:
        _stop_postgres(server)
        raise
    return server


def _stop_postgres(server: PostgresServer) -> None:
    try:
        if (server.data / "postmaster.pid").exists():
            server.run(os.path.join(server.bindir, "pg_ctl"), "stop", "-m", "immediate", "-w", "-D", str(server.data))
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = _start_postgres()
    try:
        yield server
    finally:
        _stop_postgres(server)


@contextmanager
def postgres_schema(server: PostgresServer) -> Iterator[str]:
    """A fresh, empty schema on ``server`` (first on the connection's search_path), dropped at the end.

    A schema rather than a database: CREATE DATABASE costs a checkpoint, a schema costs nothing, and
    to the store and Alembic the two look the same.
    """
    schema = "t_" + uuid.uuid4().hex[:12]
    server.admin_sql(f'CREATE SCHEMA "{schema}"', PG_DATABASE)
    try:
        yield server.url(PG_DATABASE) + f"?options=-csearch_path%3D{schema}"
    finally:
        server.admin_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', PG_DATABASE)


# --- the metadata store on each backend ----------------------------------------------------------
BACKENDS = ["sqlite", "postgresql"]


@dataclass
class Backend:
    name: str  # "sqlite" | "postgresql"
    url: str
    sqlite_file: Path | None  # the database file, on SQLite


@contextmanager
def empty_backend(name: str, request: pytest.FixtureRequest) -> Iterator[Backend]:
    """An empty database (no schema yet) on backend ``name``, removed at the end."""
    if name == "sqlite":
        root = make_temp_dir()
        try:
            path = root / "meta" / "openrds.db"
            yield Backend("sqlite", f"sqlite:///{path}", path)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    else:
        with postgres_schema(request.getfixturevalue("postgres_server")) as url:
            yield Backend("postgresql", url, None)


@contextmanager
def store_at_head(backend: Backend) -> Iterator[Store]:
    engine = open_engine(backend.url)
    upgrade(engine)
    store = Store(engine)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """An empty database on each backend (no schema yet)."""
    with empty_backend(request.param, request) as found:
        yield found


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """A store at schema head on each backend."""
    with store_at_head(backend) as opened:
        yield opened


@pytest.fixture(scope="module", params=BACKENDS)
def module_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A store at schema head on each backend, shared by the tests of one module (read-only use)."""
    with empty_backend(request.param, request) as found, store_at_head(found) as opened:
        yield opened
