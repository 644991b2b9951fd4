"""Tenant quotas and each instance's storage limit: the rules, stated once.

Pure. The services count what a tenant has and call `check` inside the write transaction that records
a create, so two concurrent creates cannot both pass; the storage watch (`reconcile.storage_watch`) measures each
server's data directory and asks `storage_full`.

What a tenant has: every instance not yet destroyed (an isolated one keeps its disk, a failed one its
record until it is destroyed), the ``Storage`` of those summed, and every read-only group not deleted
(each is a balancer process and a port on the host).
"""

from __future__ import annotations

from dataclasses import dataclass

from openrds.domain.errors import QuotaExceeded

GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Amounts:
    """Instances, read-only groups and GB of storage: a tenant's limits, what it has, or what a create adds."""

    instances: int = 0
    ro_groups: int = 0
    storage_gb: int = 0


@dataclass(frozen=True, slots=True)
class Overrides:
    """A tenant's own limits, set by an operator; None: the service's default for that quota."""

    instances: int | None = None
    ro_groups: int | None = None
    storage_gb: int | None = None

    def over(self, defaults: Amounts) -> Amounts:
        """The limits in force: each override, else the default."""
        return Amounts(
            defaults.instances if self.instances is None else self.instances,
            defaults.ro_groups if self.ro_groups is None else self.ro_groups,
            defaults.storage_gb if self.storage_gb is None else self.storage_gb,
        )


#: Each quota: its name (the field of `Amounts`, also the name `openrds admin show-quota` prints), what
#: it counts, and the unit of its figures.
QUOTAS = (
    ("instances", "instances", ""),
    ("ro_groups", "read-only groups", ""),
    ("storage_gb", "storage", " GB"),
)


def check(limits: Amounts, usage: Amounts, adding: Amounts) -> None:
    """:raises QuotaExceeded: ``usage`` + ``adding`` passes one of ``limits`` (the first one, in `QUOTAS`
        order); the message names the quota, what the tenant has, what the request adds and the limit."""
    for name, counts, unit in QUOTAS:
        more = getattr(adding, name)
        if more <= 0:
            continue
        used, limit = getattr(usage, name), getattr(limits, name)
        if used + more > limit:
            raise QuotaExceeded(
                f"quota {name} ({counts}) exceeded: the tenant has {used}{unit}, this request adds {more}{unit}, "
                f"the limit is {limit}{unit}"
            )


# --- storage ---------------------------------------------------------------------------------------
#: Every status reason the storage watch writes starts so; a reason that does not is someone else's.
STORAGE_REASON_PREFIX = "storage full: "
EVENT_FULL = "storage.full"
EVENT_OK = "storage.ok"


def storage_full(used_bytes: int, storage_gb: int, bytes_per_gb: int = GIB) -> bool:
    """True when a data directory of ``used_bytes`` holds more than the instance's ``storage_gb``."""
    return used_bytes > storage_gb * bytes_per_gb


def storage_reason(storage_gb: int) -> str:
    """The status reason of an instance set read-only because its data passed its storage."""
    return (f"{STORAGE_REASON_PREFIX}the data directory holds more than the instance's {storage_gb} GB of storage, "
            f"so new transactions are read-only (default_transaction_read_only); delete data (in a session "
            f"after SET default_transaction_read_only = off) or raise the storage to write again")


def next_storage_reason(current: str, full: bool, storage_gb: int) -> str | None:
    """The status reason to record for an instance whose reason is ``current`` now, or None to leave it.

    Full replaces any reason (a failed restart's, say: storage matters more and the server still runs);
    not full clears only a reason of this module.
    """
    if full:
        wanted = storage_reason(storage_gb)
        return None if wanted == current else wanted
    return "" if current.startswith(STORAGE_REASON_PREFIX) else None
