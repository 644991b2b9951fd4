"""The Trove v1.0 face: ``/v1.0/{project_id}/...`` with a Keystone token (``X-Auth-Token``, issued by
`openrds.api.huawei.auth`: the token's catalogue names this endpoint as the ``database`` service).
Each handler is parse -> call a service -> present.

A project is one region of the tenant's (as on the Huawei face): instances of the tenant's other
regions, and every other tenant's, do not exist on its paths (404 ``itemNotFound``).

Replica actions: ``PUT``/``PATCH /instances/{id}`` with ``{"instance": {"replica_of": null}}`` detaches
a read-only instance: the promote operation (`InstanceService.promote`). ``promote_to_replica_source``
and ``eject_replica_source`` are refused (400) until the engine can make an old primary follow a new
one (see :data:`REFUSED_ACTIONS`).
"""


import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from openrds.api.face_route import FaceRoute
from openrds.api.trove import errors, schemas
from openrds.api.trove import presenters as present
from openrds.api.trove.errors import TroveFault
from openrds.container import Container
from openrds.domain import rules
from openrds.domain.errors import InstanceNotFound, OpenRDSError
from openrds.domain.model import Instance, InstanceQuery, Project
from openrds.services.identity import IdentityService

log = logging.getLogger(__name__)

PAGE = 100
#: The longest body read (real ones are a few hundred bytes); past it 413, the rest unread.
MAX_BODY_BYTES = 1024 * 1024
M = TypeVar("M", bound=BaseModel)

#: Trove's replica actions this host refuses, and why (also in the README).
REFUSED_ACTIONS: Mapping[str, str] = {
    "promote_to_replica_source": (
        "a switchover needs the old primary to follow the new one (pg_rewind, or a new copy) and the "
        "other replicas to be re-pointed, which this host's engine cannot do yet; detach the replica "
        "instead (PUT {\"instance\": {\"replica_of\": null}}) to make it a standalone primary"),
    "eject_replica_source": (
        "electing a new primary among the replicas of a lost primary needs the other replicas re-pointed "
        "to it, which this host's engine cannot do yet; detach the most recent replica instead"),
}
ACTIONS = ("restart", *REFUSED_ACTIONS)


# --- plumbing ------------------------------------------------------------------------------------
def _dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path", "header")) or "body"


def _validation_fault(details: list[Any]) -> TroveFault:
    first = details[0] if details else {"loc": (), "msg": "invalid", "type": "value_error"}
    name = _dotted(tuple(first.get("loc", ())))
    if first.get("type") == "missing":
        return errors.bad_request(f"Missing required field: {name}.")
    return errors.bad_request(f"Invalid value of {name}: {first.get('msg', 'invalid')}.")


def parse(model: type[M], data: Any) -> M:
    """Validate ``data``; the first problem becomes a 400 ``badRequest`` naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_fault(list(exc.errors(include_url=False))) from None


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (a dependency), read up to :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TroveFault(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.", {"Connection": "close"})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TroveFault(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.", {"Connection": "close"})
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.bad_request(f"Malformed request body: {exc}.") from None
    if not isinstance(data, dict):
        raise errors.bad_request("Malformed request body: a JSON object is expected.")
    return data


def _as_fault(exc: Exception) -> TroveFault:
    if isinstance(exc, TroveFault):
        return exc
    if isinstance(exc, OpenRDSError):
        return errors.from_domain(exc)
    if isinstance(exc, RequestValidationError):
        return _validation_fault(list(exc.errors()))
    log.exception("trove api: unexpected failure", exc_info=exc)
    return errors.internal_error()


class TroveRoute(FaceRoute):
    """Every failure answers in Trove's nested shape (`errors.TroveFault`)."""

    face = "trove"

    def failure(self, exc: Exception, request: Request) -> tuple[Response, str]:
        fault = _as_fault(exc)
        return fault.response(), errors.FAULT_NAMES.get(fault.status, str(fault.status))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: the tenant, the project (so the region) the token is scoped to, and this face's base
    URL for the project (``…/v1.0/{project_id}``, for links)."""

    tenant_id: str
    project: Project
    base: str

    @property
    def region(self) -> str:
        return self.project.region


AuthToken = Annotated[str | None, Header(alias="X-Auth-Token")]


def caller_dependency(identity: IdentityService) -> Callable[..., Caller]:
    def caller(request: Request, project_id: str, token: AuthToken = None) -> Caller:
        if not token:
            raise TroveFault(401, "The request you have made requires authentication: X-Auth-Token is missing.")
        resolved = identity.resolve_token(token)  # AuthenticationFailed: unknown or expired (401)
        project = identity.project(project_id) if resolved.project_id == project_id else None
        if project is None or project.tenant_id != resolved.tenant_id:
            raise TroveFault(403, f"The token is not scoped to project {project_id}.")
        return Caller(resolved.tenant_id, project, f"{str(request.base_url).rstrip('/')}/v1.0/{project_id}")

    return caller


def _accepted() -> Response:
    return Response(status_code=202)


def _ok(body: Mapping[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(dict(body), status_code=status)


# --- handlers ------------------------------------------------------------------------------------
class TroveHandlers:
    def __init__(self, container: Container) -> None:
        self.c = container

    def find(self, caller: Caller, identifier: str) -> Instance:
        page = self.c.listing.describe(caller.tenant_id, InstanceQuery(region=caller.region, ids=(identifier,),
                                                                         limit=1))
        if not page.items:
            raise InstanceNotFound(identifier)
        return page.items[0]

    def every(self, caller: Caller) -> list[Instance]:
        found: list[Instance] = []
        while True:
            page = self.c.listing.describe(caller.tenant_id, InstanceQuery(region=caller.region,
                                                                             offset=len(found), limit=PAGE))
            found += page.items
            if not page.items or len(found) >= page.total:
                return found

    # catalogue
    def datastores(self, caller: Caller) -> JSONResponse:
        return _ok(present.datastores(self.c.catalogue.versions, caller.base))

    def datastore(self, caller: Caller, name: str) -> JSONResponse:
        self._datastore(name)
        return _ok({"datastore": present.datastore(self.c.catalogue.versions, caller.base)})

    def versions(self, caller: Caller, name: str) -> JSONResponse:
        self._datastore(name)
        return _ok(present.versions(self.c.catalogue.versions, caller.base))

    def version(self, caller: Caller, name: str, version: str) -> JSONResponse:
        self._datastore(name)
        return _ok({"version": present.version(self.c.catalogue.version(version), caller.base)})

    @staticmethod
    def _datastore(name: str) -> None:
        if name.lower() not in (present.DATASTORE, present.DATASTORE_ID):
            raise TroveFault(404, f"Datastore '{name}' cannot be found.")

    def flavors(self, caller: Caller) -> JSONResponse:
        return _ok(present.flavors(self.c.catalogue.specs, caller.base))

    def flavor(self, caller: Caller, flavor_id: str) -> JSONResponse:
        try:
            spec = self.c.catalogue.spec(flavor_id)
        except OpenRDSError:
            raise TroveFault(404, f"Flavor {flavor_id} could not be found.") from None
        return _ok({"flavor": present.flavor(spec, caller.base)})

    # instances
    def list_instances(self, caller: Caller) -> JSONResponse:
        return _ok(present.instances(self.every(caller), self.c.catalogue, caller.base))

    def show_instance(self, caller: Caller, instance_id: str) -> JSONResponse:
        found = self.find(caller, instance_id)
        replicas = [r.id for r in self.c.instances.replicas(caller.tenant_id, found.id)]
        return _ok(present.instance(found, self.c.catalogue, caller.base, replicas))

    def create_instance(self, caller: Caller, body: dict[str, Any]) -> JSONResponse:
        req = parse(schemas.CreateRequest, body).instance
        if req.replica_of:
            master = self.find(caller, req.replica_of)
            created = self.c.instances.create_readonly(caller.tenant_id,
                                                       req.to_replicas(caller.project, master, self.c.catalogue))
        else:
            created = self.c.instances.create_primaries(caller.tenant_id,
                                                        req.to_primary(caller.project, self.c.catalogue))
        # Trove answers one instance even for several replicas (python-troveclient reads one).
        return _ok(present.instance(created.instances[0], self.c.catalogue, caller.base), 200)

    def update_instance(self, caller: Caller, instance_id: str, body: dict[str, Any]) -> Response:
        req = parse(schemas.UpdateRequest, body).instance
        detach = req.detaches()
        if req.name is not None:
            rules.check_name(req.name)  # before anything changes: a bad name must not leave a half-done update
        target = self.find(caller, instance_id)
        if detach:
            self.c.instances.promote(caller.tenant_id, target.id)
        if req.name is not None:
            self.c.instances.rename(caller.tenant_id, target.id, req.name)
        return _accepted()

    def delete_instance(self, caller: Caller, instance_id: str) -> Response:
        target = self.find(caller, instance_id)
        self.c.instances.delete_now(caller.tenant_id, target.id)
        return _accepted()

    def instance_action(self, caller: Caller, instance_id: str, body: dict[str, Any]) -> Response:
        if len(body) != 1 or next(iter(body)) not in ACTIONS:
            raise errors.bad_request(f"Invalid instance action: one of {', '.join(ACTIONS)} is expected.")
        [action] = body
        target = self.find(caller, instance_id)
        if action in REFUSED_ACTIONS:
            raise errors.not_supported(action, REFUSED_ACTIONS[action])
        self.c.instances.restart(caller.tenant_id, target.id)
        return _accepted()


def build(container: Container) -> APIRouter:
    """Every Trove path over one container, under ``/v1.0``."""
    h = TroveHandlers(container)
    CallerDep = Annotated[Caller, Depends(caller_dependency(container.identity))]
    Body = Annotated[dict[str, Any], Depends(json_object)]
    r = APIRouter(route_class=TroveRoute)

    @r.get("/{project_id}/datastores")
    def list_datastores(caller: CallerDep) -> JSONResponse:
        return h.datastores(caller)

    @r.get("/{project_id}/datastores/{name}")
    def show_datastore(caller: CallerDep, name: str) -> JSONResponse:
        return h.datastore(caller, name)

    @r.get("/{project_id}/datastores/{name}/versions")
    def list_datastore_versions(caller: CallerDep, name: str) -> JSONResponse:
        return h.versions(caller, name)

    @r.get("/{project_id}/datastores/{name}/versions/{version}")
    def show_datastore_version(caller: CallerDep, name: str, version: str) -> JSONResponse:
        return h.version(caller, name, version)

    @r.get("/{project_id}/flavors")
    def list_flavors(caller: CallerDep) -> JSONResponse:
        return h.flavors(caller)

    @r.get("/{project_id}/flavors/{flavor_id}")
    def show_flavor(caller: CallerDep, flavor_id: str) -> JSONResponse:
        return h.flavor(caller, flavor_id)

    @r.get("/{project_id}/instances")
    def list_instances(caller: CallerDep) -> JSONResponse:
        return h.list_instances(caller)

    @r.get("/{project_id}/instances/detail")
    def list_instances_detail(caller: CallerDep) -> JSONResponse:
        return h.list_instances(caller)

    @r.post("/{project_id}/instances")
    def create_instance(caller: CallerDep, body: Body) -> JSONResponse:
        return h.create_instance(caller, body)

    @r.get("/{project_id}/instances/{instance_id}")
    def show_instance(caller: CallerDep, instance_id: str) -> JSONResponse:
        return h.show_instance(caller, instance_id)

    @r.put("/{project_id}/instances/{instance_id}")
    def update_instance(caller: CallerDep, instance_id: str, body: Body) -> Response:
        return h.update_instance(caller, instance_id, body)

    @r.patch("/{project_id}/instances/{instance_id}")
    def patch_instance(caller: CallerDep, instance_id: str, body: Body) -> Response:
        return h.update_instance(caller, instance_id, body)

    @r.delete("/{project_id}/instances/{instance_id}")
    def delete_instance(caller: CallerDep, instance_id: str) -> Response:
        return h.delete_instance(caller, instance_id)

    @r.post("/{project_id}/instances/{instance_id}/action")
    def instance_action(caller: CallerDep, instance_id: str, body: Body) -> Response:
        return h.instance_action(caller, instance_id, body)

    router = APIRouter()
    router.include_router(r, prefix="/v1.0")
    return router
