"""The account and database actions of the Tencent face: parse -> :class:`openrds.services.accounts.AccountService`
-> present. Tencent's words (``tencentDBSuper``, ``grantObject``, ``createTime``, ``Status`` 2/5) are
translated here and nowhere else."""

from __future__ import annotations

from collections.abc import Sequence

from openrds.api.tencent import presenters as present
from openrds.api.tencent.accounts import fields as f
from openrds.api.tencent.accounts import schemas as s
from openrds.api.tencent.protocol import ActionContext
from openrds.container import Container
from openrds.domain.accounts import (
    Account,
    AccountType,
    Database,
    DatabaseSpec,
    DbObject,
    ObjectPrivileges,
    ObjectType,
    PrivilegeChange,
    PrivilegeChangeKind,
)
from openrds.domain.errors import InvalidDatabaseObject, InvalidInput, MissingInput
from openrds.services.accounts import DEFAULT_PAGE, AccountOrder, Page

#: ``Type`` of CreateAccount and the ``alterRole`` PrivilegeSet value <-> the domain's account types.
_ACCOUNT_TYPES = {"normal": AccountType.NORMAL, "tencentDBSuper": AccountType.SUPER}
_TYPE_NAMES = {kind: name for name, kind in _ACCOUNT_TYPES.items()}
_ORDER_BY = {"createTime": AccountOrder.CREATED, "name": AccountOrder.NAME, "updateTime": AccountOrder.UPDATED}
_MODIFY_TYPES = {
    "grantObject": PrivilegeChangeKind.GRANT_OBJECT,
    "revokeObject": PrivilegeChangeKind.REVOKE_OBJECT,
    "alterRole": PrivilegeChangeKind.ALTER_ROLE,
    "grantRole": PrivilegeChangeKind.GRANT_ROLE,
    "revokeRole": PrivilegeChangeKind.REVOKE_ROLE,
}
#: AccountInfo.Status: 2 normal, 5 locked (1/3/4/-1 are for changes under way; ours are synchronous).
_STATUS_NORMAL, _STATUS_LOCKED = 2, 5
_DATABASE_NAME_FILTER = "database-name"


def _account_type(value: str, field: str) -> AccountType:
    try:
        return _ACCOUNT_TYPES[value]
    except KeyError:
        raise InvalidInput(f"{value!r} is not an account type (normal, tencentDBSuper)", field=field) from None


def _object_type(value: str, field: str) -> ObjectType:
    try:
        return ObjectType(value)
    except ValueError:
        kinds = ", ".join(t.value for t in ObjectType)
        raise InvalidDatabaseObject(f"ObjectType {value!r} is not one of {kinds}", field=field) from None


def _object(o: s.DatabaseObject, field: str) -> DbObject:
    return DbObject(
        _object_type(o.object_type, field),
        o.object_name,
        o.database_name or "",
        o.schema_name or "",
        o.table_name or "",
    )


def _object_out(o: DbObject) -> f.DatabaseObject:
    shown: f.DatabaseObject = {"ObjectType": o.type.value, "ObjectName": o.name}
    if o.database:
        shown["DatabaseName"] = o.database
    if o.schema:
        shown["SchemaName"] = o.schema
    if o.table:
        shown["TableName"] = o.table
    return shown


def _change(m: s.ModifyPrivilege) -> PrivilegeChange:
    if m.database_privilege is None or m.database_privilege.object is None:
        raise MissingInput("each change needs DatabasePrivilege.Object", field="modify_privilege_set")
    if m.modify_type not in _MODIFY_TYPES:
        raise InvalidInput(
            f"ModifyType {m.modify_type!r} is not one of {', '.join(_MODIFY_TYPES)}", field="modify_privilege_set"
        )
    kind = _MODIFY_TYPES[m.modify_type]
    privileges = tuple(m.database_privilege.privilege_set or ())
    if kind is PrivilegeChangeKind.ALTER_ROLE:
        privileges = tuple(_account_type(p, "privileges").value for p in privileges)
    return PrivilegeChange(kind, _object(m.database_privilege.object, "object"), privileges, bool(m.is_cascade))


def _page(offset: int | None, limit: int | None) -> Page:
    return Page(offset or 0, DEFAULT_PAGE if limit is None else limit)


def _account_info(instance: str, a: Account) -> f.AccountInfo:
    return {
        "DBInstanceId": instance,
        "UserName": a.name,
        "Remark": a.remark,
        "Status": _STATUS_LOCKED if a.locked else _STATUS_NORMAL,
        "CreateTime": present.tencent_time(a.created_at),
        "UpdateTime": present.tencent_time(a.updated_at),
        "PasswordUpdateTime": present.tencent_time(a.password_updated_at),
        "UserType": _TYPE_NAMES[a.type],
        "OpenCam": False,
        "PGRoles": list(a.roles),
    }


def _database(d: Database) -> f.Database:
    return {
        "DatabaseName": d.name,
        "DatabaseOwner": d.owner,
        "Encoding": d.encoding,
        "Collate": d.collate,
        "Ctype": d.ctype,
        "AllowConn": d.allow_conn,
        "ConnLimit": d.conn_limit,
        "Privileges": d.privileges,
    }


def _privileges(found: Sequence[ObjectPrivileges]) -> list[f.DatabasePrivilege]:
    return [{"Object": _object_out(p.target), "PrivilegeSet": list(p.privileges)} for p in found]


class AccountActions:
    """The handlers of this area, bound to one container."""

    def __init__(self, container: Container) -> None:
        self.c = container

    # --- accounts --------------------------------------------------------------------------------
    def create_account(self, ctx: ActionContext, req: s.CreateAccountRequest) -> f.CreateAccountResponse:
        if req.open_cam:
            raise InvalidInput("CAM sign-in is not available here: accounts sign in with a password", field="open_cam")
        self.c.accounts.create_account(
            ctx.caller.tenant_id,
            req.db_instance_id,
            req.user_name,
            _account_type(req.type, "type"),
            req.password,
            req.remark or "",
        )
        return {}

    def describe_accounts(self, ctx: ActionContext, req: s.DescribeAccountsRequest) -> f.DescribeAccountsResponse:
        order_by = req.order_by or "createTime"
        if order_by not in _ORDER_BY:
            raise InvalidInput(f"OrderBy is one of {', '.join(_ORDER_BY)}", field="order_by")
        direction = (req.order_by_type or "desc").lower()
        if direction not in ("asc", "desc"):
            raise InvalidInput("OrderByType is asc or desc", field="order_by_type")
        total, accounts = self.c.accounts.describe_accounts(
            ctx.caller.tenant_id,
            req.db_instance_id,
            _page(req.offset, req.limit),
            _ORDER_BY[order_by],
            descending=direction == "desc",
        )
        code = self.c.instances.get(ctx.caller.tenant_id, req.db_instance_id).code
        return {"TotalCount": total, "Details": [_account_info(code, a) for a in accounts]}

    def reset_account_password(
        self, ctx: ActionContext, req: s.ResetAccountPasswordRequest
    ) -> f.ResetAccountPasswordResponse:
        self.c.accounts.reset_password(ctx.caller.tenant_id, req.db_instance_id, req.user_name, req.password)
        return {}

    def delete_account(self, ctx: ActionContext, req: s.DeleteAccountRequest) -> f.DeleteAccountResponse:
        self.c.accounts.delete_account(ctx.caller.tenant_id, req.db_instance_id, req.user_name)
        return {}

    def lock_account(self, ctx: ActionContext, req: s.LockAccountRequest) -> f.LockAccountResponse:
        self.c.accounts.set_locked(ctx.caller.tenant_id, req.db_instance_id, req.user_name, True)
        return {}

    def unlock_account(self, ctx: ActionContext, req: s.UnlockAccountRequest) -> f.UnlockAccountResponse:
        self.c.accounts.set_locked(ctx.caller.tenant_id, req.db_instance_id, req.user_name, False)
        return {}

    def modify_account_remark(
        self, ctx: ActionContext, req: s.ModifyAccountRemarkRequest
    ) -> f.ModifyAccountRemarkResponse:
        self.c.accounts.modify_remark(ctx.caller.tenant_id, req.db_instance_id, req.user_name, req.remark)
        return {}

    def modify_account_privileges(
        self, ctx: ActionContext, req: s.ModifyAccountPrivilegesRequest
    ) -> f.ModifyAccountPrivilegesResponse:
        changes = [_change(m) for m in req.modify_privilege_set]
        self.c.accounts.modify_privileges(ctx.caller.tenant_id, req.db_instance_id, req.user_name, changes)
        return {}

    def describe_account_privileges(
        self, ctx: ActionContext, req: s.DescribeAccountPrivilegesRequest
    ) -> f.DescribeAccountPrivilegesResponse:
        objects = [_object(o, "object") for o in req.database_object_set]
        found = self.c.accounts.describe_privileges(ctx.caller.tenant_id, req.db_instance_id, req.user_name, objects)
        return {"PrivilegeSet": _privileges(found)}

    # --- databases -------------------------------------------------------------------------------
    def create_database(self, ctx: ActionContext, req: s.CreateDatabaseRequest) -> f.CreateDatabaseResponse:
        spec = DatabaseSpec(
            req.database_name, req.database_owner, req.encoding or "UTF8", req.collate or "", req.ctype or ""
        )
        self.c.accounts.create_database(ctx.caller.tenant_id, req.db_instance_id, spec)
        return {}

    def describe_databases(self, ctx: ActionContext, req: s.DescribeDatabasesRequest) -> f.DescribeDatabasesResponse:
        parts: list[str] = []
        for flt in req.filters or ():
            if flt.name != _DATABASE_NAME_FILTER:
                raise InvalidInput(f"filter {flt.name!r} is unknown (only {_DATABASE_NAME_FILTER})", field="filters")
            parts.extend(flt.values or ())
        total, databases = self.c.accounts.describe_databases(
            ctx.caller.tenant_id, req.db_instance_id, parts, _page(req.offset, req.limit)
        )
        return {
            "Items": [d.name for d in databases],
            "TotalCount": total,
            "Databases": [_database(d) for d in databases],
        }

    def modify_database_owner(
        self, ctx: ActionContext, req: s.ModifyDatabaseOwnerRequest
    ) -> f.ModifyDatabaseOwnerResponse:
        self.c.accounts.modify_database_owner(
            ctx.caller.tenant_id, req.db_instance_id, req.database_name, req.database_owner
        )
        return {}

    def delete_database(self, ctx: ActionContext, req: s.DeleteDatabaseRequest) -> f.DeleteDatabaseResponse:
        self.c.accounts.delete_database(ctx.caller.tenant_id, req.db_instance_id, req.database_name)
        return {}

    def describe_database_objects(
        self, ctx: ActionContext, req: s.DescribeDatabaseObjectsRequest
    ) -> f.DescribeDatabaseObjectsResponse:
        where = DbObject(ObjectType.DATABASE, "", req.database_name or "", req.schema_name or "", req.table_name or "")
        total, names = self.c.accounts.database_objects(
            ctx.caller.tenant_id,
            req.db_instance_id,
            _object_type(req.object_type, "object_type"),
            where,
            _page(req.offset, req.limit or None),
        )
        return {"ObjectSet": names, "TotalCount": total}
