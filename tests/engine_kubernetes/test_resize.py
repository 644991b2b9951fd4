"""The `kubernetes` driver's spec change (`engine.kubernetes.resize`) against the fake Kubernetes API and
scripted CNPG of tests/fakes/kube.py: what it patches, that it waits for the rolling update, and what it
refuses. Not that CNPG resizes pods or volumes as the fake says."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.engine_kubernetes.test_driver_on_fake_api import PRIMARY, SPEC, FakeSessions, make_driver
from tests.fakes.kube import FakeKube, FakeOperator

from openrds.engine.driver import EngineError, ServerSpec, ServerState
from openrds.engine.kubernetes import KubernetesDriver


@pytest.fixture
def driver() -> Iterator[tuple[KubernetesDriver, FakeKube]]:
    kube = FakeKube("openrds")
    operator = FakeOperator(kube)
    try:
        yield make_driver(kube, FakeSessions(), create_timeout=10.0, timeout=10.0, checkpoint_every=0.0), kube
    finally:
        operator.close()


def test_a_new_spec_patches_resources_parameters_storage_and_waits_for_the_roll(driver) -> None:
    k8s, kube = driver
    k8s.create_primary(PRIMARY)
    bigger = ServerSpec(cpu=2, memory_mb=4096, max_connections=200, storage_gb=30)
    done = k8s.apply_spec(PRIMARY.instance_id, bigger, {"max_connections": 300})
    assert (done.changed, done.restarted, done.info.state) == (True, True, ServerState.RUNNING)
    spec = kube.cluster(PRIMARY.instance_id)["spec"]
    assert spec["resources"]["limits"] == {"cpu": "2", "memory": "4096Mi"}
    assert spec["postgresql"]["parameters"]["max_connections"] == "300"  # the floor is higher than the spec
    assert spec["postgresql"]["parameters"]["shared_buffers"] == "1024MB"
    assert spec["storage"]["size"] == "30Gi"
    recorded = json.loads(kube.cluster(PRIMARY.instance_id)["metadata"]["annotations"]["openrds.io/spec"])
    assert (recorded["memory_mb"], recorded["storage_gb"], recorded["admin_user"]) == (4096, 30, "admin")
    again = k8s.apply_spec(PRIMARY.instance_id, bigger, {"max_connections": 300})
    assert (again.changed, again.restarted) == (False, False)  # idempotent


def test_storage_alone_does_not_roll_and_a_volume_never_shrinks(driver) -> None:
    k8s, kube = driver
    k8s.create_primary(PRIMARY)
    grown = k8s.apply_spec(PRIMARY.instance_id, ServerSpec(SPEC.cpu, SPEC.memory_mb, SPEC.max_connections, 40))
    assert (grown.changed, grown.restarted) == (True, False)
    before = kube.cluster(PRIMARY.instance_id)["spec"]
    with pytest.raises(EngineError, match="cannot shrink"):
        k8s.apply_spec(PRIMARY.instance_id, ServerSpec(SPEC.cpu, SPEC.memory_mb, SPEC.max_connections, 20))
    assert kube.cluster(PRIMARY.instance_id)["spec"] == before
