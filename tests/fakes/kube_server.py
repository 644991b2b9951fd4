"""`KubeServer`: a TEST DOUBLE of the Kubernetes API server, on the wire, with a scripted CNPG "operator".

For wire tests of the `kubernetes` engine driver: the REAL ``kubernetes`` Python client (and the whole
service over it) talks HTTP to this server, so paths, query parameters, content types, status codes and
chunked watch streams are exercised as a cluster would exercise them. It is NOT a kube-apiserver: no
etcd, no admission, no schema validation (the CRD-schema tests do that), no RBAC (one bearer token),
no CNPG. What it does, on ``127.0.0.1`` and a free port, plain HTTP/1.1:

- REST for the namespaced resources of `RESOURCES` (``/api/v1/namespaces/{ns}/{plural}[/{name}[/status]]``
  and ``/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/status]]``): list (``labelSelector``,
  ``fieldSelector`` on ``metadata.name``/``metadata.namespace``), get, create (201; assigns ``uid``,
  ``resourceVersion``, ``creationTimestamp``, ``generation``; ``generateName``; 409 AlreadyExists),
  replace (409 Conflict on a stale ``resourceVersion``), patch (``application/merge-patch+json``,
  ``application/json-patch+json``; ``application/strategic-merge-patch+json`` only for built-in kinds,
  applied as a merge patch, and refused with 415 for custom resources as the API server does), delete
  (``propagationPolicy`` Background/Foreground/Orphan, finalizers, owner-reference garbage collection).
  A resource with a status subresource keeps its ``status`` on writes to the object and changes only its
  ``status`` on writes to ``/status``. Errors are ``Status`` bodies as the API server shapes them.
- ``?watch=true``: a chunked stream of ``{"type": "ADDED|MODIFIED|DELETED", "object": ...}`` lines, from a
  ``resourceVersion`` (none or ``"0"``: the current objects as ADDED first), filtered by the selectors,
  ending after ``timeoutSeconds``. A ``resourceVersion`` older than the kept history (`KubeStore.compact`)
  gets what the API server sends: HTTP 200 and one ``ERROR`` event whose object is a 410 ``Expired`` Status.
- Secrets: ``stringData`` folded into base64 ``data``; ``kubernetes.io/basic-auth`` needs ``username`` or
  ``password``. Services get a ``clusterIP``. Namespaces must exist (`KubeServer` makes the ones it is given).
- `FakeOperator`, a thread standing in for CNPG: each ``Cluster`` goes "Setting up primary" (Ready False)
  and after `FakeOperator.ready_after` seconds "Cluster in healthy state" with ``readyInstances`` =
  ``spec.instances`` and ``conditions: [{type: Ready, status: "True"}]``, and gets what CNPG makes for it
  (Services ``-rw``/``-r``/``-ro``, Secrets ``-ca``/``-replication``, one Pod per instance, all owned by the
  Cluster so they go with it). A spec change or a ``kubectl.kubernetes.io/restartedAt`` annotation makes it
  not ready for a while again; ``cnpg.io/hibernation: "on"`` hibernates it (no pods, ``readyInstances`` 0,
  condition ``cnpg.io/hibernation`` True: the fake's reading of CNPG's docs, not checked on a cluster).
  A test `FakeOperator.hold`s a Cluster not ready (or `FakeOperator.pause`s them all), `FakeOperator.fail`s
  it with a terminal phase, or `FakeOperator.release`s it.

Every request is recorded in `KubeServer.requests` (method, path, query, content type, JSON body) so a test
can see what the client really sent. `kube_server` starts it, writes a kubeconfig for it, and stops it.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Obj = dict[str, Any]

CNPG_GROUP = "postgresql.cnpg.io"
CNPG_VERSION = "v1"
TOKEN = "openrds-fake-kube-token"
#: CNPG's phase strings (``api/v1/cluster_types.go``) the fake operator writes.
PHASE_SETTING_UP = "Setting up primary"
PHASE_HEALTHY = "Cluster in healthy state"
PHASE_WAITING = "Waiting for the instances to become active"
PHASE_UNRECOVERABLE = "Cluster is unrecoverable and needs manual intervention"
#: How long a watch stays open when the client names no ``timeoutSeconds`` (the API server picks 30-60 min;
#: short here so a forgotten stream cannot outlive a test module by much).
DEFAULT_WATCH_SECONDS = 60
#: Events kept for watches; a watch from an older ``resourceVersion`` gets 410 Gone (as after etcd compaction).
HISTORY_LIMIT = 10_000


@dataclass(frozen=True)
class Resource:
    """One kind the server serves: its REST name and what the API server does with it."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    status_subresource: bool = False
    has_generation: bool = False  # metadata.generation counts spec changes (custom resources, apps)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """How the API server names the resource in messages: ``clusters.postgresql.cnpg.io``, ``secrets``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def custom(self) -> bool:
        return self.group == CNPG_GROUP


def _cnpg(plural: str, kind: str) -> Resource:
    return Resource(CNPG_GROUP, CNPG_VERSION, plural, kind, status_subresource=True, has_generation=True)


RESOURCES: dict[tuple[str, str, str], Resource] = {
    (r.group, r.version, r.plural): r
    for r in (
        _cnpg("clusters", "Cluster"),
        _cnpg("backups", "Backup"),
        _cnpg("poolers", "Pooler"),
        _cnpg("imagecatalogs", "ImageCatalog"),
        Resource("", "v1", "secrets", "Secret"),
        Resource("", "v1", "services", "Service", status_subresource=True),
        Resource("", "v1", "pods", "Pod", status_subresource=True),
        Resource("", "v1", "configmaps", "ConfigMap"),
        Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", status_subresource=True),
        Resource("apps", "v1", "deployments", "Deployment", status_subresource=True, has_generation=True),
    )
}
CLUSTERS = RESOURCES[(CNPG_GROUP, CNPG_VERSION, "clusters")]
SECRETS = RESOURCES[("", "v1", "secrets")]
SERVICES = RESOURCES[("", "v1", "services")]
PODS = RESOURCES[("", "v1", "pods")]

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_KEY = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_SELECTOR_TERM = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[^\s,!=()]+)"
    r"|(?P<key>[^\s,!=()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,!=()]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


class ApiError(Exception):
    """An answer other than success, as a ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> Obj:
        body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def _not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource.qualified} "{name}" not found',
                    {"name": name, "group": resource.group, "kind": resource.plural})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- selectors ----------------------------------------------------------------------------------------------
Selector = Callable[[Obj], bool]


def label_selector(text: str) -> Selector:
    """Kubernetes label selector syntax: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``,
    ``k notin (a,b)``, comma-separated (all must hold). Anything else is a 400, as on the API server."""
    tests: list[Selector] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _SELECTOR_TERM.match(text, position)
        if not match or match.end() == position:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: invalid label selector {text!r}")
        position = match.end()
        tests.append(_label_test(match))
    return lambda obj: all(test((obj.get("metadata") or {}).get("labels") or {}) for test in tests)


def _label_test(match: re.Match[str]) -> Callable[[dict[str, str]], bool]:
    if match["absent"]:
        absent = match["absent"]
        return lambda labels: absent not in labels
    key = match["key"]
    if not _QUALIFIED_KEY.fullmatch(key):
        raise ApiError(400, "BadRequest", f"unable to parse requirement: invalid label key {key!r}")
    if match["op"]:
        value, negate = match["value"], match["op"] == "!="
        return lambda labels: (labels.get(key) == value) != negate
    if match["setop"]:
        values = {v.strip() for v in match["values"].split(",") if v.strip()}
        if match["setop"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    return lambda labels: key in labels


def field_selector(text: str, resource: Resource) -> Selector:
    """``metadata.name`` and ``metadata.namespace`` with ``=``, ``==``, ``!=`` (every kind supports those two;
    other fields are per kind on the API server and refused here with its 400)."""
    tests: list[Selector] = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        match = re.fullmatch(r"([A-Za-z.]+)\s*(==|=|!=)\s*(.*)", term)
        if not match:
            raise ApiError(400, "BadRequest", f"invalid field selector {text!r}")
        path, op, value = match.groups()
        if path not in ("metadata.name", "metadata.namespace"):
            raise ApiError(400, "BadRequest", f'"{path}" is not a known field selector: only "metadata.name", '
                                              f'"metadata.namespace" ({resource.kind})')
        attribute = path.split(".")[1]
        tests.append(lambda obj, a=attribute, v=value, neg=op == "!=": (obj["metadata"].get(a) == v) != neg)
    return lambda obj: all(test(obj) for test in tests)


# --- patches ------------------------------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"json patch: invalid path {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    for part in parts:
        try:
            doc = doc[int(part)] if isinstance(doc, list) else doc[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, "Invalid", f"json patch: path {path!r} does not exist") from None
    return doc


def json_patch(doc: Obj, operations: Any) -> Obj:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test). The body must be a list of operations;
    a JSON object here is what the API server refuses ("cannot unmarshal object into ... []handlers.jsonPatchOp")."""
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp")
    result: Any = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, "BadRequest", f"json patch: malformed operation {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("move", "copy"):
            source = _pointer(op["from"])
            value = copy.deepcopy(_walk(result, source, op["from"]))
            if kind == "move":
                result = _remove(result, source, op["from"])
            result = _add(result, _pointer(path), value, path)
        elif kind == "add":
            result = _add(result, _pointer(path), copy.deepcopy(op.get("value")), path)
        elif kind == "remove":
            result = _remove(result, _pointer(path), path)
        elif kind == "replace":
            parts = _pointer(path)
            _walk(result, parts, path)
            result = _add(_remove(result, parts, path), parts, copy.deepcopy(op.get("value")), path)
        elif kind == "test":
            if _walk(result, _pointer(path), path) != op.get("value"):
                raise ApiError(422, "Invalid", f"json patch: test operation failed at {path!r}")
        else:
            raise ApiError(400, "BadRequest", f"json patch: unknown operation {kind!r}")
    if not isinstance(result, dict):
        raise ApiError(422, "Invalid", "json patch: the result is not an object")
    return result


def _add(doc: Any, parts: list[str], value: Any, path: str) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if not 0 <= index <= len(parent):
            raise ApiError(422, "Invalid", f"json patch: index out of range at {path!r}")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, "Invalid", f"json patch: cannot add at {path!r}")
    return doc


def _remove(doc: Any, parts: list[str], path: str) -> Any:
    parent = _walk(doc, parts[:-1], path)
    _walk(parent, parts[-1:], path)
    if isinstance(parent, list):
        del parent[int(parts[-1])]
    else:
        del parent[parts[-1]]
    return doc


# --- the store ----------------------------------------------------------------------------------------------
Key = tuple[Resource, str, str]  # (resource, namespace, name)


@dataclass(frozen=True)
class Event:
    resource_version: int
    type: str  # ADDED | MODIFIED | DELETED
    key: Key
    object: Obj
    previous: Obj | None  # the object before a MODIFIED, so a selector that stopped matching sees it leave


class KubeStore:
    """The objects and their history; every change bumps one global ``resourceVersion`` (as etcd's revision)."""

    def __init__(self, namespaces: tuple[str, ...]) -> None:
        self.changed = threading.Condition()
        self.namespaces = set(namespaces)
        self._objects: dict[Key, Obj] = {}
        self._events: list[Event] = []
        self._revision = 1
        self._oldest = 1  # the oldest resourceVersion a watch may start from
        self.closed = False

    # -- reading
    @property
    def revision(self) -> int:
        return self._revision

    def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        with self.changed:
            obj = self._objects.get((resource, namespace, name))
            if obj is None:
                raise _not_found(resource, name)
            return copy.deepcopy(obj)

    def find(self, resource: Resource, namespace: str, name: str) -> Obj | None:
        with self.changed:
            obj = self._objects.get((resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: Resource, namespace: str | None,
             match: Selector = lambda _: True) -> tuple[list[Obj], int]:
        with self.changed:
            items = [copy.deepcopy(o) for (r, ns, _), o in sorted(self._objects.items(), key=lambda kv: kv[0][1:])
                     if r == resource and namespace in (None, ns) and match(o)]
            return items, self._revision

    def events_after(self, revision: int) -> list[Event] | None:
        """Events newer than ``revision``, or None when that revision is older than the kept history."""
        if revision < self._oldest - 1:
            return None
        return [e for e in self._events if e.resource_version > revision]

    def history(self) -> list[Event]:
        """The kept events, oldest first (for a test that checks the order things happened in)."""
        with self.changed:
            return list(self._events)

    def compact(self) -> None:
        """Forget the history: a watch from any earlier ``resourceVersion`` now gets 410 Gone."""
        with self.changed:
            self._events.clear()
            self._oldest = self._revision + 1

    # -- writing (callers hold no lock)
    def _record(self, kind: str, key: Key, obj: Obj, previous: Obj | None) -> None:
        self._events.append(Event(int(obj["metadata"]["resourceVersion"]), kind, key, copy.deepcopy(obj), previous))
        if len(self._events) > HISTORY_LIMIT:
            dropped = self._events[: len(self._events) - HISTORY_LIMIT]
            del self._events[: len(dropped)]
            self._oldest = dropped[-1].resource_version + 1
        self.changed.notify_all()

    def _bump(self, obj: Obj) -> None:
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)

    def create(self, resource: Resource, namespace: str, body: Obj) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        obj = copy.deepcopy(body)
        metadata = obj.setdefault("metadata", {})
        if metadata.get("namespace", namespace) != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")
        if obj.get("kind", resource.kind) != resource.kind or obj.get("apiVersion", resource.api_version) \
                != resource.api_version:
            raise ApiError(400, "BadRequest", f"the API version in the data ({obj.get('apiVersion')}) or kind "
                                              f"({obj.get('kind')}) does not match the endpoint ({resource.qualified})")
        with self.changed:
            if namespace not in self.namespaces:
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                               {"name": namespace, "kind": "namespaces"})
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = metadata["generateName"] + uuid.uuid4().hex[:5]
            name = metadata.get("name") or ""
            if not name or len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
                raise ApiError(422, "Invalid", f'{resource.kind} "{name}" is invalid: metadata.name: Invalid value: '
                                              f'"{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                                              "alphanumeric characters, '-' or '.'",
                               {"name": name, "group": resource.group, "kind": resource.kind})
            key = (resource, namespace, name)
            if key in self._objects:
                raise ApiError(409, "AlreadyExists", f'{resource.qualified} "{name}" already exists',
                               {"name": name, "group": resource.group, "kind": resource.plural})
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            metadata.update({"namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": _now()})
            for server_owned in ("deletionTimestamp", "resourceVersion"):
                metadata.pop(server_owned, None)
            if resource.has_generation:
                metadata["generation"] = 1
            if resource.status_subresource and resource.custom:
                obj.pop("status", None)  # a custom resource's status is written only through /status
            _defaults(resource, obj)
            self._bump(obj)
            self._objects[key] = obj
            self._record("ADDED", key, obj, None)
            return copy.deepcopy(obj)

    def update(self, resource: Resource, namespace: str, name: str, change: Callable[[Obj], Obj], *,
               subresource: str = "", expected_version: str | None = None) -> Obj:
        """Apply ``change`` to a copy of the object and store it (MODIFIED), as PUT and PATCH do. On the object
        itself a status subresource keeps the old ``status``; on ``/status`` only ``status`` changes."""
        with self.changed:
            key = (resource, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise _not_found(resource, name)
            proposed = change(copy.deepcopy(current))
            if not isinstance(proposed, dict):
                raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
            sent_version = (proposed.get("metadata") or {}).get("resourceVersion") or expected_version
            if sent_version and sent_version != current["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource.qualified} "{name}": '
                                                "the object has been modified; please apply your changes to the "
                                                "latest version and try again",
                               {"name": name, "group": resource.group, "kind": resource.plural})
            if subresource == "status":
                updated = copy.deepcopy(current)
                updated["status"] = proposed.get("status")
            else:
                updated = proposed
                metadata = updated.setdefault("metadata", {})
                for immutable in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "generation"):
                    if immutable in current["metadata"]:
                        metadata[immutable] = current["metadata"][immutable]
                    else:
                        metadata.pop(immutable, None)
                updated["apiVersion"], updated["kind"] = resource.api_version, resource.kind
                if resource.status_subresource:
                    updated.pop("status", None)
                    if "status" in current:
                        updated["status"] = copy.deepcopy(current["status"])
                _defaults(resource, updated)
                if resource.has_generation and _content(updated) != _content(current):
                    metadata["generation"] = int(current["metadata"].get("generation", 1)) + 1
            if _without_version(updated) == _without_version(current):
                return copy.deepcopy(current)  # a no-op write: no new resourceVersion, no event (as the API server)
            self._bump(updated)
            if (updated["metadata"].get("deletionTimestamp") and not updated["metadata"].get("finalizers")):
                self._objects.pop(key)
                self._record("DELETED", key, updated, current)
                self._collect_dependents(updated["metadata"]["uid"])
                return copy.deepcopy(updated)
            self._objects[key] = updated
            self._record("MODIFIED", key, updated, current)
            return copy.deepcopy(updated)

    def delete(self, resource: Resource, namespace: str, name: str,
               propagation: str = "Background") -> tuple[Obj, bool]:
        """Delete, or mark for deletion while finalizers remain (Foreground adds ``foregroundDeletion``, which
        `FakeOperator`'s garbage collector removes once the dependents are gone). Returns the object and
        whether it is gone already."""
        if propagation not in ("Background", "Foreground", "Orphan"):
            raise ApiError(400, "BadRequest", f"propagationPolicy: Unsupported value: {propagation!r}")
        with self.changed:
            key = (resource, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise _not_found(resource, name)
            finalizers = list(current["metadata"].get("finalizers") or [])
            if propagation == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if propagation == "Orphan":
                self._orphan_dependents(current["metadata"]["uid"])
            if finalizers:
                if current["metadata"].get("deletionTimestamp") and finalizers == current["metadata"]["finalizers"]:
                    return copy.deepcopy(current), False
                marked = copy.deepcopy(current)
                marked["metadata"]["finalizers"] = finalizers
                marked["metadata"].setdefault("deletionTimestamp", _now())
                self._bump(marked)
                self._objects[key] = marked
                self._record("MODIFIED", key, marked, current)
                return copy.deepcopy(marked), False
            gone = copy.deepcopy(current)
            self._bump(gone)
            del self._objects[key]
            self._record("DELETED", key, gone, current)
            self._collect_dependents(current["metadata"]["uid"])
            return gone, True

    def _dependents(self, uid: str) -> list[Key]:
        return [k for k, o in self._objects.items()
                if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or [])]

    def _collect_dependents(self, uid: str) -> None:
        # Background garbage collection, done at once (the real collector takes a moment).
        for resource, namespace, name in self._dependents(uid):
            if (resource, namespace, name) in self._objects:
                self.delete(resource, namespace, name)

    def _orphan_dependents(self, uid: str) -> None:
        for key in self._dependents(uid):
            self.update(*key, lambda o: {**o, "metadata": {**o["metadata"], "ownerReferences": [
                ref for ref in o["metadata"]["ownerReferences"] if ref.get("uid") != uid]}})

    def finish_foreground(self) -> None:
        """The garbage collector's part of a Foreground delete: delete the dependents of every object waiting
        on ``foregroundDeletion``, then drop that finalizer once none is left."""
        with self.changed:
            waiting = [k for k, o in self._objects.items()
                       if "foregroundDeletion" in (o["metadata"].get("finalizers") or [])]
            for key in waiting:
                uid = self._objects[key]["metadata"]["uid"]
                for dependent in self._dependents(uid):
                    self.delete(*dependent, propagation="Foreground")
                if not self._dependents(uid):
                    self.update(*key, lambda o: {**o, "metadata": {**o["metadata"], "finalizers": [
                        f for f in o["metadata"]["finalizers"] if f != "foregroundDeletion"]}})

    def write_status(self, resource: Resource, namespace: str, name: str, status: Obj) -> Obj | None:
        """What a controller does (``PUT .../status``); None when the object is gone."""
        try:
            return self.update(resource, namespace, name, lambda o: {**o, "status": status}, subresource="status")
        except ApiError:
            return None


def _without_version(obj: Obj) -> Obj:
    return {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}}


def _content(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _defaults(resource: Resource, obj: Obj) -> None:
    """The few things the API server fills in or checks for the built-in kinds the driver writes."""
    if resource is SECRETS:
        data = obj.get("data") or {}
        for key, value in (obj.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
        obj.setdefault("type", "Opaque")
        if obj["type"] == "kubernetes.io/basic-auth" and not {"username", "password"} & set(data):
            raise ApiError(422, "Invalid", f'Secret "{obj["metadata"].get("name")}" is invalid: data[username]: '
                                           "Required value: must have at least one of username or password")
    elif resource is SERVICES:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
            digest = uuid.uuid5(uuid.NAMESPACE_DNS, obj["metadata"].get("name", "")).bytes
            spec["clusterIP"] = f"10.96.{digest[0]}.{digest[1] or 1}"


# --- the scripted operator ----------------------------------------------------------------------------------
_EVERY = "*"  # in FakeOperator._held: every Cluster (pause)


@dataclass
class _Tracked:
    settled_at: float  # when the Cluster may become ready (or hibernated)
    seen: tuple[Any, ...]  # the generation and annotations last acted on


@dataclass
class FakeOperator:
    """Stands in for CNPG's controller and the garbage collector. ``ready_after``: seconds a Cluster stays
    "Setting up primary" (or "Waiting for the instances to become active" after a change) before it is healthy."""

    store: KubeStore
    ready_after: float = 0.3
    _held: set[str] = field(default_factory=set)
    _failed: dict[str, str] = field(default_factory=dict)
    _tracked: dict[str, _Tracked] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def hold(self, name: str) -> None:
        """Keep Cluster ``name`` (existing or future) not ready until `release`."""
        with self.store.changed:
            self._held.add(name)
            self.store.changed.notify_all()

    def release(self, name: str) -> None:
        with self.store.changed:
            self._held.discard(name)
            self._failed.pop(name, None)
            self.store.changed.notify_all()

    def pause(self) -> None:
        """Let no Cluster become ready (new ones stay "Setting up primary") until `resume`: an operator busy
        cloning, for a test that must see instances still being created."""
        with self.store.changed:
            self._held.add(_EVERY)
            self.store.changed.notify_all()

    def resume(self) -> None:
        self.release(_EVERY)

    def fail(self, name: str, reason: str = "pg_basebackup failed: could not connect to the source") -> None:
        """Put Cluster ``name`` (existing or future) in CNPG's terminal phase with ``reason`` as phaseReason."""
        with self.store.changed:
            self._failed[name] = reason
            self.store.changed.notify_all()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fake-cnpg-operator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self.store.changed:
            self.store.changed.notify_all()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.store.changed:
                self.store.finish_foreground()
                for cluster in self.store.list(CLUSTERS, None)[0]:
                    self._reconcile(cluster)
                self.store.changed.wait(timeout=0.05)

    def _reconcile(self, cluster: Obj) -> None:
        metadata = cluster["metadata"]
        name, namespace, uid = metadata["name"], metadata["namespace"], metadata["uid"]
        if metadata.get("deletionTimestamp"):
            return
        annotations = metadata.get("annotations") or {}
        hibernate = annotations.get("cnpg.io/hibernation") == "on"
        seen = (metadata.get("generation"), annotations.get("kubectl.kubernetes.io/restartedAt"), hibernate)
        tracked = self._tracked.get(uid)
        status = cluster.get("status") or {}
        instances = int((cluster.get("spec") or {}).get("instances", 1))
        now = time.monotonic()
        if name in self._failed:
            wanted = _status(cluster, PHASE_UNRECOVERABLE, ready=False, ready_instances=0, reason=self._failed[name])
        elif tracked is None or tracked.seen != seen:
            self._tracked[uid] = _Tracked(now + self.ready_after, seen)
            phase = PHASE_SETTING_UP if tracked is None else PHASE_WAITING
            wanted = _status(cluster, phase, ready=False, ready_instances=0 if tracked is None else
                             int(status.get("readyInstances", 0)))
        elif name in self._held or _EVERY in self._held or now < tracked.settled_at:
            return
        elif hibernate:
            wanted = _status(cluster, PHASE_HEALTHY, ready=False, ready_instances=0, hibernated=True)
        else:
            wanted = _status(cluster, PHASE_HEALTHY, ready=True, ready_instances=instances)
        if wanted != status:
            self.store.write_status(CLUSTERS, namespace, name, wanted)
        if wanted["phase"] == PHASE_HEALTHY:
            self._make_children(cluster, 0 if hibernate else instances)

    def _make_children(self, cluster: Obj, pods: int) -> None:
        """What CNPG creates for a Cluster (owned by it): Services, the CA and replication Secrets, the Pods."""
        name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
        owner = [{"apiVersion": CLUSTERS.api_version, "kind": "Cluster", "name": name,
                  "uid": cluster["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
        labels = {"cnpg.io/cluster": name}
        wanted: list[tuple[Resource, Obj]] = [
            (SERVICES, {"metadata": {"name": f"{name}-{suffix}", "labels": labels, "ownerReferences": owner},
                        "spec": {"ports": [{"name": "postgres", "port": 5432, "targetPort": 5432}],
                                 "selector": labels}})
            for suffix in ("rw", "r", "ro")
        ]
        wanted += [
            (SECRETS, {"metadata": {"name": f"{name}-ca", "labels": labels, "ownerReferences": owner},
                       "data": {"ca.crt": base64.b64encode(b"fake ca").decode()}}),
            (SECRETS, {"metadata": {"name": f"{name}-replication", "labels": labels, "ownerReferences": owner},
                       "type": "kubernetes.io/tls",
                       "data": {"tls.crt": base64.b64encode(b"fake crt").decode(),
                                "tls.key": base64.b64encode(b"fake key").decode()}}),
        ]
        for serial in range(1, pods + 1):
            role = "primary" if serial == 1 else "replica"
            wanted.append((PODS, {"metadata": {"name": f"{name}-{serial}", "ownerReferences": owner, "labels": {
                **labels, "cnpg.io/instanceName": f"{name}-{serial}", "cnpg.io/instanceRole": role, "role": role}},
                "spec": {"containers": [{"name": "postgres", "image": "ghcr.io/cloudnative-pg/postgresql"}]}}))
        for resource, body in wanted:
            if self.store.find(resource, namespace, body["metadata"]["name"]) is None:
                self.store.create(resource, namespace, {"apiVersion": resource.api_version, "kind": resource.kind,
                                                        **body})
        for pod in self.store.list(PODS, namespace, label_selector(f"cnpg.io/cluster={name}"))[0]:
            if int(pod["metadata"]["name"].rsplit("-", 1)[1]) > pods:
                self.store.delete(PODS, namespace, pod["metadata"]["name"])


def _status(cluster: Obj, phase: str, *, ready: bool, ready_instances: int, reason: str = "",
            hibernated: bool = False) -> Obj:
    """A ``Cluster.status`` shaped as CNPG writes it (``api/v1/cluster_types.go``; the fields the driver reads)."""
    name = cluster["metadata"]["name"]
    instances = int((cluster.get("spec") or {}).get("instances", 1))
    names = [f"{name}-{i}" for i in range(1, instances + 1)]
    previous = cluster.get("status") or {}
    conditions = [_condition(previous, "Ready", ready, "ClusterIsReady" if ready else "ClusterIsNotReady",
                             "Cluster is Ready" if ready else "Cluster Is Not Ready")]
    if hibernated:
        conditions.append(_condition(previous, "cnpg.io/hibernation", True, "Hibernated",
                                     "Cluster has been hibernated"))
    status: Obj = {
        "phase": phase, "instances": instances, "readyInstances": ready_instances, "instanceNames": names,
        "currentPrimary": names[0], "targetPrimary": names[0], "latestGeneratedNode": instances,
        "writeService": f"{name}-rw", "readService": f"{name}-r", "timelineID": 1,
        "instancesStatus": {"healthy": names[:ready_instances]} if ready_instances else {},
        "conditions": conditions,
    }
    if reason:
        status["phaseReason"] = reason
    return status


def _condition(previous: Obj, kind: str, value: bool, reason: str, message: str) -> Obj:
    text = "True" if value else "False"
    for old in previous.get("conditions") or []:
        if old.get("type") == kind and old.get("status") == text:
            return dict(old)  # unchanged: keep its lastTransitionTime
    return {"type": kind, "status": text, "reason": reason, "message": message, "lastTransitionTime": _now()}


# --- HTTP ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any = None  # the JSON body as sent (None when there was none or it was not JSON)


_PATH = re.compile(r"/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
                   r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?")
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the requests are recorded
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            sent = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            sent = None
        self.server.kube.requests.append(Request(method, url.path, query, content_type, sent))
        try:
            if self.headers.get("Authorization") != f"Bearer {self.server.kube.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if url.path == "/version":
                self._send(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0-openrds-fake"})
                return
            body = json.loads(raw) if raw else None
            self._route(method, url.path, query, content_type, body)
        except ApiError as error:
            self._send(error.code, error.status())
        except json.JSONDecodeError as error:
            self._send(400, ApiError(400, "BadRequest", f"invalid JSON body: {error}").status())

    def _route(self, method: str, path: str, query: dict[str, str], content_type: str, body: Any) -> None:
        store = self.server.kube.store
        match = _PATH.fullmatch(path)
        resource = RESOURCES.get((match["group"] or "", match["core"] or match["version"], match["plural"])) \
            if match else None
        if match is None or resource is None or (match["sub"] and match["sub"] != "status") \
                or (match["namespace"] is None and (method != "GET" or match["name"])):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace, name, sub = match["namespace"], match["name"], match["sub"] or ""
        if sub and not resource.status_subresource:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            if method == "GET" and query.get("watch") in ("true", "1"):
                self._watch(resource, namespace, query)
            elif method == "GET":
                selector = self._selector(resource, query)
                items, revision = store.list(resource, namespace, selector)
                if not resource.custom:
                    for item in items:  # the API server leaves kind/apiVersion off built-in list items
                        item.pop("kind", None)
                        item.pop("apiVersion", None)
                self._send(200, {"apiVersion": resource.api_version, "kind": f"{resource.kind}List",
                                 "metadata": {"resourceVersion": str(revision)}, "items": items})
            elif method == "POST":
                assert namespace is not None
                self._send(201, store.create(resource, namespace, body))
            else:
                raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {path}")
            return
        assert namespace is not None
        if method == "GET":
            self._send(200, store.get(resource, namespace, name))
        elif method == "PUT":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
            self._send(200, store.update(resource, namespace, name, lambda _: copy.deepcopy(body), subresource=sub))
        elif method == "PATCH":
            self._send(200, store.update(resource, namespace, name, _patcher(resource, content_type, body),
                                         subresource=sub))
        elif method == "DELETE" and not sub:
            options = body if isinstance(body, dict) else {}
            policy = query.get("propagationPolicy") or options.get("propagationPolicy") or "Background"
            obj, _ = store.delete(resource, namespace, name, policy)
            # 200 even while finalizers hold it: the API server answers 202 only for the deprecated
            # orphanDependents=false (apiserver endpoints/handlers/delete.go), which the client never sends.
            self._send(200, obj)
        else:
            raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {path}")

    @staticmethod
    def _selector(resource: Resource, query: dict[str, str]) -> Selector:
        labels = label_selector(query.get("labelSelector", ""))
        fields = field_selector(query.get("fieldSelector", ""), resource)
        return lambda obj: labels(obj) and fields(obj)

    def _watch(self, resource: Resource, namespace: str | None, query: dict[str, str]) -> None:
        store = self.server.kube.store
        match = self._selector(resource, query)
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
        start = query.get("resourceVersion", "")
        if start and not start.isdigit():
            raise ApiError(400, "BadRequest", f"invalid resource version: {start!r}")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            with store.changed:
                if start in ("", "0"):
                    items, revision = store.list(resource, namespace, match)
                    lines = [{"type": "ADDED", "object": item} for item in items]
                else:
                    revision = int(start)
                    lines = []
            self._chunks(lines)
            while time.monotonic() < deadline and not store.closed:
                with store.changed:
                    events = store.events_after(revision)
                    if events is None:
                        expired = ApiError(410, "Expired", f"too old resource version: {start} ({store.revision})")
                        lines, done = [{"type": "ERROR", "object": expired.status()}], True
                    else:
                        lines, done = [], False
                        for event in events:
                            revision = event.resource_version
                            line = _watch_line(event, resource, namespace, match)
                            if line:
                                lines.append(line)
                    if not lines and not done:
                        store.changed.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
                        continue
                self._chunks(lines)
                if done:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client went away (Watch.stop shuts its socket)

    def _chunks(self, lines: list[Obj]) -> None:
        for line in lines:
            data = json.dumps(line).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code, HTTPStatus(code).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _watch_line(event: Event, resource: Resource, namespace: str | None, match: Selector) -> Obj | None:
    """The line a watch of (``resource``, ``namespace``, ``match``) gets for ``event``: an object entering the
    selection is ADDED, one leaving it DELETED, as the API server's watch cache filters."""
    key_resource, key_namespace, _ = event.key
    if key_resource != resource or namespace not in (None, key_namespace):
        return None
    now = match(event.object)
    before = event.previous is not None and match(event.previous)
    if event.type == "MODIFIED" and now != before:
        return {"type": "ADDED" if now else "DELETED", "object": event.object}
    if (event.type == "DELETED" and before) or (event.type != "DELETED" and now):
        return {"type": event.type, "object": event.object}
    return None


def _patcher(resource: Resource, content_type: str, body: Any) -> Callable[[Obj], Obj]:
    if content_type == JSON_PATCH:
        return lambda obj: json_patch(obj, body)
    if content_type == MERGE or (content_type == STRATEGIC and not resource.custom):
        # Strategic merge on built-in kinds is a merge patch here: lists are replaced, not merged by key.
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        return lambda obj: merge_patch(obj, body)
    raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted '
                                                f'media types include: {JSON_PATCH}, {MERGE}'
                   + ("" if resource.custom else f", {STRATEGIC}"))


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    kube: KubeServer


@dataclass
class KubeServer:
    """The server, its store and its operator. ``url``/``kubeconfig`` are set by `start`."""

    namespaces: tuple[str, ...] = ("default", "openrds")
    token: str = TOKEN
    ready_after: float = 0.3
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    kubeconfig: Path | None = None

    def __post_init__(self) -> None:
        self.store = KubeStore(self.namespaces)
        self.operator = FakeOperator(self.store, self.ready_after)
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, directory: Path, namespace: str = "openrds") -> None:
        """Serve on a free loopback port and write ``directory/kubeconfig`` (plain http, the bearer token,
        ``namespace`` as the context's namespace)."""
        self._http = _HttpServer(("127.0.0.1", 0), _Handler)
        self._http.kube = self
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-kube-apiserver", daemon=True)
        self._thread.start()
        self.operator.start()
        self.kubeconfig = directory / "kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": self.token}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
        }))
        self.kubeconfig.chmod(0o600)

    def stop(self) -> None:
        self.operator.stop()
        with self.store.changed:
            self.store.closed = True  # open watch streams end within their next poll
            self.store.changed.notify_all()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait (woken by the store's changes, not a sleep) until ``predicate()`` is truthy; fail saying ``what``.
        The predicate runs without the store's lock, so it may call the server over HTTP."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            with self.store.changed:
                self.store.changed.wait(timeout=min(left, 0.2))
        return value

    def clusters(self, namespace: str = "openrds", selector: str = "") -> dict[str, Obj]:
        """The Cluster objects by name (a test's view straight into the store)."""
        items, _ = self.store.list(CLUSTERS, namespace, label_selector(selector))
        return {o["metadata"]["name"]: o for o in items}


@contextmanager
def kube_server(directory: Path, *, namespace: str = "openrds", ready_after: float = 0.3) -> Iterator[KubeServer]:
    """A started `KubeServer` whose kubeconfig is in ``directory``; stopped at the end (the file stays with
    the directory, which its owner removes)."""
    server = KubeServer(namespaces=("default", namespace), ready_after=ready_after)
    server.start(directory, namespace)
    try:
        yield server
    finally:
        server.stop()
