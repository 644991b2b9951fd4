"""The unit of work: one transaction, the only place that commits.

    with store.write() as uow:            # BEGIN IMMEDIATE on SQLite: writers queue instead of failing
        uow.instances(tenant).add(...)
        uow.jobs.add(...)
    # committed here; rolled back if the block raised

    with store.read() as uow:             # plain BEGIN, never commits
        uow.instances(tenant).list()

A write waits for the store's lock (SQLite's one writer; a PostgreSQL row lock such as a tenant's
account) at most its *write wait*: background work (jobs, supervisor, billing rounds) has nobody
waiting on it and keeps the backend's own wait (SQLite 30 s, PostgreSQL no limit); an API request
runs inside :func:`write_wait` (``REQUEST_WRITE_WAIT``). A write that does not get the lock in time
raises :class:`openrds.domain.errors.StoreBusy`, having changed nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from openrds.domain.errors import StoreBusy
from openrds.persistence.accounts import DbAccountRepository
from openrds.persistence.backups import BackupRepositories
from openrds.persistence.db import BUSY_TIMEOUT_SECONDS
from openrds.persistence.maintenance import MaintenanceWindowRepository
from openrds.persistence.parameters import ParameterRepository
from openrds.persistence.repositories import (
    AccountRepository,
    CredentialRepository,
    EventRepository,
    GroupRepository,
    InstanceRepository,
    JobRepository,
    OrderRepository,
    QuotaRepository,
    TenantRepository,
    VoucherRepository,
)
from openrds.persistence.security_groups import SecurityGroupRepository
from openrds.persistence.version import data_version

#: How long an API request's write waits for the store's lock. Every write transaction is bounded
#: (inputs are bounded, ids resolved in batches) and holds the lock for milliseconds, so 5 s is dozens
#: of queued writers; far below the SDK's 60 s request timeout and the 30 s after which the old
#: behaviour (SQLite's busy timeout, then InternalError) let one tenant stall every other one.
REQUEST_WRITE_WAIT = 5.0
_write_wait: ContextVar[float | None] = ContextVar("openrds_write_wait", default=None)
#: Within :meth:`Store.one_version`: each store's data version as first read there (by store).
_versions_read: ContextVar[dict[Store, object] | None] = ContextVar("openrds_versions_read", default=None)
#: SQLite's result codes for "another connection holds the lock" (the low byte of extended codes).
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_UNREAD = object()  # no version read yet within this one_version block
#: PostgreSQL's SQLSTATE for lock_timeout expiring (lock_not_available).
_PG_LOCK_NOT_AVAILABLE = "55P03"
_SET_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :timeout, true)")


@contextmanager
def write_wait(seconds: float) -> Iterator[None]:
    """Writes begun in this context wait at most ``seconds`` for the store's lock. A context variable:
    it follows the request into the worker thread that runs its handler (anyio copies the context),
    and never into threads the service starts for background work."""
    token = _write_wait.set(seconds)
    try:
        yield
    finally:
        _write_wait.reset(token)


def _lock_not_had(error: DBAPIError) -> bool:
    """The statement gave up waiting for another transaction's lock (SQLite busy/locked, PostgreSQL
    lock_timeout), as opposed to any other database failure."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return getattr(error.orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.tenants = TenantRepository(session)
        self.credentials = CredentialRepository(session)
        self.jobs = JobRepository(session)
        self.events = EventRepository(session)

    def instances(self, tenant_id: str | None) -> InstanceRepository:
        """Tenant-scoped; ``None`` only for system components (jobs, supervisor)."""
        return InstanceRepository(self.session, tenant_id)

    def groups(self, tenant_id: str | None) -> GroupRepository:
        return GroupRepository(self.session, tenant_id)

    def orders(self, tenant_id: str) -> OrderRepository:
        return OrderRepository(self.session, tenant_id)

    def account(self, tenant_id: str) -> AccountRepository:
        """The tenant's balance and ledger."""
        return AccountRepository(self.session, tenant_id)

    def vouchers(self, tenant_id: str) -> VoucherRepository:
        return VoucherRepository(self.session, tenant_id)

    def quotas(self, tenant_id: str) -> QuotaRepository:
        """The tenant's quota overrides and usage."""
        return QuotaRepository(self.session, tenant_id)

    def maintenance_windows(self, tenant_id: str) -> MaintenanceWindowRepository:
        """The tenant's instances' maintenance windows."""
        return MaintenanceWindowRepository(self.session, tenant_id)

    def db_accounts(self, tenant_id: str | None) -> DbAccountRepository:
        """Notes about instances' database accounts (remark, type, lock, times)."""
        return DbAccountRepository(self.session, tenant_id)

    def parameters(self, tenant_id: str | None) -> ParameterRepository:
        """Tenant parameter values, their change events and parameter templates."""
        return ParameterRepository(self.session, tenant_id)

    def backups(self, tenant_id: str | None) -> BackupRepositories:
        """Backup plans, sets, what the repository holds per instance, clones (``None``: the system's view)."""
        return BackupRepositories(self.session, tenant_id)

    def security_groups(self, tenant_id: str | None) -> SecurityGroupRepository:
        """Security groups, their rules and bindings (``None``: every tenant's, for the operator and jobs)."""
        return SecurityGroupRepository(self.session, tenant_id)

    def flush(self) -> None:
        self.session.flush()


class Store:
    """Hands out units of work over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
        self._sqlite = engine.dialect.name == "sqlite"
        self._postgresql = engine.dialect.name == "postgresql"
        self._version = data_version(engine)

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        """One transaction that commits when the block completes and rolls back when it raises.

        :raises StoreBusy: the lock was not had within the write wait (see the module docstring).
        """
        wait = _write_wait.get()
        with self._sessions() as session:
            try:
                if self._sqlite:
                    session.connection(execution_options={
                        "sqlite_begin": "IMMEDIATE", "sqlite_wait": BUSY_TIMEOUT_SECONDS if wait is None else wait})
                elif self._postgresql and wait is not None:
                    session.execute(_SET_LOCK_TIMEOUT, {"timeout": f"{int(wait * 1000)}ms"})
                yield UnitOfWork(session)
                session.commit()
                read = _versions_read.get()
                if read is not None:
                    read.pop(self, None)  # this context committed: its next version() reads again
            except DBAPIError as exc:
                session.rollback()
                if not _lock_not_had(exc):
                    raise
                within = f" within {wait:g} s" if wait is not None else ""
                raise StoreBusy(f"the metadata store's lock could not be taken{within} (other writes hold it); "
                                "nothing was changed: send the call again") from exc
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        with self._sessions() as session:
            try:
                yield UnitOfWork(session)
            finally:
                session.rollback()

    def version(self) -> object:
        """Equal to an earlier value only if nothing was committed in between (see :mod:`.version`);
        read it *before* reading what a cache keeps. Within :meth:`one_version`, read once."""
        read = _versions_read.get()
        if read is None:
            return self._version.current()
        found = read.get(self, _UNREAD)
        if found is _UNREAD:
            found = read[self] = self._version.current()
        return found

    @contextmanager
    def one_version(self) -> Iterator[None]:
        """Within the block (one API request), :meth:`version` reads the data version at its first call
        and answers that value again, so the key cache, the answer cache and the listing of one request
        cost one read instead of one each; a write committed within the block (:meth:`write`) makes the
        next call read again.

        Still exact: every cache keeps what it builds with a version read before building it, and a
        value read earlier in the same request is read before too - a commit since then makes the
        next request's value differ. A caller's own earlier write committed before its request began,
        so the value read in the request already counts it."""
        token = _versions_read.set({})
        try:
            yield
        finally:
            _versions_read.reset(token)

    def refresh_statistics(self) -> None:
        """Let SQLite's query planner know the tables' sizes (``ANALYZE``, sampled: a few ms).

        Without statistics it guesses ~10 rows per index key and takes the tenant index for, e.g.,
        the replicas of a master, reading every instance of the tenant instead of that master's few.
        PostgreSQL's autovacuum analyzes by itself: nothing to do there."""
        if not self._sqlite:
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA analysis_limit=1000")
            connection.exec_driver_sql("ANALYZE")
            connection.commit()

    def close(self) -> None:
        self._version.close()
        self.engine.dispose()
