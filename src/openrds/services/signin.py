"""Password sign-in for every face that takes a password (Huawei IAM tokens, the web console), behind
one throttle per service process: failures on one face slow and lock the other face too.

- Failed sign-ins are counted per user (domain/name) and per client address. Past a few failures
  each further attempt waits (1 s, 2 s, 4 s ... capped); past more the user is locked for a while,
  even with the right password, and so is an address that failed too often (password spraying).
  Counts are forgotten after a quiet period; a user's also on success.
- Attempts for the same user are checked one at a time, so guesses sent all at once are counted and
  slowed in turn, as if sent one after another, instead of all passing the check before the first
  failure is counted.
- The wait is an ``asyncio.sleep`` on the event loop and the password hash runs in a worker thread:
  a slowed attempt holds no thread of the server's pool.
- The counts are in this process's memory, bounded in size; a restart of the service forgets them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from openrds.domain.errors import AuthenticationFailed, SignInLocked
from openrds.domain.model import IamUser
from openrds.services.identity import IdentityService


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


class PasswordSignIn:
    """Checks an IAM user's password under the throttle (see the module docstring).

    ``throttle`` is public so that a test can put in one with shorter waits."""

    def __init__(self, identity: IdentityService, throttle: SignInThrottle | None = None) -> None:
        self.identity = identity
        self.throttle = throttle or SignInThrottle()
        # user key -> (its lock, how many attempts hold or wait for it); used on the event loop only
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def _turn(self, key: str) -> AsyncIterator[None]:
        """One attempt at a time per ``key``; the lock is dropped when nobody holds or waits for it."""
        lock, waiting = self._turns.get(key) or (asyncio.Lock(), 0)
        self._turns[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._turns[key]
            if waiting == 1:
                del self._turns[key]
            else:
                self._turns[key] = (lock, waiting - 1)

    async def authenticate(self, domain: str, name: str, password: str, address: str) -> IamUser:
        """The user whose password this is, signing in from ``address``.

        :raises SignInLocked: the user or the address is locked; the password was not checked.
        :raises AuthenticationFailed: unknown user or wrong password (counted as a failure).
        """
        keys = SignInThrottle.keys(domain, name, address)
        async with self._turn(keys[0]):
            verdict = self.throttle.check(keys)
            if verdict.locked_for > 0:
                minutes = max(1, round(verdict.locked_for / 60))
                raise SignInLocked(f"too many failed sign-ins; try again in about {minutes} min",
                                   retry_after=verdict.locked_for)
            if verdict.delay > 0:
                await asyncio.sleep(verdict.delay)
            try:
                user = await asyncio.to_thread(self.identity.authenticate, domain, name, password)
            except AuthenticationFailed:
                self.throttle.failed(keys)
                raise
            self.throttle.succeeded(keys)
            return user
