"""The wire layer's parts on their own: signing against the SDK's code, the limiter, query parsing, errors."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from openrds.api.tencent import auth, schemas
from openrds.api.tencent.errors import DOMAIN_ERRORS, TencentApiError, from_domain, spec_for
from openrds.api.tencent.protocol import (
    Action,
    SlidingWindowRateLimiter,
    TencentApi,
    envelope,
    parse_parameters,
    render,
    unflatten_query,
)
from openrds.domain import errors as domain

from .support import CALLERS, SECRET_ID, SECRET_KEY, StaticKeys


# --- TC3 against the SDK's own request building --------------------------------------------------
def sdk_request(method: str, params: dict[str, Any], *, endpoint: str = "127.0.0.1:9") -> RequestInternal:
    """A request as the SDK builds and signs it (no network: only ``_build_req_inter``)."""
    prof = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, protocol="http", reqMethod=method))
    client = CommonClient("postgres", "2017-03-12", credential.Credential(SECRET_ID, SECRET_KEY), "ap-beijing", prof)
    req = RequestInternal(endpoint, method, "/", header={})
    client._build_req_inter("DescribeDBInstances", params, req)
    return req


def as_signed(req: RequestInternal) -> auth.SignedRequest:
    body = b"" if req.method == "GET" else req.data.encode()
    query = req.data if req.method == "GET" else ""
    return auth.SignedRequest(req.method, "/", query, {k.lower(): v for k, v in req.header.items()}, body)


PARAMS = {"Filters": [{"Name": "db-instance-name", "Values": ["名字 with spaces&=?"]}], "Limit": 10}


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("endpoint", ["127.0.0.1:9", "http://127.0.0.1:9", "PG.Example.COM"])
def test_our_signer_reproduces_the_sdk_header(method: str, endpoint: str) -> None:
    req = sdk_request(method, PARAMS, endpoint=endpoint)
    assert auth.authorization_header(SECRET_ID, SECRET_KEY, as_signed(req)) == req.header["Authorization"]


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_authenticate_accepts_the_sdk_request(method: str) -> None:
    req = sdk_request(method, PARAMS)
    caller = auth.authenticate(as_signed(req), StaticKeys(CALLERS), now=time.time()).caller
    assert caller == CALLERS[SECRET_ID][0]


def test_get_query_is_signed_as_sent() -> None:
    req = sdk_request("GET", PARAMS)
    assert req.data == urlencode({"Filters.0.Name": "db-instance-name", "Filters.0.Values.0": "名字 with spaces&=?",
                                  "Limit": 10})  # fmt: skip
    tampered = as_signed(req)
    tampered = auth.SignedRequest("GET", "/", tampered.query.replace("Limit=10", "Limit=99"), tampered.headers, b"")
    with pytest.raises(TencentApiError) as info:
        auth.authenticate(tampered, StaticKeys(CALLERS), now=time.time())
    assert info.value.code == "AuthFailure.SignatureFailure"


def test_unknown_secret_id_costs_the_same_hmac_work(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = auth.signature

    def counting(secret_key: str, *args: Any) -> str:
        calls.append(secret_key)
        return real(secret_key, *args)

    monkeypatch.setattr(auth, "signature", counting)
    req = as_signed(sdk_request("POST", {}))
    auth.authenticate(req, StaticKeys(CALLERS), now=time.time())
    known = len(calls)
    with pytest.raises(TencentApiError) as info:
        auth.authenticate(req, StaticKeys({}), now=time.time())
    assert info.value.code == "AuthFailure.SecretIdNotFound"
    assert len(calls) == 2 * known and calls[-1] != SECRET_KEY  # same work, with the dummy key


def test_unknown_secret_id_wins_over_a_bad_signature() -> None:
    req = as_signed(sdk_request("POST", {}))
    headers = dict(req.headers)
    headers["authorization"] = headers["authorization"][:-4] + "0000"
    broken = auth.SignedRequest(req.method, req.path, req.query, headers, req.body)
    with pytest.raises(TencentApiError) as info:
        auth.authenticate(broken, StaticKeys({}), now=time.time())
    assert info.value.code == "AuthFailure.SecretIdNotFound"
    with pytest.raises(TencentApiError) as info:
        auth.authenticate(broken, StaticKeys(CALLERS), now=time.time())
    assert info.value.code == "AuthFailure.SignatureFailure"


def test_expiry_is_checked_before_the_key() -> None:
    req = as_signed(sdk_request("POST", {}))
    with pytest.raises(TencentApiError) as info:
        auth.authenticate(req, StaticKeys({}), now=time.time() + 3600)
    assert info.value.code == "AuthFailure.SignatureExpire"


def test_parse_authorization_fields() -> None:
    parsed = auth.parse_authorization(
        "TC3-HMAC-SHA256 Credential=AKIDx/2024-05-01/postgres/tc3_request, "
        "SignedHeaders=content-type;host;x-tc-action, Signature=" + "AB" * 32
    )
    assert parsed == auth.Authorization(
        "AKIDx", "2024-05-01", "postgres", ("content-type", "host", "x-tc-action"), "ab" * 32
    )


# --- rate limiter --------------------------------------------------------------------------------
def test_sliding_window_never_exceeds_the_limit() -> None:
    limiter = SlidingWindowRateLimiter()
    key = ("DescribeZones", "tenant")
    accepted = [t / 10 for t in range(40) if limiter.allow(key, 5, t / 10)]
    # In every window of one second there are at most five accepted calls.
    for start in accepted:
        assert len([t for t in accepted if start <= t < start + 1.0]) <= 5
    assert accepted[:5] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert limiter.allow(("DescribeZones", "other tenant"), 5, 0.45)


def test_refused_calls_are_not_recorded() -> None:
    limiter = SlidingWindowRateLimiter()
    key = ("A", "t")
    assert all(limiter.allow(key, 2, 100.0) for _ in range(2))
    assert not any(limiter.allow(key, 2, 100.5) for _ in range(50))
    assert limiter.allow(key, 2, 101.0001)


def test_clock_stepping_back_forgets_future_calls() -> None:
    limiter = SlidingWindowRateLimiter()
    key = ("A", "t")
    assert limiter.allow(key, 1, 1000.0)
    assert limiter.allow(key, 1, 500.0)  # the call "at 1000" is in the future now: dropped


def test_idle_keys_are_swept() -> None:
    limiter = SlidingWindowRateLimiter()
    for tenant in range(100):
        limiter.allow(("A", str(tenant)), 1, 0.0)
    limiter.allow(("A", "late"), 1, 1000.0)
    assert set(limiter._calls) == {("A", "late")}


# --- query strings (GET) -------------------------------------------------------------------------
def test_unflatten_inverts_the_sdk_flattening() -> None:
    params = {"Filters": [{"Name": "a", "Values": ["x", "y"]}, {"Name": "b"}], "Limit": "10", "Empty": ""}
    flat = CommonClient("postgres", "2017-03-12", None, "r")._fix_params(params)
    assert unflatten_query(urlencode(flat)) == params


@pytest.mark.parametrize("query", ["A=1&A=2", "A=1&A.0=2", "A.0=1&A=2", "A.1=x", "A..B=1", "0=1", "A.0=1&A.x=2",
                                   "A.00=1", "A.1000=x"])  # fmt: skip
def test_unflatten_rejects_ambiguous_keys(query: str) -> None:
    with pytest.raises(TencentApiError) as info:
        unflatten_query(query)
    assert info.value.code == "InvalidRequest"


def test_unflatten_field_count_cap() -> None:
    with pytest.raises(TencentApiError):
        unflatten_query("&".join(f"K{i}=v" for i in range(1001)))


# --- parameters ----------------------------------------------------------------------------------
def test_missing_wins_over_invalid() -> None:
    with pytest.raises(TencentApiError) as info:
        parse_parameters(schemas.ModifyDBInstanceNameRequest, {"DBInstanceId": 5})
    assert (info.value.code, info.value.text.en) == ("MissingParameter", "The parameter `InstanceName` is required.")


def test_null_for_a_required_field_is_invalid() -> None:
    with pytest.raises(TencentApiError) as info:
        parse_parameters(schemas.DescribeDBInstanceAttributeRequest, {"DBInstanceId": None})
    assert info.value.code == "InvalidParameter"


def test_float_is_not_an_integer() -> None:
    with pytest.raises(TencentApiError) as info:
        parse_parameters(schemas.ModifyReadOnlyDBInstanceWeightRequest, {"DBInstanceId": "a", "ReadOnlyGroupId": "b",
                                                                         "Weight": 10.0})  # fmt: skip
    assert info.value.code == "InvalidParameter"


# --- errors --------------------------------------------------------------------------------------
def test_every_domain_class_has_its_own_row() -> None:
    classes = {v for v in vars(domain).values() if isinstance(v, type) and issubclass(v, domain.OpenRDSError)}
    assert classes == set(DOMAIN_ERRORS)


def test_new_subclasses_fall_back_along_the_mro() -> None:
    class GroupGone(domain.GroupNotFound):
        pass

    class Odd(domain.OpenRDSError):
        pass

    assert spec_for(GroupGone).code == "FailedOperation.ROGroupNotFoundError"
    assert spec_for(Odd).code == "FailedOperation"


def test_domain_message_shapes() -> None:
    with_field = from_domain(domain.InvalidStorage("storage must be a multiple of 10", field="storage"))
    assert with_field.message("en-US") == (
        "Incorrect storage value (parameter `Storage`): storage must be a multiple of 10"
    )
    assert with_field.message("zh-CN") == "磁盘容量取值有误（参数 `Storage`）：storage must be a multiple of 10"
    unknown_field = from_domain(domain.InvalidInput("bad", field="some_thing"))
    assert "`some_thing`" in unknown_field.message("en-US")
    no_field = from_domain(domain.QuotaExceeded("at most 5 groups"))
    assert no_field.message("en-US") == "The quota is exceeded: at most 5 groups"


# --- response and router construction ------------------------------------------------------------
def test_envelope_is_utf8_json_with_our_request_id_last() -> None:
    body = envelope("rid", render({"Message": "中文", "RequestId": "not-ours"}))
    assert body == '{"Response":{"Message":"中文","RequestId":"rid"}}'.encode()
    assert envelope("rid", render({})) == b'{"Response":{"RequestId":"rid"}}'


def test_router_refuses_a_misnamed_action() -> None:
    action = Action("DescribeZones", schemas.DescribeZonesRequest, lambda ctx, req: {})
    with pytest.raises(ValueError, match="DescribeRegions"):
        TencentApi({"DescribeRegions": action}, StaticKeys(CALLERS), regions=lambda: {"ap-beijing"})
