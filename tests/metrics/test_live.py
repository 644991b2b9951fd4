"""`/metrics` of a real `openrds serve` over real servers: a primary P, its replica R (in a read-only
group) and a cascade C streaming from R. The exposition is parsed with prometheus_client's own parser."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tests.console.estate import Estate, Tencent, build_estate, write_on
from tests.support.service import RunningService, running_service, wait_for

from openrds.engine.local import LocalDriver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

Families = dict[str, list[Sample]]


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service() as running:
        yield running


@pytest.fixture(scope="module")
def estate(service: RunningService) -> Estate:
    return build_estate(service, "metered")


def scrape(service: RunningService) -> Families:
    answer = httpx.get(f"{service.metrics_url}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(answer.text)}


def value(families: Families, sample_name: str, **labels: str) -> float | None:
    """The one sample called ``sample_name`` whose labels include ``labels``; None if there is none."""
    family = sample_name.removesuffix("_total").removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
    found = [s for s in families.get(family, []) if s.name == sample_name
             and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) <= 1, found
    return found[0].value if found else None


def settled(service: RunningService, estate: Estate) -> Families:
    """A scrape in which the monitor has seen every link streaming (it polls once a second)."""
    def ready() -> Families | None:
        families = scrape(service)
        links = [(estate.replica.code, estate.primary.code), (estate.cascade.code, estate.replica.code)]
        ok = all(value(families, "openrds_wal_sender_state", instance_id=r, upstream_id=u,
                       openrds_wal_sender_state="streaming") == 1 for r, u in links)
        return families if ok and families.get("openrds_group_info") else None

    return wait_for(ready, 30, "the monitor to see both links streaming")


def test_every_metric_parses_has_help_and_the_prefix(service: RunningService, estate: Estate) -> None:
    answer = httpx.get(f"{service.metrics_url}/metrics", timeout=10)
    families = list(text_string_to_metric_families(answer.text))
    assert len(families) >= 25
    for family in families:
        assert family.name.startswith("openrds_"), family.name
        assert family.documentation, f"{family.name} has no HELP"
        for sample in family.samples:
            assert "request_id" not in sample.labels and "RequestId" not in sample.labels


def test_instances(service: RunningService, estate: Estate) -> None:
    families = settled(service, estate)
    p, r, c = estate.primary.code, estate.replica.code, estate.cascade.code
    for code, role, recovery in ((p, "primary", 0), (r, "readonly", 1), (c, "readonly", 1)):
        assert value(families, "openrds_instance_up", tenant="default", instance_id=code, role=role) == 1
        assert value(families, "openrds_instance_in_recovery", instance_id=code) == recovery
        assert value(families, "openrds_instance_max_connections", instance_id=code) == 100
        assert (value(families, "openrds_instance_connections", instance_id=code) or 0) >= 0
        assert (value(families, "openrds_instance_database_size_bytes", instance_id=code) or 0) > 1_000_000
    assert value(families, "openrds_instance_info", instance_id=p, upstream_id="", status="running") == 1
    assert value(families, "openrds_instance_info", instance_id=c, upstream_id=r, role="readonly") == 1
    assert value(families, "openrds_wal_receiver_up", instance_id=r) == 1
    assert value(families, "openrds_wal_receiver_up", instance_id=c) == 1
    assert value(families, "openrds_wal_receiver_up", instance_id=p) is None


def test_replication_links_cascade_included(service: RunningService, estate: Estate) -> None:
    families = settled(service, estate)
    for replica, upstream in ((estate.replica.code, estate.primary.code), (estate.cascade.code, estate.replica.code)):
        labels = {"tenant": "default", "instance_id": replica, "upstream_id": upstream}
        for name in ("openrds_replication_lag_bytes", "openrds_replication_lag_seconds",
                     "openrds_wal_sender_sent_lag_bytes", "openrds_wal_receiver_replay_lag_bytes",
                     "openrds_replication_slot_retained_bytes"):
            found = value(families, name, **labels)
            assert found is not None and found >= 0, (name, labels)
        assert value(families, "openrds_replication_slot_active", **labels) == 1
        states = {s.labels["openrds_wal_sender_state"]: s.value for s in families["openrds_wal_sender_state"]
                  if s.labels["instance_id"] == replica}
        assert states["streaming"] == 1 and sum(states.values()) == 1, states


def test_groups(service: RunningService, estate: Estate) -> None:
    families = settled(service, estate)
    group = estate.group_id
    assert value(families, "openrds_group_info", group_id=group, master_id=estate.primary.code) == 1
    assert value(families, "openrds_group_members", group_id=group, status="in_rotation") == 1
    assert value(families, "openrds_group_members", group_id=group, status="evicted") == 0


def test_jobs(service: RunningService, estate: Estate) -> None:
    families = scrape(service)
    assert value(families, "openrds_jobs_total", kind="create_primaries", outcome="succeeded") == 1
    assert value(families, "openrds_jobs_total", kind="create_replicas", outcome="succeeded") == 2
    assert value(families, "openrds_job_duration_seconds_count", kind="create_replicas", outcome="succeeded") == 2
    seconds = value(families, "openrds_job_duration_seconds_sum", kind="create_replicas", outcome="succeeded")
    assert seconds is not None and 0 < seconds < 240
    assert value(families, "openrds_job_duration_seconds_bucket", kind="create_replicas", outcome="succeeded",
                 le="+Inf") == 2


def test_api_requests_by_face_action_and_code(service: RunningService, estate: Estate) -> None:
    api = Tencent(service)
    with pytest.raises(TencentCloudSDKException) as refused:
        api.call("DescribeDBInstanceAttribute", {"DBInstanceId": "postgres-00000000"})
    code = refused.value.get_code()
    httpx.post(f"{service.url}/v3/auth/tokens", json={"auth": {}}, timeout=10)
    httpx.get(f"{service.url}/v1/0123456789abcdef0123456789abcdef/instances", timeout=10)
    families = scrape(service)
    assert value(families, "openrds_api_requests_total", face="tencent", action="CreateInstances", code="OK") == 1
    assert value(families, "openrds_api_requests_total", face="tencent", action="DescribeDBInstanceAttribute",
                 code=code) == 1
    count = value(families, "openrds_api_request_duration_seconds_count", face="tencent", action="CreateInstances",
                  code="OK")
    assert count == 1
    totals = [s for s in families["openrds_api_requests"] if s.name.endswith("_total")]
    iam = [(s.labels["action"], s.labels["code"]) for s in totals if s.labels["face"] == "huawei-iam"]
    assert iam == [("issue_token", "400")]
    rds = [(s.labels["action"], s.labels["code"]) for s in totals if s.labels["face"] == "huawei"]
    assert len(rds) == 1 and rds[0][0] == "list_instances" and rds[0][1] != "OK", rds
    # The console and /metrics are not API calls.
    assert {s.labels["face"] for s in families["openrds_api_requests"]} == {"tencent", "huawei", "huawei-iam"}


def test_repeated_reads_are_answered_from_the_answer_cache_and_counted(service: RunningService, estate: Estate) -> None:
    api = Tencent(service)
    before = scrape(service)
    reused, computed = (value(before, f"openrds_api_answers_{kind}_total", face="tencent") or 0
                        for kind in ("reused", "computed"))
    for _ in range(5):
        api.call("DescribeDBInstances", {"Limit": 7})
    after = scrape(service)
    more_reused = (value(after, "openrds_api_answers_reused_total", face="tencent") or 0) - reused
    more_computed = (value(after, "openrds_api_answers_computed_total", face="tencent") or 0) - computed
    # Each of the 5 is one or the other; a commit by the background loops in between may force a recompute.
    assert more_reused + more_computed == 5 and more_reused >= 1, (more_reused, more_computed)


def test_paused_replica_shows_growing_byte_lag(service: RunningService, estate: Estate) -> None:
    r, p = estate.replica.code, estate.primary.code
    driver = LocalDriver(service.data_dir)
    driver.set_replay_paused(r, True)
    try:
        write_on(estate.primary, 4)

        def lag() -> float:
            return value(scrape(service), "openrds_replication_lag_bytes", instance_id=r, upstream_id=p) or 0.0

        first = wait_for(lambda: lag() > 1024 * 1024 and lag(), 30, f"{r} to show more than 1 MiB of lag")
        write_on(estate.primary, 4)
        second = wait_for(lambda: (lag() > first + 1024 * 1024) and lag(), 30, f"the lag of {r} to grow past {first}")
        families = scrape(service)
        # Received but not replayed: the receiver's view agrees; the sender has sent it all.
        assert (value(families, "openrds_wal_receiver_replay_lag_bytes", instance_id=r) or 0) > 1024 * 1024
        assert (value(families, "openrds_replication_lag_seconds", instance_id=r) or 0) > 0
        assert second > first
        # Its group evicts members more than 1 MB behind.
        group = estate.group_id
        wait_for(lambda: value(scrape(service), "openrds_group_members", group_id=group, status="evicted") == 1, 30,
                 f"{r} to be evicted from {group}")
        assert (value(scrape(service), "openrds_group_evictions_total", group_id=group) or 0) >= 1
    finally:
        driver.set_replay_paused(r, False)
    wait_for(lambda: value(scrape(service), "openrds_replication_lag_bytes", instance_id=r) == 0, 60,
             f"{r} to catch up after replay resumed")
    wait_for(lambda: value(scrape(service), "openrds_group_members", group_id=estate.group_id,
                           status="in_rotation") == 1, 30, f"{r} to be re-admitted")
    assert (value(scrape(service), "openrds_group_readmissions_total", group_id=estate.group_id) or 0) >= 1
