"""The /metrics collector over a made-up snapshot and a real store (no PostgreSQL server): names, HELP,
labels and values; nothing read from the store at scrape time; eviction counting; job and request
histograms; the bounded lag history."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from tests.console import rows
from tests.support.service import destroy_servers

from openrds.api.app import create_app
from openrds.container import Container, build
from openrds.domain.ids import new_job_id
from openrds.domain.model import Instance, Job, ReadOnlyGroup
from openrds.domain.states import JobState, MemberStatus
from openrds.metrics import Metrics, listener_app
from openrds.metrics.history import LagHistory
from openrds.metrics.stats import HistogramSet
from openrds.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from fastapi.testclient import TestClient

Families = dict[str, list[Sample]]

#: Every family and its label names (besides histogram ``le`` and the stateset's own label).
LABELS = {
    "openrds_instance_info": {"tenant", "instance_id", "role", "upstream_id", "version", "spec", "status"},
    "openrds_instance_up": {"tenant", "instance_id", "role"},
    "openrds_instance_in_recovery": {"tenant", "instance_id", "role"},
    "openrds_instance_connections": {"tenant", "instance_id", "role"},
    "openrds_instance_max_connections": {"tenant", "instance_id", "role"},
    "openrds_instance_database_size_bytes": {"tenant", "instance_id", "role"},
    "openrds_wal_receiver_up": {"tenant", "instance_id", "role"},
    "openrds_replication_lag_bytes": {"tenant", "instance_id", "upstream_id"},
    "openrds_replication_lag_seconds": {"tenant", "instance_id", "upstream_id"},
    "openrds_wal_sender_sent_lag_bytes": {"tenant", "instance_id", "upstream_id"},
    "openrds_wal_receiver_replay_lag_bytes": {"tenant", "instance_id", "upstream_id"},
    "openrds_wal_sender_state": {"tenant", "instance_id", "upstream_id", "openrds_wal_sender_state"},
    "openrds_replication_slot_retained_bytes": {"tenant", "instance_id", "upstream_id"},
    "openrds_replication_slot_active": {"tenant", "instance_id", "upstream_id"},
    "openrds_replication_slot_wal_status": {"tenant", "instance_id", "upstream_id",
                                            "openrds_replication_slot_wal_status"},
    "openrds_replication_slot_safe_wal_bytes": {"tenant", "instance_id", "upstream_id"},
    "openrds_group_info": {"tenant", "group_id", "master_id", "endpoint"},
    "openrds_group_members": {"tenant", "group_id", "status"},
    "openrds_group_evictions": {"tenant", "group_id"},
    "openrds_group_readmissions": {"tenant", "group_id"},
    "openrds_jobs_unfinished": {"kind", "state"},
    "openrds_jobs": {"kind", "outcome"},
    "openrds_job_duration_seconds": {"kind", "outcome"},
    "openrds_api_requests": {"face", "action", "code"},
    "openrds_api_request_duration_seconds": {"face", "action", "code"},
    "openrds_api_answers_reused": {"face"},
    "openrds_api_answers_computed": {"face"},
    "openrds_api_answers_coalesced": {"face"},
    "openrds_monitor_last_round_timestamp_seconds": set(),
    "openrds_monitor_round_duration_seconds": set(),
    "openrds_backup_archive_failing": {"tenant", "instance_id"},
    "openrds_backup_archive_failures": {"tenant", "instance_id"},
    "openrds_backup_archive_lag_segments": {"tenant", "instance_id"},
    "openrds_backup_repository_bytes": {"tenant", "instance_id"},
    "openrds_backup_recovery_window_end_timestamp_seconds": {"tenant", "instance_id"},
}


@pytest.fixture
def container() -> Iterator[Container]:
    root = Path(tempfile.mkdtemp(prefix="ordm-"))
    built = build(Settings(data_dir=root / "data"))
    try:
        yield built
    finally:
        built.stop()
        destroy_servers(root / "data")
        shutil.rmtree(root, ignore_errors=True)


def parse(text: str) -> Families:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def one(families: Families, name: str, **labels: str) -> float:
    family = name.removesuffix("_total").removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
    found = [s.value for s in families.get(family, []) if s.name == name
             and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


@dataclass
class Estate:
    primary: Instance
    replica: Instance  # in the group, in rotation
    evicted: Instance  # in the group, evicted
    cascade: Instance  # streams from the replica
    group: ReadOnlyGroup

    @property
    def all(self) -> list[Instance]:
        return [self.primary, self.replica, self.evicted, self.cascade]


def estate(container: Container) -> Estate:
    tenant = container.identity.create_tenant("alpha")
    primary = rows.primary(tenant.id)
    group = rows.group(primary)
    replica = rows.member(rows.replica(primary), group)
    made = Estate(primary, replica, rows.member(rows.replica(primary), group, MemberStatus.EVICTED),
                  rows.replica(replica), group)
    with container.store.write() as uow:
        for instance in made.all:
            uow.instances(tenant.id).add(instance)
        uow.groups(tenant.id).add(group)
    return made


def test_exposition_from_a_snapshot(container: Container) -> None:
    e = estate(container)
    p, r, x, c = e.primary, e.replica, e.evicted, e.cascade
    snap = rows.snapshot(e.all, lag={r.code: (1_048_576, 1.5), c.code: (4096, 0.2)}, down=(x.code,))
    metrics = Metrics(lambda: snap, container.store)
    metrics.inventory.refresh()
    families = parse(metrics.render()[0].decode())
    assert set(families) == set(LABELS), set(families) ^ set(LABELS)
    for name, samples in families.items():
        for sample in samples:
            assert set(sample.labels) - {"le"} == LABELS[name], (name, sample)
    for family in text_string_to_metric_families(metrics.render()[0].decode()):
        assert family.documentation, family.name
    assert one(families, "openrds_instance_up", tenant="alpha", instance_id=p.code, role="primary") == 1
    assert one(families, "openrds_instance_up", instance_id=x.code, role="readonly") == 0
    assert "openrds_instance_connections" not in str([s for s in families["openrds_instance_connections"]
                                                      if s.labels["instance_id"] == x.code])
    assert one(families, "openrds_instance_in_recovery", instance_id=c.code) == 1
    assert one(families, "openrds_instance_info", instance_id=c.code, upstream_id=r.code) == 1
    assert one(families, "openrds_replication_lag_bytes", instance_id=r.code, upstream_id=p.code) == 1_048_576
    assert one(families, "openrds_replication_lag_seconds", instance_id=c.code, upstream_id=r.code) == 0.2
    assert one(families, "openrds_wal_receiver_replay_lag_bytes", instance_id=r.code) == 1_048_576
    assert one(families, "openrds_wal_sender_state", instance_id=x.code, openrds_wal_sender_state="absent") == 1
    assert one(families, "openrds_wal_sender_state", instance_id=r.code, openrds_wal_sender_state="streaming") == 1
    assert one(families, "openrds_replication_slot_active", instance_id=x.code) == 0
    group = e.group
    assert one(families, "openrds_group_members", group_id=group.id, status="in_rotation") == 1
    assert one(families, "openrds_group_members", group_id=group.id, status="evicted") == 1
    assert one(families, "openrds_group_info", group_id=group.id, master_id=p.code,
               endpoint=f"{group.host}:{group.port}") == 1


def test_slot_wal_status_is_a_state_set_and_safe_wal_a_gauge(container: Container) -> None:
    e = estate(container)
    r, c, x = e.replica, e.cascade, e.evicted
    snap = rows.snapshot(e.all, down=(x.code,))
    links = dict(snap.links)
    links[r.code] = replace(links[r.code], slot_wal_status="reserved", slot_safe_wal_bytes=1_000_000_000)
    links[c.code] = replace(links[c.code], slot_wal_status="lost", slot_safe_wal_bytes=None, slot_active=False)
    snap = replace(snap, links=links)
    metrics = Metrics(lambda: snap, container.store)
    metrics.inventory.refresh()
    families = parse(metrics.render()[0].decode())
    status = "openrds_replication_slot_wal_status"
    for code, upstream, current in ((r.code, e.primary.code, "reserved"), (c.code, r.code, "lost")):
        for name in ("reserved", "extended", "unreserved", "lost"):
            assert one(families, status, tenant="alpha", instance_id=code, upstream_id=upstream,
                       **{status: name}) == (1 if name == current else 0)
    assert not [s for s in families[status] if s.labels["instance_id"] == x.code]  # not reported: no series
    safe = families["openrds_replication_slot_safe_wal_bytes"]
    assert [(s.labels["instance_id"], s.value) for s in safe] == [(r.code, 1_000_000_000)]


def test_a_scrape_reads_nothing_from_the_store(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    e = estate(container)
    snap = rows.snapshot(e.all)
    metrics = Metrics(lambda: snap, container.store)
    metrics.inventory.refresh()

    def forbidden() -> None:
        raise AssertionError("the store was read at scrape time")

    monkeypatch.setattr(container.store, "read", forbidden)
    monkeypatch.setattr(container.store, "write", forbidden)
    families = parse(metrics.render()[0].decode())
    assert len(families["openrds_instance_up"]) == 4


def test_evictions_and_readmissions_are_counted(container: Container) -> None:
    e = estate(container)
    metrics = Metrics(lambda: rows.snapshot([]), container.store)
    metrics.inventory.refresh()
    replica, evicted, group = e.replica, e.evicted, e.group
    with container.store.write() as uow:
        repo = uow.instances(None)
        repo.save(replace(repo.find(replica.id), member_status=MemberStatus.EVICTED))
        repo.save(replace(repo.find(evicted.id), member_status=MemberStatus.IN_ROTATION))
    metrics.inventory.refresh()
    families = parse(metrics.render()[0].decode())
    assert one(families, "openrds_group_evictions_total", group_id=group.id) == 1
    assert one(families, "openrds_group_readmissions_total", group_id=group.id) == 1
    assert one(families, "openrds_group_members", group_id=group.id, status="evicted") == 1


def test_jobs_by_kind_and_outcome_with_durations(container: Container) -> None:
    metrics = Metrics(lambda: rows.snapshot([]), container.store)
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def job(kind: str, state: JobState, seconds: float) -> Job:
        return Job(id=new_job_id(), tenant_id="t", kind=kind, params={}, state=state, step=1, steps_total=1,
                   attempts=0, error="", created_at=start, updated_at=start, started_at=start,
                   ended_at=start + timedelta(seconds=seconds))

    metrics.on_job_finished(job("create_replicas", JobState.SUCCEEDED, 3.0))
    metrics.on_job_finished(job("create_replicas", JobState.SUCCEEDED, 40.0))
    metrics.on_job_finished(job("restart", JobState.FAILED, 0.5))
    families = parse(metrics.render()[0].decode())
    assert one(families, "openrds_jobs_total", kind="create_replicas", outcome="succeeded") == 2
    assert one(families, "openrds_jobs_total", kind="restart", outcome="failed") == 1
    labels = {"kind": "create_replicas", "outcome": "succeeded"}
    assert one(families, "openrds_job_duration_seconds_bucket", le="5.0", **labels) == 1
    assert one(families, "openrds_job_duration_seconds_bucket", le="60.0", **labels) == 2
    assert one(families, "openrds_job_duration_seconds_sum", **labels) == 43.0
    assert not [s for s in families["openrds_jobs"] if s.name.endswith("_created")]


def test_histogram_set_buckets_are_cumulative_with_le_semantics() -> None:
    stats = HistogramSet((1.0, 2.0))
    for value in (0.5, 1.0, 1.5, 9.0):
        stats.observe(("a",), value)
    [(labels, buckets, count, total)] = stats.snapshot()
    assert labels == ("a",) and buckets == [("1.0", 2), ("2.0", 3), ("+Inf", 4)] and count == 4 and total == 12.0


def test_lag_history_is_bounded_and_forgets_gone_replicas(container: Container) -> None:
    tenant = container.identity.create_tenant("beta")
    p = rows.primary(tenant.id)
    r1, r2 = rows.replica(p), rows.replica(p)
    history = LagHistory(keep_seconds=10, max_samples=6)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for second in range(30):
        history.observe(rows.snapshot([p, r1, r2], taken_at=t0 + timedelta(seconds=second),
                                      lag={r1.code: (second, float(second))}))
    [series] = history.series([r1.code])
    assert len(series.samples) == 6 and series.samples[-1].lag_bytes == 29 and series.source == p.code
    assert all(s.at >= (t0 + timedelta(seconds=19)).timestamp() for s in series.samples)
    history.observe(rows.snapshot([p, r1], taken_at=t0 + timedelta(seconds=31)))
    assert history.replicas() == [r1.code]
    assert [s.replica for s in history.series([r1.code, r2.code, "pgro-unknown"])] == [r1.code]


def test_api_requests_are_counted_by_face_action_and_code(container: Container) -> None:
    app = create_app(container, manage_background=False)
    with TestClient(app) as client:
        client.post("/", json={}, headers={"X-TC-Action": "DescribeDBInstances", "X-TC-Version": "2017-03-12"})
        client.post("/", json={}, headers={"X-TC-Action": "NoSuchAction" + "x" * 40})
        client.get("/v1/0123456789abcdef0123456789abcdef/instances")
        client.get("/console/login")
        client.get("/healthz")
        assert client.get("/metrics").status_code == 404  # not on the API's port: its own listener serves it
    with TestClient(listener_app(app.state.metrics)) as metrics_client:
        families = parse(metrics_client.get("/metrics").text)
    totals = sorted((s.labels["face"], s.labels["action"], s.labels["code"]) for s in families["openrds_api_requests"]
                    if s.name.endswith("_total"))
    assert [t[:2] for t in totals] == [("huawei", "list_instances"), ("tencent", "DescribeDBInstances"),
                                       ("tencent", "Unknown")], totals
    assert all(code != "OK" for _, _, code in totals)
    assert one(families, "openrds_api_request_duration_seconds_count", face="tencent",
               action="DescribeDBInstances", code=totals[1][2]) == 1
