"""What happened to a tenant's instances and groups (health changes, evictions, re-admissions): a
read-only use case for the console."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from openrds.persistence.uow import Store


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime
    resource_id: str  # an instance's internal id or a group's id
    kind: str  # e.g. health.down, and whatever the group endpoint records for evictions
    message: str

    @property
    def about_membership(self) -> bool:
        """An event about a place in a read-only group's rotation (eviction, re-admission)."""
        kind = self.kind.lower()
        return kind.startswith("group") or "evict" in kind or "admit" in kind or "rotation" in kind


class EventService:
    def __init__(self, store: Store) -> None:
        self._store = store

    def recent(self, tenant_id: str, resource_ids: Iterable[str], *, limit: int = 20) -> dict[str, list[Event]]:
        """The newest ``limit`` events of each resource, newest first; resources that are not the
        tenant's (or do not exist) get none."""
        found: dict[str, list[Event]] = {}
        with self._store.read() as uow:
            for resource_id in dict.fromkeys(resource_ids):
                instance = uow.instances(tenant_id).find(resource_id)
                if instance is None and uow.groups(tenant_id).find(resource_id) is None:
                    continue
                key = instance.id if instance is not None else resource_id
                found[resource_id] = [Event(at, key, kind, message) for at, kind, message in uow.events.of(key, limit)]
        return found
