"""The job kinds: each a list of idempotent steps over the engine driver and the store.

Servers are named in the engine by the instance's code (``postgres-xxxxxxxx``/``pgro-xxxxxxxx``):
it is short, readable in ``pg_stat_replication.application_name`` and in the data root.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from openrds.clock import Clock
from openrds.crypto import SecretBox
from openrds.domain.catalogue import Catalogue
from openrds.domain.model import Instance
from openrds.domain.states import Health, JobKind, Lifecycle, MemberStatus, Role
from openrds.engine.driver import Driver, EngineError, PrimaryRequest, ReplicaRequest, ServerInfo, ServerSpec
from openrds.jobs.access import APPLY_ADMISSION, APPLY_AT_CREATE
from openrds.jobs.backups import (
    BACKUP,
    CLONE,
    DELETE_BACKUP,
    DELETE_STANZA,
    START_BACKUPS,
    START_BACKUPS_AFTER_PROMOTION,
)
from openrds.jobs.instance_steps import back_to_previous, fail_instances, job_instances, set_lifecycle
from openrds.jobs.model import JobContext, JobDefinition, JobKinds, Step
from openrds.jobs.parameters import MODIFY_PARAMETERS
from openrds.jobs.resize import RESIZE
from openrds.persistence.uow import Store


@dataclass(frozen=True, slots=True)
class JobEnv:
    store: Store
    driver: Driver
    catalogue: Catalogue
    box: SecretBox
    clock: Clock
    backup_plan_offset_minutes: int = 0  # the zone a default backup plan's window is written in


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, EngineError) and exc.transient


def _env(ctx: JobContext) -> JobEnv:
    env: JobEnv = ctx.env
    return env


def _record_server(ctx: JobContext, info: ServerInfo) -> None:
    env = _env(ctx)
    with env.store.write() as uow:
        repo = uow.instances(None)
        instance = repo.find(info.instance_id)
        if instance is not None:
            repo.save(replace(instance, host=info.host, port=info.port, health=Health.UP, updated_at=env.clock.now()))


def _spec(env: JobEnv, instance: Instance) -> ServerSpec:
    spec = env.catalogue.spec(instance.spec_code)
    return ServerSpec(cpu=spec.cpu, memory_mb=spec.memory_mb, max_connections=spec.max_connections,
                      storage_gb=instance.storage_gb)


def _destroy_servers(ctx: JobContext) -> None:
    driver = _env(ctx).driver
    for instance in job_instances(ctx):
        driver.destroy(instance.code)


# --- create primaries ----------------------------------------------------------------------------
def _create_primaries(ctx: JobContext) -> None:
    env = _env(ctx)
    sealed = ctx.params.get("admin_password")
    if not sealed:
        raise EngineError("create primary", "the admin password is no longer held for this job")
    password = env.box.open(sealed)
    port = ctx.params.get("port")
    for instance in job_instances(ctx):
        info = env.driver.create_primary(
            PrimaryRequest(
                instance_id=instance.code,
                major_version=instance.major_version,
                spec=_spec(env, instance),
                charset=instance.charset,
                admin_user=instance.admin_user,
                admin_password=password,
                port=port if len(ctx.job.instance_ids) == 1 else None,
            )
        )
        _record_server(ctx, info)


def _forget_password(ctx: JobContext) -> None:
    ctx.remember(admin_password=None)


# --- create replicas -----------------------------------------------------------------------------
def _create_replicas(ctx: JobContext) -> None:
    env = _env(ctx)
    with env.store.read() as uow:
        source = uow.instances(None).find(ctx.params["source_id"])
    if source is None:
        raise EngineError("create replicas", "the master no longer exists")
    requests = [
        ReplicaRequest(instance_id=i.code, source_id=source.code, spec=_spec(env, i)) for i in job_instances(ctx)
    ]
    for info in env.driver.create_replicas(requests):
        _record_server(ctx, info)


# --- promote a read-only instance ---------------------------------------------------------------
def _promote(ctx: JobContext) -> None:
    """The server leaves recovery (its slot on the old source dropped, or left for the supervisor's
    slot reconciliation while that source is down), then the store records a primary with no master.
    Idempotent: the driver's promote is, and a rerun after a crash finds the record already made."""
    env = _env(ctx)
    for instance in job_instances(ctx):
        info = env.driver.promote(instance.code)
        now = env.clock.now()
        with env.store.write() as uow:
            repo = uow.instances(None)
            current = repo.find(instance.id)
            if current is None or current.role is Role.PRIMARY:
                continue
            source = repo.codes([current.master_id]).get(current.master_id, "") if current.master_id else ""
            repo.save(replace(current, role=Role.PRIMARY, master_id=None, group_id=None, weight=0,
                              member_status=MemberStatus.IN_ROTATION, host=info.host, port=info.port,
                              health=Health.UP, updated_at=now))
            uow.events.add(current.tenant_id, current.id, "instance.promoted",
                           f"{current.code} promoted: a writable primary, no longer following {source or 'its master'}",
                           now)


# --- one server at a time ------------------------------------------------------------------------
def _for_each(action: Callable[[Driver, str], object]) -> Callable[[JobContext], None]:
    def step(ctx: JobContext) -> None:
        driver = _env(ctx).driver
        for instance in job_instances(ctx):
            action(driver, instance.code)

    return step


KINDS: JobKinds = {
    JobKind.CREATE_PRIMARIES: JobDefinition(
        JobKind.CREATE_PRIMARIES,
        (
            Step("create servers", _create_primaries, _destroy_servers),
            Step("forget the admin password", _forget_password),
            APPLY_AT_CREATE,  # jobs.access: the security groups named at create
            START_BACKUPS,  # jobs.backups: its stanza (archiving from birth) and default plan
            Step("mark running", set_lifecycle(Lifecycle.RUNNING)),
        ),
        on_failure=fail_instances,
    ),
    JobKind.CREATE_REPLICAS: JobDefinition(
        JobKind.CREATE_REPLICAS,
        (
            Step("create replicas", _create_replicas, _destroy_servers),
            APPLY_AT_CREATE,  # jobs.access: the security groups named at create (or the master's)
            Step("mark running", set_lifecycle(Lifecycle.RUNNING)),
        ),
        on_failure=fail_instances,
    ),
    JobKind.RESTART: JobDefinition(
        JobKind.RESTART,
        (
            Step("restart server", _for_each(lambda d, i: d.restart(i))),
            Step("mark running", set_lifecycle(Lifecycle.RUNNING)),
        ),
        on_failure=back_to_previous,
    ),
    JobKind.ISOLATE: JobDefinition(
        JobKind.ISOLATE,
        (
            Step("stop server", _for_each(lambda d, i: d.stop(i))),
            Step("mark isolated", set_lifecycle(Lifecycle.ISOLATED)),
        ),
        on_failure=back_to_previous,
    ),
    JobKind.DISISOLATE: JobDefinition(
        JobKind.DISISOLATE,
        (
            Step("start server", _for_each(lambda d, i: d.start(i))),
            Step("mark running", set_lifecycle(Lifecycle.RUNNING)),
        ),
        on_failure=back_to_previous,
    ),
    JobKind.DESTROY: JobDefinition(
        JobKind.DESTROY,
        (Step("destroy server", _destroy_servers), Step("mark deleted", set_lifecycle(Lifecycle.DELETED))),
        on_failure=back_to_previous,
    ),
    # No undo: a server out of recovery cannot go back to following its source (it would need a new
    # copy). A failure before the server was promoted leaves a read-only instance, running again.
    JobKind.PROMOTE: JobDefinition(
        JobKind.PROMOTE,
        (
            Step("promote server", _promote),
            START_BACKUPS_AFTER_PROMOTION,  # a promoted primary starts a stanza of its own
            Step("mark running", set_lifecycle(Lifecycle.RUNNING)),
        ),
        on_failure=back_to_previous,
    ),
    JobKind.RESIZE: RESIZE,  # jobs.resize: a new spec and storage, now or at its switch time
    JobKind.MODIFY_PARAMETERS: MODIFY_PARAMETERS,  # jobs.parameters: replicas and master in the floor's order
    JobKind.BACKUP: BACKUP,  # jobs.backups: a base backup, then a fence
    JobKind.DELETE_BACKUP: DELETE_BACKUP,
    JobKind.DELETE_STANZA: DELETE_STANZA,
    JobKind.CLONE: CLONE,  # jobs.backups: a new primary restored from another's backups
    JobKind.APPLY_ADMISSION: APPLY_ADMISSION,  # jobs.access: security groups made admission rules
}
