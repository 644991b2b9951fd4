"""HTTPS (``OPENRDS_TLS_CERT``/``OPENRDS_TLS_KEY``): a real `openrds serve` with a certificate from a
private CA made here, called by the official SDK with its default protocol (https) and by curl."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.postgres.v20170312 import models, postgres_client
from tests.api_huawei.support import token_request
from tests.support.service import SECRET_ID, SECRET_KEY, RunningService, running_service

from .sdk import REGION


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
                 issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer.subject if issuer else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server chain, server key) in ``directory``: a private CA and a certificate it
    signed for 127.0.0.1 and localhost, the chain as a server presents it (its certificate, then the CA)."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("OpenRDS test CA", ca_key, None, ca_key, ca=True)
    server = _certificate("127.0.0.1", server_key, ca, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    ca_path, chain_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(pem))
    chain_path.write_bytes(server.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return ca_path, chain_path, key_path


@pytest.fixture(scope="module")
def certificates() -> Iterator[tuple[Path, Path, Path]]:
    directory = Path(tempfile.mkdtemp(prefix="ordt-tls-"))
    try:
        yield make_certificates(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def https_service(certificates: tuple[Path, Path, Path]) -> Iterator[RunningService]:
    _, chain, key = certificates
    with running_service({"OPENRDS_TLS_CERT": str(chain), "OPENRDS_TLS_KEY": str(key)}) as running:
        yield running


def sdk_client(service: RunningService, certification: Path | None) -> postgres_client.PostgresClient:
    """The SDK with its default protocol (https); ``certification`` is the CA bundle it trusts (None: its
    own, certifi's)."""
    profile = HttpProfile(endpoint=service.endpoint, reqTimeout=30,
                          certification=str(certification) if certification else None)
    return postgres_client.PostgresClient(credential.Credential(SECRET_ID, SECRET_KEY), REGION,
                                          ClientProfile(httpProfile=profile, language="en-US"))


def test_the_sdk_calls_over_https_with_its_default_protocol(https_service: RunningService,
                                                           certificates: tuple[Path, Path, Path]) -> None:
    ca, _, _ = certificates
    regions = sdk_client(https_service, ca).DescribeRegions(models.DescribeRegionsRequest())
    assert REGION in [r.Region for r in regions.RegionSet]
    # The certificate really is checked: against the SDK's own bundle (certifi) the private CA is unknown.
    with pytest.raises(TencentCloudSDKException, match=r"(?i)certificate verify failed"):
        sdk_client(https_service, None).DescribeRegions(models.DescribeRegionsRequest())


def test_curl_gets_a_huawei_token_over_https(https_service: RunningService,
                                             certificates: tuple[Path, Path, Path]) -> None:
    ca, _, _ = certificates
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-D", "-", "--cacert", str(ca), "-H", "Content-Type: application/json",
         "-d", json.dumps(token_request()), f"{https_service.url}/v3/auth/tokens"],
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr + done.stdout
    assert https_service.url.startswith("https://")
    assert done.stdout.startswith("HTTP/1.1 201") and "x-subject-token:" in done.stdout.lower(), done.stdout
    # Plain HTTP on the HTTPS port gets no answer from the API.
    plain = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://{https_service.endpoint}/healthz"], capture_output=True, text=True, timeout=30)
    assert plain.stdout != "200", plain
