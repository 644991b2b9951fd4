"""Tencent Cloud API 3.0 error answers: codes, bilingual messages, and the one domain-error table.

Every error the Tencent dialect sends is a :class:`TencentApiError`: a code such as
``ResourceNotFound.InstanceNotFoundError`` plus a message in English and in Chinese; the router picks
the language the caller asked for (``X-TC-Language``).

Two sources produce them:

* the wire layer itself (authentication, action, version, region, parameters, rate limit), through
  the small factory functions at the end of this module, one per common code;
* handlers, which raise :mod:`openrds.domain.errors` classes. :func:`from_domain` turns those into
  answers through :data:`DOMAIN_ERRORS`, the single table from domain class to Tencent code. It is
  resolved by MRO, so a new subclass answers with its parent's code until it gets its own row.

Handlers that need a code no domain class expresses may raise :class:`TencentApiError` directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from openrds.domain import errors as domain

Language = Literal["en-US", "zh-CN"]


@dataclass(frozen=True)
class Text:
    """One phrase in both answer languages."""

    en: str
    zh: str

    def get(self, language: Language) -> str:
        """The phrase in ``language`` (``zh-CN`` -> Chinese, anything else -> English)."""
        return self.zh if language == "zh-CN" else self.en


class TencentApiError(Exception):
    """An error answer: ``{"Error": {"Code": code, "Message": message(language)}}``.

    :param code: the Tencent error code, e.g. ``InvalidParameterValue.IllegalZone``.
    :param text: the message in both languages; it must not contain secrets or stack traces
        because it is sent to the caller as is.
    """

    def __init__(self, code: str, text: Text) -> None:
        super().__init__(f"{code}: {text.en}")
        self.code = code
        self.text = text

    def message(self, language: Language) -> str:
        """The message in the caller's language."""
        return self.text.get(language)


# --- domain errors -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ErrorSpec:
    """How one domain error class is answered: the code and a one-line summary of its meaning.

    The message sent is ``<summary>[ (parameter `<Param>`)]: <domain message>``; the summaries follow
    the descriptions of ``tencentcloud/postgres/v20170312/errorcodes.py`` and the API documents.
    """

    code: str
    summary: Text


#: Domain error class -> Tencent answer. Resolved by MRO (:func:`spec_for`): only classes whose code
#: differs from their parent's need a row, but every class of ``openrds.domain.errors`` has one so
#: the table reads as the complete contract.
DOMAIN_ERRORS: Mapping[type[domain.OpenRDSError], ErrorSpec] = {
    # Root: a domain error nobody classified more precisely.
    domain.OpenRDSError: ErrorSpec("FailedOperation", Text("Operation failed", "操作失败")),
    # --- input
    domain.InvalidInput: ErrorSpec(
        "InvalidParameterValue.InvalidParameterValueError", Text("Incorrect parameter value", "参数值有误")
    ),
    domain.MissingInput: ErrorSpec("MissingParameter", Text("A required parameter is missing", "缺少必选参数")),
    domain.InvalidName: ErrorSpec(
        "InvalidParameterValue.ParameterCharacterError",
        Text(
            "Invalid parameter: only letters, digits, Chinese characters, underscores and hyphens are allowed",
            "参数无效，只允许英文字母、数字、下划线、中划线，以及全体汉字",
        ),
    ),
    domain.NameTooLong: ErrorSpec(
        "InvalidParameterValue.ParameterLengthLimitError",
        Text("The length of the parameter exceeds the limit", "参数长度超过限制"),
    ),
    domain.InvalidPassword: ErrorSpec(
        "InvalidParameterValue.InvalidPasswordFormat", Text("Incorrect password format", "密码格式不正确")
    ),
    domain.InvalidAccountName: ErrorSpec(
        "InvalidParameterValue.InvalidAccountName",
        Text("The account name is malformed or reserved", "账号名称不合法或为保留字"),
    ),
    domain.InvalidCharset: ErrorSpec(
        "InvalidParameterValue.InvalidCharset",
        Text(
            "Incorrect database character set; only UTF8 and LATIN1 are supported",
            "数据库字符集错误，当前只支持UTF8、LATIN1",
        ),
    ),
    domain.InvalidStorage: ErrorSpec(
        "InvalidParameterValue.InvalidParameterValueError",
        Text("Incorrect storage value", "磁盘容量取值有误"),
    ),
    # ModifyDBInstanceSpec / InquiryPriceUpgradeDBInstance: storage below the data already held.
    domain.StorageBelowUsed: ErrorSpec(
        "InvalidParameterValue.InvalidInstanceVolume",
        Text("The storage is smaller than what the instance uses", "磁盘容量小于实例已使用的容量"),
    ),
    # ModifyDBInstanceSpec of a read-only instance below its master's standby floor.
    domain.BelowStandbyFloor: ErrorSpec(
        "InvalidParameterValue.BadSpec",
        Text("The spec is below what a read-only instance of this master needs",
             "该规格低于主实例对只读实例的最低要求"),
    ),
    domain.InvalidInstanceCount: ErrorSpec(
        "InvalidParameterValue.InvalidInstanceNum",
        Text("The number of instances to purchase is out of the allowed range", "购买实例数超过限制"),
    ),
    domain.InvalidPeriod: ErrorSpec(
        "InvalidParameterValue.InvalidParameterValueError",
        Text("Incorrect purchase period", "购买时长取值有误"),
    ),
    domain.InvalidChargeType: ErrorSpec(
        "InvalidParameterValue.IllegalInstanceChargeType", Text("Incorrect billing mode", "计费模式错误")
    ),
    # Weights are 1-50; the SDK's own code for "outside the settable range".
    domain.InvalidWeight: ErrorSpec(
        "InvalidParameterValue.ParameterOutOfRange",
        Text("The parameter is out of the settable range", "参数超出可设置范围"),
    ),
    # A voucher that cannot pay (unknown or another tenant's, expired, used, more than one, or for a
    # postpaid purchase): its parameter value is wrong; the message names `VoucherIds` and says why.
    domain.VoucherRefused: ErrorSpec(
        "InvalidParameterValue.InvalidParameterValueError",
        Text("The voucher cannot be used", "代金券不可用"),
    ),
    # --- catalogue
    domain.UnknownRegion: ErrorSpec(
        "InvalidParameterValue.IllegalRegion", Text("Invalid Region parameter", "非法的Region参数")
    ),
    domain.UnknownZone: ErrorSpec(
        "InvalidParameterValue.IllegalZone", Text("Invalid Zone parameter", "非法的Zone参数")
    ),
    domain.UnknownSpec: ErrorSpec(
        "InvalidParameterValue.BadSpec",
        Text("The instance specification is not purchasable", "该实例规格目前不售卖"),
    ),
    # No version-specific code exists in 2017-03-12 besides kernel upgrades; the generic one it is.
    domain.UnknownVersion: ErrorSpec(
        "InvalidParameterValue.InvalidParameterValueError",
        Text("The PostgreSQL version is not available", "该PostgreSQL版本不可用"),
    ),
    domain.UnknownProject: ErrorSpec(
        "InvalidParameterValue.IllegalProjectId", Text("Invalid ProjectId", "非法ProjectId")
    ),
    domain.UnknownNetwork: ErrorSpec(
        "InvalidParameter.VpcNotFoundError", Text("Failed to query VPC information", "未获取到VPC信息")
    ),
    # The code DescribeDBInstanceParameters documents for a bad parameter; ModifyDBInstanceParameters' own
    # (DataConvertError, "failed to convert the data") says less about which value and why.
    domain.InvalidParameterValue: ErrorSpec(
        "InvalidParameterValue.InvalidParameterValueError", Text("Incorrect parameter value", "参数值有误")
    ),
    domain.ParameterNotModifiable: ErrorSpec(
        "InvalidParameterValue.InvalidParameterValueError", Text("Incorrect parameter value", "参数值有误")
    ),
    # --- resources
    domain.NotFound: ErrorSpec("ResourceNotFound", Text("The resource does not exist", "资源不存在")),
    domain.InstanceNotFound: ErrorSpec(
        "ResourceNotFound.InstanceNotFoundError", Text("The instance does not exist", "实例不存在")
    ),
    domain.GroupNotFound: ErrorSpec(
        "FailedOperation.ROGroupNotFoundError", Text("The RO group does not exist", "只读组不存在")
    ),
    domain.JobNotFound: ErrorSpec("ResourceNotFound", Text("The task does not exist", "任务不存在")),
    # No parameter-template "not found" code exists in 2017-03-12: the common one, naming the parameter.
    domain.TemplateNotFound: ErrorSpec(
        "ResourceNotFound", Text("The parameter template does not exist", "参数模板不存在")
    ),
    # No backup-specific "not found" code exists in 2017-03-12; the common one, naming the parameter.
    domain.BackupNotFound: ErrorSpec("ResourceNotFound", Text("The backup does not exist", "备份不存在")),
    domain.BackupPlanNotFound: ErrorSpec("ResourceNotFound", Text("The backup plan does not exist", "备份计划不存在")),
    # An unknown (or another tenant's) deal name: the billing code for an invalid order.
    domain.OrderNotFound: ErrorSpec(
        "InvalidParameterValue.InvalidOrderNum", Text("Billing error: invalid order", "计费相关错误，订单无效")
    ),
    # --- state and rules
    domain.OperationDenied: ErrorSpec("OperationDenied", Text("The operation is denied", "操作被拒绝")),
    domain.InvalidInstanceState: ErrorSpec(
        "OperationDenied.InstanceStatusLimitError",
        Text(
            "This operation cannot be performed on an instance in this status",
            "实例当前状态限制本次操作",
        ),
    ),
    # Same code as its parent InvalidInstanceState: the seed's code list for CreateReadOnlyDBInstance
    # has no "wrong instance type" code (OperationDenied.InstanceTypeDenied exists but is not listed).
    domain.NotAPrimary: ErrorSpec(
        "OperationDenied.InstanceStatusLimitError",
        Text(
            "This operation cannot be performed on an instance in this status",
            "实例当前状态限制本次操作",
        ),
    ),
    domain.ReplicaLimitExceeded: ErrorSpec(
        "OperationDenied.RoInstanceCountExeedError",
        Text(
            "The total number of read-only nodes should not exceed the upper limit",
            "只读节点总数不能超过上限值",
        ),
    ),
    # The SDK has a code for exactly this: "RO group master instance information does not match".
    domain.GroupMismatch: ErrorSpec(
        "FailedOperation.ROGroupMasterInstanceNotRight",
        Text("The RO group does not match the instance", "只读组主实例信息不匹配"),
    ),
    # The SDK has a code for exactly this: "the RO group still has instances and cannot be deleted".
    domain.GroupNotEmpty: ErrorSpec(
        "FailedOperation.ROGroupCannotBeDeletedError",
        Text(
            "The RO group still has instances and cannot be deleted",
            "只读组还有实例，该只读组不允许删除",
        ),
    ),
    domain.GroupStateDenied: ErrorSpec(
        "OperationDenied.ROGroupStatusError",
        Text(
            "This operation cannot be performed on an RO group in this status",
            "只读组状态限制当前操作",
        ),
    ),
    # "The instance is restricted from this operation" - what deletion protection is.
    domain.DeletionProtected: ErrorSpec(
        "FailedOperation.LimitOperation",
        Text("The instance is protected against deletion", "实例已开启删除保护，限制当前操作"),
    ),
    domain.InsufficientBalance: ErrorSpec(
        "OperationDenied.InsufficientBalanceError", Text("Insufficient account balance", "账号余额不足")
    ),
    # RenewInstance, InquiryPriceRenewDBInstance, SetAutoRenewFlag on a postpaid instance.
    domain.NotPrepaid: ErrorSpec(
        "OperationDenied.PostPaidPayModeError",
        Text("Postpaid instances do not support renewal", "按量付费实例不支持续费"),
    ),
    domain.QuotaExceeded: ErrorSpec("LimitExceeded", Text("The quota is exceeded", "超过配额限制")),
    # A backup rule (one under way, a young automatic set, the newest full, the default plan): the
    # message says which. OperationDenied.DeleteRunningBackupTaskErr is the one narrower code and too narrow.
    domain.BackupDenied: ErrorSpec(
        "OperationDenied", Text("The backup operation is not allowed now", "当前不允许该备份操作")
    ),
    # --- security groups and network access. No security-group code exists in 2017-03-12: an unknown
    # id is a wrong value of SecurityGroupIdSet; deleting a bound group is operator-only (openrds admin).
    domain.SecurityGroupNotFound: ErrorSpec(
        "InvalidParameterValue.InvalidParameterValueError",
        Text("The security group does not exist", "安全组不存在"),
    ),
    domain.SecurityGroupInUse: ErrorSpec(
        "OperationDenied", Text("The security group is still bound to resources", "安全组仍绑定了资源")
    ),
    # The documented code of Create/Delete*NetworkAccess: an instance has at least one network and at
    # most two; here it has exactly one (the message says why).
    domain.NetworkLimit: ErrorSpec(
        "FailedOperation.NetworkNumLimitError",
        Text("The number of networks is out of the allowed range", "网络数量超出限制"),
    ),
    # --- authentication raised by services (the wire layer raises its own AuthFailure.* codes)
    domain.AuthenticationFailed: ErrorSpec("AuthFailure", Text("Authentication failed", "鉴权失败")),
    # No Tencent action takes a password; the row keeps the table complete.
    domain.SignInLocked: ErrorSpec("RequestLimitExceeded", Text("Too many failed sign-ins", "登录失败次数过多")),
    domain.Forbidden: ErrorSpec(
        "AuthFailure.UnauthorizedOperation", Text("The operation is not authorized", "请求未授权")
    ),
    # --- capacity and internals
    domain.ResourceExhausted: ErrorSpec(
        "ResourceInsufficient.ResourceNotEnough",
        Text("There are not enough resources to fulfil the request", "资源不足，无法完成本次请求"),
    ),
    domain.StoreBusy: ErrorSpec(
        "FailedOperation.DatabaseAccessError",
        Text("The metadata store is busy; nothing was changed, please try again",
             "元数据存储繁忙，未做任何修改，请稍后重试"),
    ),
    domain.InternalFailure: ErrorSpec("InternalError.SystemError", Text("System error", "系统错误")),
    # --- accounts and databases (api/tencent/accounts): the codes of each action's documented list
    domain.AccountNameFormat: ErrorSpec(
        "InvalidParameterValue.InvalidAccountNameFormatError", Text("Incorrect account name format", "账号名称格式错误")
    ),
    domain.ReservedAccountName: ErrorSpec(
        "InvalidParameterValue.InvalidAccountNameError", Text("Invalid account name", "账号名称不合法")
    ),
    domain.PasswordLength: ErrorSpec(
        "InvalidParameterValue.InvalidPasswordLengthError", Text("Incorrect password length", "密码长度错误")
    ),
    domain.PasswordTooWeak: ErrorSpec(
        "InvalidParameterValue.InvalidPasswordValueError", Text("Incorrect password value", "密码取值错误")
    ),
    domain.DatabaseNameFormat: ErrorSpec(
        "InvalidParameterValue.InvalidDatabaseNameFormatError",
        Text("Incorrect database name format", "数据库名称格式错误"),
    ),
    domain.InvalidDatabaseObject: ErrorSpec(
        "InvalidParameterValue.InvalidDatabaseObjectName", Text("Invalid database object", "数据库对象名称不合法")
    ),
    domain.UnknownCollation: ErrorSpec(
        "InvalidParameterValue.CharsetNotFoundError",
        Text("The character set or collation does not exist", "字符集或排序规则不存在"),
    ),
    domain.InvalidOwner: ErrorSpec(
        "InvalidParameterValue.InvalidAccountError", Text("Invalid account", "账号不合法")
    ),
    domain.AccountExists: ErrorSpec("InvalidParameterValue.AccountExist", Text("The account exists", "账号已存在")),
    # No code of its own in the SDK: the parameter's value is wrong (the message names `DatabaseName`).
    domain.DatabaseExists: ErrorSpec(
        "InvalidParameterValue.InvalidParameterValueError", Text("The database exists", "数据库已存在")
    ),
    domain.AccountNotFound: ErrorSpec(
        "InvalidParameterValue.AccountNotExistError", Text("The account does not exist", "账号不存在")
    ),
    domain.DatabaseNotFound: ErrorSpec(
        "InvalidParameter.ParameterCheckError", Text("Parameter check failed", "参数检查失败")
    ),
    domain.AccountOperationDenied: ErrorSpec(
        "OperationDenied.AccountOperationDenied",
        Text("This operation is not allowed on this account", "该账号不允许此操作"),
    ),
    domain.AccountHasObjects: ErrorSpec(
        "FailedOperation.FailedOperationError", Text("Operation failed", "操作失败")
    ),
    domain.InstanceNotServing: ErrorSpec(
        "OperationDenied.InstanceStatusLimitOpError",
        Text("The instance's status does not allow this operation", "实例状态限制该操作"),
    ),
    domain.ReadOnlyInstanceDenied: ErrorSpec(
        "OperationDenied.ROInstanceStatusLimitOpError",
        Text("Read-only instances do not allow this operation", "只读实例不允许该操作"),
    ),
    domain.EngineFailed: ErrorSpec("FailedOperation.FailedOperationError", Text("Operation failed", "操作失败")),
}

#: Domain field names (``OpenRDSError.field``) -> the Tencent request parameter they come from, so a
#: message names the parameter the caller actually sent. Unlisted fields are shown as they are.
PARAMETER_NAMES: Mapping[str, str] = {
    "instance_id": "DBInstanceId",
    "master_instance_id": "MasterDBInstanceId",
    "master_id": "MasterDBInstanceId",
    "group_id": "ReadOnlyGroupId",
    "new_group_id": "NewReadOnlyGroupId",
    "job_id": "TaskId",
    "task_id": "TaskId",
    "region": "Region",
    "zone": "Zone",
    "spec": "SpecCode",
    "spec_code": "SpecCode",
    "storage": "Storage",
    "instance_count": "InstanceCount",
    "count": "InstanceCount",
    "period": "Period",
    "charge_type": "InstanceChargeType",
    "name": "Name",
    "instance_name": "InstanceName",
    "group_name": "ReadOnlyGroupName",
    "project_id": "ProjectId",
    "vpc_id": "VpcId",
    "subnet_id": "SubnetId",
    "security_group_ids": "SecurityGroupIds",
    "version": "DBVersion",
    "major_version": "DBMajorVersion",
    "kernel_version": "DBKernelVersion",
    "charset": "Charset",
    "admin_name": "AdminName",
    "admin_password": "AdminPassword",
    "password": "AdminPassword",
    "weight": "Weight",
    "tags": "TagList",
    "max_replay_lag": "MaxReplayLag",
    "max_replay_latency": "MaxReplayLatency",
    "min_delay_eliminate_reserve": "MinDelayEliminateReserve",
    "voucher_ids": "VoucherIds",
    "deal_names": "DealNames",
    "auto_renew_flag": "AutoRenewFlag",
    # accounts and databases
    "user_name": "UserName",
    "account_password": "Password",
    "type": "Type",
    "remark": "Remark",
    "open_cam": "OpenCam",
    "order_by": "OrderBy",
    "order_by_type": "OrderByType",
    "limit": "Limit",
    "offset": "Offset",
    "modify_privilege_set": "ModifyPrivilegeSet",
    "privileges": "PrivilegeSet",
    "object": "DatabaseObject",
    "object_type": "ObjectType",
    "database_name": "DatabaseName",
    "database_owner": "DatabaseOwner",
    "schema_name": "SchemaName",
    "table_name": "TableName",
    "encoding": "Encoding",
    "collate": "Collate",
    "ctype": "Ctype",
    "filters": "Filters",
    # spec changes and maintenance windows
    "memory": "Memory",
    "cpu": "Cpu",
    "switch_tag": "SwitchTag",
    "switch_start_time": "SwitchStartTime",
    "switch_end_time": "SwitchEndTime",
    "sync_modify_params": "SyncModifyParams",
    "auto_voucher": "AutoVoucher",
    "maintain_start_time": "MaintainStartTime",
    "maintain_duration": "MaintainDuration",
    "maintain_week_days": "MaintainWeekDays",
}


def spec_for(cls: type[domain.OpenRDSError]) -> ErrorSpec:
    """The row for a domain error class, else its nearest ancestor's."""
    return domain.resolve(DOMAIN_ERRORS, cls)


def from_domain(exc: domain.OpenRDSError) -> TencentApiError:
    """Translate a domain error into an answer; the message keeps the domain's text and field."""
    spec = spec_for(type(exc))
    if exc.field:
        param = PARAMETER_NAMES.get(exc.field, exc.field)
        where = Text(f" (parameter `{param}`)", f"（参数 `{param}`）")
    else:
        where = Text("", "")
    # Domain messages are English only; the Chinese answer carries them after a Chinese summary.
    return TencentApiError(
        spec.code,
        Text(
            f"{spec.summary.en}{where.en}: {exc.message}",
            f"{spec.summary.zh}{where.zh}：{exc.message}",
        ),
    )


# --- the wire layer's own errors -----------------------------------------------------------------
def unsupported_protocol(method: str) -> TencentApiError:
    """HTTP method other than POST and GET."""
    return TencentApiError(
        "UnsupportedProtocol",
        Text(
            f"The HTTP method `{method}` is not supported; use POST (or GET).",
            f"不支持HTTP方法 `{method}`，只支持POST和GET请求。",
        ),
    )


def request_size_limit_exceeded(limit: int) -> TencentApiError:
    """Request body larger than the service accepts."""
    return TencentApiError(
        "RequestSizeLimitExceeded",
        Text(
            f"The request body exceeds the limit of {limit} bytes.",
            f"请求包超过限制大小 {limit} 字节。",
        ),
    )


def invalid_request(reason: Text) -> TencentApiError:
    """A body that is not what the Content-Type promises (not JSON, not an object, ...)."""
    return TencentApiError(
        "InvalidRequest",
        Text(f"The request is malformed: {reason.en}", f"请求格式错误：{reason.zh}"),
    )


def invalid_authorization(reason: Text) -> TencentApiError:
    """Missing or malformed ``Authorization`` (or the headers it depends on)."""
    return TencentApiError(
        "AuthFailure.InvalidAuthorization",
        Text(
            f"The Authorization header does not meet the TC3-HMAC-SHA256 standard: {reason.en}",
            f"请求头部的 Authorization 不符合腾讯云标准（TC3-HMAC-SHA256）：{reason.zh}",
        ),
    )


def secret_id_not_found() -> TencentApiError:
    """The SecretId is not known (the id itself is not echoed)."""
    return TencentApiError(
        "AuthFailure.SecretIdNotFound",
        Text(
            "The SecretId is not found; please make sure it is correct and enabled.",
            "密钥不存在，请确认SecretId是否正确且已启用。",
        ),
    )


def signature_failure() -> TencentApiError:
    """The signature does not match what the server computes with the caller's SecretKey."""
    return TencentApiError(
        "AuthFailure.SignatureFailure",
        Text(
            "The provided credentials could not be validated; please check your signature is correct.",
            "请求签名验证失败，请检查您的签名计算是否正确。",
        ),
    )


def signature_reused(reason: Text) -> TencentApiError:
    """A valid signature sent again where it is not accepted (:mod:`.replay`); ``reason`` says why."""
    return TencentApiError(
        "AuthFailure.SignatureFailure",
        Text(f"The signature cannot be used again: {reason.en}.", f"签名不可重复使用：{reason.zh}。"),
    )


def too_many_signatures(window: int) -> TencentApiError:
    """The replay memory (:mod:`.replay`) is full: a new signature cannot be remembered, so it is refused."""
    return TencentApiError(
        "RequestLimitExceeded",
        Text(
            f"Too many distinct signed requests within the last {window} seconds; please retry later.",
            f"最近 {window} 秒内的不同签名请求过多，请稍后重试。",
        ),
    )


def signature_expire(timestamp: int, now: int, max_skew: int) -> TencentApiError:
    """``X-TC-Timestamp`` too far from the server clock."""
    return TencentApiError(
        "AuthFailure.SignatureExpire",
        Text(
            f"The signature has expired: X-TC-Timestamp {timestamp} is more than {max_skew} seconds away "
            f"from the server time {now}; please check that the local clock is synchronised.",
            f"签名过期：X-TC-Timestamp {timestamp} 与服务器时间 {now} 相差超过 {max_skew} 秒，"
            "请检查本地时间是否和标准时间同步。",
        ),
    )


def missing_parameter(name: str) -> TencentApiError:
    """A required parameter (or common parameter such as ``Action``) is absent."""
    return TencentApiError(
        "MissingParameter",
        Text(f"The parameter `{name}` is required.", f"缺少必选参数 `{name}`。"),
    )


def unknown_parameter(name: str) -> TencentApiError:
    """A parameter the action does not define."""
    return TencentApiError(
        "UnknownParameter",
        Text(f"The parameter `{name}` is not recognized.", f"未知参数 `{name}`。"),
    )


def invalid_parameter(name: str, problem: Text) -> TencentApiError:
    """A parameter whose JSON type (or integer range) is wrong; ``problem`` says what was expected."""
    return TencentApiError(
        "InvalidParameter",
        Text(
            f"The value of parameter `{name}` is invalid: {problem.en}.",
            f"参数 `{name}` 的值不合法：{problem.zh}。",
        ),
    )


def invalid_action(action: str) -> TencentApiError:
    """``X-TC-Action`` names no action of this service."""
    return TencentApiError(
        "InvalidAction",
        Text(
            f"The action `{action}` does not exist.",
            f"接口 `{action}` 不存在。",
        ),
    )


def unsupported_operation(action: str) -> TencentApiError:
    """``X-TC-Action`` names a documented action of the API that this service does not offer."""
    return TencentApiError(
        "UnsupportedOperation",
        Text(
            f"The action `{action}` of the PostgreSQL API is not supported by this service.",
            f"本服务不支持 PostgreSQL API 的接口 `{action}`。",
        ),
    )


def no_such_version(version: str, supported: str) -> TencentApiError:
    """``X-TC-Version`` is not the one API version served."""
    return TencentApiError(
        "NoSuchVersion",
        Text(
            f"The API version `{version}` does not exist; use `{supported}`.",
            f"接口版本 `{version}` 不存在，请使用 `{supported}`。",
        ),
    )


def illegal_region(region: str | None) -> TencentApiError:
    """``X-TC-Region`` absent, or not a Tencent Cloud region at all."""
    if region is None:
        text = Text(
            "The parameter `Region` (header X-TC-Region) is required for this action.",
            "本接口需要传入公共参数 `Region`（请求头 X-TC-Region）。",
        )
    else:
        text = Text(f"The region `{region}` is invalid.", f"非法的地域参数 `{region}`。")
    return TencentApiError("InvalidParameterValue.IllegalRegion", text)


def unsupported_region(region: str) -> TencentApiError:
    """A real Tencent Cloud region that this installation does not serve."""
    return TencentApiError(
        "UnsupportedRegion",
        Text(
            f"The region `{region}` is not supported by this service.",
            f"接口不支持地域 `{region}`。",
        ),
    )


def request_limit_exceeded(action: str, limit: int) -> TencentApiError:
    """More than ``limit`` calls of ``action`` within one second from one account."""
    return TencentApiError(
        "RequestLimitExceeded",
        Text(
            f"The request rate of `{action}` exceeds the limit of {limit} requests per second.",
            f"接口 `{action}` 的请求次数超过了频率限制（每秒 {limit} 次）。",
        ),
    )


def internal_error(request_id: str) -> TencentApiError:
    """An unexpected failure; details are only in the server log, under ``request_id``."""
    return TencentApiError(
        "InternalError",
        Text(
            f"An internal error occurred; please report the RequestId {request_id} to the administrator.",
            f"内部错误，请将RequestId {request_id} 提供给管理员处理。",
        ),
    )
