"""Spec and storage changes and maintenance windows: the rules. Pure Python.

A change names the memory (and optionally the CPU) of a catalogue spec and a storage size. It is
applied by a restart (a new spec rewrites the memory-derived settings) now, at the next time
between two times of day, or in the instance's maintenance window (:class:`SwitchMode`).

The standby floor: a standby refuses to start when one of the settings PostgreSQL sizes its shared
structures with is lower than on its source. Of those, a spec decides ``max_connections`` (its own
number) and ``max_worker_processes`` (``max(8, cpu)``); the others are the same for every spec. The
rule enforced here (:func:`check_standby_floor`): a read-only instance may have a smaller spec than
its master, but never one whose floor values are below its master's. A master may grow past its
read-only instances: the resize job then raises their floor settings (and restarts them) before it
restarts the master, as PostgreSQL needs.

Money (integer cents, like :mod:`openrds.domain.money`): a prepaid change pays the monthly price
difference for the rest of the paid period, pro rata by the day (:func:`prepaid_difference`);
postpaid instances are metered at the new hourly price from the switch on.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, tzinfo

from openrds.domain.catalogue import Catalogue, Spec
from openrds.domain.errors import BelowStandbyFloor, InvalidInput, InvalidStorage, StorageBelowUsed, UnknownSpec
from openrds.domain.model import Instance

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: A prepaid "month" for the price difference: Tencent prices a month as 30 days for pro rata changes.
PRO_RATA_MONTH_DAYS = 30
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MAX_WINDOW_HOURS = 4
GIB = 1024**3


#: The ``Instance.extra`` entry of a running instance whose spec change waits for its switch time (the
#: time, ISO 8601). Kept with the instance so that every read of it (listings included) knows, with no
#: job looked up and no column added; set by ``services.resize`` with the change, dropped when its job
#: starts the switch (``ModifySwitchTimePeriod`` included) or fails.
SWITCH_WAITING = "openrds.switch_at"


def waits_for_switch(instance: Instance) -> bool:
    """Whether a spec change of the instance waits for its switch time (Tencent's ``waitSwitch``)."""
    return SWITCH_WAITING in instance.extra


def with_switch_waiting(instance: Instance, switch_at: datetime | None) -> Instance:
    """The instance marked as waiting to switch at ``switch_at``; None: no longer waiting."""
    extra = {k: v for k, v in instance.extra.items() if k != SWITCH_WAITING}
    if switch_at is not None:
        extra[SWITCH_WAITING] = switch_at.isoformat()
    return replace(instance, extra=extra)


class SwitchMode(enum.IntEnum):
    """When a change is applied (Tencent's ``SwitchTag``)."""

    NOW = 0
    BETWEEN = 1  # the next time between SwitchStartTime and SwitchEndTime
    MAINTENANCE_WINDOW = 2


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """When an instance may be restarted for deferred changes: ``duration_hours`` from ``start`` on
    each of ``weekdays``, in the zone the service writes its times in (the Tencent face's)."""

    start: time
    duration_hours: int
    weekdays: tuple[str, ...]


#: Every instance's window until its tenant sets one: 03:00 for one hour, every day.
DEFAULT_WINDOW = MaintenanceWindow(time(3, 0), 1, WEEKDAYS)


def parse_time_of_day(text: str, field: str) -> time:
    """``HH:MM`` or ``HH:MM:SS`` (24-hour). :raises InvalidInput: anything else."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(len(p) == 2 and p.isdigit() for p in parts):
        raise InvalidInput(f"{text!r} is not a time of day HH:MM[:SS]", field=field)
    hour, minute, second = (int(p) for p in (*parts, "00")[:3])
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidInput(f"{text!r} is not a time of day HH:MM[:SS]", field=field)
    return time(hour, minute, second)


def make_window(start: str, duration_hours: int, weekdays: Sequence[str]) -> MaintenanceWindow:
    """A window from its wire form. :raises InvalidInput: a bad time, a duration outside 1-4 hours,
    no weekday, an unknown or repeated weekday."""
    when = parse_time_of_day(start, "maintain_start_time")
    if not 1 <= duration_hours <= MAX_WINDOW_HOURS:
        raise InvalidInput(f"the maintenance duration must be 1 to {MAX_WINDOW_HOURS} hours", field="maintain_duration")
    days = [d.lower() for d in weekdays]
    if not days:
        raise InvalidInput("at least one maintenance weekday is needed", field="maintain_week_days")
    for day in days:
        if day not in WEEKDAYS:
            raise InvalidInput(f"{day!r} is not a weekday (monday ... sunday)", field="maintain_week_days")
    if len(set(days)) != len(days):
        raise InvalidInput("a maintenance weekday is named twice", field="maintain_week_days")
    return MaintenanceWindow(when, duration_hours, tuple(d for d in WEEKDAYS if d in days))


def next_window_start(window: MaintenanceWindow, now: datetime, zone: tzinfo) -> datetime:
    """The earliest moment at or after ``now`` inside ``window`` (``now`` itself when inside one),
    in UTC like ``now``. A window that starts late on one of its days runs on past midnight."""
    local = now.astimezone(zone)
    span = timedelta(hours=window.duration_hours)
    for back in range(1, -8, -1):  # yesterday's window may still be open; then the next seven days
        day = (local - timedelta(days=back)).date()
        if WEEKDAYS[day.weekday()] not in window.weekdays:
            continue
        opens = datetime.combine(day, window.start, tzinfo=zone)
        if opens + span > local:
            return max(opens, local).astimezone(now.tzinfo)
    raise AssertionError("a window has at least one weekday")  # pragma: no cover - make_window ensures it


def next_between(start: time, end: time, now: datetime, zone: tzinfo) -> datetime:
    """The earliest moment at or after ``now`` between the times of day ``start`` and ``end`` (an
    interval past midnight when ``end`` <= ``start``), in UTC like ``now``."""
    local = now.astimezone(zone)
    length = (datetime.combine(local.date(), end) - datetime.combine(local.date(), start)) % DAY or DAY
    for back in (1, 0, -1):
        opens = datetime.combine(local.date() - timedelta(days=back), start, tzinfo=zone)
        if opens + length > local:
            return max(opens, local).astimezone(now.tzinfo)
    raise AssertionError("unreachable: tomorrow's interval opens after now")  # pragma: no cover


# --- the new spec --------------------------------------------------------------------------------
def resolve_spec(catalogue: Catalogue, current: Spec, memory_gb: int, cpu: int | None, readonly: bool) -> Spec:
    """The catalogue spec of ``memory_gb`` GiB (and ``cpu`` cores, when given) an instance of
    ``current`` may change to: one a read-only (or primary) instance may have; of the same family as
    ``current`` (Huawei flavors stay Huawei flavors) when there is one; the fewest cores first.

    :raises UnknownSpec: no such spec.
    """
    if memory_gb <= 0 or (cpu is not None and cpu <= 0):
        raise UnknownSpec(f"{cpu} cores and {memory_gb} GB is not a spec on sale", field="memory")
    fits = [s for s in catalogue.specs
            if s.memory_mb == memory_gb * 1024 and (cpu is None or s.cpu == cpu)
            and not (s.readonly_only and not readonly) and not (s.primary_only and readonly)]
    family = _family(current)
    same = [s for s in fits if _family(s) == family] or fits
    if not same:
        cores = f"{cpu} cores and " if cpu is not None else ""
        raise UnknownSpec(f"no spec with {cores}{memory_gb} GB memory is on sale for this instance", field="memory")
    return min(same, key=lambda s: (s.cpu, s.code))


def check_spec_for_role(spec: Spec, readonly: bool) -> Spec:
    """``spec`` when an instance of that role may have it. :raises UnknownSpec: it may not."""
    if spec.readonly_only and not readonly:
        raise UnknownSpec(f"spec {spec.code} is for read-only instances only", field="spec")
    if spec.primary_only and readonly:
        raise UnknownSpec(f"spec {spec.code} is not for read-only instances", field="spec")
    return spec


def _family(spec: Spec) -> tuple[str, bool, bool]:
    return spec.code.split(".")[0], spec.readonly_only, spec.primary_only


def check_storage(storage_gb: int, spec: Spec, step: int, used_bytes: int | None) -> None:
    """The new storage: a multiple of ``step`` within the spec's bounds, and never below what the
    instance holds now (``used_bytes``; None when the engine cannot tell, e.g. its server is down).

    :raises InvalidStorage: off the step or the bounds. :raises StorageBelowUsed: smaller than the data.
    """
    if storage_gb % step != 0:
        raise InvalidStorage(f"storage must be a multiple of {step} GB", field="storage")
    if not spec.min_storage_gb <= storage_gb <= spec.max_storage_gb:
        raise InvalidStorage(f"storage must be between {spec.min_storage_gb} and {spec.max_storage_gb} GB "
                             f"for {spec.code}", field="storage")
    if used_bytes is not None and storage_gb * GIB < used_bytes:
        used_gb = -(-used_bytes // GIB)
        raise StorageBelowUsed(f"storage cannot be {storage_gb} GB: the instance holds {used_gb} GB",
                               field="storage")


def standby_floor(spec: Spec) -> dict[str, int]:
    """The settings of PostgreSQL's standby floor a spec decides (see the module docstring)."""
    return {"max_connections": spec.max_connections, "max_worker_processes": max(8, spec.cpu)}


def floor_raised(old: Spec, new: Spec) -> bool:
    """Whether changing a master from ``old`` to ``new`` raises one of its standbys' floor values."""
    before, after = standby_floor(old), standby_floor(new)
    return any(after[name] > before[name] for name in after)


def below_floor(spec: Spec, source: Spec) -> list[str]:
    """The floor settings ``spec`` sets lower than ``source``: a server of ``spec`` cannot replay WAL
    from a server of ``source`` (a read-only instance of it, or a clone recovering from its backups)
    when this is not empty."""
    own, needed = standby_floor(spec), standby_floor(source)
    return [name for name in needed if own[name] < needed[name]]


def check_standby_floor(readonly: Instance, new: Spec, master: Spec) -> None:
    """:raises BelowStandbyFloor: a read-only instance's new spec is below its master's floor."""
    own, needed = standby_floor(new), standby_floor(master)
    low = below_floor(new, master)
    if low:
        what = ", ".join(f"{name} {own[name]} < {needed[name]}" for name in low)
        raise BelowStandbyFloor(f"{new.code} is below what a standby of its master ({master.code}) needs: {what}; "
                                "resize the master down first, or choose a larger spec", field="memory")


# --- money ---------------------------------------------------------------------------------------
def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def prepaid_difference(old_monthly_cents: int, new_monthly_cents: int, expire_at: datetime | None,
                       now: datetime) -> int:
    """What a prepaid change costs (> 0) or gives back (< 0): the monthly price difference over the
    rest of the paid period, a month counted as 30 days. A charge counts a started day whole and
    rounds up; a refund counts whole remaining days only and rounds down, so the service never gives
    away a cent it was not paid. Nothing when the period is over."""
    if expire_at is None or expire_at <= now:
        return 0
    difference = new_monthly_cents - old_monthly_cents
    remaining = expire_at - now
    if difference >= 0:
        days = _ceil_div(int(remaining.total_seconds()), 86400)
        return _ceil_div(difference * days, PRO_RATA_MONTH_DAYS)
    days = remaining // DAY
    return -((-difference) * days // PRO_RATA_MONTH_DAYS)


def hours_before_switch(billed_until: datetime, switch_at: datetime) -> int:
    """Whole hours a postpaid instance ran at its old price before its spec changes at
    ``switch_at``; the hour running at the switch is metered at the new price."""
    if switch_at <= billed_until:
        return 0
    return int((switch_at - billed_until) // HOUR)


def after_hours(billed_until: datetime, hours: int) -> datetime:
    return billed_until + hours * HOUR
