"""Console sessions: signed session cookies and CSRF tokens.

- The session is a cookie holding who signed in, a random nonce and when it expires, signed with
  HMAC-SHA256 under a key kept in the data root (``console.key``, 0600, made on first use), so
  sessions survive a restart of the service. Signing out records the nonce as ended in the store
  until the cookie would have expired (``IdentityService.end_console_session``); the console refuses
  a cookie whose nonce is recorded, in every process of the service and after a restart.
- Each session's CSRF token is an HMAC of its nonce, sent in every form and checked on every POST.
  The sign-in form, which has no session yet, uses a pre-session cookie the same way (double submit).
- Failed sign-ins are throttled by ``openrds.services.signin``, shared with the Huawei IAM face.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openrds.crypto import signing_key

SESSION_COOKIE = "openrds_console"
PRESESSION_COOKIE = "openrds_console_pre"
KEY_FILE = "console.key"


def load_key(data_dir: Path) -> bytes:
    """The signing key, created (32 random bytes, mode 0600) if the data root has none yet."""
    return signing_key(data_dir / KEY_FILE)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str
    tenant_id: str
    domain: str
    user: str
    nonce: str
    expires: float  # epoch seconds

    @property
    def who(self) -> str:
        return f"{self.domain}/{self.user}"


class Signer:
    def __init__(self, key: bytes, *, ttl_seconds: float = 8 * 3600, now: Callable[[], float] = time.time) -> None:
        self._key = key
        self._ttl = ttl_seconds
        self._now = now

    def _mac(self, purpose: str, data: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}|{data}".encode(), hashlib.sha256).digest())

    # --- sessions ----------------------------------------------------------------------------------
    def issue(self, *, user_id: str, tenant_id: str, domain: str, user: str) -> tuple[str, Session]:
        session = Session(user_id, tenant_id, domain, user, secrets.token_urlsafe(16), self._now() + self._ttl)
        payload = _b64(json.dumps({"u": user_id, "t": tenant_id, "d": domain, "n": user, "s": session.nonce,
                                   "e": int(session.expires)}, separators=(",", ":")).encode())
        return f"{payload}.{self._mac('session', payload)}", session

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie whose signature is good and which has not expired; else None."""
        if not cookie or "." not in cookie:
            return None
        payload, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac("session", payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(str(data["u"]), str(data["t"]), str(data["d"]), str(data["n"]), str(data["s"]),
                              float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > self._now() else None

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    # --- CSRF --------------------------------------------------------------------------------------
    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce) and bool(token) and hmac.compare_digest(str(token), self.csrf_token(str(nonce)))
