"""Rendered answers of read-only calls, reused while the store holds the same data.

A polling client (an SDK loop waiting for ``running``, a dashboard, a CI job) asks the same question
many times a second while nothing changes. An answer that is a function of the request, the caller
and the store's contents alone is kept with the store's data version read *before* it was computed
(:meth:`openrds.persistence.uow.Store.version`) and served again only while the version read now is
the same - so it is always exactly what computing it again would give. Any commit, by this process
or another, empties the cache at the next lookup.

Misses are coalesced: a thread that misses a key while another thread is computing that key for the
same store version waits for that computation (at most ``wait_seconds``) and takes its answer - which
is exactly what its own would be, since both read the same version before computing. A waiter never
takes an answer computed for another version, nor an error: if the computation fails (or takes too
long) each waiter computes its own answer.

Bounded by the bytes it holds (least recently used answers go first; each entry is charged its
answer plus :data:`ENTRY_OVERHEAD` for its key), so a client that pages through everything with
ever-new queries costs memory no more than ``max_bytes``. Keys must be small (digests, not bodies).
Answers being computed are held outside that bound, one per computing thread, until it finishes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

#: Default bound: a page of 100 instances renders to about 110 KB.
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
#: What an entry costs beyond its answer: the key tuple, its digest, the dict and LRU slots.
ENTRY_OVERHEAD = 512
#: How long a thread that missed waits for another thread's computation of the same answer before
#: computing its own: far above the slowest computed page (~50 ms), far below a client's timeout.
DEFAULT_WAIT_SECONDS = 5.0


class _Computation:
    """An answer one thread is computing for a key and store version; the threads that miss the same
    key at the same version wait on ``done`` and take ``answer`` (None if the computation failed)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: bytes | None = None


class AnswerCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        self._max_bytes = max_bytes
        self._wait_seconds = wait_seconds
        self._version: object = None
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._computing: dict[tuple[Hashable, object], _Computation] = {}  # by (key, version)
        self._lock = threading.Lock()
        # Read by /metrics (an `openrds.metrics.collector.AnswerCounts`, registered by the composition
        # root). Every lookup counts once: served from the cache, computed here, or taken from another
        # thread's computation of the same answer.
        self.hits = 0
        self.misses = 0
        self.coalesced = 0

    def answer(self, key: Hashable, version: object, compute: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The answer to ``key`` with the store at ``version`` (read before calling), and whether
        ``compute`` was called for it here (False: computed earlier, or by another thread, for another
        request with the same key).

        Kept, if the store is still at ``version`` when ``compute`` returns; an exception from
        ``compute`` propagates to this caller alone and nothing of it is kept or shared.
        """
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._bytes = 0
                self._version = version
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found, False
            computing = self._computing.get((key, version))
            if computing is None:
                self._computing[(key, version)] = mine = _Computation()
                self.misses += 1
        if computing is not None:
            if computing.done.wait(self._wait_seconds) and computing.answer is not None:
                with self._lock:
                    self.coalesced += 1
                return computing.answer, False
            # It failed (with an error that may be its request's own, e.g. a replayed signature) or is
            # stuck: this request's own computation, not coalesced with anyone's.
            with self._lock:
                self.misses += 1
            answer = compute()
            self._keep(key, version, answer)
            return answer, True
        try:
            answer = compute()
            mine.answer = answer
            self._keep(key, version, answer)
        finally:
            with self._lock:
                del self._computing[(key, version)]
            mine.done.set()
        return answer, True

    def _keep(self, key: Hashable, version: object, answer: bytes) -> None:
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
