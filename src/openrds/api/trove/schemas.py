"""Request models with Trove's field names, and their translation into domain orders.

What is checked here is the wire format (types, required fields, bounds: every string at most
``MAX_STRING`` characters and printable, every list bounded); every rule about what may be bought or
created is the services' and the domain's. Unknown fields are ignored, as Trove's own schema allows
for the ones python-troveclient sends and this host gives no meaning (``nics``, ``access``,
``locality``, ``modules``).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, StrictInt

from openrds.api.bounded import BoundedModel
from openrds.domain.catalogue import Catalogue
from openrds.domain.errors import InvalidInput, MissingInput, UnknownVersion
from openrds.domain.model import Instance, Project
from openrds.domain.states import ChargeType
from openrds.services.instances import PrimaryOrder, ReadOnlyOrder

T = TypeVar("T")

DATASTORE = "postgresql"
#: Trove creates at most this many replicas in one call (its ``max_replicas_per_master`` default is 3;
#: the master's own limit is the service's, checked there).
MAX_LIST = 16
#: Trove has no billing: what it creates is metered by the hour, like Huawei's.
CHARGE_TYPE = ChargeType.POSTPAID.value
#: A replica spec named after its primary spec (Huawei's ``.rr`` flavors).
READONLY_SUFFIX = ".rr"


class _Model(BoundedModel):
    """Base of every body model of this face (the bounds are :mod:`openrds.api.bounded`'s)."""


class VolumeBody(_Model):
    size: StrictInt
    type: str | None = None


class DatastoreBody(_Model):
    type: str | None = None
    version: str | None = None


class UserBody(_Model):
    name: str
    password: str = Field(repr=False)


class InstanceCreate(_Model):
    name: str = Field(min_length=1)
    flavor_ref: str | None = Field(default=None, alias="flavorRef")
    volume: VolumeBody | None = None
    datastore: DatastoreBody | None = None
    users: list[UserBody] = Field(default_factory=list, max_length=MAX_LIST)
    availability_zone: str | None = None
    replica_of: str | None = None
    replica_count: StrictInt | None = Field(default=None, ge=1, le=MAX_LIST)

    def to_primary(self, project: Project, catalogue: Catalogue) -> PrimaryOrder:
        """A primary: ``flavorRef``, ``volume.size`` and the first of ``users`` (its admin account: Trove
        makes ``users`` ordinary accounts, and this host has no other way to learn a password)."""
        if self.replica_count not in (None, 1):
            raise InvalidInput("replica_count is for replicas: give replica_of too", field="replica_count")
        flavor = _required(self.flavor_ref, "flavorRef")
        volume = _required(self.volume, "volume")
        if not self.users:
            raise MissingInput("users: the first user (name and password) becomes the admin account",
                               field="users")
        version = None
        if self.datastore is not None:
            check_datastore(self.datastore.type or DATASTORE)
            version = self.datastore.version
        region = catalogue.region(project.region)
        zone = self.availability_zone or region.zones[0].name
        admin = self.users[0]
        return PrimaryOrder(region=project.region, zone=zone, spec_code=flavor, storage_gb=volume.size,
                            admin_user=admin.name, admin_password=admin.password, charge_type=CHARGE_TYPE,
                            version=version, name=self.name)

    def to_replicas(self, project: Project, master: Instance, catalogue: Catalogue) -> ReadOnlyOrder:
        """``replica_count`` (1 by default) replicas of ``master``. Trove takes no flavor for replicas (its
        replicas copy the master's); here a ``flavorRef`` or ``volume`` is honoured when given, and
        without one the master's spec is used - or its read-only twin (``<code>.rr``) where the master's
        is for primaries only."""
        if self.datastore is not None:
            check_datastore(self.datastore.type or DATASTORE)
        return ReadOnlyOrder(region=project.region, master=master.id,
                             spec_code=self.flavor_ref or replica_spec(catalogue, master),
                             storage_gb=self.volume.size if self.volume else None, count=self.replica_count or 1,
                             charge_type=CHARGE_TYPE, name=self.name, zone=self.availability_zone)


class CreateRequest(_Model):
    instance: InstanceCreate


class InstanceUpdate(_Model):
    """``PUT``/``PATCH /instances/{id}``: ``replica_of`` (or Trove's older ``slave_of``) set to null
    detaches a replica; ``name`` renames."""

    name: str | None = Field(default=None, min_length=1)
    replica_of: str | None = None
    slave_of: str | None = None
    configuration: str | None = None

    def detaches(self) -> bool:
        """Whether the body detaches the replica; anything this face does not offer is refused here,
        before anything is changed."""
        if self.replica_of is not None or self.slave_of is not None:
            raise InvalidInput("an instance cannot be attached to a replica source; only replica_of: null "
                               "(detach) is accepted", field="replica_of")
        if "configuration" in self.model_fields_set:
            raise InvalidInput("configuration groups are not offered", field="configuration")
        detach = "replica_of" in self.model_fields_set or "slave_of" in self.model_fields_set
        if not detach and self.name is None:
            raise MissingInput("instance: nothing to update (give replica_of: null or name)", field="instance")
        return detach


class UpdateRequest(_Model):
    instance: InstanceUpdate


def replica_spec(catalogue: Catalogue, master: Instance) -> str:
    """The spec of a replica created without a flavor: the master's, or its read-only twin."""
    spec = catalogue.spec(master.spec_code)
    return spec.code + READONLY_SUFFIX if spec.primary_only else spec.code


def check_datastore(name: str) -> None:
    """Only PostgreSQL is offered (the name is case-insensitive)."""
    if name.lower() != DATASTORE:
        raise UnknownVersion(f"datastore {name} is not offered: only {DATASTORE}", field="datastore")


def _required(value: T | None, name: str) -> T:
    if value is None:
        raise MissingInput(f"{name} is required", field=name)
    return value
