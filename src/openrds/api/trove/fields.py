"""The Trove v1.0 wire shapes the presenters return (as `trove/instance/views.py` and
`trove/flavor/views.py` write them; python-troveclient reads them as attribute bags, the
``openstack database`` CLI indexes ``flavor["id"]``, ``datastore["type"]``, ``replica_of["id"]``)."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class Link(TypedDict):
    href: str
    rel: str


class Ref(TypedDict):
    """Another resource named by id (a flavor, the master, a replica)."""

    id: str
    links: list[Link]


class DatastoreRef(TypedDict):
    type: str
    version: str


class Volume(TypedDict):
    size: int


class Address(TypedDict):
    address: str
    type: str


class Access(TypedDict):
    is_public: bool


class Instance(TypedDict):
    id: str
    name: str
    status: str
    operating_status: str
    links: list[Link]
    flavor: Ref
    datastore: DatastoreRef
    volume: Volume
    region: str
    ip: list[str]
    addresses: list[Address]
    hostname: str
    port: int  # not Trove's: servers here listen on ports of their own, not 5432
    access: Access
    created: str
    updated: str
    replica_of: NotRequired[Ref]
    replicas: NotRequired[list[Ref]]


class InstanceResponse(TypedDict):
    instance: Instance


class InstancesResponse(TypedDict):
    instances: list[Instance]
    links: list[Link]


class Flavor(TypedDict):
    id: str
    str_id: str
    name: str
    ram: int  # MB
    vcpus: int
    disk: int
    links: list[Link]


class FlavorResponse(TypedDict):
    flavor: Flavor


class FlavorsResponse(TypedDict):
    flavors: list[Flavor]


class DatastoreVersion(TypedDict):
    id: str
    name: str
    datastore: str
    active: bool
    links: list[Link]


class VersionResponse(TypedDict):
    version: DatastoreVersion


class VersionsResponse(TypedDict):
    versions: list[DatastoreVersion]


class Datastore(TypedDict):
    id: str
    name: str
    default_version: str
    versions: list[DatastoreVersion]
    links: list[Link]


class DatastoreResponse(TypedDict):
    datastore: Datastore


class DatastoresResponse(TypedDict):
    datastores: list[Datastore]


class Fault(TypedDict):
    code: int
    message: str
