"""Response shapes of the Huawei face, as TypedDicts for presenters: RDS v1 and Keystone v3 (IAM).

One TypedDict per object the presenters build and one ``<Call>Response`` per answer, so that a
misspelt or mistyped field is a type error in :mod:`.presenters` instead of a field a client never
finds. Huawei publishes no machine-readable table for v1: the shapes are those of
``reference/huawei-rds-v1.md`` (the seed's call sequence and the v1 documentation), with the
additions that file records (``dbPort``, ``dataStoreInfo``, ``replica_of``, ``replicas``), and
OpenStack Keystone v3's for IAM. Field names are the wire's, Huawei's mixed spellings included
(``availabilityZone`` beside ``replica_of``, ``fail_reason``).
"""

# No ``from __future__ import annotations``: like ``api/tencent/fields.py``, so ``NotRequired`` is
# seen at run time and ``__required_keys__`` is right. Classes are defined before use.
from typing import NotRequired, TypedDict

# --- RDS v1 --------------------------------------------------------------------------------------


class DataStore(TypedDict):
    """One datastore version (``GET .../datastores/{name}/versions``)."""

    # The version's id: a flavor listing's ``dbId``.
    id: str
    # The datastore's id (one for PostgreSQL).
    datastore: str
    # The version, e.g. ``16.4``.
    name: str
    image: str
    packages: str
    # 1: can be created.
    active: int


class DataStoresResponse(TypedDict):
    dataStores: list[DataStore]


class Flavor(TypedDict):
    """One flavor (``GET .../flavors``)."""

    id: str
    name: str
    # Memory, GB.
    ram: int
    # CPUs, as text (Trove's type).
    vcpus: str
    # The spec code a create names in ``flavorRef``; ``.rr`` codes are read-replica flavors.
    specCode: str


class FlavorsResponse(TypedDict):
    flavors: list[Flavor]


class Nics(TypedDict):
    subnetId: str


class SecurityGroupRef(TypedDict):
    id: str


class FlavorRef(TypedDict):
    id: str


class Volume(TypedDict):
    # COMMON, HIGH or ULTRAHIGH.
    type: str
    # GB.
    size: int


class BackupStrategy(TypedDict):
    # ``hh:mm:ss``.
    startTime: str
    keepDays: int


class DataStoreInfo(TypedDict):
    # ``PostgreSQL``.
    type: str
    version: str


class Instance(TypedDict):
    """One instance as the seed shows it, plus ``dbPort``, ``dataStoreInfo`` and the replica links."""

    id: str
    # BUILD, ACTIVE, FAILED, REBOOTING, MODIFYING, SHUTDOWN, DELETING, DELETED.
    status: str
    name: str
    # ``2016-06-18T21:21:50+0200``; empty when unknown.
    created: str
    updated: str
    hostname: str
    dbPort: int
    # master or readreplica.
    type: str
    region: str
    availabilityZone: str
    vpc: str
    nics: Nics
    securityGroup: SecurityGroupRef
    flavor: FlavorRef
    volume: Volume
    backupStrategy: BackupStrategy
    dataStoreInfo: DataStoreInfo
    # A read replica's master.
    replica_of: NotRequired[str]
    # A master's read replicas (Trove's name).
    replicas: NotRequired[list[str]]


class JobRef(TypedDict):
    id: str


class ExtendParam(TypedDict):
    # The jobs doing the work the call started (``GET /v3/{project_id}/jobs?id=``).
    jobs: list[JobRef]


class AcceptedInstance(Instance):
    """An instance in the answer to a create, restart or delete: with the jobs doing the work."""

    extendparam: ExtendParam


class InstanceResponse(TypedDict):
    """``GET .../instances/{id}``."""

    instance: Instance


class InstancesResponse(TypedDict):
    """``GET .../instances``."""

    instances: list[Instance]


class AcceptedResponse(TypedDict):
    """``POST .../instances``, ``DELETE .../instances/{id}``, ``POST .../instances/{id}/action`` (202)."""

    instance: AcceptedInstance


class JobInstance(TypedDict):
    id: str
    name: str


class Job(TypedDict):
    id: str
    # CreatePostgreSQLInstance, CreateReadReplica, RestartInstance, ...
    name: str
    # Running, Completed or Failed.
    status: str
    created: str
    ended: str
    # ``40%``.
    process: str
    instance: JobInstance
    # Empty unless the job failed.
    fail_reason: str


class JobResponse(TypedDict):
    """``GET /v3/{project_id}/jobs?id=`` (and its v1 and ``/rds`` paths)."""

    job: Job


# --- Keystone v3 ---------------------------------------------------------------------------------


class DomainRef(TypedDict):
    # 32 hex characters.
    id: str
    name: str


class TokenUser(TypedDict):
    id: str
    name: str
    domain: DomainRef
    password_expires_at: str


class TokenProject(TypedDict):
    id: str
    name: str
    domain: DomainRef


class Role(TypedDict):
    id: str
    name: str


class Endpoint(TypedDict):
    id: str
    # public.
    interface: str
    region: str
    region_id: str
    url: str


class CatalogEntry(TypedDict):
    """A service of the token's catalogue (``rds``, whose endpoint is this service's ``/v1/{project_id}``)."""

    id: str
    type: str
    name: str
    endpoints: list[Endpoint]


class Token(TypedDict):
    methods: list[str]
    # ``2024-06-18T19:21:50.000000Z``.
    expires_at: str
    issued_at: str
    user: TokenUser
    # Empty unless the token is scoped to a project.
    catalog: list[CatalogEntry]
    # A project-scoped token's project and roles.
    project: NotRequired[TokenProject]
    roles: NotRequired[list[Role]]
    # A domain-scoped token's domain.
    domain: NotRequired[DomainRef]


class TokenResponse(TypedDict):
    """``POST /v3/auth/tokens`` (the token itself is the ``X-Subject-Token`` header)."""

    token: Token


class SelfLink(TypedDict):
    self: str


class ListLinks(TypedDict):
    self: str
    previous: str | None
    next: str | None


class Project(TypedDict):
    id: str
    name: str
    domain_id: str
    domain: DomainRef
    enabled: bool
    is_domain: bool
    parent_id: str
    description: str
    links: SelfLink


class ProjectsResponse(TypedDict):
    """``GET /v3/auth/projects`` and ``GET /v3/projects``."""

    projects: list[Project]
    links: ListLinks


# The keys are language tags, which are not identifiers.
Locales = TypedDict("Locales", {"en-us": str, "zh-cn": str})


class Region(TypedDict):
    id: str
    description: str
    parent_region_id: str | None
    type: str
    locales: Locales
    links: SelfLink


class RegionsResponse(TypedDict):
    """``GET /v3/regions``."""

    regions: list[Region]
    links: ListLinks
