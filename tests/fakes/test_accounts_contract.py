"""The accounts part of the engine contract (`openrds.engine.accounts.AccountDriver`), on the fake and on
the real driver: which error when, what an absent account or database means, nothing changed by a refusal.

The real driver's server is shared by the module (one ``create_primary``); each test uses names of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.engine.conftest import cleanup, make_root, primary_request

from openrds.domain.accounts import (
    AccountType,
    DatabaseSpec,
    DbObject,
    ObjectType,
    PrivilegeChange,
    PrivilegeChangeKind,
)
from openrds.domain.errors import (
    AccountExists,
    AccountHasObjects,
    AccountNotFound,
    DatabaseExists,
    DatabaseNotFound,
    InvalidDatabaseObject,
    InvalidOwner,
    UnknownCollation,
)
from openrds.engine.driver import Driver, ServerNotFound

from .driver import FakeDriver

SERVER = "postgres-acctcntr"
PASSWORD = "Contract-Pass-1"


@pytest.fixture(scope="module", params=["fake", pytest.param("local", marks=pytest.mark.slow)])
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    if request.param == "fake":
        fake = FakeDriver()
        fake.create_primary(primary_request(SERVER))
        yield fake
        return
    from openrds.engine.local import LocalDriver

    root = make_root()
    base = 61000 + (os.getpid() % 50) * 20  # a band of its own, away from test_contract's
    real = LocalDriver(root, port_range=(base, base + 19))
    try:
        real.create_primary(primary_request(SERVER))
        yield real
    finally:
        cleanup(real, root)


def names(driver: Driver) -> set[str]:
    return {r.name for r in driver.list_accounts(SERVER)}


def test_accounts_are_created_once_and_dropped_again_and_again(driver: Driver) -> None:
    driver.create_account(SERVER, "c_app", PASSWORD, AccountType.NORMAL, "")
    assert "c_app" in names(driver)
    with pytest.raises(AccountExists):
        driver.create_account(SERVER, "c_app", PASSWORD, AccountType.SUPER, "")
    role = next(r for r in driver.list_accounts(SERVER) if r.name == "c_app")
    assert (role.can_login, role.super_type) == (True, False)  # the refused create changed nothing
    assert driver.set_account_login(SERVER, "c_app", False) == 0
    assert not next(r for r in driver.list_accounts(SERVER) if r.name == "c_app").can_login
    driver.set_account_login(SERVER, "c_app", True)
    driver.drop_account(SERVER, "c_app")
    driver.drop_account(SERVER, "c_app")  # absent: done already
    assert "c_app" not in names(driver)


def test_what_is_missing_is_named(driver: Driver) -> None:
    with pytest.raises(AccountNotFound):
        driver.reset_account_password(SERVER, "c_ghost", PASSWORD)
    with pytest.raises(AccountNotFound):
        driver.set_account_login(SERVER, "c_ghost", False)
    with pytest.raises(DatabaseNotFound):
        driver.drop_database(SERVER, "c_nodb")
    with pytest.raises(DatabaseNotFound):
        driver.set_database_owner(SERVER, "c_nodb", "c_ghost")
    with pytest.raises(InvalidOwner):
        driver.create_database(SERVER, DatabaseSpec("c_db0", "c_ghost"))
    with pytest.raises(ServerNotFound):
        driver.list_accounts("postgres-nothere")
    change = PrivilegeChange(PrivilegeChangeKind.GRANT_OBJECT, DbObject(ObjectType.DATABASE, "c_nodb"), ("CONNECT",))
    driver.create_account(SERVER, "c_grantee", PASSWORD, AccountType.NORMAL, "")
    with pytest.raises(InvalidDatabaseObject):
        driver.modify_account_privileges(SERVER, "c_grantee", [change])
    driver.drop_account(SERVER, "c_grantee")


def test_an_owner_is_not_dropped_until_its_database_has_another_owner(driver: Driver) -> None:
    driver.create_account(SERVER, "c_owner", PASSWORD, AccountType.NORMAL, "")
    driver.create_account(SERVER, "c_heir", PASSWORD, AccountType.NORMAL, "")
    driver.create_database(SERVER, DatabaseSpec("c_db", "c_owner", "UTF8", "C", "C"))
    with pytest.raises(DatabaseExists):
        driver.create_database(SERVER, DatabaseSpec("c_db", "c_heir"))
    with pytest.raises(UnknownCollation):
        driver.create_database(SERVER, DatabaseSpec("c_db2", "c_owner", "UTF8", "xx_NOWHERE.utf8"))
    assert "c_db2" not in {d.name for d in driver.list_databases(SERVER)}
    with pytest.raises(AccountHasObjects, match="c_db"):
        driver.drop_account(SERVER, "c_owner")
    assert "c_owner" in names(driver)
    driver.set_database_owner(SERVER, "c_db", "c_heir")
    assert {d.name: d.owner for d in driver.list_databases(SERVER)}["c_db"] == "c_heir"
    driver.drop_account(SERVER, "c_owner")
    total, listed = driver.database_objects(SERVER, ObjectType.DATABASE, DbObject(ObjectType.DATABASE, ""), 0, 100)
    assert "c_db" in listed and total == len(listed)
    driver.drop_database(SERVER, "c_db")
    driver.drop_account(SERVER, "c_heir")
    assert not {"c_owner", "c_heir"} & names(driver)
