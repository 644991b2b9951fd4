"""The same calls through ``tccli``, Tencent's command line (a subprocess per call, JSON on stdout).

tccli has no plain-HTTP switch: the scheme goes into ``--endpoint`` and the SDK under it then sends and
signs ``Host: http://127.0.0.1:PORT`` literally (see reference/tencent-api-notes.md). It refuses fields
its API table lacks, so no dry run from here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.service import SECRET_ID, SECRET_KEY, RunningService, wait_for

from .sdk import POSTPAID, SPEC, ZONE, Api, Masters, nothing_created

TCCLI = shutil.which("tccli", path=str(Path(sys.executable).parent)) or shutil.which("tccli")


class Tccli:
    def __init__(self, service: RunningService, home: Path) -> None:
        assert TCCLI, "tccli is not installed next to this Python"
        self.service = service
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("TENCENTCLOUD_")}, "HOME": str(home)}

    def run(self, action: str, **params: Any) -> subprocess.CompletedProcess[str]:
        argv = [TCCLI, "postgres", action, "--endpoint", self.service.url, "--region", "ap-beijing",
                "--secretId", SECRET_ID, "--secretKey", SECRET_KEY]
        for name, value in params.items():
            argv += [f"--{name}", value if isinstance(value, str) else json.dumps(value)]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60, check=False)

    def __call__(self, action: str, **params: Any) -> dict[str, Any]:
        done = self.run(action, **params)
        assert done.returncode == 0, f"tccli {action} failed ({done.returncode}): {done.stdout}{done.stderr}"
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer


def test_create_and_describe_with_tccli(api: Api, masters: Masters, service: RunningService,
                                        tccli_home: Path) -> None:
    tccli = Tccli(service, tccli_home)
    assert ZONE in {z["Zone"] for z in tccli("DescribeZones")["ZoneSet"]}

    created = tccli("CreateReadOnlyDBInstance", MasterDBInstanceId=masters.postpaid, Zone=ZONE, SpecCode=SPEC,
                    Storage=30, InstanceCount=1, Period=1, InstanceChargeType=POSTPAID, Name="via-tccli",
                    ProjectId=1, VpcId="vpc-8btfafeo", SubnetId="subnet-1i9huswn", SecurityGroupIds=["sg-iwnfp51z"])
    assert created["RequestId"] and len(created["DealNames"]) == 1
    (replica,) = created["DBInstanceIdSet"]

    def listed() -> dict[str, Any] | None:
        answer = tccli("DescribeDBInstances", Filters=[{"Name": "db-master-instance-id", "Values": [masters.postpaid]}])
        found = {i["DBInstanceId"]: i for i in answer["DBInstanceSet"]}.get(replica)
        return found if found and found["DBInstanceStatus"] in ("running", "offline") else None

    shown = wait_for(listed, 120, f"{replica} to be running (seen through tccli)", interval=0.2)
    assert shown["DBInstanceStatus"] == "running", api.failure(replica)
    assert (shown["DBInstanceType"], shown["MasterDBInstanceId"], shown["DBInstanceName"]) == (
        "readonly", masters.postpaid, "via-tccli")
    assert (shown["DBInstanceStorage"], shown["ProjectId"], shown["VpcId"]) == (30, 1, "vpc-8btfafeo")
    assert shown["DBInstanceNetInfo"][0]["Port"] > 0

    attribute = tccli("DescribeDBInstanceAttribute", DBInstanceId=masters.postpaid)["DBInstance"]
    assert attribute["ReadOnlyInstanceNum"] >= 1 and attribute["DBInstanceType"] == "primary"

    # An error reaches tccli with its code (tccli prints the SDK's exception and exits non-zero).
    with nothing_created(api):
        refused = tccli.run("CreateReadOnlyDBInstance", MasterDBInstanceId=masters.postpaid, Zone="ap-beijing-99",
                            SpecCode=SPEC, Storage=20, InstanceCount=1, Period=1, InstanceChargeType=POSTPAID)
    assert refused.returncode != 0
    assert "code:InvalidParameterValue.IllegalZone" in refused.stdout + refused.stderr
