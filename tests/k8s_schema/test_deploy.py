"""deploy/kubernetes/, rendered as kustomize would (its `resources` list, no kubectl) and checked offline:
every manifest strictly valid (built-in kinds with kubernetes-validate, the metadata store's CNPG Cluster
against the CNPG 1.30.0 CRD), and wired together as README says. Schema only: nothing is applied to a
cluster here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.k8s_schema.validate import load_documents, validate_manifest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = ROOT / "deploy" / "kubernetes"
DRIVER_DIR = ROOT / "src" / "openrds" / "engine" / "kubernetes"
NAMESPACE = "openrds"


def render(directory: Path = DEPLOY_DIR) -> list[dict[str, Any]]:
    """The documents `kubectl apply -k directory` would send: each file of the kustomization's
    ``resources``, in order (this kustomization uses no generators, patches or transformers; the test
    below fails if it starts to)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) == {"apiVersion", "kind", "resources"}, \
        f"render() knows only `resources`; the kustomization has {sorted(kustomization)}"
    return [doc for name in kustomization["resources"] for doc in load_documents(directory / name)]


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return render()


def _one(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def test_every_manifest_is_strictly_valid(documents: list[dict[str, Any]]) -> None:
    assert {d["kind"] for d in documents} == {"Namespace", "ServiceAccount", "Role", "RoleBinding", "Cluster",
                                              "Deployment", "Service"}
    for doc in documents:
        assert validate_manifest(doc) == [], f"{doc['kind']}/{doc['metadata']['name']}"


def test_every_file_is_in_the_kustomization() -> None:
    listed = set(yaml.safe_load((DEPLOY_DIR / "kustomization.yaml").read_text())["resources"])
    assert {p.name for p in DEPLOY_DIR.glob("*.yaml")} - {"kustomization.yaml"} == listed


def test_everything_is_in_the_openrds_namespace(documents: list[dict[str, Any]]) -> None:
    assert _one(documents, "Namespace")["metadata"]["name"] == NAMESPACE
    for doc in documents:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


# `kubernetes` client method verbs -> RBAC verbs.
_RBAC_VERB = {"read": "get", "get": "get", "list": "list", "create": "create", "patch": "patch", "replace": "update",
              "delete": "delete"}
_CALL = re.compile(r"self\.(core|custom)\.(read|get|list|create|patch|replace|delete)_namespaced_(\w+?)(\(|,)")


def driver_permissions(package: Path = DRIVER_DIR) -> dict[tuple[str, str], set[str]]:
    """(API group, resource) -> the RBAC verbs the driver's code needs, read from its calls on the
    ``kubernetes`` client (``self.custom``: CNPG Clusters; ``self.core``: the core group). A list method
    passed to a watch (not called) is a watch."""
    needed: dict[tuple[str, str], set[str]] = {}
    for path in sorted(package.glob("*.py")):
        for api, method, resource, after in _CALL.findall(path.read_text()):
            key = ("postgresql.cnpg.io", "clusters") if api == "custom" else ("", resource + "s")
            needed.setdefault(key, set()).add("watch" if method == "list" and after == "," else _RBAC_VERB[method])
    return needed


def test_the_role_grants_exactly_what_the_driver_calls(documents: list[dict[str, Any]]) -> None:
    granted = {(group, resource): set(rule["verbs"])
               for rule in _one(documents, "Role")["rules"]
               for group in rule["apiGroups"] for resource in rule["resources"]}
    needed = driver_permissions()
    # The calls the driver is known to make (so a regex gone blind fails here, not silently).
    assert {"get", "list", "watch", "create", "patch", "delete"} <= needed[("postgresql.cnpg.io", "clusters")]
    assert granted == needed, f"deploy/kubernetes/role.yaml must grant exactly {needed}"


def test_the_role_is_bound_to_the_deployments_service_account(documents: list[dict[str, Any]]) -> None:
    binding = _one(documents, "RoleBinding")
    pod = _one(documents, "Deployment")["spec"]["template"]["spec"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "openrds"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": pod["serviceAccountName"],
                                    "namespace": NAMESPACE}]
    assert _one(documents, "ServiceAccount")["metadata"]["name"] == pod["serviceAccountName"]


def test_the_deployment_runs_two_kubernetes_control_planes_on_the_cnpg_store(documents: list[dict[str, Any]]) -> None:
    deployment = _one(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["OPENRDS_DRIVER"]["value"] == "kubernetes"
    assert env["OPENRDS_K8S_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["OPENRDS_LISTEN"]["value"] == "0.0.0.0:8080"
    assert env["OPENRDS_METRICS_LISTEN"]["value"] == "0.0.0.0:9188"
    # The metadata store's URL is the one CNPG writes into `<cluster>-app` (key `uri`) for the Cluster here.
    store = _one(documents, "Cluster")
    assert env["OPENRDS_DATABASE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": f"{store['metadata']['name']}-app", "key": "uri"}}
    assert "openrds.io/managed" not in store["metadata"].get("labels", {}), "adopt would take the store for an instance"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"api": 8080, "metrics": 9188}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "api"}, probe
    # Both replicas need one Fernet key: the init container installs it from its Secret into the data root.
    pod = deployment["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert f"{env['OPENRDS_DATA_DIR']['value']}/secret.key" in init["command"][-1]
    key_volume = next(v for v in pod["volumes"] if v["name"] == "secret-key")
    assert key_volume["secret"]["secretName"] == "openrds-secret-key"
    data_mount = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["data"]
    assert {m["name"]: m["mountPath"] for m in init["volumeMounts"]}["data"] == data_mount
    assert env["OPENRDS_DATA_DIR"]["value"].startswith(data_mount + "/"), "a directory the service creates and owns"


def test_the_service_exposes_api_and_metrics_of_the_deployment(documents: list[dict[str, Any]]) -> None:
    service = _one(documents, "Service")
    template = _one(documents, "Deployment")["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    assert {(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        ("api", 8080, "api"), ("metrics", 9188, "metrics")}
