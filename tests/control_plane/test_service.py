"""The real `openrds serve` and `openrds admin` commands: first-start credentials, tenants made on the
command line, revocation, and secrets kept out of the service's output and off the disk in clear.

Calls are signed by the official Tencent Cloud SDK (`CommonClient`) and sent to the service over HTTP;
IAM passwords are checked through the Huawei face's Keystone `POST /v3/auth/tokens`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tests.support.service import (
    IAM_PASSWORD,
    IAM_USER,
    SECRET_ID,
    SECRET_KEY,
    RunningService,
    destroy_servers,
    free_port,
    running_service,
    stop_service,
    temp_root,
    wait_for,
)

from openrds.clock import SystemClock
from openrds.crypto import SecretBox
from openrds.persistence.db import open_engine
from openrds.persistence.uow import Store
from openrds.services.bootstrap import CREDENTIALS_FILE
from openrds.services.identity import IdentityService

REGION = "ap-beijing"
START_TIMEOUT = 60
CLI_TIMEOUT = 60


# --- clients ---------------------------------------------------------------------------------------
def describe_regions(service: RunningService, secret_id: str, secret_key: str) -> dict[str, Any]:
    """A DescribeRegions call signed (TC3-HMAC-SHA256) by the official SDK; raises on any API error."""
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=service.endpoint, protocol="http", reqTimeout=15))
    client = CommonClient("postgres", "2017-03-12", credential.Credential(secret_id, secret_key), REGION, profile)
    response = client.call_json("DescribeRegions", {})
    assert "Error" not in response["Response"], response
    return response["Response"]


def assert_signed_call_works(service: RunningService, secret_id: str, secret_key: str) -> None:
    answer = describe_regions(service, secret_id, secret_key)
    regions = [r["Region"] for r in answer["RegionSet"]]
    assert REGION in regions and answer["TotalCount"] == len(regions), answer


def signed_call_error(service: RunningService, secret_id: str, secret_key: str) -> str:
    with pytest.raises(TencentCloudSDKException) as caught:
        describe_regions(service, secret_id, secret_key)
    return str(caught.value.get_code())


def iam_token(service: RunningService, domain: str, user: str, password: str) -> httpx.Response:
    body = {"auth": {
        "identity": {"methods": ["password"],
                     "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}}},
        "scope": {"project": {"name": REGION}},
    }}
    return httpx.post(f"{service.url}/v3/auth/tokens", json=body, timeout=15)


def assert_iam_login_works(service: RunningService, domain: str, user: str, password: str) -> None:
    issued = iam_token(service, domain, user, password)
    assert issued.status_code == 201, issued.text
    token = issued.headers["X-Subject-Token"]
    projects = httpx.get(f"{service.url}/v3/auth/projects", headers={"X-Auth-Token": token}, timeout=15)
    assert projects.status_code == 200, projects.text
    assert REGION in [p["name"] for p in projects.json()["projects"]]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def disk_bytes(data_dir: Path) -> bytes:
    """The metadata store and its WAL: wherever a secret written in clear would be."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("openrds.db*")))


# --- a service started without OPENRDS_BOOTSTRAP_* ------------------------------------------------
def _plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENRDS_")}
    env.update(extra)
    return env


def start_plain_service(data_dir: Path) -> RunningService:
    """`openrds serve` with no bootstrap variables at all (tests.support.service always sets them)."""
    port = free_port()
    base = 40000 + (os.getpid() % 200) * 100  # a band of server ports apart from tests.support's
    env = _plain_env(OPENRDS_DATA_DIR=str(data_dir), OPENRDS_LISTEN=f"127.0.0.1:{port}",
                     OPENRDS_METRICS_LISTEN=f"127.0.0.1:{free_port()}", OPENRDS_PORT_RANGE=f"{base}-{base + 99}")
    log_path = data_dir.parent / f"service-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "openrds", "serve"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    service = RunningService(process, data_dir, port, log_path, env)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"openrds serve exited with {process.returncode}:\n{service.log()}")
        return httpx.get(f"{service.url}/healthz", timeout=2).status_code == 200

    try:
        wait_for(healthy, START_TIMEOUT, f"openrds serve to answer /healthz on port {port}")
    except BaseException:
        stop_service(service)
        raise
    return service


@contextmanager
def service_root() -> Iterator[tuple[Path, list[RunningService]]]:
    """A data root and the services started on it; all stopped and removed at the end."""
    root = temp_root()
    services: list[RunningService] = []
    try:
        yield root / "data", services
    finally:
        for service in services:
            stop_service(service)
        destroy_servers(root / "data")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Banner:
    secret_id: str
    secret_key: str
    iam_domain: str
    iam_user: str
    iam_password: str


def parse_banner(output: str) -> Banner:
    def field(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        assert match is not None, f"the first start did not print {pattern!r}:\n{output}"
        return match

    user = field(r"^\s*IAM domain/user\s+(\S+) / (\S+)\s*$")
    return Banner(field(r"^\s*SecretId\s+(\S+)\s*$").group(1), field(r"^\s*SecretKey\s+(\S+)\s*$").group(1),
                  user.group(1), user.group(2), field(r"^\s*IAM password\s+(\S+)\s*$").group(1))


def test_first_start_prints_working_credentials_once() -> None:
    with service_root() as (data_dir, services):
        first = start_plain_service(data_dir)
        services.append(first)
        banner = parse_banner(first.log())

        path = data_dir / CREDENTIALS_FILE
        assert mode(path) == 0o600
        saved = json.loads(path.read_text())
        assert (saved["secret_id"], saved["secret_key"]) == (banner.secret_id, banner.secret_key)
        assert (saved["iam_domain"], saved["iam_user"], saved["iam_password"]) == (
            banner.iam_domain, banner.iam_user, banner.iam_password)
        assert mode(data_dir / "secret.key") == 0o600

        assert_signed_call_works(first, banner.secret_id, banner.secret_key)
        assert signed_call_error(first, banner.secret_id, banner.secret_key[::-1]) == "AuthFailure.SignatureFailure"
        assert_iam_login_works(first, banner.iam_domain, banner.iam_user, banner.iam_password)
        assert iam_token(first, banner.iam_domain, banner.iam_user, banner.iam_password + "x").status_code == 401

        # Shown once: the first start's output has each secret exactly once (the banner), the store none.
        output = first.log()
        assert output.count(banner.secret_key) == 1 and output.count(banner.iam_password) == 1
        stored = disk_bytes(data_dir)
        assert banner.secret_id.encode() in stored
        assert banner.secret_key.encode() not in stored and banner.iam_password.encode() not in stored

        stop_service(first)
        again = start_plain_service(data_dir)
        services.append(again)
        output = again.log()
        assert "first start" not in output and banner.secret_id not in output
        assert banner.secret_key not in output and banner.iam_password not in output
        # The same credentials keep working: the key file and the store survived the restart.
        assert_signed_call_works(again, banner.secret_id, banner.secret_key)
        assert_iam_login_works(again, banner.iam_domain, banner.iam_user, banner.iam_password)
        assert json.loads(path.read_text()) == saved


def test_bootstrap_variables_are_used_and_no_secret_reaches_the_output() -> None:
    with running_service() as service:  # sets OPENRDS_BOOTSTRAP_* to tests.support.service's values
        assert_signed_call_works(service, SECRET_ID, SECRET_KEY)
        assert_iam_login_works(service, IAM_USER, IAM_USER, IAM_PASSWORD)
        saved = json.loads((service.data_dir / CREDENTIALS_FILE).read_text())
        assert (saved["secret_id"], saved["secret_key"], saved["iam_password"]) == (SECRET_ID, SECRET_KEY, IAM_PASSWORD)
        assert mode(service.data_dir / CREDENTIALS_FILE) == 0o600
        assert mode(service.data_dir / "secret.key") == 0o600

        # Failures are logged as failures, without the secrets involved.
        assert signed_call_error(service, SECRET_ID, "x" * 32) == "AuthFailure.SignatureFailure"
        assert signed_call_error(service, "AKIDnoSuchKey000000000000000000001", SECRET_KEY) == (
            "AuthFailure.SecretIdNotFound")
        assert iam_token(service, IAM_USER, IAM_USER, "Wrong-Passw0rd!").status_code == 401

        output = service.log()
        assert SECRET_ID in output, "the banner should name the key (else we read the wrong output)"
        assert SECRET_KEY not in output, "the SecretKey is in the service's output"
        assert IAM_PASSWORD not in output, "the IAM password is in the service's output"
        stored = disk_bytes(service.data_dir)
        assert SECRET_ID.encode() in stored
        assert SECRET_KEY.encode() not in stored and IAM_PASSWORD.encode() not in stored


# --- openrds admin ---------------------------------------------------------------------------------
def admin(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openrds", "admin", *args, "--data-dir", str(data_dir)],
                          env=_plain_env(COLUMNS="250", **env), capture_output=True, text=True, timeout=CLI_TIMEOUT,
                          stdin=subprocess.DEVNULL, check=False)


def test_admin_knows_the_regions_of_the_configured_catalogue(tmp_path: Path) -> None:
    # The admin commands build their services as the service does: a tenant's first IAM user made by
    # `openrds admin` brings a project in each region of the operator's catalogue (the admin commands used
    # to use the default catalogue's regions).
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text('[[regions]]\nname = "eu-lab-1"\nzones = ["eu-lab-1a"]\n')
    data_dir = tmp_path / "data"
    for args in (("create-tenant", "lab"), ("create-iam-user", "lab", "ops", "--password", "Lab-Passw0rd")):
        made = admin(data_dir, *args, OPENRDS_CATALOGUE_FILE=str(catalogue))
        assert made.returncode == 0, made.stdout + made.stderr
    listed = admin(data_dir, "list-projects", "lab", OPENRDS_CATALOGUE_FILE=str(catalogue))
    assert "eu-lab-1" in listed.stdout, listed.stdout
    assert "ap-beijing" not in listed.stdout, listed.stdout


def _identity_over(data_dir: Path) -> tuple[IdentityService, Store]:
    store = Store(open_engine(f"sqlite:///{data_dir / 'openrds.db'}"))
    box = SecretBox.from_key_file(data_dir / "secret.key")
    return IdentityService(store, box, SystemClock(), regions=(REGION,)), store


def test_admin_creates_lists_and_revokes_tenant_keys_while_the_service_runs() -> None:
    with running_service() as service:
        created = admin(service.data_dir, "create-tenant", "acme")
        assert created.returncode == 0, created.stdout + created.stderr
        secret_id = re.search(r"^SecretId\s+(\S+)$", created.stdout, re.MULTILINE)
        secret_key = re.search(r"^SecretKey\s+(\S+)$", created.stdout, re.MULTILINE)
        assert secret_id and secret_key, created.stdout
        key_id, key = secret_id.group(1), secret_key.group(1)

        # The running service accepts the new tenant's key at once.
        assert_signed_call_works(service, key_id, key)
        identity, store = _identity_over(service.data_dir)
        try:
            found = identity.find_api_key(key_id)
            assert found is not None and found[1] == key
            assert identity.tenant("acme").id == found[0].tenant_id != identity.tenant("default").id

            listed = admin(service.data_dir, "list-tenants")
            assert listed.returncode == 0, listed.stdout + listed.stderr
            assert "acme" in listed.stdout and key_id in listed.stdout and "default" in listed.stdout

            revoked = admin(service.data_dir, "revoke-key", key_id)
            assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout, revoked.stdout + revoked.stderr
            assert signed_call_error(service, key_id, key) == "AuthFailure.SecretIdNotFound"
            assert IdentityService(store, SecretBox.from_key_file(service.data_dir / "secret.key"), SystemClock(),
                                   regions=(REGION,)).find_api_key(key_id) is None
            assert identity.find_api_key(key_id) is None
            assert [k.revoked_at is not None for k in identity.api_keys(found[0].tenant_id)] == [True]
        finally:
            store.close()

        assert_signed_call_works(service, SECRET_ID, SECRET_KEY)  # only that key was revoked
        output = service.log()
        assert key not in output and SECRET_KEY not in output
