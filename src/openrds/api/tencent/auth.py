"""TC3-HMAC-SHA256 request authentication, computed exactly as ``tencentcloud-sdk-python`` signs.

The signature (``tencentcloud/common/abstract_client.py`` ``_get_tc3_signature``)::

    CanonicalRequest = Method \\n Path \\n Query \\n CanonicalHeaders \\n SignedHeaders \\n sha256hex(Payload)
    CanonicalHeaders = for each name in SignedHeaders: "<name>:<value>\\n"
    StringToSign     = "TC3-HMAC-SHA256" \\n X-TC-Timestamp \\n "<date>/<service>/tc3_request" \\n
                       sha256hex(CanonicalRequest)
    SigningKey       = HMAC(HMAC(HMAC("TC3" + SecretKey, date), service), "tc3_request")
    Signature        = hex(HMAC(SigningKey, StringToSign))

and ``Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request,
SignedHeaders=content-type;host, Signature=<hex>``.

Decisions, each because a real client depends on it:

* The canonical headers are exactly those named in ``SignedHeaders``, with the values *as received*
  (trimmed). ``tccli --endpoint http://127.0.0.1:8080`` sends and signs ``Host: http://127.0.0.1:8080``
  literally, so the Host value is never normalised. Tencent's specification says values are
  lower-cased, and the Go SDK signs ``x-tc-action`` lower-cased while the header carries
  ``DescribeZones``; the Python SDK signs values unchanged. Both forms are therefore accepted: the
  signature is checked over the values as received and, when lower-casing changes them, over the
  lower-cased values too. Either is an HMAC over server-built text, so neither weakens the check.
* The service in the credential scope must be ``postgres`` (this API's service name); the scope's
  date must be the UTC date of ``X-TC-Timestamp``, and the timestamp within 300 s of the server clock.
* An unknown SecretId costs the same HMAC work as a known one (a dummy key is used), so response
  timing does not reveal which ids exist; the answer code does differ, as Tencent's does.
* ``X-TC-Content-SHA256: UNSIGNED-PAYLOAD`` (SDK option ``unsignedPayload``) leaves the body
  unsigned; it is refused unless the router is built with ``allow_unsigned_payload=True``.
* ``X-TC-Token`` (temporary credentials) is ignored: keys are permanent and are verified in full.
* What is not signed (with the SDK: ``X-TC-Action``, ``X-TC-Region``) is bound to the signature by the
  replay memory (:mod:`.replay`), which also makes signatures of state-changing actions single-use.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

from openrds.api.tencent.errors import (
    TencentApiError,
    Text,
    invalid_authorization,
    secret_id_not_found,
    signature_expire,
    signature_failure,
)

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "postgres"
#: Largest accepted distance between ``X-TC-Timestamp`` and the server clock, in seconds.
MAX_CLOCK_SKEW_SECONDS = 300
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: Headers every signature must cover (Tencent's specification: "at least host and content-type").
REQUIRED_SIGNED_HEADERS = ("content-type", "host")

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HEADER_NAME_RE = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")
_TIMESTAMP_RE = re.compile(r"\d{1,12}")
# Used for unknown SecretIds so that they cost the same HMAC work as known ones.
_DUMMY_SECRET_KEY = secrets.token_urlsafe(30)


@dataclass(frozen=True)
class Caller:
    """Who signed a request: the tenant (account) and the key it used.

    :param tenant_id: the OpenRDS tenant that owns everything this caller may see.
    :param secret_id: the SecretId that signed the request.
    :param app_id: the Tencent-style AppId shown in answers that carry one.
    :param uin: the Tencent-style account Uin (a digit string).
    """

    tenant_id: str
    secret_id: str
    app_id: int
    uin: str


class ApiKeyLookup(Protocol):
    """Finds an API key by SecretId (injected; backed by the tenant store in production)."""

    def find(self, secret_id: str) -> tuple[Caller, str] | None:
        """``(caller, secret_key)`` for an enabled key, ``None`` for an unknown or disabled one.

        Called once per request, from a worker thread (it may block, e.g. on the database); it must
        not raise for unknown ids.
        """
        ...


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request a TC3 signature covers.

    :param method: ``POST`` or ``GET``, as sent.
    :param path: the request path as sent (``/`` for the SDK).
    :param query: the raw query string, without ``?`` (empty for POST).
    :param headers: header names in lower case -> value as received.
    :param body: the raw body bytes.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out.

    :param caller: who signed it.
    :param signature: the signature, lower-case hex: with the SecretId, what the replay memory
        (:mod:`.replay`) remembers.
    :param timestamp: its ``X-TC-Timestamp``: the signature is valid until ``timestamp + MAX_CLOCK_SKEW_SECONDS``.
    """

    caller: Caller
    signature: str
    timestamp: int


@dataclass(frozen=True)
class Authorization:
    """A parsed ``Authorization`` header."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def _bad(en: str, zh: str) -> TencentApiError:
    return invalid_authorization(Text(en, zh))


def parse_authorization(value: str | None) -> Authorization:
    """Parse ``TC3-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``.

    :raises TencentApiError: ``AuthFailure.InvalidAuthorization`` when absent or malformed.
    """
    if not value or not value.strip():
        raise _bad("the header is missing", "缺少 Authorization 请求头")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _bad(
            f"the algorithm must be {ALGORITHM} (the legacy HmacSHA1/HmacSHA256 signatures are not supported)",
            f"签名算法必须为 {ALGORITHM}（不支持旧版 HmacSHA1/HmacSHA256 签名）",
        )
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep or key in parts:
            raise _bad("the header is malformed", "Authorization 格式错误")
        parts[key] = val.strip()
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        raise _bad(
            "Credential, SignedHeaders and Signature are each required exactly once",
            "Credential、SignedHeaders、Signature 必须各出现一次",
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 4 or not scope[0] or scope[3] != "tc3_request" or not _DATE_RE.fullmatch(scope[1]):
        raise _bad(
            "Credential must be <SecretId>/<YYYY-MM-DD>/<service>/tc3_request",
            "Credential 格式必须为 <SecretId>/<YYYY-MM-DD>/<service>/tc3_request",
        )
    signed = tuple(parts["SignedHeaders"].split(";"))
    if not all(_HEADER_NAME_RE.fullmatch(name) for name in signed) or len(set(signed)) != len(signed):
        raise _bad(
            "SignedHeaders must be distinct lower-case header names separated by ';'",
            "SignedHeaders 必须为以 ';' 分隔、互不重复的小写请求头名称",
        )
    if not _SIGNATURE_RE.fullmatch(parts["Signature"]):
        raise _bad("Signature must be 64 hexadecimal digits", "Signature 必须为 64 位十六进制字符串")
    return Authorization(
        secret_id=scope[0],
        date=scope[1],
        service=scope[2],
        signed_headers=signed,
        signature=parts["Signature"].lower(),
    )


def canonical_request(request: SignedRequest, signed_headers: tuple[str, ...], *, lower_values: bool = False) -> str:
    """The TC3 canonical request; ``lower_values`` lower-cases header values (the specification's form).

    :param signed_headers: names from ``SignedHeaders``, in the order given (the signer's order).
    """
    lines = []
    for name in signed_headers:
        value = request.headers.get(name, "").strip()
        lines.append(f"{name}:{value.lower() if lower_values else value}\n")
    if request.headers.get("x-tc-content-sha256") == UNSIGNED_PAYLOAD:
        payload_hash = hashlib.sha256(UNSIGNED_PAYLOAD.encode()).hexdigest()
    else:
        payload_hash = hashlib.sha256(request.body).hexdigest()
    return "\n".join(
        [request.method, request.path, request.query, "".join(lines), ";".join(signed_headers), payload_hash]
    )


def signature(secret_key: str, timestamp: str, date: str, service: str, canonical: str) -> str:
    """The hex signature of a canonical request (``Sign.sign_tc3`` of the SDK)."""
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, f"{date}/{service}/tc3_request", hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return hmac.new(_signing_key(secret_key, date, service), string_to_sign.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4096)
def _signing_key(secret_key: str, date: str, service: str) -> bytes:
    """TC3's derived key: the same for every request of a key on one day (three of a request's four
    HMACs). Kept for the keys recently used; a revoked key's stays until pushed out, but is of no use:
    authentication finds no key for its SecretId first."""
    key = ("TC3" + secret_key).encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@lru_cache(maxsize=8)
def _utc_date(day: int) -> str:
    """``YYYY-MM-DD`` of the ``day``-th day since the epoch (UTC)."""
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")


def authorization_header(
    secret_id: str,
    secret_key: str,
    request: SignedRequest,
    *,
    signed_headers: tuple[str, ...] = REQUIRED_SIGNED_HEADERS,
    service: str = SERVICE,
) -> str:
    """Sign ``request`` (whose headers must hold ``x-tc-timestamp``) the way the SDK does.

    For clients that are not the SDK: tests that send hand-made requests, tools, the console.
    """
    timestamp = request.headers["x-tc-timestamp"]
    date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    sig = signature(secret_key, timestamp, date, service, canonical_request(request, signed_headers))
    return (
        f"{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders={';'.join(signed_headers)}, Signature={sig}"
    )


def authenticate(
    request: SignedRequest,
    keys: ApiKeyLookup,
    *,
    now: float,
    service: str = SERVICE,
    max_skew: int = MAX_CLOCK_SKEW_SECONDS,
    allow_unsigned_payload: bool = False,
) -> Verified:
    """Verify the TC3 signature of ``request`` and return who signed it, with the signature.

    Checks, in order: the header's shape (``AuthFailure.InvalidAuthorization``), the scope's service,
    the signed headers, ``X-TC-Timestamp`` against ``now`` (``AuthFailure.SignatureExpire``), the
    scope's date, the SecretId (``AuthFailure.SecretIdNotFound``) and the signature
    (``AuthFailure.SignatureFailure``). Whether the signature was used before is not its concern:
    the router asks :mod:`.replay` once the action and region are known.

    :param now: the server clock, in seconds since the epoch (injected).
    :raises TencentApiError: with one of the codes above.
    """
    auth = parse_authorization(request.headers.get("authorization"))
    if auth.service != service:
        raise _bad(
            f"the service in Credential must be `{service}`, not `{auth.service}`",
            f"Credential 中的服务名必须为 `{service}`，而不是 `{auth.service}`",
        )
    for name in REQUIRED_SIGNED_HEADERS:
        if name not in auth.signed_headers:
            raise _bad(f"SignedHeaders must include `{name}`", f"SignedHeaders 必须包含 `{name}`")
    for name in auth.signed_headers:
        if name not in request.headers:
            raise _bad(f"the signed header `{name}` is missing", f"缺少已签名的请求头 `{name}`")
    if request.headers.get("x-tc-content-sha256") == UNSIGNED_PAYLOAD and not allow_unsigned_payload:
        raise _bad("unsigned payloads are not accepted", "不接受未签名的请求体（UNSIGNED-PAYLOAD）")

    raw_timestamp = request.headers.get("x-tc-timestamp", "").strip()
    if not _TIMESTAMP_RE.fullmatch(raw_timestamp):
        raise _bad(
            "X-TC-Timestamp must be the Unix time in seconds",
            "X-TC-Timestamp 必须为以秒为单位的 Unix 时间戳",
        )
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > max_skew:
        raise signature_expire(timestamp, int(now), max_skew)
    expected_date = _utc_date(timestamp // 86400)
    if auth.date != expected_date:
        raise _bad(
            f"the date in Credential ({auth.date}) must be the UTC date of X-TC-Timestamp ({expected_date})",
            f"Credential 中的日期（{auth.date}）必须为 X-TC-Timestamp 对应的 UTC 日期（{expected_date}）",
        )

    found = keys.find(auth.secret_id)
    secret_key = found[1] if found is not None else _DUMMY_SECRET_KEY
    matched = False
    variants = [canonical_request(request, auth.signed_headers)]
    lowered = canonical_request(request, auth.signed_headers, lower_values=True)
    if lowered != variants[0]:
        variants.append(lowered)
    for canonical in variants:
        expected = signature(secret_key, raw_timestamp, auth.date, auth.service, canonical)
        # Evaluate every variant (no short-circuit) so the work does not depend on which one matched.
        matched = hmac.compare_digest(expected, auth.signature) | matched
    if found is None:
        raise secret_id_not_found()
    if not matched:
        raise signature_failure()
    return Verified(found[0], auth.signature, timestamp)
