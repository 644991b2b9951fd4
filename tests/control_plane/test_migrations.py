"""Alembic migrations: an empty database reaches head, a second upgrade is a no-op, and the schema the
migrations build is exactly the one the table mappings describe. On SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from openrds.domain.model import Tenant
from openrds.persistence.db import alembic_config, open_engine, upgrade
from openrds.persistence.tables import Base
from openrds.persistence.uow import Store


def _head(engine: Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None, "the migrations have no head revision"
    return head


def _current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_of_an_empty_database_reaches_head_and_is_idempotent(backend) -> None:
    engine = open_engine(backend.url)
    try:
        assert _current(engine) is None
        assert _tables(engine) == set(), f"the {backend.name} database was not empty"

        upgrade(engine)

        head = _head(engine)
        assert _current(engine) == head
        expected = set(Base.metadata.tables) | {"alembic_version"}
        assert _tables(engine) == expected

        # Data written at head survives a second upgrade, which changes nothing.
        store = Store(engine)
        when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        with store.write() as uow:
            uow.tenants.add(Tenant("t-1", "survivor", when))
        upgrade(engine)
        upgrade(engine)
        assert _current(engine) == head
        assert _tables(engine) == expected
        with store.read() as uow:
            assert uow.tenants.list() == [Tenant("t-1", "survivor", when)]
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_mapped_schema(backend) -> None:
    """Autogenerate finds nothing to add, drop or alter: the migrations and `tables.py` agree."""
    engine = open_engine(backend.url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"schema drift between migrations and tables.py on {backend.name}: {diff}"
    finally:
        engine.dispose()
