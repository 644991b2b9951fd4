"""Helpers of the Huawei RDS v3 tests: the official SDK's client pointed at a service, and request
builders with the SDK's own models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkrds.v3 import (
    CreateInstanceRequest,
    Datastore,
    InstanceRequest,
    ListInstancesRequest,
    ListJobInfoRequest,
    RdsClient,
    Volume,
)
from tests.support.service import SECRET_ID, SECRET_KEY, wait_for

from openrds.api.huawei_v3.signing import SignedRequest, authorization_header
from openrds.container import Container

REGION = "cn-north-1"
ZONE = "cn-north-1a"
PRIMARY_FLAVOR = "rds.pg.s1.large"
REPLICA_FLAVOR = "rds.pg.s1.large.rr"
ROOT_PASSWORD = "Huawei-Passw0rd!"
JOB_TIMEOUT = 120  # scaled for slow machines by `wait_for`


def project_id(container: Container, region: str = REGION, tenant: int = 0) -> str:
    """The bootstrap tenant's project of ``region`` (projects are named after regions)."""
    owner = sorted(container.identity.tenants(), key=lambda t: t.created_at)[tenant]
    return next(p.id for p in container.identity.projects(owner.id) if p.name == region)


def client(url: str, project: str, *, ak: str = SECRET_ID, sk: str = SECRET_KEY,
           headers: dict[str, str] | None = None) -> RdsClient:
    """The SDK exactly as a user builds it (README), plus ``headers`` preset on every request."""
    config = HttpConfig.get_default_config()
    config.timeout = (10, 60)
    built: RdsClient = (RdsClient.new_builder().with_http_config(config)
                        .with_credentials(BasicCredentials(ak, sk, project)).with_endpoint(url).build())
    built.preset_headers.update(headers or {})
    return built


def primary_request(name: str, **changes: Any) -> CreateInstanceRequest:
    fields: dict[str, Any] = {
        "name": name, "datastore": Datastore(type="PostgreSQL", version="16"), "flavor_ref": PRIMARY_FLAVOR,
        "volume": Volume(type="CLOUDSSD", size=40), "region": REGION, "availability_zone": ZONE,
        "password": ROOT_PASSWORD,
    }
    fields.update(changes)
    return CreateInstanceRequest(body=InstanceRequest(**fields))


def replica_request(name: str, master_id: str, **changes: Any) -> CreateInstanceRequest:
    fields: dict[str, Any] = {"name": name, "replica_of_id": master_id, "flavor_ref": REPLICA_FLAVOR,
                              "volume": Volume(type="CLOUDSSD", size=40), "region": REGION,
                              "availability_zone": ZONE}
    fields.update(changes)
    return CreateInstanceRequest(body=InstanceRequest(**fields))


def wait_job(rds: RdsClient, job_id: str, timeout: float = JOB_TIMEOUT) -> Any:
    def finished() -> Any:
        job = rds.list_job_info(ListJobInfoRequest(id=job_id)).job
        assert job.status != "Failed", job
        return job if job.status == "Completed" else None

    return wait_for(finished, timeout, f"job {job_id} to complete")


def instance(rds: RdsClient, instance_id: str) -> Any:
    """One instance: v3 has no "show", a list by id is how the SDK reads one."""
    [found] = rds.list_instances(ListInstancesRequest(id=instance_id)).instances
    return found


def refused(call: Any, status: int, code: str) -> ClientRequestException:
    """``call()`` raises the SDK's client error with ``status`` and ``code``, a message and a request id."""
    try:
        call()
    except ClientRequestException as exc:
        assert (exc.status_code, exc.error_code) == (status, code), (exc.status_code, exc.error_code, exc.error_msg)
        assert exc.error_msg and exc.request_id, exc
        return exc
    raise AssertionError(f"expected {status} {code}, the call succeeded")


def signed(url: str, method: str, path: str, body: bytes = b"",
           headers: dict[str, str] | None = None) -> httpx.Response:
    """A request the SDK would not send (a body it cannot make, a header it would not), signed as it signs."""
    sent = {"content-type": "application/json", "host": url.removeprefix("http://"),
            "x-sdk-date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"), **(headers or {})}
    sent["authorization"] = authorization_header(SECRET_ID, SECRET_KEY, SignedRequest(method, path, "", sent, body))
    return httpx.request(method, f"{url}{path}", content=body, headers=sent, timeout=30)
