"""Validates Kubernetes manifests offline, as strictly as an API server with CloudNativePG 1.30.0 would.

No kube-apiserver runs on these machines or in CI, so every manifest OpenRDS produces (the `kubernetes`
driver's, `deploy/kubernetes/`) is checked here instead, in four layers:

1. **CNPG custom resources** (every CRD in the released ``cnpg-1.30.0.yaml``: ``Cluster``, ``Pooler``,
   ``Database``...) against the CRD's ``openAPIV3Schema`` with `jsonschema`, made *strict* the way the
   API server's ``fieldValidation=Strict`` is: an unknown field anywhere is an error. Before that the
   schema is translated from the API server's dialect: ``nullable`` allows null,
   ``x-kubernetes-int-or-string`` allows an integer or a string, ``x-kubernetes-preserve-unknown-fields``
   keeps an object open, ``x-kubernetes-embedded-resource`` adds ``apiVersion``/``kind``/``metadata``.
   ``metadata`` is checked against the real ``ObjectMeta`` schema (the CRD only says ``type: object``).
2. Their **CEL rules** (``x-kubernetes-validations``) with `cel-python`, on the object after structural
   defaulting (the API server defaults before it validates, and rules such as ``self.dataDurability``
   rely on it). Transition rules (those that read ``oldSelf``) only apply to updates and are skipped.
3. A few **CNPG admission-webhook rules** for ``Cluster`` that the schema cannot express, re-implemented
   from ``internal/webhook/v1/cluster_webhook.go`` (each function cites its Go lines): only those a
   manifest of the `kubernetes` driver can hit.
4. **Built-in kinds** (Secret, Service, Deployment, Role...) with `kubernetes-validate` in strict mode,
   against its bundled schemas of Kubernetes 1.37 (offline).

The CNPG release manifest is not part of the project: it is read from ``<repo>/../shared/reference/cnpg/``
(`REFERENCE_DIR`); tests call `require_reference` first, which skips them where it is absent.

What this cannot prove: anything the operator does after admission (defaulting webhooks, reconciliation),
formats the API server checks beyond the schema (``format:`` is not checked), and webhook rules other
than the ones below.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import yaml
from kubernetes.utils.quantity import parse_quantity
from kubernetes_validate.utils import schema_contents
from referencing import Registry, Resource

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "cnpg"
RELEASE_MANIFEST = REFERENCE_DIR / "cnpg-1.30.0.yaml"
SAMPLES_DIR = REFERENCE_DIR / "samples"

#: The Kubernetes version whose built-in schemas `kubernetes-validate` checks against.
KUBERNETES_VERSION = "1.37.0"

_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = {"$ref": f"{_DEFINITIONS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def require_reference() -> None:
    """Skip the calling test, saying why, where the CNPG reference files are not beside the repository."""
    if not RELEASE_MANIFEST.is_file():
        import pytest

        pytest.skip(f"CNPG 1.30.0 release manifest not found at {RELEASE_MANIFEST} (a clone without ../shared): "
                    "CRD schema checks need it")


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a file."""
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


# --- 1. the CRD schema, strict -------------------------------------------------------------------
def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a CRD's structural schema in plain JSON Schema, with unknown fields refused."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _strict(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [_strict(sub) for sub in value]
        elif key == "description" or key.startswith("x-kubernetes-"):
            continue
        else:
            out[key] = value
    if schema.get("nullable"):
        out.pop("nullable")
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if schema.get("x-kubernetes-int-or-string") and "type" not in out and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("x-kubernetes-embedded-resource"):
        out.setdefault("properties", {})
        out["properties"].setdefault("apiVersion", {"type": "string"})
        out["properties"].setdefault("kind", {"type": "string"})
        out["properties"].setdefault("metadata", _OBJECT_META)
        out["required"] = sorted({*out.get("required", []), "apiVersion", "kind"})
    is_object = schema.get("type") == "object" or "properties" in schema
    if is_object and "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        # What fieldValidation=Strict does: a field the schema does not declare is an error, not pruned.
        out["additionalProperties"] = False
    return out


@cache
def _definitions_registry() -> Registry:
    definitions = schema_contents(f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict/_definitions.json",
                                  KUBERNETES_VERSION)
    return Registry().with_resource(_DEFINITIONS_ID, Resource.from_contents(definitions))


@cache
def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> that version's openAPIV3Schema, for every CRD of the CNPG release."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in load_documents(RELEASE_MANIFEST):
        if doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        for version in spec["versions"]:
            found[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return found


@cache
def _crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = _strict(_crds()[(api_version, kind)])
    # The CRD says only `metadata: {type: object}`; the API server checks it as ObjectMeta.
    schema["properties"]["metadata"] = _OBJECT_META
    # Draft 4: OpenAPI 3.0 schemas use its boolean exclusiveMinimum/Maximum.
    return jsonschema.Draft4Validator(schema, registry=_definitions_registry())


def _where(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"


def _schema_errors(doc: dict[str, Any]) -> list[str]:
    validator = _crd_validator(doc["apiVersion"], doc["kind"])
    return [f"{_where(e.absolute_path)}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]


# --- 2. the CEL rules ----------------------------------------------------------------------------
def _with_defaults(schema: dict[str, Any], value: Any) -> Any:
    """``value`` with the schema's ``default`` filled in where a field is absent (structural defaulting)."""
    if isinstance(value, dict):
        out = dict(value)
        for name, sub in schema.get("properties", {}).items():
            if name not in out and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            if name in out:
                out[name] = _with_defaults(sub, out[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in out.keys() - schema.get("properties", {}).keys():
                out[name] = _with_defaults(extra, out[name])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_with_defaults(schema["items"], item) for item in value]
    return value


@cache
def _cel_program(rule: str) -> celpy.Runner:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def _walk_rules(schema: dict[str, Any], value: Any, path: list[Any]) -> Iterator[str]:
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue  # a transition rule: judged on updates only
        try:
            result = _cel_program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        except celpy.CELEvalError as exc:
            result = exc
        if result is not True and not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            message = rule.get("message") or f"failed rule: {rule['rule']}"
            yield f"{_where(path)}: {message}" + ("" if result is False or isinstance(result, celpy.celtypes.BoolType)
                                                 else f" (rule did not evaluate: {result})")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, sub_value in value.items():
            sub = props.get(name, extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield from _walk_rules(sub, sub_value, [*path, name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _walk_rules(schema["items"], item, [*path, index])


def _cel_errors(doc: dict[str, Any]) -> list[str]:
    schema = _crds()[(doc["apiVersion"], doc["kind"])]
    return list(_walk_rules(schema, _with_defaults(schema, doc), []))


# --- 3. CNPG's admission webhook, the rules the driver can hit ------------------------------------
# Each cites CloudNativePG a95a534 (1.30.0), internal/webhook/v1/cluster_webhook.go unless named.
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# cluster_webhook.go l.1042
_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
# pkg/postgres/configuration.go l.487-555: parameters the operator owns. CNPG accepts a fixed one set to
# exactly the value it would write itself; this copy refuses any value (a manifest has no reason to set them).
FIXED_PARAMETERS = frozenset((
    "allow_system_table_mods", "archive_mode", "bonjour", "bonjour_name", "cluster_name", "config_file",
    "data_directory", "data_sync_retry", "event_source", "external_pid_file", "hba_file", "hot_standby",
    "ident_file", "jit_provider", "listen_addresses", "logging_collector", "port", "primary_conninfo",
    "primary_slot_name", "recovery_target", "recovery_target_action", "recovery_target_inclusive",
    "recovery_target_lsn", "recovery_target_name", "recovery_target_time", "recovery_target_timeline",
    "recovery_target_xid", "restore_command", "shared_preload_libraries", "temp_tablespaces",
    "unix_socket_directories", "unix_socket_group", "unix_socket_permissions", "archive_cleanup_command",
    "archive_command", "log_destination", "log_directory", "log_file_mode", "log_filename", "log_rotation_age",
    "log_rotation_size", "log_truncate_on_rotation", "pg_failover_slots.primary_dsn",
    "pg_failover_slots.standby_slot_names", "promote_trigger_file", "recovery_end_command",
    "recovery_min_apply_delay", "restart_after_crash", "ssl", "ssl_ca_file", "ssl_cert_file", "ssl_crl_file",
    "ssl_dh_params_file", "ssl_key_file", "ssl_passphrase_command", "ssl_passphrase_command_supports_reload",
    "ssl_prefer_server_ciphers", "stats_temp_directory", "synchronous_standby_names", "synchronized_standby_slots",
    "syslog_facility", "syslog_ident", "syslog_sequence_numbers", "syslog_split_messages",
))


def _name(cluster: dict[str, Any]) -> list[str]:
    """validateName, l.1841-1859: a DNS-1035 label of at most 50 characters (Service names derive from it)."""
    name = cluster.get("metadata", {}).get("name", "")
    errors = []
    if len(name) > 63 or not _DNS1035.match(name):
        errors.append(f"metadata.name: {name!r}: cluster name must be a valid DNS label")
    if len(name) > 50:
        errors.append(f"metadata.name: {name!r}: the maximum length of a cluster name is 50 characters")
    return errors


def _bootstrap(cluster: dict[str, Any]) -> list[str]:
    """validateBootstrapMethod l.600-630 (one method at most); validateApplicationDatabase l.505-531 for
    initdb (l.301-317) and pg_basebackup (l.487-502): database and owner go together;
    validateBootstrapPgBaseBackupSource l.632-654: its source names an externalClusters entry."""
    bootstrap = cluster["spec"].get("bootstrap") or {}
    errors = []
    if sum(method in bootstrap for method in ("initdb", "recovery", "pg_basebackup")) > 1:
        errors.append("spec.bootstrap: Only one bootstrap method can be specified at a time")
    for method in ("initdb", "pg_basebackup"):
        options = bootstrap.get(method) or {}
        if options.get("database") and not options.get("owner"):
            errors.append(f"spec.bootstrap.{method}.owner: You need to specify the database owner user")
        if options.get("owner") and not options.get("database"):
            errors.append(f"spec.bootstrap.{method}.database: You need to specify the database name")
    if "pg_basebackup" in bootstrap and bootstrap["pg_basebackup"].get("source") not in _external_names(cluster):
        errors.append(f"spec.bootstrap.pg_basebackup.source: External cluster "
                      f"{bootstrap['pg_basebackup'].get('source')} not found")
    return errors


def _external_names(cluster: dict[str, Any]) -> list[str]:
    return [entry.get("name") for entry in cluster["spec"].get("externalClusters") or []]


def _external_clusters(cluster: dict[str, Any]) -> list[str]:
    """validateExternalClusters l.1927-1948 (unique names) and validateExternalCluster l.1950-1971 (a
    way to reach it: connectionParameters, barmanObjectStore or plugin)."""
    errors = []
    names = _external_names(cluster)
    if len(set(names)) != len(names):
        errors.append("spec.externalClusters: the list of external clusters contains duplicate values")
    for index, entry in enumerate(cluster["spec"].get("externalClusters") or []):
        if not any(key in entry for key in ("connectionParameters", "barmanObjectStore", "plugin")):
            errors.append(f"spec.externalClusters[{index}]: one of connectionParameters, plugin and "
                          "barmanObjectStore is required")
    return errors


def _replica_mode(cluster: dict[str, Any]) -> list[str]:
    """validateReplicaMode l.2104-2142 and validateReplicaClusterExternalClusters l.2144-2160: ``enabled``
    excludes ``primary``; a replica Cluster bootstraps with pg_basebackup or recovery; its source is an
    externalClusters entry."""
    replica = cluster["spec"].get("replica")
    if replica is None:
        return []
    errors = []
    if "enabled" in replica and replica.get("primary"):
        errors.append("spec.replica.enabled: replica mode enabled is not compatible with the primary field")
    if replica.get("enabled"):
        bootstrap = cluster["spec"].get("bootstrap")
        if bootstrap is None:
            errors.append("spec.bootstrap: bootstrap configuration is required for replica mode")
        elif "pg_basebackup" not in bootstrap and "recovery" not in bootstrap:
            errors.append("spec.replica: replica mode bootstrap is compatible only with pg_basebackup or recovery")
    if replica.get("source") not in _external_names(cluster):
        errors.append(f"spec.replica.source: External cluster {replica.get('source')} not found")
    return errors


def _parameters(cluster: dict[str, Any]) -> list[str]:
    """validateConfiguration l.1083-1106: parameter names are GUC names; fixed parameters are the operator's."""
    errors = []
    for key, value in ((cluster["spec"].get("postgresql") or {}).get("parameters") or {}).items():
        if not _PARAMETER_NAME.match(key):
            errors.append(f"spec.postgresql.parameters.{key}: must be a valid PostgreSQL configuration parameter name")
        elif key in FIXED_PARAMETERS:
            errors.append(f"spec.postgresql.parameters.{key}: {value!r}: Can't set fixed configuration parameter")
    return errors


def _quantity(value: Any) -> Any:
    try:
        return parse_quantity(value)
    except ValueError:
        return None


def _resources(cluster: dict[str, Any]) -> list[str]:
    """validateResources l.831-859: a cpu or memory request is not greater than its limit."""
    resources = cluster["spec"].get("resources") or {}
    errors = []
    for name in ("cpu", "memory"):
        request = _quantity((resources.get("requests") or {}).get(name, 0))
        limit = _quantity((resources.get("limits") or {}).get(name, 0))
        if request and limit and request > limit:
            errors.append(f"spec.resources.requests.{name}: {name} request is greater than the limit")
    return errors


def _storage(cluster: dict[str, Any]) -> list[str]:
    """validateStorageSize l.1667-1669 via validateStorageConfigurationSize l.1714-1739: a parsable size,
    or a storage request in the pvcTemplate."""
    storage = cluster["spec"].get("storage") or {}
    size = storage.get("size", "")
    if size:
        return [] if _quantity(size) is not None else [f"spec.storage.size: {size!r}: Size value isn't valid"]
    requested = ((storage.get("pvcTemplate") or {}).get("resources") or {}).get("requests") or {}
    if not _quantity(requested.get("storage", 0)):
        return ["spec.storage.size: Size not configured. Please add it, or a storage request in the pvcTemplate."]
    return []


def _hibernation(cluster: dict[str, Any]) -> list[str]:
    """validateHibernationAnnotation l.2834-2852: cnpg.io/hibernation is "on" or "off"."""
    value = (cluster.get("metadata", {}).get("annotations") or {}).get("cnpg.io/hibernation")
    if value is None or value in ("on", "off"):
        return []
    return [f"metadata.annotations.cnpg.io/hibernation: {value!r}: should be \"on\" or \"off\""]


def _image_name(cluster: dict[str, Any]) -> list[str]:
    """validateImageName l.773-798: an image names a tag, and not ``latest`` (upgrades are detected by tag).
    (CNPG also parses the tag as a version; not copied.)"""
    image = cluster["spec"].get("imageName")
    if not image:
        return []
    last = image.split("@")[0].rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    if tag == "latest":
        return [f"spec.imageName: {image!r}: Can't use 'latest' as image tag as we can't detect upgrades"]
    if not tag:
        return [f"spec.imageName: {image!r}: Can't use just the image sha as we can't detect upgrades"]
    return []


WEBHOOK_RULES: tuple[Callable[[dict[str, Any]], list[str]], ...] = (
    _name, _bootstrap, _external_clusters, _replica_mode, _parameters, _resources, _storage, _hibernation, _image_name,
)


def webhook_errors(cluster: dict[str, Any]) -> list[str]:
    """The copied CNPG webhook rules' errors for a ``Cluster`` (schema-valid input assumed)."""
    return [error for rule in WEBHOOK_RULES for error in rule(cluster)]


# --- 4. built-in kinds, and the one entry point ----------------------------------------------------
def _builtin_errors(doc: dict[str, Any]) -> list[str]:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{_where(exc.absolute_path)}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"<root>: no schema for {doc['apiVersion']} {doc['kind']}: {exc.message}"]
    return []


def is_cnpg(doc: dict[str, Any]) -> bool:
    return (doc.get("apiVersion"), doc.get("kind")) in _crds()


def schema_errors(doc: dict[str, Any]) -> list[str]:
    """Layers 1 and 2 only (strict CRD schema, then CEL on a schema-valid object) for a CNPG resource."""
    errors = _schema_errors(doc)
    return errors or _cel_errors(doc)


def validate_manifest(doc: dict[str, Any]) -> list[str]:
    """Everything wrong with one manifest, each as ``"<field path>: <message>"``; empty when the API
    server (strict field validation) and CNPG 1.30.0's admission would accept it for creation.

    CNPG kinds: strict CRD schema, then CEL rules, then (``Cluster``) the copied webhook rules, each
    layer only on input the previous one accepted, as the API server orders them. Other kinds: the
    Kubernetes 1.37 schema via `kubernetes-validate` (which stops at the first error). A kind neither
    knows is an error. Call `require_reference` first in a test.
    """
    if not isinstance(doc.get("apiVersion"), str) or not isinstance(doc.get("kind"), str):
        return ["<root>: apiVersion and kind must be strings"]
    if not is_cnpg(doc):
        return _builtin_errors(doc)
    errors = schema_errors(doc)
    if errors or doc["kind"] != "Cluster":
        return errors
    return webhook_errors(doc)
