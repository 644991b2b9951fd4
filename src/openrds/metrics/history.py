"""Recent replication lag per replica, for the console's live charts.

The monitor keeps only its latest snapshot; this keeps, per replica, a bounded ring of
(wall-clock time, lag bytes, lag seconds) samples covering the last ``keep_seconds`` (15 minutes by
default, about 900 samples at one round a second). It is fed by the monitor's round listener and read
by the console; a replica that leaves the snapshot (destroyed, isolated) is forgotten.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from openrds.monitoring.snapshot import Snapshot

KEEP_SECONDS = 900.0
MAX_SAMPLES = 2000  # a hard bound whatever the monitor's interval


@dataclass(frozen=True, slots=True)
class LagSample:
    at: float  # seconds since the epoch
    lag_bytes: int | None
    lag_seconds: float | None


@dataclass(frozen=True, slots=True)
class LagSeries:
    replica: str
    source: str
    tenant_id: str
    samples: tuple[LagSample, ...]

    def as_json(self) -> dict[str, object]:
        """Column arrays, the shape uPlot draws: ``t`` (epoch seconds), ``bytes``, ``seconds``."""
        return {
            "replica": self.replica, "source": self.source,
            "t": [s.at for s in self.samples],
            "bytes": [s.lag_bytes for s in self.samples],
            "seconds": [None if s.lag_seconds is None or math.isnan(s.lag_seconds) else round(s.lag_seconds, 3)
                        for s in self.samples],
        }


class LagHistory:
    def __init__(self, keep_seconds: float = KEEP_SECONDS, max_samples: int = MAX_SAMPLES) -> None:
        self._keep = keep_seconds
        self._max = max_samples
        self._rings: dict[str, deque[LagSample]] = {}
        self._meta: dict[str, tuple[str, str]] = {}  # replica -> (source, tenant id)
        self._lock = threading.Lock()

    def observe(self, snapshot: Snapshot) -> None:
        """Add one sample per replica of the snapshot (a monitor round listener)."""
        at = round(snapshot.taken_at.timestamp(), 3)  # as served: a client's `since` compares exactly
        with self._lock:
            for replica, link in snapshot.links.items():
                ring = self._rings.get(replica)
                if ring is None:
                    ring = self._rings[replica] = deque(maxlen=self._max)
                server = snapshot.servers.get(replica)
                self._meta[replica] = (link.source, server.tenant_id if server is not None else "")
                if ring and ring[-1].at >= at:
                    continue  # the same round seen twice
                ring.append(LagSample(at, link.lag_bytes, link.lag_seconds))
                while ring and ring[0].at < at - self._keep:
                    ring.popleft()
            for gone in [r for r in self._rings if r not in snapshot.links]:
                del self._rings[gone]
                self._meta.pop(gone, None)

    def series(self, replicas: Iterable[str], *, since: float | None = None) -> list[LagSeries]:
        """The samples of ``replicas`` (those known), newer than ``since`` when given."""
        found = []
        with self._lock:
            for replica in replicas:
                ring = self._rings.get(replica)
                if ring is None:
                    continue
                samples = tuple(s for s in ring if since is None or s.at > since)
                source, tenant = self._meta.get(replica, ("", ""))
                found.append(LagSeries(replica, source, tenant, samples))
        return found

    def replicas(self) -> list[str]:
        with self._lock:
            return list(self._rings)
