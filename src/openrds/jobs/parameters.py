"""The parameter job, and the live side of parameters and logs as the services see it.

A ``modify_parameters`` job carries the instances it touches in the order they must take the change
(``order``: instance ids), decided by the service from the standby floor (``domain.parameters``):
read-only instances (cascades first) before their master when a floor setting rises, the master first
when one falls. Each server gets its whole set of tenant values as the store holds them
(`ParameterDriver.write_parameters`: the include file, a reload) and a restart when a changed setting
waits for one. Then every read-only instance of a master in the job whose replay has paused on a floor
setting (one its master runs higher) is raised to its master's values and restarted, and says so.

Steps are idempotent: the values come from the store, the file is rewritten only when it differs and a
restart happens only while a setting is pending. The undo puts the previous values back (store and
files); the events of the job say ``success`` or ``failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from openrds.domain import parameters as rules
from openrds.domain.errors import EngineFailed, InvalidInstanceState
from openrds.domain.model import Instance
from openrds.domain.parameters import EventState, ParameterEvent, ServerSetting
from openrds.domain.states import Lifecycle
from openrds.engine.driver import Driver, EngineError, ServerNotFound
from openrds.engine.parameters import LogRecord
from openrds.jobs.instance_steps import back_to_previous, job_instances, set_lifecycle
from openrds.jobs.model import JobContext, JobDefinition, Step

log = logging.getLogger(__name__)
_T = TypeVar("_T")


def _env(ctx: JobContext) -> Any:
    return ctx.env


def _apply_one(driver: Driver, store: Any, instance: Instance) -> bool:
    """The instance's server gets its stored tenant values; restarted when one waits for it. Returns
    whether it was restarted."""
    with store.read() as uow:
        values = uow.parameters(None).values(instance.id)
    applied = driver.write_parameters(instance.code, values)
    if applied.pending_restart:
        log.info("%s: restarting for %s", instance.code, ", ".join(applied.pending_restart))
        driver.restart(instance.code)
        return True
    return False


def _apply(ctx: JobContext) -> None:
    env = _env(ctx)
    with env.store.write() as uow:
        uow.parameters(None).settle_events(ctx.job.id, EventState.RUNNING, None)
    for instance in job_instances(ctx, ctx.params.get("order", list(ctx.job.instance_ids))):
        _apply_one(env.driver, env.store, instance)


def _fix_paused_replicas(ctx: JobContext) -> None:
    """Every read-only instance of a master in the job whose replay paused on a floor setting gets its
    master's values of the five (when higher than its own) and a restart."""
    env = _env(ctx)
    masters = [i for i in job_instances(ctx, list(ctx.job.instance_ids)) if i.master_id is None]
    if not masters:
        return
    with env.store.read() as uow:
        replicas = uow.instances(None).replicas_of_each([m.id for m in masters])
    for replica in replicas:
        if replica.lifecycle not in (Lifecycle.RUNNING, Lifecycle.MODIFYING_PARAMETERS):
            continue
        try:
            if not env.driver.replay_paused(replica.code):
                continue
            master = next(m for m in masters if m.id == replica.master_id)
            theirs = {s.name: s.setting for s in env.driver.settings(master.code) if s.name in rules.STANDBY_FLOOR}
            mine = {s.name: s.setting for s in env.driver.settings(replica.code) if s.name in rules.STANDBY_FLOOR}
        except EngineError as exc:  # gone, or down: the change itself is done; the next one looks again
            log.warning("could not check the replay of %s: %s", replica.code, exc)
            continue
        raise_to = {n: v for n, v in theirs.items() if float(v) > float(mine.get(n, "0"))}
        now = env.clock.now()
        with env.store.write() as uow:
            repo = uow.parameters(None)
            repo.set_values(replica.id, raise_to, now)
            for name, value in sorted(raise_to.items()):  # shown by DescribeParamsEvent; settled with the job
                repo.add_event(
                    replica.tenant_id,
                    ParameterEvent(
                        instance_id=replica.id,
                        name=name,
                        old_value=mine.get(name, ""),
                        new_value=value,
                        state=EventState.PAUSED,
                        operator="system",
                        job_id=ctx.job.id,
                        message=f"replay paused: {name} below its master's; raised and restarted",
                        modified_at=now,
                    ),
                )
            uow.events.add(
                replica.tenant_id,
                replica.id,
                "parameters.replay_paused",
                f"{replica.code}: replay paused on {', '.join(sorted(raise_to)) or 'a standby setting'}"
                " lower than its master's; raised and restarted",
                now,
            )
        _apply_one(env.driver, env.store, replica)


def _restore(ctx: JobContext) -> None:
    """Undo: the values before the job, in the store and on each server (best effort per server)."""
    env = _env(ctx)
    previous: Mapping[str, Mapping[str, str | None]] = ctx.params.get("previous", {})
    now = env.clock.now()
    with env.store.write() as uow:
        repo = uow.parameters(None)
        for instance_id, names in previous.items():
            current = repo.values(instance_id)
            kept = {n: v for n, v in current.items() if n not in names}
            kept.update({n: v for n, v in names.items() if v is not None})
            repo.forget(instance_id)
            repo.set_values(instance_id, kept, now)
    order = list(reversed(ctx.params.get("order", list(ctx.job.instance_ids))))
    for instance in job_instances(ctx, order):
        try:
            _apply_one(env.driver, env.store, instance)
        except EngineError as exc:
            log.warning("could not restore the parameters of %s: %s", instance.code, exc)


def _finish(ctx: JobContext) -> None:
    set_lifecycle(Lifecycle.RUNNING)(ctx)
    env = _env(ctx)
    with env.store.write() as uow:
        uow.parameters(None).settle_events(ctx.job.id, EventState.SUCCESS, env.clock.now())


def _failed(ctx: JobContext, error: str) -> None:
    """The job failed for good: the previous values back (also when the step that failed was the apply
    itself, which no undo covers), the instances back where they were, the events ``failed``."""
    env = _env(ctx)
    try:
        _restore(ctx)
    except Exception:  # the store is still consistent; the next change rewrites the files
        log.exception("could not restore the parameters of job %s", ctx.job.id)
    back_to_previous(ctx, error)
    with env.store.write() as uow:
        uow.parameters(None).settle_events(ctx.job.id, EventState.FAILED, None, error)


MODIFY_PARAMETERS = JobDefinition(
    "modify_parameters",
    (
        Step("apply parameters", _apply, _restore),
        Step("fix paused replicas", _fix_paused_replicas),
        Step("mark running", _finish),
    ),
    on_failure=_failed,
)


class LiveParameters:
    """The driver's parameter and log reads for the services, its errors turned into domain errors:
    a server that is not there or not running is the instance's state (``InvalidInstanceState``), a
    driver that cannot do it is ``EngineFailed`` with the driver's reason."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver

    def settings(self, instance_code: str) -> Sequence[ServerSetting]:
        return self._call(instance_code, lambda: self._driver.settings(instance_code))

    def default_settings(self, major_version: int) -> Sequence[ServerSetting]:
        return self._call(str(major_version), lambda: self._driver.default_settings(major_version))

    def check_parameters(self, instance_code: str, values: Mapping[str, str]) -> dict[str, str]:
        return self._call(instance_code, lambda: self._driver.check_parameters(instance_code, values))

    def server_log(self, instance_code: str, since: datetime, until: datetime, limit: int) -> Sequence[LogRecord]:
        return self._call(instance_code, lambda: self._driver.server_log(instance_code, since, until, limit=limit))

    @staticmethod
    def _call(subject: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except ServerNotFound:
            raise InvalidInstanceState(subject, "without a server", "read parameters") from None
        except EngineError as exc:
            if exc.transient:
                raise InvalidInstanceState(subject, "not running", exc.step) from None
            raise EngineFailed(f"{exc.step}: {exc.detail}") from None
