"""The backup schedule's rounds (`openrds.reconcile.backup_schedule`), called by the test on a manual
clock: first fulls, due slots spread per instance, fences, expiry (never the newest full), the archive
watch, and a destroyed instance's backups kept for their retention, then removed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from tests.backups.support import World, world

from openrds.domain import backups as rules
from openrds.domain.backups import BackupQuery, BackupState, BackupType, SummaryQuery
from openrds.domain.errors import BackupNotFound
from openrds.domain.states import Lifecycle
from openrds.engine.driver import EngineError
from openrds.metrics import Metrics
from openrds.services.backups import CloneOrder

SEGMENT = 16 * 1024 * 1024


@pytest.fixture
def w() -> World:  # type: ignore[misc]
    with world(backup_max_running=2) as made:
        yield made


def _round(w: World) -> None:
    w.c.backup_schedule.round()
    w.run_jobs()


def _backups(w: World, instance_id: str) -> list[rules.Backup]:
    return list(w.c.backups.describe_backups(w.tenant, BackupQuery(instance_ids=(instance_id,), limit=100)).items)


def test_first_fulls_at_most_two_at_a_time_then_each_instance_at_its_own_minute(w: World) -> None:
    primaries = [w.primary() for _ in range(5)]
    w.c.backup_schedule.round()
    with w.c.store.read() as uow:
        assert uow.jobs.unfinished() == []  # new instances settle first
    w.clock.advance(rules.FIRST_FULL_AFTER)
    w.c.backup_schedule.round()
    with w.c.store.read() as uow:
        assert len(uow.jobs.unfinished()) == 2  # backup_max_running
    w.run_jobs()
    for _ in range(2):
        _round(w)
    assert all([b.type for b in _backups(w, p.id)] == [BackupType.FULL] for p in primaries)
    # The next day: nothing before an instance's own minute of the 01:00-05:00 window; its differential after.
    plans = {p.id: w.c.backups.describe_plans(w.tenant, p.id)[0] for p in primaries}
    day = w.clock.now().date() + timedelta(days=1)
    slots = sorted((rules.slot_on(plans[p.id], day), p.id) for p in primaries)
    assert len({s for s, _ in slots}) == len(slots)  # five instances, five different minutes
    first_slot, first_id = slots[0]
    assert first_slot is not None
    w.clock.advance(first_slot - w.clock.now() + timedelta(seconds=1))
    _round(w)
    grown = [p.id for p in primaries if len(_backups(w, p.id)) == 2]
    assert grown == [first_id]
    assert _backups(w, first_id)[0].type is BackupType.DIFF and _backups(w, first_id)[0].plan_id == plans[first_id].id
    _round(w)  # the slot is spent: no second backup for it
    assert len(_backups(w, first_id)) == 2
    last_slot = slots[-1][0]
    assert last_slot is not None
    w.clock.advance(last_slot - w.clock.now() + timedelta(seconds=1))
    for _ in range(3):
        _round(w)
    assert all(len(_backups(w, p.id)) == 2 for p in primaries)


def test_the_window_end_follows_commits_through_the_schedules_fences(w: World) -> None:
    primary = w.primary()
    w.clock.advance(rules.FIRST_FULL_AFTER)
    _round(w)  # the first full, fenced at its end: the window's begin, no instant after it fenced yet
    window = w.c.backups.recovery_window(w.tenant, primary.id)
    assert window.begin is not None and window.end is None
    w.clock.advance(timedelta(minutes=1))
    committed = w.driver.write(primary.code, 1000)
    _round(w)
    assert w.c.backups.recovery_window(w.tenant, primary.id).end is None  # fenced less than 5 minutes ago
    w.clock.advance(timedelta(minutes=5))
    _round(w)
    end = w.c.backups.recovery_window(w.tenant, primary.id).end
    assert end is not None and end >= committed
    clone = w.c.backups.clone(w.tenant, CloneOrder(region="ap-beijing", source=primary.code, spec_code="pg.it.small2",
                                                   storage_gb=20, target_time=end, charge_type="POSTPAID_BY_HOUR"))
    w.run_jobs()
    assert w.driver.disk_usage(clone.instances[0].code) == w.driver.disk_usage(primary.code)


def test_expiry_removes_sets_past_their_time_but_never_the_newest_full(w: World) -> None:
    primary = w.primary()
    w.clock.advance(rules.FIRST_FULL_AFTER)
    _round(w)
    [first] = _backups(w, primary.id)
    w.clock.advance(timedelta(hours=2))
    second = w.c.backups.create_backup(w.tenant, primary.code).backup.id
    w.run_jobs()
    soon = w.clock.now() + timedelta(minutes=1)
    w.c.backups.modify_backup_expire_time(w.tenant, primary.code, first.id, soon)
    w.c.backups.modify_backup_expire_time(w.tenant, primary.code, second, soon)
    w.clock.advance(timedelta(minutes=2))
    _round(w)
    assert [b.id for b in _backups(w, primary.id)] == [second]  # the newest full stays past its time
    assert [s.backup_id for s in w.driver.stanza(primary.code).backups] == [second]  # type: ignore[union-attr]
    _round(w)
    assert [b.id for b in _backups(w, primary.id)] == [second]
    assert w.c.backups.recovery_window(w.tenant, primary.id).begin is not None


def test_a_failing_archive_is_an_event_and_a_status_reason_within_a_round_and_writes_go_on(w: World) -> None:
    primary = w.primary()
    w.clock.advance(rules.FIRST_FULL_AFTER)
    _round(w)
    w.driver.break_archive(primary.code)
    w.driver.write(primary.code, 2 * SEGMENT)  # two segments filled: archive-push fails on them
    w.c.backup_schedule.round()
    failing = w.c.instances.get(w.tenant, primary.id)
    assert failing.status_reason.startswith("WAL archiving fails") and failing.lifecycle is Lifecycle.RUNNING
    with w.c.store.read() as uow:
        stanza = uow.backups(None).stanzas.get(primary.id)
        events = [kind for _, kind, _ in uow.events.of(primary.id)]
    assert stanza is not None and stanza.archive_failing and stanza.archive_failed_count >= 1
    assert (stanza.archive_lag_segments or 0) >= 2
    assert "backup.archive_failing" in events
    metrics = Metrics(w.c.monitor.snapshot, w.c.store)
    metrics.inventory.refresh()
    text = metrics.render()[0].decode()
    assert f'openrds_backup_archive_failing{{tenant="backup-tenant",instance_id="{primary.code}"}} 1.0' in text
    assert f'openrds_backup_archive_lag_segments{{tenant="backup-tenant",instance_id="{primary.code}"}}' in text
    assert f'openrds_backup_repository_bytes{{tenant="backup-tenant",instance_id="{primary.code}"}}' in text
    w.driver.write(primary.code, 1000)  # the primary still takes writes
    w.clock.advance(timedelta(seconds=30))
    w.driver.break_archive(primary.code, broken=False)
    w.driver.write(primary.code, SEGMENT)
    w.c.backup_schedule.round()
    assert w.c.instances.get(w.tenant, primary.id).status_reason == ""
    with w.c.store.read() as uow:
        assert "backup.archive_ok" in [kind for _, kind, _ in uow.events.of(primary.id)]


def test_a_destroyed_instance_keeps_its_backups_for_their_retention_then_loses_them(w: World) -> None:
    primary = w.primary()
    w.clock.advance(rules.FIRST_FULL_AFTER)
    _round(w)
    w.c.instances.isolate(w.tenant, [primary.code])
    w.run_jobs()
    w.c.instances.destroy(w.tenant, primary.code)
    w.run_jobs()
    destroyed_at: datetime = w.clock.now()
    _round(w)
    assert w.driver.stanza(primary.code) is not None
    window = w.c.backups.recovery_window(w.tenant, primary.code)
    assert window.begin is not None  # it can still be cloned
    [kept] = _backups(w, primary.id)
    spec = w.c.backups.clone_spec(w.tenant, primary.code, backup_id=kept.id)
    assert spec.min_storage_gb >= 10
    w.clock.advance(destroyed_at + timedelta(days=7) - w.clock.now() - timedelta(minutes=1))
    _round(w)
    assert w.driver.stanza(primary.code) is not None
    w.clock.advance(timedelta(minutes=2))
    _round(w)
    assert w.driver.stanza(primary.code) is None
    assert _backups(w, primary.id) == []
    assert w.c.backups.summaries(w.tenant, SummaryQuery()).total == 0
    with w.c.store.read() as uow:
        assert uow.backups(None).sets.get(kept.id).state is BackupState.DELETED  # type: ignore[union-attr]


def test_a_failed_expiry_keeps_the_set_and_is_tried_again_a_day_later_not_every_round(w: World) -> None:
    primary = w.primary()
    first = w.c.backups.create_backup(w.tenant, primary.code).backup.id
    w.run_jobs()
    w.clock.advance(timedelta(hours=1))
    w.c.backups.create_backup(w.tenant, primary.code)
    w.run_jobs()
    w.c.backups.modify_backup_expire_time(w.tenant, primary.code, first, w.clock.now() + timedelta(minutes=1))
    w.clock.advance(timedelta(minutes=2))
    w.driver.fail("expire_backup", EngineError("expire", "[056] unable to remove the set"))
    w.c.backup_schedule.round()
    with pytest.raises(AssertionError, match=r"\[056\]"):
        w.run_jobs()
    kept = w.c.backups.get_backup(w.tenant, primary.code, first)
    assert kept.state is BackupState.FINISHED and kept.expire_at == w.clock.now() + timedelta(days=1)
    w.c.backup_schedule.round()
    with w.c.store.read() as uow:
        assert uow.jobs.unfinished() == []  # not again at the next round
    w.clock.advance(timedelta(days=1, minutes=1))
    _round(w)
    with pytest.raises(BackupNotFound):
        w.c.backups.get_backup(w.tenant, primary.code, first)


def test_a_destroyed_instances_set_kept_longer_by_its_tenant_keeps_the_stanza_until_then(w: World) -> None:
    primary = w.primary()
    kept = w.c.backups.create_backup(w.tenant, primary.code).backup.id
    w.run_jobs()
    w.c.backups.modify_backup_expire_time(w.tenant, primary.code, kept, w.clock.now() + timedelta(days=30))
    w.c.instances.isolate(w.tenant, [primary.code])
    w.run_jobs()
    w.c.instances.destroy(w.tenant, primary.code)
    w.run_jobs()
    _round(w)
    w.clock.advance(timedelta(days=8))
    _round(w)
    assert w.c.backups.get_backup(w.tenant, primary.code, kept).state is BackupState.FINISHED
    assert w.driver.stanza(primary.code) is not None
    w.clock.advance(timedelta(days=23))
    _round(w)
    assert w.driver.stanza(primary.code) is None
