"""Backup use cases: plans, manual base backups, listings and summaries, the recovery window, clones.

Every answer comes from the store: the jobs record what the engine made (a set's label, size and
times), and the backup schedule (:mod:`openrds.reconcile.backup_schedule`) refreshes what the
repository holds (archived WAL, stored bytes, the last fence). A mutating call validates everything,
records the intent and submits its job in one transaction, then returns; it never waits for the engine.

Instances are named by id or code, as everywhere; another tenant's instance or backup does not exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from openrds.clock import Clock
from openrds.domain import backups as rules
from openrds.domain import resize as resize_rules
from openrds.domain import rules as instance_rules
from openrds.domain.backups import (
    Backup,
    BackupMode,
    BackupOverview,
    BackupPage,
    BackupPlan,
    BackupQuery,
    BackupState,
    BackupSummary,
    BackupType,
    Clone,
    CloneSpec,
    LogBackup,
    LogBackupPage,
    PlanChange,
    PlanType,
    RecoveryWindow,
    StanzaState,
    SummaryPage,
    SummaryQuery,
)
from openrds.domain.catalogue import Catalogue, Spec
from openrds.domain.errors import (
    BackupDenied,
    BackupNotFound,
    BackupPlanNotFound,
    InstanceNotFound,
    InvalidInput,
    InvalidStorage,
    MissingInput,
    NotAPrimary,
    UnknownSpec,
)
from openrds.domain.ids import PRIMARY_PREFIX, new_uuid, short_code
from openrds.domain.model import Instance, Job, Network, Tag
from openrds.domain.quotas import Amounts
from openrds.domain.states import JobKind, Lifecycle, Operation, Role, ensure_allowed
from openrds.jobs.runner import JobQueue
from openrds.persistence.backups import BackupRepositories
from openrds.persistence.uow import Store, UnitOfWork
from openrds.services import network as access
from openrds.services.billing import Cashier, Payment
from openrds.services.instances import Created
from openrds.services.quotas import QuotaService

GIB = 1024**3
#: Tencent: "automatic backups less than 7 days old cannot be deleted".
AUTO_DELETE_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class CloneOrder:
    """CloneDBInstance (and Huawei's restore to a new instance): a NEW primary made from ``source``'s
    backups, to the set ``backup_id`` or to the instant ``target_time`` (exactly one), bought like any
    create. ``None`` fields take the source's value (zone, project, network; ``name``: "<source name>-Copy")."""

    region: str
    source: str  # id or code of the instance whose backups are restored (it may be destroyed)
    spec_code: str
    storage_gb: int
    backup_id: str | None = None
    target_time: datetime | None = None
    period_months: int = 1
    charge_type: str | None = None
    zone: str | None = None
    project_id: int | None = None
    name: str = ""
    network: Network | None = None
    auto_renew: bool = False
    deletion_protection: bool = False
    tags: tuple[Tag, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    voucher_ids: tuple[str, ...] = ()
    auto_voucher: bool = False

    @property
    def payment(self) -> Payment:
        return Payment(self.voucher_ids, self.auto_voucher)


@dataclass(frozen=True, slots=True)
class BackupStarted:
    """A manual backup recorded (state ``init``) and the job that takes it."""

    backup: Backup
    job: Job


class BackupService:
    """The backup use cases over the store and the job queue (built by the container).

    :param plan_offset_minutes: the fixed UTC offset a default plan's window is written in (the zone the
        service shows times in), so that its 01:00-05:00 are the quiet hours of the people reading it.
    """

    def __init__(self, store: Store, catalogue: Catalogue, queue: JobQueue, cashier: Cashier, quotas: QuotaService,
                 clock: Clock, *, plan_offset_minutes: int = 0,
                 access_support: Callable[[], str] = lambda: "") -> None:
        self._access_support = access_support  # the driver's: empty when it enforces security groups
        self._store = store
        self._catalogue = catalogue
        self._queue = queue
        self._cashier = cashier
        self._quotas = quotas
        self._clock = clock
        self._offset = plan_offset_minutes

    # --- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _instance(repos: BackupRepositories, identifier: str, *, destroyed: bool = False) -> Instance:
        """The tenant's instance by id or code; a destroyed one only when ``destroyed`` (its backups are
        kept for their retention). :raises InstanceNotFound:"""
        instance = repos.instance(identifier)
        if instance is None or (instance.lifecycle is Lifecycle.DELETED and not destroyed):
            raise InstanceNotFound(identifier)
        return instance

    @staticmethod
    def _primary(instance: Instance, doing: str) -> None:
        if instance.role is not Role.PRIMARY:
            raise NotAPrimary(instance.code, "a read-only instance (its master's backups cover it)", doing)

    def _plan(self, repos: BackupRepositories, instance: Instance, plan_id: str | None) -> BackupPlan:
        """The plan ``plan_id`` of the instance, or its default plan (made now if it has none yet)."""
        if plan_id:
            plan = repos.plans.get(plan_id)
            if plan is None or plan.instance_id != instance.id:
                raise BackupPlanNotFound(f"backup plan {plan_id} does not exist", field="plan_id")
            return plan
        for plan in repos.plans.of_instance(instance.id):
            if plan.plan_type is PlanType.DEFAULT:
                return plan
        plan = rules.default_plan(rules.new_plan_id(), instance.tenant_id, instance.id, self._clock.now(),
                                  self._offset)
        repos.plans.add(plan)
        return plan

    def _retention_days(self, repos: BackupRepositories, instance_id: str) -> tuple[int, int]:
        """The default plan's base and log retention (the defaults if it has none)."""
        for plan in repos.plans.of_instance(instance_id):
            if plan.plan_type is PlanType.DEFAULT:
                return plan.base_retention_days, plan.log_retention_days
        return rules.DEFAULT_RETENTION_DAYS, rules.DEFAULT_RETENTION_DAYS

    def _backup(self, repos: BackupRepositories, instance: Instance, backup_id: str) -> Backup:
        backup = repos.sets.get(backup_id)
        if backup is None or backup.instance_id != instance.id or backup.state is BackupState.DELETED:
            raise BackupNotFound(f"backup {backup_id} of instance {instance.code} does not exist", field="backup_id")
        return backup

    @staticmethod
    def _matching(repos: BackupRepositories, ids: Sequence[str], names: Sequence[str], ips: Sequence[str],
                  states: Sequence[str] = ()) -> list[Instance] | None:
        instance_rules.check_id_count(len(set(ids)), field="instance_id")
        return repos.matching_instances(ids=ids, names=names, ips=ips, states=states)

    # --- plans ----------------------------------------------------------------------------------
    def describe_plans(self, tenant_id: str, instance: str) -> list[BackupPlan]:
        """The instance's plans, its default plan first (a primary always has one; a read-only instance
        has none: its master's backups cover it). :raises InstanceNotFound:"""
        with self._store.read() as uow:
            repos = uow.backups(tenant_id)
            found = self._instance(repos, instance)
            return repos.plans.of_instance(found.id)

    def create_plan(self, tenant_id: str, instance: str, change: PlanChange) -> BackupPlan:
        """A custom (monthly) plan of a primary: ``name``, ``period_type`` (month), ``period`` required;
        the window and retention default to the default plan's. At most ``MAX_CUSTOM_PLANS`` per instance.
        :raises InvalidInput: naming the field (plan_name, backup_period_type, backup_period,
        backup_start_time, base_backup_retention_period); :raises InstanceNotFound:,
        InvalidInstanceState (not a primary, or deleted)."""
        rules.check_plan_name(change.name or "")
        if change.period_type is None:
            raise MissingInput("a custom backup plan needs its period type (month)", field="backup_period_type")
        period = rules.check_period(change.period_type, change.period or (), custom=True)
        with self._store.write() as uow:
            repos = uow.backups(tenant_id)
            found = self._instance(repos, instance)
            self._primary(found, "backup plans")
            default = self._plan(repos, found, None)
            plans = repos.plans.of_instance(found.id)
            if sum(p.plan_type is PlanType.CUSTOM for p in plans) >= rules.MAX_CUSTOM_PLANS:
                raise BackupDenied(f"instance {found.code} has {rules.MAX_CUSTOM_PLANS} custom backup plans already",
                                   field="plan_name")
            now = self._clock.now()
            plan = replace(default, id=rules.new_plan_id(), name=change.name or "", plan_type=PlanType.CUSTOM,
                           period_type=change.period_type, period=period, created_at=now, updated_at=now,
                           last_slot_at=None)
            plan = self._changed(plan, replace(change, name=None, period=None, period_type=None))
            repos.plans.add(plan)
            return plan

    def _changed(self, plan: BackupPlan, change: PlanChange) -> BackupPlan:
        """``plan`` with what ``change`` gives, every rule checked (the window in the change's offset)."""
        if change.name is not None:
            rules.check_plan_name(change.name)
        method = rules.check_method(change.method) if change.method is not None else plan.method
        custom = plan.plan_type is PlanType.CUSTOM
        period_type = change.period_type or plan.period_type
        period = plan.period
        if change.period is not None or change.period_type is not None:
            period = rules.check_period(period_type, change.period if change.period is not None else plan.period,
                                        custom=custom)
        offset = plan.utc_offset_minutes
        start, end = plan.window_start, plan.window_end
        if change.window_start is not None or change.window_end is not None:
            if change.utc_offset_minutes != offset:  # the window moves to the zone it is now written in
                start = rules.shift_clock_time(start, change.utc_offset_minutes - offset)
                end = rules.shift_clock_time(end, change.utc_offset_minutes - offset)
                offset = change.utc_offset_minutes
            start = change.window_start or start
            end = change.window_end or end
            rules.check_window(start, end)
        base = change.base_retention_days if change.base_retention_days is not None else plan.base_retention_days
        rules.check_retention(base, "base_backup_retention_period")
        log = change.log_retention_days if change.log_retention_days is not None else plan.log_retention_days
        # A log retention below the base retention is taken as said: the WAL a kept set needs to be
        # consistent stays with it whatever the log retention (pgBackRest keeps it).
        rules.check_retention(log, "log_backup_retention_period")
        return replace(plan, name=change.name if change.name is not None else plan.name, method=method,
                       period_type=period_type, period=period, window_start=start, window_end=end,
                       utc_offset_minutes=offset, base_retention_days=base, log_retention_days=log,
                       updated_at=self._clock.now())

    def modify_plan(self, tenant_id: str, instance: str, plan_id: str | None, change: PlanChange) -> BackupPlan:
        """Change a plan (``plan_id`` None: the default plan); only the fields given change. Retention
        7-1830 days (base_backup_retention_period, log_backup_retention_period); a weekly period names
        at least two weekdays. Changing retention moves the ``expire_at`` of the plan's kept automatic
        backups to their finish + the new retention. :raises BackupPlanNotFound:, InvalidInput."""
        with self._store.write() as uow:
            repos = uow.backups(tenant_id)
            found = self._instance(repos, instance)
            self._primary(found, "backup plans")
            plan = self._plan(repos, found, plan_id)
            changed = self._changed(plan, change)
            repos.plans.save(changed)
            if changed.base_retention_days != plan.base_retention_days:
                for backup in repos.sets.of_instance(found.id):
                    if backup.plan_id == plan.id and backup.mode is BackupMode.AUTOMATIC and backup.kept:
                        base = backup.finished_at or backup.created_at
                        repos.sets.save(replace(backup, expire_at=rules.expire_at(base, changed.base_retention_days),
                                                updated_at=changed.updated_at))
            return changed

    def delete_plan(self, tenant_id: str, instance: str, plan_id: str) -> None:
        """Remove a custom plan (its backups stay, with their expire times). The default plan cannot be
        deleted (BackupDenied, field plan_id). :raises BackupPlanNotFound:"""
        if not plan_id:
            raise MissingInput("name the backup plan to delete", field="plan_id")
        with self._store.write() as uow:
            repos = uow.backups(tenant_id)
            found = self._instance(repos, instance)
            plan = self._plan(repos, found, plan_id)
            if plan.plan_type is PlanType.DEFAULT:
                raise BackupDenied(f"{plan.id} is the default backup plan of {found.code}: modify it instead",
                                   field="plan_id")
            repos.plans.remove(plan.id)

    # --- base backups ---------------------------------------------------------------------------
    def create_backup(self, tenant_id: str, instance: str, method: str | None = None,
                      name: str = "") -> BackupStarted:
        """A manual full backup of a running primary: the row (state ``init``, expiring after the default
        plan's base retention) and its job, in one transaction. ``method``: physical (or None); logical
        and snapshot are refused (InvalidInput, field backup_method). :raises InstanceNotFound:,
        InvalidInstanceState (not running, or a read-only instance), BackupDenied (one is under way, or
        the instance has no stanza: a driver that cannot back up)."""
        parsed = rules.check_method(method)
        instance_rules.check_name(name)
        with self._store.write() as uow:
            repos = uow.backups(tenant_id)
            found = self._instance(repos, instance)
            self._primary(found, "backups")
            ensure_allowed(Operation.BACKUP, found.code, found.lifecycle)
            stanza = repos.stanzas.get(found.id)
            if stanza is None or stanza.deleted_at is not None:
                raise BackupDenied(f"instance {found.code} archives into no backup repository: this host's engine "
                                   "cannot back it up (see its events)", field="instance_id")
            backup = self._record(uow, found, BackupMode.MANUAL, BackupType.FULL, name=name, method=parsed)
            job = self._queue.submit(uow, kind=JobKind.BACKUP, tenant_id=tenant_id, instance_ids=[found.id],
                                     params={"backup_id": backup.id})
            backup = replace(backup, job_id=job.id)
            repos.sets.save(backup)
        self._queue.notify()
        return BackupStarted(backup, job)

    def _record(self, uow: UnitOfWork, instance: Instance, mode: BackupMode, backup_type: BackupType, *,
                name: str = "", method: rules.BackupMethod = rules.BackupMethod.PHYSICAL,
                plan: BackupPlan | None = None) -> Backup:
        """A new backup row (``init``), refused while another backup of the instance is under way."""
        repos = uow.backups(instance.tenant_id)
        busy = [b for b in repos.sets.of_instance(instance.id)
                if b.state in (BackupState.PENDING, BackupState.RUNNING)]
        if busy:
            raise BackupDenied(f"backup {busy[0].id} of {instance.code} is under way: one backup at a time",
                               field="instance_id")
        now = self._clock.now()
        retention = plan.base_retention_days if plan is not None else self._retention_days(repos, instance.id)[0]
        backup_id = rules.new_backup_id()
        backup = Backup(
            id=backup_id, tenant_id=instance.tenant_id, instance_id=instance.id,
            name=name or f"{instance.code}-{now.strftime('%Y%m%d%H%M%S')}-{mode.annotation}", method=method,
            mode=mode, type=backup_type, state=BackupState.PENDING, created_at=now, updated_at=now,
            expire_at=rules.expire_at(now, retention), plan_id=plan.id if plan is not None else None,
        )
        repos.sets.add(backup)
        return backup

    def start_scheduled(self, instance_id: str, plan_id: str, slot: datetime | None) -> Job | None:
        """The schedule's backup of a plan's slot (system use): the row and its job, the slot recorded as
        run (``slot`` None: an instance's first full, which spends no slot); None (the slot recorded as
        run all the same) when the instance is not running or another backup of it is under way - the
        next slot tries again."""
        with self._store.write() as uow:
            repos = uow.backups(None)
            plan = repos.plans.get(plan_id)
            instance = repos.instances([instance_id]).get(instance_id)
            if plan is None or instance is None:
                return None
            if slot is not None:
                repos.plans.save(replace(plan, last_slot_at=slot))
            if instance.lifecycle is not Lifecycle.RUNNING or instance.role is not Role.PRIMARY:
                return None
            backups = repos.sets.of_instance(instance.id)
            if any(b.state in (BackupState.PENDING, BackupState.RUNNING) for b in backups):
                return None
            backup_type = rules.backup_type_for(plan, backups, self._clock.now())
            backup = self._record(uow, instance, BackupMode.AUTOMATIC, backup_type, plan=plan)
            job = self._queue.submit(uow, kind=JobKind.BACKUP, tenant_id=instance.tenant_id,
                                     instance_ids=[instance.id], params={"backup_id": backup.id})
            repos.sets.save(replace(backup, job_id=job.id))
        self._queue.notify()
        return job

    def ensure_started(self, instance_id: str) -> None:
        """A primary whose stanza the engine has just made gets its stanza row and default plan (system
        use: the schedule, for primaries made before backups existed)."""
        now = self._clock.now()
        with self._store.write() as uow:
            repos = uow.backups(None)
            instance = repos.instances([instance_id]).get(instance_id)
            if instance is None or instance.role is not Role.PRIMARY:
                return
            stanza = repos.stanzas.get(instance.id)
            if stanza is None or stanza.deleted_at is not None:
                repos.stanzas.put(StanzaState(instance.id, instance.tenant_id, now, now))
            self._plan(repos, instance, None)

    def remove_stanza(self, instance_id: str) -> Job | None:
        """Submit the removal of a destroyed instance's backups (system use: the schedule, once the
        retention after the destruction is over). None when the instance is not destroyed."""
        with self._store.write() as uow:
            instance = uow.backups(None).instances([instance_id]).get(instance_id)
            if instance is None or instance.lifecycle is not Lifecycle.DELETED:
                return None
            job = self._queue.submit(uow, kind=JobKind.DELETE_STANZA, tenant_id=instance.tenant_id,
                                     instance_ids=[instance.id], params={})
        self._queue.notify()
        return job

    def describe_backups(self, tenant_id: str, query: BackupQuery) -> BackupPage:
        """A page of the tenant's base backups (every state but deleted), filtered and ordered as the
        query says; the total is before paging. Instances named that do not exist match nothing."""
        with self._store.read() as uow:
            repos = uow.backups(tenant_id)
            matching = self._matching(repos, query.instance_ids, query.instance_names, query.instance_ips,
                                      query.instance_states)
            ids = None if matching is None else [i.id for i in matching]
            total, items = repos.sets.query(query, ids)
            codes = {i.id: i.code for i in repos.instances(list({b.instance_id for b in items})).values()}
            return BackupPage(total, tuple(items), codes)

    def get_backup(self, tenant_id: str, instance: str, backup_id: str) -> Backup:
        """One backup of the instance. :raises BackupNotFound:, InstanceNotFound:"""
        with self._store.read() as uow:
            repos = uow.backups(tenant_id)
            return self._backup(repos, self._instance(repos, instance, destroyed=True), backup_id)

    def delete_backup(self, tenant_id: str, instance: str, backup_id: str) -> Job:
        """Remove a finished (or failed) set from the repository, and the sets that depend on it, by a job.
        Refused (BackupDenied, field backup_id): an automatic backup less than 7 days old (Tencent's
        rule), the instance's newest full while the instance exists, a set still being taken.
        :raises BackupNotFound:"""
        with self._store.write() as uow:
            repos = uow.backups(tenant_id)
            found = self._instance(repos, instance, destroyed=True)
            backup = self._backup(repos, found, backup_id)
            now = self._clock.now()
            if backup.state in (BackupState.PENDING, BackupState.RUNNING, BackupState.DELETING):
                raise BackupDenied(f"backup {backup.id} is {backup.state.value}: it cannot be deleted now",
                                   field="backup_id")
            if backup.mode is BackupMode.AUTOMATIC and backup.kept and now - backup.created_at < AUTO_DELETE_AFTER:
                raise BackupDenied(f"automatic backup {backup.id} is less than 7 days old: it cannot be deleted",
                                   field="backup_id")
            kept = repos.sets.of_instance(found.id)
            newest = rules.newest_full(kept)
            if found.lifecycle is not Lifecycle.DELETED and newest is not None and newest.id == backup.id:
                raise BackupDenied(f"backup {backup.id} is the newest full backup of {found.code}: the recovery "
                                   "window starts there", field="backup_id")
            going = [backup, *rules.dependents(kept, backup.label)] if backup.label else [backup]
            job = self._queue.submit(uow, kind=JobKind.DELETE_BACKUP, tenant_id=tenant_id, instance_ids=[found.id],
                                     params={"backup_id": backup.id})
            for gone in going:
                repos.sets.save(replace(gone, state=BackupState.DELETING, job_id=job.id, updated_at=now))
        self._queue.notify()
        return job

    def expire(self, instance_id: str, backup_id: str) -> Job | None:
        """The schedule removes a set past its expiry (system use): like :meth:`delete_backup` without the
        tenant's rules (the schedule chose it with :func:`openrds.domain.backups.expirable`). None when the
        set is no longer kept."""
        with self._store.write() as uow:
            repos = uow.backups(None)
            backup = repos.sets.get(backup_id)
            if backup is None or not backup.kept:
                return None
            kept = repos.sets.of_instance(instance_id)
            going = [backup, *rules.dependents(kept, backup.label)] if backup.label else [backup]
            job = self._queue.submit(uow, kind=JobKind.DELETE_BACKUP, tenant_id=backup.tenant_id,
                                     instance_ids=[instance_id], params={"backup_id": backup.id})
            now = self._clock.now()
            for gone in going:
                repos.sets.save(replace(gone, state=BackupState.DELETING, job_id=job.id, updated_at=now))
        self._queue.notify()
        return job

    def modify_backup_expire_time(self, tenant_id: str, instance: str, backup_id: str,
                                  expire_at: datetime) -> Backup:
        """Keep a finished set until ``expire_at`` (later or sooner; not in the past: InvalidInput, field
        expire_time). The schedule removes it once past, unless a kept set depends on it or it is the
        newest full. :raises BackupNotFound:"""
        now = self._clock.now()
        if expire_at <= now:
            raise InvalidInput("the new expire time is in the past", field="expire_time")
        with self._store.write() as uow:
            repos = uow.backups(tenant_id)
            backup = self._backup(repos, self._instance(repos, instance, destroyed=True), backup_id)
            if not backup.kept:
                raise BackupDenied(f"backup {backup.id} is {backup.state.value}: only a finished backup has an "
                                   "expire time", field="backup_id")
            backup = replace(backup, expire_at=expire_at, updated_at=now)
            repos.sets.save(backup)
            return backup

    # --- log backups, summaries, overview ---------------------------------------------------------
    def _log_backups(self, repos: BackupRepositories, instances: Sequence[Instance]) -> list[LogBackup]:
        ids = [i.id for i in instances]
        stanzas = repos.stanzas.of_instances(ids)
        by_instance: dict[str, list[Backup]] = {}
        for backup in repos.sets.of_instances(ids):
            by_instance.setdefault(backup.instance_id, []).append(backup)
        found: list[LogBackup] = []
        for instance in instances:
            log_days = self._retention_days(repos, instance.id)[1]
            found.extend(rules.log_backups(instance.id, instance.tenant_id, by_instance.get(instance.id, []),
                                           stanzas.get(instance.id), log_days))
        return found

    def describe_log_backups(self, tenant_id: str, query: BackupQuery) -> LogBackupPage:
        """A page of the tenant's log backups (see :class:`openrds.domain.backups.LogBackup`), filtered
        and ordered like :meth:`describe_backups` (``backup_ids`` match log backup ids)."""
        with self._store.read() as uow:
            repos = uow.backups(tenant_id)
            matching = self._matching(repos, query.instance_ids, query.instance_names, query.instance_ips,
                                      query.instance_states)
            instances = repos.all_instances() if matching is None else matching
            logs = [
                log for log in self._log_backups(repos, instances)
                if (not query.backup_ids or log.id in query.backup_ids)
                and (query.finished_from is None or log.finished_at >= query.finished_from)
                and (query.finished_to is None or log.finished_at <= query.finished_to)
            ]
            order = {"finished": lambda x: (x.finished_at, x.id), "size": lambda x: (x.size_bytes, x.id)}
            logs.sort(key=order.get(query.order_by, lambda x: (x.started_at, x.id)), reverse=query.descending)
            page = logs[query.offset:query.offset + query.limit]
            codes = {i.id: i.code for i in instances if any(x.instance_id == i.id for x in page)}
            return LogBackupPage(len(logs), tuple(page), codes)

    def _summaries(self, repos: BackupRepositories, instances: Sequence[Instance]) -> list[BackupSummary]:
        logs: dict[str, list[LogBackup]] = {}
        for log in self._log_backups(repos, instances):
            logs.setdefault(log.instance_id, []).append(log)
        # What the repository holds of each instance's WAL: also what no window reaches yet (before the
        # first set, a stanza with no set), which the log backups above do not list.
        stanzas = repos.stanzas.of_instances([i.id for i in instances])
        sets: dict[str, list[Backup]] = {}
        for backup in repos.sets.of_instances([i.id for i in instances]):
            if backup.kept:
                sets.setdefault(backup.instance_id, []).append(backup)
        found = []
        for instance in instances:
            kept = sets.get(instance.id, [])
            manual = [b for b in kept if b.mode is BackupMode.MANUAL]
            auto = [b for b in kept if b.mode is BackupMode.AUTOMATIC]
            wal = logs.get(instance.id, [])
            stanza = stanzas.get(instance.id)
            wal_bytes = stanza.wal_stored_bytes if stanza is not None and stanza.deleted_at is None else 0
            found.append(BackupSummary(
                instance.id, log_count=len(wal), log_bytes=max(wal_bytes, sum(x.size_bytes for x in wal)),
                manual_count=len(manual), manual_bytes=sum(b.size_bytes for b in manual),
                auto_count=len(auto), auto_bytes=sum(b.size_bytes for b in auto),
            ))
        return found

    def summaries(self, tenant_id: str, query: SummaryQuery) -> SummaryPage:
        """Per instance (every instance with backups, destroyed ones whose stanza is still kept too):
        counts and bytes of log, manual and automatic backups."""
        with self._store.read() as uow:
            repos = uow.backups(tenant_id)
            matching = self._matching(repos, query.instance_ids, query.instance_names, query.instance_ips)
            with_backups = repos.all_instances()
            if matching is not None:
                wanted = {i.id for i in matching}
                with_backups = [i for i in with_backups if i.id in wanted]
            items = self._summaries(repos, with_backups)
            keys = {"total": lambda x: x.total_bytes, "log": lambda x: x.log_bytes,
                    "manual": lambda x: x.manual_bytes, "auto": lambda x: x.auto_bytes}
            if query.order_by in keys:
                items.sort(key=keys[query.order_by], reverse=query.descending)
            page = items[query.offset:query.offset + query.limit]
            codes = {i.id: i.code for i in with_backups}
            return SummaryPage(len(items), tuple(page), {x.instance_id: codes[x.instance_id] for x in page})

    def overview(self, tenant_id: str) -> BackupOverview:
        """The tenant's backups in all, and the free allowance (the purchased storage of its live
        instances) against what they take (see :class:`openrds.domain.backups.BackupOverview`)."""
        with self._store.read() as uow:
            repos = uow.backups(tenant_id)
            items = self._summaries(repos, repos.all_instances())
            live = uow.instances(tenant_id).list()
        free = sum(i.storage_gb for i in live if i.role is Role.PRIMARY) * GIB
        totals = BackupSummary(
            "", log_count=sum(x.log_count for x in items), log_bytes=sum(x.log_bytes for x in items),
            manual_count=sum(x.manual_count for x in items), manual_bytes=sum(x.manual_bytes for x in items),
            auto_count=sum(x.auto_count for x in items), auto_bytes=sum(x.auto_bytes for x in items),
        )
        used = totals.total_bytes
        return BackupOverview(free_bytes=free, used_free_bytes=min(used, free), billable_bytes=max(0, used - free),
                              log=BackupSummary("", log_count=totals.log_count, log_bytes=totals.log_bytes),
                              totals=totals)

    # --- recovery and clones ----------------------------------------------------------------------
    def recovery_window(self, tenant_id: str, instance: str) -> RecoveryWindow:
        """The instants the instance can be cloned to (also after it was destroyed, while its backups
        are kept). :raises InstanceNotFound:"""
        with self._store.read() as uow:
            repos = uow.backups(tenant_id)
            found = self._instance(repos, instance, destroyed=True)
            return rules.recovery_window(found.id, repos.sets.of_instance(found.id), repos.stanzas.get(found.id))

    def _target(self, repos: BackupRepositories, source: Instance, backup_id: str | None,
                target_time: datetime | None) -> tuple[Backup | None, int]:
        """The set a clone restores (None for an instant: the engine picks it) and the database bytes it
        will hold; every rule about the target checked."""
        if backup_id:
            backup = self._backup(repos, source, backup_id)
            if not backup.kept:
                raise BackupDenied(f"backup {backup.id} is {backup.state.value}: only a finished backup can be "
                                   "restored", field="backup_id")
            return backup, backup.database_bytes
        if target_time is None:
            raise MissingInput("name a backup set or a recovery target time", field="backup_id")
        kept = repos.sets.of_instance(source.id)
        window = rules.recovery_window(source.id, kept, repos.stanzas.get(source.id))
        now = self._clock.now()
        # A running source is fenced by the clone job: an instant up to now may become reachable.
        end = now if source.lifecycle is Lifecycle.RUNNING else window.end
        if window.begin is None or end is None or not window.begin <= target_time <= end:
            shown = ("no instant (no finished backup)" if window.begin is None
                     else f"{window.begin.isoformat()} to {(end or window.begin).isoformat()}")
            raise InvalidInput(f"the recovery target time is outside the recovery window of {source.code}: {shown}",
                               field="recovery_target_time")
        base = [b for b in kept if b.kept and b.finished_at is not None and b.finished_at <= target_time]
        return None, max((b.database_bytes for b in base), default=0)

    def _min_spec(self, source: Instance) -> Spec:
        """The smallest spec a clone of ``source`` may have: none of the standby floor below the source's
        (a server in recovery refuses to run below it: ``domain.resize.below_floor``), the least memory."""
        wanted = self._catalogue.spec(source.spec_code)
        fits = [s for s in self._catalogue.specs if not s.readonly_only and not resize_rules.below_floor(s, wanted)]
        return min(fits, key=lambda s: (s.memory_mb, s.cpu, s.code)) if fits else wanted

    def _min_storage(self, spec: Spec, database_bytes: int) -> int:
        step = self._catalogue.storage_step_gb
        needed = math.ceil(database_bytes / GIB / step) * step if database_bytes else 0
        return max(spec.min_storage_gb, needed)

    def clone_spec(self, tenant_id: str, instance: str, *, backup_id: str | None = None,
                   target_time: datetime | None = None) -> CloneSpec:
        """The least spec and storage a clone to that set or instant may buy (the backup wins when both
        are given). :raises MissingInput: neither given (field backup_id); BackupNotFound;
        InvalidInput (field recovery_target_time) for an instant outside the window."""
        with self._store.read() as uow:
            repos = uow.backups(tenant_id)
            source = self._instance(repos, instance, destroyed=True)
            _, database_bytes = self._target(repos, source, backup_id, None if backup_id else target_time)
        spec = self._min_spec(source)
        return CloneSpec(spec.code, self._min_storage(spec, database_bytes))

    def clone(self, tenant_id: str, order: CloneOrder) -> Created:
        """A new primary restored from the source's backups: every rule of a create (spec at least the
        source's, storage, quotas, money) and the target checked (one of backup_id / target_time, the set
        kept, the instant inside the window - or, for a running source, up to now: the job fences first
        and fails the clone if the instant is still not reachable). The instance (``creating``), its
        order and its clone job in one transaction; the job restores, gives it its own stanza and
        default plan, and marks it running - or undoes everything and marks it failed."""
        if order.backup_id and order.target_time is not None:
            raise InvalidInput("name either a backup set or a recovery target time, not both", field="backup_id")
        region = self._catalogue.region(order.region)
        spec = self._catalogue.spec(order.spec_code)
        if spec.readonly_only:
            raise UnknownSpec(f"spec {spec.code} is for read-only instances only", field="spec")
        instance_rules.check_storage(order.storage_gb, spec, self._catalogue.storage_step_gb)
        charge_type = instance_rules.parse_charge_type(order.charge_type)
        instance_rules.check_period(charge_type, order.period_months)
        instance_rules.check_name(order.name)
        with self._store.read() as uow:
            repos = uow.backups(tenant_id)
            source = self._instance(repos, order.source, destroyed=True)
            self._primary(source, "cloning")
            backup, database_bytes = self._target(repos, source, order.backup_id, order.target_time)
        least = self._catalogue.spec(source.spec_code)
        low = resize_rules.below_floor(spec, least)
        if low:
            raise UnknownSpec(f"spec {spec.code} is below the source's: a clone of {source.code} needs at least "
                              f"its {' and '.join(low)} (DescribeCloneDBInstanceSpec)", field="spec")
        if order.storage_gb < self._min_storage(spec, database_bytes):
            raise InvalidStorage(
                f"storage {order.storage_gb} GB cannot hold the {math.ceil(database_bytes / GIB)} GB restored",
                field="storage")
        zone = region.zone(order.zone or source.zone)
        project_id = order.project_id if order.project_id is not None else source.project_id
        self._catalogue.check_project(project_id)
        network = order.network if order.network is not None else source.network
        self._catalogue.check_network(network.vpc_id, network.subnet_id, ())

        def groups_to_bind(uow: UnitOfWork) -> tuple[str, ...]:
            """The order's security groups, else the source's as bound now (a clone holds its data)."""
            if order.network is not None and order.network.security_group_ids:
                wanted = order.network.security_group_ids
            else:
                wanted = tuple(g.id for g in uow.security_groups(tenant_id).bound_to(source.id))
            return access.groups_to_bind(uow, tenant_id, wanted, placeholders=self._catalogue.security_groups,
                                         support=self._access_support)

        with self._store.read() as uow:  # refused before anything is priced or recorded
            groups_to_bind(uow)
        now = self._clock.now()
        code = short_code(PRIMARY_PREFIX)
        name = order.name or f"{source.name}-Copy"[: instance_rules.NAME_MAX_LENGTH - 1]
        fresh = Instance(
            id=new_uuid(), code=code, tenant_id=tenant_id, name=name, role=Role.PRIMARY, region=region.name,
            zone=zone.name, project_id=project_id, spec_code=spec.code, storage_gb=order.storage_gb,
            major_version=source.major_version, version=source.version, charset=source.charset,
            admin_user=source.admin_user, network=network, charge_type=charge_type,
            period_months=order.period_months, auto_renew=order.auto_renew,
            deletion_protection=order.deletion_protection, lifecycle=Lifecycle.CREATING, created_at=now,
            updated_at=now, tags=order.tags, extra=dict(order.extra),
        )
        with self._store.write() as uow:
            self._quotas.ensure_room(uow, tenant_id, Amounts(instances=1, storage_gb=order.storage_gb))
            # Paid first: a refused payment rolls back everything.
            placed = self._cashier.place_orders(uow, tenant_id, [fresh], spec, now, order.payment)
            instances = placed.instances
            uow.instances(tenant_id).add(instances[0])
            # Bound with the clone; its job enforces them before the clone is marked running.
            access.bind_created(uow, self._queue, tenant_id, [instances[0].id], groups_to_bind(uow), submit=False)
            uow.backups(tenant_id).clones.add(Clone(
                instance_id=instances[0].id, tenant_id=tenant_id, source_id=source.id, created_at=now,
                backup_id=backup.id if backup is not None else None,
                target_time=None if backup is not None else order.target_time,
            ))
            job = self._queue.submit(
                uow, kind=JobKind.CLONE, tenant_id=tenant_id, instance_ids=[instances[0].id],
                params={"source_id": source.id, "backup_id": backup.id if backup is not None else None,
                        "target_time": None if backup is not None or order.target_time is None
                        else order.target_time.isoformat()},
            )
        self._queue.notify()
        return Created(tuple(instances), job, placed)
