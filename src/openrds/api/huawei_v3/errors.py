"""Huawei RDS v3 error answers: ``{"error_code": "DBS.NNNNNN", "error_msg": "..."}`` and an
``X-Request-Id`` header (the SDK puts both in its ``ClientRequestException``/``ServerResponseException``).

Every error this face sends is a :class:`V3ApiError`: an HTTP status, a code and a message in English
and Chinese, picked by ``X-Language`` (:func:`openrds.api.huawei.errors.language_of`). Two sources:

* the wire layer (authentication, the project, a body that is not JSON, a missing or mistyped field,
  an unknown datastore or action), through the factory functions at the end of this module;
* handlers, which let :mod:`openrds.domain.errors` classes through: :func:`from_domain` translates
  them with :data:`DOMAIN_ERRORS`, resolved by MRO.

The codes and statuses are Huawei's documented ones (the RDS API reference's "Error Codes" table, as
published in the Open Telekom Cloud copy), the closest row to each domain error; authentication
failures answer as Huawei's API gateway does, ``APIGW.0301`` with 401. Never renumber one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openrds.api.huawei.errors import Language, Text
from openrds.api.huawei_v3 import fields as f
from openrds.domain import errors as domain


class V3ApiError(Exception):
    """An error answer. The message must hold no secret: it is sent as is."""

    def __init__(self, status: int, code: str, text: Text) -> None:
        super().__init__(f"{code}: {text.en}")
        self.status = status
        self.code = code
        self.text = text

    def body(self, language: Language) -> f.ErrorResponse:
        return {"error_code": self.code, "error_msg": self.text.get(language)}


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    code: str
    summary: Text


_PARAMETER = ErrorSpec(400, "DBS.200001", Text("Parameter error", "参数错误"))
_OUT_OF_RANGE = ErrorSpec(400, "DBS.200461", Text("The parameter value is out of range", "参数值超出范围"))
_INVALID_OPERATION = ErrorSpec(409, "DBS.200402", Text("Invalid operation", "操作无效"))
_NOT_FOUND = ErrorSpec(404, "DBS.212013", Text("The object does not exist", "对象不存在"))
_DENIED = ErrorSpec(403, "DBS.200044", Text("Resource not found or permission denied", "资源不存在或无权限"))
_AUTHENTICATION = ErrorSpec(401, "APIGW.0301", Text("Incorrect IAM authentication information", "IAM认证信息错误"))
_SERVER = ErrorSpec(500, "DBS.108000", Text("Server failure", "服务器故障"))

#: Domain error class -> answer; every class of ``openrds.domain.errors`` has a row (a class added later
#: answers with its nearest ancestor's until it gets one).
DOMAIN_ERRORS: Mapping[type[domain.OpenRDSError], ErrorSpec] = {
    domain.OpenRDSError: _PARAMETER,
    # --- input values
    domain.InvalidInput: _PARAMETER,
    domain.MissingInput: _PARAMETER,
    domain.InvalidName: ErrorSpec(400, "DBS.200021", Text("Invalid DB instance name", "实例名称不合法")),
    domain.NameTooLong: ErrorSpec(400, "DBS.200021", Text("Invalid DB instance name", "实例名称不合法")),
    domain.InvalidPassword: ErrorSpec(
        400, "DBS.200052", Text("Invalid database root password", "数据库root密码不合法")
    ),
    domain.InvalidAccountName: ErrorSpec(400, "DBS.280277", Text("Invalid object name", "对象名称不合法")),
    domain.InvalidCharset: _PARAMETER,
    domain.InvalidStorage: ErrorSpec(400, "DBS.200023", Text("Storage space is out of range", "存储空间超出范围")),
    domain.InvalidInstanceCount: _OUT_OF_RANGE,
    domain.InvalidPeriod: _OUT_OF_RANGE,
    domain.InvalidChargeType: _PARAMETER,
    domain.InvalidWeight: _OUT_OF_RANGE,
    domain.VoucherRefused: _PARAMETER,
    # --- catalogue
    domain.UnknownRegion: ErrorSpec(400, "DBS.200024", Text("Invalid region", "区域不合法")),
    domain.UnknownZone: ErrorSpec(400, "DBS.200025", Text("Invalid AZ", "可用区不合法")),
    domain.UnknownSpec: ErrorSpec(
        400, "DBS.200053", Text("The selected specifications do not exist", "所选规格不存在")
    ),
    domain.UnknownVersion: ErrorSpec(400, "DBS.200041", Text("Invalid database version", "数据库版本不合法")),
    domain.UnknownProject: _DENIED,
    domain.UnknownNetwork: ErrorSpec(
        404, "DBS.200503",
        Text("The VPC does not exist or does not belong to the user", "虚拟私有云不存在或不属于该用户"),
    ),
    # --- resources: another tenant's (or another project's) resource does not exist for the caller
    domain.NotFound: _NOT_FOUND,
    domain.InstanceNotFound: ErrorSpec(404, "DBS.200002", Text("The DB instance does not exist", "实例不存在")),
    domain.GroupNotFound: _NOT_FOUND,
    domain.OrderNotFound: _NOT_FOUND,
    domain.JobNotFound: ErrorSpec(400, "DBS.200543", Text("The job does not exist", "任务不存在")),
    # --- credentials
    domain.AuthenticationFailed: _AUTHENTICATION,
    domain.SignInLocked: _AUTHENTICATION,
    domain.Forbidden: _DENIED,
    # --- state and rules
    domain.OperationDenied: _INVALID_OPERATION,
    domain.InvalidInstanceState: ErrorSpec(
        400, "DBS.200086", Text("This operation is not allowed by the DB instance status", "实例当前状态不允许此操作")
    ),
    domain.NotAPrimary: ErrorSpec(400, "DBS.200055", Text("Invalid replica_of_id", "replica_of_id不合法")),
    domain.ReplicaLimitExceeded: ErrorSpec(
        400, "DBS.200056", Text("The maximum number of nodes has been reached", "节点数量已达上限")
    ),
    domain.GroupMismatch: _PARAMETER,
    domain.GroupNotEmpty: _INVALID_OPERATION,
    domain.GroupStateDenied: _INVALID_OPERATION,
    domain.DeletionProtected: _INVALID_OPERATION,
    domain.InsufficientBalance: _INVALID_OPERATION,
    domain.NotPrepaid: _INVALID_OPERATION,
    domain.QuotaExceeded: ErrorSpec(
        413, "DBS.200046", Text("The number of DB instances has reached the quota", "实例数量已达配额")
    ),
    # --- capacity and internals
    domain.ResourceExhausted: ErrorSpec(
        400, "DBS.216028", Text("Insufficient internal resource quota", "内部资源配额不足")
    ),
    domain.StoreBusy: ErrorSpec(
        500, "DBS.108002",
        Text("Server busy; nothing was changed, please try again", "服务繁忙，未做任何修改，请稍后重试"),
    ),
    domain.InternalFailure: _SERVER,
}

#: Domain field names (``OpenRDSError.field``) -> the v3 request field they come from.
FIELD_NAMES: Mapping[str, str] = {
    "name": "name",
    "instance_name": "name",
    "spec": "flavor_ref",
    "spec_code": "flavor_ref",
    "storage": "volume.size",
    "zone": "availability_zone",
    "region": "region",
    "version": "datastore.version",
    "admin_password": "password",
    "password": "password",
    "vpc_id": "vpc_id",
    "subnet_id": "subnet_id",
    "security_group_ids": "security_group_id",
    "master_id": "replica_of_id",
    "master_instance_id": "replica_of_id",
    "instance_count": "replica_of_id",
    "job_id": "id",
    "project": "project_id",
    "project_id": "project_id",
    "port": "port",
    "period_months": "charge_info.period_num",
}


def from_domain(exc: domain.OpenRDSError) -> V3ApiError:
    """``<summary>[ (field)]: <domain message>``; domain messages are English, so the Chinese answer
    carries the detail after a Chinese summary."""
    spec = domain.resolve(DOMAIN_ERRORS, type(exc))
    field = FIELD_NAMES.get(exc.field, exc.field) if exc.field else None
    en_where, zh_where = (f" ({field})", f"（{field}）") if field else ("", "")
    text = Text(f"{spec.summary.en}{en_where}: {exc.message}", f"{spec.summary.zh}{zh_where}：{exc.message}")
    return V3ApiError(spec.status, spec.code, text)


# --- the wire layer's own errors -----------------------------------------------------------------
def _parameter(en: str, zh: str, status: int = 400) -> V3ApiError:
    return V3ApiError(status, _PARAMETER.code, Text(f"{_PARAMETER.summary.en}: {en}", f"{_PARAMETER.summary.zh}：{zh}"))


def malformed_body(reason: str) -> V3ApiError:
    return _parameter(f"the request body is not a JSON object: {reason}", f"请求体不是JSON对象：{reason}")


def body_too_large(limit: int) -> V3ApiError:
    mib = limit // (1024 * 1024)
    return _parameter(f"the request body is larger than {mib} MiB", f"请求体超过 {mib} MiB", 413)


def missing_parameter(name: str) -> V3ApiError:
    return _parameter(f"a required parameter is missing: {name}", f"缺少必选参数：{name}")


def invalid_parameter(name: str, problem: str) -> V3ApiError:
    return _parameter(f"invalid value of {name}: {problem}", f"{name} 的值不合法：{problem}")


def unsupported_action(names: str) -> V3ApiError:
    return _parameter(f"the action is not supported: {names or '(none)'}; the one action is restart",
                      f"不支持该操作：{names or '（无）'}；仅支持 restart")


def unknown_datastore(name: str) -> V3ApiError:
    return V3ApiError(400, "DBS.200042", Text(f"The DB engine does not exist: {name}; only PostgreSQL is offered",
                                              f"数据库引擎不存在：{name}；仅支持PostgreSQL"))


def unauthenticated(reason: str) -> V3ApiError:
    """A missing, malformed, stale or wrong signature, an unknown AK, or a bad token (``reason`` in English)."""
    return V3ApiError(_AUTHENTICATION.status, _AUTHENTICATION.code,
                      Text(f"{_AUTHENTICATION.summary.en}: {reason}", f"{_AUTHENTICATION.summary.zh}：{reason}"))


def signature_reused(en: str, zh: str) -> V3ApiError:
    """A valid signature sent again where it is not accepted (:mod:`openrds.api.replay`): answered as any
    other signature failure, ``en``/``zh`` saying why."""
    return V3ApiError(_AUTHENTICATION.status, _AUTHENTICATION.code,
                      Text(f"{_AUTHENTICATION.summary.en}: the signature cannot be used again: {en}",
                           f"{_AUTHENTICATION.summary.zh}：签名不可重复使用：{zh}"))


def too_many_signatures(window: int) -> V3ApiError:
    """The replay memory is full: a new signature cannot be remembered, so it is refused (retryable).
    Huawei's API gateway answers its throttling with ``APIGW.0308`` and 429."""
    return V3ApiError(429, "APIGW.0308",
                      Text(f"The throttling threshold has been reached: too many distinct signed requests within"
                           f" the last {window} seconds; please retry later",
                           f"已达到流控阈值：最近 {window} 秒内的不同签名请求过多，请稍后重试"))


def project_denied(en: str, zh: str) -> V3ApiError:
    """The path's project is not the caller's, or ``X-Project-Id`` names another one."""
    return V3ApiError(_DENIED.status, _DENIED.code, Text(f"{_DENIED.summary.en}: {en}", f"{_DENIED.summary.zh}：{zh}"))


def internal_error() -> V3ApiError:
    return V3ApiError(_SERVER.status, _SERVER.code, _SERVER.summary)
