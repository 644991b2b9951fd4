"""Tenant quotas against the whole service (in this process, over the fake engine): exceeding one
answers the face's documented code (Tencent ``LimitExceeded`` through the official SDK, Huawei 400
``RDS.5009`` curl-style) with a message naming the quota, and creates nothing; ``openrds admin
set-quota`` changes them while the service runs and ``show-quota`` shows limits and usage. (Races and
the rule's corners: tests/control_plane/test_quotas.py.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from tests.api_huawei.support import Rds, assert_error, primary_body
from tests.fakes.driver import FakeDriver
from tests.support.in_process import in_process_service
from tests.support.service import RunningService

from .sdk import ADMIN_NAME, ADMIN_PASSWORD, POSTPAID, SPEC, ZONE, Api, expect_error, nothing_created

LANGUAGES = ("en-us", "zh-cn")


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    # Quotas are records and rules, not PostgreSQL: the service in this process over the fake engine.
    with in_process_service(driver=FakeDriver(), quota_instances=1, quota_ro_groups=1, quota_storage_gb=100) as running:
        yield running  # type: ignore[misc]  # duck-types RunningService


@pytest.fixture(scope="module")
def api(service: RunningService) -> Api:
    return Api(service)


@pytest.fixture(scope="module")
def master(api: Api) -> str:
    """The tenant's one instance (its instance quota is 1), 20 GB, running."""
    code = api.create_master(POSTPAID, storage=20, name="quota-master")
    api.wait_status([code], "running")
    return code


def primary(**changes: Any) -> dict[str, Any]:
    params = {"SpecCode": SPEC, "Storage": 20, "InstanceCount": 1, "Period": 1, "Zone": ZONE, "Charset": "UTF8",
              "AdminName": ADMIN_NAME, "AdminPassword": ADMIN_PASSWORD, "InstanceChargeType": POSTPAID}
    return {**params, **changes}


def replica(master: str, **changes: Any) -> dict[str, Any]:
    params = {"MasterDBInstanceId": master, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1, "Period": 1,
              "Zone": ZONE, "InstanceChargeType": POSTPAID}
    return {**params, **changes}


def admin(service: RunningService, *args: str) -> str:
    """``openrds admin ...`` in its own process over the service's data root; its output."""
    done = subprocess.run([sys.executable, "-m", "openrds", "admin", *args, "--data-dir", str(service.data_dir)],
                          env={**service.env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def quota_rows(output: str) -> dict[str, list[str]]:
    """The admin commands' quota table: quota name -> [limit, used, set for the tenant]."""
    found = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│┃").split("│")]
        if len(cells) == 4 and cells[0].split(" ")[0] in ("instances", "ro_groups", "storage_gb"):
            found[cells[0].split(" ")[0]] = cells[1:]
    return found


def test_instance_quota_refuses_creates_on_both_faces(service: RunningService, api: Api, master: str) -> None:
    rds = Rds.login(service.url)
    with nothing_created(api):
        error = expect_error("LimitExceeded", lambda: api.send("CreateInstances", primary()))
        assert "quota instances (instances) exceeded: the tenant has 1, this request adds 1, the limit is 1" in (
            error.message or ""), error.message
        expect_error("LimitExceeded", lambda: api.call("CreateInstances", primary(DryRun=True)))
        expect_error("LimitExceeded", lambda: api.send("CreateReadOnlyDBInstance", replica(master)))
        # Huawei's projects are other regions than the Tencent master's: a primary is what it can ask for.
        for language in LANGUAGES:
            message = assert_error(rds.post("instances", primary_body("quota-primary"), language), 400, "RDS.5009",
                                   language)
            assert "quota instances" in message, message


def test_admin_raises_quotas_while_the_service_runs_then_storage_and_groups_are_refused(
        service: RunningService, api: Api, master: str) -> None:
    assert quota_rows(admin(service, "show-quota", "default")) == {
        "instances": ["1", "1", "no (default)"], "ro_groups": ["1", "0", "no (default)"],
        "storage_gb": ["100 GB", "20 GB", "no (default)"]}
    shown = quota_rows(admin(service, "set-quota", "default", "--instances", "10", "--storage-gb", "50"))
    assert shown == {"instances": ["10", "1", "yes"], "ro_groups": ["1", "0", "no (default)"],
                     "storage_gb": ["50 GB", "20 GB", "yes"]}

    rds = Rds.login(service.url)
    with nothing_created(api):  # 20 GB used of 50: 40 more is too much, whichever face asks
        error = expect_error("LimitExceeded", lambda: api.send("CreateInstances", primary(Storage=40)))
        assert "quota storage_gb (storage) exceeded: the tenant has 20 GB, this request adds 40 GB, the limit is " \
               "50 GB" in (error.message or ""), error.message
        expect_error("LimitExceeded", lambda: api.send("CreateReadOnlyDBInstance", replica(master, InstanceCount=2)))
        for language in LANGUAGES:
            body = primary_body("quota-storage", volume={"type": "COMMON", "size": 40})
            message = assert_error(rds.post("instances", body, language), 400, "RDS.5009", language)
            assert "quota storage_gb" in message, message

    # One read-only group is allowed (each is a balancer process and a port): the second is refused.
    first = api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": master, "Name": "first"}).ReadOnlyGroupId
    error = expect_error("LimitExceeded", lambda: api.send("CreateReadOnlyGroup",
                                                           {"MasterDBInstanceId": master, "Name": "second"}))
    assert "quota ro_groups (read-only groups) exceeded: the tenant has 1" in (error.message or ""), error.message
    listed = api.call("DescribeReadOnlyGroups", {"PageSize": 100})["ReadOnlyGroupList"]
    assert [g["ReadOnlyGroupId"] for g in listed] == [first]
    assert quota_rows(admin(service, "show-quota", "default"))["ro_groups"] == ["1", "1", "no (default)"]
