"""The admission part of the engine contract: which client addresses may open a session on a server or
through a read-only group's endpoint (security groups, :mod:`openrds.domain.security_groups`).

What the service itself needs is never subject to the tenant's rules: its own superuser on the local
socket, and replication connections of its replication role (replicas, base backups). Everything else -
the tenant's admin and the accounts it makes - is admitted by :class:`Admission`: its rules in order,
first match wins, nothing matched refused (or, ``open``, every address, each still with its password).

A server behind a read-only group's endpoint (``via_endpoint``) also admits the endpoint's own address:
the endpoint's balancer connects from there, and the group's own admission is enforced at the endpoint,
where the client's address is still known.

Both methods are idempotent: the admission is recorded with the server (or endpoint) and outlives
restarts and configuration rewrites; applying the same one again changes nothing. Sessions from
addresses the new admission refuses are ended. Failures are :class:`openrds.engine.driver.EngineError`;
a driver that cannot enforce admission raises :class:`AccessUnsupported`, never does nothing silently.
"""

from __future__ import annotations

from typing import Protocol

from openrds.domain.security_groups import Admission


class AccessDriver(Protocol):
    def access_support(self) -> str:
        """Empty when this driver enforces admission rules, else why not (one sentence). Pure read; ~µs."""
        ...

    def apply_admission(self, instance_id: str, admission: Admission, *, via_endpoint: bool = False) -> int:
        """Make the server admit exactly ``admission`` (and its endpoint's address when ``via_endpoint``),
        effective for the next connection without a restart, and end the sessions of addresses it no
        longer admits. A stopped server keeps it for its next start. Returns how many sessions ended.
        Time budget: ~0.2 s.

        :raises ServerNotFound: no such server.
        :raises AccessUnsupported: the driver cannot.
        :raises EngineError: the rules were refused by the server (the previous ones stay in force).
        """
        ...

    def admission(self, instance_id: str) -> Admission:
        """The admission in force on the server (open for a server never given one). Read-only; ~ms.

        :raises ServerNotFound: no such server.
        """
        ...

    def apply_endpoint_admission(self, endpoint_id: str, admission: Admission) -> int:
        """Make a read-only group's endpoint accept connections only from addresses ``admission``
        admits, for the next connection, and close the sessions through it of addresses it no longer
        admits. Returns how many were closed. Time budget: ~0.2 s.

        :raises EndpointNotFound: no such endpoint.
        :raises AccessUnsupported: the driver cannot.
        """
        ...


# After the Protocol: `engine.driver` imports this module at its end, and this module may be imported first.
from openrds.engine.driver import EngineError  # noqa: E402


class AccessUnsupported(EngineError):
    """This driver cannot enforce admission rules."""

    def __init__(self, reason: str) -> None:
        super().__init__("admission", reason)
