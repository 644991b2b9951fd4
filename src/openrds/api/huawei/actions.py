"""``POST /v1/{project_id}/instances/{id}/action``: one action per body, in v1's shapes.

- ``{"restart": {}}``: answered like a create (the instance, its job in ``extendparam.jobs``);
- ``{"resize": {"flavorRef": "<flavor id or spec code>"}}``: a new flavor of the same kind (a read
  replica's flavor for a read replica) -> ``{"jobId": ["<job id>"]}``;
- ``{"resize": {"volume": {"size": N}}}``: a larger volume (GB, step 10, within the flavor's bounds;
  v1 volumes only grow) -> ``{"extendparam": {"jobs": [{"id": "<job id>"}]}}``.

A resize is applied at once (v1 has no switch window); money, rules and the job are the Tencent
face's (:class:`openrds.services.resize.ResizeService`).
"""

from __future__ import annotations

from typing import Any, TypedDict

from openrds.api.huawei import errors
from openrds.container import Container
from openrds.domain.errors import InvalidStorage
from openrds.domain.model import Instance, Job
from openrds.services.resize import ChangeRequest

#: What a body may name: exactly one of these.
ACTIONS = ("restart", "resize")


class _JobRef(TypedDict):
    id: str


class _ExtendParam(TypedDict):
    jobs: list[_JobRef]


class ResizeFlavorResponse(TypedDict):
    """``resize`` of ``flavorRef`` (202)."""

    jobId: list[str]


class ResizeVolumeResponse(TypedDict):
    """``resize`` of ``volume`` (202)."""

    extendparam: _ExtendParam


def action_of(body: dict[str, Any]) -> str:
    """The one action a body names. :raises HuaweiApiError: none, several, or one v1 does not offer here."""
    if len(body) != 1 or next(iter(body)) not in ACTIONS:
        raise errors.unsupported_action(", ".join(body))
    return next(iter(body))


def resize(container: Container, tenant_id: str, target: Instance,
           body: Any) -> ResizeFlavorResponse | ResizeVolumeResponse:
    """A ``resize`` body (the value of ``"resize"``): a flavor or a volume, not both."""
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ("flavorRef", "volume"):
        raise errors.invalid_parameter("resize", "give exactly one of flavorRef and volume")
    spec = container.catalogue.spec(target.spec_code)
    if "flavorRef" in body:
        flavor = body["flavorRef"]
        if not isinstance(flavor, str) or not flavor or len(flavor) > 128:
            raise errors.invalid_parameter("flavorRef", "a flavor id is a non-empty string")
        job = _change(container, tenant_id, target, ChangeRequest(memory_gb=0, storage_gb=target.storage_gb,
                                                                   spec_code=flavor))
        return {"jobId": [job.id]}
    volume = body["volume"]
    size = volume.get("size") if isinstance(volume, dict) else None
    if not isinstance(volume, dict) or set(volume) - {"size"}:
        raise errors.invalid_parameter("volume", "give volume as {\"size\": N}")
    if isinstance(size, bool) or not isinstance(size, int):
        raise errors.missing_parameter("volume.size") if size is None else errors.invalid_parameter(
            "volume.size", "a whole number of GB")
    if size <= target.storage_gb:
        raise InvalidStorage(f"a volume only grows: {target.code} has {target.storage_gb} GB", field="storage")
    job = _change(container, tenant_id, target, ChangeRequest(memory_gb=spec.memory_mb // 1024, storage_gb=size,
                                                              spec_code=spec.code))
    return {"extendparam": {"jobs": [{"id": job.id}]}}


def _change(container: Container, tenant_id: str, target: Instance, request: ChangeRequest) -> Job:
    return container.resize.modify(tenant_id, target.id, request).job
