"""Instance and job states, the one table that says which operation may start in which state, and
what starting it does (the state the instance waits in and the job that carries it out).

Wire values are frozen: dialects derive their public statuses from these with one pure function each,
and stored rows hold these strings. Never renumber or rename a member.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from openrds.domain.errors import InvalidInstanceState


class Lifecycle(enum.StrEnum):
    CREATING = "creating"
    RUNNING = "running"
    RESTARTING = "restarting"
    ISOLATING = "isolating"
    ISOLATED = "isolated"
    DISISOLATING = "disisolating"
    DELETING = "deleting"
    DELETED = "deleted"
    FAILED = "failed"
    EXPANDING = "expanding"  # a spec or storage change is being applied (config rewritten, restart)
    MODIFYING_PARAMETERS = "modifying_parameters"  # tenant parameters being applied (reload or restart)


class IsolationReason(enum.StrEnum):
    """Why an isolated instance is isolated (``Instance.isolation_reason``); stored, never renamed."""

    NONE = ""  # not isolated
    USER = "user"  # the tenant isolated it (prepaid: unused whole days refunded)
    EXPIRED = "expired"  # prepaid period over, not renewed: destroyed after the retention
    ARREARS = "arrears"  # postpaid, balance below zero past the grace period: back when it is >= 0


class Health(enum.StrEnum):
    """What the supervisor last saw of the server, independent of the lifecycle."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class Role(enum.StrEnum):
    PRIMARY = "primary"
    READONLY = "readonly"


class ChargeType(enum.StrEnum):
    PREPAID = "PREPAID"
    POSTPAID = "POSTPAID_BY_HOUR"


class Operation(enum.StrEnum):
    CREATE_READONLY = "create_readonly"
    RESTART = "restart"
    ISOLATE = "isolate"
    DISISOLATE = "disisolate"
    DESTROY = "destroy"
    DELETE = "delete"  # stop and destroy in one go, from running too (Huawei's delete is immediate)
    RENAME = "rename"
    MODIFY = "modify"
    GROUP_MEMBERSHIP = "group_membership"
    RENEW = "renew"  # buy more prepaid time (RenewInstance); an expired, isolated one renews by DisIsolate
    PROMOTE = "promote"  # a read-only instance becomes a standalone writable primary (Trove's detach)
    RESIZE = "resize"  # a new spec or storage (ModifyDBInstanceSpec, Huawei resize), now or in a window
    MODIFY_PARAMETERS = "modify_parameters"  # tenant parameters of a master and its read-only instances
    BACKUP = "backup"  # a manual base backup (no state change: the server keeps serving while it runs)


# Which lifecycle states allow an operation to start. Anything absent is refused.
_ALLOWED: dict[Operation, frozenset[Lifecycle]] = {
    Operation.CREATE_READONLY: frozenset({Lifecycle.RUNNING}),
    Operation.RESTART: frozenset({Lifecycle.RUNNING}),
    Operation.ISOLATE: frozenset({Lifecycle.RUNNING, Lifecycle.FAILED}),
    Operation.DISISOLATE: frozenset({Lifecycle.ISOLATED}),
    Operation.DESTROY: frozenset({Lifecycle.ISOLATED, Lifecycle.FAILED}),
    Operation.DELETE: frozenset({Lifecycle.RUNNING, Lifecycle.ISOLATED, Lifecycle.FAILED}),
    Operation.RENAME: frozenset(set(Lifecycle) - {Lifecycle.DELETED, Lifecycle.DELETING}),
    Operation.MODIFY: frozenset(set(Lifecycle) - {Lifecycle.DELETED, Lifecycle.DELETING}),
    Operation.GROUP_MEMBERSHIP: frozenset({Lifecycle.RUNNING, Lifecycle.CREATING, Lifecycle.RESTARTING,
                                           Lifecycle.EXPANDING}),
    Operation.RENEW: frozenset({Lifecycle.RUNNING, Lifecycle.CREATING, Lifecycle.RESTARTING, Lifecycle.EXPANDING}),
    Operation.PROMOTE: frozenset({Lifecycle.RUNNING}),
    Operation.RESIZE: frozenset({Lifecycle.RUNNING}),
    Operation.MODIFY_PARAMETERS: frozenset({Lifecycle.RUNNING}),
    Operation.BACKUP: frozenset({Lifecycle.RUNNING}),
}


class JobKind(enum.StrEnum):
    """The jobs the service submits (``jobs.kinds`` maps each to its steps); stored, never renamed."""

    CREATE_PRIMARIES = "create_primaries"
    CREATE_REPLICAS = "create_replicas"
    RESTART = "restart"
    ISOLATE = "isolate"
    DISISOLATE = "disisolate"
    DESTROY = "destroy"
    PROMOTE = "promote"
    RESIZE = "resize"  # jobs.resize: waits for its switch time, then applies the new spec
    MODIFY_PARAMETERS = "modify_parameters"  # jobs.parameters: replicas and master in the floor's order
    BACKUP = "backup"  # jobs.backups: a base backup of a primary, then a fence
    DELETE_BACKUP = "delete_backup"  # jobs.backups: a set (and its dependents) out of the repository
    DELETE_STANZA = "delete_stanza"  # jobs.backups: a destroyed instance's backups, after its retention
    CLONE = "clone"  # jobs.backups: a new primary restored from another instance's backups
    APPLY_ADMISSION = "apply_admission"  # jobs.access: security groups into pg_hba.conf / endpoint filters


@dataclass(frozen=True, slots=True)
class Transition:
    """What starting an operation does to an instance: it waits in ``during`` while a ``job`` runs.
    An operation that takes it out of service (``stops``) takes a master's read-only instances with
    it - they cannot outlive their source - except those ``already`` on that way."""

    during: Lifecycle
    job: JobKind
    stops: bool = False
    already: frozenset[Lifecycle] = frozenset()


TRANSITIONS: dict[Operation, Transition] = {
    Operation.RESTART: Transition(Lifecycle.RESTARTING, JobKind.RESTART),
    Operation.ISOLATE: Transition(Lifecycle.ISOLATING, JobKind.ISOLATE, stops=True,
                                  already=frozenset({Lifecycle.ISOLATING, Lifecycle.ISOLATED})),
    Operation.DISISOLATE: Transition(Lifecycle.DISISOLATING, JobKind.DISISOLATE),
    Operation.DESTROY: Transition(Lifecycle.DELETING, JobKind.DESTROY, stops=True,
                                  already=frozenset({Lifecycle.DELETING})),
    Operation.DELETE: Transition(Lifecycle.DELETING, JobKind.DESTROY, stops=True,
                                 already=frozenset({Lifecycle.DELETING})),
    # The server leaves recovery without a restart, but clients see the same brief change; every face
    # already has a word for "restarting", so promotion adds no new public status.
    Operation.PROMOTE: Transition(Lifecycle.RESTARTING, JobKind.PROMOTE),
    Operation.MODIFY_PARAMETERS: Transition(Lifecycle.MODIFYING_PARAMETERS, JobKind.MODIFY_PARAMETERS),
}


def allowed(operation: Operation, state: Lifecycle) -> bool:
    return state in _ALLOWED[operation]


def ensure_allowed(operation: Operation, instance_id: str, state: Lifecycle) -> None:
    """:raises InvalidInstanceState: the state does not allow the operation."""
    if not allowed(operation, state):
        raise InvalidInstanceState(instance_id, state.value, operation.value)


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    UNDOING = "undoing"
    FAILED = "failed"  # failed for good, completed steps undone


class GroupStatus(enum.StrEnum):
    CREATING = "creating"
    OK = "ok"
    MODIFYING = "modifying"
    DELETING = "deleting"
    DELETED = "deleted"


class MemberStatus(enum.StrEnum):
    """A read-only instance's place in its group's rotation."""

    IN_ROTATION = "in_rotation"
    EVICTED = "evicted"
