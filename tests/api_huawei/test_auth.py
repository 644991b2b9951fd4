"""IAM (Keystone v3) tokens, projects and regions, and the token check in front of every RDS path:
401 for a missing, unknown or expired token, 403 for a token of another project (or none)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.support.service import IAM_PASSWORD, IAM_USER, RunningService, running_service, wait_for

from .support import REGION, Rds, assert_error, issue_token, token_request

LANGUAGES = ("en-us", "zh-cn")
RDS_PATHS = ("instances", "flavors", "datastores/PostgreSQL/versions", "jobs?id=" + "0" * 32)


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service() as running:
        yield running


@pytest.fixture(scope="module")
def rds(service: RunningService) -> Rds:
    return Rds.login(service.url)


def keystone_error(reply: httpx.Response, status: int) -> str:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == status and error["title"] and error["message"]
    return str(error["message"])


# --- tokens --------------------------------------------------------------------------------------
def test_scoped_by_name_and_by_id(service: RunningService) -> None:
    token, body = issue_token(service.url, REGION)
    assert token.startswith("MII") and body["methods"] == ["password"]
    assert body["user"]["name"] == IAM_USER and body["user"]["domain"]["name"] == IAM_USER
    assert body["expires_at"].endswith("Z") and body["issued_at"] < body["expires_at"]
    project = body["project"]
    assert project["name"] == REGION
    by_type = {entry["type"]: entry for entry in body["catalog"]}
    assert by_type["rds"]["endpoints"][0]["url"] == f"{service.url}/v1/{project['id']}"
    assert by_type["database"]["endpoints"][0]["url"] == f"{service.url}/v1.0/{project['id']}"  # Trove's
    reply = httpx.post(f"{service.url}/v3/auth/tokens", json=token_request({"id": project["id"]}))
    assert reply.status_code == 201 and reply.json()["token"]["project"] == project


def test_unscoped_token_lists_projects_and_regions_and_rescopes(service: RunningService) -> None:
    token, body = issue_token(service.url, None)
    assert "project" not in body and body["catalog"] == []
    headers = {"X-Auth-Token": token}
    projects = httpx.get(f"{service.url}/v3/auth/projects", headers=headers).json()["projects"]
    assert REGION in {p["name"] for p in projects}
    assert all(len(p["id"]) == 32 for p in projects)
    by_name = httpx.get(f"{service.url}/v3/projects", params={"name": "cn-north-4"}, headers=headers).json()
    assert [p["name"] for p in by_name["projects"]] == ["cn-north-4"]
    regions = httpx.get(f"{service.url}/v3/regions", headers=headers).json()["regions"]
    assert {"cn-north-1", "cn-north-4", "ap-beijing"} <= {r["id"] for r in regions}
    region = httpx.get(f"{service.url}/v3/regions/cn-north-4", headers=headers).json()["region"]
    assert region["locales"] == {"en-us": "CN North-Beijing4", "zh-cn": "华北-北京四"}
    keystone_error(httpx.get(f"{service.url}/v3/regions/nowhere", headers=headers), 404)
    # The token method re-scopes an unscoped token to a project.
    reply = httpx.post(f"{service.url}/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": token}}, "scope": {"project": {"name": REGION}}}})
    assert reply.status_code == 201 and reply.json()["token"]["project"]["name"] == REGION
    rescoped = Rds(service.url, reply.headers["X-Subject-Token"], reply.json()["token"]["project"]["id"])
    assert rescoped.get("instances").status_code == 200


@pytest.mark.parametrize(("body", "status"), [
    (token_request({"name": REGION}, password="Wrong-Passw0rd!"), 401),
    ({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "nobody", "password": IAM_PASSWORD, "domain": {"name": IAM_USER}}}}}}, 401),
    ({"auth": {"identity": {"methods": ["token"], "token": {"id": "MIInot-a-token"}}}}, 401),
    (token_request({"name": "no-such-project"}), 403),
    (token_request({"id": "0" * 32}), 403),
    (token_request({}), 400),
    ({"auth": {"identity": {"methods": ["password"]}}}, 400),
    ({"auth": {}}, 400),
])
def test_token_refused(service: RunningService, body: dict[str, Any], status: int) -> None:
    reply = httpx.post(f"{service.url}/v3/auth/tokens", json=body)
    keystone_error(reply, status)
    assert "X-Subject-Token" not in reply.headers


def test_token_body_not_json(service: RunningService) -> None:
    keystone_error(httpx.post(f"{service.url}/v3/auth/tokens", content=b"{auth"), 400)


@pytest.mark.parametrize("path", ["/v3/auth/projects", "/v3/projects", "/v3/regions"])
def test_iam_reads_need_a_token(service: RunningService, path: str) -> None:
    keystone_error(httpx.get(f"{service.url}{path}"), 401)
    keystone_error(httpx.get(f"{service.url}{path}", headers={"X-Auth-Token": "MIIforged"}), 401)


# --- the token check on RDS paths ----------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", RDS_PATHS)
@pytest.mark.parametrize("prefix", ["/v1", "/rds/v1"])
def test_missing_or_unknown_token(rds: Rds, language: str, path: str, prefix: str) -> None:
    url = f"{rds.url}{prefix}/{rds.project_id}/{path}"
    assert_error(httpx.get(url, headers={"X-Language": language}), 401, "RDS.4001", language)
    forged = {"X-Auth-Token": "MII" + "x" * 64, "X-Language": language}
    assert_error(httpx.get(url, headers=forged), 401, "RDS.4001", language)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", RDS_PATHS)
def test_token_of_another_project(service: RunningService, rds: Rds, language: str, path: str) -> None:
    other = Rds.login(service.url, "cn-north-4")
    wrong = Rds(rds.url, other.token, rds.project_id)  # cn-north-4's token on cn-north-1's path
    assert_error(wrong.get(path, language), 403, "RDS.4003", language)
    unscoped = Rds(rds.url, issue_token(service.url, None)[0], rds.project_id)
    assert_error(unscoped.get(path, language), 403, "RDS.4003", language)
    unknown_project = Rds(rds.url, rds.token, "f" * 32)
    assert_error(unknown_project.get(path, language), 403, "RDS.4003", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_v3_jobs_path_checks_the_token_too(rds: Rds, language: str) -> None:
    url = f"{rds.url}/v3/{rds.project_id}/jobs"  # the v3 face's (openrds.api.huawei_v3): its error shape
    reply = httpx.get(url, params={"id": "0" * 32}, headers={"X-Language": language})
    assert reply.status_code == 401 and reply.json()["error_code"] == "APIGW.0301", reply.text


@pytest.fixture(scope="module")
def short_lived() -> Iterator[RunningService]:
    with running_service({"OPENRDS_TOKEN_TTL_HOURS": "0.0005"}) as running:  # 1.8 s
        yield running


@pytest.mark.parametrize("language", LANGUAGES)
def test_expired_token(short_lived: RunningService, language: str) -> None:
    rds = Rds.login(short_lived.url)
    assert rds.get("instances", language).status_code == 200

    def refused() -> httpx.Response | None:
        reply = rds.get("instances", language)
        return reply if reply.status_code == 401 else None

    message = assert_error(wait_for(refused, 10, "the token to expire"), 401, "RDS.4001", language)
    assert "expired" in message
    keystone_error(httpx.get(f"{short_lived.url}/v3/regions", headers={"X-Auth-Token": rds.token}), 401)
