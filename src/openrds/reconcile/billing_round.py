"""The billing round: :meth:`openrds.services.billing.BillingService.tick` on a background thread."""

from __future__ import annotations

from openrds.periodic import Periodic
from openrds.services.billing import BillingService


class BillingLoop:
    """Runs :meth:`BillingService.tick` every ``interval`` seconds on a background thread (started and
    stopped with the service). Each round works from stored times, so the first round after the
    service was down charges and isolates exactly what the missed rounds would have."""

    def __init__(self, billing: BillingService, interval: float = 60.0) -> None:
        self._loop = Periodic("billing", interval, billing.tick)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
