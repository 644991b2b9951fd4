"""In-memory counters with histograms, keyed by a tuple of label values (bounded by the callers)."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Latency of an API request, seconds.
API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Duration of a job, seconds: a restart takes seconds, a 1 GB base backup minutes.
JOB_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass(slots=True)
class _Cell:
    buckets: list[int]
    count: int = 0
    total: float = 0.0


@dataclass
class HistogramSet:
    """One histogram per label-value tuple; observe() is O(log buckets) under one lock."""

    bounds: Sequence[float]
    _cells: dict[tuple[str, ...], _Cell] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        index = bisect.bisect_left(self.bounds, value)  # le semantics: value <= bound
        with self._lock:
            cell = self._cells.get(labels)
            if cell is None:
                cell = self._cells[labels] = _Cell([0] * len(self.bounds))
            if index < len(self.bounds):
                cell.buckets[index] += 1
            cell.count += 1
            cell.total += value

    def snapshot(self) -> list[tuple[tuple[str, ...], list[tuple[str, int]], int, float]]:
        """(labels, cumulative [(le, count)...] ending with +Inf, count, sum) per label tuple."""
        out = []
        with self._lock:
            for labels, cell in self._cells.items():
                running = 0
                cumulative = []
                for bound, n in zip(self.bounds, cell.buckets, strict=True):
                    running += n
                    cumulative.append((_le(bound), running))
                cumulative.append(("+Inf", cell.count))
                out.append((labels, cumulative, cell.count, cell.total))
        return out


def _le(bound: float) -> str:
    return repr(float(bound))
