"""The replay memory of request signatures, shared by the faces that authenticate with one: each
signature is bound to its first action and region, and single-use for actions that change state.

A signed request carries nothing unique to it but its signing time, to the second: a captured request
is valid for anyone who resends it until that time leaves the face's window (TC3: 300 s either side of
the server clock; SDK-HMAC-SHA256: 15 minutes). :class:`SignatureMemory` remembers every accepted
(key id, signature) with the action and region of its first use until then, and refuses
(:class:`SignatureReused`, saying why):

* the same signature under another action or another region (possible where the face does not sign
  them: TC3's ``X-TC-Action`` and ``X-TC-Region``);
* the same signature again for an action that changes state.

The same read sent again (same action, same region) is answered: the SDKs' polling loops send the
identical request several times within one second, and a read repeated changes nothing.

One exception, because the official SDKs cannot avoid it: they timestamp to the second, so one
client's identical calls within one second carry the same signature (and, with TC3, so do calls of
different actions with the same parameters - ``DescribeDBInstanceAttribute {"DBInstanceId": X}`` and
then ``RestartDBInstance {"DBInstanceId": X}``). Over the connection of the signature's first use (the
SDKs keep their HTTP connection alive) and within :data:`SAME_CLIENT_GRACE_SECONDS` of it, every use
is accepted: that is the signer itself. A replay from anywhere else - another connection, or later -
is refused as above. What the exception leaves open is an on-path attacker who alters requests in
flight on that very connection; replay protection cannot stop one (it could as well alter the first
request, which this memory has never seen) - TLS does (``OPENRDS_TLS_CERT``).

Bounded memory: an entry is forgotten as soon as its timestamp is out of the window (from then on
authentication refuses the signature as expired, so remembering it would serve nothing). On top of
that, at most :data:`MAX_ENTRIES` entries in all and :data:`MAX_ENTRIES_PER_TENANT` per tenant. When
a cap is reached, a signature not remembered yet is refused (:class:`TooManySignatures`, retryable)
until entries expire, whatever its action; signatures already remembered behave as above (a polling
loop keeps being answered). Forgetting old entries instead would reopen the replay it exists to
refuse, for reads too (a forgotten read signature could come back as a restart). The per-tenant cap
keeps that refusal to the tenant that signs more distinct requests than any client needs (50,000 in
300 s is ~170 a second, sustained), instead of every tenant.

The memory knows no face: it raises :class:`SignatureRefused`'s subclasses, each face answers them
with its own error (:mod:`openrds.api.tencent.replay`, :mod:`openrds.api.huawei_v3.routes`).

Time comes from the injected clock, read under the lock: a request that waited for the lock cannot
miss an entry that another request, with a later clock reading, has already forgotten, because it
re-checks its own timestamp against the same later time.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from openrds.api.shared import SharedSignatures, SignaturesFull

#: Entries in all (234 bytes each as bench/api.py measures them: 45 MiB at the cap).
MAX_ENTRIES = 200_000
#: Entries of one tenant.
MAX_ENTRIES_PER_TENANT = 50_000
#: How long after a signature's first use the same client may use it for another action or region.
SAME_CLIENT_GRACE_SECONDS = 2.0


class SignatureRefused(Exception):
    """Why the memory refuses a use of a signature; each face answers it in its own words."""


class SignatureReused(SignatureRefused):
    """The signature was already used where a second use is not accepted; ``en``/``zh`` say why."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


class SignatureExpired(SignatureRefused):
    """The signature's timestamp left the window between authentication and this check."""

    def __init__(self, timestamp: int, now: int, window: int) -> None:
        super().__init__(f"timestamp {timestamp} is more than {window} seconds before {now}")
        self.timestamp = timestamp
        self.now = now
        self.window = window


class TooManySignatures(SignatureRefused):
    """A cap is reached: a new signature cannot be remembered, so it is refused until entries expire."""

    def __init__(self, window: int) -> None:
        super().__init__(f"too many distinct signatures within {window} seconds")
        self.window = window


@dataclass(frozen=True)
class SignatureUse:
    """One accepted request, as the replay memory sees it.

    :param secret_id: the key id that signed it (TC3 SecretId, Huawei AK).
    :param signature: the signature, 64 hexadecimal digits.
    :param timestamp: its signing time in seconds since the epoch; the signature is valid until
        ``timestamp + window``.
    :param tenant_id: whose share of the memory it takes.
    :param action: what it asks for, in the face's words (TC3 ``X-TC-Action``; v3 method and route).
    :param region: where (TC3 ``X-TC-Region``, ``None`` when none was sent; v3 the project id).
    :param changes_state: whether that action changes anything (else it is a read).
    :param connection: the client's address and port (one HTTP connection); ``None`` when unknown.
    """

    secret_id: str
    signature: str
    timestamp: int
    tenant_id: str
    action: str
    region: str | None
    changes_state: bool
    connection: str | None = None


class _Entry:
    """What the memory keeps of one signature: its first use, and any other (action, region) it served
    (rare: only the first connection's calls within the grace add one). Slots and no dict for the
    common case of one use: the memory holds up to :data:`MAX_ENTRIES` of these."""

    __slots__ = ("action", "changes_state", "connection", "first_seen", "more", "region", "tenant_id")

    def __init__(self, use: SignatureUse, now: float) -> None:
        self.tenant_id = sys.intern(use.tenant_id)
        self.connection = use.connection
        self.first_seen = now
        # Interned: the vocabulary is small (actions, configured regions, tenants), the entries many.
        self.action = sys.intern(use.action)
        self.region = None if use.region is None else sys.intern(use.region)
        self.changes_state = use.changes_state
        self.more: dict[tuple[str, str | None], bool] | None = None

    def served(self, action: str, region: str | None) -> bool | None:
        """Whether (action, region) was served as a change (True) or a read (False); None: never."""
        if (action, region) == (self.action, self.region):
            return self.changes_state
        return None if self.more is None else self.more.get((action, region))

    def record(self, action: str, region: str | None, changes_state: bool) -> None:
        if (action, region) == (self.action, self.region):
            self.changes_state = self.changes_state or changes_state
            return
        if self.more is None:
            self.more = {}
        self.more[(sys.intern(action), region)] = bool(self.more.get((action, region))) or changes_state


class SignatureMemory:
    """What each signature seen in the window was first used for. Thread-safe.

    :param clock: seconds since the epoch; the clock signatures are checked with.
    :param window: how long after its timestamp a signature is valid (the face's clock skew).
    :param max_entries: cap on the entries of all tenants together.
    :param max_entries_per_tenant: cap on the entries of one tenant.
    :param shared: the memory of the other worker processes (:mod:`openrds.api.shared`): a signature
        this one has not seen is looked up, and recorded, there too.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        window: int,
        max_entries: int = MAX_ENTRIES,
        max_entries_per_tenant: int = MAX_ENTRIES_PER_TENANT,
        shared: SharedSignatures | None = None,
    ) -> None:
        self._clock = clock
        self._shared = shared
        self._window = window
        self._max_entries = max_entries
        self._max_per_tenant = max_entries_per_tenant
        self._lock = threading.Lock()
        # key (key id + raw signature) -> what it was used for.
        self._uses: dict[bytes, _Entry] = {}
        # Last valid second (timestamp + window) -> the keys that expire after it: timestamps are whole
        # seconds, and at most 2 * window + 1 of them are live at once, so expiry is one pop per second.
        self._expiring: dict[int, list[bytes]] = {}
        self._per_tenant: dict[str, int] = {}
        self._swept_at = float("-inf")

    def __len__(self) -> int:
        with self._lock:
            return len(self._uses)

    def check(self, use: SignatureUse) -> None:
        """Accept ``use`` (remembering it if its signature is new) or refuse it.

        :raises SignatureReused: a signature already used for another action or region, or already
            used once for an action that changes state.
        :raises SignatureExpired: the timestamp left the window since authentication.
        :raises TooManySignatures: a new signature while a cap is reached.
        """
        key = use.secret_id.encode() + bytes.fromhex(use.signature)
        with self._lock:
            now = self._clock()
            self._expire(now)
            valid_until = use.timestamp + self._window
            if valid_until < now:
                raise SignatureExpired(use.timestamp, int(now), self._window)
            entry = self._uses.get(key)
            if entry is not None:
                _admit_again(entry, use, now)
                return
            held = self._per_tenant.get(use.tenant_id, 0)
            if len(self._uses) >= self._max_entries or held >= self._max_per_tenant:
                raise TooManySignatures(self._window)
            entry = _Entry(use, now)
            if self._shared is not None:
                try:
                    first = self._shared.first_use(key, valid_until=valid_until, action=use.action,
                                                   region=use.region, changes_state=use.changes_state, now=now)
                except SignaturesFull:
                    raise TooManySignatures(self._window) from None
                if first is not None:
                    # Another worker's first use: never this connection's (a connection stays on one worker).
                    entry = _Entry(replace(use, action=first.action, region=first.region,
                                           changes_state=first.changes_state, connection=None), first.first_seen)
                    _admit_again(entry, use, now)
            tenant = entry.tenant_id
            self._uses[key] = entry
            self._expiring.setdefault(valid_until, []).append(key)
            self._per_tenant[tenant] = held + 1

    def _expire(self, now: float) -> None:
        """Forget every entry whose signature is no longer valid at ``now`` (at most once a second)."""
        if now - self._swept_at < 1:
            return
        self._swept_at = now
        for second in [s for s in self._expiring if s < now]:
            for key in self._expiring.pop(second):
                tenant = self._uses.pop(key).tenant_id
                left = self._per_tenant[tenant] - 1
                if left:
                    self._per_tenant[tenant] = left
                else:
                    del self._per_tenant[tenant]


def _admit_again(entry: _Entry, use: SignatureUse, now: float) -> None:
    """Accept ``use`` of a signature already seen (recording what it serves now), or refuse it:
    anything from the first use's connection within the grace; the same read again from anyone;
    nothing else."""
    same_client = (entry.connection is not None and entry.connection == use.connection
                   and now - entry.first_seen <= SAME_CLIENT_GRACE_SECONDS)
    served = entry.served(use.action, use.region)
    if same_client:
        entry.record(use.action, use.region, use.changes_state)
        return
    if served is None:
        was = f"{entry.action} in {entry.region or '(no region)'}"
        raise SignatureReused(
            f"this signature was already used for {was}; a signature is bound to the action and region of its"
            " first use",
            f"该签名已用于 {was}；签名只能用于首次使用时的接口和地域",
        )
    if served or use.changes_state:
        raise SignatureReused(
            f"this signature was already used for {use.action}, which changes state: sign every such call anew"
            " (a repeated call within the same second needs a new timestamp or different parameters)",
            f"该签名已用于会变更状态的接口 {use.action}：此类请求每次都须重新签名"
            "（同一秒内重复调用需使用新的时间戳或不同的参数）",
        )
