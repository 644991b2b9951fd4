"""Instance listings answered from memory, exact to the last commit of any process.

A computed listing read from the tables costs what the tables cost: counting every matching row,
sorting or walking an index, building a value per row - 4-5 ms of CPU for a 10-row page over 1,000
instances, growing with the tenant. :class:`InstanceListing` keeps each tenant's instances (those it was
asked about) in memory, with each (region, order) kept sorted, so a page is a slice and its total a
``len`` whatever the tenant's size.

Exact, never stale: before each read it reads the store's data version
(:meth:`openrds.persistence.uow.Store.version`, which moves on any commit of any process). Unchanged
since its last refresh: nothing was committed, memory is the store. Changed: it reads the instance rows
whose change counter (``instances.change_seq``, set by a trigger on every insert and update, see
migration 0013) is past the highest one it has applied, and applies them - a few rows per commit,
whatever the store's size. The version is read *before* the rows, so a commit landing during the
refresh moves the version again and the next read refreshes again. A caller that committed and then
reads sees its commit; so does every process (``openrds admin``, the other API workers).

SQLite only: it has one writer at a time, so the counter grows in commit order and "past the highest
applied" misses nothing. On PostgreSQL concurrent writers commit in any order, so the listing answers
from the tables (:meth:`InstanceService.describe`), as before.

Filters and orders mean exactly what the store's (``persistence.repositories._NARROWING``; a test
holds the two to the same answers): a page with no filter but the region is a slice; with filters,
one pass over the tenant's instances in that order; with instance ids, a lookup of those.

Memory: every instance of each tenant asked about (``Instance`` values, slotted), plus one sorted key
list per (region, order) asked for. A tenant is loaded at its first listing (its rows once).
"""

from __future__ import annotations

import bisect
import gc
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from openrds.domain.model import Instance, InstanceQuery
from openrds.domain.states import Lifecycle, Role
from openrds.persistence.uow import Store
from openrds.services.instances import InstancePage

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _fold(text: str) -> str:
    """ASCII letters lower-cased, nothing else: what SQLite's ``lower()`` and ``LIKE`` fold."""
    return text.translate(_ASCII_LOWER)


#: InstanceQuery field -> whether an instance matches its values (any of them; the fields given must
#: all match): the in-memory twin of the store's ``_NARROWING``, field for field.
MATCHING: Mapping[str, Callable[[Instance, tuple[Any, ...]], bool]] = {
    "ids": lambda i, ids: i.id in ids or i.code in ids,
    "name_contains": lambda i, names: any(_fold(n) in _fold(i.name) for n in names),
    "project_ids": lambda i, ids: i.project_id in ids,
    "charge_types": lambda i, types: i.charge_type.value in types,
    "master_ids": lambda i, ids: i.master_id in ids,
    "roles": lambda i, roles: i.role.value in roles,
    "lifecycles": lambda i, lifecycles: i.lifecycle.value in lifecycles,
    "vpc_ids": lambda i, ids: i.network.vpc_id in ids,
    "tag_keys": lambda i, keys: any(t.key in keys for t in i.tags),
}

_NO_TIME = datetime.min


class _Descending:
    """A sort value compared the other way round: (column desc, code asc) in one ascending key list."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)


def _sort_value(instance: Instance, order_by: str) -> Any:
    """The store's ORDER BY column: NULL expiry first (ascending), as SQLite sorts it."""
    if order_by == "name":
        return instance.name
    if order_by == "expire":
        return (0, _NO_TIME) if instance.expire_at is None else (1, instance.expire_at)
    return instance.created_at


def _key(instance: Instance, order: tuple[str | None, str, bool]) -> tuple[Any, str, str]:
    value = _sort_value(instance, order[1])
    return (_Descending(value) if order[2] else value, instance.code, instance.id)


class _Tenant:
    """One tenant's instances as the listing keeps them."""

    __slots__ = ("by_code", "codes", "instances", "orders", "replicas")

    def __init__(self) -> None:
        self.instances: dict[str, Instance] = {}  # id -> instance, deleted ones left out
        self.by_code: dict[str, str] = {}  # code -> id, deleted ones left out
        self.codes: dict[str, str] = {}  # id -> code, deleted ones included (a replica names its old master)
        self.replicas: dict[str, int] = {}  # master id -> its read-only instances (not deleted)
        # (region or None for all, order_by, descending) -> keys of its instances in that order.
        self.orders: dict[tuple[str | None, str, bool], list[tuple[Any, str, str]]] = {}

    def apply(self, new: Instance) -> None:
        """``new`` is the instance's state now (its row as last committed)."""
        old = self.instances.pop(new.id, None)
        self.codes[new.id] = new.code
        if old is not None:
            self.by_code.pop(old.code, None)
            if old.role is Role.READONLY and old.master_id:
                self.replicas[old.master_id] -= 1
        live = new.lifecycle is not Lifecycle.DELETED
        if live:
            self.instances[new.id] = new
            self.by_code[new.code] = new.id
            if new.role is Role.READONLY and new.master_id:
                self.replicas[new.master_id] = self.replicas.get(new.master_id, 0) + 1
        for order, keys in self.orders.items():
            if old is not None and order[0] in (None, old.region):
                key = _key(old, order)
                at = bisect.bisect_left(keys, key)
                if at < len(keys) and keys[at] == key:
                    del keys[at]
            if live and order[0] in (None, new.region):
                bisect.insort(keys, _key(new, order))

    def ordered(self, order: tuple[str | None, str, bool]) -> list[tuple[Any, str, str]]:
        keys = self.orders.get(order)
        if keys is None:
            region = order[0]
            keys = sorted(_key(i, order) for i in self.instances.values() if region is None or i.region == region)
            self.orders[order] = keys
        return keys

    def page(self, query: InstanceQuery) -> InstancePage:
        if query.master_ids:
            # Masters may be named by code or id; deleted ones name nothing (as the store resolves them).
            resolved = tuple(found for m in query.master_ids if (found := self._live_id(m)) is not None)
            query = replace(query, master_ids=resolved or ("-",))
        narrowing = [(MATCHING[name], values) for name in MATCHING if name != "ids"
                     and (values := getattr(query, name))]
        order = (query.region, query.order_by, query.descending)
        if query.ids:
            named = {found for x in query.ids if (found := self._live_id(x)) is not None}
            chosen = (self.instances[i] for i in named)
            matched = sorted((i for i in chosen if query.region is None or i.region == query.region),
                             key=lambda i: _key(i, order))
        else:
            matched = [self.instances[key[2]] for key in self.ordered(order)] if narrowing else []
        if narrowing:
            matched = [i for i in matched if all(match(i, values) for match, values in narrowing)]
        end = query.offset + query.limit
        if query.ids or narrowing:
            total, items = len(matched), matched[query.offset : end]
        else:
            keys = self.ordered(order)
            total, items = len(keys), [self.instances[key[2]] for key in keys[query.offset : end]]
        codes = {i.id: i.code for i in items}
        for i in items:
            if i.master_id and i.master_id not in codes and i.master_id in self.codes:
                codes[i.master_id] = self.codes[i.master_id]
        counts = {i.id: n for i in items if i.role is Role.PRIMARY and (n := self.replicas.get(i.id, 0))}
        return InstancePage(total, tuple(items), counts, codes)

    def _live_id(self, identifier: str) -> str | None:
        if identifier in self.instances:
            return identifier
        return self.by_code.get(identifier)


class InstanceListing:
    """Listings of instances (:meth:`describe`), from memory where the store allows it (see the module
    docstring). Thread-safe: one lock around refresh and read (a page is microseconds).

    :param store: the metadata store.
    :param from_store: the listing as the tables answer it, for stores whose commits cannot be
        followed by a counter (PostgreSQL).
    """

    def __init__(self, store: Store, from_store: Callable[[str, InstanceQuery], InstancePage]) -> None:
        self._store = store
        self._from_store = from_store
        self.in_memory = store.engine.dialect.name == "sqlite"
        self._lock = threading.Lock()
        self._version: object = None
        self._seq: int | None = None  # the highest change counter applied
        self._tenants: dict[str, _Tenant] = {}
        # Rows read from the store to refresh or load (for tests and /metrics-style questions).
        self.rows_read = 0

    def describe(self, tenant_id: str, query: InstanceQuery) -> InstancePage:
        """A page of ``tenant_id``'s instances, as :meth:`InstanceService.describe` would answer it now."""
        if not self.in_memory:
            return self._from_store(tenant_id, query)
        version = self._store.version()  # before anything is read: see the module docstring
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is None or version != self._version:
                tenant = self._refresh(tenant_id, version)
            return tenant.page(query)

    def _refresh(self, tenant_id: str, version: object) -> _Tenant:
        with self._store.read() as uow:
            everyone = uow.instances(None)
            if self._seq is None:
                self._seq = everyone.last_change()  # nothing loaded yet: no change to follow before this
            else:
                self._apply(everyone.changed_after(self._seq))
            tenant = self._tenants.get(tenant_id)
            if tenant is None:
                # In the same transaction as the changes above: the tenant is at the same point as the others.
                tenant = self._tenants[tenant_id] = _Tenant()
                rows = uow.instances(tenant_id).changed_after(-1)
                self.rows_read += len(rows)
                for _, instance in rows:
                    tenant.apply(instance)
                # Out of the cyclic collector's reach, as `openrds serve` does with what it builds at start:
                # a tenant's instances are millions of objects at 100,000, and every full collection
                # walked them all (a second's pause). They hold no cycles: dropped values are still freed
                # by their reference counts.
                gc.freeze()
        self._version = version
        return tenant

    def _apply(self, changes: Iterable[tuple[int, Instance]]) -> None:
        for seq, instance in changes:
            self.rows_read += 1
            self._seq = max(self._seq or 0, seq)
            tenant = self._tenants.get(instance.tenant_id)
            if tenant is not None:  # tenants never listed are read whole at their first listing
                tenant.apply(instance)
