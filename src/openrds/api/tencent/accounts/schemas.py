"""Request models of the account and database actions, under the rules of :mod:`openrds.api.tencent.schemas`.

Wire names, types and required flags are the SDK's (``tests/api_tencent_protocol/test_schemas.py`` checks
them against ``models.py`` and tccli's ``api.json``); every list and string is bounded. Value rules (name
characters, password strength, privilege names) are the domain's (:mod:`openrds.domain.accounts`).
"""

from __future__ import annotations

from pydantic import Field

from openrds.api.tencent.schemas import MAX_FILTERS, Filter, Int64, TencentModel, UInt64

#: ``ModifyPrivilegeSet``: at most 50 changes per call (documented).
MAX_PRIVILEGE_CHANGES = 50
#: ``DatabaseObjectSet`` and a ``PrivilegeSet``: enough for every object of a schema picker's page.
MAX_OBJECTS = 100
MAX_PRIVILEGES = 20
#: Account and database names are at most 63 characters; a function signature a little more.
MAX_NAME = 63
MAX_OBJECT_NAME = 600
#: ``Password``: 8-32 characters are checked by the domain; this bound only keeps huge values out.
MAX_PASSWORD = 64
MAX_REMARK = 256  # the domain allows 60 characters; longer ones are refused naming the field


class DatabaseObject(TencentModel):
    """``DatabaseObject``: an object privileges are about."""

    object_type: str = Field(alias="ObjectType", max_length=16)
    object_name: str = Field(alias="ObjectName", max_length=MAX_OBJECT_NAME)
    database_name: str | None = Field(None, alias="DatabaseName", max_length=MAX_NAME)
    schema_name: str | None = Field(None, alias="SchemaName", max_length=MAX_NAME)
    table_name: str | None = Field(None, alias="TableName", max_length=MAX_NAME)


class DatabasePrivilege(TencentModel):
    """``DatabasePrivilege``: an object and privileges (or roles) on it."""

    object: DatabaseObject | None = Field(None, alias="Object")
    privilege_set: list[str] | None = Field(None, alias="PrivilegeSet", max_length=MAX_PRIVILEGES)


class ModifyPrivilege(TencentModel):
    """``ModifyPrivilege``: one change of ModifyAccountPrivileges."""

    database_privilege: DatabasePrivilege | None = Field(None, alias="DatabasePrivilege")
    modify_type: str | None = Field(None, alias="ModifyType", max_length=32)
    is_cascade: bool | None = Field(None, alias="IsCascade")


# --- accounts ------------------------------------------------------------------------------------
class CreateAccountRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    user_name: str = Field(alias="UserName", max_length=MAX_NAME * 2)
    type: str = Field(alias="Type", max_length=32)
    password: str | None = Field(None, alias="Password", max_length=MAX_PASSWORD, repr=False)
    remark: str | None = Field(None, alias="Remark", max_length=MAX_REMARK)
    open_cam: bool | None = Field(None, alias="OpenCam")


class DescribeAccountsRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    limit: Int64 | None = Field(None, alias="Limit")
    offset: Int64 | None = Field(None, alias="Offset")
    order_by: str | None = Field(None, alias="OrderBy", max_length=32)
    order_by_type: str | None = Field(None, alias="OrderByType", max_length=8)


class ResetAccountPasswordRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    user_name: str = Field(alias="UserName", max_length=MAX_NAME * 2)
    password: str = Field(alias="Password", max_length=MAX_PASSWORD, repr=False)


class DeleteAccountRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    user_name: str = Field(alias="UserName", max_length=MAX_NAME * 2)


class LockAccountRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    user_name: str = Field(alias="UserName", max_length=MAX_NAME * 2)


class UnlockAccountRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    user_name: str = Field(alias="UserName", max_length=MAX_NAME * 2)


class ModifyAccountRemarkRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    user_name: str = Field(alias="UserName", max_length=MAX_NAME * 2)
    remark: str = Field(alias="Remark", max_length=MAX_REMARK)


class ModifyAccountPrivilegesRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    user_name: str = Field(alias="UserName", max_length=MAX_NAME * 2)
    modify_privilege_set: list[ModifyPrivilege] = Field(alias="ModifyPrivilegeSet", max_length=MAX_PRIVILEGE_CHANGES)


class DescribeAccountPrivilegesRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    user_name: str = Field(alias="UserName", max_length=MAX_NAME * 2)
    database_object_set: list[DatabaseObject] = Field(alias="DatabaseObjectSet", max_length=MAX_OBJECTS)


# --- databases -----------------------------------------------------------------------------------
class CreateDatabaseRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    database_name: str = Field(alias="DatabaseName", max_length=MAX_NAME * 2)
    database_owner: str = Field(alias="DatabaseOwner", max_length=MAX_NAME * 2)
    encoding: str | None = Field(None, alias="Encoding", max_length=32)
    collate: str | None = Field(None, alias="Collate", max_length=MAX_NAME)
    ctype: str | None = Field(None, alias="Ctype", max_length=MAX_NAME)


class DescribeDatabasesRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    filters: list[Filter] | None = Field(None, alias="Filters", max_length=MAX_FILTERS)
    offset: UInt64 | None = Field(None, alias="Offset")
    limit: UInt64 | None = Field(None, alias="Limit")


class ModifyDatabaseOwnerRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    database_name: str = Field(alias="DatabaseName", max_length=MAX_NAME * 2)
    database_owner: str = Field(alias="DatabaseOwner", max_length=MAX_NAME * 2)


class DeleteDatabaseRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    database_name: str = Field(alias="DatabaseName", max_length=MAX_NAME * 2)


class DescribeDatabaseObjectsRequest(TencentModel):
    db_instance_id: str = Field(alias="DBInstanceId")
    object_type: str = Field(alias="ObjectType", max_length=16)
    limit: Int64 | None = Field(None, alias="Limit")
    offset: Int64 | None = Field(None, alias="Offset")
    database_name: str | None = Field(None, alias="DatabaseName", max_length=MAX_NAME)
    schema_name: str | None = Field(None, alias="SchemaName", max_length=MAX_NAME)
    table_name: str | None = Field(None, alias="TableName", max_length=MAX_NAME)


#: Action name -> request model, for every action of this area.
REQUEST_MODELS: dict[str, type[TencentModel]] = {
    "CreateAccount": CreateAccountRequest,
    "DescribeAccounts": DescribeAccountsRequest,
    "ResetAccountPassword": ResetAccountPasswordRequest,
    "DeleteAccount": DeleteAccountRequest,
    "LockAccount": LockAccountRequest,
    "UnlockAccount": UnlockAccountRequest,
    "ModifyAccountRemark": ModifyAccountRemarkRequest,
    "ModifyAccountPrivileges": ModifyAccountPrivilegesRequest,
    "DescribeAccountPrivileges": DescribeAccountPrivilegesRequest,
    "CreateDatabase": CreateDatabaseRequest,
    "DescribeDatabases": DescribeDatabasesRequest,
    "ModifyDatabaseOwner": ModifyDatabaseOwnerRequest,
    "DeleteDatabase": DeleteDatabaseRequest,
    "DescribeDatabaseObjects": DescribeDatabaseObjectsRequest,
}
