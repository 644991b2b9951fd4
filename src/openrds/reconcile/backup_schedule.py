"""The backup schedule: a periodic round (like the billing round) that keeps every instance's backups
as its plans say, and watches WAL archiving.

Each round (every ``backup_schedule_interval``, 30 s):

1. **What the repository holds** (one ``stanzas()`` listing): each instance's stanza row gets its
   archived WAL range and stored bytes; a set the store thinks kept but the repository no longer has
   is recorded deleted.
2. **Archive watch**, each running primary with a stanza: ``archive_status`` into its stanza row (the
   metrics read it from there). A failed ``archive-push`` newer than the last success turns the row
   ``archive_failing``: an event (``backup.archive_failing``) and the instance's status reason say so
   within a round; once WAL is archived again both are cleared (``backup.archive_ok``). PostgreSQL keeps
   accepting writes meanwhile: WAL waits in ``pg_wal`` (up to the disk).
3. **Fences**: a running primary whose last fence is older than ``fence_every`` is fenced, so the
   recovery window's end follows its commits (a commit and a WAL switch, archived); the oldest first,
   for at most a third of the interval per round (about a second each).
4. **Due backups**: a running primary with no finished full is backed up in full once it has run
   ``FIRST_FULL_AFTER`` (2 minutes; the window starts there); otherwise each plan's due slot
   (:func:`openrds.domain.backups.due_slot`: the instance's own minute inside the plan's window) starts
   a backup - at most ``max_running`` scheduled backups at a time over the host, the others in the next
   rounds. A primary that is missing its stanza or default
   plan (made before backups existed) gets them.
5. **Expiry**: the sets :func:`openrds.domain.backups.expirable` gives (past their expiry, never the
   newest full of an existing instance, never a set a kept set depends on) are removed by jobs; a
   removal that fails is tried again a day later.
6. **Destroyed instances**: their backups are kept for the default plan's base retention after the
   destruction, or until the latest expire time of a kept set if later (they can be cloned meanwhile),
   then a job removes the stanza (a removal that fails is tried again a day later).

Jobs are submitted through :class:`openrds.services.backups.BackupService` (the services submit jobs).
A driver that cannot back up (``backup_support``) makes every round a no-op, said once in the log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime, timedelta

from openrds.clock import Clock
from openrds.domain import backups as rules
from openrds.domain.backups import Backup, BackupState, BackupType, PlanType, StanzaState
from openrds.domain.model import Instance
from openrds.domain.states import JobKind, Lifecycle, Role
from openrds.engine.backups import ArchiveStatus, StanzaInfo
from openrds.engine.driver import Driver, EngineError
from openrds.jobs.backups import refresh_stanza
from openrds.periodic import Periodic
from openrds.persistence.backups import BackupRepository
from openrds.persistence.uow import Store
from openrds.services.backups import BackupService

log = logging.getLogger(__name__)

#: The start of the status reason the archive watch sets (and the only one it clears).
ARCHIVE_REASON = "WAL archiving fails"


class BackupSchedule:
    def __init__(self, store: Store, driver: Driver, backups: BackupService, clock: Clock, *,
                 interval: float = 30.0, max_running: int = 2,
                 fence_every: timedelta = rules.FENCE_EVERY) -> None:
        self._store = store
        self._driver = driver
        self._backups = backups
        self._clock = clock
        self._max_running = max_running
        self._fence_every = fence_every
        self._said_unsupported = False
        self._fence_budget = interval / 3
        self._loop = Periodic("backups", interval, self.round)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def round(self) -> None:
        """One round (see the module docstring); each part survives the others' engine errors."""
        reason = self._driver.backup_support()
        if reason is not None:
            if not self._said_unsupported:
                log.warning("backups: the driver cannot back up: %s", reason)
                self._said_unsupported = True
            return
        with self._store.read() as uow:
            repos = uow.backups(None)
            instances = {i.id: i for i in repos.all_instances()}
            for primary in uow.instances(None).list():
                if primary.role is Role.PRIMARY:
                    instances.setdefault(primary.id, primary)
            stanzas = {s.instance_id: s for s in repos.stanzas.list()}
            backups: dict[str, list[Backup]] = {}
            for backup in repos.sets.of_instances(list(instances)):
                backups.setdefault(backup.instance_id, []).append(backup)
            plans = repos.plans.list()
            open_jobs = {(j.kind, i) for j in uow.jobs.unfinished() for i in j.instance_ids}
        running = [i for i in instances.values() if i.role is Role.PRIMARY and i.lifecycle is Lifecycle.RUNNING]
        self._sync_repository(instances, stanzas, backups)
        for instance in running:  # the archive watch first: a failure is seen within the round
            if self._loop.stopping:
                return
            self._ensure_started(instance, stanzas.get(instance.id), plans)
            self._watch_archive(instance)
        self._fence_oldest(running, stanzas)
        self._run_due(running, backups, plans, stanzas)
        self._expire(instances, backups)
        self._remove_destroyed(instances, stanzas, plans, backups, open_jobs)

    # --- 1. the repository ---------------------------------------------------------------------------
    def _sync_repository(self, instances: dict[str, Instance], stanzas: dict[str, StanzaState],
                         backups: dict[str, list[Backup]]) -> None:
        try:
            listed = {s.instance_id: s for s in self._driver.stanzas()}
        except EngineError as exc:
            log.warning("backups: listing the repository failed: %s", exc)
            return
        now = self._clock.now()
        by_code = {i.code: i for i in instances.values()}
        with self._store.write() as uow:
            for code, info in listed.items():
                instance = by_code.get(code)
                if instance is None:
                    continue  # a stanza of no instance of this store (another service's, or made by hand)
                state = stanzas.get(instance.id)
                if state is not None and state.deleted_at is not None:
                    continue
                refresh_stanza(uow, instance, info, now)
                self._forget_missing(uow.backups(None).sets, backups.get(instance.id, []), info, now)

    @staticmethod
    def _forget_missing(repo: BackupRepository, kept: list[Backup], info: StanzaInfo, now: datetime) -> None:
        """Sets the store holds as finished that the repository no longer has (removed by pgBackRest's own
        retention, or by hand) are recorded deleted: a clone must not be offered what cannot be restored."""
        labels = {b.label for b in info.backups}
        for backup in kept:
            if backup.kept and backup.label and backup.label not in labels:
                log.warning("backups: set %s (%s) is no longer in the repository", backup.label, backup.id)
                repo.save(replace(backup, state=BackupState.DELETED, updated_at=now))

    # --- 2. the archive watch ---------------------------------------------------------------------------
    def _ensure_started(self, instance: Instance, stanza: StanzaState | None, plans: list[rules.BackupPlan]) -> None:
        """A running primary has a stanza and a default plan (made before backups existed, or its creation
        job's step was skipped by a driver that could not back up then)."""
        has_plan = any(p.instance_id == instance.id and p.plan_type is PlanType.DEFAULT for p in plans)
        if stanza is not None and stanza.deleted_at is None and has_plan:
            return
        try:
            self._driver.ensure_stanza(instance.code)
        except EngineError as exc:
            log.warning("backups: %s has no stanza and making one failed: %s", instance.code, exc)
            return
        self._backups.ensure_started(instance.id)

    def _watch_archive(self, instance: Instance) -> None:
        try:
            status = self._driver.archive_status(instance.code)
        except EngineError as exc:
            log.debug("backups: archive status of %s: %s", instance.code, exc)
            return
        now = self._clock.now()
        with self._store.write() as uow:
            stanzas = uow.backups(None).stanzas
            current = stanzas.get(instance.id) or StanzaState(instance.id, instance.tenant_id, now, now)
            failing = _failing(status)
            stanzas.put(replace(current, archive_failed_count=status.failed_count,
                                archive_last_failed_at=status.last_failed_at,
                                archive_lag_segments=status.lag_segments, archive_failing=failing, updated_at=now))
            if failing == current.archive_failing:
                return
            repo = uow.instances(None)
            fresh = repo.find(instance.id)
            if failing:
                message = (f"{ARCHIVE_REASON}: {status.failed_count} failed archive-push attempts, the last at "
                           f"{status.last_failed_at.isoformat() if status.last_failed_at else '?'} "
                           f"({status.last_failed_wal or '?'}); {status.lag_segments or 0} WAL segments wait in "
                           "pg_wal; the recovery window's end stands still")
                log.warning("%s: %s", instance.code, message)
                uow.events.add(instance.tenant_id, instance.id, "backup.archive_failing", message, now)
                if fresh is not None and not fresh.status_reason:
                    repo.save(replace(fresh, status_reason=message[:1000], updated_at=now))
                return
            message = f"WAL archiving works again (last archived {status.last_archived_wal or '?'})"
            log.info("%s: %s", instance.code, message)
            uow.events.add(instance.tenant_id, instance.id, "backup.archive_ok", message, now)
            if fresh is not None and fresh.status_reason.startswith(ARCHIVE_REASON):
                repo.save(replace(fresh, status_reason="", updated_at=now))

    # --- 3. fences ------------------------------------------------------------------------------------------
    def _fence_oldest(self, running: list[Instance], stanzas: dict[str, StanzaState]) -> None:
        """Fence the primaries whose last fence is older than ``fence_every``, the oldest first, for at most
        a third of the round's interval (a fence takes about a second: a host of many primaries fences
        them over several rounds rather than holding up the rest of the round)."""
        now = self._clock.now()
        due = []
        for instance in running:
            stanza = stanzas.get(instance.id)
            if stanza is None or stanza.deleted_at is not None or stanza.archive_failing:
                continue
            if stanza.fenced_at is None or now - stanza.fenced_at >= self._fence_every:
                due.append((stanza.fenced_at or datetime.min.replace(tzinfo=now.tzinfo), instance))
        started = time.monotonic()
        for _, instance in sorted(due, key=lambda pair: (pair[0], pair[1].id)):
            if self._loop.stopping or time.monotonic() - started > self._fence_budget:
                return
            try:
                fenced = self._driver.fence(instance.code)
            except EngineError as exc:
                log.debug("backups: fencing %s: %s", instance.code, exc)
                continue
            with self._store.write() as uow:
                refresh_stanza(uow, instance, None, self._clock.now(), fenced_at=fenced)

    # --- 4. due backups ------------------------------------------------------------------------------------
    def _run_due(self, running: list[Instance], backups: dict[str, list[Backup]], plans: list[rules.BackupPlan],
                 stanzas: dict[str, StanzaState]) -> None:
        busy = sum(b.state in (BackupState.PENDING, BackupState.RUNNING) for found in backups.values() for b in found)
        now = self._clock.now()
        by_instance: dict[str, list[rules.BackupPlan]] = {}
        for plan in plans:
            by_instance.setdefault(plan.instance_id, []).append(plan)
        for instance in running:
            if busy >= self._max_running:
                return
            own = backups.get(instance.id, [])
            if any(b.state in (BackupState.PENDING, BackupState.RUNNING, BackupState.DELETING) for b in own):
                continue
            stanza = stanzas.get(instance.id)
            if stanza is None or stanza.deleted_at is not None or stanza.archive_failing:
                continue
            instance_plans = by_instance.get(instance.id, [])
            default = next((p for p in instance_plans if p.plan_type is PlanType.DEFAULT), None)
            has_full = any(b.kept and b.type is BackupType.FULL for b in own)
            if not has_full and default is not None:
                # The first full: the recovery window starts with it (the plan's slot is not spent).
                settled = now - instance.created_at >= rules.FIRST_FULL_AFTER
                if settled and self._backups.start_scheduled(instance.id, default.id, None) is not None:
                    busy += 1
                continue
            for plan in instance_plans:
                slot = rules.due_slot(plan, now)
                if slot is None:
                    continue
                if self._backups.start_scheduled(instance.id, plan.id, slot) is not None:
                    busy += 1
                break  # one backup of an instance at a time; another due plan runs next round

    # --- 5. expiry -----------------------------------------------------------------------------------------
    def _expire(self, instances: dict[str, Instance], backups: dict[str, list[Backup]]) -> None:
        now = self._clock.now()
        for instance_id, own in backups.items():
            instance = instances.get(instance_id)
            # A destroyed instance's sets go all together with its stanza (6.), not one by one.
            if instance is None or instance.lifecycle is Lifecycle.DELETED:
                continue
            if any(b.state is BackupState.DELETING for b in own):
                continue
            going = rules.expirable(own, now, instance_exists=True)
            # Oldest first, one job per round and instance: a full's job takes its dependents with it.
            for backup in sorted(going, key=lambda b: (b.finished_at or b.created_at, b.id))[:1]:
                log.info("backups: %s of %s expired at %s", backup.id, instance.code, backup.expire_at.isoformat())
                self._backups.expire(instance.id, backup.id)

    # --- 6. destroyed instances ---------------------------------------------------------------------------
    def _remove_destroyed(self, instances: dict[str, Instance], stanzas: dict[str, StanzaState],
                          plans: list[rules.BackupPlan], backups: dict[str, list[Backup]],
                          open_jobs: set[tuple[str, str]]) -> None:
        """A destroyed instance's stanza is removed once the default plan's base retention after the
        destruction is over and no kept set's expire time (moved by the tenant) is still ahead."""
        now = self._clock.now()
        for instance in instances.values():
            stanza = stanzas.get(instance.id)
            if instance.lifecycle is not Lifecycle.DELETED or stanza is None or stanza.deleted_at is not None:
                continue
            if stanza.delete_after is None:
                days = next((p.base_retention_days for p in plans
                             if p.instance_id == instance.id and p.plan_type is PlanType.DEFAULT),
                            rules.DEFAULT_RETENTION_DAYS)
                expiries = [b.expire_at for b in backups.get(instance.id, []) if b.kept]
                after = max([instance.updated_at + timedelta(days=days), *expiries])
                with self._store.write() as uow:
                    uow.backups(None).stanzas.put(replace(stanza, delete_after=after, updated_at=now))
                continue
            if now >= stanza.delete_after and (JobKind.DELETE_STANZA.value, instance.id) not in open_jobs:
                self._backups.remove_stanza(instance.id)


def _failing(status: ArchiveStatus) -> bool:
    """archive-push failed after its last success (or never succeeded)."""
    if status.failed_count == 0 or status.last_failed_at is None:
        return False
    return status.last_archived_at is None or status.last_failed_at >= status.last_archived_at
