"""Request models with the v3 API's field names (those ``huaweicloudsdkrds.v3.model.InstanceRequest``
serialises), and their translation into the services' orders.

What is checked here is the wire format only (types, required fields, Huawei's name shape and
enumerations, the bounds every face keeps); what may be bought or created is the services' and the
domain's. Accepted fields that only a Huawei face gives meaning to (volume type, backup window) are
kept in ``Instance.extra["huawei"]`` in the v1 face's words, so both APIs show the same instance alike.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import Field

from openrds.api.huawei.schemas import (
    DATASTORE,
    DEFAULT_BACKUP,
    DEFAULT_VOLUME_TYPE,
    EXTRA_KEY,
    HuaweiModel,
    check_huawei_name,
)
from openrds.api.huawei_v3 import errors
from openrds.domain.errors import InvalidInput, UnknownRegion
from openrds.domain.model import Instance, Network, Project
from openrds.domain.states import ChargeType
from openrds.services.instances import PrimaryOrder, ReadOnlyOrder

T = TypeVar("T")

ADMIN_USER = "root"  # Huawei's fixed admin account
VolumeType = Literal["COMMON", "HIGH", "ULTRAHIGH", "ULTRAHIGHPRO", "CLOUDSSD", "LOCALSSD", "ESSD", "ESSD2"]
#: ``backup_strategy.start_time``: a one-hour window ``hh:mm-HH:MM``, on the hour or half past (UTC).
_WINDOW = r"^([01]\d|2[0-3]):(00|15|30|45)-([01]\d|2[0-3]):(00|15|30|45)$"


class Datastore(HuaweiModel):
    type: str
    version: str


class Volume(HuaweiModel):
    type: VolumeType = DEFAULT_VOLUME_TYPE
    size: int = Field(gt=0)


class BackupStrategy(HuaweiModel):
    start_time: str = Field(pattern=_WINDOW)
    keep_days: int = Field(7, ge=0, le=732)

    def v1(self) -> dict[str, Any]:
        """The v1 face's words for the same strategy: the window's start as ``hh:mm:ss``."""
        return {"startTime": self.start_time[:5] + ":00", "keepDays": self.keep_days}


class Ha(HuaweiModel):
    mode: str
    replication_mode: str | None = None


class ChargeInfo(HuaweiModel):
    charge_mode: Literal["postPaid", "prePaid"]
    period_type: Literal["month", "year"] | None = None
    period_num: int | None = Field(None, ge=1, le=120)
    is_auto_renew: bool = False

    def months(self) -> int:
        return (self.period_num or 1) * (12 if self.period_type == "year" else 1)


class InstanceRequest(HuaweiModel):
    """``create_instance``'s body: a primary, or a read replica with ``replica_of_id``."""

    name: str
    flavor_ref: str
    replica_of_id: str | None = None
    datastore: Datastore | None = None
    volume: Volume | None = None
    region: str | None = None
    availability_zone: str | None = None
    vpc_id: str | None = None
    subnet_id: str | None = None
    security_group_id: str | None = None
    # The SDK's type is str; a JSON number is accepted too.
    port: int | None = Field(None, ge=1, le=65535)
    password: str | None = Field(None, repr=False)
    backup_strategy: BackupStrategy | None = None
    ha: Ha | None = None
    charge_info: ChargeInfo | None = None
    dry_run: bool = False

    def check_name(self) -> None:
        check_huawei_name(self.name)

    def _charge(self) -> dict[str, Any]:
        """The order's billing fields; none without ``charge_info`` (a primary then pays by the hour, a
        replica as its master does)."""
        info = self.charge_info
        if info is None:
            return {}
        if info.charge_mode == "postPaid":
            return {"charge_type": ChargeType.POSTPAID.value}
        return {"charge_type": ChargeType.PREPAID.value, "period_months": info.months(),
                "auto_renew": info.is_auto_renew}

    def to_primary(self, project: Project) -> PrimaryOrder:
        self.check_name()
        datastore = _required(self.datastore, "datastore")
        volume = _required(self.volume, "volume")
        zone = _required(self.availability_zone, "availability_zone")
        password = _required(self.password, "password")
        check_datastore(datastore.type)
        if self.region and self.region != project.region:
            raise UnknownRegion(f"region {self.region} is not the region of project {project.name}", field="region")
        if self.ha is not None and self.ha.mode.lower() != "single":
            raise InvalidInput("primary/standby pairs are not offered; create read replicas instead", field="ha")
        backup = self.backup_strategy.v1() if self.backup_strategy else dict(DEFAULT_BACKUP)
        return PrimaryOrder(
            region=project.region, zone=zone.split(",")[0], spec_code=self.flavor_ref, storage_gb=volume.size,
            admin_user=ADMIN_USER, admin_password=password, version=datastore.version, name=self.name,
            network=Network(self.vpc_id or "", self.subnet_id or "",
                            (self.security_group_id,) if self.security_group_id else ()),
            port=self.port, extra={EXTRA_KEY: {"volumeType": volume.type, "backupStrategy": backup}},
            dry_run=self.dry_run, **({"charge_type": ChargeType.POSTPAID.value} | self._charge()),
        )

    def to_replica(self, project: Project, master: Instance) -> ReadOnlyOrder:
        """Name, flavor and zone are the replica's own; the rest - storage, network, password, backup
        policy - is the master's (``region``, ``volume.size`` and the network fields are ignored, as
        Huawei ignores them for replicas)."""
        self.check_name()
        zone = _required(self.availability_zone, "availability_zone")
        inherited = master.extra.get(EXTRA_KEY, {})
        volume_type = self.volume.type if self.volume else inherited.get("volumeType", DEFAULT_VOLUME_TYPE)
        return ReadOnlyOrder(
            region=project.region, master=master.id, spec_code=self.flavor_ref, zone=zone.split(",")[0],
            name=self.name, dry_run=self.dry_run,
            extra={EXTRA_KEY: {"volumeType": volume_type,
                               "backupStrategy": inherited.get("backupStrategy", dict(DEFAULT_BACKUP))}},
            **({"charge_type": master.charge_type.value} | self._charge()),
        )


def action_of(body: dict[str, Any]) -> str:
    """``POST .../instances/{id}/action`` names exactly one action; only ``restart`` is offered (its
    options - ``restart_server``, ``forcible``, ``delay`` - change nothing on this host)."""
    if list(body) != ["restart"] or not isinstance(body["restart"], dict):
        raise errors.unsupported_action(", ".join(body))
    return "restart"


def check_datastore(name: str) -> None:
    """Only PostgreSQL is offered (the name is case-insensitive, as Huawei's path parameter is)."""
    if name.lower() != DATASTORE.lower():
        raise errors.unknown_datastore(name)


def _required(value: T | None, name: str) -> T:
    if value is None or value == "":
        raise errors.missing_parameter(name)
    return value
