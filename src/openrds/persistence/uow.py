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

    def change_stamp(self) -> tuple[object, ...]:
        """A cheap fingerprint of what in-memory views of instances, groups and jobs are built from:
        it changes whenever a row is added or updated (counts and newest update times)."""
        from sqlalchemy import func, select

        from openrds.persistence.tables import GroupRow, InstanceRow, JobRow, TenantRow

        stamp: list[object] = []
        for table in (InstanceRow, GroupRow, JobRow):
            row = self.session.execute(select(func.count(), func.max(table.updated_at))).one()
            stamp += [row[0], row[1]]
        stamp.append(self.session.scalar(select(func.count()).select_from(TenantRow)))
        return tuple(stamp)

    def flush(self) -> None:
        self.session.flush()


class Store:
    """Hands out units of work over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
        self._sqlite = engine.dialect.name == "sqlite"

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

    def close(self) -> None:
        self.engine.dispose()
