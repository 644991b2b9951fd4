"""What every job kind does to its own instances: read them, and move them between states.

A job's environment (``ctx.env``) is its kind's own dataclass; each has the store and the clock
(:class:`StoreAndClock`), which is all these steps use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from openrds.clock import Clock
from openrds.domain.model import Instance
from openrds.domain.states import Health, Lifecycle
from openrds.jobs.model import JobContext
from openrds.persistence.uow import Store


class StoreAndClock(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Clock: ...


def _env(ctx: JobContext) -> StoreAndClock:
    env: StoreAndClock = ctx.env
    return env


def job_instances(ctx: JobContext, ids: Sequence[str] | None = None) -> list[Instance]:
    """The instances ``ids`` (default: the job's own) that still exist, in that order."""
    with _env(ctx).store.read() as uow:
        repo = uow.instances(None)
        found = [repo.find(i) for i in (ctx.job.instance_ids if ids is None else ids)]
    return [i for i in found if i is not None]


def update_instances(ctx: JobContext, change: Callable[[Instance], Instance]) -> None:
    """``change`` applied to each of the job's instances that still exists, in one transaction."""
    env = _env(ctx)
    with env.store.write() as uow:
        repo = uow.instances(None)
        for instance_id in ctx.job.instance_ids:
            instance = repo.find(instance_id)
            if instance is not None:
                repo.save(replace(change(instance), updated_at=env.clock.now()))


def set_lifecycle(state: Lifecycle) -> Callable[[JobContext], None]:
    """A last step: the instances arrived in ``state`` (what that means - postpaid metering starts
    on running, for one - is :meth:`Instance.arrived`)."""

    def step(ctx: JobContext) -> None:
        now = _env(ctx).clock.now()
        update_instances(ctx, lambda i: i.arrived(state, now))

    return step


def fail_instances(ctx: JobContext, error: str) -> None:
    """A failure handler: the instances failed for good, with the reason."""
    update_instances(ctx, lambda i: replace(i, lifecycle=Lifecycle.FAILED, health=Health.DOWN,
                                            status_reason=error[:1000]))


def back_to_previous(ctx: JobContext, error: str) -> None:
    """A failure handler: the instances back in the state the job found them in (``params["from"]``)."""
    previous = Lifecycle(ctx.params.get("from", Lifecycle.RUNNING.value))
    update_instances(ctx, lambda i: replace(i, lifecycle=previous, status_reason=error[:1000]))
