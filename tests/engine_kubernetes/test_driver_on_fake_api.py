"""The `kubernetes` driver's logic against an in-process fake Kubernetes API and a scripted CNPG
(tests/fakes/kube.py). NO real cluster and NO real CloudNativePG: these prove what the driver writes,
in which order, how it waits (watches, deadlines, terminal phases, 410 Gone) and what it adopts;
not that CNPG or PostgreSQL behave as the fake does."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from tests.fakes.kube import FakeKube, FakeOperator

from openrds.engine.driver import (
    EndpointSpec,
    EndpointUnavailable,
    EngineError,
    PrimaryRequest,
    ReplicaRequest,
    ServerNotFound,
    ServerRole,
    ServerSpec,
    ServerState,
    SourceUnavailable,
)
from openrds.engine.kubernetes import KubernetesConfig, KubernetesDriver
from openrds.engine.kubernetes.driver import _ready
from openrds.engine.kubernetes.manifests import primary_manifests
from openrds.engine.kubernetes.sql import CHECKPOINT, CURRENT_LSN, FIGURES, RECEIVER, SENDERS, Target

SPEC = ServerSpec(cpu=1, memory_mb=2048, max_connections=100, storage_gb=20)
PRIMARY = PrimaryRequest("postgres-aaaa1111", 16, SPEC, "UTF8", "admin", "s3cret-Pass")


class FakeSessions:
    """SQL answers per instance; an instance in `unreachable` fails as a network error would."""

    def __init__(self) -> None:
        self.unreachable: set[str] = set()
        self.ran: list[tuple[str, str]] = []
        self.waiting_for_checkpoint: dict[str, int] = {}

    def run(self, target: Target, statement: str) -> Sequence[tuple[Any, ...]]:
        self.ran.append((target.instance_id, statement))
        if target.instance_id in self.unreachable:
            raise EngineError("sql", f"{target.instance_id}: connection refused", transient=True)
        if "pg_stat_progress_basebackup" in statement:
            return [(self.waiting_for_checkpoint.get(target.instance_id, 0),)]
        if statement == CHECKPOINT:
            return []
        if statement == CURRENT_LSN:
            return [(target.instance_id.startswith("pgro-"), "0/5000060")]
        if statement == SENDERS:
            return [("pgro-bbbb2222", "streaming", "0/5000060", "0/5000060", "0/5000060", "0/5000000", 96, 0.5),
                    ("someone-else", "streaming", None, None, None, None, None, None)]
        if statement == RECEIVER:
            return [("0/5000060", "0/5000060", 0.1, "streaming")]
        if statement == FIGURES:
            return [(3, 100, 30_000_000)]
        raise AssertionError(statement)


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    yield FakeKube("openrds")


@pytest.fixture
def operator(kube: FakeKube) -> Iterator[FakeOperator]:
    op = FakeOperator(kube)
    yield op
    op.close()


@pytest.fixture
def sessions() -> FakeSessions:
    return FakeSessions()


def make_driver(kube: FakeKube, sessions: FakeSessions, **kwargs: Any) -> KubernetesDriver:
    config = KubernetesConfig(namespace="openrds", majors=(16, 15))
    return KubernetesDriver(kube.custom, kube.core, config, sessions=sessions, **kwargs)


@pytest.fixture
def driver(kube: FakeKube, operator: FakeOperator, sessions: FakeSessions) -> KubernetesDriver:
    return make_driver(kube, sessions, create_timeout=10.0, timeout=10.0, checkpoint_every=0.0)


def test_create_primary_writes_secrets_before_the_cluster_and_waits_for_ready(
    driver: KubernetesDriver, kube: FakeKube
) -> None:
    info = driver.create_primary(PRIMARY)
    assert kube.calls == [("create secret", "postgres-aaaa1111-admin"),
                          ("create secret", "postgres-aaaa1111-superuser"), ("create", "postgres-aaaa1111")]
    assert info.state is ServerState.RUNNING and info.role is ServerRole.PRIMARY
    assert (info.host, info.port) == ("postgres-aaaa1111-rw.openrds.svc", 5432)
    cluster = kube.cluster("postgres-aaaa1111")
    assert cluster["spec"]["instances"] == 2
    assert cluster["spec"]["bootstrap"]["initdb"]["owner"] == "admin"
    assert base64.b64decode(kube.secrets["postgres-aaaa1111-admin"].data["password"]).decode() == "s3cret-Pass"
    # Idempotent: a second call finds the Ready Cluster and writes nothing.
    before = list(kube.calls)
    assert driver.create_primary(PRIMARY).state is ServerState.RUNNING
    assert kube.calls == before


def test_terminal_phase_fails_with_cnpg_reason_and_removes_what_was_made(
    driver: KubernetesDriver, kube: FakeKube, operator: FakeOperator
) -> None:
    operator.fail("postgres-aaaa1111", "Cluster has incomplete or invalid image catalog", "no image for major 16")
    started = time.monotonic()
    with pytest.raises(EngineError, match="no image for major 16") as caught:
        driver.create_primary(PRIMARY)
    assert time.monotonic() - started < 5, "a terminal phase must end the wait at once, not at the deadline"
    assert caught.value.step == "create primary"
    assert not kube.clusters and not kube.secrets


def test_deadline_is_a_transient_error_naming_the_phase(kube: FakeKube, operator: FakeOperator,
                                                         sessions: FakeSessions) -> None:
    driver = make_driver(kube, sessions, create_timeout=1.5)
    operator.hold("postgres-aaaa1111")
    timed_out = r"timed out waiting for Cluster postgres-aaaa1111 \(phase 'Setting up primary'"
    with pytest.raises(EngineError, match=timed_out) as caught:
        driver.create_primary(PRIMARY)
    assert caught.value.transient
    assert not kube.clusters, "the undo deletes the Cluster that never became ready"


def test_replicas_are_created_together_with_wal_kept_and_a_checkpoint_while_they_clone(
    driver: KubernetesDriver, kube: FakeKube, sessions: FakeSessions
) -> None:
    driver.create_primary(PRIMARY)
    sessions.waiting_for_checkpoint["postgres-aaaa1111"] = 2
    lower = ServerSpec(cpu=1, memory_mb=1024, max_connections=50, storage_gb=20)
    infos = driver.create_replicas([ReplicaRequest("pgro-bbbb2222", "postgres-aaaa1111", lower),
                                    ReplicaRequest("pgro-cccc3333", "postgres-aaaa1111", SPEC)])
    assert [i.instance_id for i in infos] == ["pgro-bbbb2222", "pgro-cccc3333"]
    assert all(i.role is ServerRole.REPLICA and i.source_id == "postgres-aaaa1111" for i in infos)
    creates = [name for verb, name in kube.calls if verb == "create"]
    assert creates == ["postgres-aaaa1111", "pgro-bbbb2222", "pgro-cccc3333"]
    # Both Clusters exist before the first is awaited: wal_keep_size patch, then both creates in a row.
    tail = kube.calls[kube.calls.index(("patch", "postgres-aaaa1111")):]
    assert [c for c in tail if c[0] in ("create", "patch")] == [
        ("patch", "postgres-aaaa1111"), ("create", "pgro-bbbb2222"), ("create", "pgro-cccc3333")]
    source = kube.cluster("postgres-aaaa1111")
    assert source["spec"]["postgresql"]["parameters"]["wal_keep_size"] == "2048MB"
    replica = kube.cluster("pgro-bbbb2222")
    assert replica["spec"]["postgresql"]["parameters"]["max_connections"] == "100", "floored to the source's"
    assert replica["spec"]["externalClusters"][0]["connectionParameters"]["application_name"] == "pgro-bbbb2222"
    assert ("postgres-aaaa1111", CHECKPOINT) in sessions.ran
    # The copies of the source's Secrets carry its passwords.
    assert kube.secrets["pgro-bbbb2222-superuser"].data == kube.secrets["postgres-aaaa1111-superuser"].data


def test_cascade_in_one_batch_waits_for_its_source(driver: KubernetesDriver, kube: FakeKube) -> None:
    driver.create_primary(PRIMARY)
    infos = driver.create_replicas([ReplicaRequest("pgro-dddd4444", "pgro-bbbb2222", SPEC),
                                    ReplicaRequest("pgro-bbbb2222", "postgres-aaaa1111", SPEC)])
    assert [i.source_id for i in infos] == ["pgro-bbbb2222", "postgres-aaaa1111"]
    creates = [name for verb, name in kube.calls if verb == "create"]
    assert creates.index("pgro-bbbb2222") < creates.index("pgro-dddd4444")
    host = kube.cluster("pgro-dddd4444")["spec"]["externalClusters"][0]["connectionParameters"]["host"]
    assert host == "pgro-bbbb2222-rw.openrds.svc"


def test_a_missing_or_unready_source_creates_nothing(driver: KubernetesDriver, kube: FakeKube,
                                                     operator: FakeOperator) -> None:
    with pytest.raises(SourceUnavailable):
        driver.create_replicas([ReplicaRequest("pgro-bbbb2222", "postgres-missing1", SPEC)])
    assert not kube.clusters and not kube.secrets


def test_a_failed_clone_removes_every_replica_of_the_batch(driver: KubernetesDriver, kube: FakeKube,
                                                           operator: FakeOperator) -> None:
    driver.create_primary(PRIMARY)
    operator.fail("pgro-cccc3333", "Cluster is unrecoverable and needs manual intervention", "pg_basebackup failed")
    with pytest.raises(EngineError, match="pg_basebackup failed"):
        driver.create_replicas([ReplicaRequest("pgro-bbbb2222", "postgres-aaaa1111", SPEC),
                                ReplicaRequest("pgro-cccc3333", "postgres-aaaa1111", SPEC)])
    assert set(kube.clusters) == {"postgres-aaaa1111"}
    assert set(kube.secrets) == {"postgres-aaaa1111-admin", "postgres-aaaa1111-superuser"}


def test_stop_start_restart_promote_destroy(driver: KubernetesDriver, kube: FakeKube) -> None:
    driver.create_primary(PRIMARY)
    driver.create_replicas([ReplicaRequest("pgro-bbbb2222", "postgres-aaaa1111", SPEC)])
    driver.stop("pgro-bbbb2222")
    assert driver.status("pgro-bbbb2222").state is ServerState.STOPPED
    assert kube.cluster("pgro-bbbb2222")["metadata"]["annotations"]["cnpg.io/hibernation"] == "on"
    driver.stop("pgro-bbbb2222")  # no-op
    assert driver.start("pgro-bbbb2222").state is ServerState.RUNNING
    assert driver.restart("postgres-aaaa1111").state is ServerState.RUNNING
    assert "kubectl.kubernetes.io/restartedAt" in kube.cluster("postgres-aaaa1111")["metadata"]["annotations"]
    promoted = driver.promote("pgro-bbbb2222")
    assert promoted.role is ServerRole.PRIMARY and promoted.source_id is None
    labels = kube.cluster("pgro-bbbb2222")["metadata"]["labels"]
    assert labels["openrds.io/role"] == "primary" and "openrds.io/source" not in labels
    assert driver.promote("pgro-bbbb2222").role is ServerRole.PRIMARY  # idempotent
    driver.destroy("postgres-aaaa1111")
    driver.destroy("postgres-aaaa1111")  # no-op
    assert set(kube.clusters) == {"pgro-bbbb2222"}, "the promoted instance does not go with its old source"
    assert set(kube.secrets) == {"pgro-bbbb2222-admin", "pgro-bbbb2222-superuser"}
    with pytest.raises(ServerNotFound):
        driver.status("postgres-aaaa1111")


def test_a_watch_answered_410_gone_resumes_from_a_fresh_read(kube: FakeKube, operator: FakeOperator,
                                                             sessions: FakeSessions) -> None:
    """The Cluster is created, history compacted, then the driver waits from the now too old version."""
    driver = make_driver(kube, sessions)
    operator.hold(PRIMARY.instance_id)
    body = primary_manifests(PRIMARY, driver.config, superuser_password="pw")[-1]
    created = kube.custom.create_namespaced_custom_object("postgresql.cnpg.io", "v1", "openrds", "clusters", body)
    kube.expire()
    threading.Timer(0.2, lambda: kube.write_status(PRIMARY.instance_id, {
        "phase": "Cluster in healthy state", "readyInstances": 2,
        "conditions": [{"type": "Ready", "status": "True"}]})).start()
    view = driver._wait_view(PRIMARY.instance_id, created, _ready, time.monotonic() + 5, "test")
    assert view.ready and view.ready_instances == 2
    assert kube.gone_answered == 1, "the first watch must have been answered 410 Gone"


def test_adopt_after_a_restart_of_openrds(driver: KubernetesDriver, kube: FakeKube, sessions: FakeSessions) -> None:
    driver.create_primary(PRIMARY)
    driver.create_replicas([ReplicaRequest("pgro-bbbb2222", "postgres-aaaa1111", SPEC)])
    fresh = make_driver(kube, sessions)  # a new process: nothing but the API objects
    servers = {s.instance_id: s for s in fresh.servers()}
    assert set(servers) == {"postgres-aaaa1111", "pgro-bbbb2222"}
    assert servers["pgro-bbbb2222"].source_id == "postgres-aaaa1111"
    assert servers["pgro-bbbb2222"].major_version == 16
    assert all(s.state is ServerState.RUNNING for s in servers.values())


def test_replication_lag_by_sql_and_unknown_when_unreachable(driver: KubernetesDriver,
                                                             sessions: FakeSessions) -> None:
    driver.create_primary(PRIMARY)
    driver.create_replicas([ReplicaRequest("pgro-bbbb2222", "postgres-aaaa1111", SPEC)])
    view = driver.replication("postgres-aaaa1111")
    assert [link.replica_id for link in view.replicas] == ["pgro-bbbb2222"]
    assert view.replicas[0].lag_bytes == 96
    replica = driver.replication("pgro-bbbb2222")
    assert replica.wal_receiver_status == "streaming"
    sessions.unreachable.add("postgres-aaaa1111")
    unknown = driver.replication("postgres-aaaa1111")
    assert unknown.current_lsn is None and unknown.replicas == ()
    assert driver.status("postgres-aaaa1111").state is ServerState.RUNNING, "unreachable SQL is not a failure"


def test_what_this_driver_refuses_it_says(driver: KubernetesDriver) -> None:
    driver.create_primary(PRIMARY)
    assert "does not run read-only group endpoints" in driver.endpoint_support()
    with pytest.raises(EndpointUnavailable):
        driver.ensure_endpoint(EndpointSpec("pgrogrp-x"))
    with pytest.raises(EngineError, match="does not measure"):
        driver.disk_usage("postgres-aaaa1111")
    with pytest.raises(EngineError, match="does not switch"):
        driver.set_read_only("postgres-aaaa1111", True)
    assert driver.reconcile_slots("postgres-aaaa1111") == []
    assert driver.stats("postgres-aaaa1111").connections == 3
