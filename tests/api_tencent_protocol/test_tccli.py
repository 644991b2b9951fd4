"""tccli, run as a subprocess against the live server: ``--endpoint http://127.0.0.1:PORT``.

tccli has no plain-HTTP switch, so the scheme goes in the endpoint and the SDK under it sends the
header ``Host: http://127.0.0.1:PORT`` and signs that value: these tests prove the server accepts it.
Each run gets an empty HOME so no user configuration or credential file is read or written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import REGION, SECRET_ID, SECRET_KEY, LiveServer

TCCLI = str(Path(sys.executable).with_name("tccli"))


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def tccli(
    server: LiveServer, home: Path, *args: str, env_credentials: bool = True, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"}
    if env_credentials:
        env |= {"TENCENTCLOUD_SECRET_ID": SECRET_ID, "TENCENTCLOUD_SECRET_KEY": SECRET_KEY}
    env |= extra_env or {}
    argv = [TCCLI, "postgres", *args, "--endpoint", f"http://127.0.0.1:{server.port}", "--region", REGION]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_tccli_success_with_env_credentials(live_server: LiveServer, home: Path) -> None:
    seen = len(live_server.hosts)
    result = tccli(live_server, home, "DescribeRegions")
    assert result.returncode == 0, result.stderr
    # What this test is about: tccli's Host header carries the scheme, and it was accepted.
    assert live_server.hosts[seen:] == [f"http://127.0.0.1:{live_server.port}"]
    answer = json.loads(result.stdout)
    assert answer["TotalCount"] == 1
    assert answer["RegionSet"][0]["Region"] == "ap-beijing"
    assert answer["RequestId"]


def test_tccli_success_with_credential_options(live_server: LiveServer, home: Path) -> None:
    result = tccli(
        live_server, home, "DescribeRegions", "--secretId", SECRET_ID, "--secretKey", SECRET_KEY, env_credentials=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["TotalCount"] == 1


def test_tccli_create_read_only_instance_with_the_seed_arguments(live_server: LiveServer, home: Path) -> None:
    result = tccli(
        live_server,
        home,
        "CreateReadOnlyDBInstance",
        "--DBVersion", "12.22",
        "--InstanceChargeType", "POSTPAID_BY_HOUR",
        "--InstanceCount", "1",
        "--MasterDBInstanceId", "postgres-abcdef",
        "--Period", "1",
        "--ProjectId", "1",
        "--ReadOnlyGroupId", "",
        "--SecurityGroupIds", '["sg-iwnfp51z"]',
        "--SpecCode", "pg.it.small2",
        "--Storage", "100",
        "--SubnetId", "subnet-1i9huswn",
        "--VpcId", "vpc-8btfafeo",
        "--Zone", "ap-beijing-4",
        "--TagList", '{"TagKey": "team", "TagValue": "db"}',
        "--DeletionProtection", "True",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["DealNames"] == [] and answer["BillId"] == ""


@pytest.mark.parametrize(("language", "text"), [("en-US", "The instance does not exist"), ("zh-CN", "实例不存在")])
def test_tccli_reports_the_error_code(live_server: LiveServer, home: Path, language: str, text: str) -> None:
    result = tccli(
        live_server, home, "DescribeDBInstanceAttribute", "--DBInstanceId", "raise-InstanceNotFound",
        "--language", language,
    )  # fmt: skip
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "code:ResourceNotFound.InstanceNotFoundError" in output
    assert text in output


def test_tccli_wrong_key(live_server: LiveServer, home: Path) -> None:
    result = tccli(live_server, home, "DescribeRegions", extra_env={"TENCENTCLOUD_SECRET_KEY": "wrong"})
    assert result.returncode != 0
    assert "code:AuthFailure.SignatureFailure" in result.stdout + result.stderr
