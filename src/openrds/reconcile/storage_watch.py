"""Makes each instance's ``Storage`` a real limit: a primary whose data outgrows it turns read-only.

Every `storage_check_interval` (30 s) the watch asks the engine how many bytes each running primary's
data directory holds (`Driver.disk_usage`: file sizes, no connection, ~12 ms per thousand files) and
`domain.quotas.storage_full` decides. A full one is switched to read-only through the engine
(`Driver.set_read_only`: ``default_transaction_read_only = on`` for every session of its server,
applied by a reload, kept across restarts) and shows why in its ``status_reason``, with an event
(``storage.full``); once data is deleted or the storage is raised it is switched back, with an event
(``storage.ok``). This is the clouds' storage-full mode, and like theirs it is a guard, not a wall: a
session may still ``SET default_transaction_read_only = off`` (that is how the tenant deletes data).

Primaries only: a read-only instance cannot take writes anyway, and its disk follows its master's.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from openrds.clock import Clock
from openrds.domain import quotas
from openrds.domain.quotas import GIB
from openrds.domain.states import Lifecycle
from openrds.engine.driver import Driver, EngineError
from openrds.periodic import Periodic
from openrds.persistence.uow import Store

log = logging.getLogger(__name__)


class StorageWatch:
    """:param bytes_per_gb: what one GB of ``Storage`` holds; tests make it small instead of writing GBs."""

    def __init__(self, store: Store, driver: Driver, clock: Clock, *, interval: float = 30.0,
                 bytes_per_gb: int = GIB) -> None:
        self._store = store
        self._driver = driver
        self._clock = clock
        self._bytes_per_gb = bytes_per_gb
        self._loop = Periodic("storage", interval, self.check_once)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def check_once(self) -> None:
        """One round over every running primary."""
        with self._store.read() as uow:
            primaries = uow.instances(None).running_primaries_storage()
        for instance_id, code, storage_gb, reason in primaries:
            if self._loop.stopping:
                return
            try:
                used = self._driver.disk_usage(code)
                full = quotas.storage_full(used, storage_gb, self._bytes_per_gb)
                switched = self._driver.set_read_only(code, full)
            except EngineError as exc:  # not there (yet) or not running: the next round looks again
                log.debug("storage watch: %s: %s", code, exc)
                continue
            wanted = quotas.next_storage_reason(reason, full, storage_gb)
            if switched or wanted is not None:
                self._record(instance_id, full, switched, used)

    def _record(self, instance_id: str, full: bool, switched: bool, used: int) -> None:
        now = self._clock.now()
        with self._store.write() as uow:
            repo = uow.instances(None)
            current = repo.find(instance_id)
            if current is None or current.lifecycle is not Lifecycle.RUNNING:
                return  # a job got there first; the next round looks again
            wanted = quotas.next_storage_reason(current.status_reason, full, current.storage_gb)
            if wanted is not None:
                repo.save(replace(current, status_reason=wanted, updated_at=now))
            if not switched:
                return
            used_mb = used / 1024**2
            if full:
                message = (f"{used_mb:.0f} MB of data is more than the {current.storage_gb} GB of storage: "
                           f"the instance is read-only until data is deleted or the storage is raised")
                log.warning("%s: %s", current.code, message)
            else:
                message = (f"{used_mb:.0f} MB of data fits the {current.storage_gb} GB of storage again: "
                           f"the instance is writable")
                log.info("%s: %s", current.code, message)
            uow.events.add(current.tenant_id, current.id, quotas.EVENT_FULL if full else quotas.EVENT_OK, message, now)
