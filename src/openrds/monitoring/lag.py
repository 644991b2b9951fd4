"""Replication lag in seconds, derived from bytes.

PostgreSQL's own time-based lag figures mislead (``replay_lag`` freezes, is NULL on an idle link and
stays stale after catch-up; ``now() - pg_last_xact_replay_timestamp()`` grows on an idle primary).
Bytes are exact, so we keep a short history of (time, upstream LSN) samples per upstream and report
how long ago the upstream was where the replica has replayed to: 0 when it has replayed everything.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

HISTORY_SECONDS = 900.0


def parse_lsn(text: str | None) -> int | None:
    """``'16/B374D848'`` -> 97500059720."""
    if not text:
        return None
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass
class LsnHistory:
    """(time, LSN) samples of one upstream, oldest first; times are monotonic seconds."""

    keep_seconds: float = HISTORY_SECONDS
    _times: deque[float] = field(default_factory=deque)
    _lsns: deque[int] = field(default_factory=deque)

    def add(self, when: float, lsn: int) -> None:
        if self._lsns and lsn < self._lsns[-1]:
            # The upstream went back (a new timeline after promotion): earlier samples mean nothing now.
            self._times.clear()
            self._lsns.clear()
        self._times.append(when)
        self._lsns.append(lsn)
        while self._times and self._times[0] < when - self.keep_seconds:
            self._times.popleft()
            self._lsns.popleft()

    def seconds_behind(self, replay_lsn: int, now: float) -> float:
        """How long ago the upstream first stood at or beyond ``replay_lsn`` (0 if it never moved past it).

        Between two samples the upstream is taken to have advanced evenly. When even the oldest sample
        is past ``replay_lsn`` the answer is the age of that sample: a lower bound.
        """
        if not self._lsns or replay_lsn >= self._lsns[-1]:
            return 0.0
        lsns = list(self._lsns)
        times = list(self._times)
        index = bisect.bisect_left(lsns, replay_lsn)  # first sample with lsn >= replay_lsn
        if index == 0:
            return max(0.0, now - times[0])
        before_lsn, after_lsn = lsns[index - 1], lsns[index]
        before_t, after_t = times[index - 1], times[index]
        fraction = (replay_lsn - before_lsn) / (after_lsn - before_lsn) if after_lsn > before_lsn else 1.0
        crossed_at = before_t + fraction * (after_t - before_t)
        return max(0.0, now - crossed_at)
