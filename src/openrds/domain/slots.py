"""What a read-only instance's replication slot on its upstream says about the instance, in words.

Pure: one call per monitor round and replica. Every server caps the WAL its slots may hold
(``max_slot_wal_keep_size``), so a replica that is stopped, broken or too far behind cannot fill its
upstream's disk; instead PostgreSQL invalidates its slot, and the replica can then never catch up again
(the WAL it needs is gone and there is no archive to fetch it from): it must be re-created. The slot's
``wal_status`` in ``pg_replication_slots`` tells:

- ``reserved`` / ``extended``: the upstream keeps every segment the replica still needs (`SlotState.OK`);
- ``unreserved``: the replica is further behind than the cap; the segments it needs go at the
  upstream's next checkpoint unless it catches up first (`SlotState.AT_RISK`, a warning);
- ``lost``: the slot is invalidated (`SlotState.LOST`).

The state is surfaced as the instance's ``status_reason`` (the console shows it next to the status) and
an event at each change; the lifecycle is left alone (the server is up and still serves reads, only ever
staler) and so is the health, which is the supervisor's word on whether the server process runs.
"""

from __future__ import annotations

import enum


class SlotState(enum.StrEnum):
    UNKNOWN = "unknown"  # no word this round: upstream down or unreachable, slot not listed, wal_status NULL
    OK = "ok"
    AT_RISK = "at_risk"
    LOST = "lost"


#: pg_replication_slots.wal_status -> state.
_BY_WAL_STATUS = {
    "reserved": SlotState.OK,
    "extended": SlotState.OK,
    "unreserved": SlotState.AT_RISK,
    "lost": SlotState.LOST,
}

#: Every reason this module writes starts so; a reason that does not is someone else's (a failed job's).
REASON_PREFIX = "replication slot on "


def classify(wal_status: str | None) -> SlotState:
    """The state one ``wal_status`` reading stands for on its own."""
    return _BY_WAL_STATUS.get(wal_status or "", SlotState.UNKNOWN)


def decide(previous: SlotState, wal_status: str | None) -> SlotState:
    """The state after this round's ``wal_status``, given the state surfaced before.

    No reading keeps the previous state (an upstream that is down says nothing about the slot). A lost
    slot stays lost when it then reads ``unreserved`` (which PostgreSQL reports for a slot past the cap
    that a walsender holds, e.g. of a replica reconnecting): the WAL it needs does not come back. Only
    ``reserved``/``extended``, which means the WAL really is there, clears it.
    """
    state = classify(wal_status)
    if state is SlotState.UNKNOWN:
        return previous
    if previous is SlotState.LOST and state is SlotState.AT_RISK:
        return SlotState.LOST
    return state


def reason(state: SlotState, upstream: str) -> str:
    """The ``status_reason`` for ``state`` (empty when there is nothing to say): what happened and what
    to do."""
    if state is SlotState.LOST:
        return (f"{REASON_PREFIX}{upstream} was invalidated (wal_status lost): this read-only instance fell "
                f"further behind than max_slot_wal_keep_size and {upstream} has removed WAL it still needed, so "
                f"it can never catch up; its data stays as it was. Delete this read-only instance and create a "
                f"new one.")
    if state is SlotState.AT_RISK:
        return (f"{REASON_PREFIX}{upstream} no longer reserves all the WAL this read-only instance needs "
                f"(wal_status unreserved, over max_slot_wal_keep_size): unless it catches up before {upstream}'s "
                f"next checkpoint the slot is invalidated and the read-only instance must be re-created.")
    return ""


def next_reason(current: str, state: SlotState, upstream: str) -> str | None:
    """The ``status_reason`` to record for a replica whose reason is ``current`` now, or None to leave it.

    UNKNOWN changes nothing. LOST and AT_RISK replace any reason (they matter more than, e.g., why a
    restart failed, and the replica keeps running either way); OK clears only a reason of this module.
    """
    if state is SlotState.UNKNOWN:
        return None
    wanted = reason(state, upstream)
    if wanted == current:
        return None
    if not wanted and not current.startswith(REASON_PREFIX):
        return None
    return wanted


def event_kind(state: SlotState) -> str:
    """The kind of the event recorded when the reason changes to ``state``'s."""
    return {SlotState.LOST: "replication.slot_lost", SlotState.AT_RISK: "replication.slot_unreserved"}.get(
        state, "replication.slot_ok")
