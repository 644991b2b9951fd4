"""The /metrics collector: reads the monitor's snapshot and the in-memory inventory and counters.

Nothing here touches a database or a server: a scrape costs the same whether PostgreSQL servers are
slow, down or many. Names carry the ``openrds_`` prefix and base units (bytes, seconds); labels are
bounded: tenant names, instance and group ids, job kinds, API faces, actions and error codes; never
request ids. Replicas' lag is reported for every link the monitor sees, cascades included (their
``upstream_id`` is the replica they stream from).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from openrds.metrics.backups import backup_metrics
from openrds.metrics.inventory import Inventory, InventoryTracker
from openrds.metrics.stats import HistogramSet
from openrds.monitoring.snapshot import Snapshot

#: pg_stat_replication.state values, plus "absent" (the upstream does not list the replica).
SENDER_STATES = ("startup", "catchup", "streaming", "backup", "stopping", "absent")
#: pg_replication_slots.wal_status values (PostgreSQL 13+); "lost": invalidated, the replica must be re-created.
SLOT_WAL_STATUSES = ("reserved", "extended", "unreserved", "lost")

INSTANCE = ["tenant", "instance_id", "role"]
LINK = ["tenant", "instance_id", "upstream_id"]


class AnswerCounts(Protocol):
    """How often a face's answer cache served an answer again, had to compute one, or took one another
    request was computing
    (what `openrds.api.answers.AnswerCache` counts; declared here so that metrics imports nothing of
    the faces it counts)."""

    @property
    def hits(self) -> int: ...

    @property
    def misses(self) -> int: ...

    @property
    def coalesced(self) -> int: ...


class OpenRDSCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot], inventory: InventoryTracker, jobs: HistogramSet,
                 requests: HistogramSet) -> None:
        self._snapshot = snapshot
        self._inventory = inventory
        self._jobs = jobs
        self._requests = requests
        self._answer_counts: dict[str, AnswerCounts] = {}  # by face

    def count_answers(self, face: str, counts: AnswerCounts) -> None:
        """Report ``face``'s answer cache from now on (``openrds_api_answers_*``)."""
        self._answer_counts[face] = counts

    def describe(self) -> Iterator[Metric]:
        # Nothing: otherwise registering would run collect() once to learn the names.
        return iter(())

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        inv = self._inventory.current()
        yield from self._instances(snap, inv)
        yield from self._links(snap, inv)
        yield from self._groups(inv)
        yield from self._job_metrics(inv)
        yield from self._request_metrics()
        yield from backup_metrics(inv.stanzas)
        monitor_ts = GaugeMetricFamily("openrds_monitor_last_round_timestamp_seconds",
                                       "When the replication monitor finished its last round (Unix time).")
        monitor_ts.add_metric([], snap.taken_at.timestamp())
        yield monitor_ts
        monitor_dur = GaugeMetricFamily("openrds_monitor_round_duration_seconds",
                                        "How long the replication monitor's last round took.")
        monitor_dur.add_metric([], snap.round_seconds)
        yield monitor_dur

    # --- per instance ------------------------------------------------------------------------------
    def _instances(self, snap: Snapshot, inv: Inventory) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "openrds_instance_info", "Always 1: an instance with its role, upstream, version, spec and status.",
            labels=["tenant", "instance_id", "role", "upstream_id", "version", "spec", "status"])
        for known in inv.instances.values():
            info.add_metric([inv.tenant(known.tenant_id), known.code, known.role, known.upstream, known.version,
                             known.spec, known.status], 1)
        up = GaugeMetricFamily("openrds_instance_up",
                               "1 when the instance's server answered the monitor's last round, else 0.",
                               labels=INSTANCE)
        recovery = GaugeMetricFamily("openrds_instance_in_recovery",
                                     "1 when the server is a standby in recovery (a replica), 0 when writable.",
                                     labels=INSTANCE)
        connections = GaugeMetricFamily("openrds_instance_connections", "Client connections to the server.",
                                        labels=INSTANCE)
        limit = GaugeMetricFamily("openrds_instance_max_connections", "The server's max_connections setting.",
                                  labels=INSTANCE)
        size = GaugeMetricFamily("openrds_instance_database_size_bytes",
                                 "Size of all the server's databases together, bytes.", labels=INSTANCE)
        receiver = GaugeMetricFamily("openrds_wal_receiver_up",
                                     "Replicas: 1 when the WAL receiver is streaming from the upstream, else 0.",
                                     labels=INSTANCE)
        for code, server in snap.servers.items():
            facts = inv.instances.get(code)
            role = facts.role if facts is not None else ("readonly" if code in snap.links else "primary")
            labels = [inv.tenant(server.tenant_id), code, role]
            up.add_metric(labels, 1 if server.up else 0)
            if not server.up:
                continue
            if server.in_recovery is not None:
                recovery.add_metric(labels, 1 if server.in_recovery else 0)
            if server.connections is not None:
                connections.add_metric(labels, server.connections)
            if server.max_connections is not None:
                limit.add_metric(labels, server.max_connections)
            if server.database_size_bytes is not None:
                size.add_metric(labels, server.database_size_bytes)
            if server.in_recovery:
                receiver.add_metric(labels, 1 if server.wal_receiver_status == "streaming" else 0)
        yield from (info, up, recovery, connections, limit, size, receiver)

    # --- per replica (link to its upstream) --------------------------------------------------------
    def _links(self, snap: Snapshot, inv: Inventory) -> Iterator[Metric]:
        lag_bytes = GaugeMetricFamily(
            "openrds_replication_lag_bytes",
            "Bytes of WAL the replica has not replayed: upstream's current position minus the replica's replay "
            "position.", labels=LINK)
        lag_seconds = GaugeMetricFamily(
            "openrds_replication_lag_seconds",
            "How long ago the upstream stood where the replica has replayed to; 0 when it has replayed everything.",
            labels=LINK)
        sent = GaugeMetricFamily(
            "openrds_wal_sender_sent_lag_bytes",
            "Sender's view: bytes of WAL the upstream has not yet sent to the replica (pg_stat_replication.sent_lsn).",
            labels=LINK)
        backlog = GaugeMetricFamily(
            "openrds_wal_receiver_replay_lag_bytes",
            "Receiver's view: bytes the replica has received but not yet replayed (receive LSN minus replay LSN).",
            labels=LINK)
        # A state set, written as the text format writes one: a gauge per state, 1 for the current one.
        # (GaugeMetricFamily directly: StateSetMetricFamily costs ~10 ms a scrape with 400 replicas.)
        state = GaugeMetricFamily(
            "openrds_wal_sender_state",
            "The upstream's WAL sender state for the replica (pg_stat_replication.state; absent when not listed).",
            labels=[*LINK, "openrds_wal_sender_state"])
        retained = GaugeMetricFamily(
            "openrds_replication_slot_retained_bytes",
            "WAL the replica's replication slot on its upstream keeps from being recycled, bytes.", labels=LINK)
        active = GaugeMetricFamily("openrds_replication_slot_active",
                                   "1 when the replica's replication slot on its upstream is in use, else 0.",
                                   labels=LINK)
        wal_status = GaugeMetricFamily(
            "openrds_replication_slot_wal_status",
            "The replica's slot on its upstream by pg_replication_slots.wal_status, 1 for the current one: reserved "
            "or extended (WAL kept), unreserved (past max_slot_wal_keep_size: lost at the next checkpoint unless "
            "it catches up), lost (invalidated: the replica can never catch up and must be re-created).",
            labels=[*LINK, "openrds_replication_slot_wal_status"])
        safe_wal = GaugeMetricFamily(
            "openrds_replication_slot_safe_wal_bytes",
            "WAL the upstream can still write before the replica's slot is lost (pg_replication_slots."
            "safe_wal_size), bytes; absent when unlimited or lost.", labels=LINK)
        for code, link in snap.links.items():
            server = snap.servers.get(code)
            tenant_id = server.tenant_id if server is not None else ""
            facts = inv.instances.get(code)
            if facts is not None:
                tenant_id = facts.tenant_id
            labels = [inv.tenant(tenant_id), code, link.source]
            if link.lag_bytes is not None:
                lag_bytes.add_metric(labels, link.lag_bytes)
            if link.lag_seconds is not None:
                lag_seconds.add_metric(labels, link.lag_seconds)
            upstream = snap.servers.get(link.source)
            if upstream is not None and upstream.current_lsn is not None and link.sent_lsn is not None:
                sent.add_metric(labels, max(0, upstream.current_lsn - link.sent_lsn))
            if server is not None and server.up and server.current_lsn is not None and server.replay_lsn is not None:
                backlog.add_metric(labels, max(0, server.current_lsn - server.replay_lsn))
            for name in SENDER_STATES:
                state.add_metric([*labels, name], 1 if name == link.state else 0)
            if link.slot_retained_bytes is not None:
                retained.add_metric(labels, link.slot_retained_bytes)
            if link.slot_active is not None:
                active.add_metric(labels, 1 if link.slot_active else 0)
            if link.slot_wal_status is not None:
                for name in SLOT_WAL_STATUSES:
                    wal_status.add_metric([*labels, name], 1 if name == link.slot_wal_status else 0)
            if link.slot_safe_wal_bytes is not None:
                safe_wal.add_metric(labels, link.slot_safe_wal_bytes)
        yield from (lag_bytes, lag_seconds, sent, backlog, state, retained, active, wal_status, safe_wal)

    # --- read-only groups --------------------------------------------------------------------------
    def _groups(self, inv: Inventory) -> Iterator[Metric]:
        info = GaugeMetricFamily("openrds_group_info",
                                 "Always 1: a read-only group with its master and endpoint (host:port).",
                                 labels=["tenant", "group_id", "master_id", "endpoint"])
        members = GaugeMetricFamily("openrds_group_members",
                                    "Members of a read-only group by place: in_rotation or evicted.",
                                    labels=["tenant", "group_id", "status"])
        for group in inv.groups:
            tenant = inv.tenant(group.tenant_id)
            info.add_metric([tenant, group.id, group.master, group.endpoint], 1)
            members.add_metric([tenant, group.id, "in_rotation"], group.in_rotation)
            members.add_metric([tenant, group.id, "evicted"], group.evicted)
        evicted, readmitted = self._inventory.evictions()
        evictions = CounterMetricFamily("openrds_group_evictions",
                                        "Members taken out of a group's rotation (lag or fault), since the service "
                                        "started.", labels=["tenant", "group_id"])
        readmissions = CounterMetricFamily("openrds_group_readmissions",
                                           "Evicted members put back into a group's rotation, since the service "
                                           "started.", labels=["tenant", "group_id"])
        for (tenant_id, group_id), n in sorted(evicted.items()):
            evictions.add_metric([inv.tenant(tenant_id), group_id], n)
        for (tenant_id, group_id), n in sorted(readmitted.items()):
            readmissions.add_metric([inv.tenant(tenant_id), group_id], n)
        yield from (info, members, evictions, readmissions)

    # --- jobs --------------------------------------------------------------------------------------
    def _job_metrics(self, inv: Inventory) -> Iterator[Metric]:
        unfinished = GaugeMetricFamily("openrds_jobs_unfinished",
                                       "Jobs not finished yet by kind and state (pending, running, undoing).",
                                       labels=["kind", "state"])
        for (kind, state), n in sorted(inv.unfinished_jobs.items()):
            unfinished.add_metric([kind, state], n)
        total = CounterMetricFamily("openrds_jobs", "Jobs finished by kind and outcome (succeeded, failed), since "
                                    "the service started.", labels=["kind", "outcome"])
        duration = HistogramMetricFamily("openrds_job_duration_seconds",
                                         "Time from a job's start to its end, by kind and outcome.",
                                         labels=["kind", "outcome"])
        for labels, buckets, count, total_seconds in sorted(self._jobs.snapshot()):
            total.add_metric(list(labels), count)
            duration.add_metric(list(labels), buckets, total_seconds)
        yield from (unfinished, total, duration)

    # --- API requests ------------------------------------------------------------------------------
    def _request_metrics(self) -> Iterator[Metric]:
        total = CounterMetricFamily("openrds_api_requests",
                                    "API requests answered, by face (tencent, huawei, huawei-iam), action and error "
                                    "code (OK for success).", labels=["face", "action", "code"])
        latency = HistogramMetricFamily("openrds_api_request_duration_seconds",
                                        "Time to answer an API request, by face, action and error code.",
                                        labels=["face", "action", "code"])
        for labels, buckets, count, seconds in sorted(self._requests.snapshot()):
            total.add_metric(list(labels), count)
            latency.add_metric(list(labels), buckets, seconds)
        yield from (total, latency)
        reused = CounterMetricFamily("openrds_api_answers_reused",
                                     "Answers of read-only calls served again because nothing was committed since "
                                     "they were computed, by face.", labels=["face"])
        computed = CounterMetricFamily("openrds_api_answers_computed",
                                       "Answers of read-only calls that had to be computed (not in the answer cache), "
                                       "by face.", labels=["face"])
        coalesced = CounterMetricFamily("openrds_api_answers_coalesced",
                                        "Answers of read-only calls taken from another request that was computing "
                                        "the same answer at the same moment, by face.", labels=["face"])
        for face, counts in sorted(self._answer_counts.items()):
            reused.add_metric([face], counts.hits)
            computed.add_metric([face], counts.misses)
            coalesced.add_metric([face], counts.coalesced)
        yield from (reused, computed, coalesced)
