"""The resize part of the engine contract: a server given a new spec (CPU, memory, connections, storage).

The spec's settings (memory-derived sizes, ``max_connections``, workers, the WAL a slot may hold)
are rewritten; a change of a setting that needs a restart restarts the server, a storage-only
change reloads it (``max_slot_wal_keep_size`` is a reload setting). The storage quota itself is the
control plane's (its storage watch reads the instance's new size); a driver with real volumes
grows them here.

A standby refuses to start with one of the floor settings (``engine.local.config.REPLICA_FLOOR_SETTINGS``)
below its source's. ``floor`` carries values a replica must keep at least, whatever its source
runs with now: the resize job raises a master's replicas to the master's *new* values before it
restarts the master.

Idempotent like the rest of :mod:`openrds.engine.driver`: applying the spec a server already runs
with changes nothing and restarts nothing. Failures are :class:`openrds.engine.driver.EngineError`;
a driver that cannot do a change raises an ``EngineError`` saying why, never does nothing silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # engine.driver's Driver includes this part: it imports this module, not the reverse
    from openrds.engine.driver import ServerInfo, ServerSpec


@dataclass(frozen=True, slots=True)
class Resized:
    """What applying a spec did."""

    info: ServerInfo
    changed: bool  # the configuration was rewritten
    restarted: bool  # ... and that needed a restart (else a reload, or nothing)


class ResizeDriver(Protocol):
    """Spec changes of the servers a driver runs (see the module docstring)."""

    def apply_spec(self, instance_id: str, spec: ServerSpec, floor: Mapping[str, int] | None = None) -> Resized:
        """Give a complete, running server ``spec``: record it, rewrite its spec-derived settings (a
        replica's floor settings at least its source's and ``floor``), then restart it when a
        setting that needs one changed, else reload. Returns when it accepts connections again.

        :raises ServerNotFound: no such server.
        :raises EngineError: the restart failed (the server log's tail in it), or the server is down.
        """
        ...
