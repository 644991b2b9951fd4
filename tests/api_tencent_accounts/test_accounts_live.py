"""Accounts and databases on real PostgreSQL servers, through the official SDK against the whole service.

One service for the module: a master and a read-only instance of it. The master logs every statement
(``log_statement = all``, ``log_min_duration_statement = 0``) and tracks them in ``pg_stat_statements``,
so a password that reached the server in a statement would be found there; a plain ``CREATE ROLE ...
PASSWORD`` made on purpose shows that the search finds one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from tests.api_tencent.sdk import POSTPAID, Api, expect_error
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import wait_for

from openrds.domain.accounts import RESERVED_KEYWORDS
from openrds.engine.local import LocalDriver
from openrds.engine.local.files import SUPERUSER
from openrds.engine.local.secrets import SUPERUSER_PASSFILE
from openrds.engine.local.sql import connect as superuser_connect

pytestmark = pytest.mark.slow  # real PostgreSQL servers

APP_PASSWORD = "App-Secret-1x"
READER_PASSWORD = "Reader-Secret-2y"
READER_NEW_PASSWORD = "Reader-Secret-3z"
CANARY_PASSWORD = "Canary-Leak-9q"  # sent in plain text on purpose: the search must find it
PASSWORDS = (APP_PASSWORD, READER_PASSWORD, READER_NEW_PASSWORD)


@dataclass
class Live:
    service: InProcessService
    api: Api
    master: str
    replica: str

    @property
    def driver(self) -> LocalDriver:
        driver = self.service.container.driver
        assert isinstance(driver, LocalDriver)
        return driver

    def superuser(self, code: str, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """The service's own superuser session on a server (what only the engine holds)."""
        layout = self.driver.layout
        port = self.driver.status(code).port
        return superuser_connect(layout.run, port, layout.instance(code) / SUPERUSER_PASSFILE, user=SUPERUSER,
                                 dbname=dbname)

    def login(self, user: str, password: str, dbname: str = "postgres", code: str = "") -> psycopg.Connection[Any]:
        info = self.driver.status(code or self.master)
        return psycopg.connect(host=info.host, port=info.port, user=user, password=password, dbname=dbname,
                               connect_timeout=5, autocommit=True)

    def server_logs(self) -> str:
        root = self.service.data_dir / "instances"
        return "\n".join(p.read_text(errors="replace") for p in sorted(root.glob("*/server.log*")) if p.is_file())


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with in_process_service() as service:  # the real engine: PostgreSQL servers on this host
        api = Api(service)
        master = api.create_master(POSTPAID)
        api.wait_status([master], "running")
        probe = Live(service, api, master, "")
        # Everything the server could record a statement in, switched on (the replica inherits it).
        with probe.superuser(master) as conn:
            conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
        # Through the API: the job layer restarts it, and nothing else touches the server meanwhile.
        api.call("RestartDBInstance", {"DBInstanceId": master})
        api.wait_status([master], "running")
        with probe.superuser(master) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        replica = api.call("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": master, "SpecCode": "pg.it.small2", "Storage": 20, "InstanceCount": 1,
            "Period": 1, "Zone": "ap-beijing-4", "InstanceChargeType": POSTPAID})["DBInstanceIdSet"][0]
        yield Live(service, api, master, replica)


def accounts(live: Live, code: str = "") -> dict[str, dict[str, Any]]:
    found = live.api.call("DescribeAccounts", {"DBInstanceId": code or live.master, "Limit": 100})
    return {a["UserName"]: a for a in found["Details"]}


def privileges(live: Live, user: str, obj: dict[str, str]) -> list[str]:
    answer = live.api.call("DescribeAccountPrivileges", {"DBInstanceId": live.master, "UserName": user,
                                                          "DatabaseObjectSet": [obj]})
    result: list[str] = answer["PrivilegeSet"][0]["PrivilegeSet"]
    return result


def grant(live: Live, user: str, modify: str, obj: dict[str, str], privs: list[str]) -> None:
    live.api.call("ModifyAccountPrivileges", {"DBInstanceId": live.master, "UserName": user, "ModifyPrivilegeSet": [
        {"DatabasePrivilege": {"Object": obj, "PrivilegeSet": privs}, "ModifyType": modify, "IsCascade": False}]})


TABLE = {"ObjectType": "table", "ObjectName": "orders", "DatabaseName": "appdb", "SchemaName": "public"}


def test_an_application_account_lives_its_life(live: Live) -> None:
    api, master = live.api, live.master
    api.call("CreateAccount", {"DBInstanceId": master, "UserName": "app", "Type": "normal",
                               "Password": APP_PASSWORD, "Remark": "orders-service"})
    listed = accounts(live)["app"]
    assert (listed["Status"], listed["UserType"], listed["Remark"]) == (2, "normal", "orders-service")
    assert "dbadmin" in accounts(live)  # the admin made at creation lists too
    # A database owned by it: it logs in there and creates its tables.
    api.call("CreateDatabase", {"DBInstanceId": master, "DatabaseName": "appdb", "DatabaseOwner": "app"})
    databases = api.call("DescribeDatabases", {"DBInstanceId": master, "Filters": [
        {"Name": "database-name", "Values": ["appd"]}]})
    assert [(d["DatabaseName"], d["DatabaseOwner"], d["Encoding"]) for d in databases["Databases"]] == [
        ("appdb", "app", "UTF8")]
    with live.login("app", APP_PASSWORD, "appdb") as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, total int)")
        conn.execute("INSERT INTO orders VALUES (1, 10)")
        assert conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() \
            == ("app", False)
    objects = api.call("DescribeDatabaseObjects", {"DBInstanceId": master, "ObjectType": "table",
                                                   "DatabaseName": "appdb", "SchemaName": "public"})
    assert (objects["TotalCount"], objects["ObjectSet"]) == (1, ["orders"])

    # A reader with exactly SELECT on that table.
    api.call("CreateAccount", {"DBInstanceId": master, "UserName": "reader", "Type": "normal",
                               "Password": READER_PASSWORD})
    assert privileges(live, "reader", TABLE) == []
    grant(live, "reader", "grantObject", TABLE, ["SELECT"])
    assert privileges(live, "reader", TABLE) == ["SELECT"]
    with live.login("reader", READER_PASSWORD, "appdb") as conn:
        assert conn.execute("SELECT total FROM orders").fetchall() == [(10,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO orders VALUES (2, 20)")
    # A function (named with its argument types, as DescribeDatabaseObjects lists it) and a column.
    with live.login("app", APP_PASSWORD, "appdb") as conn:
        conn.execute("CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'")
        conn.execute("REVOKE EXECUTE ON FUNCTION add(int, int) FROM PUBLIC")
    functions = api.call("DescribeDatabaseObjects", {"DBInstanceId": master, "ObjectType": "function",
                                                     "DatabaseName": "appdb", "SchemaName": "public"})["ObjectSet"]
    assert functions == ["add(integer,integer)"]
    function = dict(TABLE, ObjectType="function", ObjectName=functions[0])
    assert privileges(live, "reader", function) == []
    grant(live, "reader", "grantObject", function, ["EXECUTE"])
    assert privileges(live, "reader", function) == ["EXECUTE"]
    column = dict(TABLE, ObjectType="column", ObjectName="id", TableName="orders")
    grant(live, "reader", "grantObject", column, ["UPDATE"])
    assert privileges(live, "reader", column) == ["SELECT", "UPDATE"]  # SELECT: from the table's grant
    with live.login("reader", READER_PASSWORD, "appdb") as conn:
        assert conn.execute("SELECT add(1, 2)").fetchone() == (3,)
        conn.execute("UPDATE orders SET id = id")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE orders SET total = 0")
    grant(live, "reader", "revokeObject", column, ["UPDATE"])
    assert privileges(live, "reader", column) == ["SELECT"]
    # A change set fails as a whole: the second object does not exist, so the first is not granted either.
    missing = dict(TABLE, ObjectName="nothing_here")
    with pytest.raises(Exception) as failed:
        api.call("ModifyAccountPrivileges", {"DBInstanceId": master, "UserName": "reader", "ModifyPrivilegeSet": [
            {"DatabasePrivilege": {"Object": TABLE, "PrivilegeSet": ["INSERT"]}, "ModifyType": "grantObject"},
            {"DatabasePrivilege": {"Object": missing, "PrivilegeSet": ["SELECT"]}, "ModifyType": "grantObject"}]})
    assert getattr(failed.value, "code", "") == "InvalidParameterValue.InvalidDatabaseObjectName"
    assert privileges(live, "reader", TABLE) == ["SELECT"]

    # Locked: its open session ends, new logins are refused; unlocked: it logs in again.
    session = live.login("reader", READER_PASSWORD, "appdb")
    api.call("LockAccount", {"DBInstanceId": master, "UserName": "reader"})
    assert accounts(live)["reader"]["Status"] == 5

    def session_ended() -> bool:
        try:
            session.execute("SELECT 1")
        except psycopg.OperationalError:
            return True
        return False

    wait_for(session_ended, 10, "the locked account's open session to end")
    session.close()
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        live.login("reader", READER_PASSWORD)
    api.call("UnlockAccount", {"DBInstanceId": master, "UserName": "reader"})
    assert accounts(live)["reader"]["Status"] == 2
    live.login("reader", READER_PASSWORD).close()

    # A new password: the old one fails, the new one works.
    api.call("ResetAccountPassword", {"DBInstanceId": master, "UserName": "reader", "Password": READER_NEW_PASSWORD})
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        live.login("reader", READER_PASSWORD)
    live.login("reader", READER_NEW_PASSWORD).close()

    # The owner of a database and a table cannot be deleted: the documented code, nothing dropped.
    expect_error("FailedOperation.FailedOperationError",
                 lambda: api.call("DeleteAccount", {"DBInstanceId": master, "UserName": "app"}), "UserName")
    live.login("app", APP_PASSWORD, "appdb").close()
    # The reader holds only grants: it goes, and deleting it again is no error.
    api.call("DeleteAccount", {"DBInstanceId": master, "UserName": "reader"})
    api.call("DeleteAccount", {"DBInstanceId": master, "UserName": "reader"})
    assert "reader" not in accounts(live)
    with pytest.raises(psycopg.OperationalError):
        live.login("reader", READER_NEW_PASSWORD)


def test_a_read_only_instance_refuses_writes_and_shows_the_masters_accounts(live: Live) -> None:
    api = live.api
    api.wait_status([live.replica], "running")
    api.call("CreateAccount", {"DBInstanceId": live.master, "UserName": "replicated", "Type": "normal",
                               "Password": APP_PASSWORD, "Remark": "on-both"})
    wait_for(lambda: "replicated" in accounts(live, live.replica), 30, "the account to reach the read-only instance")
    assert accounts(live, live.replica)["replicated"]["Remark"] == "on-both"  # the master's note
    live.login("replicated", APP_PASSWORD, code=live.replica).close()
    for action, params in [
        ("CreateAccount", {"UserName": "nope", "Type": "normal", "Password": APP_PASSWORD}),
        ("CreateDatabase", {"DatabaseName": "nope", "DatabaseOwner": "replicated"}),
        ("DeleteAccount", {"UserName": "replicated"}),
        ("LockAccount", {"UserName": "replicated"}),
    ]:
        expect_error("OperationDenied.ROInstanceStatusLimitOpError",
                     lambda a=action, p=params: api.call(a, {"DBInstanceId": live.replica, **p}))
    assert "nope" not in accounts(live)


def test_no_password_reaches_the_logs_or_pg_stat_statements(live: Live) -> None:
    test_order = accounts(live)  # the tests above ran first (module order): their passwords were sent
    assert "app" in test_order
    with live.superuser(live.master) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone() \
            == (1,), "pg_stat_statements must be loaded for this test to mean anything"
        conn.execute(f"CREATE ROLE canary LOGIN PASSWORD '{CANARY_PASSWORD}'")  # the control: plain text
        conn.execute("DROP ROLE canary")
        texts = "\n".join(r[0] for r in conn.execute("SELECT query FROM pg_stat_statements"))

    def logged() -> str | None:
        text = live.server_logs()
        return text if CANARY_PASSWORD in text else None

    logs = wait_for(logged, 10, "the control statement to reach the server log")
    assert CANARY_PASSWORD in texts, "the search finds a password sent in plain text"
    for password in PASSWORDS:
        assert password not in texts
        assert password not in logs
    # Not even the verifiers (what an offline guesser would want) were written anywhere.
    assert "SCRAM-SHA-256$" not in texts
    assert "SCRAM-SHA-256$" not in logs


def test_reserved_keywords_are_the_servers(live: Live) -> None:
    with live.superuser(live.master) as conn:
        server = {r[0] for r in conn.execute("SELECT word FROM pg_get_keywords() WHERE catcode = 'R'")}
    assert server == RESERVED_KEYWORDS


def test_a_lock_held_by_another_session_gives_up_instead_of_holding_the_call(live: Live) -> None:
    api, master = live.api, live.master
    api.call("CreateAccount", {"DBInstanceId": master, "UserName": "locked_out", "Type": "normal",
                               "Password": APP_PASSWORD})
    with live.superuser(master) as holder:
        holder.autocommit = False
        holder.execute("ALTER ROLE locked_out CONNECTION LIMIT 5")  # its pg_authid row stays locked
        started = time.monotonic()
        expect_error("FailedOperation.FailedOperationError", lambda: api.call(
            "ResetAccountPassword", {"DBInstanceId": master, "UserName": "locked_out", "Password": READER_PASSWORD}))
        waited = time.monotonic() - started
        holder.rollback()
    assert waited < 15, f"the call waited {waited:.1f} s for a lock another session held"
    api.call("DeleteAccount", {"DBInstanceId": master, "UserName": "locked_out"})
