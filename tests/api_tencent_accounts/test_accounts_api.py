"""Bad input for every account and database action, through the official SDK against the whole service
over the fake engine: the documented code, a message naming the parameter, and nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.api_tencent.sdk import ADMIN_NAME, POSTPAID, Api, expect_error
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service

GOOD_PASSWORD = "Good-Pass-1x"
IPV = "InvalidParameterValue."


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    # Every case reads the state twice: more than the per-action rate limit allows in a second.
    with in_process_service(driver=FakeDriver(), rate_limit=100_000) as running:
        yield running


@pytest.fixture(scope="module")
def api(service: InProcessService) -> Api:
    return Api(service)


@pytest.fixture(scope="module")
def master(api: Api) -> str:
    code = api.create_master(POSTPAID)
    api.wait_status([code], "running")
    api.call("CreateAccount", {"DBInstanceId": code, "UserName": "owner1", "Type": "normal",
                               "Password": GOOD_PASSWORD, "Remark": "keeps-appdb"})
    api.call("CreateDatabase", {"DBInstanceId": code, "DatabaseName": "appdb", "DatabaseOwner": "owner1"})
    return code


def fake(service: InProcessService) -> FakeDriver:
    driver = service.container.driver
    assert isinstance(driver, FakeDriver)
    return driver


def state(api: Api, master: str) -> tuple[Any, ...]:
    """What a refused call must leave as it was: the accounts (with remark, status, type, times) and databases."""
    found = api.call("DescribeAccounts", {"DBInstanceId": master, "Limit": 100})["Details"]
    databases = api.call("DescribeDatabases", {"DBInstanceId": master, "Limit": 100})["Databases"]
    return (sorted((a["UserName"], a["Remark"], a["Status"], a["UserType"], a["UpdateTime"]) for a in found),
            sorted((d["DatabaseName"], d["DatabaseOwner"]) for d in databases))


def obj(**fields: str) -> dict[str, str]:
    return {"ObjectType": "table", "ObjectName": "t", "DatabaseName": "appdb", "SchemaName": "public"} | fields


def change(modify: str, target: dict[str, str], privs: list[str]) -> dict[str, Any]:
    return {"DatabasePrivilege": {"Object": target, "PrivilegeSet": privs}, "ModifyType": modify}


# (action, parameters besides DBInstanceId, code, parameter the message names)
BAD_INPUT: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("CreateAccount", {"UserName": "1app", "Type": "normal", "Password": GOOD_PASSWORD},
     IPV + "InvalidAccountNameFormatError", "UserName"),
    ("CreateAccount", {"UserName": "a" * 64, "Type": "normal", "Password": GOOD_PASSWORD},
     IPV + "InvalidAccountNameFormatError", "UserName"),
    ("CreateAccount", {"UserName": "pg_app", "Type": "normal", "Password": GOOD_PASSWORD},
     IPV + "InvalidAccountNameError", "UserName"),
    ("CreateAccount", {"UserName": "select", "Type": "normal", "Password": GOOD_PASSWORD},
     IPV + "InvalidAccountNameError", "UserName"),
    ("CreateAccount", {"UserName": "openrds_x", "Type": "normal", "Password": GOOD_PASSWORD},
     IPV + "InvalidAccountNameError", "UserName"),
    ("CreateAccount", {"UserName": "app", "Type": "normal", "Password": "Ab-1x"},
     IPV + "InvalidPasswordLengthError", "Password"),
    ("CreateAccount", {"UserName": "app", "Type": "normal", "Password": "abcdefgh12"},
     IPV + "InvalidPasswordValueError", "Password"),
    ("CreateAccount", {"UserName": "app", "Type": "normal", "Password": "/Abcdef-12"},
     IPV + "InvalidPasswordValueError", "Password"),
    ("CreateAccount", {"UserName": "app", "Type": "normal", "Password": "Abcdef-12é"},
     IPV + "InvalidPasswordValueError", "Password"),
    ("CreateAccount", {"UserName": "app", "Type": "normal"}, "MissingParameter", "Password"),
    ("CreateAccount", {"UserName": "app", "Type": "root", "Password": GOOD_PASSWORD},
     IPV + "InvalidParameterValueError", "Type"),
    ("CreateAccount", {"UserName": "app", "Type": "normal", "Password": GOOD_PASSWORD, "Remark": "no spaces"},
     IPV + "ParameterCharacterError", "Remark"),
    ("CreateAccount", {"UserName": "app", "Type": "normal", "Password": GOOD_PASSWORD, "Remark": "r" * 61},
     IPV + "ParameterLengthLimitError", "Remark"),
    ("CreateAccount", {"UserName": "app", "Type": "normal", "Password": GOOD_PASSWORD, "OpenCam": True},
     IPV + "InvalidParameterValueError", "OpenCam"),
    ("CreateAccount", {"UserName": "owner1", "Type": "normal", "Password": GOOD_PASSWORD},
     IPV + "AccountExist", "UserName"),
    ("CreateAccount", {"UserName": "app", "Type": "normal", "Password": GOOD_PASSWORD, "Extra": 1},
     "UnknownParameter", "Extra"),
    ("DescribeAccounts", {"Limit": 0}, IPV + "InvalidParameterValueError", "Limit"),
    ("DescribeAccounts", {"Limit": 101}, IPV + "InvalidParameterValueError", "Limit"),
    ("DescribeAccounts", {"Offset": -1}, IPV + "InvalidParameterValueError", "Offset"),
    ("DescribeAccounts", {"OrderBy": "password"}, IPV + "InvalidParameterValueError", "OrderBy"),
    ("DescribeAccounts", {"OrderByType": "up"}, IPV + "InvalidParameterValueError", "OrderByType"),
    ("ResetAccountPassword", {"UserName": "ghost", "Password": GOOD_PASSWORD},
     IPV + "AccountNotExistError", "UserName"),
    ("ResetAccountPassword", {"UserName": "owner1", "Password": "weakweakweak"},
     IPV + "InvalidPasswordValueError", "Password"),
    ("ResetAccountPassword", {"UserName": "owner1", "Password": "x" * 33}, IPV + "InvalidPasswordLengthError",
     "Password"),
    ("DeleteAccount", {"UserName": "owner1"}, "FailedOperation.FailedOperationError", "UserName"),
    ("DeleteAccount", {"UserName": ADMIN_NAME}, "OperationDenied.AccountOperationDenied", "UserName"),
    ("DeleteAccount", {"UserName": "bad-name"}, IPV + "InvalidAccountNameFormatError", "UserName"),
    ("LockAccount", {"UserName": "ghost"}, IPV + "AccountNotExistError", "UserName"),
    ("LockAccount", {"UserName": "pg_monitor"}, IPV + "InvalidAccountNameError", "UserName"),
    ("UnlockAccount", {"UserName": "ghost"}, IPV + "AccountNotExistError", "UserName"),
    ("ModifyAccountRemark", {"UserName": "ghost", "Remark": "x"}, IPV + "AccountNotExistError", "UserName"),
    ("ModifyAccountRemark", {"UserName": "owner1", "Remark": "a;b"}, IPV + "ParameterCharacterError", "Remark"),
    ("ModifyAccountPrivileges", {"UserName": "owner1", "ModifyPrivilegeSet": []}, "MissingParameter",
     "ModifyPrivilegeSet"),
    ("ModifyAccountPrivileges", {"UserName": "owner1", "ModifyPrivilegeSet": [change("grantAll", obj(), ["SELECT"])]},
     IPV + "InvalidParameterValueError", "ModifyPrivilegeSet"),
    ("ModifyAccountPrivileges", {"UserName": "owner1",
                                 "ModifyPrivilegeSet": [change("grantObject", obj(ObjectType="index"), ["SELECT"])]},
     IPV + "InvalidDatabaseObjectName", "DatabaseObject"),
    ("ModifyAccountPrivileges", {"UserName": "owner1",
                                 "ModifyPrivilegeSet": [change("grantObject", obj(), ["EXECUTE"])]},
     IPV + "InvalidParameterValueError", "PrivilegeSet"),
    ("ModifyAccountPrivileges", {"UserName": "owner1",
                                 "ModifyPrivilegeSet": [change("grantObject", obj(SchemaName=""), ["SELECT"])]},
     IPV + "InvalidDatabaseObjectName", "DatabaseObject"),
    ("ModifyAccountPrivileges", {"UserName": "owner1", "ModifyPrivilegeSet": [
        change("grantObject", obj(ObjectName="t; DROP TABLE x"), ["SELECT"])]},
     IPV + "InvalidDatabaseObjectName", "DatabaseObject"),
    ("ModifyAccountPrivileges", {"UserName": "owner1", "ModifyPrivilegeSet": [
        change("grantObject", {"ObjectType": "function", "ObjectName": "f", "DatabaseName": "appdb",
                               "SchemaName": "public"}, ["EXECUTE"])]},
     IPV + "InvalidDatabaseObjectName", "DatabaseObject"),
    ("ModifyAccountPrivileges", {"UserName": "owner1", "ModifyPrivilegeSet": [
        change("grantRole", {"ObjectType": "account", "ObjectName": "owner1"}, ["pg_read_all_data"])]},
     IPV + "InvalidAccountNameError", "PrivilegeSet"),
    ("ModifyAccountPrivileges", {"UserName": "owner1", "ModifyPrivilegeSet": [
        change("grantRole", {"ObjectType": "account", "ObjectName": "owner1"}, ["pg_execute_server_program"])]},
     IPV + "InvalidAccountNameError", "PrivilegeSet"),
    ("ModifyAccountPrivileges", {"UserName": "owner1", "ModifyPrivilegeSet": [
        change("alterRole", {"ObjectType": "account", "ObjectName": "owner1"}, ["superuser"])]},
     IPV + "InvalidParameterValueError", "PrivilegeSet"),
    ("ModifyAccountPrivileges", {"UserName": "ghost", "ModifyPrivilegeSet": [change("grantObject", obj(), ["SELECT"])]},
     IPV + "AccountNotExistError", "UserName"),
    ("ModifyAccountPrivileges", {"UserName": "owner1",
                                 "ModifyPrivilegeSet": [change("grantObject", obj(), ["SELECT"])] * 51},
     "InvalidParameter", "ModifyPrivilegeSet"),
    ("DescribeAccountPrivileges", {"UserName": "owner1", "DatabaseObjectSet": [obj(DatabaseName="nodb")]},
     IPV + "InvalidDatabaseObjectName", "DatabaseObject"),
    ("DescribeAccountPrivileges", {"UserName": "owner1", "DatabaseObjectSet": [obj(TableName="x")]},
     IPV + "InvalidDatabaseObjectName", "DatabaseObject"),
    ("CreateDatabase", {"DatabaseName": "1db", "DatabaseOwner": "owner1"},
     IPV + "InvalidDatabaseNameFormatError", "DatabaseName"),
    ("CreateDatabase", {"DatabaseName": "template1", "DatabaseOwner": "owner1"},
     IPV + "InvalidDatabaseNameFormatError", "DatabaseName"),
    ("CreateDatabase", {"DatabaseName": "newdb", "DatabaseOwner": "ghost"}, IPV + "InvalidAccountError",
     "DatabaseOwner"),
    ("CreateDatabase", {"DatabaseName": "newdb", "DatabaseOwner": "owner1", "Encoding": "UTF16"},
     IPV + "InvalidParameterValueError", "Encoding"),
    ("CreateDatabase", {"DatabaseName": "newdb", "DatabaseOwner": "owner1", "Collate": "zh_CN.utf8"},
     IPV + "CharsetNotFoundError", "Collate"),
    ("CreateDatabase", {"DatabaseName": "newdb", "DatabaseOwner": "owner1", "Ctype": "x'; --"},
     IPV + "CharsetNotFoundError", "Ctype"),
    ("CreateDatabase", {"DatabaseName": "appdb", "DatabaseOwner": "owner1"}, IPV + "InvalidParameterValueError",
     "DatabaseName"),
    ("DescribeDatabases", {"Filters": [{"Name": "owner", "Values": ["x"]}]}, IPV + "InvalidParameterValueError",
     "Filters"),
    ("DescribeDatabases", {"Limit": 101}, IPV + "InvalidParameterValueError", "Limit"),
    ("ModifyDatabaseOwner", {"DatabaseName": "nodb", "DatabaseOwner": "owner1"}, "InvalidParameter.ParameterCheckError",
     "DatabaseName"),
    ("ModifyDatabaseOwner", {"DatabaseName": "appdb", "DatabaseOwner": "ghost"}, IPV + "InvalidAccountError",
     "DatabaseOwner"),
    ("DeleteDatabase", {"DatabaseName": "postgres"}, IPV + "InvalidDatabaseNameFormatError", "DatabaseName"),
    ("DeleteDatabase", {"DatabaseName": "nodb"}, "InvalidParameter.ParameterCheckError", "DatabaseName"),
    ("DescribeDatabaseObjects", {"ObjectType": "account"}, IPV + "InvalidDatabaseObjectName", "ObjectType"),
    ("DescribeDatabaseObjects", {"ObjectType": "index"}, IPV + "InvalidDatabaseObjectName", "ObjectType"),
    ("DescribeDatabaseObjects", {"ObjectType": "table", "SchemaName": "public"}, IPV + "InvalidDatabaseObjectName",
     "DatabaseName"),
    ("DescribeDatabaseObjects", {"ObjectType": "column", "DatabaseName": "appdb", "SchemaName": "public"},
     IPV + "InvalidDatabaseObjectName", "TableName"),
    ("DescribeDatabaseObjects", {"ObjectType": "schema", "DatabaseName": "nodb"}, IPV + "InvalidDatabaseObjectName",
     "DatabaseName"),
]


@pytest.mark.parametrize(("action", "params", "code", "field"), BAD_INPUT,
                         ids=[f"{a}-{i}" for i, (a, *_) in enumerate(BAD_INPUT)])
def test_bad_input_is_refused_with_the_documented_code_and_nothing_changes(
    api: Api, master: str, service: InProcessService, action: str, params: dict[str, Any], code: str,
    field: str | None,
) -> None:
    before = state(api, master)
    expect_error(code, lambda: api.call(action, {"DBInstanceId": master, **params}), field)
    assert state(api, master) == before
    assert fake(service).password_is(master, "owner1", GOOD_PASSWORD)  # the engine names servers by code


def test_an_unknown_instance_is_not_found(api: Api) -> None:
    for action, params in [("DescribeAccounts", {}), ("CreateDatabase", {"DatabaseName": "x", "DatabaseOwner": "y"}),
                           ("LockAccount", {"UserName": "owner1"})]:
        expect_error("ResourceNotFound.InstanceNotFoundError",
                     lambda a=action, p=params: api.call(a, {"DBInstanceId": "postgres-nothere", **p}), "DBInstanceId")


def test_a_change_set_with_one_bad_object_grants_nothing(api: Api, master: str, service: InProcessService) -> None:
    api.call("CreateAccount", {"DBInstanceId": master, "UserName": "partial", "Type": "normal",
                               "Password": GOOD_PASSWORD})
    good = obj(ObjectType="database", ObjectName="appdb", DatabaseName="", SchemaName="")
    del good["DatabaseName"], good["SchemaName"]
    expect_error(IPV + "InvalidDatabaseObjectName", lambda: api.call("ModifyAccountPrivileges", {
        "DBInstanceId": master, "UserName": "partial",
        "ModifyPrivilegeSet": [change("grantObject", good, ["CREATE"]),
                               change("grantObject", obj(DatabaseName="nodb"), ["SELECT"])]}))
    held = api.call("DescribeAccountPrivileges", {"DBInstanceId": master, "UserName": "partial",
                                                  "DatabaseObjectSet": [good]})["PrivilegeSet"][0]["PrivilegeSet"]
    assert "CREATE" not in held
    api.call("DeleteAccount", {"DBInstanceId": master, "UserName": "partial"})


def test_lock_ends_sessions_and_lists_as_locked(api: Api, master: str, service: InProcessService) -> None:
    api.call("CreateAccount", {"DBInstanceId": master, "UserName": "locked1", "Type": "tencentDBSuper",
                               "Password": GOOD_PASSWORD})
    fake(service).open_account_sessions(master, "locked1", 3)
    api.call("LockAccount", {"DBInstanceId": master, "UserName": "locked1"})
    assert fake(service).account_sessions(master, "locked1") == 0
    listed = {a["UserName"]: a for a in api.call("DescribeAccounts", {"DBInstanceId": master})["Details"]}
    assert (listed["locked1"]["Status"], listed["locked1"]["UserType"]) == (5, "tencentDBSuper")
    api.call("UnlockAccount", {"DBInstanceId": master, "UserName": "locked1"})
    listed = {a["UserName"]: a for a in api.call("DescribeAccounts", {"DBInstanceId": master})["Details"]}
    assert listed["locked1"]["Status"] == 2
    api.call("ModifyAccountRemark", {"DBInstanceId": master, "UserName": "locked1", "Remark": "批处理-job_1"})
    api.call("ResetAccountPassword", {"DBInstanceId": master, "UserName": "locked1", "Password": "Other-Pass-2y"})
    assert fake(service).password_is(master, "locked1", "Other-Pass-2y")
    names = [a["UserName"] for a in api.call("DescribeAccounts", {"DBInstanceId": master, "OrderBy": "name",
                                                                    "OrderByType": "asc"})["Details"]]
    assert names == sorted(names)
    remark = {a["UserName"]: a["Remark"] for a in api.call("DescribeAccounts", {"DBInstanceId": master})["Details"]}
    assert remark["locked1"] == "批处理-job_1"
    api.call("DeleteAccount", {"DBInstanceId": master, "UserName": "locked1"})


def test_a_database_changes_owner_and_goes(api: Api, master: str) -> None:
    api.call("CreateAccount", {"DBInstanceId": master, "UserName": "second", "Type": "normal",
                               "Password": GOOD_PASSWORD})
    api.call("CreateDatabase", {"DBInstanceId": master, "DatabaseName": "scratch", "DatabaseOwner": "owner1",
                                "Encoding": "LATIN1", "Collate": "C", "Ctype": "C"})
    api.call("ModifyDatabaseOwner", {"DBInstanceId": master, "DatabaseName": "scratch", "DatabaseOwner": "second"})
    found = api.call("DescribeDatabases", {"DBInstanceId": master, "Filters": [
        {"Name": "database-name", "Values": ["scr"]}]})
    assert (found["Items"], found["Databases"][0]["DatabaseOwner"], found["Databases"][0]["Encoding"]) == (
        ["scratch"], "second", "LATIN1")
    expect_error("FailedOperation.FailedOperationError",
                 lambda: api.call("DeleteAccount", {"DBInstanceId": master, "UserName": "second"}), "UserName")
    api.call("DeleteDatabase", {"DBInstanceId": master, "DatabaseName": "scratch"})
    api.call("DeleteAccount", {"DBInstanceId": master, "UserName": "second"})
    assert "scratch" not in api.call("DescribeDatabases", {"DBInstanceId": master})["Items"]


def test_an_account_made_outside_the_api_lists_with_no_creation_time(
    api: Api, master: str, service: InProcessService
) -> None:
    from openrds.domain.accounts import AccountType

    fake(service).create_account(master, "by_sql", GOOD_PASSWORD, AccountType.NORMAL, "")  # as a plain CREATE ROLE
    listed = {a["UserName"]: a for a in api.call("DescribeAccounts", {"DBInstanceId": master})["Details"]}
    assert (listed["by_sql"]["CreateTime"], listed["by_sql"]["Remark"]) == ("0000-00-00 00:00:00", "")
    api.call("ModifyAccountRemark", {"DBInstanceId": master, "UserName": "by_sql", "Remark": "found-later"})
    listed = {a["UserName"]: a for a in api.call("DescribeAccounts", {"DBInstanceId": master})["Details"]}
    assert (listed["by_sql"]["CreateTime"], listed["by_sql"]["Remark"]) == ("0000-00-00 00:00:00", "found-later")
    api.call("DeleteAccount", {"DBInstanceId": master, "UserName": "by_sql"})


def test_an_instance_that_is_not_running_refuses_with_the_status_code(api: Api) -> None:
    other = api.create_master(POSTPAID)
    api.wait_status([other], "running")
    api.call("IsolateDBInstances", {"DBInstanceIdSet": [other]})
    api.wait_status([other], "isolated")
    expect_error("OperationDenied.InstanceStatusLimitOpError", lambda: api.call("CreateAccount", {
        "DBInstanceId": other, "UserName": "late", "Type": "normal", "Password": GOOD_PASSWORD}), "DBInstanceId")
    expect_error("OperationDenied.InstanceStatusLimitOpError",
                 lambda: api.call("DescribeDatabases", {"DBInstanceId": other}), "DBInstanceId")
