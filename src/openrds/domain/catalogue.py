"""What can be bought: regions with zones, specs, PostgreSQL versions, networks and projects.

The catalogue is configuration (a TOML file can replace the defaults). The defaults make both seed
documents' examples work as written: region ``ap-beijing`` with zone ``ap-beijing-4``, spec
``pg.it.small2`` holding 100 GB, project ``1``, ``vpc-8btfafeo``/``subnet-1i9huswn``/``sg-iwnfp51z``,
and the Huawei seed's VPC, subnet and security-group UUIDs. Versions are not configured: they are the
PostgreSQL majors installed on this host, as the engine reports them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openrds.domain.errors import (
    UnknownNetwork,
    UnknownProject,
    UnknownRegion,
    UnknownSpec,
    UnknownVersion,
    UnknownZone,
)

_FLAVOR_NAMESPACE = uuid.UUID("6f1c3f4e-7a43-4c1b-9a59-0b8d2f0e5a11")


@dataclass(frozen=True, slots=True)
class Zone:
    name: str  # ap-beijing-4
    display_name: str
    display_name_zh: str
    zone_id: int


@dataclass(frozen=True, slots=True)
class Region:
    name: str  # ap-beijing
    display_name: str
    display_name_zh: str
    region_id: int
    zones: tuple[Zone, ...]

    def zone(self, name: str) -> Zone:
        for zone in self.zones:
            if zone.name == name:
                return zone
        raise UnknownZone(f"zone {name} is not in region {self.name}", field="zone")


@dataclass(frozen=True, slots=True)
class Spec:
    """A purchasable size. ``readonly_only`` specs (Huawei's ``.rr`` flavors) are for replicas only."""

    code: str
    cpu: int
    memory_mb: int
    max_connections: int
    min_storage_gb: int
    max_storage_gb: int
    qps: int
    monthly_price_cents: int
    hourly_price_cents: int
    readonly_only: bool = False
    primary_only: bool = False

    @property
    def flavor_id(self) -> str:
        """A stable UUID for dialects that name flavors by id (Huawei v1)."""
        return str(uuid.uuid5(_FLAVOR_NAMESPACE, self.code))


@dataclass(frozen=True, slots=True)
class Version:
    major: int  # 15
    full: str  # 15.18

    @property
    def kernel(self) -> str:
        return f"v{self.full}_r1.0"

    @property
    def datastore_id(self) -> str:
        return str(uuid.uuid5(_FLAVOR_NAMESPACE, f"postgresql-{self.full}"))


@dataclass(frozen=True, slots=True)
class Catalogue:
    regions: tuple[Region, ...]
    specs: tuple[Spec, ...]
    versions: tuple[Version, ...]  # newest first
    project_ids: frozenset[int] = frozenset({0, 1})
    vpcs: Mapping[str, frozenset[str]] = field(default_factory=dict)  # vpc id -> subnet ids
    security_groups: frozenset[str] = frozenset()
    storage_step_gb: int = 10
    # Storage prices (``domain.money`` adds them to the spec's): cents per GB-month (prepaid) and,
    # because an hour of one GB costs less than a cent, hundredths of a cent per GB-hour (postpaid).
    storage_gb_month_price_cents: int = 50
    storage_gb_hour_price_centicents: int = 10

    def region(self, name: str) -> Region:
        for region in self.regions:
            if region.name == name:
                return region
        raise UnknownRegion(f"region {name} is not offered", field="region")

    def spec(self, code: str) -> Spec:
        for spec in self.specs:
            if code in (spec.code, spec.flavor_id):
                return spec
        raise UnknownSpec(f"spec {code} is not purchasable", field="spec")

    def version(self, wanted: str | None) -> Version:
        """A version by full (``15.18``), major (``15``) or kernel (``v15.18_r1.0``) name; newest when None."""
        if not self.versions:
            raise UnknownVersion("no PostgreSQL version is installed on this host", field="version")
        if not wanted:
            return self.versions[0]
        for version in self.versions:
            if wanted in (version.full, str(version.major), version.kernel, version.datastore_id):
                return version
        raise UnknownVersion(f"PostgreSQL {wanted} is not installed on this host", field="version")

    def check_project(self, project_id: int) -> None:
        if project_id not in self.project_ids:
            raise UnknownProject(f"project {project_id} does not exist", field="project_id")

    def check_network(self, vpc_id: str, subnet_id: str, security_group_ids: Sequence[str]) -> None:
        if vpc_id and vpc_id not in self.vpcs:
            raise UnknownNetwork(f"VPC {vpc_id} does not exist", field="vpc_id")
        if subnet_id and (not vpc_id or subnet_id not in self.vpcs[vpc_id]):
            raise UnknownNetwork(f"subnet {subnet_id} does not exist in VPC {vpc_id or '(none)'}", field="subnet_id")
        for group in security_group_ids:
            if group not in self.security_groups:
                raise UnknownNetwork(f"security group {group} does not exist", field="security_group_ids")


def _zones(region: str, numbers: Sequence[int], base_id: int, en: str, zh: str) -> tuple[Zone, ...]:
    return tuple(Zone(f"{region}-{n}", f"{en} Zone {n}", f"{zh}{n}区", base_id + n) for n in numbers)


def _huawei_zones(region: str, letters: str, base_id: int, en: str, zh: str) -> tuple[Zone, ...]:
    return tuple(
        Zone(f"{region}{c}", f"{en} AZ{i + 1}", f"{zh}可用区{i + 1}", base_id + i) for i, c in enumerate(letters)
    )


DEFAULT_REGIONS: tuple[Region, ...] = (
    Region(
        "ap-beijing",
        "South China(Beijing)",
        "华北地区(北京)",
        8,
        _zones("ap-beijing", (3, 4, 5, 6, 7), 800000, "Beijing", "北京"),
    ),
    Region(
        "ap-guangzhou",
        "South China(Guangzhou)",
        "华南地区(广州)",
        1,
        _zones("ap-guangzhou", (3, 4, 6, 7), 100000, "Guangzhou", "广州"),
    ),
    Region(
        "ap-shanghai",
        "East China(Shanghai)",
        "华东地区(上海)",
        4,
        _zones("ap-shanghai", (2, 3, 4, 5), 200000, "Shanghai", "上海"),
    ),
    Region(
        "cn-north-1",
        "CN North-Beijing1",
        "华北-北京一",
        101,
        _huawei_zones("cn-north-1", "abc", 1010000, "CN North-Beijing1", "华北-北京一"),
    ),
    Region(
        "cn-north-4",
        "CN North-Beijing4",
        "华北-北京四",
        104,
        _huawei_zones("cn-north-4", "abcg", 1040000, "CN North-Beijing4", "华北-北京四"),
    ),
)


def _spec(code: str, cpu: int, memory_gb: int, conns: int, max_storage: int, monthly_yuan: int, **kw: Any) -> Spec:
    return Spec(
        code=code,
        cpu=cpu,
        memory_mb=memory_gb * 1024,
        max_connections=conns,
        min_storage_gb=10,
        max_storage_gb=max_storage,
        qps=cpu * 2000,
        monthly_price_cents=monthly_yuan * 100,
        hourly_price_cents=max(1, monthly_yuan * 100 // 720),
        **kw,
    )


DEFAULT_SPECS: tuple[Spec, ...] = (
    _spec("pg.it.small2", 1, 2, 100, 1000, 180),
    _spec("pg.it.medium4", 2, 4, 200, 2000, 360),
    _spec("pg.it.large8", 4, 8, 400, 3000, 720),
    _spec("pg.it.xlarge16", 8, 16, 800, 4000, 1440),
    # Huawei-style flavors: ".rr" flavors are read-replica only, the others primary only.
    _spec("rds.pg.s1.large", 2, 4, 200, 4000, 400, primary_only=True),
    _spec("rds.pg.s1.xlarge", 4, 8, 400, 4000, 800, primary_only=True),
    _spec("rds.pg.s1.large.rr", 2, 4, 200, 4000, 400, readonly_only=True),
    _spec("rds.pg.s1.xlarge.rr", 4, 8, 400, 4000, 800, readonly_only=True),
)

DEFAULT_VPCS: dict[str, frozenset[str]] = {
    "vpc-8btfafeo": frozenset({"subnet-1i9huswn"}),
    "490a4a08-ef4b-44c5-94be-3051ef9e4fce": frozenset({"0e2eda62-1d42-4d64-a9d1-4e9aa9cd994f"}),
}
DEFAULT_SECURITY_GROUPS = frozenset({"sg-iwnfp51z", "2a1f7fc8-3307-42a7-aa6f-42c8b9b8f8c5"})


def build_catalogue(versions: Sequence[Version], overrides: Mapping[str, Any] | None = None) -> Catalogue:
    """The default catalogue, with sections replaced by ``overrides`` (parsed TOML) where given."""
    data = dict(overrides or {})
    regions = DEFAULT_REGIONS
    if "regions" in data:
        regions = tuple(
            Region(
                r["name"],
                r.get("display_name", r["name"]),
                r.get("display_name_zh", r["name"]),
                int(r.get("region_id", i + 1)),
                tuple(Zone(z, z, z, (i + 1) * 1000 + j) for j, z in enumerate(r["zones"])),
            )
            for i, r in enumerate(data["regions"])
        )
    specs = DEFAULT_SPECS
    if "specs" in data:
        specs = tuple(Spec(**s) for s in data["specs"])
    vpcs = dict(DEFAULT_VPCS)
    for vpc, subnets in data.get("vpcs", {}).items():
        vpcs[vpc] = frozenset(subnets)
    prices = {
        name: int(data[name])
        for name in ("storage_gb_month_price_cents", "storage_gb_hour_price_centicents")
        if name in data
    }
    for spec in specs:
        if spec.monthly_price_cents <= 0 or spec.hourly_price_cents <= 0:
            raise ValueError(f"spec {spec.code}: monthly_price_cents and hourly_price_cents must be positive")
    if any(value < 0 for value in prices.values()):
        raise ValueError("storage prices must not be negative")
    return Catalogue(
        regions=regions,
        specs=specs,
        versions=tuple(sorted(versions, key=lambda v: v.major, reverse=True)),
        project_ids=frozenset({0, 1, *data.get("project_ids", ())}),
        vpcs=vpcs,
        security_groups=DEFAULT_SECURITY_GROUPS | frozenset(data.get("security_groups", ())),
        **prices,
    )
