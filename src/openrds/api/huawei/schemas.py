"""Request models with Huawei's field names (as aliases), and their translation into domain orders.

What is checked here is the wire format only (types, required fields, Huawei's name pattern and
enumerations, and the bounds every face keeps: each string at most ``MAX_STRING`` characters and free
of control characters, each list bounded); every rule about what may be bought or created is the
services' and the domain's.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from pydantic import Field

from openrds.api.bounded import BoundedModel
from openrds.api.huawei import errors
from openrds.api.huawei.fields import BackupStrategy as BackupStrategyShape
from openrds.domain.errors import InvalidInput, InvalidName, UnknownRegion
from openrds.domain.model import Instance, Network, Project
from openrds.domain.states import ChargeType
from openrds.services.instances import PrimaryOrder, ReadOnlyOrder

T = TypeVar("T")

DATASTORE = "PostgreSQL"
ADMIN_USER = "root"  # Huawei's fixed admin account
EXTRA_KEY = "huawei"  # Instance.extra[EXTRA_KEY]: accepted fields that only this face gives meaning to
VolumeType = Literal["COMMON", "HIGH", "ULTRAHIGH"]
DEFAULT_VOLUME_TYPE: VolumeType = "COMMON"
DEFAULT_BACKUP: BackupStrategyShape = {"startTime": "00:00:00", "keepDays": 7}

# Huawei's name shape: at least 4 characters, a letter first, then letters, digits, "-" and "_". The
# upper bound is the domain's (rules.check_name, the same for every face), not Huawei's 64.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{3,}")
#: Keystone's ``identity.methods``: ``password`` and ``token`` are the methods there are.
MAX_AUTH_METHODS = 2


class HuaweiModel(BoundedModel):
    """Base of every body model of this face (the bounds are :mod:`openrds.api.bounded`'s)."""


def check_huawei_name(name: str) -> None:
    """Huawei's name shape, the same in v1 and v3 (the length bound is the domain's)."""
    if not _NAME.fullmatch(name):
        raise InvalidName("the name must have 4 or more characters: a letter first, then letters, digits,"
                          " '-' or '_'", field="name")


# --- IAM (Keystone v3) ---------------------------------------------------------------------------
class DomainRef(HuaweiModel):
    id: str | None = None
    name: str | None = None


class PasswordUser(HuaweiModel):
    name: str
    password: str
    domain: DomainRef


class PasswordMethod(HuaweiModel):
    user: PasswordUser


class TokenRef(HuaweiModel):
    id: str


class Identity(HuaweiModel):
    methods: list[str] = Field(max_length=MAX_AUTH_METHODS)
    password: PasswordMethod | None = None
    token: TokenRef | None = None


class ProjectRef(HuaweiModel):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None


class Scope(HuaweiModel):
    project: ProjectRef | None = None
    domain: DomainRef | None = None


class Auth(HuaweiModel):
    identity: Identity
    scope: Scope | None = None


class TokenRequest(HuaweiModel):
    auth: Auth


# --- RDS v1 --------------------------------------------------------------------------------------
class Datastore(HuaweiModel):
    type: str
    version: str


class Volume(HuaweiModel):
    type: VolumeType = DEFAULT_VOLUME_TYPE
    size: int = Field(gt=0)


class Nics(HuaweiModel):
    subnet_id: str = Field(alias="subnetId")


class SecurityGroupRef(HuaweiModel):
    id: str


class BackupStrategy(HuaweiModel):
    start_time: str = Field(alias="startTime", pattern=r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
    keep_days: int = Field(alias="keepDays", ge=0, le=732)


class RestorePoint(HuaweiModel):
    """``restorePoint`` of a create: restore a backup (``backupRef``) or a point in time (``restoreTime``,
    epoch milliseconds, of ``sourceInstanceId``) into the new instance (``openrds.api.huawei.backups``)."""

    backup_ref: str | None = Field(None, alias="backupRef")
    restore_time: int | None = Field(None, alias="restoreTime", ge=0, le=2**53)
    source_instance_id: str | None = Field(None, alias="sourceInstanceId")


class Ha(HuaweiModel):
    enable: bool = False
    replication_mode: Literal["async", "sync", "semisync"] | None = Field(None, alias="replicationMode")


class InstanceBody(HuaweiModel):
    """``POST /v1/{project_id}/instances`` ``instance``: a primary, or a read replica with ``replicaOf``."""

    name: str
    flavor_ref: str = Field(alias="flavorRef")
    replica_of: str | None = Field(None, alias="replicaOf")
    datastore: Datastore | None = None
    volume: Volume | None = None
    region: str | None = None
    availability_zone: str | None = Field(None, alias="availabilityZone")
    vpc: str | None = None
    nics: Nics | None = None
    security_group: SecurityGroupRef | None = Field(None, alias="securityGroup")
    db_port: int | None = Field(None, alias="dbPort", ge=1, le=65535)
    backup_strategy: BackupStrategy | None = Field(None, alias="backupStrategy")
    restore_point: RestorePoint | None = Field(None, alias="restorePoint")
    db_rt_pd: str | None = Field(None, alias="dbRtPd", repr=False)
    ha: Ha | None = None

    def check_name(self) -> None:
        check_huawei_name(self.name)

    def to_primary(self, project: Project) -> PrimaryOrder:
        self.check_name()
        datastore = _required(self.datastore, "datastore")
        volume = _required(self.volume, "volume")
        zone = _required(self.availability_zone, "availabilityZone")
        password = _required(self.db_rt_pd, "dbRtPd")
        check_datastore(datastore.type)
        if self.region and self.region != project.region:
            raise UnknownRegion(f"region {self.region} is not the region of project {project.name}", field="region")
        if self.ha is not None and self.ha.enable:
            raise InvalidInput("primary/standby pairs are not offered; create read replicas instead", field="ha")
        return PrimaryOrder(
            region=project.region, zone=zone.split(",")[0], spec_code=self.flavor_ref, storage_gb=volume.size,
            admin_user=ADMIN_USER, admin_password=password, charge_type=ChargeType.POSTPAID.value,
            version=datastore.version, name=self.name,
            network=Network(self.vpc or "", self.nics.subnet_id if self.nics else "",
                            (self.security_group.id,) if self.security_group else ()),
            port=self.db_port,
            extra={EXTRA_KEY: {"volumeType": volume.type, "backupStrategy": self._backup() or dict(DEFAULT_BACKUP)}},
        )

    def to_replica(self, project: Project, master: Instance) -> ReadOnlyOrder:
        """Everything but name, flavor and (optionally) volume size is inherited from the master."""
        self.check_name()
        inherited = master.extra.get(EXTRA_KEY, {})
        volume_type = self.volume.type if self.volume else inherited.get("volumeType", DEFAULT_VOLUME_TYPE)
        backup = self._backup() or inherited.get("backupStrategy", dict(DEFAULT_BACKUP))
        return ReadOnlyOrder(
            region=project.region, master=master.id, spec_code=self.flavor_ref,
            storage_gb=self.volume.size if self.volume else None, charge_type=ChargeType.POSTPAID.value, name=self.name,
            extra={EXTRA_KEY: {"volumeType": volume_type, "backupStrategy": backup}},
        )

    def _backup(self) -> dict[str, Any] | None:
        return self.backup_strategy.model_dump(by_alias=True) if self.backup_strategy else None


class CreateInstanceRequest(HuaweiModel):
    instance: InstanceBody


def check_datastore(name: str) -> None:
    """Only PostgreSQL is offered (the name is case-insensitive)."""
    if name.lower() != DATASTORE.lower():
        raise errors.unknown_datastore(name)


def _required(value: T | None, name: str) -> T:
    if value is None or value == "":
        raise errors.missing_parameter(f"instance.{name}")
    return value
