"""Keeps each instance's recorded health true, and brings back servers that died.

On start of the service it adopts whatever the engine finds under the data root (servers outlive the
service); then, every few seconds, a running instance whose server is not running is marked down,
restarted, and marked up again, with an event for each. Instances in a transition are left to their
job. Each round also lets the engine keep the servers' own logs bounded.

A server that comes back - restarted here, seen running again after a round that did not see it
running, or first seen by this service - has its replication slots reconciled with the replicas the
store gives it (`Driver.reconcile_slots`): a replica destroyed or promoted while its source was down
could not drop its slot there, and that slot would hold the source's WAL for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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
        # Codes of the running instances seen running by the last round, their slots reconciled.
        self._up: set[str] = set()

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def check_once(self) -> None:
        env = self._env
        states = {s.instance_id: s.state for s in env.driver.servers()}
        env.driver.rotate_logs()
        with env.store.read() as uow:
            present = uow.instances(None).list()  # every instance but the deleted ones
        replicas_of: dict[str, list[str]] = {}
        for i in present:
            if i.master_id is not None:
                replicas_of.setdefault(i.master_id, []).append(i.code)
        up: set[str] = set()
        for instance in present:
            if instance.lifecycle not in (Lifecycle.RUNNING, Lifecycle.ISOLATED):
                continue
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
                came_back = instance.code not in self._up
            elif self._revive(instance, state):
                came_back = True
            else:
                continue
            if not came_back or self._reconcile_slots(instance, replicas_of.get(instance.id, [])):
                up.add(instance.code)
        self._up = up

    def _revive(self, instance: Instance, state: ServerState) -> bool:
        """Start the server of a running instance found not running; True when it runs again."""
        if instance.health is not Health.DOWN:
            self._record(instance, Health.DOWN, f"server found {state.value}")
        if state is ServerState.MISSING:
            return False  # nothing to start: the data directory is gone; an operator must look
        try:
            self._env.driver.start(instance.code)
        except EngineError as exc:
            log.warning("supervisor: could not restart %s: %s", instance.code, exc)
            return False
        self._record(instance, Health.UP, "server restarted by the supervisor")
        return True

    def _reconcile_slots(self, instance: Instance, replicas: Sequence[str]) -> bool:
        """Drop the slots on a server that is back which feed none of ``replicas`` (the codes of its
        replicas in the store, deleted ones aside) nor a replica the engine is making. False when the
        engine could not: the next round tries again."""
        try:
            dropped = self._env.driver.reconcile_slots(instance.code, replicas)
        except EngineError as exc:
            log.warning("supervisor: could not reconcile the slots of %s: %s", instance.code, exc)
            return False
        if dropped:
            log.info("supervisor: %s: dropped slots no replica uses: %s", instance.code, ", ".join(dropped))
        return True

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
