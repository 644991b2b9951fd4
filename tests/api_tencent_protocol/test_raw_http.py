"""Requests no official client sends (or sends only in some versions), made by hand with httpx."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import httpx
import pytest
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from openrds.api.tencent import auth, protocol

from .support import (
    OTHER_SECRET_ID,
    OTHER_SECRET_KEY,
    REGION,
    SECRET_ID,
    SECRET_KEY,
    LiveServer,
    ManualClock,
    common_client,
    envelope,
    make_app,
    profile,
    raw_request,
    sdk_signed_request,
    send,
    serve,
)


def error_of(response: httpx.Response) -> tuple[str, str]:
    inner = envelope(response)
    assert set(inner) == {"Error", "RequestId"}
    assert set(inner["Error"]) == {"Code", "Message"}
    return inner["Error"]["Code"], inner["Error"]["Message"]


# --- the envelope --------------------------------------------------------------------------------
def test_content_type_is_exactly_application_json(live_server: LiveServer) -> None:
    ok = raw_request(live_server)
    failed = raw_request(live_server, headers={"Authorization": None})
    for response in (ok, failed):
        # One header, no charset suffix: the SDK compares the whole value.
        assert response.headers.get_list("content-type") == ["application/json"]
        assert response.status_code == 200
    assert "Error" not in envelope(ok)
    assert error_of(failed)[0] == "AuthFailure.InvalidAuthorization"


def test_chinese_text_is_utf8_json(live_server: LiveServer) -> None:
    response = raw_request(live_server, headers={"Authorization": None, "X-TC-Language": "zh-CN"})
    assert "请求头部".encode() in response.content  # unescaped UTF-8, not \\u escapes
    assert "请求头部" in error_of(response)[1]


def test_request_ids_are_fresh_uuid4(live_server: LiveServer) -> None:
    ids = {envelope(raw_request(live_server))["RequestId"] for _ in range(5)}
    assert len(ids) == 5


def test_handler_cannot_replace_the_request_id(live_server: LiveServer) -> None:
    inner = envelope(raw_request(live_server, "DescribeDBInstanceAttribute", b'{"DBInstanceId":"override-request-id"}'))
    assert inner["RequestId"] != "not-ours"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_the_envelope(live_server: LiveServer, method: str) -> None:
    code, message = error_of(httpx.request(method, live_server.url, timeout=10))
    assert code == "UnsupportedProtocol"
    assert method in message


def test_head_gets_200_and_json_content_type(live_server: LiveServer) -> None:
    response = httpx.head(live_server.url, timeout=10)
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")


# --- authentication ------------------------------------------------------------------------------
SCOPE = "Credential=AKID/2024-01-01/postgres/tc3_request"
GOOD_SIGNATURE = "Signature=" + "a" * 64


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer abc",
        "HmacSHA256 Credential=x",
        "TC3-HMAC-SHA256",
        f"TC3-HMAC-SHA256 {SCOPE}, SignedHeaders=content-type;host",
        f"TC3-HMAC-SHA256 Credential=AKID/2024-01-01/postgres, SignedHeaders=content-type;host, {GOOD_SIGNATURE}",
        f"TC3-HMAC-SHA256 Credential=AKID/20240101/postgres/tc3_request, SignedHeaders=content-type;host, "
        f"{GOOD_SIGNATURE}",
        f"TC3-HMAC-SHA256 {SCOPE}, SignedHeaders=Content-Type;Host, {GOOD_SIGNATURE}",
        f"TC3-HMAC-SHA256 {SCOPE}, SignedHeaders=content-type;host;host, {GOOD_SIGNATURE}",
        f"TC3-HMAC-SHA256 {SCOPE}, SignedHeaders=content-type;host, Signature=xyz",
        f"TC3-HMAC-SHA256 {SCOPE}, {SCOPE}, SignedHeaders=content-type;host, {GOOD_SIGNATURE}",
    ],
)
def test_malformed_authorization(live_server: LiveServer, authorization: str) -> None:
    code, _ = error_of(raw_request(live_server, headers={"Authorization": authorization}))
    assert code == "AuthFailure.InvalidAuthorization"


@pytest.mark.parametrize(("language", "text"), [("en-US", "missing"), ("zh-CN", "缺少 Authorization")])
def test_missing_authorization(live_server: LiveServer, language: str, text: str) -> None:
    code, message = error_of(raw_request(live_server, headers={"Authorization": None, "X-TC-Language": language}))
    assert code == "AuthFailure.InvalidAuthorization"
    assert text in message


def test_authentication_comes_before_everything_else(live_server: LiveServer) -> None:
    # Unknown action, bad version, bad region, non-JSON body: an anonymous caller learns none of it.
    response = raw_request(
        live_server,
        "NoSuchAction",
        b"not json",
        headers={"Authorization": None, "X-TC-Version": "1999-01-01", "X-TC-Region": "nowhere"},
    )
    assert error_of(response)[0] == "AuthFailure.InvalidAuthorization"


def test_service_in_scope_must_be_postgres(live_server: LiveServer) -> None:
    # The real SDK, built for another service, pointed at this server.
    client = CommonClient("cvm", "2017-03-12", Credential(SECRET_ID, SECRET_KEY), REGION, profile(live_server))
    with pytest.raises(TencentCloudSDKException) as info:
        client.call_json("DescribeRegions", {})
    assert info.value.code == "AuthFailure.InvalidAuthorization"
    assert "postgres" in info.value.message


def test_scope_date_must_match_timestamp(live_server: LiveServer) -> None:
    ts = int(time.time())
    headers = {"content-type": "application/json", "host": live_server.endpoint, "x-tc-timestamp": str(ts)}
    request = auth.SignedRequest("POST", "/", "", headers, b"{}")
    wrong_date = time.strftime("%Y-%m-%d", time.gmtime(ts - 86400))
    canonical = auth.canonical_request(request, ("content-type", "host"))
    sig = auth.signature(SECRET_KEY, str(ts), wrong_date, "postgres", canonical)
    authorization = (
        f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{wrong_date}/postgres/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={sig}"
    )
    code, message = error_of(raw_request(live_server, timestamp=ts, headers={"Authorization": authorization}))
    assert code == "AuthFailure.InvalidAuthorization"
    assert wrong_date in message


def test_signed_headers_must_include_host(live_server: LiveServer) -> None:
    code, message = error_of(raw_request(live_server, signed_headers=("content-type",)))
    assert code == "AuthFailure.InvalidAuthorization"
    assert "host" in message


def test_signed_header_absent_from_request(live_server: LiveServer) -> None:
    response = raw_request(
        live_server, signed_headers=("content-type", "host", "x-tc-action"), headers={"X-TC-Action": None}
    )
    assert error_of(response)[0] == "AuthFailure.InvalidAuthorization"


@pytest.mark.parametrize("timestamp", ["", "abc", "1e9", "-5"])
def test_bad_timestamp_header(live_server: LiveServer, timestamp: str) -> None:
    code, _ = error_of(raw_request(live_server, headers={"X-TC-Timestamp": timestamp or None}))
    assert code == "AuthFailure.InvalidAuthorization"


def test_tampered_body_is_signature_failure(live_server: LiveServer) -> None:
    req = sdk_signed_request(live_server, "DescribeDBInstanceAttribute", {"DBInstanceId": "postgres-aaaaaaaa"})
    req.data = req.data.replace("aaaaaaaa", "bbbbbbbb")
    assert error_of(send(live_server, req))[0] == "AuthFailure.SignatureFailure"


@pytest.mark.parametrize("header", ["X-TC-Timestamp", "Host", "Content-Type"])
def test_tampered_signed_part_fails(live_server: LiveServer, header: str) -> None:
    req = sdk_signed_request(live_server, "DescribeRegions", {})
    req.header[header] = {
        "X-TC-Timestamp": str(int(req.header["X-TC-Timestamp"]) - 1),
        "Host": "127.0.0.2:1",
        "Content-Type": "application/json; charset=utf-8",
    }[header]
    assert error_of(send(live_server, req))[0] == "AuthFailure.SignatureFailure"


def test_sdk_request_sent_unchanged_succeeds(live_server: LiveServer) -> None:
    req = sdk_signed_request(live_server, "DescribeRegions", {})
    assert envelope(send(live_server, req))["TotalCount"] == 1


@pytest.mark.parametrize(("offset", "code"), [(300, None), (-300, None), (301, "AuthFailure.SignatureExpire")])
def test_timestamp_tolerance_boundary(live_server: LiveServer, offset: int, code: str | None) -> None:
    req = sdk_signed_request(live_server, "DescribeRegions", {})
    live_server.clock.now = int(req.header["X-TC-Timestamp"]) + offset
    inner = envelope(send(live_server, req))
    assert inner.get("Error", {}).get("Code") == code


def test_host_with_scheme_as_tccli_sends_it(live_server: LiveServer) -> None:
    # tccli passes its --endpoint (scheme included) to the SDK, which sends and signs it as Host.
    client = common_client(live_server)
    client.profile.httpProfile.endpoint = f"http://127.0.0.1:{live_server.port}"
    assert client.call_json("DescribeRegions", {})["Response"]["TotalCount"] == 1
    response = raw_request(live_server, host=f"http://127.0.0.1:{live_server.port}")
    assert envelope(response)["TotalCount"] == 1


def test_go_sdk_style_lowercased_signed_values(live_server: LiveServer) -> None:
    # The Go SDK signs content-type;host;x-tc-action with the action lower-cased (the TC3 specification).
    ts = int(time.time())
    headers = {
        "content-type": "application/json",
        "host": live_server.endpoint,
        "x-tc-action": "DescribeRegions",
        "x-tc-timestamp": str(ts),
    }
    signed = ("content-type", "host", "x-tc-action")
    request = auth.SignedRequest("POST", "/", "", headers, b"{}")
    canonical = auth.canonical_request(request, signed, lower_values=True)
    assert "x-tc-action:describeregions\n" in canonical
    date = time.strftime("%Y-%m-%d", time.gmtime(ts))
    sig = auth.signature(SECRET_KEY, str(ts), date, "postgres", canonical)
    authorization = (
        f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/postgres/tc3_request, "
        f"SignedHeaders=content-type;host;x-tc-action, Signature={sig}"
    )
    response = raw_request(live_server, timestamp=ts, headers={"Authorization": authorization})
    assert envelope(response)["TotalCount"] == 1


def test_unsigned_payload_accepted_only_when_enabled() -> None:
    clock = ManualClock()
    with serve(make_app(clock, allow_unsigned_payload=True), clock) as server:
        # Another key than the request below: with the body unsigned, two calls of one key within one
        # second carry the same signature, which the replay memory binds to its first action.
        client = common_client(server, unsigned=True, secret_id=OTHER_SECRET_ID, secret_key=OTHER_SECRET_KEY)
        assert client.call_json("DescribeRegions", {})["Response"]["TotalCount"] == 1
        # The documented cost: the body is not covered by the signature, so a changed body still passes.
        params = {"DBInstanceId": "postgres-aaaaaaaa"}
        req = sdk_signed_request(server, "DescribeDBInstanceAttribute", params, unsigned=True)
        req.data = req.data.replace("aaaaaaaa", "bbbbbbbb")
        assert envelope(send(server, req))["DBInstance"]["DBInstanceId"] == "postgres-bbbbbbbb"


# --- body ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'"text"', b'{"Limit": NaN}', b"\xff\xfe{}", b'{"a": 1'],
)
@pytest.mark.parametrize(("language", "text"), [("en-US", "malformed"), ("zh-CN", "请求格式错误")])
def test_body_that_is_not_a_json_object(live_server: LiveServer, body: bytes, language: str, text: str) -> None:
    response = raw_request(live_server, "DescribeDBInstances", body, headers={"X-TC-Language": language})
    code, message = error_of(response)
    assert code == "InvalidRequest"
    assert text in message


def test_empty_body_is_an_empty_object(live_server: LiveServer) -> None:
    assert envelope(raw_request(live_server, "DescribeDBInstances", b""))["Echo"] == {}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_content_type_must_be_json(live_server: LiveServer, content_type: str) -> None:
    code, _ = error_of(raw_request(live_server, content_type=content_type))
    assert code == "InvalidRequest"


def test_json_with_charset_parameter_is_json(live_server: LiveServer) -> None:
    assert envelope(raw_request(live_server, content_type="application/json; charset=utf-8"))["TotalCount"] == 1


@pytest.fixture
def small_body_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(protocol, "MAX_BODY_BYTES", 1024)
    yield 1024


def test_body_size_limit(live_server: LiveServer, small_body_limit: int) -> None:
    body = b'{"DBInstanceId": "' + b"x" * small_body_limit + b'"}'
    code, message = error_of(raw_request(live_server, "DescribeDBInstanceAttribute", body))
    assert code == "RequestSizeLimitExceeded"
    assert str(small_body_limit) in message


# --- action, version, language -------------------------------------------------------------------
@pytest.mark.parametrize(("header", "name"), [("X-TC-Action", "Action"), ("X-TC-Version", "Version")])
def test_missing_action_or_version(live_server: LiveServer, header: str, name: str) -> None:
    # Removed before signing: X-TC-Action and X-TC-Version are not among the SDK's signed headers.
    code, message = error_of(raw_request(live_server, headers={header: None}))
    assert (code, message) == ("MissingParameter", f"The parameter `{name}` is required.")


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, "en"), ("en-US", "en"), ("zh-CN", "zh"), ("zh-cn", "zh"), ("fr-FR", "en"), ("", "en")],
)
def test_language_selection(live_server: LiveServer, header: str | None, expected: str) -> None:
    response = raw_request(live_server, "DescribeCats", headers={"X-TC-Language": header})
    code, message = error_of(response)
    assert code == "InvalidAction"
    english = "The action `DescribeCats` does not exist."
    assert message == ("接口 `DescribeCats` 不存在。" if expected == "zh" else english)


def test_payload_hash_is_over_the_exact_bytes(live_server: LiveServer) -> None:
    # Same JSON, different bytes (whitespace): the signature is over what was sent, not a re-encoding.
    body = b'{ "DBInstanceId" :  "postgres-aaaaaaaa" }'
    assert hashlib.sha256(body).hexdigest() != hashlib.sha256(b'{"DBInstanceId":"postgres-aaaaaaaa"}').hexdigest()
    inner = envelope(raw_request(live_server, "DescribeDBInstanceAttribute", body))
    assert inner["DBInstance"]["DBInstanceId"] == "postgres-aaaaaaaa"
