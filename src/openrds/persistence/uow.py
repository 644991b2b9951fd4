"""The unit of work: one transaction, the only place that commits.

    with store.write() as uow:            # BEGIN IMMEDIATE on SQLite: writers queue instead of failing
        uow.instances(tenant).add(...)
        uow.jobs.add(...)
    # committed here; rolled back if the block raised

    with store.read() as uow:             # plain BEGIN, never commits
        uow.instances(tenant).list()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openrds.persistence.repositories import (
    AccountRepository,
    CredentialRepository,
    EventRepository,
    GroupRepository,
    InstanceRepository,
    JobRepository,
    OrderRepository,
    TenantRepository,
    VoucherRepository,
)
from openrds.persistence.version import data_version


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

    def flush(self) -> None:
        self.session.flush()


class Store:
    """Hands out units of work over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
        self._sqlite = engine.dialect.name == "sqlite"
        self._version = data_version(engine)

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        with self._sessions() as session:
            if self._sqlite:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            uow = UnitOfWork(session)
            try:
                yield uow
                session.commit()
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
        read it *before* reading what a cache keeps."""
        return self._version.current()

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
