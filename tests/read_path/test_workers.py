"""``openrds serve`` with two API workers (``OPENRDS_API_WORKERS=2``): one real service for the module,
and what must hold whichever worker the kernel hands a connection to.

Each check opens a new connection per call, so calls land on both workers (the kernel gives each new
connection to whichever worker accepts first); a check that would pass on one worker alone says why
it cannot here.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.service import SECRET_ID, SECRET_KEY, RunningService, running_service, wait_for

from openrds.api.tencent.auth import SignedRequest, authorization_header
from openrds.domain.ids import PRIMARY_PREFIX, new_uuid, short_code
from openrds.domain.model import Instance, Network
from openrds.domain.states import ChargeType, Health, Lifecycle, Role
from openrds.persistence.db import open_engine
from openrds.persistence.uow import Store

pytestmark = pytest.mark.slow

RATE_LIMIT = 10
CONNECTIONS = 8


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    env = {"OPENRDS_API_WORKERS": "2", "OPENRDS_RATE_LIMIT": str(RATE_LIMIT),
           "OPENRDS_SUPERVISE_INTERVAL": "3600"}  # the seeded instances have no server to supervise
    with running_service(extra_env=env) as running:
        yield running


def _workers(service: RunningService) -> list[int]:
    children = Path(f"/proc/{service.process.pid}/task/{service.process.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def _seed(service: RunningService) -> str:
    """One running instance of the bootstrap tenant, written into the store (no server behind it)."""
    store = Store(open_engine(f"sqlite:///{service.data_dir / 'openrds.db'}"))
    try:
        with store.write() as uow:
            found = uow.credentials.key(SECRET_ID)
            assert found is not None
            now = datetime.now(UTC)
            code = short_code(PRIMARY_PREFIX)
            uow.instances(found[0].tenant_id).add(Instance(
                id=new_uuid(), code=code, tenant_id=found[0].tenant_id, name="before", role=Role.PRIMARY,
                region="ap-beijing", zone="ap-beijing-4", project_id=0, spec_code="pg.it.small2", storage_gb=20,
                major_version=15, version="15.18", charset="UTF8", admin_user="dbadmin",
                network=Network("vpc-1", "subnet-1"), charge_type=ChargeType.POSTPAID, period_months=1,
                auto_renew=False, deletion_protection=False, lifecycle=Lifecycle.RUNNING, created_at=now,
                updated_at=now, host="127.0.0.1", port=1, health=Health.UP))
    finally:
        store.close()
    return code


def _signed(service: RunningService, action: str, body: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    content = json.dumps(body).encode()
    headers = {"content-type": "application/json", "host": service.endpoint, "x-tc-action": action,
               "x-tc-timestamp": str(int(time.time())), "x-tc-version": "2017-03-12", "x-tc-region": "ap-beijing",
               "x-tc-language": "en-US"}
    headers["authorization"] = authorization_header(SECRET_ID, SECRET_KEY,
                                                    SignedRequest("POST", "/", "", headers, content))
    return content, headers


def _send(service: RunningService, content: bytes, headers: dict[str, str], source: str = "127.0.0.1"
          ) -> dict[str, Any]:
    """One call on a connection of its own, from the address ``source``."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=service.url, timeout=10, transport=transport) as http:
        answer: dict[str, Any] = http.post("/", content=content, headers=headers).json()["Response"]
    return answer


def _call(service: RunningService, action: str, body: dict[str, object]) -> dict[str, Any]:
    return _send(service, *_signed(service, action, body))


def test_two_workers_and_background_work_in_one_of_them(service: RunningService) -> None:
    workers = _workers(service)
    assert len(workers) == 2, f"expected 2 API worker processes, found {workers}"
    # The leader runs the job runner's threads, the supervisor, monitor, billing and statistics loops;
    # the other worker none of them.
    threads = sorted(len(os.listdir(f"/proc/{pid}/task")) for pid in workers)
    assert threads[1] - threads[0] >= 5, f"threads per worker {threads}: background work runs in both"


def test_a_write_is_seen_by_the_next_read_whichever_worker_answers(service: RunningService) -> None:
    code = _seed(service)
    for _ in range(CONNECTIONS):  # both workers list and keep the answer with the old name
        assert _names(service, code) == ("before", ["before"])
    for n in range(3):
        renamed = _call(service, "ModifyDBInstanceName", {"DBInstanceId": code, "InstanceName": f"after-{n}"})
        assert "Error" not in renamed, renamed
        for _ in range(CONNECTIONS // 2):
            assert _names(service, code) == (f"after-{n}", [f"after-{n}"]), "answered from before the write"


def _read(service: RunningService, action: str, body: dict[str, object]) -> dict[str, Any]:
    """A read's answer, sent again while the rate limit (low for the last test) refuses it."""

    def answered() -> dict[str, Any] | None:
        answer = _call(service, action, body)
        return None if answer.get("Error", {}).get("Code") == "RequestLimitExceeded" else answer

    return wait_for(answered, 10, f"{action} to be answered within the rate limit")


def _names(service: RunningService, code: str) -> tuple[str, list[str]]:
    """The instance's name as DescribeDBInstanceAttribute shows it, and the names DescribeDBInstances lists."""
    attribute = _read(service, "DescribeDBInstanceAttribute", {"DBInstanceId": code})
    listed = _read(service, "DescribeDBInstances", {"Limit": 100})
    return str(attribute["DBInstance"]["DBInstanceName"]), [
        i["DBInstanceName"] for i in listed["DBInstanceSet"] if i["DBInstanceId"] == code]


def test_a_signature_used_for_a_change_is_refused_by_every_worker(service: RunningService) -> None:
    code = _seed(service)
    content, headers = _signed(service, "ModifyDBInstanceName", {"DBInstanceId": code, "InstanceName": "once"})
    assert "Error" not in _send(service, content, headers)
    for _ in range(CONNECTIONS):  # without the shared memory, the other worker would answer these
        # From another address: never taken for the signer's own connection, whatever port it reuses.
        error = _send(service, content, headers, source="127.0.0.2").get("Error")
        assert isinstance(error, dict) and error["Code"] == "AuthFailure.SignatureFailure", error


def test_a_read_s_signature_is_refused_as_a_change_by_every_worker(service: RunningService) -> None:
    code = _seed(service)
    # TC3 signs neither the action nor the region: this read's signature is valid for a restart too.
    content, headers = _signed(service, "DescribeDBInstanceAttribute", {"DBInstanceId": code})

    def answer(action: str) -> dict[str, Any]:
        def sent() -> dict[str, Any] | None:  # sent again while the (low) rate limit refuses it
            answered = _send(service, content, headers | {"x-tc-action": action}, source="127.0.0.2")
            return None if answered.get("Error", {}).get("Code") == "RequestLimitExceeded" else answered
        return wait_for(sent, 10, f"{action} to be answered within the rate limit")

    assert "Error" not in _send(service, content, headers)
    # Many connections at once: while one worker is busy accepting and answering, the other accepts too.
    # Changes first: a worker that has answered the read again itself would refuse them on its own.
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        changes = list(pool.map(lambda _: answer("RestartDBInstance"), range(2 * CONNECTIONS)))
        reads = list(pool.map(lambda _: answer("DescribeDBInstanceAttribute"), range(CONNECTIONS)))
    for change in changes:  # never as a change: the worker that did not answer it must know the read's first use
        error = change.get("Error")
        assert isinstance(error, dict) and error["Code"] == "AuthFailure.SignatureFailure", error
    assert all("Error" not in read for read in reads), reads  # but the same read again is answered everywhere


def test_the_rate_limit_counts_every_worker_s_calls(service: RunningService) -> None:
    accepted: Counter[int] = Counter()
    refused: list[int] = []
    deadline = time.monotonic() + 20

    def client() -> None:
        # As fast as a few clients can: past the limit within the first second, on a busy machine too.
        while len(refused) < RATE_LIMIT and time.monotonic() < deadline:
            second = int(time.time())
            error = _call(service, "DescribeRegions", {}).get("Error")
            if error is None:
                # Counted only when sent and answered within one second: the second the service counted it in.
                accepted[second] += int(time.time()) == second
            else:
                assert isinstance(error, dict) and error["Code"] == "RequestLimitExceeded", error
                refused.append(second)

    with ThreadPoolExecutor(8) as pool:
        for running in [pool.submit(client) for _ in range(8)]:
            running.result()
    assert len(refused) >= RATE_LIMIT, f"only {len(refused)} calls refused by the rate limit in 20 s"
    # Counted across the workers: at most the limit per second. Counted per worker, twice the limit would
    # get through.
    assert max(accepted.values()) <= RATE_LIMIT, accepted
