"""`FakeKube`: a TEST DOUBLE of the Kubernetes API surface the `kubernetes` engine driver uses, in memory.

For the driver's logic (ordering, deadlines, terminal phases, 410 Gone, adoption) without a cluster.
`custom` stands for ``kubernetes.client.CustomObjectsApi`` (namespaced custom objects: get, list with
label and field selectors, create, JSON merge patch, delete) and `core` for ``CoreV1Api`` (Secrets,
Services). A list called by the real ``kubernetes.watch.Watch`` (``watch=True``, ``_preload_content=
False``) answers a response object streaming JSON event lines from ``resource_version`` on, for up to
``timeout_seconds``, so the driver's waits run through the official client's watch code. Errors are
the client's own ``ApiException`` with the API server's status codes (404, 409, 410).

`FakeOperator` plays CNPG: after each write to a Cluster it writes CNPG-shaped ``status`` (phases
from api/v1/cluster_types.go, the ``Ready`` and ``cnpg.io/hibernation`` conditions, ``readyInstances``)
a step at a time, ``step`` seconds apart. A test steers it: `FakeOperator.hold` (a Cluster never
becomes ready), `FakeOperator.fail` (it ends in a terminal phase with a reason). `FakeKube.expire`
compacts history, so the next watch from an older version gets 410 Gone.

What it does NOT prove: anything about CNPG itself (defaulting, webhooks, real timing, pods,
PostgreSQL), the API server's validation, or the wire format (the wire-level fake does that).
"""

from __future__ import annotations

import base64
import copy
import heapq
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

HEALTHY = "Cluster in healthy state"
SETTING_UP = "Setting up primary"
PROMOTING = "Promoting to primary cluster"
RESTARTING = "Primary instance is being restarted in-place"
UPGRADING = "Upgrading cluster"  # CNPG's rolling update after a change of resources or parameters
RESTART_PARAMETERS = frozenset({"max_connections", "shared_buffers"})  # of those the driver writes
HIBERNATION = "cnpg.io/hibernation"


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 JSON merge patch, in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class _WatchResponse:
    """What ``Watch.stream`` reads: ``stream()`` yields newline-terminated JSON events."""

    status = 200

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines = lines

    def stream(self, amt: Any = None, decode_content: Any = None) -> Iterator[bytes]:
        return self._lines

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


@dataclass
class _Secret:
    """Shaped like ``V1Secret`` where the driver reads it (``.data``, base64 values)."""

    name: str
    data: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)


class FakeKube:
    """One namespace of a fake API server (see the module docstring)."""

    def __init__(self, namespace: str = "openrds") -> None:
        self.namespace = namespace
        self._lock = threading.Condition()
        self._rv = itertools.count(1)
        self.version = 0
        self.compacted = 0  # watches from before this version get 410 Gone
        self.gone_answered = 0  # how many watches were answered 410 Gone
        self.clusters: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, _Secret] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.events: list[tuple[int, str, dict[str, Any]]] = []  # (version, type, object)
        self.calls: list[tuple[str, str]] = []  # (verb, name) of every write, in order
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.custom = _Custom(self)
        self.core = _Core(self)

    # ---------------------------------------------------------------- store

    def _bump(self, kind: str, obj: dict[str, Any] | None, name: str) -> None:
        self.version = next(self._rv)
        if obj is not None:
            obj["metadata"]["resourceVersion"] = str(self.version)
            self.events.append((self.version, kind, copy.deepcopy(obj)))
        self._lock.notify_all()

    def write_status(self, name: str, status: dict[str, Any]) -> None:
        """What the operator does: merge ``status`` into the Cluster (no-op when it is gone)."""
        with self._lock:
            obj = self.clusters.get(name)
            if obj is None:
                return
            obj.setdefault("status", {}).update(copy.deepcopy(status))
            self._bump("MODIFIED", obj, name)

    def remove(self, name: str) -> None:
        """The garbage collector finishing a foreground delete."""
        with self._lock:
            obj = self.clusters.pop(name, None)
            if obj is not None:
                self.version = next(self._rv)
                obj["metadata"]["resourceVersion"] = str(self.version)
                self.events.append((self.version, "DELETED", copy.deepcopy(obj)))
                self._lock.notify_all()

    def expire(self) -> None:
        """Compact history: a watch from any version up to now answers 410 Gone."""
        with self._lock:
            self.compacted = self.version
            self.version = next(self._rv)  # a list answers a version a watch may start from

    def cluster(self, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.clusters[name])

    def _notify(self, verb: str, obj: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(verb, copy.deepcopy(obj))

    def _watch(self, name: str | None, since: int, timeout: float) -> Iterator[bytes]:
        deadline = time.monotonic() + timeout
        if since and since <= self.compacted:
            self.gone_answered += 1
            error = {"kind": "Status", "code": 410, "reason": "Expired", "message": f"too old resource version {since}"}
            yield (json.dumps({"type": "ERROR", "object": error}) + "\n").encode()
            return
        seen = since
        while True:
            with self._lock:
                pending = [e for e in self.events if e[0] > seen and (name is None or e[2]["metadata"]["name"] == name)]
                if not pending:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._lock.wait(left)
                    continue
            for version, kind, obj in pending:
                seen = version
                yield (json.dumps({"type": kind, "object": obj}) + "\n").encode()


class _Custom:
    """``CustomObjectsApi``: namespaced custom objects (only Clusters are stored)."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube

    def get_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> Any:
        with self.kube._lock:
            if name not in self.kube.clusters:
                raise ApiException(status=404, reason="Not Found")
            return copy.deepcopy(self.kube.clusters[name])

    def list_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, **kwargs: Any
    ) -> Any:
        name = (kwargs.get("field_selector") or "").removeprefix("metadata.name=") or None
        if kwargs.get("watch"):
            since = int(kwargs.get("resource_version") or 0)
            return _WatchResponse(self.kube._watch(name, since, float(kwargs.get("timeout_seconds") or 30)))
        with self.kube._lock:
            items = [
                copy.deepcopy(obj) for obj in self.kube.clusters.values()
                if _matches(obj["metadata"].get("labels") or {}, kwargs.get("label_selector"))
                and name in (None, obj["metadata"]["name"])
            ]
            return {"apiVersion": f"{group}/{version}", "kind": "ClusterList", "items": items,
                    "metadata": {"resourceVersion": str(self.kube.version)}}

    def create_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str,
                                        body: dict[str, Any]) -> Any:
        name = body["metadata"]["name"]
        with self.kube._lock:
            if name in self.kube.clusters:
                raise ApiException(status=409, reason="AlreadyExists")
            obj = copy.deepcopy(body)
            obj["metadata"]["namespace"] = namespace
            self.kube.clusters[name] = obj
            self.kube.calls.append(("create", name))
            self.kube._bump("ADDED", obj, name)
            result = copy.deepcopy(obj)
        self.kube._notify("create", result)
        return result

    def patch_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, name: str,
                                       body: dict[str, Any]) -> Any:
        with self.kube._lock:
            if name not in self.kube.clusters:
                raise ApiException(status=404, reason="Not Found")
            obj = self.kube.clusters[name]
            _merge(obj, body)
            self.kube.calls.append(("patch", name))
            self.kube._bump("MODIFIED", obj, name)
            result = copy.deepcopy(obj)
        self.kube._notify("patch", result)
        return result

    def delete_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, name: str,
                                        **kwargs: Any) -> Any:
        with self.kube._lock:
            if name not in self.kube.clusters:
                raise ApiException(status=404, reason="Not Found")
            obj = self.kube.clusters[name]
            obj["metadata"]["deletionTimestamp"] = "now"
            self.kube.calls.append(("delete", name))
            self.kube._bump("MODIFIED", obj, name)
            result = copy.deepcopy(obj)
        self.kube._notify("delete", result)
        return result


class _Core:
    """``CoreV1Api``: Secrets and Services."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube

    def create_namespaced_secret(self, namespace: str, body: dict[str, Any]) -> Any:
        name = body["metadata"]["name"]
        with self.kube._lock:
            if name in self.kube.secrets:
                raise ApiException(status=409, reason="AlreadyExists")
            self.kube.secrets[name] = self._secret(body)
            self.kube.calls.append(("create secret", name))
        return self.kube.secrets[name]

    def patch_namespaced_secret(self, name: str, namespace: str, body: dict[str, Any]) -> Any:
        with self.kube._lock:
            if name not in self.kube.secrets:
                raise ApiException(status=404, reason="Not Found")
            self.kube.secrets[name].data.update(self._secret(body).data)
            self.kube.calls.append(("patch secret", name))
        return self.kube.secrets[name]

    def read_namespaced_secret(self, name: str, namespace: str) -> Any:
        with self.kube._lock:
            if name not in self.kube.secrets:
                raise ApiException(status=404, reason="Not Found")
            return copy.deepcopy(self.kube.secrets[name])

    def delete_namespaced_secret(self, name: str, namespace: str, **kwargs: Any) -> Any:
        with self.kube._lock:
            if self.kube.secrets.pop(name, None) is None:
                raise ApiException(status=404, reason="Not Found")
            self.kube.calls.append(("delete secret", name))
        return {"kind": "Status", "status": "Success"}

    def read_namespaced_service(self, name: str, namespace: str) -> Any:
        with self.kube._lock:
            if name not in self.kube.services:
                raise ApiException(status=404, reason="Not Found")
            return copy.deepcopy(self.kube.services[name])

    @staticmethod
    def _secret(body: dict[str, Any]) -> _Secret:
        data = dict(body.get("data") or {})
        data.update({k: base64.b64encode(v.encode()).decode() for k, v in (body.get("stringData") or {}).items()})
        return _Secret(body["metadata"]["name"], data, dict(body["metadata"].get("labels") or {}))


def _conditions(ready: bool, hibernated: bool | None = None) -> list[dict[str, str]]:
    out = [{"type": "Ready", "status": "True" if ready else "False", "reason": "ClusterIsReady" if ready else
            "ClusterIsNotReady"}]
    if hibernated is not None:
        out.append({"type": HIBERNATION, "status": "True" if hibernated else "False", "reason": "Hibernated"})
    return out


class FakeOperator:
    """Scripted CNPG: reacts to the driver's writes with status writes ``step`` seconds apart (see module)."""

    def __init__(self, kube: FakeKube, step: float = 0.02) -> None:
        self.kube = kube
        self.step = step
        self.held: set[str] = set()
        self.failing: dict[str, tuple[str, str]] = {}
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stopped = False
        self._promoted: set[str] = set()
        self._restarted: dict[str, str] = {}
        self._rolled: dict[str, str] = {}  # the resources and parameters each Cluster's pods run with
        self._thread = threading.Thread(target=self._run, name="fake-cnpg", daemon=True)
        kube.listeners.append(self._on_write)
        self._thread.start()

    def hold(self, name: str) -> None:
        """``name`` never gets past "Setting up primary" (a clone that takes forever)."""
        self.held.add(name)

    def fail(self, name: str, phase: str, reason: str) -> None:
        """``name`` ends in ``phase`` (a terminal one, say) with ``reason``."""
        self.failing[name] = (phase, reason)

    def close(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        self._thread.join(5)

    def _later(self, steps: int, action: Callable[[], None]) -> None:
        with self._cv:
            heapq.heappush(self._queue, (time.monotonic() + steps * self.step, next(self._seq), action))
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._cv.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                if self._stopped:
                    return
                _, _, action = heapq.heappop(self._queue)
            action()

    def _status(self, name: str, phase: str, ready: int, *, hibernated: bool | None = None, reason: str = "") -> None:
        obj = self.kube.clusters.get(name)
        if obj is None:
            return
        instances = int(obj["spec"].get("instances", 1))
        self.kube.write_status(name, {
            "phase": phase, "phaseReason": reason, "instances": instances, "readyInstances": ready,
            "conditions": _conditions(phase == HEALTHY and ready >= instances and not hibernated, hibernated),
        })

    def _on_write(self, verb: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        instances = int(obj["spec"].get("instances", 1))
        annotations = obj["metadata"].get("annotations") or {}
        status = obj.get("status") or {}
        if verb == "delete":
            self._later(1, lambda: self.kube.remove(name))
        elif verb == "create":
            self._rolling(name, obj["spec"])  # the pods start with these
            self._later(1, lambda: self._status(name, SETTING_UP, 0))
            if name in self.failing:
                phase, reason = self.failing[name]
                self._later(2, lambda: self._status(name, phase, 0, reason=reason))
            elif name not in self.held:
                self._later(3, lambda: self._status(name, HEALTHY, instances))
        elif annotations.get(HIBERNATION) == "on" and not _hibernated(status):
            self._later(1, lambda: self._status(name, HEALTHY, 0, hibernated=True))
        elif annotations.get(HIBERNATION) == "off" and _hibernated(status):
            self._later(1, lambda: self._status(name, SETTING_UP, 0, hibernated=False))
            self._later(2, lambda: self._status(name, HEALTHY, instances, hibernated=False))
        elif obj["spec"].get("replica") == {"enabled": False, "source": "source"} and self._promoting(name):
            self._later(1, lambda: self._status(name, PROMOTING, 0))
            self._later(2, lambda: self._status(name, HEALTHY, instances))
        elif "kubectl.kubernetes.io/restartedAt" in annotations and self._restarting(name, annotations):
            self._later(1, lambda: self._status(name, RESTARTING, instances - 1))
            self._later(2, lambda: self._status(name, HEALTHY, instances))
        elif self._rolling(name, obj["spec"]):
            self._later(1, lambda: self._status(name, UPGRADING, instances - 1))
            self._later(2, lambda: self._status(name, HEALTHY, instances))

    def _rolling(self, name: str, spec: dict[str, Any]) -> bool:
        """A Cluster whose resources or restart-only parameters changed since its pods were last rolled (or
        made); a reload parameter (``wal_keep_size``) is applied in place, as CNPG does."""
        parameters = (spec.get("postgresql") or {}).get("parameters") or {}
        wanted = json.dumps([spec.get("resources"), {k: v for k, v in parameters.items() if k in RESTART_PARAMETERS}],
                            sort_keys=True)
        before = self._rolled.setdefault(name, wanted)
        self._rolled[name] = wanted
        return before != wanted

    def _promoting(self, name: str) -> bool:
        """Once per Cluster: the first patch that takes it out of replica mode."""
        if name in self._promoted:
            return False
        self._promoted.add(name)
        return True

    def _restarting(self, name: str, annotations: dict[str, str]) -> bool:
        """Each new ``restartedAt`` value once."""
        value = annotations["kubectl.kubernetes.io/restartedAt"]
        if self._restarted.get(name) == value:
            return False
        self._restarted[name] = value
        return True


def _hibernated(status: dict[str, Any]) -> bool:
    return any(c.get("type") == HIBERNATION and c.get("status") == "True" for c in status.get("conditions") or ())
