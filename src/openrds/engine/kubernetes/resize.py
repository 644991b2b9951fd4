"""A new spec for a CloudNativePG Cluster (`engine.resize.ResizeDriver` for `KubernetesDriver`).

One JSON merge patch of the Cluster: ``spec.resources`` (requests == limits), the spec-derived
``postgresql.parameters`` (``max_connections`` at least ``floor``'s, ``shared_buffers``),
``spec.storage.size`` and the driver's spec annotation. CNPG rolls the pods for a new CPU, memory or
restart-context parameter (the driver waits until the Cluster has left its healthy phase and is
Ready again); a storage-only change grows the PVCs in place (the driver waits for Ready). A PVC
cannot shrink: a smaller storage is refused with an `EngineError` before anything is patched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from openrds.engine.driver import EngineError, ServerSpec
from openrds.engine.kubernetes.manifests import SPEC, cluster_name
from openrds.engine.resize import Resized

if TYPE_CHECKING:
    from openrds.engine.kubernetes.driver import KubernetesDriver


def apply_spec(driver: KubernetesDriver, instance_id: str, spec: ServerSpec,
               floor: Mapping[str, int] | None = None) -> Resized:
    """See :meth:`openrds.engine.resize.ResizeDriver.apply_spec`."""
    from openrds.engine.kubernetes.driver import _ready, _ready_again  # the driver's own wait conditions

    view = driver._existing(instance_id)
    connections = max(spec.max_connections, int((floor or {}).get("max_connections", 0)))
    wanted = ServerSpec(cpu=spec.cpu, memory_mb=spec.memory_mb, max_connections=connections,
                        storage_gb=spec.storage_gb)
    if wanted == view.spec:
        return Resized(driver.status(instance_id), changed=False, restarted=False)
    if 0 < spec.storage_gb < view.spec.storage_gb:
        raise EngineError("resize", f"{instance_id}: a PersistentVolumeClaim cannot shrink "
                                    f"({view.spec.storage_gb} GB -> {spec.storage_gb} GB)")
    obj = driver._get(cluster_name(view.instance_id)) or {}
    recorded = json.loads(((obj.get("metadata") or {}).get("annotations") or {}).get(SPEC, "{}"))
    recorded.update(cpu=wanted.cpu, memory_mb=wanted.memory_mb, max_connections=wanted.max_connections,
                    storage_gb=wanted.storage_gb)
    cpu, memory = str(wanted.cpu), f"{wanted.memory_mb}Mi"
    body = {
        "metadata": {"annotations": {SPEC: json.dumps(recorded, sort_keys=True)}},
        "spec": {
            "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
            "postgresql": {"parameters": {"max_connections": str(wanted.max_connections),
                                          "shared_buffers": f"{max(16, wanted.memory_mb // 4)}MB"}},
            "storage": {"size": f"{max(1, wanted.storage_gb)}Gi"},
        },
    }
    rolls = (wanted.cpu, wanted.memory_mb, wanted.max_connections) != (
        view.spec.cpu, view.spec.memory_mb, view.spec.max_connections)
    patched = driver._patch(view.instance_id, body, "resize")
    ok = _ready_again() if rolls else _ready
    info = driver._info(driver._wait_view(view.instance_id, patched, ok, driver._deadline(driver.timeout), "resize"))
    return Resized(info, changed=True, restarted=rolls)
