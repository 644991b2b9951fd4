"""Backups as the control plane sees them: base backup sets, backup plans, the repository's state per
instance, and the rules over them - retention bounds, plan periods, when a plan is due (spread per
instance, so the instances of a host do not all back up at the same minute), which sets may expire,
and the recovery window.

Pure Python. Every time here is an aware datetime in UTC except a plan's window, which is a time of
day in the plan's own fixed offset (``BackupPlan.utc_offset_minutes``): the face that wrote it
(Tencent's Beijing time, Huawei's UTC) reads it back unchanged, and the due computation needs no
time zone database.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

from openrds.domain.errors import InvalidInput, MissingInput

# --- vocabulary (stored; never renamed) ------------------------------------------------------------


class BackupState(enum.StrEnum):
    """A base backup's state. The first five are Tencent's own words; the last two are ours: a set on
    its way out of the repository (a delete job runs) and one that is gone (kept as a row for history,
    never listed)."""

    PENDING = "init"  # recorded, its job not started yet
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"
    DELETING = "deleting"
    DELETED = "deleted"


#: The states a listing shows (a deleted set is history, not a backup).
LISTED_STATES = frozenset(set(BackupState) - {BackupState.DELETED})


class BackupMode(enum.StrEnum):
    """Who asked for it: a plan (``automatic``) or the tenant (``manual``). The engine's annotation
    ``kind`` is :attr:`annotation` (``auto``/``manual``)."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"

    @property
    def annotation(self) -> str:
        return "auto" if self is BackupMode.AUTOMATIC else "manual"


class BackupMethod(enum.StrEnum):
    """How a backup is taken. Only physical backups (pgBackRest) are made here; the others are the
    API's words, refused with a message naming the field."""

    PHYSICAL = "physical"
    LOGICAL = "logical"
    SNAPSHOT = "snapshot"


class BackupType(enum.StrEnum):
    """What a set holds (the engine's :class:`openrds.engine.backups.BackupType`, same values)."""

    FULL = "full"
    DIFF = "diff"
    INCR = "incr"


class PlanType(enum.StrEnum):
    DEFAULT = "default"  # made for every primary; may be modified, never deleted
    CUSTOM = "custom"  # made by the tenant (Tencent: monthly only); fulls with their own retention


class PeriodType(enum.StrEnum):
    WEEK = "week"
    MONTH = "month"


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# --- bounds ----------------------------------------------------------------------------------------

#: Retention of base backups and of WAL, days (Tencent's ModifyBackupPlan range).
MIN_RETENTION_DAYS = 7
MAX_RETENTION_DAYS = 1830
DEFAULT_RETENTION_DAYS = 7
#: The default plan's start window, in the plan's own offset: 01:00-05:00, the quiet hours.
DEFAULT_WINDOW = (time(1, 0), time(5, 0))
#: A default plan takes a full backup when its newest full is this old (else a differential).
FULL_EVERY = timedelta(days=7)
#: Custom plans a primary may have besides its default plan.
MAX_CUSTOM_PLANS = 8
PLAN_NAME_MAX_LENGTH = 60
#: How far back a missed slot (the service was down through it) is still run once it is back.
MISSED_SLOT_GRACE = timedelta(hours=24)
#: How long a new primary runs before its first full backup starts (not at its first slot: its recovery
#: window starts there). A while rather than at once: a burst of creates is not a burst of backups, and
#: an instance made and dropped again within minutes costs no backup.
FIRST_FULL_AFTER = timedelta(minutes=2)
#: What the last fence may lag behind "now" before the schedule fences a running primary again.
FENCE_EVERY = timedelta(minutes=5)


def new_backup_id() -> str:
    """A base backup's id: ``bk-`` and 32 hex characters (the engine's annotation openrds-backup-id)."""
    return f"bk-{uuid.uuid4().hex}"


def new_plan_id() -> str:
    return f"plan-{uuid.uuid4().hex[:24]}"


# --- entities --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backup:
    """One base backup set of an instance.

    ``label`` is the repository's name for it, known once the engine made it; ``size_bytes`` what it
    takes in the repository (its own files, compressed), ``database_bytes`` the size of the database it
    captures. ``expire_at`` is when the schedule removes it (never the instance's newest full while the
    instance exists; never a set another kept set depends on)."""

    id: str  # bk-xxxxxxxx... (the engine's annotation openrds-backup-id)
    tenant_id: str
    instance_id: str  # internal id
    name: str
    method: BackupMethod
    mode: BackupMode
    type: BackupType
    state: BackupState
    created_at: datetime
    updated_at: datetime
    expire_at: datetime
    plan_id: str | None = None  # the plan that made an automatic backup
    job_id: str | None = None  # the job that takes (or deletes) it
    label: str | None = None
    prior_label: str | None = None  # the set a diff/incr depends on
    started_at: datetime | None = None
    finished_at: datetime | None = None
    size_bytes: int = 0
    database_bytes: int = 0
    wal_start: str | None = None  # first WAL segment the set needs
    wal_stop: str | None = None  # last WAL segment it needs (consistent once replayed)
    error: str = ""

    @property
    def kept(self) -> bool:
        """Finished and still in the repository (a restore may use it)."""
        return self.state is BackupState.FINISHED


@dataclass(frozen=True, slots=True)
class BackupPlan:
    """When an instance is backed up and how long its backups are kept.

    ``period`` holds weekdays (:data:`WEEKDAYS`) for a weekly plan, day numbers ``"1"``-``"31"`` for a
    monthly one (a day a month lacks is skipped that month). A slot starts between ``window_start`` and
    ``window_end`` (inclusive, same day, in ``utc_offset_minutes``), at this instance's own minute of
    the window (:func:`spread_minute`). ``last_slot_at`` is the slot the schedule last ran (UTC)."""

    id: str
    tenant_id: str
    instance_id: str
    name: str
    plan_type: PlanType
    period_type: PeriodType
    period: tuple[str, ...]
    window_start: time
    window_end: time
    base_retention_days: int
    log_retention_days: int
    method: BackupMethod
    created_at: datetime
    updated_at: datetime
    utc_offset_minutes: int = 0
    last_slot_at: datetime | None = None

    @property
    def zone(self) -> timezone:
        return timezone(timedelta(minutes=self.utc_offset_minutes))


@dataclass(frozen=True, slots=True)
class PlanChange:
    """What CreateBackupPlan/ModifyBackupPlan (and Huawei's backup policy) ask for; ``None``: keep (or,
    on create, the default plan's value). Times of day are in ``utc_offset_minutes``."""

    name: str | None = None
    period_type: PeriodType | None = None
    period: tuple[str, ...] | None = None
    window_start: time | None = None
    window_end: time | None = None
    base_retention_days: int | None = None
    log_retention_days: int | None = None
    method: str | None = None
    utc_offset_minutes: int = 0


@dataclass(frozen=True, slots=True)
class StanzaState:
    """What the control plane knows of an instance's part of the repository, refreshed by the schedule
    from the engine (the services never ask the engine themselves).

    ``fenced_at`` is the last fence's commit time: every instant up to it is restorable (the recovery
    window's end). ``archive_*`` is the archiver as the last watch saw it. ``delete_after`` is set once
    the instance is destroyed: after it the stanza is removed; ``deleted_at`` once it is."""

    instance_id: str
    tenant_id: str
    created_at: datetime
    updated_at: datetime
    wal_min: str | None = None
    wal_max: str | None = None
    wal_stored_bytes: int = 0
    stored_bytes: int = 0
    fenced_at: datetime | None = None
    archive_failed_count: int = 0
    archive_last_failed_at: datetime | None = None
    archive_lag_segments: int | None = None
    archive_failing: bool = False
    delete_after: datetime | None = None
    deleted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Clone:
    """Where a cloned instance came from (a row per clone, kept for its life)."""

    instance_id: str  # the new instance
    tenant_id: str
    source_id: str
    created_at: datetime
    backup_id: str | None = None
    target_time: datetime | None = None


# --- views (what the services return) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupQuery:
    """A filtered, ordered page of a tenant's base (or log) backups.

    ``instance_ids`` are ids or codes; ``instance_names``/``instance_ips`` match the instances' name
    and address; ``finished_from``/``finished_to`` bound the finish time (open ones: unbounded).
    ``order_by`` is ``started``, ``finished`` or ``size``."""

    instance_ids: tuple[str, ...] = ()
    instance_names: tuple[str, ...] = ()
    instance_ips: tuple[str, ...] = ()
    instance_states: tuple[str, ...] = ()  # lifecycle values
    backup_ids: tuple[str, ...] = ()
    finished_from: datetime | None = None
    finished_to: datetime | None = None
    order_by: str = "started"
    descending: bool = True
    offset: int = 0
    limit: int = 10


@dataclass(frozen=True, slots=True)
class BackupPage:
    total: int
    items: tuple[Backup, ...]
    codes: dict[str, str]  # instance id -> code, for the page's backups


@dataclass(frozen=True, slots=True)
class LogBackup:
    """The WAL archived between two consecutive base backups of an instance (the last one: from the
    newest base backup up to the last fence), presented as one log backup. Synthesized: pgBackRest
    keeps WAL as segments, not as files one could delete one by one. ``size_bytes`` is the archived WAL
    of the stanza shared out by segment count."""

    id: str
    tenant_id: str
    instance_id: str
    name: str
    state: BackupState
    started_at: datetime
    finished_at: datetime
    expire_at: datetime
    size_bytes: int
    wal_start: str
    wal_stop: str


@dataclass(frozen=True, slots=True)
class LogBackupPage:
    total: int
    items: tuple[LogBackup, ...]
    codes: dict[str, str]


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """One instance's backups: counts and bytes of log, manual and automatic backups."""

    instance_id: str
    log_count: int = 0
    log_bytes: int = 0
    manual_count: int = 0
    manual_bytes: int = 0
    auto_count: int = 0
    auto_bytes: int = 0

    @property
    def total_count(self) -> int:
        return self.log_count + self.manual_count + self.auto_count

    @property
    def total_bytes(self) -> int:
        return self.log_bytes + self.manual_bytes + self.auto_bytes


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    """A page of per-instance summaries. ``order_by``: ``total``, ``log``, ``manual``, ``auto`` (bytes)
    or ``None`` (creation order of the instances)."""

    instance_ids: tuple[str, ...] = ()
    instance_names: tuple[str, ...] = ()
    instance_ips: tuple[str, ...] = ()
    order_by: str | None = None
    descending: bool = False
    offset: int = 0
    limit: int = 10


@dataclass(frozen=True, slots=True)
class SummaryPage:
    total: int
    items: tuple[BackupSummary, ...]
    codes: dict[str, str]


@dataclass(frozen=True, slots=True)
class BackupOverview:
    """A tenant's backups in all. ``free_bytes`` is the allowance of the tenant's live instances (their
    purchased storage: backups up to that size cost nothing); what is stored beyond it is
    ``billable_bytes``."""

    free_bytes: int
    used_free_bytes: int
    billable_bytes: int
    log: BackupSummary = field(default_factory=lambda: BackupSummary(""))
    totals: BackupSummary = field(default_factory=lambda: BackupSummary(""))


@dataclass(frozen=True, slots=True)
class RecoveryWindow:
    """The instants a clone may be restored to: from the oldest kept backup's end (the first instant
    it is consistent at) up to the last fence. ``None`` ends when nothing is restorable."""

    instance_id: str
    begin: datetime | None
    end: datetime | None

    @property
    def empty(self) -> bool:
        return self.begin is None or self.end is None or self.end < self.begin

    def covers(self, when: datetime) -> bool:
        return not self.empty and self.begin is not None and self.end is not None and self.begin <= when <= self.end


@dataclass(frozen=True, slots=True)
class CloneSpec:
    """The least a clone may buy: the source's spec (a restored server needs the memory its data was
    tuned for) and storage that holds the data restored (rounded up to the storage step, at least the
    source's minimum)."""

    min_spec_code: str
    min_storage_gb: int


# --- rules -----------------------------------------------------------------------------------------


def check_retention(days: int, field: str) -> None:
    """Base and log backups are kept 7-1830 days."""
    if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"{field} must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS} days",
                           field=field)


def check_method(method: str | None) -> BackupMethod:
    """``physical`` (or nothing: physical); the API's other methods are not offered here."""
    if method is None or method == "":
        return BackupMethod.PHYSICAL
    try:
        parsed = BackupMethod(method)
    except ValueError:
        raise InvalidInput(f"backup method {method!r} is unknown: physical, logical or snapshot",
                           field="backup_method") from None
    if parsed is not BackupMethod.PHYSICAL:
        raise InvalidInput(f"backup method {method} is not offered by this service: only physical backups "
                           "(pgBackRest) are made", field="backup_method")
    return parsed


def check_window(start: time, end: time) -> None:
    """A start window is a span of one day: its start not after its end."""
    if start > end:
        raise InvalidInput("the earliest backup start time must not be after the latest", field="backup_start_time")


def check_period(period_type: PeriodType, period: tuple[str, ...], *, custom: bool) -> tuple[str, ...]:
    """The period's days, normalised (lower case, no duplicates, in calendar order).

    A weekly plan names weekdays, at least two (Tencent's rule for ModifyBackupPlan); a monthly plan
    names days "1"-"31". Custom plans are monthly (CreateBackupPlan accepts only month)."""
    if custom and period_type is not PeriodType.MONTH:
        raise InvalidInput("a custom backup plan is monthly (backup period type month)", field="backup_period_type")
    if not period:
        raise MissingInput("the backup period names no day", field="backup_period")
    if period_type is PeriodType.WEEK:
        days = {d.strip().lower() for d in period}
        unknown = sorted(days - set(WEEKDAYS))
        if unknown:
            raise InvalidInput(f"{unknown[0]!r} is not a weekday (monday ... sunday)", field="backup_period")
        if len(days) < 2:
            raise InvalidInput("a weekly backup period names at least two weekdays", field="backup_period")
        return tuple(d for d in WEEKDAYS if d in days)
    numbers = set()
    for text in period:
        value = text.strip()
        if not value.isdigit() or not 1 <= int(value) <= 31:
            raise InvalidInput(f"{text!r} is not a day of the month (1-31)", field="backup_period")
        numbers.add(int(value))
    return tuple(str(n) for n in sorted(numbers))


def check_plan_name(name: str) -> None:
    if not name or not name.strip():
        raise MissingInput("a backup plan needs a name", field="plan_name")
    if len(name) > PLAN_NAME_MAX_LENGTH:
        raise InvalidInput(f"a plan name is at most {PLAN_NAME_MAX_LENGTH} characters", field="plan_name")
    if not name.isprintable():
        raise InvalidInput("a plan name may not hold control characters", field="plan_name")


def default_plan(plan_id: str, tenant_id: str, instance_id: str, now: datetime,
                 utc_offset_minutes: int = 0) -> BackupPlan:
    """The plan every primary gets: every day, in the quiet hours, kept 7 days; a full weekly and a
    differential on the other days (:func:`backup_type_for`)."""
    return BackupPlan(
        id=plan_id, tenant_id=tenant_id, instance_id=instance_id, name="default", plan_type=PlanType.DEFAULT,
        period_type=PeriodType.WEEK, period=WEEKDAYS, window_start=DEFAULT_WINDOW[0], window_end=DEFAULT_WINDOW[1],
        base_retention_days=DEFAULT_RETENTION_DAYS, log_retention_days=DEFAULT_RETENTION_DAYS,
        method=BackupMethod.PHYSICAL, created_at=now, updated_at=now, utc_offset_minutes=utc_offset_minutes,
    )


def spread_minute(instance_id: str, plan: BackupPlan) -> int:
    """This instance's minute within the plan's window, from a hash of its id: stable across restarts
    and hosts, uniform over the window, so a host's instances start their backups spread over it."""
    span = _minutes(plan.window_end) - _minutes(plan.window_start)
    digest = hashlib.sha256(instance_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % (span + 1)


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _runs_on(plan: BackupPlan, day: date) -> bool:
    if plan.period_type is PeriodType.WEEK:
        return WEEKDAYS[day.weekday()] in plan.period
    return str(day.day) in plan.period


def slot_on(plan: BackupPlan, day: date) -> datetime | None:
    """The instant (UTC) the plan's backup of ``day`` (a day in the plan's offset) starts, or None if the
    plan does not run that day."""
    if not _runs_on(plan, day):
        return None
    minute = _minutes(plan.window_start) + spread_minute(plan.instance_id, plan)
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=plan.zone)
    return local.astimezone(UTC)


def latest_slot(plan: BackupPlan, now: datetime) -> datetime | None:
    """The newest slot at or before ``now`` (looking back at most 31 days: a monthly plan's longest gap
    to a day that exists)."""
    today = now.astimezone(plan.zone).date()
    for back in range(0, 32):
        slot = slot_on(plan, today - timedelta(days=back))
        if slot is not None and slot <= now:
            return slot
    return None


def next_slot(plan: BackupPlan, now: datetime) -> datetime | None:
    """The first slot after ``now`` (for the console and the operator), within 62 days."""
    today = now.astimezone(plan.zone).date()
    for ahead in range(0, 63):
        slot = slot_on(plan, today + timedelta(days=ahead))
        if slot is not None and slot > now:
            return slot
    return None


def due_slot(plan: BackupPlan, now: datetime) -> datetime | None:
    """The slot the schedule should run now, or None: the newest slot at or before ``now`` that the plan
    has not run yet, unless it is older than :data:`MISSED_SLOT_GRACE` (a service down for days runs
    one backup when back, not one per missed day) or older than the plan itself (a new instance's first
    backup is the schedule's own business, not a slot's)."""
    slot = latest_slot(plan, now)
    if slot is None or (plan.last_slot_at is not None and slot <= plan.last_slot_at):
        return None
    if now - slot > MISSED_SLOT_GRACE or slot < plan.created_at:
        return None
    return slot


def backup_type_for(plan: BackupPlan, backups: list[Backup], now: datetime) -> BackupType:
    """The type of the plan's backup now: a custom plan takes fulls (kept for their own retention, they
    must not depend on a set that expires sooner); the default plan a full when the instance has no kept
    full finished within :data:`FULL_EVERY`, else a differential (it depends on the full alone, so
    expiring one differential never breaks another, and a restore replays at most full + one diff)."""
    if plan.plan_type is PlanType.CUSTOM:
        return BackupType.FULL
    fulls = [b for b in backups if b.kept and b.type is BackupType.FULL and b.finished_at is not None]
    if not fulls or max(b.finished_at for b in fulls if b.finished_at) <= now - FULL_EVERY:
        return BackupType.FULL
    return BackupType.DIFF


def expire_at(base: datetime, retention_days: int) -> datetime:
    return base + timedelta(days=retention_days)


def newest_full(backups: list[Backup]) -> Backup | None:
    fulls = [b for b in backups if b.kept and b.type is BackupType.FULL and b.finished_at is not None]
    return max(fulls, key=lambda b: (b.finished_at, b.id)) if fulls else None


def expirable(backups: list[Backup], now: datetime, *, instance_exists: bool) -> list[Backup]:
    """The kept sets of one instance the schedule removes now: past their ``expire_at``, with no kept
    set depending on them that is not itself going (a full stays while a younger diff it carries is
    kept), and - while the instance exists - never its newest full (its window would be gone)."""
    kept = [b for b in backups if b.kept and b.label]
    by_label = {b.label: b for b in kept if b.label}
    going: set[str] = {b.label for b in kept if b.label and b.expire_at <= now}
    if instance_exists:
        newest = newest_full(kept)
        if newest is not None:
            going.discard(newest.label)
    # A set cannot go while a set that depends on it stays: drop those until nothing changes.
    changed = True
    while changed:
        changed = False
        for b in kept:
            if b.label not in going and b.prior_label is not None and b.prior_label in going:
                going.discard(b.prior_label)
                changed = True
    return [by_label[label] for label in sorted(going)]


def dependents(backups: list[Backup], label: str) -> list[Backup]:
    """The kept sets that depend, directly or not, on the set ``label`` (they go with it)."""
    found: list[Backup] = []
    frontier = {label}
    while frontier:
        nxt = {b.label for b in backups if b.kept and b.prior_label in frontier and b.label}
        found.extend(b for b in backups if b.label in nxt)
        frontier = {x for x in nxt if x is not None}
    return found


#: pgBackRest records a set's end in whole seconds, rounded down: the set is consistent somewhere in the
#: second after it, so the window begins one second later than the recorded end.
CONSISTENT_MARGIN = timedelta(seconds=1)


def recovery_window(instance_id: str, backups: list[Backup], stanza: StanzaState | None) -> RecoveryWindow:
    """From the oldest kept set's recorded finish + :data:`CONSISTENT_MARGIN` to the last fence (see
    :class:`RecoveryWindow`)."""
    kept = [b.finished_at for b in backups if b.kept and b.finished_at is not None]
    begin = min(kept) + CONSISTENT_MARGIN if kept else None
    end = stanza.fenced_at if stanza is not None and stanza.deleted_at is None else None
    if begin is None or (end is not None and end < begin):
        end = None  # no fence since the oldest set became consistent: no instant is known restorable yet
    return RecoveryWindow(instance_id, begin, end)


# --- WAL segment names ------------------------------------------------------------------------------

#: 16 MB segments: 256 per "log" (the middle 8 hex digits of a segment name).
SEGMENTS_PER_LOG = 0x100


def segment_number(name: str) -> int | None:
    """The position of a WAL segment (``TTTTTTTTLLLLLLLLSSSSSSSS``) in the timeline-independent order,
    or None for a name that is not one (16 MB segments, the only size this service makes)."""
    if len(name) != 24:
        return None
    try:
        log, seg = int(name[8:16], 16), int(name[16:24], 16)
    except ValueError:
        return None
    return log * SEGMENTS_PER_LOG + seg


def log_backups(instance_id: str, tenant_id: str, backups: list[Backup], stanza: StanzaState | None,
                log_retention_days: int) -> list[LogBackup]:
    """The log backups of one instance: the WAL from each kept set's start up to the next set's start,
    the last one up to the last fence (see :class:`LogBackup`); oldest first."""
    if stanza is None or stanza.deleted_at is not None or not stanza.wal_max:
        return []
    kept = sorted((b for b in backups if b.kept and b.started_at and b.wal_start),
                  key=lambda b: (b.started_at or b.created_at, b.id))
    if not kept:
        return []
    ends = [(b.started_at, b.wal_start) for b in kept[1:]]
    last_end = stanza.fenced_at or kept[-1].finished_at or kept[-1].started_at
    ends.append((last_end, stanza.wal_max))
    first_number = segment_number(kept[0].wal_start or "")
    max_number = segment_number(stanza.wal_max)
    total = (max_number - first_number + 1) if first_number is not None and max_number is not None else 0
    found = []
    for backup, (end_at, end_wal) in zip(kept, ends, strict=True):
        if end_at is None or backup.started_at is None or backup.wal_start is None or end_wal is None:
            continue
        start_n, end_n = segment_number(backup.wal_start), segment_number(end_wal)
        segments = (end_n - start_n + 1) if start_n is not None and end_n is not None and end_n >= start_n else 0
        size = stanza.wal_stored_bytes * segments // total if total > 0 else 0
        found.append(LogBackup(
            id=f"log-{backup.id.removeprefix('bk-')}", tenant_id=tenant_id, instance_id=instance_id,
            name=f"{backup.wal_start}-{end_wal}", state=BackupState.FINISHED, started_at=backup.started_at,
            finished_at=max(end_at, backup.started_at), expire_at=expire_at(end_at, log_retention_days),
            size_bytes=size, wal_start=backup.wal_start, wal_stop=end_wal,
        ))
    return found


def whole_seconds(window: RecoveryWindow) -> tuple[datetime, datetime] | None:
    """The window as a face that shows whole seconds can promise it (the APIs' and the console's): its
    begin rounded up and its end rounded down, so that both ends shown are restorable; None when no
    whole second is inside it yet."""
    if window.empty or window.begin is None or window.end is None:
        return None
    begin = window.begin.replace(microsecond=0)
    if window.begin.microsecond:
        begin += timedelta(seconds=1)
    end = window.end.replace(microsecond=0)
    return (begin, end) if begin <= end else None


def shift_clock_time(value: time, minutes: int) -> time:
    """A time of day moved by ``minutes`` (either way), around midnight: a window written in one zone,
    rewritten in another."""
    total = (value.hour * 60 + value.minute + minutes) % (24 * 60)
    return time(total // 60, total % 60, value.second)
