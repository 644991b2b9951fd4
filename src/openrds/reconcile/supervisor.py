"""Keeps each instance's recorded health true, and brings back servers that died.

On start of the service it adopts whatever the engine finds under the data root (servers outlive the
service); then, every few seconds, a running instance whose server is not running is marked down,
restarted, and marked up again, with an event for each. Instances in a transition are left to their
job. Each round also lets the engine keep the servers' own logs bounded.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from openrds.domain.model import Instance
from openrds.domain.states import Health, Lifecycle
from openrds.engine.driver import EngineError, ServerState
from openrds.jobs.kinds import JobEnv
from openrds.periodic import Periodic

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, env: JobEnv, interval: float = 2.0) -> None:
        self._env = env
        self._loop = Periodic("supervisor", interval, self.check_once)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def check_once(self) -> None:
        env = self._env
        states = {s.instance_id: s.state for s in env.driver.servers()}
        env.driver.rotate_logs()
        with env.store.read() as uow:
            instances = [
                i for i in uow.instances(None).list() if i.lifecycle in (Lifecycle.RUNNING, Lifecycle.ISOLATED)
            ]
        for instance in instances:
            if self._loop.stopping:
                return
            state = states.get(instance.code, ServerState.MISSING)
            if instance.lifecycle is Lifecycle.ISOLATED:
                if state is ServerState.RUNNING:
                    env.driver.stop(instance.code)
                continue
            if state is ServerState.RUNNING:
                if instance.health is not Health.UP:
                    self._record(instance, Health.UP, "server is up")
                continue
            self._revive(instance, state)

    def _revive(self, instance: Instance, state: ServerState) -> None:
        if instance.health is not Health.DOWN:
            self._record(instance, Health.DOWN, f"server found {state.value}")
        if state is ServerState.MISSING:
            return  # nothing to start: the data directory is gone; an operator must look
        try:
            self._env.driver.start(instance.code)
        except EngineError as exc:
            log.warning("supervisor: could not restart %s: %s", instance.code, exc)
            return
        self._record(instance, Health.UP, "server restarted by the supervisor")

    def _record(self, instance: Instance, health: Health, message: str) -> None:
        env = self._env
        now = env.clock.now()
        log.info("supervisor: %s: %s", instance.code, message)
        with env.store.write() as uow:
            current = uow.instances(None).find(instance.id)
            if current is None or current.lifecycle is not instance.lifecycle:
                return  # a job changed it meanwhile; the job's word wins
            uow.instances(None).save(replace(current, health=health, updated_at=now))
            uow.events.add(instance.tenant_id, instance.id, f"health.{health.value}", message, now)
