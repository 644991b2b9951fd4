"""Huawei RDS v1 error answers: ``{"errCode": "RDS.NNNN", "externalMessage": "..."}``.

Every error this face sends is a :class:`HuaweiApiError`: an HTTP status, an ``RDS.`` code and a
message in English and in Chinese; the caller's ``X-Language`` (``en-us`` default, ``zh-cn``) picks
the language. Two sources produce them:

* the wire layer (body not JSON, a missing or mistyped field, a token problem, an unknown datastore
  or action), through the factory functions at the end of this module;
* handlers, which let :mod:`openrds.domain.errors` classes through: :func:`from_domain` translates
  them with :data:`DOMAIN_ERRORS`, the one table from domain class to answer, resolved by MRO (a new
  subclass answers with its parent's row until it gets its own).

The codes are ours (public material confirms only the format and ``RDS.0005`` for a server error):
``0xxx`` the request itself, ``1xxx`` values, ``2xxx`` catalogue, ``3xxx`` missing resources,
``4xxx`` credentials, ``5xxx`` state and rules, ``9xxx`` capacity. Never renumber one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from openrds.domain import errors as domain

Language = Literal["en-us", "zh-cn"]


def language_of(header: str | None) -> Language:
    """``X-Language``: ``zh-cn`` (any case, ``zh`` or ``zh_CN`` too) means Chinese, anything else English."""
    return "zh-cn" if (header or "").strip().lower().startswith("zh") else "en-us"


@dataclass(frozen=True, slots=True)
class Text:
    """One phrase in both answer languages."""

    en: str
    zh: str

    def get(self, language: Language) -> str:
        return self.zh if language == "zh-cn" else self.en


class HuaweiApiError(Exception):
    """An error answer. The message must hold no secret: it is sent as is."""

    def __init__(self, status: int, code: str, text: Text) -> None:
        super().__init__(f"{code}: {text.en}")
        self.status = status
        self.code = code
        self.text = text

    def body(self, language: Language) -> dict[str, Any]:
        return {"errCode": self.code, "externalMessage": self.text.get(language)}


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    code: str
    summary: Text


#: Domain error class -> answer. Every class of ``openrds.domain.errors`` has a row, so this reads as
#: the complete contract; :func:`spec_for` still falls back along the MRO for classes added later.
DOMAIN_ERRORS: Mapping[type[domain.OpenRDSError], ErrorSpec] = {
    domain.OpenRDSError: ErrorSpec(400, "RDS.0004", Text("The operation failed", "操作失败")),
    # --- input values
    domain.InvalidInput: ErrorSpec(400, "RDS.0003", Text("Invalid parameter value", "参数值不合法")),
    domain.MissingInput: ErrorSpec(400, "RDS.0002", Text("A required parameter is missing", "缺少必选参数")),
    domain.InvalidName: ErrorSpec(400, "RDS.1001", Text("Invalid instance name", "实例名称不合法")),
    domain.NameTooLong: ErrorSpec(400, "RDS.1002", Text("The name is too long", "名称长度超过限制")),
    domain.InvalidPassword: ErrorSpec(
        400, "RDS.1003", Text("The password does not meet the complexity rules", "密码不符合复杂度要求")
    ),
    domain.InvalidAccountName: ErrorSpec(
        400, "RDS.1004", Text("The account name is invalid or reserved", "账号名称不合法或为保留字")
    ),
    domain.InvalidCharset: ErrorSpec(400, "RDS.1005", Text("Invalid character set", "字符集不合法")),
    domain.InvalidStorage: ErrorSpec(400, "RDS.1006", Text("Invalid storage size", "存储空间大小不合法")),
    domain.StorageBelowUsed: ErrorSpec(
        400, "RDS.2060", Text("The storage size is below what the data already takes", "存储空间小于已使用空间")
    ),
    domain.BelowStandbyFloor: ErrorSpec(
        400,
        "RDS.2061",
        Text("A read-only instance cannot be smaller than its master needs", "只读实例规格不能低于主实例要求"),
    ),
    domain.InvalidInstanceCount: ErrorSpec(400, "RDS.1007", Text("Invalid number of instances", "实例数量不合法")),
    domain.InvalidPeriod: ErrorSpec(400, "RDS.1008", Text("Invalid purchase period", "购买时长不合法")),
    domain.InvalidChargeType: ErrorSpec(400, "RDS.1009", Text("Invalid billing mode", "计费模式不合法")),
    domain.InvalidWeight: ErrorSpec(400, "RDS.1010", Text("Invalid weight", "权重不合法")),
    # --- catalogue
    domain.UnknownRegion: ErrorSpec(400, "RDS.2001", Text("Invalid region", "区域不合法")),
    domain.UnknownZone: ErrorSpec(400, "RDS.2002", Text("Invalid availability zone", "可用区不合法")),
    domain.UnknownSpec: ErrorSpec(
        400, "RDS.2003", Text("The flavor does not exist or is not allowed here", "规格不存在或不适用于此实例")
    ),
    domain.UnknownVersion: ErrorSpec(
        400, "RDS.2004", Text("The database version is not supported", "数据库版本不支持")
    ),
    # RDS.2005 is the wire layer's unknown datastore (see unknown_datastore below).
    domain.UnknownProject: ErrorSpec(400, "RDS.2006", Text("Invalid project", "项目不合法")),
    domain.UnknownNetwork: ErrorSpec(
        400, "RDS.2007", Text("The VPC, subnet or security group does not exist", "虚拟私有云、子网或安全组不存在")
    ),
    domain.InvalidParameterValue: ErrorSpec(
        400, "RDS.2040", Text("The parameter value is invalid", "参数值无效")
    ),
    domain.ParameterNotModifiable: ErrorSpec(
        400, "RDS.2041", Text("The parameter does not exist or cannot be modified", "参数不存在或不可修改")
    ),
    # --- resources: another tenant's (or another project's) resource does not exist for the caller
    domain.NotFound: ErrorSpec(404, "RDS.3001", Text("The resource does not exist", "资源不存在")),
    domain.InstanceNotFound: ErrorSpec(404, "RDS.3002", Text("The DB instance does not exist", "数据库实例不存在")),
    domain.GroupNotFound: ErrorSpec(404, "RDS.3003", Text("The read-only group does not exist", "只读组不存在")),
    domain.JobNotFound: ErrorSpec(404, "RDS.3004", Text("The job does not exist", "任务不存在")),
    domain.OrderNotFound: ErrorSpec(404, "RDS.3005", Text("The order does not exist", "订单不存在")),
    domain.BackupNotFound: ErrorSpec(404, "RDS.3010", Text("The backup does not exist", "备份不存在")),
    domain.BackupPlanNotFound: ErrorSpec(404, "RDS.3011", Text("The backup policy does not exist", "备份策略不存在")),
    # Security groups (Tencent's actions and `openrds admin`; v1 has no such calls, the rows keep the table whole).
    domain.SecurityGroupNotFound: ErrorSpec(404, "RDS.3060", Text("The security group does not exist", "安全组不存在")),
    domain.SecurityGroupInUse: ErrorSpec(
        409, "RDS.5060", Text("The security group is still bound to resources", "安全组仍绑定了资源")
    ),
    domain.NetworkLimit: ErrorSpec(
        400, "RDS.5061", Text("The number of networks is out of the allowed range", "网络数量超出限制")
    ),
    domain.TemplateNotFound: ErrorSpec(
        404, "RDS.3040", Text("The parameter template does not exist", "参数模板不存在")
    ),
    # --- accounts and databases (Tencent's actions; v1 has no such calls, the rows keep the table whole)
    domain.AccountNameFormat: ErrorSpec(400, "RDS.2050", Text("The account name is malformed", "账号名称格式错误")),
    domain.ReservedAccountName: ErrorSpec(400, "RDS.2051", Text("The account name is reserved", "账号名称为保留字")),
    domain.PasswordLength: ErrorSpec(400, "RDS.2052", Text("The password length is invalid", "密码长度错误")),
    domain.PasswordTooWeak: ErrorSpec(400, "RDS.2053", Text("The password is too weak", "密码强度不足")),
    domain.DatabaseNameFormat: ErrorSpec(400, "RDS.2054", Text("The database name is invalid", "数据库名称不合法")),
    domain.InvalidDatabaseObject: ErrorSpec(
        400, "RDS.2055", Text("The database object is invalid", "数据库对象不合法")
    ),
    domain.UnknownCollation: ErrorSpec(400, "RDS.2056", Text("The character set does not exist", "字符集不存在")),
    domain.InvalidOwner: ErrorSpec(400, "RDS.2057", Text("The owner account does not exist", "属主账号不存在")),
    domain.AccountExists: ErrorSpec(409, "RDS.2058", Text("The account exists", "账号已存在")),
    domain.DatabaseExists: ErrorSpec(409, "RDS.2059", Text("The database exists", "数据库已存在")),
    domain.AccountNotFound: ErrorSpec(404, "RDS.3050", Text("The account does not exist", "账号不存在")),
    domain.DatabaseNotFound: ErrorSpec(404, "RDS.3051", Text("The database does not exist", "数据库不存在")),
    domain.AccountOperationDenied: ErrorSpec(
        403, "RDS.5050", Text("This operation is not allowed on this account", "该账号不允许此操作")
    ),
    domain.AccountHasObjects: ErrorSpec(409, "RDS.5051", Text("The account still owns objects", "账号仍拥有对象")),
    domain.InstanceNotServing: ErrorSpec(
        409, "RDS.5052", Text("The DB instance is not running", "数据库实例未在运行")
    ),
    domain.ReadOnlyInstanceDenied: ErrorSpec(
        409, "RDS.5053", Text("Read-only instances do not allow this operation", "只读实例不允许该操作")
    ),
    domain.EngineFailed: ErrorSpec(500, "RDS.5054", Text("The database engine could not do it", "数据库引擎操作失败")),
    # --- credentials (the wire layer's token checks answer with the same codes)
    domain.AuthenticationFailed: ErrorSpec(401, "RDS.4001", Text("Authentication failed", "认证失败")),
    domain.SignInLocked: ErrorSpec(429, "RDS.4029", Text("Too many failed sign-ins", "登录失败次数过多")),
    domain.Forbidden: ErrorSpec(403, "RDS.4003", Text("The operation is not authorized", "操作未授权")),
    # --- state and rules
    domain.OperationDenied: ErrorSpec(409, "RDS.5000", Text("The operation is not allowed", "不允许此操作")),
    domain.InvalidInstanceState: ErrorSpec(
        409, "RDS.5001", Text("The DB instance status does not allow this operation", "数据库实例当前状态不允许此操作")
    ),
    domain.NotAPrimary: ErrorSpec(
        400,
        "RDS.5002",
        Text("Read replicas can be created only from a master instance", "只能为主实例创建只读实例"),
    ),
    domain.ReplicaLimitExceeded: ErrorSpec(
        400,
        "RDS.5003",
        Text("The master instance has reached its maximum number of read replicas", "主实例的只读实例数量已达上限"),
    ),
    domain.GroupMismatch: ErrorSpec(
        400, "RDS.5004", Text("The read-only group does not match the instance", "只读组与实例不匹配")
    ),
    domain.GroupNotEmpty: ErrorSpec(
        409, "RDS.5005", Text("The read-only group still has instances", "只读组中仍有实例")
    ),
    domain.GroupStateDenied: ErrorSpec(
        409, "RDS.5006", Text("The read-only group status does not allow this operation", "只读组当前状态不允许此操作")
    ),
    domain.DeletionProtected: ErrorSpec(
        409, "RDS.5007", Text("The DB instance is protected against deletion", "数据库实例已开启删除保护")
    ),
    domain.InsufficientBalance: ErrorSpec(400, "RDS.5008", Text("Insufficient account balance", "账户余额不足")),
    domain.QuotaExceeded: ErrorSpec(400, "RDS.5009", Text("The quota is exceeded", "超出配额")),
    domain.NotPrepaid: ErrorSpec(
        400, "RDS.5010", Text("Only prepaid instances can be renewed", "仅包年包月实例可续费")
    ),
    domain.VoucherRefused: ErrorSpec(400, "RDS.1011", Text("The voucher cannot be used", "代金券不可用")),
    domain.BackupDenied: ErrorSpec(
        409, "RDS.5020", Text("The backup operation is not allowed now", "当前不允许该备份操作")
    ),
    # --- capacity and internals
    domain.ResourceExhausted: ErrorSpec(
        503, "RDS.9001", Text("Not enough resources to fulfil the request", "资源不足，无法完成请求")
    ),
    domain.StoreBusy: ErrorSpec(
        503, "RDS.9002",
        Text("The service is busy; nothing was changed, please try again", "服务繁忙，未做任何修改，请稍后重试"),
    ),
    domain.InternalFailure: ErrorSpec(500, "RDS.0005", Text("Server error", "服务器错误")),
}

#: Domain field names (``OpenRDSError.field``) -> the Huawei request field they come from.
FIELD_NAMES: Mapping[str, str] = {
    "name": "name",
    "instance_name": "name",
    "spec": "flavorRef",
    "spec_code": "flavorRef",
    "storage": "volume.size",
    "zone": "availabilityZone",
    "region": "region",
    "version": "datastore.version",
    "admin_password": "dbRtPd",
    "password": "dbRtPd",
    "vpc_id": "vpc",
    "subnet_id": "nics.subnetId",
    "security_group_ids": "securityGroup.id",
    "master_id": "replicaOf",
    "master_instance_id": "replicaOf",
    "instance_count": "replicaOf",
    "job_id": "id",
    "project": "project_id",
    "project_id": "project_id",
    "port": "dbPort",
    "backup_id": "backupRef",
    "recovery_target_time": "restorePoint.restoreTime",
    "target_time": "restorePoint.restoreTime",
}


def spec_for(cls: type[domain.OpenRDSError]) -> ErrorSpec:
    """The row for a domain error class, else its nearest ancestor's."""
    return domain.resolve(DOMAIN_ERRORS, cls)


def from_domain(exc: domain.OpenRDSError) -> HuaweiApiError:
    """``<summary>[ (field)]: <domain message>``; domain messages are English, so the Chinese answer
    carries the detail after a Chinese summary."""
    spec = spec_for(type(exc))
    field = FIELD_NAMES.get(exc.field, exc.field) if exc.field else None
    en_where, zh_where = (f" ({field})", f"（{field}）") if field else ("", "")
    text = Text(f"{spec.summary.en}{en_where}: {exc.message}", f"{spec.summary.zh}{zh_where}：{exc.message}")
    return HuaweiApiError(spec.status, spec.code, text)


# --- the wire layer's own errors -----------------------------------------------------------------
def malformed_body(reason: str) -> HuaweiApiError:
    """The body is not a JSON object."""
    return HuaweiApiError(
        400, "RDS.0001", Text(f"The request body is not valid JSON: {reason}", f"请求体不是合法的JSON：{reason}")
    )


def body_too_large(limit: int) -> HuaweiApiError:
    """The body is longer than the face reads (``limit`` bytes); the rest was not read."""
    mib = limit // (1024 * 1024)
    return HuaweiApiError(
        413, "RDS.0007", Text(f"The request body is larger than {mib} MiB", f"请求体超过 {mib} MiB")
    )


def missing_parameter(name: str) -> HuaweiApiError:
    return HuaweiApiError(400, "RDS.0002", Text(f"A required parameter is missing: {name}", f"缺少必选参数：{name}"))


def invalid_parameter(name: str, problem: str) -> HuaweiApiError:
    return HuaweiApiError(
        400, "RDS.0003", Text(f"Invalid parameter value ({name}): {problem}", f"参数值不合法（{name}）：{problem}")
    )


def unsupported_action(names: str) -> HuaweiApiError:
    return HuaweiApiError(
        400, "RDS.0006", Text(f"The action is not supported: {names or '(none)'}", f"不支持该操作：{names or '（无）'}")
    )


def unknown_datastore(name: str) -> HuaweiApiError:
    return HuaweiApiError(
        400,
        "RDS.2005",
        Text(
            f"The datastore {name} is not supported; only PostgreSQL is", f"不支持数据库引擎 {name}，仅支持PostgreSQL"
        ),
    )


def token_missing() -> HuaweiApiError:
    return HuaweiApiError(
        401,
        "RDS.4001",
        Text("Authentication failed: the X-Auth-Token header is missing", "认证失败：缺少X-Auth-Token请求头"),
    )


def wrong_project(project_id: str) -> HuaweiApiError:
    return HuaweiApiError(
        403,
        "RDS.4003",
        Text(
            f"The operation is not authorized: the token is not scoped to project {project_id}",
            f"操作未授权：Token的作用域不是项目 {project_id}",
        ),
    )


def internal_error() -> HuaweiApiError:
    return HuaweiApiError(500, "RDS.0005", Text("Server error", "服务器错误"))
