"""The replay memory of TC3 signatures (:mod:`openrds.api.replay`), answering in Tencent's errors.

TC3 signs only what ``SignedHeaders`` names, and the official SDK names ``content-type;host``: the
action (``X-TC-Action``) and the region (``X-TC-Region``) travel unsigned, and nothing in a request is
unique to it but the second of ``X-TC-Timestamp``. A captured request is therefore valid for anyone
who resends it, under any action and region, until its timestamp leaves the window of
:data:`.auth.MAX_CLOCK_SKEW_SECONDS` either side of the server clock. The memory binds each
(SecretId, Signature) to the action and region of its first use and makes it single-use for actions
that change state (:attr:`.protocol.Action.changes_state`); its refusals answer as
``AuthFailure.SignatureFailure`` (saying why), ``AuthFailure.SignatureExpire`` and
``RequestLimitExceeded`` (a cap reached: retryable).
"""

from __future__ import annotations

from collections.abc import Callable

from openrds.api import replay
from openrds.api.replay import MAX_ENTRIES, MAX_ENTRIES_PER_TENANT, SAME_CLIENT_GRACE_SECONDS, SignatureUse
from openrds.api.shared import SharedSignatures
from openrds.api.tencent.auth import MAX_CLOCK_SKEW_SECONDS
from openrds.api.tencent.errors import Text, signature_expire, signature_reused, too_many_signatures

__all__ = ["MAX_ENTRIES", "MAX_ENTRIES_PER_TENANT", "SAME_CLIENT_GRACE_SECONDS", "SignatureMemory", "SignatureUse"]


class SignatureMemory(replay.SignatureMemory):
    """:class:`openrds.api.replay.SignatureMemory` over TC3's window, refusing with Tencent's errors.

    :param clock: seconds since the epoch; the router's clock (the one signatures are checked with).
    :param window: how long after its timestamp a signature is valid (:data:`.auth.MAX_CLOCK_SKEW_SECONDS`).
    :param shared: the other API workers' memory (:class:`openrds.api.shared.SharedSignatures`).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        window: int = MAX_CLOCK_SKEW_SECONDS,
        max_entries: int = MAX_ENTRIES,
        max_entries_per_tenant: int = MAX_ENTRIES_PER_TENANT,
        shared: SharedSignatures | None = None,
    ) -> None:
        super().__init__(clock, window=window, max_entries=max_entries, max_entries_per_tenant=max_entries_per_tenant,
                         shared=shared)

    def check(self, use: SignatureUse) -> None:
        """Accept ``use`` or refuse it.

        :raises openrds.api.tencent.errors.TencentApiError: ``AuthFailure.SignatureFailure`` for a
            signature already used for another action or region, or already used once for an action
            that changes state; ``AuthFailure.SignatureExpire`` when the timestamp left the window
            since authentication; ``RequestLimitExceeded`` for a new signature while a cap is reached.
        """
        try:
            super().check(use)
        except replay.SignatureReused as exc:
            raise signature_reused(Text(exc.en, exc.zh)) from None
        except replay.SignatureExpired as exc:
            raise signature_expire(exc.timestamp, exc.now, exc.window) from None
        except replay.TooManySignatures as exc:
            raise too_many_signatures(exc.window) from None
