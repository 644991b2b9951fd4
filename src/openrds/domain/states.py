"""Instance and job states, and the one table that says which operation may start in which state.

Wire values are frozen: dialects derive their public statuses from these with one pure function each,
and stored rows hold these strings. Never renumber or rename a member.
"""

from __future__ import annotations

import enum

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
    Operation.GROUP_MEMBERSHIP: frozenset({Lifecycle.RUNNING, Lifecycle.CREATING, Lifecycle.RESTARTING}),
    Operation.RENEW: frozenset({Lifecycle.RUNNING, Lifecycle.CREATING, Lifecycle.RESTARTING}),
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
