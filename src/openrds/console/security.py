"""Console sign-in: signed session cookies, CSRF tokens, and slowing then locking repeated failures.

- The session is a cookie holding who signed in and when it expires, signed with HMAC-SHA256 under a
  key kept in the data root (``console.key``, 0600, made on first use). Nothing is stored server-side,
  so sessions survive a restart of the service; signing out clears the cookie.
- Each session has a random nonce; its CSRF token is an HMAC of that nonce, sent in every form and
  checked on every POST. The sign-in form, which has no session yet, uses a pre-session cookie the
  same way (double submit).
- Failed sign-ins are counted per user (domain/name) and per client address. Past a few failures
  each further attempt waits (1 s, 2 s, 4 s ... capped); past more the user is locked for a while,
  even with the right password. Counts are forgotten after a quiet period and on success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

SESSION_COOKIE = "openrds_console"
PRESESSION_COOKIE = "openrds_console_pre"
KEY_FILE = "console.key"


def load_key(data_dir: Path) -> bytes:
    """The signing key, created (32 random bytes, mode 0600) if the data root has none yet."""
    path = data_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 32:
            raise RuntimeError(f"{path} holds fewer than 32 bytes; remove it to make a new key") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


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


@dataclass(frozen=True, slots=True)
class Verdict:
    locked_for: float  # seconds left of a lock; 0 when not locked
    delay: float  # seconds to wait before checking the password


class SignInThrottle:
    """Failure counts per key (``user:<domain>/<name>``, ``ip:<address>``), bounded in memory.

    :param free_failures: failures allowed before attempts are slowed.
    :param lock_after: failures of one user that lock it for ``lock_seconds``.
    :param ip_lock_after: failures from one address that lock that address (password spraying).
    :param forget_after: seconds without a failure after which a key's count is forgotten.
    """

    def __init__(self, *, free_failures: int = 3, lock_after: int = 6, ip_lock_after: int = 30,
                 lock_seconds: float = 900.0, max_delay: float = 8.0, forget_after: float = 900.0,
                 max_keys: int = 10_000, now: Callable[[], float] = time.monotonic) -> None:
        self.free_failures = free_failures
        self.lock_after = lock_after
        self.ip_lock_after = ip_lock_after
        self.lock_seconds = lock_seconds
        self.max_delay = max_delay
        self.forget_after = forget_after
        self._max_keys = max_keys
        self._now = now
        # key -> (failures, time of the last one, locked until)
        self._entries: OrderedDict[str, tuple[int, float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def keys(domain: str, user: str, address: str) -> tuple[str, str]:
        return f"user:{domain.strip().lower()}/{user.strip().lower()}", f"ip:{address}"

    def _get(self, key: str, now: float) -> tuple[int, float, float]:
        entry = self._entries.get(key)
        if entry is None:
            return 0, 0.0, 0.0
        _, last, locked_until = entry
        if locked_until <= now and now - last > self.forget_after:
            del self._entries[key]
            return 0, 0.0, 0.0
        return entry

    def check(self, keys: Sequence[str]) -> Verdict:
        now = self._now()
        with self._lock:
            entries = [self._get(k, now) for k in keys]
        locked_for = max((until - now for _, _, until in entries), default=0.0)
        failures = max((n for n, _, _ in entries), default=0)
        over = failures - self.free_failures
        delay = 0.0 if over < 0 else min(self.max_delay, float(2 ** over))
        return Verdict(max(0.0, locked_for), delay)

    def failed(self, keys: Sequence[str]) -> None:
        now = self._now()
        with self._lock:
            for key in keys:
                failures, _, locked_until = self._get(key, now)
                failures += 1
                limit = self.ip_lock_after if key.startswith("ip:") else self.lock_after
                if failures >= limit and locked_until <= now:
                    locked_until = now + self.lock_seconds
                    # After the lock, attempts are slowed at once and the next lock comes sooner.
                    failures = self.free_failures
                self._entries[key] = (failures, now, locked_until)
                self._entries.move_to_end(key)
            while len(self._entries) > self._max_keys:
                self._entries.popitem(last=False)

    def succeeded(self, keys: Sequence[str]) -> None:
        """Forget the user's failures. An address's count is kept (it decays with time): signing in to
        an account of one's own must not wipe the record of guessing at others."""
        with self._lock:
            for key in keys:
                if not key.startswith("ip:"):
                    self._entries.pop(key, None)
