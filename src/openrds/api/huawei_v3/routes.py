"""The Huawei RDS v3 face: ``/v3/{project_id}/...`` (and ``/rds/v3/{project_id}/...``) as
``huaweicloudsdkrds`` calls it, each handler parse -> call a service -> present.

Who calls: a request signed with SDK-HMAC-SHA256 (:mod:`.signing`) by one of the tenant's API keys -
the AK/SK pairs the Tencent face knows as SecretId/SecretKey - or carrying an IAM token
(``X-Auth-Token``) scoped to the path's project. ``X-Project-Id``, when sent, must equal the path's
project, and the project must be the caller's. A project is one region of the tenant's: instances of
its other regions, and their jobs, do not exist on its paths.

A signature covers the method, path, query, signed headers and body, so it cannot be moved to another
call - but the very same request could be sent again by anyone who captured it while ``X-Sdk-Date`` is
within 15 minutes. Every signed request therefore goes through the replay memory
(:mod:`openrds.api.replay`) with the method and route template as its action and the project as its
region: sent again, a ``GET`` is answered, any other method is refused (``APIGW.0301``, 401, saying the
signature was already used) unless it comes over the first use's connection within the SDK's second.
Token requests are not signed: nothing to remember.

Every answer carries ``X-Request-Id``; every failure is ``{"error_code", "error_msg"}`` in
``X-Language`` (:mod:`.errors`). Keystone's ``/v3/auth/...``, ``/v3/projects`` and ``/v3/regions`` are
the IAM routes of :mod:`openrds.api.huawei.auth`, registered before these: a project id is 32 hex
characters, never ``auth``, ``projects`` or ``regions``.
"""

# No ``from __future__ import annotations``: FastAPI must see the route parameters' ``CallerDep``, a
# local of `build`, as an object, not as a name to look up in this module.
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from openrds.api.face_route import FaceRoute
from openrds.api.huawei import presenters as v1_present
from openrds.api.huawei.auth import Caller
from openrds.api.huawei.errors import language_of
from openrds.api.huawei.schemas import DATASTORE
from openrds.api.huawei.wire import MAX_BODY_BYTES
from openrds.api.huawei_v3 import errors, schemas, signing
from openrds.api.huawei_v3 import presenters as present
from openrds.api.replay import SignatureExpired, SignatureMemory, SignatureReused, SignatureUse, TooManySignatures
from openrds.container import Container
from openrds.domain.errors import AuthenticationFailed, InstanceNotFound, OpenRDSError
from openrds.domain.model import Instance, InstanceQuery
from openrds.domain.states import Role

log = logging.getLogger(__name__)

FACE = "huawei-v3"
PROJECT_ID = re.compile(r"[0-9a-f]{32}")
#: ``list_instances``' largest page (Huawei's documented maximum).
MAX_LIMIT = 100
#: ``list_instances``' ``type``: this host offers single primaries and read replicas, no HA pairs.
TYPES: Mapping[str, tuple[str, ...]] = {"Single": (Role.PRIMARY.value,), "Replica": (Role.READONLY.value,),
                                        "Ha": ()}
M = TypeVar("M", bound=BaseModel)


# --- the wire ------------------------------------------------------------------------------------
async def _read_body(request: Request) -> bytes:
    """The body, refused past :data:`MAX_BODY_BYTES` without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise errors.body_too_large(MAX_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.body_too_large(MAX_BODY_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


def _validation_error(details: list[Any]) -> errors.V3ApiError:
    first = details[0] if details else {"type": "value_error", "loc": (), "msg": "invalid"}
    name = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")) or "body"
    if first.get("type") == "missing":
        return errors.missing_parameter(name)
    return errors.invalid_parameter(name, str(first.get("msg", "invalid")))


def _as_api_error(exc: Exception) -> errors.V3ApiError:
    if isinstance(exc, errors.V3ApiError):
        return exc
    if isinstance(exc, OpenRDSError):
        return errors.from_domain(exc)
    if isinstance(exc, RequestValidationError):
        return _validation_error(list(exc.errors()))
    log.exception("huawei v3 api: unexpected failure", exc_info=exc)
    return errors.internal_error()


class V3Route(FaceRoute):
    """Reads the body (bounded) before the handler, for the signature and the parsers
    (``request.state.body``); answers every failure in v3's body; puts ``X-Request-Id`` on every answer."""

    face = FACE

    async def prepare(self, request: Request) -> None:
        request.state.body = await _read_body(request)

    def failure(self, exc: Exception, request: Request) -> tuple[Response, str]:
        error = _as_api_error(exc)
        headers = {"Connection": "close"} if error.status == 413 else {}
        answer = JSONResponse(dict(error.body(language_of(request.headers.get("X-Language")))),
                              status_code=error.status, headers=headers)
        return answer, error.code

    def finish(self, request: Request, answer: Response) -> Response:
        answer.headers["X-Request-Id"] = uuid.uuid4().hex
        return answer


def body_of(request: Request) -> dict[str, Any]:
    """The body read by :class:`V3Route`, as a JSON object."""
    raw: bytes = request.state.body
    try:
        data = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.malformed_body(str(exc)) from None
    if not isinstance(data, dict):
        raise errors.malformed_body("a JSON object is expected")
    return data


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(list(exc.errors(include_url=False))) from None


def ok(body: Mapping[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(dict(body), status_code=status)


# --- who calls -----------------------------------------------------------------------------------
def replay_memory(container: Container) -> SignatureMemory:
    """A replay memory over the container's clock and the window of ``X-Sdk-Date``."""
    return SignatureMemory(lambda: container.clock.now().timestamp(),
                           window=int(signing.MAX_CLOCK_SKEW.total_seconds()))


def check_replay(signatures: SignatureMemory, use: SignatureUse) -> None:
    """``signatures.check(use)``, its refusals answered as v3 errors."""
    try:
        signatures.check(use)
    except SignatureReused as exc:
        raise errors.signature_reused(exc.en, exc.zh) from None
    except SignatureExpired:
        raise errors.unauthenticated(f"X-Sdk-Date is more than {int(signing.MAX_CLOCK_SKEW.total_seconds()) // 60}"
                                     " minutes away from the server time") from None
    except TooManySignatures as exc:
        raise errors.too_many_signatures(exc.window) from None


def caller_dependency(container: Container, signatures: SignatureMemory) -> Callable[[Request, str], Caller]:
    identity = container.identity
    clock = container.clock

    def secret_for(access_key: str) -> str | None:
        found = identity.find_api_key(access_key)
        return found[1] if found is not None else None

    def caller(request: Request, project_id: str) -> Caller:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not PROJECT_ID.fullmatch(project_id):
            raise errors.project_denied(
                f"the path's project id {project_id[:64]!r} is not a project id (32 hexadecimal characters);"
                " with the Huawei SDK, pass the project id to BasicCredentials",
                f"路径中的项目ID {project_id[:64]!r} 不是项目ID（32位十六进制字符）；"
                "使用华为云SDK时请在BasicCredentials中传入项目ID")
        sent_project = headers.get("x-project-id")
        if sent_project is not None and sent_project != project_id:
            raise errors.project_denied(f"X-Project-Id {sent_project[:64]} is not the path's project {project_id}",
                                        f"X-Project-Id {sent_project[:64]} 与路径中的项目 {project_id} 不一致")
        verified: signing.Verified | None = None
        if signing.is_signed(headers):
            signed = signing.SignedRequest(request.method, request.scope["raw_path"].decode("latin-1"),
                                           request.scope["query_string"].decode("latin-1"), headers,
                                           request.state.body)
            try:
                verified = signing.verify(signed, secret_for, clock.now())
            except signing.SignatureError as exc:
                raise errors.unauthenticated(exc.message) from None
            found = identity.find_api_key(verified.access_key)
            if found is None:  # revoked between the two reads
                raise errors.unauthenticated("the access key was revoked")
            tenant_id, user_id = found[0].tenant_id, verified.access_key
        elif token := headers.get("x-auth-token"):
            try:
                resolved = identity.resolve_token(token)
            except AuthenticationFailed as exc:
                raise errors.unauthenticated(exc.message) from None
            if resolved.project_id != project_id:
                raise errors.project_denied(f"the token is not scoped to project {project_id}",
                                            f"Token的作用域不是项目 {project_id}")
            tenant_id, user_id = resolved.tenant_id, resolved.user_id
        else:
            raise errors.unauthenticated(f"the request is neither signed ({signing.ALGORITHM}) nor carries"
                                         " X-Auth-Token")
        project = identity.project(project_id)
        if project is None or project.tenant_id != tenant_id:
            raise errors.project_denied(f"project {project_id} is not the caller's", f"项目 {project_id} 不属于调用者")
        if verified is not None:
            route: FaceRoute = request.scope["route"]  # the matched route: its path is the template
            client = request.scope.get("client")
            check_replay(signatures, SignatureUse(
                secret_id=verified.access_key, signature=verified.signature,
                timestamp=int(verified.signed_at.timestamp()), tenant_id=tenant_id,
                action=f"{request.method} {route.path}", region=project_id, changes_state=request.method != "GET",
                connection=f"{client[0]}:{client[1]}" if client else None))
        return Caller(tenant_id, user_id, project)

    return caller


# --- handlers ------------------------------------------------------------------------------------
class V3Handlers:
    """The v3 handlers, bound to one container."""

    def __init__(self, container: Container) -> None:
        self.c = container

    def find(self, caller: Caller, identifier: str) -> Instance:
        page = self.c.listing.describe(caller.tenant_id, InstanceQuery(region=caller.region, ids=(identifier,),
                                                                         limit=1))
        if not page.items:
            raise InstanceNotFound(identifier)
        return page.items[0]

    def list_datastores(self, database_name: str) -> JSONResponse:
        schemas.check_datastore(database_name)
        return ok(present.datastores(self.c.catalogue.versions))

    def list_flavors(self, caller: Caller, database_name: str, version_name: str | None,
                     spec_code: str | None) -> JSONResponse:
        schemas.check_datastore(database_name)
        versions = [self.c.catalogue.version(version_name)] if version_name else list(self.c.catalogue.versions)
        specs = [s for s in self.c.catalogue.specs if spec_code in (None, s.code)]
        zones = [z.name for z in self.c.catalogue.region(caller.region).zones]
        return ok(present.flavors(specs, versions, zones))

    def list_instances(self, caller: Caller, *, instance_id: str | None, name: str | None, kind: str | None,
                       datastore_type: str | None, vpc_id: str | None, offset: int, limit: int) -> JSONResponse:
        if kind is not None and kind not in TYPES:
            raise errors.invalid_parameter("type", f"{kind[:64]!r} is not one of {', '.join(TYPES)}")
        other_engine = datastore_type is not None and datastore_type.lower() != DATASTORE.lower()
        if (kind is not None and not TYPES[kind]) or other_engine:
            return ok(present.instances([], 0, self.c.catalogue, {}))  # HA pairs and other engines: none here
        query = InstanceQuery(region=caller.region, ids=(instance_id,) if instance_id else (),
                              name_contains=(name.lstrip("*"),) if name else (), roles=TYPES[kind] if kind else (),
                              vpc_ids=(vpc_id,) if vpc_id else (), offset=offset, limit=limit)
        page = self.c.listing.describe(caller.tenant_id, query)
        replicas: dict[str, list[str]] = {}
        if wanted := sum(page.replica_counts.values()):  # the page's primaries' replicas, in one query
            followers = self.c.listing.describe(caller.tenant_id, InstanceQuery(
                master_ids=tuple(page.replica_counts), limit=wanted))
            for r in followers.items:
                replicas.setdefault(r.master_id or "", []).append(r.id)
        return ok(present.instances(page.items, page.total, self.c.catalogue, replicas))

    def create_instance(self, caller: Caller, body: dict[str, Any]) -> JSONResponse:
        req = parse(schemas.InstanceRequest, body)
        if req.replica_of_id:
            master = self.find(caller, req.replica_of_id)
            created = self.c.instances.create_readonly(caller.tenant_id, req.to_replica(caller.project, master))
        else:
            created = self.c.instances.create_primaries(caller.tenant_id, req.to_primary(caller.project))
        if not created.instances:  # dry_run: every check passed, nothing recorded
            return ok({}, 202)
        job = created.job.id if created.job else ""
        return ok(present.created(created.instances[0], job, created.bill_id), 202)

    def delete_instance(self, caller: Caller, instance_id: str) -> JSONResponse:
        target = self.find(caller, instance_id)
        jobs = self.c.instances.delete_now(caller.tenant_id, target.id)
        return ok(present.job_id(jobs[0].id), 202)  # the instance's own job (its replicas' follow)

    def restart(self, caller: Caller, instance_id: str, body: dict[str, Any]) -> JSONResponse:
        schemas.action_of(body)
        target = self.find(caller, instance_id)
        return ok(present.job_id(self.c.instances.restart(caller.tenant_id, target.id).id), 202)

    def list_job_info(self, caller: Caller, job_id: str | None) -> JSONResponse:
        if not job_id:
            raise errors.missing_parameter("id")
        return ok(v1_present.job(self.c.jobs.get(caller.tenant_id, job_id, region=caller.region)))

    def replication_status(self, caller: Caller, instance_id: str) -> JSONResponse:
        """A read replica: whether it streams from its primary; a primary: whether every replica does."""
        target = self.find(caller, instance_id)
        followers = ([target] if target.master_id
                     else self.c.instances.replicas(caller.tenant_id, target.id))
        snapshot = self.c.monitor.snapshot()
        problems = []
        for replica in followers:
            link = snapshot.link(replica.code)
            if link is None or not link.streaming:
                state = link.state if link is not None else "not seen by the monitor yet"
                problems.append(f"{replica.id} does not stream from its primary ({state})")
        return ok(present.replication_status(problems))


def build(container: Container) -> APIRouter:
    """The v3 paths over one container, under ``/v3`` and ``/rds/v3``."""
    h = V3Handlers(container)
    CallerDep = Annotated[Caller, Depends(caller_dependency(container, replay_memory(container)))]
    v3 = APIRouter(route_class=V3Route)

    @v3.get("/{project_id}/datastores/{database_name}")
    def list_datastores(_caller: CallerDep, database_name: str) -> JSONResponse:
        return h.list_datastores(database_name)

    @v3.get("/{project_id}/flavors/{database_name}")
    def list_flavors(caller: CallerDep, database_name: str, version_name: str | None = None,
                     spec_code: str | None = None) -> JSONResponse:
        return h.list_flavors(caller, database_name, version_name, spec_code)

    @v3.get("/{project_id}/instances")
    def list_instances(caller: CallerDep, instance_id: Annotated[str | None, Query(alias="id")] = None,
                       name: str | None = None, kind: Annotated[str | None, Query(alias="type")] = None,
                       datastore_type: str | None = None, vpc_id: str | None = None,
                       offset: Annotated[int, Query(ge=0)] = 0,
                       limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT) -> JSONResponse:
        return h.list_instances(caller, instance_id=instance_id, name=name, kind=kind, datastore_type=datastore_type,
                                vpc_id=vpc_id, offset=offset, limit=limit)

    @v3.post("/{project_id}/instances")
    def create_instance(caller: CallerDep, request: Request) -> JSONResponse:
        return h.create_instance(caller, body_of(request))

    @v3.delete("/{project_id}/instances/{instance_id}")
    def delete_instance(caller: CallerDep, instance_id: str) -> JSONResponse:
        return h.delete_instance(caller, instance_id)

    @v3.post("/{project_id}/instances/{instance_id}/action")
    def start_instance_restart_action(caller: CallerDep, instance_id: str, request: Request) -> JSONResponse:
        return h.restart(caller, instance_id, body_of(request))

    @v3.get("/{project_id}/instances/{instance_id}/replication/status")
    def show_replication_status(caller: CallerDep, instance_id: str) -> JSONResponse:
        return h.replication_status(caller, instance_id)

    @v3.get("/{project_id}/jobs")
    def list_job_info(caller: CallerDep, job_id: Annotated[str | None, Query(alias="id")] = None) -> JSONResponse:
        return h.list_job_info(caller, job_id)

    router = APIRouter()
    for prefix in ("/v3", "/rds/v3"):
        router.include_router(v3, prefix=prefix)
    return router
