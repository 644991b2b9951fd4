"""Response shapes of the Huawei RDS v3 face, as TypedDicts for the presenters.

Field names and types are those of ``huaweicloudsdkrds.v3.model`` (3.1.219): the SDK fills its
models from these keys, drops unknown ones silently and leaves missing ones None, so a misspelt key
here would be a field no client ever sees - mypy catches it in :mod:`.presenters` instead. Mixed
spellings are the SDK's own (``dataStores`` beside ``flavor_ref``).
"""

# No ``from __future__ import annotations``: like ``api/huawei/fields.py``, so ``NotRequired`` is seen at
# run time. Classes are defined before use.
from typing import NotRequired, TypedDict


class ErrorResponse(TypedDict):
    """Every error: the SDK reads ``error_code``/``error_msg`` (and the request id from ``X-Request-Id``)."""

    error_code: str
    error_msg: str


class LDatastore(TypedDict):
    id: str
    # The version, e.g. "16".
    name: str


class ListDatastoresResponse(TypedDict):
    # camelCase, as the SDK's attribute_map says.
    dataStores: list[LDatastore]


class Flavor(TypedDict):
    id: str
    # CPUs, as text.
    vcpus: str
    # Memory, GB.
    ram: int
    spec_code: str
    # single (a primary's flavor) or replica (a read replica's).
    instance_mode: str
    # zone -> "normal".
    az_status: dict[str, str]
    az_desc: dict[str, str]
    # The major versions the flavor serves.
    version_name: list[str]
    group_type: str


class ListFlavorsResponse(TypedDict):
    flavors: list[Flavor]


class Datastore(TypedDict):
    # "PostgreSQL".
    type: str
    # The major version, e.g. "16".
    version: str
    # The full version, e.g. "16.4".
    complete_version: str


class Volume(TypedDict):
    # ULTRAHIGH, CLOUDSSD, ESSD, ... (v1's COMMON, HIGH too: one vocabulary for both APIs).
    type: str
    # GB.
    size: int


class BackupStrategy(TypedDict):
    # A one-hour window, "hh:mm-HH:MM" (UTC).
    start_time: str
    keep_days: int


class ChargeInfo(TypedDict):
    # postPaid or prePaid.
    charge_mode: str


class RelatedInstance(TypedDict):
    id: str
    # replica_of (the primary this replica follows) or replica (a read replica of this primary).
    type: str


class Node(TypedDict):
    id: str
    name: str
    # master or readreplica.
    role: str
    # active, build, failed, ...
    status: str
    availability_zone: str


class Instance(TypedDict):
    """One instance in ``list_instances`` (the SDK's ``InstanceResponse``)."""

    id: str
    name: str
    # BUILD, ACTIVE, FAILED, REBOOTING, MODIFYING, SHUTDOWN, DELETING (v1's vocabulary, the same in v3).
    status: str
    # Single or Replica (Ha: a primary/standby pair, which this host does not offer).
    type: str
    private_ips: list[str]
    public_ips: list[str]
    port: int
    created: str
    updated: str
    db_user_name: str
    datastore: Datastore
    flavor_ref: str
    cpu: str
    # GB, as text.
    mem: str
    volume: Volume
    region: str
    vpc_id: str
    subnet_id: str
    security_group_id: str
    backup_strategy: BackupStrategy
    charge_info: ChargeInfo
    enterprise_project_id: str
    time_zone: str
    enable_ssl: bool
    read_only_by_user: bool
    maintenance_window: str
    switch_strategy: str
    related_instance: list[RelatedInstance]
    nodes: list[Node]
    tags: list[dict[str, str]]
    alias: str
    # Why the instance is not healthy (this host's addition; the SDK ignores it).
    status_reason: NotRequired[str]


class ListInstancesResponse(TypedDict):
    instances: list[Instance]
    total_count: int


class CreatedInstance(TypedDict):
    """The instance in ``create_instance``'s answer (the SDK's ``CreateInstanceRespItem``)."""

    id: str
    name: str
    # BUILD.
    status: str
    datastore: Datastore
    flavor_ref: str
    volume: Volume
    region: str
    availability_zone: str
    # The port, as text (the SDK's type for this item).
    port: str
    vpc_id: str
    subnet_id: str
    security_group_id: str
    backup_strategy: BackupStrategy
    charge_info: ChargeInfo


class CreateInstanceResponse(TypedDict):
    instance: CreatedInstance
    job_id: str
    # prePaid creations: the order.
    order_id: NotRequired[str]


class JobIdResponse(TypedDict):
    """``delete_instance`` and ``start_instance_restart_action`` (202)."""

    job_id: str


class ReplicationStatus(TypedDict):
    """``show_replication_status``."""

    # normal or abnormal.
    replication_status: str
    # Empty when normal.
    abnormal_reason: str
