"""The composition root: builds settings' store, driver, services, job runner and supervisor.

Nothing is constructed at import time; `cli.py` (and tests) call `build()` and own the result.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from openrds import data_root
from openrds.clock import Clock, SystemClock
from openrds.crypto import SecretBox
from openrds.domain.catalogue import Catalogue, Version, build_catalogue
from openrds.domain.quotas import Amounts
from openrds.engine.driver import Driver, EngineError
from openrds.jobs.kinds import KINDS, JobEnv, is_transient
from openrds.jobs.parameters import LiveParameters
from openrds.jobs.runner import JobQueue, JobRunner
from openrds.monitoring.monitor import ReplicationMonitor
from openrds.periodic import Periodic
from openrds.persistence.db import open_engine, upgrade
from openrds.persistence.uow import Store
from openrds.reconcile.backup_schedule import BackupSchedule
from openrds.reconcile.billing_round import BillingLoop
from openrds.reconcile.group_endpoints import GroupEndpoints
from openrds.reconcile.slot_watch import SlotWatch
from openrds.reconcile.storage_watch import StorageWatch
from openrds.reconcile.supervisor import Supervisor
from openrds.services.accounts import AccountService
from openrds.services.backups import BackupService
from openrds.services.billing import BillingService, Cashier
from openrds.services.groups import GroupService
from openrds.services.identity import IdentityService
from openrds.services.instances import InstanceService
from openrds.services.jobs import JobService
from openrds.services.lifecycle import LifecycleService
from openrds.services.listing import InstanceListing
from openrds.services.logs import LogService
from openrds.services.network import NetworkService
from openrds.services.parameters import ParameterService
from openrds.services.quotas import QuotaService
from openrds.services.resize import DiskUsage, ResizeService
from openrds.services.signin import PasswordSignIn
from openrds.settings import Settings

#: How often SQLite's planner statistics are refreshed (a sampled ANALYZE takes a few ms).
STATISTICS_INTERVAL_SECONDS = 600.0

log = logging.getLogger(__name__)


def make_driver(settings: Settings) -> Driver:
    if settings.driver == "kubernetes":
        from openrds.engine.kubernetes import KubernetesDriver

        return KubernetesDriver.from_settings(settings)
    from openrds.engine.local import LocalDriver
    from openrds.engine.local.pgbackrest import repository_from_settings

    return LocalDriver(settings.data_dir, bind_host=settings.server_host, port_range=settings.ports,
                       haproxy=settings.haproxy_bin or None,
                       max_slot_wal_keep_mb=settings.max_slot_wal_keep_mb or None,
                       backup_repository=repository_from_settings(settings), replica_seed=settings.replica_seed)


@dataclass
class Container:
    settings: Settings
    clock: Clock
    store: Store
    box: SecretBox
    driver: Driver
    catalogue: Catalogue
    identity: IdentityService
    instances: InstanceService
    groups: GroupService
    billing: BillingService
    jobs: JobService
    queue: JobQueue
    runner: JobRunner
    supervisor: Supervisor
    monitor: ReplicationMonitor
    billing_loop: BillingLoop
    statistics_loop: Periodic
    signin: PasswordSignIn  # every password check (IAM tokens, the console): one throttle for both
    quotas: QuotaService
    storage_watch: StorageWatch  # each instance's Storage is a limit: past it, its primary turns read-only
    started: bool = field(default=False)
    # Every listing of instances, from memory where the store allows (openrds.services.listing).
    listing: InstanceListing = field(init=False)
    resize: ResizeService = field(init=False)
    accounts: AccountService = field(init=False)  # database accounts and databases (openrds.services.accounts)
    parameters: ParameterService = field(init=False)  # server parameters and templates (openrds.services.parameters)
    logs: LogService = field(init=False)  # slow queries and errors from the servers' logs (openrds.services.logs)
    backups: BackupService = field(init=False)  # plans, base backups, recovery window, clones
    backup_schedule: BackupSchedule = field(init=False)  # due backups, expiry, fences, the archive watch
    network: NetworkService = field(init=False)  # security groups and network access (openrds.services.network)

    def __post_init__(self) -> None:
        live = LiveParameters(self.driver)
        self.parameters = ParameterService(
            self.store, live, LifecycleService(self.store, self.queue, Cashier(self.store, self.catalogue, self.clock),
                                               self.clock), self.catalogue, self.clock)
        self.logs = LogService(self.store, live)
        self.network = NetworkService(self.store, self.queue, self.clock, self.driver.access_support)
        self.accounts = AccountService(self.store, self.driver, self.clock)
        self.listing = InstanceListing(self.store, self.instances.describe)
        # Spec and storage changes and maintenance windows, in the Tencent face's zone (openrds.services.resize).
        self.resize = ResizeService(self.store, self.queue, self.catalogue,
                                    Cashier(self.store, self.catalogue, self.clock), self.clock,
                                    self.settings.tencent_tz, _disk_usage(self.driver))
        self.backups = BackupService(self.store, self.catalogue, self.queue,
                                     Cashier(self.store, self.catalogue, self.clock), self.quotas, self.clock,
                                     plan_offset_minutes=utc_offset_minutes(self.settings.tencent_tz),
                                     access_support=self.driver.access_support)
        self.backup_schedule = BackupSchedule(
            self.store, self.driver, self.backups, self.clock, interval=self.settings.backup_schedule_interval,
            max_running=self.settings.backup_max_running,
            fence_every=timedelta(minutes=self.settings.backup_fence_minutes))

    def start(self) -> None:
        """Start the job runner (resuming unfinished jobs) and the supervisor."""
        self.runner.start()
        self.supervisor.start()
        self.monitor.start()
        self.billing_loop.start()
        self.statistics_loop.start()
        self.storage_watch.start()
        self.backup_schedule.start()
        self.started = True

    def stop(self) -> None:
        """Stop background work. PostgreSQL servers keep running: they outlive the service."""
        if self.started:
            self.backup_schedule.stop()
            self.storage_watch.stop()
            self.statistics_loop.stop()
            self.billing_loop.stop()
            self.monitor.stop()
            self.supervisor.stop()
            self.runner.stop()
            self.started = False
        self.store.close()


def utc_offset_minutes(zone: tzinfo) -> int:
    """The zone's offset from UTC now, in minutes (a default backup plan's window is written in it)."""
    offset = datetime.now(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def _disk_usage(driver: Driver) -> DiskUsage:
    """What an instance's data takes, by code; None when the engine cannot tell (down, or a driver
    that does not measure: its volume is the limit there)."""

    def measure(code: str) -> int | None:
        try:
            return driver.disk_usage(code)
        except EngineError:
            return None

    return measure


def open_store(settings: Settings) -> tuple[Store, SecretBox]:
    """The private data root, the store brought to head and the host key: what the service and the admin
    commands (which work with or without a running service) both start from."""
    data_root.prepare(settings.data_dir)
    engine = open_engine(settings.metadata_url)
    upgrade(engine)
    return Store(engine), SecretBox.from_key_file(settings.data_dir / "secret.key")


def load_catalogue(settings: Settings, versions: Sequence[Version] = ()) -> Catalogue:
    """The default catalogue with the operator's file (``catalogue_file``) over it; ``versions``: the
    PostgreSQL versions the driver has (the admin commands need regions and prices, not versions)."""
    overrides = {}
    if settings.catalogue_file is not None:
        with settings.catalogue_file.open("rb") as handle:
            overrides = tomllib.load(handle)
    return build_catalogue(list(versions), overrides)


def build(settings: Settings, *, clock: Clock | None = None, driver: Driver | None = None) -> Container:
    clock = clock or SystemClock()
    store, box = open_store(settings)
    driver = driver or make_driver(settings)
    catalogue = load_catalogue(settings, [Version(v.major, v.full) for v in driver.versions()])
    queue = JobQueue(KINDS, clock)
    cashier = Cashier(store, catalogue, clock)
    # Every change of an instance's state - the APIs', the console's, the billing round's - goes through it.
    lifecycle = LifecycleService(store, queue, cashier, clock)
    billing = BillingService(store, catalogue, clock, lifecycle, retention=timedelta(days=settings.retention_days),
                             arrears_grace=timedelta(hours=settings.arrears_grace_hours))
    identity = IdentityService(store, box, clock, regions=tuple(r.name for r in catalogue.regions),
                               token_ttl=timedelta(hours=settings.token_ttl_hours))
    quotas = QuotaService(store, Amounts(settings.quota_instances, settings.quota_ro_groups, settings.quota_storage_gb))
    instances = InstanceService(store, catalogue, queue, cashier, lifecycle, box, clock, quotas,
                                max_readonly_per_master=settings.max_readonly_per_master, port_range=settings.ports,
                                access_support=driver.access_support)
    # Read-only group endpoints: pushed to on every group change, reconciled and evicted each monitor round.
    endpoints = GroupEndpoints(store, driver, clock, evict_after=settings.group_evict_samples,
                               readmit_after=settings.group_readmit_samples)
    groups = GroupService(store, catalogue, clock, quotas, endpoints, queue=queue, access_support=driver.access_support)
    env = JobEnv(store=store, driver=driver, catalogue=catalogue, box=box, clock=clock,
                 backup_plan_offset_minutes=utc_offset_minutes(settings.tencent_tz))
    runner = JobRunner(store, KINDS, env, clock, workers=settings.job_workers, lease_seconds=settings.job_lease_seconds,
                       is_transient=is_transient)
    queue.on_submit(runner.wake)
    supervisor = Supervisor(env, interval=settings.supervise_interval)
    monitor = ReplicationMonitor(store, driver, clock, interval=settings.monitor_interval)
    monitor.on_round(endpoints.on_round)
    # A replica whose slot on its upstream is lost (or about to be) says so in its status reason.
    monitor.on_round(SlotWatch(store, clock).on_round)
    return Container(settings, clock, store, box, driver, catalogue, identity, instances, groups, billing,
                     JobService(store), queue, runner, supervisor,
                     monitor,
                     BillingLoop(billing, interval=settings.billing_interval),
                     # The planner's statistics follow the store's growth (SQLite; first round at start).
                     Periodic("statistics", STATISTICS_INTERVAL_SECONDS, store.refresh_statistics),
                     signin=PasswordSignIn(identity), quotas=quotas,
                     storage_watch=StorageWatch(store, driver, clock, interval=settings.storage_check_interval))
