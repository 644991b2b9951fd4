"""Domain views in Trove's shapes (`trove/instance/views.py`, `flavor/views.py`, `datastore/views.py`).

Instances are named by their internal UUID (Trove's ids are UUIDs); the Tencent code is accepted on
every path too. Links point at this face's own paths under ``base`` (``…/v1.0/{project_id}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from openrds.api.huawei import presenters as huawei
from openrds.api.trove import fields as f
from openrds.domain.catalogue import Catalogue, Spec, Version
from openrds.domain.model import Instance
from openrds.domain.states import Health, Lifecycle

DATASTORE = "postgresql"
DATASTORE_ID = huawei.DATASTORE_ID  # one id for PostgreSQL in both faces

#: Lifecycle -> Trove status (``trove/common/instance.py`` ServiceStatuses as the API shows them).
#: A promotion waits in ``restarting``: Trove shows its own detach as a short reboot-like state too.
STATUSES: Mapping[Lifecycle, str] = {
    Lifecycle.CREATING: "BUILD",
    Lifecycle.RUNNING: "ACTIVE",
    Lifecycle.RESTARTING: "REBOOT",
    Lifecycle.ISOLATING: "SHUTDOWN",
    Lifecycle.ISOLATED: "SHUTDOWN",
    Lifecycle.DISISOLATING: "REBOOT",
    Lifecycle.DELETING: "SHUTDOWN",
    Lifecycle.DELETED: "SHUTDOWN",
    Lifecycle.FAILED: "ERROR",
    Lifecycle.EXPANDING: "RESIZE",
    Lifecycle.MODIFYING_PARAMETERS: "ACTIVE",  # Trove applies a configuration without leaving ACTIVE
}


def status(item: Instance) -> str:
    """The instance's Trove status; a running one whose server the supervisor finds down is ``SHUTDOWN``."""
    if item.lifecycle is Lifecycle.RUNNING and item.health is Health.DOWN:
        return "SHUTDOWN"
    return STATUSES.get(item.lifecycle, item.lifecycle.value.upper())


def timestamp(when: datetime) -> str:
    """Trove's times: ``2024-06-18T19:21:50`` (UTC, no zone)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _links(base: str, kind: str, ident: str) -> list[f.Link]:
    return [{"href": f"{base}/{kind}/{ident}", "rel": "self"}, {"href": f"{base}/{kind}/{ident}", "rel": "bookmark"}]


def _ref(base: str, kind: str, ident: str) -> f.Ref:
    return {"id": ident, "links": _links(base, kind, ident)}


def flavor_id(catalogue: Catalogue, spec_code: str) -> str:
    for spec in catalogue.specs:
        if spec.code == spec_code:
            return spec.flavor_id
    return spec_code  # a spec dropped from the catalogue since: its code is all we know


def instance_body(item: Instance, catalogue: Catalogue, base: str, replicas: Sequence[str] = (),
                  master_id: str | None = None) -> f.Instance:
    body: f.Instance = {
        "id": item.id,
        "name": item.name,
        "status": status(item),
        "operating_status": "HEALTHY" if item.health is Health.UP else "",
        "links": _links(base, "instances", item.id),
        "flavor": _ref(base, "flavors", flavor_id(catalogue, item.spec_code)),
        "datastore": {"type": DATASTORE, "version": item.version},
        "volume": {"size": item.storage_gb},
        "region": item.region,
        "ip": [item.host] if item.host else [],
        "addresses": [{"address": item.host, "type": "private"}] if item.host else [],
        "hostname": item.host,
        "port": item.port,
        "access": {"is_public": False},
        "created": timestamp(item.created_at),
        "updated": timestamp(item.updated_at),
    }
    if item.master_id:
        body["replica_of"] = _ref(base, "instances", master_id or item.master_id)
    if replicas:
        body["replicas"] = [_ref(base, "instances", r) for r in replicas]
    return body


def instance(item: Instance, catalogue: Catalogue, base: str, replicas: Sequence[str] = ()) -> f.InstanceResponse:
    return {"instance": instance_body(item, catalogue, base, replicas)}


def instances(items: Sequence[Instance], catalogue: Catalogue, base: str) -> f.InstancesResponse:
    """The list; each master names its replicas among ``items`` (the whole project's list)."""
    replicas: dict[str, list[str]] = {}
    for item in items:
        if item.master_id:
            replicas.setdefault(item.master_id, []).append(item.id)
    return {"instances": [instance_body(i, catalogue, base, replicas.get(i.id, ())) for i in items], "links": []}


def flavor(spec: Spec, base: str) -> f.Flavor:
    """``id`` is the spec's flavor UUID (also in ``str_id``, where Trove puts non-integer ids); ``name``
    the spec code, which ``flavorRef`` accepts as well."""
    return {"id": spec.flavor_id, "str_id": spec.flavor_id, "name": spec.code, "ram": spec.memory_mb,
            "vcpus": spec.cpu, "disk": spec.min_storage_gb, "links": _links(base, "flavors", spec.flavor_id)}


def flavors(specs: Iterable[Spec], base: str) -> f.FlavorsResponse:
    return {"flavors": [flavor(s, base) for s in specs]}


def version(v: Version, base: str) -> f.DatastoreVersion:
    return {"id": v.datastore_id, "name": v.full, "datastore": DATASTORE_ID, "active": True,
            "links": _links(base, "datastores/versions", v.datastore_id)}


def versions(items: Iterable[Version], base: str) -> f.VersionsResponse:
    return {"versions": [version(v, base) for v in items]}


def datastore(items: Sequence[Version], base: str) -> f.Datastore:
    return {"id": DATASTORE_ID, "name": DATASTORE, "default_version": items[0].datastore_id if items else "",
            "versions": [version(v, base) for v in items], "links": _links(base, "datastores", DATASTORE_ID)}


def datastores(items: Sequence[Version], base: str) -> f.DatastoresResponse:
    return {"datastores": [datastore(items, base)]}
