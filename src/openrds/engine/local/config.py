"""postgresql.conf settings computed from a spec.

Memory follows the usual rules of thumb (shared_buffers ~25% of the instance's memory,
effective_cache_size ~75%) with clamps that keep the smallest specs small at idle: an idle server's
resident memory is mostly the shared memory PostgreSQL zeroes at start (buffer descriptors, WAL
buffers, lock tables), which grows with shared_buffers and max_connections.
"""

from __future__ import annotations

from collections.abc import Mapping

from openrds.engine.driver import ServerSpec
from openrds.engine.local.files import SettingValue

# A standby refuses to start when one of these is lower than on its source (the values size shared
# structures that must hold everything the WAL stream can refer to), so a replica gets the maximum
# of its own spec's value and its source's.
REPLICA_FLOOR_SETTINGS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)

MIN_SHARED_BUFFERS_MB = 16
MAX_SHARED_BUFFERS_MB = 64 * 1024
# WAL senders and slots: replicas, cascades, and the two connections of a running pg_basebackup.
WAL_SENDERS = 16
REPLICATION_SLOTS = 16

# max_slot_wal_keep_size: the most WAL the replication slots on a server may hold back. Without it
# (PostgreSQL's -1) a replica that is stopped, broken or far behind keeps every WAL segment since its
# position on its upstream, until the upstream's disk is full and the upstream - a primary with all
# its other replicas - goes down. With it, such a slot is invalidated instead (wal_status "lost")
# and only that replica has to be re-created. The size is a tenth of the instance's storage quota:
# WAL on disk can then reach about max_wal_size (1 GB) plus this, which leaves ~80% of even the
# smallest instance (10 GB) to its data, while the larger instances, which write more, get
# proportionally more time for a replica to come back (100 GB keeps 10 GB: hours of a busy server's
# WAL). The floor of 1 GB (64 segments) keeps a replica that is restarting or briefly cut off from
# losing its slot on a small instance, and applies when the storage quota is unknown.
# OPENRDS_MAX_SLOT_WAL_KEEP_MB overrides it for every server (tests set it small).
SLOT_WAL_KEEP_PERCENT = 10
MIN_SLOT_WAL_KEEP_MB = 1024
SLOT_LIMIT_MAJOR = 13  # first version with max_slot_wal_keep_size
# An idle primary switches WAL at least this often, so its archive (the recovery window's end) is at
# most this far behind its last commit.
ARCHIVE_TIMEOUT = 60


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _mb(value: int) -> SettingValue:
    return value if value < 0 else f"{value}MB"  # -1: unlimited


def slot_wal_keep_mb(spec: ServerSpec, override: int | None = None) -> int:
    """max_slot_wal_keep_size in MB for a server of ``spec`` (see `SLOT_WAL_KEEP_PERCENT`).

    :param override: the operator's value (MB, or -1 for unlimited), used as it is; None: computed.
    """
    if override is not None:
        return override
    return max(MIN_SLOT_WAL_KEEP_MB, spec.storage_gb * 1024 * SLOT_WAL_KEEP_PERCENT // 100)


def server_settings(
    spec: ServerSpec,
    *,
    instance_id: str,
    port: int,
    listen_addresses: str,
    socket_dir: str,
    floor: Mapping[str, int] | None = None,
    major_version: int | None = None,
    max_slot_wal_keep_mb: int | None = None,
    archive_command: str | None = None,
) -> dict[str, SettingValue]:
    """Every setting OpenRDS manages for one server.

    :param floor: for a replica, its source's values of `REPLICA_FLOOR_SETTINGS`; each setting
        becomes the maximum of the spec's value and the floor.
    :param major_version: the server's PostgreSQL major; settings it does not know are left out.
        None: a version that knows them all.
    :param max_slot_wal_keep_mb: the operator's cap on WAL held by slots (MB, -1: unlimited); None:
        `slot_wal_keep_mb` of the spec.
    :param archive_command: the command that archives a WAL segment (pgBackRest ``archive-push``):
        ``archive_mode`` on with it and ``archive_timeout`` (`ARCHIVE_TIMEOUT`); None: no archiving.
        A standby archives nothing (``archive_mode=on``, not ``always``) until it is promoted.
    """
    memory = max(spec.memory_mb, 64)
    shared_buffers = _clamp(memory // 4, MIN_SHARED_BUFFERS_MB, MAX_SHARED_BUFFERS_MB)
    # WAL buffers default to shared_buffers/32 (up to 16 MB) and are zeroed at start, so they are
    # resident from the first second: the largest part of an idle small server. 1/128 still gives
    # a 2 GB instance 4 MB ("a few MB" is what the documentation asks for busy servers) and
    # reaches the same 16 MB cap from 8 GB up.
    wal_buffers_kb = _clamp(shared_buffers * 1024 // 128, 1024, 16 * 1024)
    cpu = max(spec.cpu, 1)
    per_query = (memory - shared_buffers) * 1024 // max(spec.max_connections * 3, 1)
    sized: dict[str, int] = {
        "max_connections": spec.max_connections,
        "max_worker_processes": max(8, cpu),
        "max_wal_senders": WAL_SENDERS,
        "max_prepared_transactions": 0,
        "max_locks_per_transaction": 64,
    }
    for name, value in (floor or {}).items():
        if name in sized:
            sized[name] = max(sized[name], value)
    return {
        "cluster_name": instance_id,  # shown in process titles: which tenant's server a process is
        "listen_addresses": listen_addresses,
        "port": port,
        "unix_socket_directories": socket_dir,
        "unix_socket_permissions": "0700",  # only the service (and root) use the socket
        "password_encryption": "scram-sha-256",
        **sized,
        "superuser_reserved_connections": 3,
        "shared_buffers": f"{shared_buffers}MB",
        "effective_cache_size": f"{max(memory * 3 // 4, shared_buffers)}MB",
        "wal_buffers": f"{wal_buffers_kb}kB",
        "work_mem": f"{_clamp(per_query, 1024, 256 * 1024)}kB",
        "maintenance_work_mem": f"{_clamp(memory // 16, 16, 2048)}MB",
        "max_parallel_workers": cpu,
        "max_parallel_workers_per_gather": _clamp(cpu // 2, 0, 4),
        "wal_level": "replica",
        "max_replication_slots": REPLICATION_SLOTS,
        "wal_keep_size": 0,  # replicas hold WAL through their slots
        **(
            {"max_slot_wal_keep_size": _mb(slot_wal_keep_mb(spec, max_slot_wal_keep_mb))}
            if major_version is None or major_version >= SLOT_LIMIT_MAJOR
            else {}
        ),
        "hot_standby": True,
        **(
            {"archive_mode": True, "archive_command": archive_command, "archive_timeout": ARCHIVE_TIMEOUT}
            if archive_command
            else {}
        ),
        # Commit times are readable (pg_xact_commit_timestamp): a backup fence returns its exact commit
        # time, and a point-in-time target can be chosen between two known commits.
        "track_commit_timestamp": True,
        "dynamic_shared_memory_type": "posix",
        "logging_collector": False,  # stderr goes to the pg_ctl log file; no extra process
        "log_line_prefix": "%m [%p] %q%u@%d ",
        "log_timezone": "UTC",
        "timezone": "UTC",
        "datestyle": "iso, ymd",
        "lc_messages": "C",  # English: the engine reads PostgreSQL's messages
        "lc_monetary": "C",
        "lc_numeric": "C",
        "lc_time": "C",
        "default_text_search_config": "pg_catalog.english",
    }
