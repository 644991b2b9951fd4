"""The fake Kubernetes API server (`tests.fakes.kube_server`) driven by the REAL ``kubernetes`` client: what
the client sends (paths, query parameters, content types, bearer token) and what it makes of the answers
(dicts, ``ApiException`` with the ``Status`` body, chunked watch events, 410 Gone). These prove the double
speaks the wire the driver will meet; they prove nothing about a real API server or about CNPG."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from tests.fakes.kube_server import (
    CLUSTERS,
    PHASE_HEALTHY,
    PHASE_SETTING_UP,
    PHASE_UNRECOVERABLE,
    PHASE_WAITING,
    KubeServer,
)

NS = "openrds"
G, V, PLURAL = "postgresql.cnpg.io", "v1", "clusters"


@pytest.fixture
def crd(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def name(crd: client.CustomObjectsApi) -> Iterator[str]:
    """A fresh Cluster name; the Cluster (if the test made one) is deleted afterwards."""
    made = f"pg-{uuid.uuid4().hex[:8]}"
    yield made
    try:
        crd.delete_namespaced_custom_object(G, V, NS, PLURAL, made)
    except ApiException as error:
        assert error.status == 404, error


def cluster(name: str, *, instances: int = 1, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": f"{G}/{V}", "kind": "Cluster",
            "metadata": {"name": name, "labels": {"openrds.io/managed": "true", **(labels or {})}},
            "spec": {"instances": instances, "storage": {"size": "1Gi"}}}


def status_body(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == error.status, body
    return body


def ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    return conditions.get("Ready") == "True" and status.get("readyInstances") == obj["spec"]["instances"]


def wait_event(crd: client.CustomObjectsApi, name: str, resource_version: str, wanted: Any,
               timeout: int = 10) -> tuple[dict[str, Any], float]:
    """The first watch event on Cluster ``name`` after ``resource_version`` that ``wanted(event)`` accepts, and
    the seconds it took; fails when the stream ends first."""
    started = time.monotonic()
    stream = watch.Watch()
    for event in stream.stream(crd.list_namespaced_custom_object, G, V, NS, PLURAL,
                               field_selector=f"metadata.name={name}", resource_version=resource_version,
                               timeout_seconds=timeout):
        if wanted(event):
            stream.stop()
            return event, time.monotonic() - started
    raise AssertionError(f"no wanted event for {name} within {timeout}s")


def test_the_client_sends_the_kubeconfig_token_and_a_wrong_one_gets_401(kube: KubeServer, tmp_path: Path) -> None:
    assert kube.kubeconfig is not None
    wrong_config = tmp_path / "kubeconfig"
    wrong_config.write_text(kube.kubeconfig.read_text().replace(kube.token, "wrong-token"))
    with config.new_client_from_config(config_file=str(wrong_config)) as wrong, pytest.raises(ApiException) as info:
        client.CustomObjectsApi(wrong).list_namespaced_custom_object(G, V, NS, PLURAL)
    assert info.value.status == 401
    assert status_body(info.value)["reason"] == "Unauthorized"


def test_create_assigns_server_fields_and_get_and_a_second_create_conflicts(
        crd: client.CustomObjectsApi, name: str) -> None:
    made = crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name))
    assert isinstance(made, dict)
    metadata = made["metadata"]
    assert metadata["namespace"] == NS and metadata["generation"] == 1
    assert metadata["uid"] and metadata["creationTimestamp"].endswith("Z") and int(metadata["resourceVersion"]) > 0
    assert "status" not in made, "a custom resource's status is written only through /status"
    fetched = crd.get_namespaced_custom_object(G, V, NS, PLURAL, name)
    assert fetched["metadata"]["uid"] == metadata["uid"]
    with pytest.raises(ApiException) as info:
        crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name))
    assert info.value.status == 409 and status_body(info.value)["reason"] == "AlreadyExists"


def test_not_found_is_the_api_servers_404_status(crd: client.CustomObjectsApi) -> None:
    for call in (lambda: crd.get_namespaced_custom_object(G, V, NS, PLURAL, "nowhere"),
                 lambda: crd.delete_namespaced_custom_object(G, V, NS, PLURAL, "nowhere"),
                 lambda: crd.patch_namespaced_custom_object(G, V, NS, PLURAL, "nowhere", {"spec": {}})):
        with pytest.raises(ApiException) as info:
            call()
        body = status_body(info.value)
        assert info.value.status == 404 and body["reason"] == "NotFound"
        assert body["message"] == 'clusters.postgresql.cnpg.io "nowhere" not found'
        assert body["details"] == {"name": "nowhere", "group": G, "kind": "clusters"}
    with pytest.raises(ApiException) as info:
        crd.create_namespaced_custom_object(G, V, "no-such-namespace", PLURAL, cluster("x"))
    assert info.value.status == 404
    assert status_body(info.value)["message"] == 'namespaces "no-such-namespace" not found'


def test_list_filters_by_label_and_field_selectors(crd: client.CustomObjectsApi, kube: KubeServer) -> None:
    batch_id = uuid.uuid4().hex[:6]
    names = [f"sel-{batch_id}-{i}" for i in range(3)]
    roles = ["primary", "readonly", "readonly"]
    for made, role in zip(names, roles, strict=True):
        crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(made, labels={"openrds.io/role": role,
                                                                                    "test.batch": names[0]}))
    try:
        def listed(**selectors: str) -> list[str]:
            found = crd.list_namespaced_custom_object(G, V, NS, PLURAL, **selectors)
            assert found["kind"] == "ClusterList" and int(found["metadata"]["resourceVersion"]) >= 1
            return sorted(i["metadata"]["name"] for i in found["items"])

        batch = f"test.batch={names[0]}"
        assert listed(label_selector=batch) == names
        assert listed(label_selector=f"{batch},openrds.io/role=readonly") == names[1:]
        assert listed(label_selector=f"{batch},openrds.io/role!=readonly") == names[:1]
        assert listed(label_selector=f"{batch},openrds.io/role in (primary, other)") == names[:1]
        assert listed(label_selector=f"{batch},openrds.io/role notin (primary)") == names[1:]
        assert listed(label_selector=f"{batch},!openrds.io/role") == []
        assert listed(label_selector=f"{batch},openrds.io/managed") == names
        assert listed(field_selector=f"metadata.name={names[2]}") == names[2:]
        assert listed(label_selector=batch, field_selector=f"metadata.name!={names[2]}") == names[:2]
        with pytest.raises(ApiException) as info:
            listed(field_selector="spec.instances=1")
        assert info.value.status == 400, "the API server supports only metadata fields for custom resources"
    finally:
        for made in names:
            crd.delete_namespaced_custom_object(G, V, NS, PLURAL, made)
    assert not kube.clusters(selector=f"test.batch={names[0]}")


def test_merge_patch_bumps_generation_keeps_status_and_status_patch_changes_only_status(
        crd: client.CustomObjectsApi, kube: KubeServer, name: str) -> None:
    made = crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name))
    kube.wait(lambda: ready(kube.clusters()[name]), 10, f"{name} ready")
    patched = crd.patch_namespaced_custom_object(G, V, NS, PLURAL, name, {
        "metadata": {"annotations": {"openrds.io/spec": "{}"}},
        "spec": {"instances": 2, "storage": None},
        "status": {"phase": "ignored: the object's endpoint does not write status"}})
    assert kube.requests[-1].content_type == "application/merge-patch+json", "the client's default for CRs"
    assert patched["spec"] == {"instances": 2}, "a null in a merge patch deletes the key"
    assert patched["metadata"]["generation"] == 2
    assert int(patched["metadata"]["resourceVersion"]) > int(made["metadata"]["resourceVersion"])
    assert patched["metadata"]["annotations"] == {"openrds.io/spec": "{}"}
    assert patched["status"]["phase"] in (PHASE_HEALTHY, PHASE_WAITING)
    # The same patch again changes nothing: same resourceVersion, as the API server skips no-op writes.
    # (Held: the operator writes "waiting" for the change, then leaves the Cluster alone.)
    kube.operator.hold(name)
    kube.wait(lambda: kube.clusters()[name]["status"]["phase"] == PHASE_WAITING, 10, f"{name} waiting")
    current = crd.get_namespaced_custom_object(G, V, NS, PLURAL, name)
    again = crd.patch_namespaced_custom_object(G, V, NS, PLURAL, name, {"spec": {"instances": 2}})
    assert again["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]
    kube.operator.release(name)
    status = crd.patch_namespaced_custom_object_status(G, V, NS, PLURAL, name, {
        "spec": {"instances": 9}, "status": {"phase": "written by a test"}})
    assert status["status"]["phase"] == "written by a test" and status["spec"]["instances"] == 2
    assert status["metadata"]["generation"] == 2, "a status write is not a spec change"


def test_json_patch_applies_and_strategic_merge_is_refused_for_custom_resources(
        crd: client.CustomObjectsApi, name: str) -> None:
    crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name))
    patched = crd.patch_namespaced_custom_object(
        G, V, NS, PLURAL, name,
        [{"op": "test", "path": "/spec/instances", "value": 1},
         {"op": "replace", "path": "/spec/instances", "value": 2},
         {"op": "add", "path": "/metadata/labels/openrds.io~1role", "value": "primary"}],
        _content_type="application/json-patch+json")
    assert patched["spec"]["instances"] == 2 and patched["metadata"]["labels"]["openrds.io/role"] == "primary"
    with pytest.raises(ApiException) as info:
        crd.patch_namespaced_custom_object(G, V, NS, PLURAL, name, [{"op": "test", "path": "/spec/instances",
                                                                     "value": 1}],
                                           _content_type="application/json-patch+json")
    assert info.value.status == 422
    with pytest.raises(ApiException) as info:
        crd.patch_namespaced_custom_object(G, V, NS, PLURAL, name, {"spec": {"instances": 3}},
                                           _content_type="application/strategic-merge-patch+json")
    assert info.value.status == 415 and status_body(info.value)["reason"] == "UnsupportedMediaType"


def test_secrets_through_core_v1(core: client.CoreV1Api, kube: KubeServer) -> None:
    secret_name = f"sec-{uuid.uuid4().hex[:6]}"
    made = core.create_namespaced_secret(NS, {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
        "metadata": {"name": secret_name, "labels": {"openrds.io/instance-id": secret_name}},
        "stringData": {"username": "admin", "password": "s3cret"}})
    # CoreV1Api deserialises into models (V1Secret), unlike CustomObjectsApi's dicts.
    assert made.data == {"username": base64.b64encode(b"admin").decode(),
                         "password": base64.b64encode(b"s3cret").decode()}
    assert made.string_data is None, "the API server folds stringData into data"
    # A dict body: the client turns its default json-patch into a strategic merge patch for built-in kinds.
    core.patch_namespaced_secret(secret_name, NS, {"metadata": {"annotations": {"a": "b"}}})
    assert kube.requests[-1].content_type == "application/strategic-merge-patch+json"
    core.patch_namespaced_secret(secret_name, NS, [{"op": "remove", "path": "/data/password"}])
    assert kube.requests[-1].content_type == "application/json-patch+json"
    found = core.list_namespaced_secret(NS, label_selector=f"openrds.io/instance-id={secret_name}").items
    assert [s.metadata.name for s in found] == [secret_name]
    assert set(found[0].data) == {"username"} and found[0].metadata.annotations == {"a": "b"}
    with pytest.raises(ApiException) as info:
        core.create_namespaced_secret(NS, {"metadata": {"name": f"{secret_name}-bad"},
                                           "type": "kubernetes.io/basic-auth", "stringData": {"other": "x"}})
    assert info.value.status == 422 and status_body(info.value)["reason"] == "Invalid"
    core.delete_namespaced_secret(secret_name, NS)
    with pytest.raises(ApiException) as info:
        core.read_namespaced_secret(secret_name, NS)
    assert info.value.status == 404 and status_body(info.value)["message"] == f'secrets "{secret_name}" not found'


def test_watch_streams_the_operators_status_as_it_happens(crd: client.CustomObjectsApi, kube: KubeServer,
                                                         name: str) -> None:
    made = crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name, instances=2))
    setting_up, _ = wait_event(crd, name, made["metadata"]["resourceVersion"], lambda e: e["type"] == "MODIFIED")
    assert setting_up["object"]["status"]["phase"] == PHASE_SETTING_UP
    assert not ready(setting_up["object"])
    healthy, waited = wait_event(crd, name, setting_up["object"]["metadata"]["resourceVersion"],
                                 lambda e: ready(e["object"]))
    status = healthy["object"]["status"]
    assert status["phase"] == PHASE_HEALTHY and status["readyInstances"] == 2
    assert status["writeService"] == f"{name}-rw" and status["currentPrimary"] == f"{name}-1"
    # Chunked streaming: the event arrives when it happens (ready_after = 0.3 s), not when the stream ends.
    assert waited < 3, f"the ready event took {waited:.1f}s: is the watch stream buffered?"
    assert [r.query.get("watch") for r in kube.requests if r.query.get("fieldSelector") == f"metadata.name={name}"]


def test_watch_from_no_version_lists_first_and_from_a_compacted_one_is_410_gone(
        crd: client.CustomObjectsApi, kube: KubeServer, name: str) -> None:
    made = crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name))
    first, _ = wait_event(crd, name, "", lambda e: True)
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == name
    kube.wait(lambda: ready(kube.clusters()[name]), 10, f"{name} ready")
    kube.store.compact()
    with pytest.raises(ApiException) as info:
        wait_event(crd, name, made["metadata"]["resourceVersion"], lambda e: True, timeout=5)
    assert info.value.status == 410 and "Expired" in str(info.value.reason)
    # The current version is still good: re-list, then watch from the list's resourceVersion.
    listed = crd.list_namespaced_custom_object(G, V, NS, PLURAL, field_selector=f"metadata.name={name}")
    crd.patch_namespaced_custom_object(G, V, NS, PLURAL, name, {"metadata": {"labels": {"seen": "yes"}}})
    event, _ = wait_event(crd, name, listed["metadata"]["resourceVersion"], lambda e: True)
    assert event["type"] == "MODIFIED" and event["object"]["metadata"]["labels"]["seen"] == "yes"


def test_watch_with_a_label_selector_sees_objects_enter_and_leave_it(crd: client.CustomObjectsApi,
                                                                     name: str) -> None:
    made = crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name))
    crd.patch_namespaced_custom_object(G, V, NS, PLURAL, name, {"metadata": {"labels": {"marked": name}}})
    crd.patch_namespaced_custom_object(G, V, NS, PLURAL, name, {"metadata": {"labels": {"marked": None}}})
    stream = watch.Watch()
    seen = [e["type"] for e in stream.stream(crd.list_namespaced_custom_object, G, V, NS, PLURAL,
                                             label_selector=f"marked={name}",
                                             resource_version=made["metadata"]["resourceVersion"], timeout_seconds=1)]
    assert seen == ["ADDED", "DELETED"]


def test_a_held_cluster_stays_not_ready_until_released(crd: client.CustomObjectsApi, kube: KubeServer,
                                                      name: str) -> None:
    kube.operator.hold(name)
    made = crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name))
    stream = watch.Watch()
    events = list(stream.stream(crd.list_namespaced_custom_object, G, V, NS, PLURAL,
                                field_selector=f"metadata.name={name}",
                                resource_version=made["metadata"]["resourceVersion"], timeout_seconds=2))
    assert events and not any(ready(e["object"]) for e in events), "held for 2 s, well past ready_after"
    kube.operator.release(name)
    wait_event(crd, name, events[-1]["object"]["metadata"]["resourceVersion"], lambda e: ready(e["object"]))


def test_a_failed_cluster_shows_cnpgs_terminal_phase_and_reason(crd: client.CustomObjectsApi, kube: KubeServer,
                                                               name: str) -> None:
    kube.operator.fail(name, "clone failed: connection refused")
    made = crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name))
    event, _ = wait_event(crd, name, made["metadata"]["resourceVersion"],
                          lambda e: (e["object"].get("status") or {}).get("phase") == PHASE_UNRECOVERABLE)
    assert event["object"]["status"]["phaseReason"] == "clone failed: connection refused"
    assert not ready(event["object"])
    kube.operator.release(name)


def test_foreground_delete_waits_for_the_owned_objects(crd: client.CustomObjectsApi, core: client.CoreV1Api,
                                                       kube: KubeServer, name: str) -> None:
    made = crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name, instances=2))
    kube.wait(lambda: ready(kube.clusters()[name]), 10, f"{name} ready")
    owned = f"cnpg.io/cluster={name}"
    kube.wait(lambda: len(core.list_namespaced_pod(NS, label_selector=owned).items) == 2, 10, "two pods")
    assert {s.metadata.name for s in core.list_namespaced_service(NS, label_selector=owned).items} == {
        f"{name}-rw", f"{name}-r", f"{name}-ro"}
    assert {s.metadata.name for s in core.list_namespaced_secret(NS, label_selector=owned).items} == {
        f"{name}-ca", f"{name}-replication"}
    marked = crd.delete_namespaced_custom_object(G, V, NS, PLURAL, name, propagation_policy="Foreground")
    assert kube.requests[-1].query.get("propagationPolicy") == "Foreground"
    assert marked["metadata"]["deletionTimestamp"] and "foregroundDeletion" in marked["metadata"]["finalizers"]
    gone, _ = wait_event(crd, name, made["metadata"]["resourceVersion"], lambda e: e["type"] == "DELETED")
    assert gone["object"]["metadata"]["uid"] == made["metadata"]["uid"]
    assert not core.list_namespaced_pod(NS, label_selector=owned).items
    assert not core.list_namespaced_service(NS, label_selector=owned).items
    assert not core.list_namespaced_secret(NS, label_selector=owned).items
    assert kube.store.find(CLUSTERS, NS, name) is None


def test_hibernation_and_restart_annotations(crd: client.CustomObjectsApi, core: client.CoreV1Api, kube: KubeServer,
                                             name: str) -> None:
    crd.create_namespaced_custom_object(G, V, NS, PLURAL, cluster(name))
    kube.wait(lambda: ready(kube.clusters()[name]), 10, f"{name} ready")
    crd.patch_namespaced_custom_object(G, V, NS, PLURAL, name,
                                       {"metadata": {"annotations": {"cnpg.io/hibernation": "on"}}})

    def hibernated() -> bool:
        status = kube.clusters()[name].get("status") or {}
        return any(c["type"] == "cnpg.io/hibernation" and c["status"] == "True" for c in status.get("conditions", []))

    kube.wait(hibernated, 10, f"{name} hibernated")
    assert kube.clusters()[name]["status"]["readyInstances"] == 0
    kube.wait(lambda: not core.list_namespaced_pod(NS, label_selector=f"cnpg.io/cluster={name}").items, 10, "no pods")
    crd.patch_namespaced_custom_object(G, V, NS, PLURAL, name, {"metadata": {"annotations": {
        "cnpg.io/hibernation": "off", "kubectl.kubernetes.io/restartedAt": "2026-12-07T00:00:00Z"}}})
    kube.wait(lambda: ready(kube.clusters()[name]), 10, f"{name} ready again")
