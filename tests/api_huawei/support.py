"""Helpers of the Huawei face tests: IAM tokens, a small RDS v1 client over plain httpx, and waits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from tests.support.service import IAM_PASSWORD, IAM_USER, wait_for

ROOT_PASSWORD = "Huawei-Passw0rd!"
REGION = "cn-north-1"
ZONE = "cn-north-1a"
MASTER_FLAVOR = "rds.pg.s1.large"
REPLICA_FLAVOR = "rds.pg.s1.large.rr"
# The seed's network (in the default catalogue).
VPC = "490a4a08-ef4b-44c5-94be-3051ef9e4fce"
SUBNET = "0e2eda62-1d42-4d64-a9d1-4e9aa9cd994f"
SECURITY_GROUP = "2a1f7fc8-3307-42a7-aa6f-42c8b9b8f8c5"
CREATE_TIMEOUT = 120  # scaled for slow machines by `wait_for`
CJK = re.compile(r"[\u4e00-\u9fff]")


def token_request(project: dict[str, str] | None = None, *, password: str = IAM_PASSWORD) -> dict[str, Any]:
    """A Keystone v3 password-method body, scoped to ``project`` ({"id": ...} or {"name": ...}) if given."""
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
        "name": IAM_USER, "password": password, "domain": {"name": IAM_USER}}}}}
    if project is not None:
        auth["scope"] = {"project": project}
    return {"auth": auth}


def issue_token(url: str, project_name: str | None = REGION) -> tuple[str, dict[str, Any]]:
    """(X-Subject-Token, token body) for the bootstrap IAM user; unscoped when ``project_name`` is None."""
    reply = httpx.post(f"{url}/v3/auth/tokens", json=token_request({"name": project_name} if project_name else None),
                       headers={"Content-Type": "application/json"}, timeout=30)
    assert reply.status_code == 201, reply.text
    return reply.headers["X-Subject-Token"], reply.json()["token"]


@dataclass
class Rds:
    """Calls under ``/v1/{project_id}`` with a token, the way the seed's curl lines do."""

    url: str
    token: str
    project_id: str
    prefix: str = "/v1"

    @classmethod
    def login(cls, url: str, project_name: str = REGION) -> Rds:
        token, body = issue_token(url, project_name)
        return cls(url, token, body["project"]["id"])

    def headers(self, language: str = "en-us") -> dict[str, str]:
        return {"Content-Type": "application/json", "X-Auth-Token": self.token, "X-Language": language}

    def path(self, tail: str) -> str:
        return f"{self.url}{self.prefix}/{self.project_id}/{tail}"

    def get(self, tail: str, language: str = "en-us", **params: str) -> httpx.Response:
        return httpx.get(self.path(tail), headers=self.headers(language), params=params or None, timeout=30)

    def post(self, tail: str, body: Any, language: str = "en-us") -> httpx.Response:
        return httpx.post(self.path(tail), json=body, headers=self.headers(language), timeout=30)

    def delete(self, tail: str, language: str = "en-us") -> httpx.Response:
        return httpx.delete(self.path(tail), headers=self.headers(language), timeout=30)

    def instance(self, instance_id: str) -> dict[str, Any]:
        reply = self.get(f"instances/{instance_id}")
        assert reply.status_code == 200, reply.text
        return dict(reply.json()["instance"])

    def wait_status(self, instance_id: str, status: str, timeout: float = CREATE_TIMEOUT) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            found = self.instance(instance_id)
            assert found["status"] != "FAILED" or status == "FAILED", f"instance {instance_id} failed"
            return found if found["status"] == status else None

        return wait_for(reached, timeout, f"instance {instance_id} to be {status}")

    def wait_job(self, job_id: str, timeout: float = CREATE_TIMEOUT) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            reply = self.get("jobs", id=job_id)
            assert reply.status_code == 200, reply.text
            job = dict(reply.json()["job"])
            assert job["status"] != "Failed", job
            return job if job["status"] == "Completed" else None

        return wait_for(finished, timeout, f"job {job_id} to complete")


def primary_body(name: str, *, version: str | None = None, flavor: str = MASTER_FLAVOR,
                 **changes: Any) -> dict[str, Any]:
    """A complete primary create body (Huawei's documented fields); ``changes`` replace fields."""
    instance: dict[str, Any] = {
        "name": name,
        "datastore": {"type": "PostgreSQL", "version": version or "15"},
        "flavorRef": flavor,
        "volume": {"type": "COMMON", "size": 40},
        "region": REGION,
        "availabilityZone": ZONE,
        "vpc": VPC,
        "nics": {"subnetId": SUBNET},
        "securityGroup": {"id": SECURITY_GROUP},
        "backupStrategy": {"startTime": "01:00:00", "keepDays": 3},
        "dbRtPd": ROOT_PASSWORD,
    }
    instance.update(changes)
    return {"instance": {k: v for k, v in instance.items() if v is not None}}


def connect(instance: dict[str, Any], dbname: str = "postgres",
            password: str = ROOT_PASSWORD) -> psycopg.Connection[Any]:
    """Connect where the API says a client connects: ``hostname``/``dbPort``, as ``root``."""
    return psycopg.connect(host=instance["hostname"], port=instance["dbPort"], user="root", password=password,
                           dbname=dbname, connect_timeout=5, autocommit=True)


def assert_error(reply: httpx.Response, status: int, code: str, language: str) -> str:
    """The reply is the RDS v1 error ``code`` with HTTP ``status``, its message in ``language``."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["errCode"] == code, body
    message = str(body["externalMessage"])
    assert message
    if language == "zh-cn":
        assert CJK.search(message), message
    else:
        assert not CJK.search(message), message
    return message
