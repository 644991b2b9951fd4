"""SDK-HMAC-SHA256 request authentication, computed exactly as ``huaweicloudsdkcore`` signs
(``huaweicloudsdkcore/signer/signer.py``, class ``Signer``, the SDK's default algorithm)::

    CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQuery \\n CanonicalHeaders \\n SignedHeaders \\n
                       sha256hex(Payload)
    CanonicalURI     = each path segment URL-decoded then quoted (safe "~"), always ending in "/"
    CanonicalQuery   = the (key, value) pairs sorted, each quoted (safe "~"), joined by "&"
    CanonicalHeaders = for each name in SignedHeaders: "<name>:<value stripped>\\n"
    StringToSign     = "SDK-HMAC-SHA256" \\n X-Sdk-Date \\n sha256hex(CanonicalRequest)
    Signature        = hex(HMAC-SHA256(SecretKey, StringToSign))

and ``Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=content-type;host;..., Signature=<hex>``.

Decisions, each because a real client depends on it or an attacker would:

* The canonical headers are those named in ``SignedHeaders`` (the SDK signs every header it set whose
  name has no ``_``, so the list varies), with the values as received; ``host`` and ``x-sdk-date``
  must be among them, so a signature cannot be moved to another server or another time.
* The raw secret key is the HMAC key (no derivation chain, unlike TC3 or SigV4).
* ``X-Sdk-Date`` (``%Y%m%dT%H%M%SZ``, UTC) must be within :data:`MAX_CLOCK_SKEW` of the server clock,
  15 minutes as Huawei's gateway allows.
* ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` (the SDK sends it only for bodies that are neither JSON
  nor BSON, never for RDS) is refused: every body this face reads is signed.
* An unknown AK costs the same HMAC work as a known one (a dummy key), so timing does not tell which
  AKs exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = timedelta(minutes=15)
#: Headers every signature must cover: where the request goes and when it was made.
REQUIRED_SIGNED_HEADERS = ("host", "x-sdk-date")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^`|~-]+")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_DUMMY_SECRET_KEY = secrets.token_urlsafe(30)


class SignatureError(Exception):
    """Why a request's signature was refused; ``expired`` tells a stale ``X-Sdk-Date`` from the rest."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of an HTTP request an SDK-HMAC-SHA256 signature covers.

    :param path: the path as sent (percent-encoded, no query).
    :param query: the raw query string, without ``?``.
    :param headers: header names in lower case -> value as received.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose signature matched: who signed it, the signature and when it was signed (what the
    replay memory, :mod:`openrds.api.replay`, remembers)."""

    access_key: str
    signature: str
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class Authorization:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def is_signed(headers: Mapping[str, str]) -> bool:
    """Whether the request carries an SDK signature (``headers`` with lower-case names)."""
    return headers.get("authorization", "").lstrip().startswith(ALGORITHM + " ")


def parse_authorization(value: str) -> Authorization:
    """Parse ``SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...``."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(f"the signing algorithm must be {ALGORITHM}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep or key in parts:
            raise SignatureError("the Authorization header is malformed")
        parts[key] = val.strip()
    if set(parts) != {"Access", "SignedHeaders", "Signature"} or not parts["Access"]:
        raise SignatureError("Access, SignedHeaders and Signature are each required exactly once")
    signed = tuple(parts["SignedHeaders"].split(";"))
    if not all(_HEADER_NAME.fullmatch(name) for name in signed) or len(set(signed)) != len(signed):
        raise SignatureError("SignedHeaders must be distinct lower-case header names separated by ';'")
    if not _SIGNATURE.fullmatch(parts["Signature"]):
        raise SignatureError("Signature must be 64 hexadecimal digits")
    return Authorization(parts["Access"], signed, parts["Signature"].lower())


def canonical_uri(path: str) -> str:
    uri = "/".join(quote(segment, safe="~") for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs)


def canonical_request(request: SignedRequest, signed_headers: tuple[str, ...]) -> str:
    headers = "".join(f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed_headers)
    payload = hashlib.sha256(request.body).hexdigest() if request.body else EMPTY_SHA256
    return "\n".join([request.method.upper(), canonical_uri(request.path), canonical_query(request.query), headers,
                      ";".join(signed_headers), payload])


def signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    string_to_sign = "\n".join([ALGORITHM, sdk_date, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def authorization_header(access_key: str, secret_key: str, request: SignedRequest) -> str:
    """Sign ``request`` (whose headers must hold ``host`` and ``x-sdk-date``) over all its headers, as
    the SDK does: for clients that are not the SDK (tests sending hand-made requests, tools)."""
    signed = tuple(sorted(name for name in request.headers if "_" not in name))
    sig = signature(secret_key, request.headers["x-sdk-date"], canonical_request(request, signed))
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(signed)}, Signature={sig}"


def verify(request: SignedRequest, secret_for: Callable[[str], str | None], now: datetime) -> Verified:
    """The access key that signed ``request``, with its signature (lower case) and ``X-Sdk-Date``.

    Checks, in order: the header's shape, the signed headers (present, ``host`` and ``x-sdk-date``
    among them), the payload being signed, ``X-Sdk-Date`` against ``now``, then the AK and the signature.

    :param secret_for: the secret key of an active AK, None for an unknown or revoked one.
    :raises SignatureError: with the reason.
    """
    auth = parse_authorization(request.headers.get("authorization", ""))
    for name in REQUIRED_SIGNED_HEADERS:
        if name not in auth.signed_headers:
            raise SignatureError(f"SignedHeaders must include {name}")
    for name in auth.signed_headers:
        if name not in request.headers:
            raise SignatureError(f"the signed header {name} is missing")
    if request.headers.get("x-sdk-content-sha256", "").strip() == UNSIGNED_PAYLOAD:
        raise SignatureError("unsigned payloads are not accepted")
    raw_date = request.headers["x-sdk-date"].strip()
    try:
        signed_at = datetime.strptime(raw_date, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError(f"X-Sdk-Date must be UTC time as YYYYMMDDTHHMMSSZ, not {raw_date[:32]!r}") from None
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise SignatureError(f"X-Sdk-Date {raw_date} is more than {int(MAX_CLOCK_SKEW.total_seconds()) // 60}"
                             " minutes away from the server time", expired=True)
    secret = secret_for(auth.access_key)
    expected = signature(secret if secret is not None else _DUMMY_SECRET_KEY, raw_date,
                         canonical_request(request, auth.signed_headers))
    matched = hmac.compare_digest(expected, auth.signature)
    if secret is None:
        raise SignatureError(f"the access key {auth.access_key[:64]} does not exist or was revoked")
    if not matched:
        raise SignatureError("the signature does not match: check the secret key and that nothing rewrote the"
                             " request's signed headers")
    return Verified(auth.access_key, auth.signature, signed_at)
