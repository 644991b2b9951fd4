"""Rendered answers of read-only calls, reused while the store holds the same data.

A polling client (an SDK loop waiting for ``running``, a dashboard, a CI job) asks the same question
many times a second while nothing changes. An answer that is a function of the request, the caller
and the store's contents alone is kept with the store's data version read *before* it was computed
(:meth:`openrds.persistence.uow.Store.version`) and served again only while the version read now is
the same - so it is always exactly what computing it again would give. Any commit, by this process
or another, empties the cache at the next lookup.

Bounded by the bytes it holds (least recently used answers go first; each entry is charged its
answer plus :data:`ENTRY_OVERHEAD` for its key), so a client that pages through everything with
ever-new queries costs memory no more than ``max_bytes``. Keys must be small (digests, not bodies).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

#: Default bound: a page of 100 instances renders to about 110 KB.
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
#: What an entry costs beyond its answer: the key tuple, its digest, the dict and LRU slots.
ENTRY_OVERHEAD = 512


class AnswerCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._version: object = None
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # Read by /metrics (an `openrds.metrics.collector.AnswerCounts`, registered by the composition root).
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, version: object) -> bytes | None:
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._bytes = 0
                self._version = version
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Hashable, version: object, answer: bytes) -> None:
        """Keep ``answer``, computed after ``version`` was read; dropped if the store moved on since."""
        with self._lock:
            if version != self._version or len(answer) + ENTRY_OVERHEAD > self._max_bytes:
                return
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous) + ENTRY_OVERHEAD
            self._entries[key] = answer
            self._bytes += len(answer) + ENTRY_OVERHEAD
            while self._bytes > self._max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped) + ENTRY_OVERHEAD
