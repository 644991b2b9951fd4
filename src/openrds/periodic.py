"""One background loop, for every "do this every N seconds" part of the service (supervisor, monitor,
billing): a round that raises is logged and the next round runs anyway, rounds keep their pace
(the wait is the interval less the round's own time), and stop() returns once the round under way ends."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, round_: Callable[[], object]) -> None:
        self._name = name
        self._interval = interval
        self._round = round_
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"openrds-{self._name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._round()
            except Exception:  # the loop must outlive a bad round; the next one retries
                log.exception("%s: round failed", self._name)
            self._stop.wait(max(0.05, self._interval - (time.monotonic() - started)))
