"""The backup rules (`openrds.domain.backups`), pure: retention bounds, plan periods, the schedule's
slots spread per instance, which sets may expire, the recovery window, log backups."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from openrds.domain import backups as rules
from openrds.domain.backups import Backup, BackupMethod, BackupMode, BackupState, BackupType, PeriodType, StanzaState
from openrds.domain.errors import InvalidInput, MissingInput

T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)  # a Monday


def _set(label: str, kind: BackupType, finished: datetime, *, prior: str | None = None,
         expire: datetime | None = None, state: BackupState = BackupState.FINISHED) -> Backup:
    return Backup(id=f"bk-{label}", tenant_id="t", instance_id="i", name=label, method=BackupMethod.PHYSICAL,
                  mode=BackupMode.AUTOMATIC, type=kind, state=state, created_at=finished, updated_at=finished,
                  expire_at=expire or finished + timedelta(days=7), label=label, prior_label=prior,
                  started_at=finished, finished_at=finished)


@pytest.mark.parametrize("days", [6, 1831, 0, -7])
def test_retention_outside_7_to_1830_days_is_refused_naming_the_field(days: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_retention(days, "base_backup_retention_period")
    assert refused.value.field == "base_backup_retention_period"


@pytest.mark.parametrize("days", [7, 30, 1830])
def test_retention_inside_the_bounds_is_taken(days: int) -> None:
    rules.check_retention(days, "log_backup_retention_period")


def test_periods_weekly_needs_two_weekdays_monthly_days_1_to_31_custom_is_monthly() -> None:
    assert rules.check_period(PeriodType.WEEK, ("Friday", "monday"), custom=False) == ("monday", "friday")
    assert rules.check_period(PeriodType.MONTH, ("15", "2", "2"), custom=True) == ("2", "15")
    refused = [
        (PeriodType.WEEK, ("monday",), False, "at least two"),
        (PeriodType.WEEK, ("monday", "funday"), False, "funday"),
        (PeriodType.MONTH, ("32",), True, "32"),
        (PeriodType.MONTH, ("x",), True, "'x'"),
        (PeriodType.WEEK, ("monday", "tuesday"), True, "monthly"),
    ]
    for period_type, period, custom, said in refused:
        with pytest.raises(InvalidInput) as error:
            rules.check_period(period_type, period, custom=custom)
        assert said in error.value.message
        assert error.value.field in ("backup_period", "backup_period_type")
    with pytest.raises(MissingInput):
        rules.check_period(PeriodType.MONTH, (), custom=True)


def test_a_window_may_not_end_before_it_starts_and_methods_other_than_physical_are_refused() -> None:
    with pytest.raises(InvalidInput) as window:
        rules.check_window(time(5), time(1))
    assert window.value.field == "backup_start_time"
    assert rules.check_method(None) is BackupMethod.PHYSICAL
    for method in ("logical", "snapshot", "tape"):
        with pytest.raises(InvalidInput) as error:
            rules.check_method(method)
        assert error.value.field == "backup_method"


def test_the_instances_of_a_host_start_their_backups_spread_over_the_window() -> None:
    plans = [rules.default_plan(f"p{n}", "t", f"instance-{n}", T0) for n in range(300)]
    minutes = [rules.spread_minute(p.instance_id, p) for p in plans]
    span = 4 * 60  # 01:00-05:00
    assert all(0 <= m <= span for m in minutes)
    # 300 instances over 241 minutes: a uniform spread uses most minutes and never piles up.
    assert len(set(minutes)) > 150
    assert max(minutes.count(m) for m in set(minutes)) <= 6
    assert minutes == [rules.spread_minute(p.instance_id, p) for p in plans]  # stable across rounds and restarts
    slot = rules.slot_on(plans[0], T0.date())
    assert slot is not None and time(1) <= slot.time() <= time(5)


def test_a_slot_is_due_once_after_its_minute_not_when_missed_for_a_day_nor_before_the_plan() -> None:
    plan = rules.default_plan("p", "t", "instance-a", T0 - timedelta(days=3))
    today = rules.slot_on(plan, T0.date())
    assert today is not None and today < T0
    assert rules.due_slot(plan, today - timedelta(seconds=1)) == today - timedelta(days=1)
    assert rules.due_slot(plan, today) == today
    ran = replace(plan, last_slot_at=today)
    assert rules.due_slot(ran, today + timedelta(hours=3)) is None
    assert rules.due_slot(ran, today + timedelta(days=1)) == today + timedelta(days=1)
    # The service was down for three days: the newest slot runs once, not the missed ones.
    assert rules.due_slot(ran, today + timedelta(days=3, minutes=1)) == today + timedelta(days=3)
    assert rules.due_slot(ran, today + timedelta(days=3, hours=23)) == today + timedelta(days=3)
    # A plan made after today's minute waits for tomorrow's.
    fresh = rules.default_plan("p", "t", "instance-a", today + timedelta(minutes=5))
    assert rules.due_slot(fresh, today + timedelta(hours=1)) is None


def test_slots_follow_the_plans_days_in_its_own_offset() -> None:
    plan = replace(rules.default_plan("p", "t", "instance-b", T0 - timedelta(days=30)),
                   period=("monday", "thursday"), window_start=time(1), window_end=time(1), utc_offset_minutes=480)
    # 01:00 in UTC+8 is 17:00 UTC the day before: Sunday and Wednesday in UTC.
    slots = [rules.next_slot(plan, T0 + timedelta(days=d)) for d in range(7)]
    assert {s.strftime("%A %H:%M") for s in slots if s} == {"Sunday 17:00", "Wednesday 17:00"}
    monthly = replace(plan, period_type=PeriodType.MONTH, period=("31",), utc_offset_minutes=0)
    nxt = rules.next_slot(monthly, datetime(2030, 2, 1, tzinfo=UTC))
    assert nxt == datetime(2030, 3, 31, 1, 0, tzinfo=UTC)  # February has no 31st


def test_the_default_plan_takes_a_weekly_full_and_differentials_custom_plans_fulls() -> None:
    plan = rules.default_plan("p", "t", "i", T0)
    assert rules.backup_type_for(plan, [], T0) is BackupType.FULL
    full = _set("F1", BackupType.FULL, T0)
    assert rules.backup_type_for(plan, [full], T0 + timedelta(days=6)) is BackupType.DIFF
    assert rules.backup_type_for(plan, [full], T0 + timedelta(days=7)) is BackupType.FULL
    custom = replace(plan, plan_type=rules.PlanType.CUSTOM)
    assert rules.backup_type_for(custom, [full], T0 + timedelta(days=1)) is BackupType.FULL


def test_expiry_never_takes_the_newest_full_nor_a_set_a_kept_set_depends_on() -> None:
    old = T0 - timedelta(days=30)
    f1 = _set("F1", BackupType.FULL, old)
    d1 = _set("F1_D1", BackupType.DIFF, old + timedelta(days=1), prior="F1")
    f2 = _set("F2", BackupType.FULL, old + timedelta(days=8))
    d2 = _set("F2_D2", BackupType.DIFF, T0 - timedelta(days=1), prior="F2")  # not expired yet
    f3 = _set("F3", BackupType.FULL, old + timedelta(days=9), expire=T0 - timedelta(days=1))
    found = {b.label for b in rules.expirable([f1, d1, f2, d2, f3], T0, instance_exists=True)}
    # F1 and its diff are past; F2 is past but carries D2, kept; F3 is past but the newest full.
    assert found == {"F1", "F1_D1"}
    assert "F3" in {b.label for b in rules.expirable([f1, d1, f2, d2, f3], T0, instance_exists=False)}
    assert rules.expirable([f3], T0, instance_exists=True) == []
    gone = replace(f1, state=BackupState.DELETED)
    assert {b.label for b in rules.dependents([gone, d1, f2, d2], "F2")} == {"F2_D2"}


def test_the_recovery_window_runs_from_the_oldest_kept_sets_end_to_the_last_fence() -> None:
    f1 = _set("F1", BackupType.FULL, T0)
    f2 = _set("F2", BackupType.FULL, T0 + timedelta(hours=1))
    failed = _set("F0", BackupType.FULL, T0 - timedelta(hours=5), state=BackupState.FAILED)
    stanza = StanzaState("i", "t", T0, T0, fenced_at=T0 + timedelta(hours=2))
    window = rules.recovery_window("i", [failed, f1, f2], stanza)
    # pgBackRest's end is whole seconds, rounded down: the set is consistent within the second after.
    assert (window.begin, window.end) == (T0 + timedelta(seconds=1), T0 + timedelta(hours=2))
    assert window.covers(T0 + timedelta(minutes=30)) and not window.covers(T0)
    assert not window.covers(T0 + timedelta(hours=2, seconds=1))
    assert rules.recovery_window("i", [failed], stanza).empty
    assert rules.recovery_window("i", [f1], None).end is None
    # A fence within the set's second: nothing is known restorable by time yet (the set itself is).
    early = StanzaState("i", "t", T0, T0, fenced_at=T0 + timedelta(milliseconds=300))
    assert rules.recovery_window("i", [f1], early).empty


def test_log_backups_share_the_archived_wal_out_between_consecutive_sets() -> None:
    f1 = replace(_set("F1", BackupType.FULL, T0), wal_start="000000010000000000000004")
    d1 = replace(_set("F1_D", BackupType.DIFF, T0 + timedelta(hours=1), prior="F1"),
                 wal_start="000000010000000000000010")
    stanza = StanzaState("i", "t", T0, T0, wal_min="000000010000000000000004", wal_max="000000010000000000000013",
                         wal_stored_bytes=1600, fenced_at=T0 + timedelta(hours=2))
    logs = rules.log_backups("i", "t", [f1, d1], stanza, 7)
    assert [(x.wal_start, x.wal_stop) for x in logs] == [
        ("000000010000000000000004", "000000010000000000000010"),
        ("000000010000000000000010", "000000010000000000000013"),
    ]
    assert [x.finished_at for x in logs] == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert sum(x.size_bytes for x in logs) <= 1600 + 100 and logs[0].size_bytes > logs[1].size_bytes
    assert logs[1].expire_at == T0 + timedelta(days=7, hours=2)
    assert rules.segment_number("00000002000000010000000A") == 0x10A
    assert rules.segment_number("nonsense") is None
