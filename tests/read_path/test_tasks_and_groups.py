"""``DescribeTasks`` and ``DescribeReadOnlyGroups`` page in the store (only the page's jobs and groups are
read whole and presented), and answer exactly what the whole list answered, after every commit,
whoever made it.

The twin: the same questions answered from the whole list (``JobService.list``, ``GroupService.describe``)
narrowed and sliced as the handlers did before. Then the store changes - in this process and in another
one - and signed calls through the protocol (answer cache included) must show the change at once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.console import rows

from openrds.api.tencent import presenters as present
from openrds.api.tencent.auth import SignedRequest, authorization_header
from openrds.api.tencent.protocol import TencentApi, envelope
from openrds.api.tencent.registry import build as build_tencent
from openrds.container import Container, build
from openrds.domain.model import Instance, Job
from openrds.domain.states import JobState
from openrds.settings import Settings

# Two jobs share their first 13 hex digits: one Tencent task number names both.
_SHARED_PREFIX = "abcdef0123456"


@dataclass
class _World:
    container: Container
    api: TencentApi
    tenant: str
    secret_id: str
    secret_key: str
    instances: list[Instance]
    jobs: list[Job]


def _job(tenant: str, n: int, instance: Instance, *, started: bool, job_id: str | None = None) -> Job:
    created = rows.T0 + timedelta(minutes=n)
    return Job(id=job_id or f"{n:032x}", tenant_id=tenant, kind="restart", params={}, state=JobState.SUCCEEDED,
               step=1, steps_total=1, attempts=1, error="", created_at=created, updated_at=created,
               started_at=created + timedelta(seconds=90) if started else None, instance_ids=(instance.id,))


@pytest.fixture
def world() -> Iterator[_World]:
    root = Path(tempfile.mkdtemp(prefix="ordt-tg-"))
    container = build(Settings(data_dir=root / "data"))
    try:
        tenant = container.identity.create_tenant("tasks").id
        key = container.identity.create_api_key(tenant)
        master = rows.primary(tenant)
        other = rows.primary(tenant, name="other")
        replicas = [rows.replica(master) for _ in range(4)]
        groups = [rows.group(master, created_at=rows.T0 + timedelta(seconds=n)) for n in range(3)]
        replicas = [rows.member(replicas[0], groups[0]), rows.member(replicas[1], groups[0]),
                    rows.member(replicas[2], groups[1]), replicas[3]]
        instances = [master, other, *replicas]
        jobs = [_job(tenant, n, master if n % 3 else other, started=n % 4 != 0) for n in range(1, 26)]
        jobs += [_job(tenant, 30, other, started=True, job_id=_SHARED_PREFIX + "0" * 19),
                 _job(tenant, 31, master, started=False, job_id=_SHARED_PREFIX + "f" * 19)]
        with container.store.write() as uow:
            for instance in instances:
                uow.instances(tenant).add(instance)
            for group in groups:
                uow.groups(tenant).add(group)
            for job in jobs:
                uow.jobs.add(job)
        yield _World(container, build_tencent(container), tenant, key.key.secret_id, key.secret_key, instances, jobs)
    finally:
        container.stop()
        shutil.rmtree(root, ignore_errors=True)


def _call(world: _World, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """A signed call through the protocol (authentication, answer cache, handler), as the SDK sends it."""
    content = json.dumps(body).encode()
    headers = {"content-type": "application/json", "host": "openrds", "x-tc-action": action,
               "x-tc-timestamp": str(int(time.time())), "x-tc-version": "2017-03-12", "x-tc-region": "ap-beijing",
               "x-tc-language": "en-US"}
    headers["authorization"] = authorization_header(world.secret_id, world.secret_key,
                                                    SignedRequest("POST", "/", "", headers, content))
    members = world.api._process(SignedRequest("POST", "/", "", headers, content), "r", "en-US", "c")
    answer = json.loads(envelope("r", members))
    response: dict[str, Any] = answer["Response"]
    assert "Error" not in response, response
    return response


def _tasks_from_the_whole_list(world: _World, body: dict[str, Any]) -> dict[str, Any]:
    """DescribeTasks as the handler answered it before it paged in the store."""
    c = world.container
    prefix = present.task_prefix(body["TaskId"]) if "TaskId" in body else None
    after = present.parse_tencent_time(body["MinStartTime"], "MinStartTime") if "MinStartTime" in body else None
    before = present.parse_tencent_time(body["MaxStartTime"], "MaxStartTime") if "MaxStartTime" in body else None
    views = c.jobs.list(world.tenant, id_prefix=prefix, instance=body.get("DBInstanceId"))
    views = [v for v in views if (after is None or (v.job.started_at or v.job.created_at) >= after)
             and (before is None or (v.job.started_at or v.job.created_at) <= before)]
    if body.get("OrderByType") == "asc":
        views.reverse()
    offset, limit = body.get("Offset", 0), min(body.get("Limit", 20), 100)
    tasks = [present.task(v.job, next(iter(v.instance_codes.values()), ""), c.jobs.steps(v.job.kind))
             for v in views[offset : offset + limit]]
    return json.loads(json.dumps({"TotalCount": len(views), "TaskSet": tasks}))  # type: ignore[no-any-return]


def _task_questions(world: _World) -> list[dict[str, Any]]:
    master, other = world.instances[0], world.instances[1]
    middle = present.tencent_time(rows.T0 + timedelta(minutes=12))
    late = present.tencent_time(rows.T0 + timedelta(minutes=20, seconds=30))
    return [
        {}, {"Limit": 5}, {"Limit": 5, "Offset": 5}, {"Limit": 100, "OrderByType": "asc"},
        {"Offset": 40}, {"DBInstanceId": master.code}, {"DBInstanceId": other.id, "Limit": 3, "Offset": 1},
        {"DBInstanceId": "postgres-nosuch00"}, {"TaskId": present.task_number(_SHARED_PREFIX + "0" * 19)},
        {"TaskId": present.task_number(world.jobs[4].id)}, {"MinStartTime": middle},
        {"MaxStartTime": middle, "OrderByType": "asc"}, {"MinStartTime": middle, "MaxStartTime": late, "Limit": 4},
        {"MinStartTime": middle, "DBInstanceId": master.code, "OrderByType": "asc", "Offset": 2},
    ]


def test_describe_tasks_pages_as_the_whole_list_did(world: _World) -> None:
    for body in _task_questions(world):
        answered = _call(world, "DescribeTasks", body)
        del answered["RequestId"]
        assert answered == _tasks_from_the_whole_list(world, body), body


def test_describe_read_only_groups_pages_as_the_whole_list_did(world: _World) -> None:
    master = world.instances[0]
    questions: list[dict[str, Any]] = [
        {}, {"PageSize": 1}, {"PageSize": 1, "PageNumber": 2}, {"PageSize": 2, "PageNumber": 2},
        {"Filters": [{"Name": "db-master-instance-id", "Values": [master.code]}]},
    ]
    for body in questions:
        answered = _call(world, "DescribeReadOnlyGroups", body)
        views = world.container.groups.describe(world.tenant)
        size = body.get("PageSize", 10)
        start = (body.get("PageNumber", 1) - 1) * size
        expected_ids = [v.group.id for v in views][start : start + size]
        assert answered["TotalCount"] == len(views), body
        assert [g["ReadOnlyGroupId"] for g in answered["ReadOnlyGroupList"]] == expected_ids, body
        for group, view in zip(answered["ReadOnlyGroupList"], views[start : start + size], strict=True):
            assert sorted(m["DBInstanceId"] for m in group["ReadOnlyDBInstanceList"]) == sorted(
                i.code for i in view.members), body


def test_a_commit_of_this_process_is_seen_by_the_next_call(world: _World) -> None:
    spare = world.instances[5]  # a replica in no group
    groups = _call(world, "DescribeReadOnlyGroups", {})  # answers kept for this store version
    tasks = _call(world, "DescribeTasks", {"DBInstanceId": spare.code})
    assert tasks["TotalCount"] == 0
    with world.container.store.write() as uow:
        uow.jobs.add(_job(world.tenant, 50, spare, started=True))
        group_id = groups["ReadOnlyGroupList"][2]["ReadOnlyGroupId"]
        uow.instances(world.tenant).save(replace(spare, group_id=group_id, weight=1))
    tasks = _call(world, "DescribeTasks", {"DBInstanceId": spare.code})
    assert tasks["TotalCount"] == 1, "DescribeTasks answered from before the commit"
    after = {g["ReadOnlyGroupId"]: g for g in _call(world, "DescribeReadOnlyGroups", {})["ReadOnlyGroupList"]}
    assert [m["DBInstanceId"] for m in after[group_id]["ReadOnlyDBInstanceList"]] == [spare.code], (
        "DescribeReadOnlyGroups answered from before the commit")


def test_a_commit_of_another_process_is_seen_by_the_next_call(world: _World) -> None:
    member = world.instances[2]  # in the first group
    groups = _call(world, "DescribeReadOnlyGroups", {})
    first = groups["ReadOnlyGroupList"][0]
    assert member.code in [m["DBInstanceId"] for m in first["ReadOnlyDBInstanceList"]]
    before = _call(world, "DescribeTasks", {})["TotalCount"]
    script = (
        "import sys\n"
        "from dataclasses import replace\n"
        "from datetime import UTC, datetime\n"
        "from openrds.domain.model import Job\n"
        "from openrds.domain.states import JobState, Lifecycle\n"
        "from openrds.persistence.db import open_engine\n"
        "from openrds.persistence.uow import Store\n"
        "store = Store(open_engine(sys.argv[1]))\n"
        "now = datetime.now(UTC)\n"
        "with store.write() as uow:\n"
        "    repo = uow.instances(sys.argv[2])\n"
        "    repo.save(replace(repo.find(sys.argv[3]), lifecycle=Lifecycle.DELETED))\n"
        "    uow.jobs.add(Job(id='f' * 32, tenant_id=sys.argv[2], kind='restart', params={},\n"
        "                     state=JobState.RUNNING, step=0, steps_total=1, attempts=0, error='', created_at=now,\n"
        "                     updated_at=now, instance_ids=(sys.argv[4],)))\n"
        "store.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, world.container.settings.metadata_url, world.tenant, member.code,
                    member.id], check=True)
    tasks = _call(world, "DescribeTasks", {})
    assert tasks["TotalCount"] == before + 1, "a job committed by another process was not seen"
    assert tasks["TaskSet"][0]["TaskId"] == present.task_number("f" * 32)
    after = _call(world, "DescribeReadOnlyGroups", {})["ReadOnlyGroupList"][0]
    assert member.code not in [m["DBInstanceId"] for m in after["ReadOnlyDBInstanceList"]], (
        "a member deleted by another process is still listed")
