"""The backup jobs: take a base backup, remove a set, remove a destroyed instance's stanza, clone an
instance from its source's backups - and the step that starts an instance's backups (its stanza and
default plan), part of creating a primary and of promoting a read-only instance.

The engine names an instance's stanza (and server) by the instance's code. Every step can run again
after a crash (``kill -9`` of the service): a backup re-run finds its set by its annotation (the
engine's contract), an expiry of a set already gone is done, a restore into a directory that holds a
finished restore goes on from there, and the store's records are written "make actual match desired".
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from openrds.clock import Clock
from openrds.domain import backups as rules
from openrds.domain.backups import Backup, BackupState, BackupType, PlanType, StanzaState
from openrds.domain.catalogue import Catalogue
from openrds.domain.model import Instance
from openrds.domain.states import Health, JobKind, Lifecycle, Role
from openrds.engine import backups as engine
from openrds.engine.driver import EngineError, ServerSpec
from openrds.jobs.access import APPLY_AT_CREATE
from openrds.jobs.instance_steps import fail_instances, set_lifecycle
from openrds.jobs.model import JobContext, JobDefinition, Step
from openrds.persistence.uow import Store, UnitOfWork

log = logging.getLogger(__name__)


class BackupEngine(engine.BackupDriver, Protocol):
    """What the backup jobs need of the driver: its backup part, and destroying a server."""

    def destroy(self, instance_id: str) -> None: ...


class BackupEnv(Protocol):
    """What the jobs need of the runner's environment (``jobs.kinds.JobEnv`` has it)."""

    @property
    def store(self) -> Store: ...

    @property
    def driver(self) -> BackupEngine: ...

    @property
    def catalogue(self) -> Catalogue: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def backup_plan_offset_minutes(self) -> int:
        """The fixed UTC offset a default plan's window is written in (the zone the service shows times in)."""
        ...


def _env(ctx: JobContext) -> BackupEnv:
    env: BackupEnv = ctx.env
    return env


def _instances(ctx: JobContext) -> list[Instance]:
    with _env(ctx).store.read() as uow:
        found = uow.backups(None).instances(list(ctx.job.instance_ids))
    return [found[i] for i in ctx.job.instance_ids if i in found]


def _backup(uow: UnitOfWork, backup_id: str) -> Backup | None:
    return uow.backups(None).sets.get(backup_id)


def _event(uow: UnitOfWork, instance: Instance, kind: str, message: str, now: datetime) -> None:
    uow.events.add(instance.tenant_id, instance.id, kind, message, now)


def refresh_stanza(uow: UnitOfWork, instance: Instance, info: engine.StanzaInfo | None, now: datetime, *,
                   fenced_at: datetime | None = None) -> StanzaState:
    """The instance's stanza row made to match what the repository reports (``info``) and, given a fence's
    time, its window's new end (a fence never moves the end back)."""
    repo = uow.backups(None).stanzas
    current = repo.get(instance.id) or StanzaState(instance.id, instance.tenant_id, now, now)
    if info is not None:
        current = replace(current, wal_min=info.wal_min, wal_max=info.wal_max,
                          wal_stored_bytes=info.wal_stored_bytes, stored_bytes=info.stored_bytes)
    if fenced_at is not None and (current.fenced_at is None or fenced_at > current.fenced_at):
        current = replace(current, fenced_at=fenced_at)
    current = replace(current, updated_at=now)
    repo.put(current)
    return current


# --- starting an instance's backups (create primaries, promote) --------------------------------------
def start_backups(ctx: JobContext) -> None:
    """Each primary of the job gets its stanza (archiving works from here) and its default backup plan.
    A driver that cannot back up (``backup_support``) is said once, in an event of each instance: the
    instance is made all the same, without backups - never silently."""
    env = _env(ctx)
    reason = env.driver.backup_support()
    for instance in _instances(ctx):
        if instance.role is not Role.PRIMARY:
            continue
        now = env.clock.now()
        if reason is not None:
            with env.store.write() as uow:
                _event(uow, instance, "backup.unsupported", f"{instance.code} has no backups: {reason}", now)
            continue
        # A stanza the engine made already (the local driver with the server, a restore for its clone) is
        # not made again: `ensure_stanza`'s `check` would add a second or more to every create; a broken
        # archive_command is the archive watch's to report within a round.
        if env.driver.stanza(instance.code) is None:
            env.driver.ensure_stanza(instance.code)
        with env.store.write() as uow:
            repos = uow.backups(None)
            refresh_stanza(uow, instance, None, now)
            if not any(p.plan_type is PlanType.DEFAULT for p in repos.plans.of_instance(instance.id)):
                repos.plans.add(rules.default_plan(rules.new_plan_id(), instance.tenant_id, instance.id, now,
                                                   env.backup_plan_offset_minutes))


def _forget_backups(ctx: JobContext) -> None:
    """Undo of :func:`start_backups` for a creation that fails: the rows go (the engine's undo of the
    server removes the server; its empty stanza goes with :func:`_drop_stanzas`)."""
    env = _env(ctx)
    with env.store.write() as uow:
        repos = uow.backups(None)
        for instance_id in ctx.job.instance_ids:
            repos.plans.remove_of_instance(instance_id)
            stanza = repos.stanzas.get(instance_id)
            if stanza is not None:
                repos.stanzas.put(replace(stanza, deleted_at=env.clock.now()))


# --- a base backup -------------------------------------------------------------------------------------
def _take_backup(ctx: JobContext) -> None:
    env = _env(ctx)
    backup_id = str(ctx.params["backup_id"])
    with env.store.write() as uow:
        backup = _backup(uow, backup_id)
        if backup is None or backup.state not in (BackupState.PENDING, BackupState.RUNNING):
            return  # finished by the run before a crash, or deleted meanwhile
        instance = uow.backups(None).instances([backup.instance_id]).get(backup.instance_id)
        if instance is None:
            raise EngineError("backup", f"the instance of backup {backup_id} no longer exists")
        now = env.clock.now()
        uow.backups(None).sets.save(replace(backup, state=BackupState.RUNNING, started_at=backup.started_at or now,
                                            updated_at=now))
    made = env.driver.backup(instance.code, backup.id, engine.BackupType(backup.type.value), backup.mode.annotation)
    with env.store.write() as uow:
        current = _backup(uow, backup_id)
        if current is None:
            return
        now = env.clock.now()
        # The retention runs from the set's end (the creation-time expiry was a placeholder of the same length).
        retention = current.expire_at - current.created_at
        uow.backups(None).sets.save(replace(
            current, state=BackupState.FINISHED, type=BackupType(made.type.value), label=made.label,
            prior_label=made.prior, started_at=made.started_at, finished_at=made.finished_at,
            size_bytes=made.stored_bytes, database_bytes=made.database_bytes, wal_start=made.wal_start,
            wal_stop=made.wal_stop, expire_at=made.finished_at + retention, updated_at=now, error="",
        ))
        refresh_stanza(uow, instance, None, now, fenced_at=made.finished_at)


def _fence(ctx: JobContext) -> None:
    """After a backup, the window's end moves to now (a commit archived) and the stanza's sizes are read
    again. A fence that fails leaves the backup as taken: the schedule fences again at its next round."""
    env = _env(ctx)
    with env.store.read() as uow:
        backup = _backup(uow, str(ctx.params["backup_id"]))
        instance = uow.backups(None).instances([backup.instance_id]).get(backup.instance_id) if backup else None
    if backup is None or instance is None or not backup.kept:
        return
    fenced: datetime | None = None
    consistent = (backup.finished_at or backup.created_at) + rules.CONSISTENT_MARGIN
    try:
        # The window begins a second after the set's recorded end (whole seconds): a fence within that
        # second would leave it empty until the schedule's next fence, so fence again (each takes a WAL
        # switch and its archiving, about a second) - at most three times.
        for _ in range(3):
            fenced = env.driver.fence(instance.code)
            if fenced >= consistent:
                break
    except EngineError as exc:
        log.warning("backup %s: fencing %s failed: %s", backup.id, instance.code, exc)
    info = env.driver.stanza(instance.code)
    with env.store.write() as uow:
        refresh_stanza(uow, instance, info, env.clock.now(), fenced_at=fenced)


def _backup_failed(ctx: JobContext, error: str) -> None:
    env = _env(ctx)
    with env.store.write() as uow:
        backup = _backup(uow, str(ctx.params["backup_id"]))
        if backup is None or backup.state not in (BackupState.PENDING, BackupState.RUNNING):
            return
        now = env.clock.now()
        uow.backups(None).sets.save(replace(backup, state=BackupState.FAILED, error=error[:1000], updated_at=now))
        instance = uow.backups(None).instances([backup.instance_id]).get(backup.instance_id)
        if instance is not None:
            _event(uow, instance, "backup.failed", f"backup {backup.id} of {instance.code} failed: {error}"[:1000],
                   now)


# --- removing a set ------------------------------------------------------------------------------------
def _going(uow: UnitOfWork, ctx: JobContext) -> list[Backup]:
    """The sets this job removes: every set it marked deleting."""
    instance_ids = list(ctx.job.instance_ids)
    return [b for b in uow.backups(None).sets.of_instances(instance_ids)
            if b.state is BackupState.DELETING and b.job_id == ctx.job.id]


def _expire_set(ctx: JobContext) -> None:
    env = _env(ctx)
    with env.store.read() as uow:
        backup = _backup(uow, str(ctx.params["backup_id"]))
        instance = uow.backups(None).instances([backup.instance_id]).get(backup.instance_id) if backup else None
    if backup is None or instance is None:
        return
    if backup.label:
        env.driver.expire_backup(instance.code, backup.label)
    info = env.driver.stanza(instance.code)
    with env.store.write() as uow:
        now = env.clock.now()
        for gone in _going(uow, ctx):
            uow.backups(None).sets.save(replace(gone, state=BackupState.DELETED, updated_at=now))
        refresh_stanza(uow, instance, info, now)


#: A removal that failed is tried again this much later (not at every round of the schedule).
RETRY_REMOVAL_AFTER = timedelta(days=1)


def _keep_sets(ctx: JobContext, error: str) -> None:
    """A removal that failed for good: its sets are kept (finished again; one past its expiry is tried
    again after :data:`RETRY_REMOVAL_AFTER`), the reason in an event."""
    env = _env(ctx)
    with env.store.write() as uow:
        now = env.clock.now()
        going = _going(uow, ctx)
        for kept in going:
            expire = max(kept.expire_at, now + RETRY_REMOVAL_AFTER) if kept.expire_at <= now else kept.expire_at
            uow.backups(None).sets.save(replace(kept, state=BackupState.FINISHED, expire_at=expire, updated_at=now))
        for instance in uow.backups(None).instances(list(ctx.job.instance_ids)).values():
            _event(uow, instance, "backup.delete_failed",
                   f"removing backup {ctx.params.get('backup_id')} of {instance.code} failed: {error}"[:1000], now)


# --- removing a destroyed instance's stanza -------------------------------------------------------------
def _delete_stanza(ctx: JobContext) -> None:
    env = _env(ctx)
    for instance in _instances(ctx):
        if instance.lifecycle is not Lifecycle.DELETED:
            raise EngineError("stanza delete", f"{instance.code} is not destroyed: its backups stay")
        env.driver.delete_stanza(instance.code)
        with env.store.write() as uow:
            repos = uow.backups(None)
            now = env.clock.now()
            for backup in repos.sets.of_instance(instance.id):
                repos.sets.save(replace(backup, state=BackupState.DELETED, updated_at=now))
            repos.plans.remove_of_instance(instance.id)
            stanza = repos.stanzas.get(instance.id)
            if stanza is not None:
                repos.stanzas.put(replace(stanza, deleted_at=now, updated_at=now, stored_bytes=0,
                                          wal_stored_bytes=0))
            _event(uow, instance, "backup.stanza_deleted",
                   f"the backups of destroyed instance {instance.code} were removed (retention over)", now)


# --- a clone -------------------------------------------------------------------------------------------
def _clone_parts(ctx: JobContext) -> tuple[Instance, Instance, Backup | None]:
    env = _env(ctx)
    with env.store.read() as uow:
        repos = uow.backups(None)
        found = repos.instances([ctx.job.instance_ids[0], str(ctx.params["source_id"])])
        backup = repos.sets.get(str(ctx.params["backup_id"])) if ctx.params.get("backup_id") else None
    new, source = found.get(ctx.job.instance_ids[0]), found.get(str(ctx.params["source_id"]))
    if new is None or source is None:
        raise EngineError("clone", "the clone or its source no longer exists")
    return new, source, backup


def _target_time(ctx: JobContext) -> datetime | None:
    text = ctx.params.get("target_time")
    return datetime.fromisoformat(str(text)) if text else None


def _fence_source(ctx: JobContext) -> None:
    """A target instant after the source's last fence: a running source is fenced now (everything it
    committed so far archived); still after it - or a source that cannot be fenced - fails the clone
    before anything is made."""
    env = _env(ctx)
    target = _target_time(ctx)
    if target is None:
        return
    _, source, _ = _clone_parts(ctx)
    with env.store.read() as uow:
        stanza = uow.backups(None).stanzas.get(source.id)
    fenced = stanza.fenced_at if stanza is not None else None
    if fenced is not None and target <= fenced:
        return
    if source.lifecycle is Lifecycle.RUNNING:
        fenced = env.driver.fence(source.code)
        with env.store.write() as uow:
            refresh_stanza(uow, source, None, env.clock.now(), fenced_at=fenced)
    if fenced is None or target > fenced:
        shown = fenced.isoformat() if fenced is not None else "nothing archived"
        raise EngineError("clone", f"the target {target.isoformat()} is after the last archived commit of "
                                   f"{source.code} ({shown}): it cannot be restored")


def _spec(env: BackupEnv, instance: Instance) -> ServerSpec:
    spec = env.catalogue.spec(instance.spec_code)
    return ServerSpec(cpu=spec.cpu, memory_mb=spec.memory_mb, max_connections=spec.max_connections,
                      storage_gb=instance.storage_gb)


def _restore(ctx: JobContext) -> None:
    env = _env(ctx)
    new, source, backup = _clone_parts(ctx)
    if backup is not None and (backup.label is None or backup.state is not BackupState.FINISHED):
        raise EngineError("clone", f"backup {backup.id} is no longer in the repository")
    info = env.driver.restore(engine.RestoreRequest(
        instance_id=new.code, source_id=source.code, major_version=new.major_version, spec=_spec(env, new),
        backup_label=backup.label if backup is not None else None,
        target_time=None if backup is not None else _target_time(ctx),
    ))
    with env.store.write() as uow:
        repo = uow.instances(None)
        current = repo.find(new.id)
        if current is not None:
            repo.save(replace(current, host=info.host, port=info.port, health=Health.UP, updated_at=env.clock.now()))


def _unrestore(ctx: JobContext) -> None:
    """Undo of a restore: the new server and the stanza it was given are gone (no process, directory or
    port left; nothing of the clone in the repository)."""
    env = _env(ctx)
    code = next((i.code for i in _instances(ctx)), None)
    if code is None:
        return
    env.driver.destroy(code)
    if env.driver.backup_support() is None:
        env.driver.delete_stanza(code)


BACKUP = JobDefinition(
    JobKind.BACKUP,
    (Step("take backup", _take_backup), Step("fence", _fence)),
    on_failure=_backup_failed,
)
DELETE_BACKUP = JobDefinition(JobKind.DELETE_BACKUP, (Step("expire set", _expire_set),), on_failure=_keep_sets)


def _stanza_kept(ctx: JobContext, error: str) -> None:
    """A stanza removal that failed for good: tried again after :data:`RETRY_REMOVAL_AFTER`, said in an event."""
    env = _env(ctx)
    with env.store.write() as uow:
        now = env.clock.now()
        for instance in uow.backups(None).instances(list(ctx.job.instance_ids)).values():
            stanza = uow.backups(None).stanzas.get(instance.id)
            if stanza is not None and stanza.deleted_at is None:
                uow.backups(None).stanzas.put(replace(stanza, delete_after=now + RETRY_REMOVAL_AFTER, updated_at=now))
            _event(uow, instance, "backup.stanza_delete_failed",
                   f"removing the backups of {instance.code} failed (tried again in a day): {error}"[:1000], now)


DELETE_STANZA = JobDefinition(JobKind.DELETE_STANZA, (Step("delete stanza", _delete_stanza),),
                              on_failure=_stanza_kept)
CLONE = JobDefinition(
    JobKind.CLONE,
    (
        Step("fence source", _fence_source),
        Step("restore server", _restore, _unrestore),
        APPLY_AT_CREATE,  # jobs.access: the security groups named at clone (or the source's)
        Step("start backups", start_backups, _forget_backups),
        Step("mark running", set_lifecycle(Lifecycle.RUNNING)),
    ),
    on_failure=fail_instances,
)
def start_backups_after_promotion(ctx: JobContext) -> None:
    """:func:`start_backups` for a promoted instance, which cannot go back to following its master: an
    engine error is said in an event and left to the backup schedule, which makes the stanza of a
    running primary that lacks one, instead of failing a promotion that has happened."""
    try:
        start_backups(ctx)
    except EngineError as exc:
        env = _env(ctx)
        with env.store.write() as uow:
            for instance in uow.backups(None).instances(list(ctx.job.instance_ids)).values():
                _event(uow, instance, "backup.start_failed",
                       f"{instance.code}: its backups could not start yet (the schedule tries again): {exc}"[:1000],
                       env.clock.now())


#: The step creating primaries adds (``jobs.kinds``): a primary archives from birth, or is not made.
START_BACKUPS = Step("start backups", start_backups)
#: The step promoting a read-only instance adds.
START_BACKUPS_AFTER_PROMOTION = Step("start backups", start_backups_after_promotion)
