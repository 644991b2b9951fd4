"""Replay-safe SDK-HMAC-SHA256 (issue 13, case 2, for the v3 face): a captured signed request that
changes state cannot be sent again from another connection; a signed read can; the SDK's own flow -
polling included - is untouched; token requests are not signed, so nothing about them is remembered.
On the in-process service with the fake engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from huaweicloudsdkrds.v3 import (
    DeleteInstanceRequest,
    InstanceRestartRequsetBody,
    ListInstancesRequest,
    RdsClient,
    RestartConfiguration,
    StartInstanceRestartActionRequest,
)
from tests.api_huawei.support import issue_token
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import SECRET_ID, SECRET_KEY

from openrds.api.huawei_v3.signing import SignedRequest, authorization_header

from .support import (
    PRIMARY_FLAVOR,
    REGION,
    ROOT_PASSWORD,
    ZONE,
    client,
    instance,
    primary_request,
    project_id,
    wait_job,
)


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service(driver=FakeDriver()) as running:
        yield running


@pytest.fixture(scope="module")
def rds(service: InProcessService) -> RdsClient:
    return client(service.url, project_id(service.container))


def captured(url: str, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    """The headers of one request signed as the SDK signs it: what an eavesdropper would resend as is."""
    headers = {"content-type": "application/json", "host": url.removeprefix("http://"),
               "x-sdk-date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")}
    headers["authorization"] = authorization_header(SECRET_ID, SECRET_KEY,
                                                    SignedRequest(method, path, "", headers, body))
    return headers


def send_twice(url: str, method: str, path: str, body: bytes = b"") -> tuple[httpx.Response, httpx.Response]:
    """The same signed request sent over one connection, then again over another (a replay)."""
    headers = captured(url, method, path, body)
    with httpx.Client(base_url=url, timeout=30) as first, httpx.Client(base_url=url, timeout=30) as second:
        original = first.request(method, path, content=body, headers=headers)
        replayed = second.request(method, path, content=body, headers=headers)
    return original, replayed


def names(rds: RdsClient, name: str) -> list[str]:
    return [i.id for i in rds.list_instances(ListInstancesRequest(name=name)).instances if i.name == name]


def assert_replay_refused(reply: httpx.Response) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.json()["error_code"] == "APIGW.0301", reply.text
    assert "already used" in reply.json()["error_msg"], reply.text
    assert reply.headers["X-Request-Id"]


def test_a_signed_create_replayed_from_another_connection_is_refused_and_creates_nothing(
        service: InProcessService, rds: RdsClient) -> None:
    project = project_id(service.container)
    body = json.dumps({"name": "replayed-create", "datastore": {"type": "PostgreSQL", "version": "16"},
                       "flavor_ref": PRIMARY_FLAVOR, "volume": {"type": "CLOUDSSD", "size": 40}, "region": REGION,
                       "availability_zone": ZONE, "password": ROOT_PASSWORD}).encode()
    created, replayed = send_twice(service.url, "POST", f"/v3/{project}/instances", body)
    assert created.status_code == 202, created.text
    assert_replay_refused(replayed)
    [made] = names(rds, "replayed-create")
    assert made == created.json()["instance"]["id"]
    wait_job(rds, created.json()["job_id"])

    # A captured delete neither: the original deletes, the replay is refused before reaching the service.
    deleted, replayed = send_twice(service.url, "DELETE", f"/v3/{project}/instances/{made}")
    assert deleted.status_code == 202, deleted.text
    assert_replay_refused(replayed)
    wait_job(rds, deleted.json()["job_id"])
    assert names(rds, "replayed-create") == []


def test_a_signed_get_sent_twice_is_answered_twice(service: InProcessService) -> None:
    first, again = send_twice(service.url, "GET", f"/v3/{project_id(service.container)}/instances")
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json()


def test_the_sdks_normal_flow_still_works(rds: RdsClient) -> None:
    made = rds.create_instance(primary_request("sdk-flow"))
    wait_job(rds, made.job_id)  # polls list_job_info: identical signed GETs, often within one second
    assert instance(rds, made.instance.id).status == "ACTIVE"
    restart = rds.start_instance_restart_action(StartInstanceRestartActionRequest(
        instance_id=made.instance.id, body=InstanceRestartRequsetBody(restart=RestartConfiguration())))
    wait_job(rds, restart.job_id)
    gone = rds.delete_instance(DeleteInstanceRequest(instance_id=made.instance.id))
    wait_job(rds, gone.job_id)
    assert names(rds, "sdk-flow") == []


def test_token_requests_are_not_signed_and_not_remembered(service: InProcessService) -> None:
    token, body = issue_token(service.url, REGION)
    dry_run = {"name": "token-dry-run", "datastore": {"type": "PostgreSQL", "version": "16"},
               "flavor_ref": PRIMARY_FLAVOR, "volume": {"type": "CLOUDSSD", "size": 40}, "region": REGION,
               "availability_zone": ZONE, "password": ROOT_PASSWORD, "dry_run": True}
    for _ in range(2):
        reply = httpx.post(f"{service.url}/v3/{body['project']['id']}/instances", json=dry_run,
                           headers={"X-Auth-Token": token}, timeout=30)
        assert reply.status_code == 202, reply.text
