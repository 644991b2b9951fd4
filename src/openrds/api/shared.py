"""What the API's worker processes share: the rate limit's counters and the replay memory's signatures.

``openrds serve`` with ``api_workers`` > 1 forks its workers after binding the port (see
:mod:`openrds.api.workers`); each request reaches whichever worker the kernel gives its connection to.
A limit per account and a refusal of a replayed signature must hold whichever worker that is:

- :class:`SharedRateLimiter`: a table of counters in memory mapped shared (anonymous ``MAP_SHARED``,
  made before the fork, so every worker maps the same pages), one slot per (action, tenant) found by
  hashing, under one process-shared lock. Microseconds per call.
- :class:`SharedSignatures`: each signature's first use, in a hash table in shared memory made the same
  way. A worker consults it only for a signature it has not seen itself (the SDK's polling repeats
  a signature within its second on one connection, which stays on one worker), so most calls never
  touch it. (A SQLite file first: ~26 us per new signature, the insert; the table: ~9 us.)
"""

from __future__ import annotations

import hashlib
import mmap
import multiprocessing
import struct
from dataclasses import dataclass

#: Slots of the shared rate-limit table: (action, tenant) pairs active within two seconds.
SLOTS = 8192
#: Slots tried from a key's hash before the stalest one is taken over.
PROBES = 8
# key hash, the second counted, calls accepted in it, calls accepted in the second before.
_SLOT = struct.Struct("<QqII")


class SharedRateLimiter:
    """At most ``limit`` accepted calls per key per second, counted across every process forked after
    it was made. A sliding window *counter* (the second before weighs by how much of it is still
    within the last second): never more than ``limit`` in one calendar second, and within a few
    percent of it in any window of one second. The single-process
    :class:`openrds.api.tencent.protocol.SlidingWindowRateLimiter` keeps a log instead; a log per key
    is not something processes can share in fixed memory. Rejected calls are not counted.
    """

    def __init__(self, slots: int = SLOTS) -> None:
        self._slots = slots
        self._memory = mmap.mmap(-1, slots * _SLOT.size)  # anonymous mappings are MAP_SHARED by default
        self._lock = multiprocessing.Lock()

    def allow(self, key: tuple[str, str], limit: int, now: float) -> bool:
        """Record and accept a call for ``key`` at ``now``, or refuse it (nothing recorded)."""
        digest = hashlib.blake2b("\0".join(key).encode(), digest_size=8).digest()
        wanted = int.from_bytes(digest, "little") or 1  # 0 marks an empty slot
        second = int(now)
        with self._lock:
            at, stalest = -1, -1
            stalest_second = second + 1
            for probe in range(PROBES):
                slot = (wanted + probe) % self._slots
                held, counted, current, before = _SLOT.unpack_from(self._memory, slot * _SLOT.size)
                if held == wanted:
                    at = slot
                    break
                if counted < stalest_second:
                    stalest, stalest_second = slot, counted
            if at < 0:  # not counted yet: take the slot idle the longest (empty slots count second 0)
                at, held, counted, current, before = stalest, wanted, second, 0, 0
            if counted == second - 1:
                current, before = 0, current
            elif counted != second:  # older, or a clock that stepped back: nothing within the window
                current, before = 0, 0
            weight = 1.0 - (now - second)
            accepted = current < limit and before * weight + current < limit
            _SLOT.pack_into(self._memory, at * _SLOT.size, wanted, second, current + accepted, before)
            return bool(accepted)


@dataclass(frozen=True)
class FirstUse:
    """A signature's first use as another worker recorded it (``action`` and ``region`` cut to
    :data:`ACTION_BYTES` and :data:`REGION_BYTES`)."""

    action: str
    region: str | None
    changes_state: bool
    first_seen: float


class SignaturesFull(Exception):
    """No slot of the table is free (or expired) among a new signature's :data:`SIGNATURE_PROBES`."""


#: Slots of the shared signature table: twice the entries one worker's memory may hold
#: (:data:`openrds.api.replay.MAX_ENTRIES`), ~113 bytes each: 56 MiB of shared address space, of
#: which only the pages written are ever in memory.
SIGNATURE_SLOTS = 1 << 19
#: Slots tried from a signature's hash before it is refused as one too many (:class:`SignaturesFull`).
SIGNATURE_PROBES = 32
#: What is kept of an action's and a region's name. Tencent's longest action has 35 characters, its
#: longest region 16; a longer one is cut, so it can only compare unequal - a later use of it in
#: another worker is refused, never accepted wrongly.
ACTION_BYTES = 48
REGION_BYTES = 32
# Digest of (key id, signature), last valid second (0: never used), first seen, changes state, whether
# a region was sent, action, region.
_SIGNATURE = struct.Struct(f"<16sqd??{ACTION_BYTES}s{REGION_BYTES}s")
_SIGNATURE_HEAD = struct.Struct("<16sq")


class SharedSignatures:
    """Each signature's first use, shared by the workers: a hash table in memory mapped shared
    (anonymous ``MAP_SHARED``, made before the fork, as :class:`SharedRateLimiter`), open addressing
    over :data:`SIGNATURE_PROBES` slots, under one process-shared lock. A few microseconds per new
    signature; nothing written to disk (it holds nothing that must outlive the service).

    An entry whose last valid second has passed is as good as absent: its slot is taken by the next
    new signature that probes it, and a lookup treats it as not found (authentication refuses its
    timestamp by then). A lookup stops at a slot never used: a signature is always put in the first
    free or expired slot of its probe sequence, and a used slot never becomes unused again.
    """

    def __init__(self, slots: int = SIGNATURE_SLOTS) -> None:
        self._slots = slots
        self._memory = mmap.mmap(-1, slots * _SIGNATURE.size)  # anonymous mappings are MAP_SHARED by default
        self._lock = multiprocessing.Lock()

    def first_use(self, key: bytes, *, valid_until: int, action: str, region: str | None, changes_state: bool,
                  now: float) -> FirstUse | None:
        """Record this as the first use of ``key`` and return None; or, if a use was recorded before (by
        any worker) and is still valid at ``now``, return that one and record nothing.

        :raises SignaturesFull: no free or expired slot for a new signature (as the memory's caps: refused
            until entries expire).
        """
        digest = hashlib.blake2b(key, digest_size=16).digest()
        start = int.from_bytes(digest[:8], "little")
        size = _SIGNATURE.size
        with self._lock:
            free = -1
            for probe in range(SIGNATURE_PROBES):
                at = (start + probe) % self._slots * size
                held, until = _SIGNATURE_HEAD.unpack_from(self._memory, at)
                if until == 0:  # never used: the end of this signature's sequence
                    if free < 0:
                        free = at
                    break
                if until < now:  # expired: free to take, and no longer an answer
                    if free < 0:
                        free = at
                    continue
                if held == digest:
                    _, _, first_seen, state, regional, action_text, region_text = _SIGNATURE.unpack_from(
                        self._memory, at)
                    return FirstUse(_text(action_text), _text(region_text) if regional else None, state, first_seen)
            if free < 0:
                raise SignaturesFull
            _SIGNATURE.pack_into(self._memory, free, digest, valid_until, now, changes_state, region is not None,
                                 action.encode()[:ACTION_BYTES], (region or "").encode()[:REGION_BYTES])
        return None


def _text(field: bytes) -> str:
    return field.rstrip(b"\0").decode(errors="replace")
