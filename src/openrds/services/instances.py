"""Instance use cases: create primaries and read-only instances, describe, modify, restart, isolate,
destroy. A mutating call validates every rule, records the intent, places orders and submits jobs in
one transaction, then returns; it never waits for the engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from openrds.clock import Clock
from openrds.crypto import SecretBox
from openrds.domain import rules
from openrds.domain.catalogue import Catalogue, Spec
from openrds.domain.errors import (
    GroupMismatch,
    GroupNotFound,
    InstanceNotFound,
    InvalidInstanceState,
    NotAPrimary,
    OpenRDSError,
    ReplicaLimitExceeded,
    UnknownSpec,
)
from openrds.domain.errors import InvalidChargeType as ChargeTypeMismatch
from openrds.domain.ids import PRIMARY_PREFIX, READONLY_PREFIX, new_uuid, short_code
from openrds.domain.model import Instance, InstanceQuery, Job, Network, Tag
from openrds.domain.quotas import Amounts
from openrds.domain.states import ChargeType, JobKind, Lifecycle, MemberStatus, Operation, Role, ensure_allowed
from openrds.jobs.runner import JobQueue
from openrds.persistence.uow import Store, UnitOfWork
from openrds.services import network as access
from openrds.services.billing import Cashier, Payment, Placed
from openrds.services.lifecycle import LifecycleService
from openrds.services.quotas import QuotaService


@dataclass(frozen=True, slots=True)
class PrimaryOrder:
    region: str
    zone: str
    spec_code: str
    storage_gb: int
    admin_user: str
    admin_password: str = field(repr=False)
    count: int = 1
    period_months: int = 1
    charge_type: str | None = None
    version: str | None = None
    charset: str = "UTF8"
    project_id: int = 0
    name: str = ""
    network: Network = Network()  # noqa: RUF009 - frozen value object, safe to share
    auto_renew: bool = False
    deletion_protection: bool = False
    tags: tuple[Tag, ...] = ()
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    voucher_ids: tuple[str, ...] = ()  # at most one (services.billing)
    auto_voucher: bool = False  # pay with the best usable voucher

    @property
    def payment(self) -> Payment:
        return Payment(self.voucher_ids, self.auto_voucher)


@dataclass(frozen=True, slots=True)
class ReadOnlyOrder:
    region: str
    master: str  # id or code
    spec_code: str
    zone: str | None = None  # None: the master's zone
    storage_gb: int | None = None  # None: the master's storage
    count: int = 1
    period_months: int = 1
    charge_type: str | None = None
    project_id: int | None = None  # None: the master's project
    name: str = ""
    network: Network | None = None  # None: the master's network
    auto_renew: bool = False
    deletion_protection: bool = False
    group_id: str | None = None
    tags: tuple[Tag, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    voucher_ids: tuple[str, ...] = ()  # at most one (services.billing)
    auto_voucher: bool = False  # pay with the best usable voucher

    @property
    def payment(self) -> Payment:
        return Payment(self.voucher_ids, self.auto_voucher)


@dataclass(frozen=True, slots=True)
class Created:
    instances: tuple[Instance, ...]
    job: Job | None
    placed: Placed | None

    @property
    def deal_names(self) -> tuple[str, ...]:
        return self.placed.deal_names if self.placed else ()

    @property
    def bill_id(self) -> str:
        return self.placed.bill_id if self.placed else ""


@dataclass(frozen=True, slots=True)
class InstancePage:
    total: int
    items: tuple[Instance, ...]
    replica_counts: dict[str, int]  # master id -> number of read-only instances
    codes: dict[str, str]  # internal id -> code, for the page's instances and the masters they reference


_E = TypeVar("_E", bound=OpenRDSError)


def _about_master(error: _E) -> _E:
    """The error is about the master named in the order: say so (``MasterDBInstanceId``, not ``DBInstanceId``)."""
    error.field = "master_id"
    return error


def _ensure_master_allows(master: Instance, state: Lifecycle) -> None:
    try:
        ensure_allowed(Operation.CREATE_READONLY, master.code, state)
    except InvalidInstanceState as exc:
        raise _about_master(exc) from None


# Tencent's console: "the RO group only supports system-assigned weights", by memory size (GB -> weight).
_WEIGHT_BY_MEMORY_GB = (
    (2, 1),
    (4, 2),
    (8, 2),
    (12, 4),
    (16, 4),
    (24, 8),
    (32, 8),
    (48, 10),
    (64, 12),
    (96, 14),
    (128, 16),
    (240, 26),
    (480, 50),
)


def _fresh(count: int, prefix: str, template: Instance) -> tuple[Instance, ...]:
    """``count`` new instances like ``template``, each with its own id and code (and named after its code
    when the order gave no name)."""
    fresh = []
    for _ in range(count):
        code = short_code(prefix)
        name = template.name or code
        fresh.append(replace(template, id=new_uuid(), code=code, name=name, extra=dict(template.extra)))
    return tuple(fresh)


def default_weight(spec: Spec) -> int:
    """The read-only group weight Tencent assigns by memory size: the weight of the largest step of its
    table at or below the spec's memory (2 GB -> 1, 4 -> 2, ... 480 -> 50; less than 2 GB -> 1)."""
    weight = 1
    for gb, step_weight in _WEIGHT_BY_MEMORY_GB:
        if spec.memory_mb >= gb * 1024:
            weight = step_weight
    return weight


class InstanceService:
    def __init__(
        self,
        store: Store,
        catalogue: Catalogue,
        jobs: JobQueue,
        cashier: Cashier,
        lifecycle: LifecycleService,
        box: SecretBox,
        clock: Clock,
        quotas: QuotaService,
        *,
        max_readonly_per_master: int = 6,
        port_range: tuple[int, int] = (1024, 65535),
        access_support: Callable[[], str] = lambda: "",
    ) -> None:
        self._store = store
        self._quotas = quotas
        self._catalogue = catalogue
        self._queue = jobs
        self._cashier = cashier
        self._lifecycle = lifecycle
        self._box = box
        self._clock = clock
        self._max_readonly = max_readonly_per_master
        self._port_range = port_range  # what a requested server port must be in (the host's OPENRDS_PORT_RANGE)
        self._access_support = access_support  # the driver's: empty when it enforces security groups

    def _groups_to_bind(self, uow: UnitOfWork, tenant_id: str, group_ids: Sequence[str]) -> tuple[str, ...]:
        """The tenant's security groups among ``group_ids`` (catalogue ids pass and bind nothing)."""
        return access.groups_to_bind(uow, tenant_id, group_ids, placeholders=self._catalogue.security_groups,
                                     support=self._access_support)

    # --- create ----------------------------------------------------------------------------
    def create_primaries(self, tenant_id: str, order: PrimaryOrder) -> Created:
        rules.check_instance_count(order.count, rules.MAX_PRIMARIES_PER_CALL)
        region = self._catalogue.region(order.region)
        zone = region.zone(order.zone)
        spec = self._catalogue.spec(order.spec_code)
        if spec.readonly_only:
            raise UnknownSpec(f"spec {spec.code} is for read-only instances only", field="spec")
        rules.check_storage(order.storage_gb, spec, self._catalogue.storage_step_gb)
        charge_type = rules.parse_charge_type(order.charge_type)
        rules.check_period(charge_type, order.period_months)
        version = self._catalogue.version(order.version)
        charset = rules.check_charset(order.charset)
        rules.check_admin_name(order.admin_user)
        rules.check_password(order.admin_password)
        self._catalogue.check_project(order.project_id)
        network = order.network
        self._catalogue.check_network(network.vpc_id, network.subnet_id, ())
        rules.check_name(order.name)
        rules.check_port(order.port, self._port_range)
        with self._store.read() as uow:  # refused before anything is priced or recorded
            self._groups_to_bind(uow, tenant_id, network.security_group_ids)
        adding = Amounts(instances=order.count, storage_gb=order.count * order.storage_gb)
        if order.dry_run:  # quotas, price and balance checked, nothing charged
            with self._store.read() as uow:
                self._quotas.ensure_room(uow, tenant_id, adding, lock=False)
            self._cashier.check(
                tenant_id, spec, order.storage_gb, charge_type, order.period_months, order.count, order.payment
            )
            return Created((), None, None)
        now = self._clock.now()
        instances = _fresh(order.count, PRIMARY_PREFIX, Instance(
            id="", code="", tenant_id=tenant_id, name=order.name, role=Role.PRIMARY, region=region.name,
            zone=zone.name, project_id=order.project_id, spec_code=spec.code, storage_gb=order.storage_gb,
            major_version=version.major, version=version.full, charset=charset, admin_user=order.admin_user,
            network=network, charge_type=charge_type, period_months=order.period_months,
            auto_renew=order.auto_renew, deletion_protection=order.deletion_protection,
            lifecycle=Lifecycle.CREATING, created_at=now, updated_at=now, tags=order.tags, extra=dict(order.extra),
        ))
        with self._store.write() as uow:
            # Counted in the transaction that records them: concurrent creates cannot both pass a quota.
            self._quotas.ensure_room(uow, tenant_id, adding)
            # Paid first: a refused payment (InsufficientBalance, a voucher) rolls back everything.
            placed = self._cashier.place_orders(uow, tenant_id, instances, spec, now, order.payment)
            instances = placed.instances
            repo = uow.instances(tenant_id)
            for instance in instances:
                repo.add(instance)
            # Bound with the create; its job enforces them before the instance is marked running.
            access.bind_created(uow, self._queue, tenant_id, [i.id for i in instances],
                                self._groups_to_bind(uow, tenant_id, network.security_group_ids), submit=False)
            job = self._queue.submit(
                uow,
                kind=JobKind.CREATE_PRIMARIES,
                tenant_id=tenant_id,
                instance_ids=[i.id for i in instances],
                # The admin password waits for the job sealed, never in plain text in the store.
                params={"admin_password": self._box.seal(order.admin_password), "port": order.port},
            )
        self._queue.notify()
        return Created(instances, job, placed)

    def create_readonly(self, tenant_id: str, order: ReadOnlyOrder) -> Created:
        rules.check_instance_count(order.count)
        region = self._catalogue.region(order.region)
        with self._store.read() as uow:
            master = uow.instances(tenant_id).find(order.master)
            if master is None:
                raise _about_master(InstanceNotFound(order.master))
            zone = region.zone(order.zone or master.zone)
            spec = self._catalogue.spec(order.spec_code)
            if spec.primary_only:
                raise UnknownSpec(f"spec {spec.code} is not purchasable for read-only instances", field="spec")
            storage = order.storage_gb if order.storage_gb is not None else master.storage_gb
            rules.check_storage(storage, spec, self._catalogue.storage_step_gb)
            charge_type = rules.parse_charge_type(order.charge_type)
            rules.check_period(charge_type, order.period_months)
            project_id = order.project_id if order.project_id is not None else master.project_id
            self._catalogue.check_project(project_id)
            network = order.network if order.network is not None else master.network
            self._catalogue.check_network(network.vpc_id, network.subnet_id, ())
            self._groups_to_bind(uow, tenant_id, self._replica_groups(uow, order, master))
            rules.check_name(order.name)
            if master.role is not Role.PRIMARY:
                raise _about_master(NotAPrimary(master.code, "a read-only instance", "creating read-only instances"))
            _ensure_master_allows(master, master.lifecycle)
            if master.charge_type is ChargeType.POSTPAID and charge_type is ChargeType.PREPAID:
                raise ChargeTypeMismatch(
                    "the master is postpaid, so its read-only instances must be postpaid too", field="charge_type"
                )
            group = None
            if order.group_id:
                group = uow.groups(tenant_id).find(order.group_id)
                if group is None:
                    raise GroupNotFound(order.group_id)
                if group.master_id != master.id:
                    raise GroupMismatch(f"read-only group {group.id} belongs to another master", field="group_id")
            existing = len(uow.instances(tenant_id).replicas_of(master.id))
            if existing + order.count > self._max_readonly:
                raise ReplicaLimitExceeded(
                    f"master {master.code} has {existing} read-only instances; at most {self._max_readonly} allowed",
                    field="instance_count",
                )
            adding = Amounts(instances=order.count, storage_gb=order.count * storage)
            if order.dry_run:
                self._quotas.ensure_room(uow, tenant_id, adding, lock=False)
        if order.dry_run:  # quotas, price and balance checked, nothing charged
            self._cashier.check(tenant_id, spec, storage, charge_type, order.period_months, order.count, order.payment)
            return Created((), None, None)
        now = self._clock.now()
        # A replica runs its master's version with its master's charset and accounts (a physical copy).
        instances = _fresh(order.count, READONLY_PREFIX, Instance(
            id="", code="", tenant_id=tenant_id, name=order.name, role=Role.READONLY, region=region.name,
            zone=zone.name, project_id=project_id, spec_code=spec.code, storage_gb=storage,
            major_version=master.major_version, version=master.version, charset=master.charset,
            admin_user=master.admin_user, network=network, charge_type=charge_type,
            period_months=order.period_months, auto_renew=order.auto_renew,
            deletion_protection=order.deletion_protection, lifecycle=Lifecycle.CREATING, created_at=now,
            updated_at=now, master_id=master.id, group_id=group.id if group else None,
            weight=default_weight(spec) if group else 0, member_status=MemberStatus.IN_ROTATION, tags=order.tags,
            extra=dict(order.extra),
        ))
        with self._store.write() as uow:
            # Checked again under the write lock: two concurrent calls must not both pass the limit.
            current = uow.instances(tenant_id).find(master.id)
            if current is None:
                raise _about_master(InstanceNotFound(order.master))
            _ensure_master_allows(master, current.lifecycle)
            if len(uow.instances(tenant_id).replicas_of(master.id)) + order.count > self._max_readonly:
                raise ReplicaLimitExceeded(
                    f"master {master.code} has reached its read-only instance limit", field="instance_count"
                )
            self._quotas.ensure_room(uow, tenant_id, adding)
            # Paid first: a refused payment (InsufficientBalance, a voucher) rolls back everything.
            placed = self._cashier.place_orders(uow, tenant_id, instances, spec, now, order.payment)
            instances = placed.instances
            repo = uow.instances(tenant_id)
            for instance in instances:
                repo.add(instance)
            access.bind_created(uow, self._queue, tenant_id, [i.id for i in instances],
                                self._groups_to_bind(uow, tenant_id, self._replica_groups(uow, order, master)),
                                submit=False)
            job = self._queue.submit(
                uow,
                kind=JobKind.CREATE_REPLICAS,
                tenant_id=tenant_id,
                instance_ids=[i.id for i in instances],
                params={"source_id": master.id},
            )
        self._queue.notify()
        return Created(tuple(instances), job, placed)

    @staticmethod
    def _replica_groups(uow: UnitOfWork, order: ReadOnlyOrder, master: Instance) -> tuple[str, ...]:
        """The security groups a new read-only instance gets: those the order names, else its master's
        as bound now - a copy of the master's data is no more open than the master."""
        if order.network is not None and order.network.security_group_ids:
            return order.network.security_group_ids
        return tuple(g.id for g in uow.security_groups(master.tenant_id).bound_to(master.id))

    # --- read ------------------------------------------------------------------------------
    def _get(self, uow: UnitOfWork, tenant_id: str, identifier: str) -> Instance:
        instance = uow.instances(tenant_id).find(identifier)
        if instance is None:
            raise InstanceNotFound(identifier)
        return instance

    def get(self, tenant_id: str, identifier: str) -> Instance:
        with self._store.read() as uow:
            return self._get(uow, tenant_id, identifier)

    def describe(self, tenant_id: str, query: InstanceQuery) -> InstancePage:
        with self._store.read() as uow:
            repo = uow.instances(tenant_id)
            if query.master_ids:
                # Masters may be named by code; the store keeps internal ids.
                resolved = tuple(m.id for m in (repo.find(x) for x in query.master_ids) if m is not None)
                query = replace(query, master_ids=resolved or ("-",))
            total, items = repo.query(query)
            # Each statement costs a round through the ORM: ask only for what the page itself lacks.
            masters = [i.id for i in items if i.role is Role.PRIMARY]
            codes = {i.id: i.code for i in items}
            missing = list({i.master_id for i in items if i.master_id and i.master_id not in codes})
            if missing:
                codes.update(repo.codes(missing))
            counts = repo.replica_counts(masters) if masters else {}
            return InstancePage(total, tuple(items), counts, codes)

    def replicas(self, tenant_id: str, master: str) -> list[Instance]:
        with self._store.read() as uow:
            instance = self._get(uow, tenant_id, master)
            return uow.instances(tenant_id).replicas_of(instance.id)

    def code_of(self, tenant_id: str, instance_id: str) -> str:
        with self._store.read() as uow:
            return uow.instances(tenant_id).codes([instance_id]).get(instance_id, instance_id)

    # --- modify ----------------------------------------------------------------------------
    def _update(self, tenant_id: str, identifier: str, operation: Operation, **changes: Any) -> Instance:
        with self._store.write() as uow:
            instance = self._get(uow, tenant_id, identifier)
            ensure_allowed(operation, instance.code, instance.lifecycle)
            instance = replace(instance, updated_at=self._clock.now(), **changes)
            uow.instances(tenant_id).save(instance)
        return instance

    def rename(self, tenant_id: str, identifier: str, name: str) -> Instance:
        rules.check_name(name)
        return self._update(tenant_id, identifier, Operation.RENAME, name=name)

    def set_deletion_protection(self, tenant_id: str, identifier: str, enabled: bool) -> Instance:
        return self._update(tenant_id, identifier, Operation.MODIFY, deletion_protection=enabled)

    # --- lifecycle (services.lifecycle: states, jobs and the money that moves with them) ----------
    def restart(self, tenant_id: str, identifier: str) -> Job:
        return self._lifecycle.request(tenant_id, [identifier], Operation.RESTART)[0]

    def isolate(self, tenant_id: str, identifiers: Sequence[str]) -> list[Job]:
        """Isolate instances (a master takes its read-only instances with it)."""
        return self._lifecycle.request(tenant_id, identifiers, Operation.ISOLATE)

    def disisolate(
        self, tenant_id: str, identifiers: Sequence[str], *, months: int | None = None, payment: Payment = Payment()
    ) -> list[Job]:
        """Bring isolated instances back; an expired prepaid one is bought again for ``months`` (1 by
        default), a postpaid one needs a balance that is not below zero."""
        return self._lifecycle.request(tenant_id, identifiers, Operation.DISISOLATE, months=months, payment=payment)

    def destroy(self, tenant_id: str, identifier: str) -> Job:
        """Destroy an isolated (or failed) instance, and a master's read-only instances with it."""
        return self._lifecycle.request(tenant_id, [identifier], Operation.DESTROY)[0]

    def promote(self, tenant_id: str, identifier: str) -> Job:
        """Make a running read-only instance a standalone writable primary (Trove's "detach"): it leaves
        its read-only group now; its job promotes the server (the slot on the old master dropped) and
        records it as a primary with no master. Its orders stay: it is billed as before, as a primary
        (it no longer follows its master's isolation). Not for a primary (InvalidInstanceState)."""
        return self._lifecycle.request(tenant_id, [identifier], Operation.PROMOTE)[0]

    def delete_now(self, tenant_id: str, identifier: str) -> list[Job]:
        """Stop and destroy at once, from running too (a master takes its read-only instances with it);
        for dialects whose delete is immediate (Huawei). One destroy job per instance, master's first."""
        return self._lifecycle.request(tenant_id, [identifier], Operation.DELETE)
