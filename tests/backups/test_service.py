"""The backup use cases (`openrds.services.backups`) through the real composition root, its jobs run for
real over the in-memory engine (`tests.fakes.driver.FakeDriver`) on a manual clock: plans, manual
backups and their listing, deletion and expiry times, the recovery window, clones - and what a bad
request gets: an error naming the field, and nothing recorded."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from tests.backups.support import World, world

from openrds.domain.backups import BackupQuery, BackupState, BackupType, PeriodType, PlanChange, PlanType, SummaryQuery
from openrds.domain.errors import (
    BackupDenied,
    BackupNotFound,
    BackupPlanNotFound,
    InstanceNotFound,
    InvalidInput,
    InvalidInstanceState,
    MissingInput,
    UnknownSpec,
)
from openrds.domain.states import Lifecycle
from openrds.engine.driver import EngineError
from openrds.services.backups import CloneOrder
from openrds.services.instances import ReadOnlyOrder


@pytest.fixture
def w() -> World:  # type: ignore[misc]
    with world() as made:
        yield made


def _backup(w: World, instance: str) -> str:
    started = w.c.backups.create_backup(w.tenant, instance)
    w.run_jobs()
    return started.backup.id


def _clone(w: World, source: str, **target: object) -> CloneOrder:
    return CloneOrder(region="ap-beijing", source=source, spec_code="pg.it.small2", storage_gb=20,
                      charge_type="POSTPAID_BY_HOUR", **target)  # type: ignore[arg-type]


def test_a_new_primary_archives_into_its_own_stanza_and_has_the_default_plan(w: World) -> None:
    primary = w.primary()
    assert w.driver.stanza(primary.code) is not None
    [plan] = w.c.backups.describe_plans(w.tenant, primary.code)
    assert (plan.plan_type, plan.period_type, len(plan.period)) == (PlanType.DEFAULT, PeriodType.WEEK, 7)
    assert (plan.window_start, plan.window_end, plan.base_retention_days) == (time(1), time(5), 7)
    # A read-only instance has none: its master's backups cover it; it archives nothing.
    created = w.c.instances.create_readonly(w.tenant, ReadOnlyOrder(region="ap-beijing", master=primary.id,
                                                                    spec_code="pg.it.small2",
                                                                    charge_type="POSTPAID_BY_HOUR"))
    w.run_jobs()
    replica = created.instances[0]
    assert w.c.backups.describe_plans(w.tenant, replica.code) == []
    assert w.driver.stanza(replica.code) is None
    with pytest.raises(InvalidInstanceState):
        w.c.backups.create_backup(w.tenant, replica.code)
    # Promoted, it starts a stanza and a plan of its own.
    w.c.instances.promote(w.tenant, replica.code)
    w.run_jobs()
    assert w.driver.stanza(replica.code) is not None
    assert [p.plan_type for p in w.c.backups.describe_plans(w.tenant, replica.code)] == [PlanType.DEFAULT]


def test_a_manual_backup_is_listed_finished_with_its_size_times_and_expiry(w: World) -> None:
    primary = w.primary()
    started = w.c.backups.create_backup(w.tenant, primary.code)
    assert started.backup.state is BackupState.PENDING and started.backup.job_id == started.job.id
    listed = w.c.backups.describe_backups(w.tenant, BackupQuery(instance_ids=(primary.code,)))
    assert [b.state for b in listed.items] == [BackupState.PENDING]
    with pytest.raises(BackupDenied) as busy:  # one backup of an instance at a time
        w.c.backups.create_backup(w.tenant, primary.code)
    assert busy.value.field == "instance_id"
    w.run_jobs()
    backup = w.c.backups.get_backup(w.tenant, primary.code, started.backup.id)
    assert backup.state is BackupState.FINISHED and backup.type is BackupType.FULL
    assert backup.size_bytes > 0 and backup.database_bytes > 0 and backup.label
    assert backup.finished_at is not None and backup.expire_at == backup.finished_at + timedelta(days=7)
    [made] = w.driver.stanza(primary.code).backups  # type: ignore[union-attr]
    assert made.backup_id == backup.id and made.annotations["kind"] == "manual"
    # The window runs from the set's end (and the second pgBackRest rounds it down by) to the last fence.
    window = w.c.backups.recovery_window(w.tenant, primary.id)
    assert window.begin == backup.finished_at + timedelta(seconds=1) and window.end is None
    w.clock.advance(timedelta(minutes=6))
    w.c.backup_schedule.round()
    window = w.c.backups.recovery_window(w.tenant, primary.id)
    assert window.end == w.clock.now() and window.covers(backup.finished_at + timedelta(seconds=1))


def test_listing_filters_orders_and_pages(w: World) -> None:
    a, b = w.primary(), w.primary()
    for step in range(3):
        w.driver.write(a.code, 100 * 1024 * 1024 * (step + 1))
        w.clock.advance(timedelta(minutes=10))
        _backup(w, a.code)
    _backup(w, b.code)
    everything = w.c.backups.describe_backups(w.tenant, BackupQuery(limit=100))
    assert everything.total == 4 and everything.codes[everything.items[0].instance_id] in (a.code, b.code)
    of_a = w.c.backups.describe_backups(w.tenant, BackupQuery(instance_ids=(a.id,), order_by="size",
                                                              descending=False, limit=2, offset=1))
    assert of_a.total == 3 and len(of_a.items) == 2
    sizes = [x.size_bytes for x in w.c.backups.describe_backups(
        w.tenant, BackupQuery(instance_ids=(a.code,), order_by="size", descending=False)).items]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    newest_first = w.c.backups.describe_backups(w.tenant, BackupQuery(instance_ids=(a.code,)))
    starts = [x.started_at for x in newest_first.items]
    assert starts == sorted(starts, reverse=True)  # StartTime, descending: Tencent's defaults
    by_id = w.c.backups.describe_backups(w.tenant, BackupQuery(backup_ids=(newest_first.items[1].id,)))
    assert [x.id for x in by_id.items] == [newest_first.items[1].id]
    by_name = w.c.backups.describe_backups(w.tenant, BackupQuery(instance_names=(b.name,)))
    assert {x.instance_id for x in by_name.items} == {b.id}
    later = w.c.backups.describe_backups(w.tenant, BackupQuery(instance_ids=(a.code,), finished_from=starts[0]))
    assert [x.id for x in later.items] == [newest_first.items[0].id]
    assert w.c.backups.describe_backups(w.tenant, BackupQuery(instance_ids=("postgres-nothere",))).total == 0
    # Another tenant sees none of it.
    other = w.c.identity.create_tenant("someone-else").id
    assert w.c.backups.describe_backups(other, BackupQuery()).total == 0
    with pytest.raises(InstanceNotFound):
        w.c.backups.get_backup(other, a.code, newest_first.items[0].id)


def test_bad_requests_name_their_field_and_record_nothing(w: World) -> None:
    primary = w.primary()
    cases = [
        (lambda: w.c.backups.create_backup(w.tenant, primary.code, "logical"), InvalidInput, "backup_method"),
        (lambda: w.c.backups.modify_plan(w.tenant, primary.code, None, PlanChange(base_retention_days=6)),
         InvalidInput, "base_backup_retention_period"),
        (lambda: w.c.backups.modify_plan(w.tenant, primary.code, None, PlanChange(log_retention_days=1831)),
         InvalidInput, "log_backup_retention_period"),
        (lambda: w.c.backups.modify_plan(w.tenant, primary.code, None, PlanChange(period=("monday",))),
         InvalidInput, "backup_period"),
        (lambda: w.c.backups.modify_plan(w.tenant, primary.code, None,
                                         PlanChange(window_start=time(6), window_end=time(2))),
         InvalidInput, "backup_start_time"),
        (lambda: w.c.backups.modify_plan(w.tenant, primary.code, "plan-nothere", PlanChange(name="x")),
         BackupPlanNotFound, "plan_id"),
        (lambda: w.c.backups.create_plan(w.tenant, primary.code, PlanChange(
            name="weekly", period_type=PeriodType.WEEK, period=("monday", "friday"))),
         InvalidInput, "backup_period_type"),
        (lambda: w.c.backups.create_plan(w.tenant, primary.code, PlanChange(period_type=PeriodType.MONTH,
                                                                            period=("1",))),
         MissingInput, "plan_name"),
        (lambda: w.c.backups.get_backup(w.tenant, primary.code, "bk-nothere"), BackupNotFound, "backup_id"),
        (lambda: w.c.backups.create_backup(w.tenant, "postgres-nothere"), InstanceNotFound, "instance_id"),
        (lambda: w.c.backups.clone_spec(w.tenant, primary.code), MissingInput, "backup_id"),
        (lambda: w.c.backups.clone(w.tenant, _clone(w, primary.code, target_time=w.clock.now())),
         InvalidInput, "recovery_target_time"),  # no finished backup yet: nothing to restore
    ]
    for call, error, field in cases:
        with pytest.raises(error) as raised:
            call()
        assert raised.value.field == field, (field, raised.value)
    assert w.c.backups.describe_backups(w.tenant, BackupQuery()).total == 0
    [plan] = w.c.backups.describe_plans(w.tenant, primary.code)
    assert plan.base_retention_days == 7 and len(plan.period) == 7
    assert len(w.c.instances.describe(w.tenant, __import__("openrds.domain.model").domain.model.InstanceQuery(
        region="ap-beijing", limit=100)).items) == 1


def test_plans_modify_create_and_delete(w: World) -> None:
    primary = w.primary()
    _backup(w, primary.code)
    w.clock.advance(timedelta(days=1))
    w.c.backup_schedule.round()  # today's slot of the default plan: an automatic differential
    w.run_jobs()
    [auto] = [b for b in w.c.backups.describe_backups(w.tenant, BackupQuery()).items if b.plan_id]
    assert auto.type is BackupType.DIFF and auto.state is BackupState.FINISHED
    changed = w.c.backups.modify_plan(w.tenant, primary.code, None, PlanChange(
        base_retention_days=30, log_retention_days=30, period=("monday", "wednesday"),
        window_start=time(2), window_end=time(3), utc_offset_minutes=480))
    assert (changed.base_retention_days, changed.period, changed.utc_offset_minutes) == (
        30, ("monday", "wednesday"), 480)
    # The plan's automatic backups follow its new retention.
    auto = w.c.backups.get_backup(w.tenant, primary.code, auto.id)
    assert auto.finished_at is not None and auto.expire_at == auto.finished_at + timedelta(days=30)
    custom = w.c.backups.create_plan(w.tenant, primary.code, PlanChange(
        name="monthly", period_type=PeriodType.MONTH, period=("2",), base_retention_days=365))
    assert (custom.plan_type, custom.base_retention_days, custom.window_start) == (PlanType.CUSTOM, 365, time(2))
    assert [p.id for p in w.c.backups.describe_plans(w.tenant, primary.code)] == [changed.id, custom.id]
    with pytest.raises(BackupDenied) as default:
        w.c.backups.delete_plan(w.tenant, primary.code, changed.id)
    assert default.value.field == "plan_id"
    w.c.backups.delete_plan(w.tenant, primary.code, custom.id)
    assert [p.id for p in w.c.backups.describe_plans(w.tenant, primary.code)] == [changed.id]


def test_deleting_a_set_and_moving_its_expiry(w: World) -> None:
    primary = w.primary()
    first = _backup(w, primary.code)
    with pytest.raises(BackupDenied) as newest:
        w.c.backups.delete_backup(w.tenant, primary.code, first)
    assert "newest full" in newest.value.message and newest.value.field == "backup_id"
    w.clock.advance(timedelta(hours=1))
    second = _backup(w, primary.code)
    with pytest.raises(InvalidInput) as past:
        w.c.backups.modify_backup_expire_time(w.tenant, primary.code, second, w.clock.now() - timedelta(seconds=1))
    assert past.value.field == "expire_time"
    later = w.clock.now() + timedelta(days=90)
    assert w.c.backups.modify_backup_expire_time(w.tenant, primary.code, second, later).expire_at == later
    job = w.c.backups.delete_backup(w.tenant, primary.code, first)
    assert w.c.backups.get_backup(w.tenant, primary.code, first).state is BackupState.DELETING
    w.run_jobs()
    assert job.kind == "delete_backup"
    with pytest.raises(BackupNotFound):
        w.c.backups.get_backup(w.tenant, primary.code, first)
    labels = [b.backup_id for b in w.driver.stanza(primary.code).backups]  # type: ignore[union-attr]
    assert labels == [second]
    assert w.c.backups.describe_backups(w.tenant, BackupQuery()).total == 1


def test_summaries_and_overview_count_log_manual_and_automatic_backups(w: World) -> None:
    a, b = w.primary(storage=20), w.primary(storage=30)
    _backup(w, a.code)
    w.driver.write(a.code, 64 * 1024 * 1024)
    w.clock.advance(timedelta(days=1))
    w.c.backup_schedule.round()
    w.run_jobs()
    page = w.c.backups.summaries(w.tenant, SummaryQuery(order_by="total", descending=True))
    assert page.total == 2 and page.codes[page.items[0].instance_id] == a.code
    top = page.items[0]
    assert (top.manual_count, top.auto_count) == (1, 1) and top.log_count >= 1 and top.log_bytes > 0
    assert top.total_bytes == top.manual_bytes + top.auto_bytes + top.log_bytes
    overview = w.c.backups.overview(w.tenant)
    assert overview.free_bytes == 50 * 1024**3  # the purchased storage of the live primaries
    assert overview.totals.manual_count == 1 and overview.totals.auto_count == 2  # b's first full is automatic
    assert overview.used_free_bytes == overview.totals.total_bytes and overview.billable_bytes == 0
    only_b = w.c.backups.summaries(w.tenant, SummaryQuery(instance_ids=(b.code,)))
    assert [x.instance_id for x in only_b.items] == [b.id]


def test_a_clone_to_an_instant_holds_exactly_what_was_committed_by_then(w: World) -> None:
    primary = w.primary()
    _backup(w, primary.code)
    commits = []
    for _ in range(4):
        w.clock.advance(timedelta(seconds=10))
        commits.append((w.driver.write(primary.code, 1000), w.driver.disk_usage(primary.code)))
    # Between the second and the third commit: the second is in, the third is not.
    target = commits[1][0] + timedelta(seconds=5)
    w.clock.advance(timedelta(seconds=10))
    created = w.c.backups.clone(w.tenant, _clone(w, primary.code, target_time=target))
    # Bought like any create: an order of its own (postpaid: metered once it runs).
    assert created.instances[0].lifecycle is Lifecycle.CREATING and len(created.deal_names) == 1
    w.run_jobs()
    clone = w.c.instances.get(w.tenant, created.instances[0].id)
    assert clone.lifecycle is Lifecycle.RUNNING and clone.name == f"{primary.name}-Copy"
    assert w.driver.disk_usage(clone.code) == commits[1][1]
    # Exactly at a commit's instant: that commit is in.
    exact = w.c.backups.clone(w.tenant, _clone(w, primary.code, target_time=commits[2][0]))
    w.run_jobs()
    assert w.driver.disk_usage(exact.instances[0].code) == commits[2][1]
    # The clone archives into a stanza of its own and has its own plan.
    assert w.driver.stanza(clone.code) is not None
    assert len(w.c.backups.describe_plans(w.tenant, clone.code)) == 1


def test_a_clone_from_a_backup_set_and_the_least_it_may_buy(w: World) -> None:
    primary = w.primary()
    w.driver.write(primary.code, 15 * 1024**3)  # 15 GB of data: the clone needs 20 GB at least
    backup = _backup(w, primary.code)
    w.driver.write(primary.code, 1024)
    spec = w.c.backups.clone_spec(w.tenant, primary.code, backup_id=backup)
    assert (spec.min_spec_code, spec.min_storage_gb) == ("pg.it.small2", 20)
    with pytest.raises(InvalidInput) as small:
        w.c.backups.clone(w.tenant, CloneOrder(region="ap-beijing", source=primary.code, spec_code="pg.it.small2",
                                               storage_gb=10, backup_id=backup, charge_type="POSTPAID_BY_HOUR"))
    assert small.value.field == "storage"
    with pytest.raises(InvalidInput) as both:
        w.c.backups.clone(w.tenant, _clone(w, primary.code, backup_id=backup, target_time=w.clock.now()))
    assert both.value.field == "backup_id"
    with pytest.raises(UnknownSpec):
        w.c.backups.clone(w.tenant, CloneOrder(region="ap-beijing", source=primary.code, spec_code="nope",
                                               storage_gb=20, backup_id=backup))
    created = w.c.backups.clone(w.tenant, _clone(w, primary.code, backup_id=backup))
    w.run_jobs()
    clone = w.c.instances.get(w.tenant, created.instances[0].id)
    assert clone.lifecycle is Lifecycle.RUNNING
    assert w.driver.disk_usage(clone.code) == w.driver.disk_usage(primary.code) - 1024


def test_a_failed_clone_leaves_no_server_no_stanza_and_a_failed_instance(w: World,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    primary = w.primary()
    backup = _backup(w, primary.code)
    w.driver.fail("restore", EngineError("restore", "disk full"))
    created = w.c.backups.clone(w.tenant, _clone(w, primary.code, backup_id=backup))
    with pytest.raises(AssertionError, match="disk full"):
        w.run_jobs()
    clone = w.c.instances.get(w.tenant, created.instances[0].id)
    assert clone.lifecycle is Lifecycle.FAILED and "disk full" in clone.status_reason
    assert clone.code not in [s.instance_id for s in w.driver.servers()]
    assert w.driver.stanza(clone.code) is None
    assert w.c.backups.describe_plans(w.tenant, clone.code) == []
    # Failing after the restore (its stanza checked again, and that fails): the restored server and the
    # stanza it was given go too.
    w.driver.fail("ensure_stanza", EngineError("stanza create", "[082] WAL segment was not archived"))
    later = w.c.backups.clone(w.tenant, _clone(w, primary.code, backup_id=backup))
    with monkeypatch.context() as patched:
        patched.setattr(w.driver, "stanza", lambda instance_id: None)
        with pytest.raises(AssertionError, match=r"\[082\]"):
            w.run_jobs()
    failed = w.c.instances.get(w.tenant, later.instances[0].id)
    assert failed.lifecycle is Lifecycle.FAILED
    assert failed.code not in [s.instance_id for s in w.driver.servers()]
    assert w.driver.stanza(failed.code) is None and ("restore", failed.code) in w.driver.calls
    with w.c.store.read() as uow:
        stanza = uow.backups(None).stanzas.get(failed.id)
    assert stanza is None or stanza.deleted_at is not None


def test_a_target_after_the_last_archived_commit_fails_the_clone_instead_of_starting_it_early(w: World) -> None:
    primary = w.primary()
    _backup(w, primary.code)
    w.clock.advance(timedelta(minutes=1))
    w.driver.write(primary.code, 1000)
    w.clock.advance(timedelta(minutes=6))
    w.c.backup_schedule.round()  # a fence: the window ends here
    w.clock.advance(timedelta(minutes=1))
    w.driver.write(primary.code, 1000)
    # Isolated, the source cannot be fenced again: its window ends at the last fence.
    w.c.instances.isolate(w.tenant, [primary.code])
    w.run_jobs()
    window = w.c.backups.recovery_window(w.tenant, primary.code)
    assert window.end is not None
    with pytest.raises(InvalidInput) as outside:
        w.c.backups.clone(w.tenant, _clone(w, primary.code, target_time=window.end + timedelta(seconds=30)))
    assert outside.value.field == "recovery_target_time" and "recovery window" in outside.value.message
    # A running source is fenced by the job; one whose archive is broken cannot be, and the clone fails.
    other = w.primary()
    _backup(w, other.code)
    w.clock.advance(timedelta(minutes=1))
    w.driver.write(other.code, 1000)
    w.driver.break_archive(other.code)
    w.clock.advance(timedelta(minutes=1))
    created = w.c.backups.clone(w.tenant, _clone(w, other.code, target_time=w.clock.now() - timedelta(seconds=30)))
    with pytest.raises(AssertionError, match="not being archived"):
        w.run_jobs()
    clone = w.c.instances.get(w.tenant, created.instances[0].id)
    assert clone.lifecycle is Lifecycle.FAILED and clone.code not in [s.instance_id for s in w.driver.servers()]


def test_an_engine_that_cannot_back_up_makes_instances_without_backups_and_says_so() -> None:
    with world(backups=False) as w:
        primary = w.primary()
        assert primary.lifecycle is Lifecycle.RUNNING
        assert w.c.backups.describe_plans(w.tenant, primary.code) == []
        with w.c.store.read() as uow:
            said = [message for _, kind, message in uow.events.of(primary.id) if kind == "backup.unsupported"]
        assert said and "backups are off" in said[0]
        with pytest.raises(BackupDenied) as refused:
            w.c.backups.create_backup(w.tenant, primary.code)
        assert refused.value.field == "instance_id"
        w.c.backup_schedule.round()  # a no-op, not an error
        assert w.c.backups.describe_backups(w.tenant, BackupQuery()).total == 0


def test_a_promotion_whose_stanza_fails_stands_and_the_schedule_starts_its_backups_later(w: World) -> None:
    primary = w.primary()
    created = w.c.instances.create_readonly(w.tenant, ReadOnlyOrder(region="ap-beijing", master=primary.id,
                                                                    spec_code="pg.it.small2",
                                                                    charge_type="POSTPAID_BY_HOUR"))
    w.run_jobs()
    replica = created.instances[0]
    w.driver.fail("ensure_stanza", EngineError("stanza create", "repository unreachable"))
    w.c.instances.promote(w.tenant, replica.code)
    w.run_jobs()
    promoted = w.c.instances.get(w.tenant, replica.id)
    assert promoted.lifecycle is Lifecycle.RUNNING and promoted.role.value == "primary"
    with w.c.store.read() as uow:
        assert "backup.start_failed" in [kind for _, kind, _ in uow.events.of(replica.id)]
    assert w.driver.stanza(replica.code) is None
    w.c.backup_schedule.round()
    assert w.driver.stanza(replica.code) is not None
    assert [p.plan_type for p in w.c.backups.describe_plans(w.tenant, replica.code)] == [PlanType.DEFAULT]


def test_a_plan_rewritten_from_a_zone_west_of_its_own_moves_its_window_around_midnight(w: World) -> None:
    primary = w.primary()
    w.c.backups.modify_plan(w.tenant, primary.code, None, PlanChange(
        window_start=time(0, 30), window_end=time(3), utc_offset_minutes=480))
    # Only the end is given, written in UTC: the start (00:30 at +08:00) becomes 16:30 of the day before.
    changed = w.c.backups.modify_plan(w.tenant, primary.code, None, PlanChange(
        window_end=time(18), utc_offset_minutes=0))
    assert (changed.window_start, changed.window_end, changed.utc_offset_minutes) == (time(16, 30), time(18), 0)


def test_the_overview_counts_wal_archived_before_the_first_backup(w: World) -> None:
    primary = w.primary()
    w.driver.write(primary.code, 64 * 1024**2)  # four segments archived, no backup set yet
    w.driver.fence(primary.code)
    w.c.backup_schedule.round()  # the stanza's sizes, as the repository reports them
    held = w.driver.stanza(primary.code)
    assert held is not None and held.wal_stored_bytes > 0 and not held.backups
    overview = w.c.backups.overview(w.tenant)
    assert overview.totals.log_count == 0  # no window yet: nothing to list as a log backup
    # ... but the repository holds it (as of the round's look at the repository, before its own fence)
    assert 0 < overview.totals.log_bytes <= held.wal_stored_bytes
