"""The router driven by the official Python SDK: what a real client sees, success and every error."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.postgres.v20170312 import models

from openrds.domain import errors as domain

from .support import (
    OTHER_SECRET_ID,
    OTHER_SECRET_KEY,
    REBALANCE_RATE_LIMIT,
    SECRET_ID,
    LiveServer,
    ManualClock,
    common_client,
    domain_error_for,
    make_app,
    postgres_client,
    serve,
)

#: The seed's (002) request example of CreateReadOnlyDBInstance, verbatim.
SEED_EXAMPLE: dict[str, Any] = {
    "DBVersion": "12.22",
    "InstanceChargeType": "POSTPAID_BY_HOUR",
    "InstanceCount": 1,
    "MasterDBInstanceId": "postgres-abcdef",
    "Period": 1,
    "ProjectId": 1,
    "ReadOnlyGroupId": "",
    "SecurityGroupIds": ["sg-iwnfp51z"],
    "SpecCode": "pg.it.small2",
    "Storage": 100,
    "SubnetId": "subnet-1i9huswn",
    "VpcId": "vpc-8btfafeo",
    "Zone": "ap-beijing-4",
}


def sdk_error(call: Any) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    exc = info.value
    uuid.UUID(exc.requestId, version=4)  # every error carries a real RequestId
    return exc


# --- success -------------------------------------------------------------------------------------
def test_common_client_success_envelope(live_server: LiveServer) -> None:
    answer = common_client(live_server).call_json("DescribeRegions", {})
    response = answer["Response"]
    assert response["TotalCount"] == 1
    assert response["RegionSet"][0]["Region"] == "ap-beijing"
    assert uuid.UUID(response["RequestId"]).version == 4
    # The handler saw the RequestId of the answer and who called.
    assert response["Context"]["RequestIdSeen"] == response["RequestId"]
    assert response["Context"]["TenantId"] == "tenant-a"
    assert response["Context"]["SecretId"] == SECRET_ID
    assert response["Context"]["Action"] == "DescribeRegions"


def test_postgres_client_deserialises_the_answer(live_server: LiveServer) -> None:
    answer = postgres_client(live_server).DescribeRegions(models.DescribeRegionsRequest())
    assert answer.TotalCount == 1
    assert answer.RegionSet[0].RegionName == "北京"
    assert answer.RequestId


def test_seed_example_parses_and_reaches_the_handler(live_server: LiveServer) -> None:
    echo = common_client(live_server).call_json("CreateReadOnlyDBInstance", SEED_EXAMPLE)["Response"]["Echo"]
    assert echo == SEED_EXAMPLE | {"DryRun": False}


def test_postgres_client_request_model_with_every_field(live_server: LiveServer) -> None:
    req = models.CreateReadOnlyDBInstanceRequest()
    req.from_json_string(
        json.dumps(
            SEED_EXAMPLE
            | {
                "AutoVoucher": 0,
                "VoucherIds": ["v-1"],
                "AutoRenewFlag": 1,
                "ActivityId": 7,
                "TagList": {"TagKey": "team", "TagValue": "db"},
                "NeedSupportIpv6": 0,
                "Name": "只读实例_1",
                "DedicatedClusterId": "cluster-1",
                "DeletionProtection": True,
                "Tags": [{"TagKey": "a", "TagValue": "b"}],
            }
        )
    )
    answer = postgres_client(live_server).CreateReadOnlyDBInstance(req)
    assert answer.DealNames == []
    assert answer.BillId == ""
    assert answer.RequestId


# --- DryRun, the two ways tencent-api-notes.md describes ------------------------------------------
def test_dry_run_through_common_client(live_server: LiveServer) -> None:
    answer = common_client(live_server).call_json("CreateReadOnlyDBInstance", SEED_EXAMPLE | {"DryRun": True})
    assert answer["Response"]["Echo"]["DryRun"] is True


def test_dry_run_through_underscore_attribute(live_server: LiveServer) -> None:
    req = models.CreateReadOnlyDBInstanceRequest()
    req.from_json_string(json.dumps(SEED_EXAMPLE))
    req._DryRun = True  # the SDK serialises _DryRun as "DryRun"
    # PostgresClient drops unknown answer fields, so read the raw answer of the same call.
    client = postgres_client(live_server)
    body = json.loads(client.call("CreateReadOnlyDBInstance", req._serialize()))
    assert body["Response"]["Echo"]["DryRun"] is True
    req.Name = "typed"  # another call, not the same one again (a signature is single-use for a create)
    assert client.CreateReadOnlyDBInstance(req).RequestId


# --- errors become TencentCloudSDKException with the right code ----------------------------------
def test_error_answer_raises_in_postgres_client(live_server: LiveServer) -> None:
    req = models.DescribeDBInstanceAttributeRequest()
    req.DBInstanceId = "raise-InstanceNotFound"
    exc = sdk_error(lambda: postgres_client(live_server).DescribeDBInstanceAttribute(req))
    assert exc.code == "ResourceNotFound.InstanceNotFoundError"
    assert "postgres-abcdefgh" in exc.message


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en-US", "The instance does not exist"), ("zh-CN", "实例不存在")],
)
def test_domain_error_message_follows_language(live_server: LiveServer, language: str, expected: str) -> None:
    call = common_client(live_server, language=language).call_json
    exc = sdk_error(lambda: call("DescribeDBInstanceAttribute", {"DBInstanceId": "raise-InstanceNotFound"}))
    assert exc.code == "ResourceNotFound.InstanceNotFoundError"
    assert exc.message.startswith(expected)
    assert "DBInstanceId" in exc.message  # the domain field, named as the Tencent parameter


EXPECTED_CODES = {
    "OpenRDSError": "FailedOperation",
    "InvalidInput": "InvalidParameterValue.InvalidParameterValueError",
    "MissingInput": "MissingParameter",
    "InvalidName": "InvalidParameterValue.ParameterCharacterError",
    "NameTooLong": "InvalidParameterValue.ParameterLengthLimitError",
    "InvalidPassword": "InvalidParameterValue.InvalidPasswordFormat",
    "InvalidAccountName": "InvalidParameterValue.InvalidAccountName",
    "InvalidCharset": "InvalidParameterValue.InvalidCharset",
    "InvalidStorage": "InvalidParameterValue.InvalidParameterValueError",
    "StorageBelowUsed": "InvalidParameterValue.InvalidInstanceVolume",
    "BelowStandbyFloor": "InvalidParameterValue.BadSpec",
    "InvalidInstanceCount": "InvalidParameterValue.InvalidInstanceNum",
    "InvalidPeriod": "InvalidParameterValue.InvalidParameterValueError",
    "InvalidChargeType": "InvalidParameterValue.IllegalInstanceChargeType",
    "InvalidWeight": "InvalidParameterValue.ParameterOutOfRange",
    "UnknownRegion": "InvalidParameterValue.IllegalRegion",
    "UnknownZone": "InvalidParameterValue.IllegalZone",
    "UnknownSpec": "InvalidParameterValue.BadSpec",
    "UnknownVersion": "InvalidParameterValue.InvalidParameterValueError",
    "UnknownProject": "InvalidParameterValue.IllegalProjectId",
    "UnknownNetwork": "InvalidParameter.VpcNotFoundError",
    "NotFound": "ResourceNotFound",
    "InstanceNotFound": "ResourceNotFound.InstanceNotFoundError",
    "GroupNotFound": "FailedOperation.ROGroupNotFoundError",
    "JobNotFound": "ResourceNotFound",
    "TemplateNotFound": "ResourceNotFound",
    "InvalidParameterValue": "InvalidParameterValue.InvalidParameterValueError",
    "ParameterNotModifiable": "InvalidParameterValue.InvalidParameterValueError",
    "OperationDenied": "OperationDenied",
    "InvalidInstanceState": "OperationDenied.InstanceStatusLimitError",
    "NotAPrimary": "OperationDenied.InstanceStatusLimitError",
    "ReplicaLimitExceeded": "OperationDenied.RoInstanceCountExeedError",
    "GroupMismatch": "FailedOperation.ROGroupMasterInstanceNotRight",
    "GroupNotEmpty": "FailedOperation.ROGroupCannotBeDeletedError",
    "GroupStateDenied": "OperationDenied.ROGroupStatusError",
    "DeletionProtected": "FailedOperation.LimitOperation",
    "InsufficientBalance": "OperationDenied.InsufficientBalanceError",
    "VoucherRefused": "InvalidParameterValue.InvalidParameterValueError",
    "OrderNotFound": "InvalidParameterValue.InvalidOrderNum",
    "NotPrepaid": "OperationDenied.PostPaidPayModeError",
    "QuotaExceeded": "LimitExceeded",
    "AuthenticationFailed": "AuthFailure",
    "SignInLocked": "RequestLimitExceeded",
    "Forbidden": "AuthFailure.UnauthorizedOperation",
    "ResourceExhausted": "ResourceInsufficient.ResourceNotEnough",
    "StoreBusy": "FailedOperation.DatabaseAccessError",
    "InternalFailure": "InternalError.SystemError",
    "BackupNotFound": "ResourceNotFound",
    "BackupPlanNotFound": "ResourceNotFound",
    "BackupDenied": "OperationDenied",
    "SecurityGroupNotFound": "InvalidParameterValue.InvalidParameterValueError",
    "SecurityGroupInUse": "OperationDenied",
    "NetworkLimit": "FailedOperation.NetworkNumLimitError",
    # accounts and databases
    "AccountNameFormat": "InvalidParameterValue.InvalidAccountNameFormatError",
    "ReservedAccountName": "InvalidParameterValue.InvalidAccountNameError",
    "PasswordLength": "InvalidParameterValue.InvalidPasswordLengthError",
    "PasswordTooWeak": "InvalidParameterValue.InvalidPasswordValueError",
    "DatabaseNameFormat": "InvalidParameterValue.InvalidDatabaseNameFormatError",
    "InvalidDatabaseObject": "InvalidParameterValue.InvalidDatabaseObjectName",
    "UnknownCollation": "InvalidParameterValue.CharsetNotFoundError",
    "InvalidOwner": "InvalidParameterValue.InvalidAccountError",
    "AccountExists": "InvalidParameterValue.AccountExist",
    "DatabaseExists": "InvalidParameterValue.InvalidParameterValueError",
    "AccountNotFound": "InvalidParameterValue.AccountNotExistError",
    "DatabaseNotFound": "InvalidParameter.ParameterCheckError",
    "AccountOperationDenied": "OperationDenied.AccountOperationDenied",
    "AccountHasObjects": "FailedOperation.FailedOperationError",
    "InstanceNotServing": "OperationDenied.InstanceStatusLimitOpError",
    "ReadOnlyInstanceDenied": "OperationDenied.ROInstanceStatusLimitOpError",
    "EngineFailed": "FailedOperation.FailedOperationError",
}


def test_expected_codes_cover_every_domain_error() -> None:
    classes = {
        name
        for name, value in vars(domain).items()
        if isinstance(value, type) and issubclass(value, domain.OpenRDSError)
    }
    assert classes == set(EXPECTED_CODES)


@pytest.mark.parametrize(("name", "code"), sorted(EXPECTED_CODES.items()))
@pytest.mark.parametrize("language", ["en-US", "zh-CN"])
def test_every_domain_error_through_the_sdk(live_server: LiveServer, name: str, code: str, language: str) -> None:
    call = common_client(live_server, language=language).call_json
    exc = sdk_error(lambda: call("DescribeDBInstanceAttribute", {"DBInstanceId": f"raise-{name}"}))
    assert exc.code == code
    # The domain's own message is always carried, after an English or Chinese summary.
    assert domain_error_for(name).message in exc.message
    is_chinese = any("\u4e00" <= ch <= "\u9fff" for ch in exc.message.split(":")[0].split("：")[0])
    assert is_chinese == (language == "zh-CN")


def test_handler_may_raise_a_tencent_code(live_server: LiveServer) -> None:
    call = common_client(live_server, language="zh-CN").call_json
    exc = sdk_error(lambda: call("DescribeDBInstanceAttribute", {"DBInstanceId": "tencent-error"}))
    assert (exc.code, exc.message) == ("OperationDenied.CamDeniedError", "测试拒绝")


@pytest.mark.parametrize("instance_id", ["crash", "unserialisable"])
def test_unexpected_failure_is_internal_error_and_logged(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture, instance_id: str
) -> None:
    call = common_client(live_server).call_json
    with caplog.at_level(logging.ERROR, logger="openrds.api.tencent.protocol"):
        exc = sdk_error(lambda: call("DescribeDBInstanceAttribute", {"DBInstanceId": instance_id}))
    assert exc.code == "InternalError"
    assert exc.requestId in exc.message
    assert "hunter2" not in exc.message and "Traceback" not in exc.message
    logged = [r for r in caplog.records if exc.requestId in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log, not the answer


# --- authentication ------------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en-US", "zh-CN"])
def test_wrong_secret_key_is_signature_failure(live_server: LiveServer, language: str) -> None:
    client = common_client(live_server, secret_key="not-the-key", language=language)
    exc = sdk_error(lambda: client.call_json("DescribeRegions", {}))
    assert exc.code == "AuthFailure.SignatureFailure"
    assert ("签名" in exc.message) == (language == "zh-CN")


@pytest.mark.parametrize("language", ["en-US", "zh-CN"])
def test_unknown_secret_id(live_server: LiveServer, language: str) -> None:
    client = common_client(live_server, secret_id="AKIDnobody", language=language)
    exc = sdk_error(lambda: client.call_json("DescribeRegions", {}))
    assert exc.code == "AuthFailure.SecretIdNotFound"
    assert "AKIDnobody" not in exc.message
    assert ("密钥" in exc.message) == (language == "zh-CN")


@pytest.mark.parametrize("offset", [301, -301])
@pytest.mark.parametrize("language", ["en-US", "zh-CN"])
def test_skewed_clock_is_signature_expire(live_server: LiveServer, offset: int, language: str) -> None:
    live_server.clock.now += offset
    exc = sdk_error(lambda: common_client(live_server, language=language).call_json("DescribeRegions", {}))
    assert exc.code == "AuthFailure.SignatureExpire"
    assert ("签名过期" in exc.message) == (language == "zh-CN")


def test_clock_within_tolerance_is_accepted(live_server: LiveServer) -> None:
    live_server.clock.now += 250
    assert common_client(live_server).call_json("DescribeRegions", {})["Response"]["TotalCount"] == 1


def test_unsigned_payload_refused_by_default(live_server: LiveServer) -> None:
    client = common_client(live_server, unsigned=True)
    exc = sdk_error(lambda: client.call_json("DescribeRegions", {}))
    assert exc.code == "AuthFailure.InvalidAuthorization"


# --- action, version, region ---------------------------------------------------------------------
@pytest.mark.parametrize(("language", "text"), [("en-US", "not supported by this service"), ("zh-CN", "本服务不支持")])
def test_a_documented_action_not_served_here_is_unsupported(live_server: LiveServer, language: str, text: str) -> None:
    # The SDK's own typed method: a real action of the API, which this service does not offer (yet).
    client = common_client(live_server, language=language)
    exc = sdk_error(lambda: client.call_json("CreateAccount", {"DBInstanceId": "postgres-abcdefgh"}))
    assert exc.code == "UnsupportedOperation"
    assert "CreateAccount" in exc.message and text in exc.message


def test_the_documented_actions_are_the_sdks() -> None:
    import inspect

    from tencentcloud.postgres.v20170312 import postgres_client

    from openrds.api.tencent.documented import DOCUMENTED_ACTIONS
    from openrds.api.tencent.registry import REQUEST_MODELS

    sdk = {n for n, _ in inspect.getmembers(postgres_client.PostgresClient, inspect.isfunction) if n[0].isupper()}
    assert sdk == DOCUMENTED_ACTIONS
    served = set(REQUEST_MODELS)
    assert served <= DOCUMENTED_ACTIONS, f"served but not in the API: {sorted(served - DOCUMENTED_ACTIONS)}"


@pytest.mark.parametrize(("language", "text"), [("en-US", "does not exist"), ("zh-CN", "不存在")])
def test_unknown_action(live_server: LiveServer, language: str, text: str) -> None:
    exc = sdk_error(lambda: common_client(live_server, language=language).call_json("DescribeCats", {}))
    assert exc.code == "InvalidAction"
    assert "DescribeCats" in exc.message and text in exc.message


@pytest.mark.parametrize(("language", "text"), [("en-US", "does not exist"), ("zh-CN", "不存在")])
def test_wrong_version(live_server: LiveServer, language: str, text: str) -> None:
    client = common_client(live_server, version="2020-01-01", language=language)
    exc = sdk_error(lambda: client.call_json("DescribeRegions", {}))
    assert exc.code == "NoSuchVersion"
    assert "2020-01-01" in exc.message and text in exc.message


@pytest.mark.parametrize(("language", "text"), [("en-US", "invalid"), ("zh-CN", "非法")])
def test_illegal_region(live_server: LiveServer, language: str, text: str) -> None:
    client = common_client(live_server, region="mars-north-1", language=language)
    exc = sdk_error(lambda: client.call_json("DescribeZones", {}))
    assert exc.code == "InvalidParameterValue.IllegalRegion"
    assert "mars-north-1" in exc.message and text in exc.message


@pytest.mark.parametrize(("language", "text"), [("en-US", "not supported"), ("zh-CN", "不支持")])
def test_real_but_unconfigured_region(live_server: LiveServer, language: str, text: str) -> None:
    client = common_client(live_server, region="ap-tokyo", language=language)
    exc = sdk_error(lambda: client.call_json("DescribeZones", {}))
    assert exc.code == "UnsupportedRegion"
    assert "ap-tokyo" in exc.message and text in exc.message


def test_missing_region(live_server: LiveServer) -> None:
    # An empty region makes the SDK leave X-TC-Region out.
    client = common_client(live_server, region="")
    exc = sdk_error(lambda: client.call_json("DescribeZones", {}))
    assert exc.code == "InvalidParameterValue.IllegalRegion"
    assert "Region" in exc.message
    # DescribeRegions is documented as region-free.
    context = client.call_json("DescribeRegions", {})["Response"]["Context"]
    assert context["Region"] is None


def test_region_reaches_the_handler(live_server: LiveServer) -> None:
    client = common_client(live_server, region="ap-guangzhou")
    assert client.call_json("DescribeZones", {})["Response"]["Context"]["Region"] == "ap-guangzhou"


# --- parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "message"),
    [("en-US", "The parameter `Storage` is required."), ("zh-CN", "缺少必选参数 `Storage`。")],
)
def test_missing_parameter(live_server: LiveServer, language: str, message: str) -> None:
    params = {k: v for k, v in SEED_EXAMPLE.items() if k != "Storage"}
    exc = sdk_error(lambda: common_client(live_server, language=language).call_json("CreateReadOnlyDBInstance", params))
    assert (exc.code, exc.message) == ("MissingParameter", message)


@pytest.mark.parametrize(
    ("language", "message"),
    [("en-US", "The parameter `Colour` is not recognized."), ("zh-CN", "未知参数 `Colour`。")],
)
def test_unknown_parameter(live_server: LiveServer, language: str, message: str) -> None:
    params = SEED_EXAMPLE | {"Colour": "blue"}
    exc = sdk_error(lambda: common_client(live_server, language=language).call_json("CreateReadOnlyDBInstance", params))
    assert (exc.code, exc.message) == ("UnknownParameter", message)


@pytest.mark.parametrize(
    ("params", "field", "en", "zh"),
    [
        ({"Storage": "100"}, "Storage", "an Integer is expected", "应为整数"),
        ({"Storage": True}, "Storage", "an Integer is expected", "应为整数"),
        ({"Storage": -10}, "Storage", "out of range", "超出范围"),
        ({"Zone": 4}, "Zone", "a String is expected", "应为字符串"),
        ({"DeletionProtection": 1}, "DeletionProtection", "a Boolean is expected", "应为布尔值"),
        ({"SecurityGroupIds": "sg-1"}, "SecurityGroupIds", "an Array is expected", "应为数组"),
        ({"Tags": [{"TagKey": 1, "TagValue": "v"}]}, "Tags.0.TagKey", "a String is expected", "应为字符串"),
    ],
)
@pytest.mark.parametrize("language", ["en-US", "zh-CN"])
def test_invalid_parameter_names_the_field(
    live_server: LiveServer, params: dict[str, Any], field: str, en: str, zh: str, language: str
) -> None:
    call = common_client(live_server, language=language).call_json
    exc = sdk_error(lambda: call("CreateReadOnlyDBInstance", SEED_EXAMPLE | params))
    assert exc.code == "InvalidParameter"
    assert f"`{field}`" in exc.message
    assert (zh if language == "zh-CN" else en) in exc.message


def test_unknown_parameter_wins_over_missing_and_invalid(live_server: LiveServer) -> None:
    exc = sdk_error(
        lambda: common_client(live_server).call_json("CreateReadOnlyDBInstance", {"Storage": "x", "Nope": 1})
    )
    assert exc.code == "UnknownParameter"


def test_nested_filter_types(live_server: LiveServer) -> None:
    call = common_client(live_server).call_json
    ok = call("DescribeDBInstances", {"Filters": [{"Name": "db-instance-id", "Values": ["postgres-1"]}], "Limit": 10})
    assert ok["Response"]["Echo"]["Filters"] == [{"Name": "db-instance-id", "Values": ["postgres-1"]}]
    exc = sdk_error(lambda: call("DescribeDBInstances", {"Filters": [{"Name": "x", "Values": "postgres-1"}]}))
    assert (exc.code, "`Filters.0.Values`" in exc.message) == ("InvalidParameter", True)


# --- GET, the SDK's other request method ---------------------------------------------------------
def test_get_request_with_flattened_parameters(live_server: LiveServer) -> None:
    client = common_client(live_server, method="GET")
    params = SEED_EXAMPLE | {
        "DeletionProtection": True,
        "Tags": [{"TagKey": "a", "TagValue": "b"}, {"TagKey": "c", "TagValue": "d"}],
        "SecurityGroupIds": ["sg-1", "sg-2"],
    }
    echo = client.call_json("CreateReadOnlyDBInstance", params)["Response"]["Echo"]
    assert echo == params | {"DryRun": False}


def test_get_request_errors_still_typed(live_server: LiveServer) -> None:
    client = common_client(live_server, method="GET")
    exc = sdk_error(lambda: client.call_json("CreateReadOnlyDBInstance", SEED_EXAMPLE | {"Storage": "ten"}))
    assert (exc.code, "`Storage`" in exc.message) == ("InvalidParameter", True)


# --- rate limit ----------------------------------------------------------------------------------
SMALL_DEFAULT_LIMIT = 5


@pytest.fixture
def limited_server() -> Iterator[LiveServer]:
    """A server of its own with a small router-wide limit; its clock is frozen (no real waiting)."""
    clock = ManualClock()
    clock.now = float(int(clock.now))
    with serve(make_app(clock, rate_limit_per_second=SMALL_DEFAULT_LIMIT), clock) as server:
        yield server


def test_rate_limit_per_action_and_account(limited_server: LiveServer) -> None:
    client = common_client(limited_server)
    for n in range(REBALANCE_RATE_LIMIT):  # distinct calls: a signature is single-use for a change
        client.call_json("RebalanceReadOnlyGroup", {"ReadOnlyGroupId": f"pgrogrp-{n}"})
    exc = sdk_error(lambda: client.call_json("RebalanceReadOnlyGroup", {"ReadOnlyGroupId": "pgrogrp-1"}))
    assert exc.code == "RequestLimitExceeded"
    assert "RebalanceReadOnlyGroup" in exc.message and str(REBALANCE_RATE_LIMIT) in exc.message
    # Another action of the same account, and the same action of another account, are not limited.
    client.call_json("DescribeRegions", {})
    other = common_client(limited_server, secret_id=OTHER_SECRET_ID, secret_key=OTHER_SECRET_KEY)
    other.call_json("RebalanceReadOnlyGroup", {"ReadOnlyGroupId": "pgrogrp-1"})
    # Within the same second: still limited, and the refused calls did not extend the window.
    limited_server.clock.now += 0.999
    assert sdk_error(lambda: client.call_json("RebalanceReadOnlyGroup", {"ReadOnlyGroupId": "x"})).code == (
        "RequestLimitExceeded"
    )
    # One second after the accepted calls, the window has slid past them.
    limited_server.clock.now += 0.002
    client.call_json("RebalanceReadOnlyGroup", {"ReadOnlyGroupId": "pgrogrp-9"})


@pytest.mark.parametrize("language", ["en-US", "zh-CN"])
def test_router_default_rate_limit(limited_server: LiveServer, language: str) -> None:
    client = common_client(limited_server, language=language)
    for _ in range(SMALL_DEFAULT_LIMIT):
        client.call_json("DescribeZones", {})
    exc = sdk_error(lambda: client.call_json("DescribeZones", {}))
    assert exc.code == "RequestLimitExceeded"
    assert ("频率" in exc.message) == (language == "zh-CN")
    limited_server.clock.now += 1.0
    client.call_json("DescribeZones", {})
