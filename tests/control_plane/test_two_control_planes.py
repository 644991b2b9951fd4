"""Two `openrds serve` processes on one PostgreSQL metadata store share the work safely.

This is what deploy/kubernetes/ relies on when it runs the control plane as a Deployment of two replicas:
jobs are leased in the store (compare-and-set on the lease holder), so whichever process a request reaches,
each job is driven by exactly one of them, and both answer the same state. Here both use the local driver
on one data root (servers on this host), the closest this machine gets to two pods on one cluster.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.api_huawei.support import Rds, primary_body
from tests.api_tencent.sdk import Api, seed_example
from tests.control_plane.conftest import PostgresServer, postgres_schema
from tests.support.service import (
    RunningService,
    destroy_servers,
    start_service,
    stop_service,
    temp_root,
)

from openrds.domain.states import JobState

pytestmark = pytest.mark.slow

JOB_LINE = re.compile(r"job (\w+) \([\w.]+\): (step \d+/\d+|succeeded)")


@pytest.fixture(scope="module")
def two_services(postgres_server: PostgresServer) -> Iterator[tuple[RunningService, RunningService, str]]:
    """Two services, one after the other (the first brings the schema to head and bootstraps the tenant),
    on the same store URL and the same data root; both stopped and everything removed at the end."""
    root = temp_root()
    data_dir = root / "data"
    started: list[RunningService] = []
    try:
        with postgres_schema(postgres_server) as url:
            env = {"OPENRDS_DATABASE_URL": url, "OPENRDS_LOG_FORMAT": "text"}
            started.append(start_service(data_dir, extra_env=env))
            started.append(start_service(data_dir, extra_env=env))
            try:
                yield started[0], started[1], url
            finally:
                for service in started:
                    stop_service(service)
                destroy_servers(data_dir)
    finally:
        for service in started:  # stopped above unless starting the second one failed
            stop_service(service)
        destroy_servers(data_dir)
        shutil.rmtree(root, ignore_errors=True)


def _job_lines(service: RunningService) -> list[tuple[str, str]]:
    return JOB_LINE.findall(service.log())


def test_two_services_share_the_jobs_and_answer_the_same(two_services: tuple[RunningService, RunningService, str]
                                                         ) -> None:
    first, second, url = two_services
    tencent_a, tencent_b = Api(first), Api(second)
    huawei_a, huawei_b = Rds.login(first.url), Rds.login(second.url)

    # A master through each process and each face, submitted together, then a read-only instance of the
    # first master through the other process.
    master = tencent_a.create_master(name="via-first")
    reply = huawei_b.post("instances", primary_body("via-second"))
    assert reply.status_code == 202, reply.text
    huawei_master = reply.json()["instance"]["id"]
    tencent_b.wait_status([master], "running")  # each process sees what the other created
    huawei_a.wait_status(huawei_master, "ACTIVE")
    readonly = tencent_b.send("CreateReadOnlyDBInstance", seed_example(master)).DBInstanceIdSet[0]
    tencent_a.wait_status([readonly], "running")

    # Both answer the same state, through both faces (each lists its own region's instances).
    def states(api: Api) -> dict[str, tuple[str, str]]:
        return {k: (i.DBInstanceStatus, i.MasterDBInstanceId) for k, i in api.instances().items()}

    assert states(tencent_a) == states(tencent_b) == {master: ("running", ""), readonly: ("running", master)}
    listed_a = sorted((i["id"], i["status"]) for i in huawei_a.get("instances").json()["instances"])
    listed_b = sorted((i["id"], i["status"]) for i in huawei_b.get("instances").json()["instances"])
    assert listed_a == listed_b and (huawei_master, "ACTIVE") in listed_a

    # Every job ran exactly once: the store says each succeeded, and each was driven - every step and its
    # end - by one process only, never by both.
    with psycopg.connect(url, autocommit=True) as conn:
        jobs = dict(conn.execute("SELECT id, state FROM jobs").fetchall())
    assert len(jobs) >= 3 and set(jobs.values()) == {JobState.SUCCEEDED.value}, jobs
    lines = {"first": _job_lines(first), "second": _job_lines(second)}
    succeeded = Counter(job for found in lines.values() for job, what in found if what == "succeeded")
    assert succeeded == Counter(dict.fromkeys(jobs, 1)), (succeeded, jobs)
    driver_of = {name: {job for job, _ in found} for name, found in lines.items()}
    assert not driver_of["first"] & driver_of["second"], "a job had steps run in both processes"
    # The work was shared: each process drove the jobs of the requests it received.
    assert driver_of["first"] and driver_of["second"], driver_of


def test_data_root_is_shared(two_services: tuple[RunningService, RunningService, str]) -> None:
    """The precondition of the test above: one data root (one secret key, one set of servers) for both."""
    first, second, _ = two_services
    assert first.data_dir == second.data_dir and Path(first.data_dir, "secret.key").is_file()
