"""Helpers of the Tencent API tests: every call goes through the official SDK (``tencentcloud-sdk-python``)
against a real ``openrds serve`` (``tests.support.service.running_service``).

``Api`` wraps one set of credentials: ``client`` is the typed ``PostgresClient``, ``common`` the SDK's
``CommonClient`` (raw JSON in and out, for the documents' examples sent exactly as written).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.postgres.v20170312 import models, postgres_client
from tests.fakes.driver import FakeDriver
from tests.support.service import SECRET_ID, SECRET_KEY, RunningService, wait_for

REGION = "ap-beijing"
ZONE = "ap-beijing-4"
SPEC = "pg.it.small2"
ADMIN_NAME = "dbadmin"
ADMIN_PASSWORD = "Openrds-Test1"
POSTPAID = "POSTPAID_BY_HOUR"
PREPAID = "PREPAID"
# Generous: a create is initdb/pg_basebackup plus a start, seconds on an idle host; CI hosts are slower.
CREATE_TIMEOUT = 120.0
OPERATION_TIMEOUT = 60.0


class Api:
    """The official SDK, signed with one tenant's key, pointed at the service over plain HTTP."""

    def __init__(self, service: RunningService, secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY) -> None:
        cred = credential.Credential(secret_id, secret_key)
        profile = ClientProfile(httpProfile=HttpProfile(endpoint=service.endpoint, protocol="http", reqTimeout=30),
                                language="en-US")
        self.service = service
        self.client = postgres_client.PostgresClient(cred, REGION, profile)
        self.common = CommonClient("postgres", "2017-03-12", cred, REGION, profile)

    # --- raw JSON ------------------------------------------------------------------------------
    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """``Response`` of a CommonClient call (errors raise TencentCloudSDKException)."""
        response: dict[str, Any] = self.common.call_json(action, params)["Response"]
        assert response["RequestId"]
        return response

    # --- typed ---------------------------------------------------------------------------------
    def send(self, action: str, params: dict[str, Any]) -> Any:
        """Typed call: ``models.<action>Request`` filled from ``params``, ``client.<action>(req)``."""
        request = getattr(models, f"{action}Request")()
        request.from_json_string(json.dumps(params))
        return getattr(self.client, action)(request)

    def instances(self, *filters: tuple[str, list[str]]) -> dict[str, models.DBInstance]:
        """Every instance the caller sees (paged through), by DBInstanceId."""
        found: dict[str, models.DBInstance] = {}
        offset = 0
        while True:
            params: dict[str, Any] = {"Limit": 100, "Offset": offset}
            if filters:
                params["Filters"] = [{"Name": name, "Values": values} for name, values in filters]
            page = self.send("DescribeDBInstances", params)
            found.update({i.DBInstanceId: i for i in page.DBInstanceSet})
            offset += len(page.DBInstanceSet)
            if not page.DBInstanceSet or offset >= page.TotalCount:
                return found

    def instance(self, instance_id: str) -> models.DBInstance:
        return self.send("DescribeDBInstanceAttribute", {"DBInstanceId": instance_id}).DBInstance

    def task_count(self) -> int:
        return int(self.send("DescribeTasks", {"Limit": 1}).TotalCount)

    def create_master(self, charge_type: str = POSTPAID, *, storage: int = 20, name: str = "") -> str:
        params: dict[str, Any] = {
            "SpecCode": SPEC, "Storage": storage, "InstanceCount": 1, "Period": 1, "Zone": ZONE,
            "Charset": "UTF8", "AdminName": ADMIN_NAME, "AdminPassword": ADMIN_PASSWORD,
            "InstanceChargeType": charge_type,
        }
        if name:
            params["Name"] = name
        created = self.send("CreateInstances", params)
        assert len(created.DBInstanceIdSet) == 1, created.to_json_string()
        code: str = created.DBInstanceIdSet[0]
        return code

    def wait_status(self, ids: Iterable[str], status: str,
                    timeout: float = CREATE_TIMEOUT) -> dict[str, models.DBInstance]:
        """Wait until every instance of ``ids`` is ``status``; fail at once if one failed (``offline``)."""
        wanted = list(ids)

        def settled() -> dict[str, models.DBInstance] | None:
            seen = self.instances(("db-instance-id", wanted))
            if len(seen) == len(wanted) and all(i.DBInstanceStatus in (status, "offline") for i in seen.values()):
                return seen
            return None

        seen = wait_for(settled, timeout, f"{wanted} to be {status}", interval=0.1)
        failed = {k: self.failure(k) for k, v in seen.items() if v.DBInstanceStatus != status}
        assert not failed, f"instances failed instead of becoming {status}: {failed}\n{self.service.log()[-4000:]}"
        return seen

    def wait_gone(self, ids: Iterable[str], timeout: float = OPERATION_TIMEOUT) -> None:
        wanted = list(ids)
        wait_for(lambda: not self.instances(("db-instance-id", wanted)), timeout, f"{wanted} to be destroyed",
                 interval=0.1)

    def failure(self, instance_id: str) -> str:
        tasks = self.send("DescribeTasks", {"DBInstanceId": instance_id}).TaskSet
        return "; ".join(f"{t.TaskType}: {t.Status} {t.TaskDetail.Message}" for t in tasks)


def expect_error(code: str, call: Callable[[], Any], field: str | None = None) -> TencentCloudSDKException:
    """``call`` raises the SDK's exception with ``code``; its message names ``field`` (a request parameter)."""
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    error = info.value
    assert error.code == code, f"expected {code}, got {error.code}: {error.message}"
    assert error.requestId, "every error answer carries a RequestId"
    if field is not None:
        assert f"`{field}`" in (error.message or ""), f"the message should name `{field}`: {error.message}"
    return error


def server_dirs(service: RunningService) -> set[str]:
    """Names of the server directories under the data root (one per PostgreSQL server); of a service
    in this process over the fake engine, the fake's servers."""
    container = getattr(service, "container", None)
    if container is not None and isinstance(container.driver, FakeDriver):
        return {s.instance_id for s in container.driver.servers()}
    root = service.data_dir / "instances"
    return {p.name for p in root.iterdir() if p.is_dir()} if root.exists() else set()


@contextmanager
def nothing_created(api: Api) -> Iterator[None]:
    """The block creates no instance (DescribeDBInstances), no task and no server directory."""
    before = (set(api.instances()), api.task_count(), server_dirs(api.service))
    yield
    after = (set(api.instances()), api.task_count(), server_dirs(api.service))
    assert after == before, f"something was created: before={before} after={after}"


def processes_under(root: Path) -> list[int]:
    """PIDs whose command line or working directory lies under ``root`` (a postmaster is started with
    ``-D <root>/...``; every PostgreSQL backend runs with its data directory as working directory)."""
    resolved = str(root.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # exited meanwhile, or not ours to read
        if resolved in cmdline or cwd.startswith(resolved):
            found.append(int(entry.name))
    return found


def slot_name(instance_id: str) -> str:
    """The replication slot a replica holds on its master (the engine's naming)."""
    return re.sub(r"[^a-z0-9_]", "_", instance_id.lower())[:63]


#: Example 1 of the seed (``002``, "Creating a Read-Only Instance"), exactly as written. Example 2 ("using
#: verification mode") is the same body; what makes it a verification is ``DryRun``.
SEED_EXAMPLE: dict[str, Any] = {
    "DBVersion": "12.22",
    "InstanceChargeType": "POSTPAID_BY_HOUR",
    "InstanceCount": 1,
    "MasterDBInstanceId": "postgres-abcdef",
    "Period": 1,
    "ProjectId": 1,
    "ReadOnlyGroupId": "",
    "SecurityGroupIds": [
        "sg-iwnfp51z"
    ],
    "SpecCode": "pg.it.small2",
    "Storage": 100,
    "SubnetId": "subnet-1i9huswn",
    "VpcId": "vpc-8btfafeo",
    "Zone": "ap-beijing-4"
}


def seed_example(master_id: str, **extra: Any) -> dict[str, Any]:
    """The seed's example body with this service's master in place of ``postgres-abcdef``."""
    return {**SEED_EXAMPLE, "MasterDBInstanceId": master_id, **extra}


@dataclass(frozen=True)
class Masters:
    postpaid: str  # the seed's examples, the error cases, tccli, groups
    prepaid: str  # prepaid-only rules
    spare: str  # isolated by the test that needs an isolated master


@dataclass(frozen=True)
class SeedReplica:
    response: dict[str, Any]  # the answer to the seed's example 1
    instance_id: str
