"""Response shapes of the account and database actions (:mod:`.schemas`), transcribed from tccli's API table.

Same rules as :mod:`openrds.api.tencent.fields`: one TypedDict per nested structure and one
``<Action>Response`` per action without ``RequestId``; ``output_required: false`` -> ``NotRequired``.
The comment above each field is the table's own description, trimmed.
"""

# No ``from __future__ import annotations``: ``NotRequired`` must be visible at run time.
from typing import NotRequired, TypedDict


class DatabaseObject(TypedDict):
    """``DatabaseObject``: 描述数据库中某个对象所属的类型、是在哪个数据库、模式、表中的对象。"""

    # 支持使用的数据库对象类型有：account,database,schema,sequence,procedure,type,function,table,view,matview,column。
    ObjectType: str
    # 所描述的数据库对象名称，或者当ModifyType为grantRole / revokeRole时，必须等于顶层UserName
    ObjectName: str
    # 所要描述的数据库对象，所属的数据库名称。当描述对象类型不为database时，此参数必选。
    DatabaseName: NotRequired[str]
    # 所要描述的数据库对象，所属的模式名称。当描述对象不为database、schema时，此参数必选。
    SchemaName: NotRequired[str]
    # 所要描述的数据库对象，所属的表名称。当描述的对象类型为column时，此参数必填。
    TableName: NotRequired[str]


class DatabasePrivilege(TypedDict):
    """``DatabasePrivilege``: 指定账号对数据库对象拥有的权限列表"""

    # 数据库对象，当ObjectType为database时，DatabaseName/SchemaName/TableName可为空；当ObjectType为schema时，SchemaNam…
    Object: NotRequired[DatabaseObject | None]
    # 指定账号对数据库对象拥有的权限列表，或者角色权限修改
    PrivilegeSet: NotRequired[list[str] | None]


class AccountInfo(TypedDict):
    """``AccountInfo``: 账户信息"""

    # 实例ID，形如postgres-lnp6j617
    DBInstanceId: str
    # 账号
    UserName: str
    # 账号备注
    Remark: str
    # 账号状态。 1-创建中，2-正常，3-修改中，4-密码重置中，5-锁定中，-1-删除中
    Status: int
    # 账号创建时间
    CreateTime: str
    # 账号最后一次更新时间
    UpdateTime: str
    # 账号密码最近一次修改时间。  此字段只在2025-10-31后才生效，之前无论是否修改密码，该值统一为默认值：0000-00-00 00:…
    PasswordUpdateTime: str
    # 账号类型。支持normal、tencentDBSuper。normal指代普通用户，tencentDBSuper为拥有pg_tencentdb_superuser角色的账号。
    UserType: NotRequired[str]
    # 用户账号是否启用CAM验证
    OpenCam: NotRequired[bool]
    # 该账号实际加入了哪些预设角色
    PGRoles: NotRequired[list[str]]


class Database(TypedDict):
    """``Database``: 描述数据库详细信息，包括所有者、字符编码等"""

    # 数据库名
    DatabaseName: str
    # 数据库所有者
    DatabaseOwner: str
    # 数据库字符编码
    Encoding: str
    # 数据库排序规则
    Collate: str
    # 数据库字符分类
    Ctype: str
    # 数据库是否允许连接
    AllowConn: bool
    # 数据库最大连接数，-1表示无限制
    ConnLimit: int
    # 数据库权限列表
    Privileges: str


class CreateAccountResponse(TypedDict):
    """``CreateAccount`` result (the router adds ``RequestId``)."""


class DescribeAccountsResponse(TypedDict):
    """``DescribeAccounts`` result (the router adds ``RequestId``)."""

    # 本次调用接口共返回了多少条数据。
    TotalCount: int
    # 账号列表详细信息。当CreateTime项为0000-00-00 00:00:00时，意味着对应账号是直连数据库创建的，并非通过CreateAccount…
    Details: list[AccountInfo]


class ResetAccountPasswordResponse(TypedDict):
    """``ResetAccountPassword`` result (the router adds ``RequestId``)."""


class DeleteAccountResponse(TypedDict):
    """``DeleteAccount`` result (the router adds ``RequestId``)."""


class LockAccountResponse(TypedDict):
    """``LockAccount`` result (the router adds ``RequestId``)."""


class UnlockAccountResponse(TypedDict):
    """``UnlockAccount`` result (the router adds ``RequestId``)."""


class ModifyAccountRemarkResponse(TypedDict):
    """``ModifyAccountRemark`` result (the router adds ``RequestId``)."""


class ModifyAccountPrivilegesResponse(TypedDict):
    """``ModifyAccountPrivileges`` result (the router adds ``RequestId``)."""


class DescribeAccountPrivilegesResponse(TypedDict):
    """``DescribeAccountPrivileges`` result (the router adds ``RequestId``)."""

    # 用户拥有数据库user_database的CREATE、CONNECT、TEMPORARY权限
    PrivilegeSet: NotRequired[list[DatabasePrivilege]]


class CreateDatabaseResponse(TypedDict):
    """``CreateDatabase`` result (the router adds ``RequestId``)."""


class DescribeDatabasesResponse(TypedDict):
    """``DescribeDatabases`` result (the router adds ``RequestId``)."""

    # 数据库信息
    Items: list[str]
    # 数据库总数
    TotalCount: int
    # 数据库详情列表
    Databases: list[Database]


class ModifyDatabaseOwnerResponse(TypedDict):
    """``ModifyDatabaseOwner`` result (the router adds ``RequestId``)."""


class DeleteDatabaseResponse(TypedDict):
    """``DeleteDatabase`` result (the router adds ``RequestId``)."""


class DescribeDatabaseObjectsResponse(TypedDict):
    """``DescribeDatabaseObjects`` result (the router adds ``RequestId``)."""

    # 查询对象列表。
    ObjectSet: NotRequired[list[str] | None]
    # 查询对象总数量
    TotalCount: NotRequired[int]
