"""IAM sign-in hardening against a real `openrds serve`: the token body is read up to 1 MiB and refused
past it without reading the rest, and a re-scoped token keeps the expiry of the token it came from.
(The throttle shared with the console is tested with both faces in tests/console/test_pages.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.support.http import post_unfinished
from tests.support.service import RunningService, running_service

from .support import REGION, issue_token

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service() as running:
        yield running


@pytest.mark.parametrize(("declared", "chunked"), [(200 * MIB, 0), (None, MIB + 16 * 1024)],
                         ids=["content-length", "chunked"])
def test_token_body_over_1_mib_is_refused_without_reading_the_rest(
        service: RunningService, declared: int | None, chunked: int) -> None:
    answer = post_unfinished(service.port, "/v3/auth/tokens", declared=declared, chunked=chunked,
                             headers={"Content-Type": "application/json"})
    assert answer.status == 413, answer
    error = answer.json()["error"]
    assert error["code"] == 413 and error["title"] == "Request Entity Too Large"
    assert "1 MiB" in error["message"]
    assert answer.closed, "the connection stays open: the server would go on reading the body"
    assert "x-subject-token" not in answer.headers


def test_rds_body_over_1_mib_is_refused_in_the_rds_shape(service: RunningService) -> None:
    token, body = issue_token(service.url)
    path = f"/v1/{body['project']['id']}/instances"
    answer = post_unfinished(service.port, path, declared=200 * MIB, headers={"X-Auth-Token": token})
    assert answer.status == 413 and answer.json()["errCode"] == "RDS.0007" and answer.closed


def test_rescoped_token_keeps_the_source_tokens_expiry(service: RunningService) -> None:
    token, unscoped = issue_token(service.url, None)

    def rescope(source: str, project: str) -> tuple[str, dict[str, str]]:
        reply = httpx.post(f"{service.url}/v3/auth/tokens", json={"auth": {
            "identity": {"methods": ["token"], "token": {"id": source}}, "scope": {"project": {"name": project}}}})
        assert reply.status_code == 201, reply.text
        return reply.headers["X-Subject-Token"], reply.json()["token"]

    scoped_token, scoped = rescope(token, REGION)
    assert scoped["issued_at"] > unscoped["issued_at"]
    assert scoped["expires_at"] == unscoped["expires_at"]
    _, again = rescope(scoped_token, "cn-north-4")  # a chain of re-scopes renews nothing either
    assert again["expires_at"] == unscoped["expires_at"]
