"""Fixtures of the wire tests: `tests.fakes.kube_server` on a loopback port, and the REAL ``kubernetes``
client configured from the kubeconfig it writes. Nothing here talks to a real cluster or to CNPG."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
from tests.fakes.kube_server import KubeServer, kube_server


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeServer]:
    directory = Path(tempfile.mkdtemp(prefix="kube-wire-"))
    try:
        with kube_server(directory, ready_after=0.3) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def api_client(kube: KubeServer) -> Iterator[kubernetes.client.ApiClient]:
    client = kubernetes.config.new_client_from_config(config_file=str(kube.kubeconfig))
    try:
        yield client
    finally:
        client.close()
