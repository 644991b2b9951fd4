"""IAM as Huawei (Keystone v3) speaks it, and the token check in front of every RDS call.

- ``GET /v3``: Keystone's version document (keystoneauth1's generic password plugin, the
  ``openstack`` CLI and openstacksdk ask for it before the token).
- ``POST /v3/auth/tokens``: password method (user name, password, domain name), or token method
  (re-scope a token); scoped to a project by id or by name, to a domain, or unscoped. Answers 201 with
  the token in ``X-Subject-Token``. Passwords are checked under the sign-in throttle the console shares
  (``openrds.services.signin``): a locked user or address gets 429. A re-scoped token expires when the
  token it was made from does. The body is read up to 1 MiB (413 past it).
- ``GET /v3/auth/projects`` and ``GET /v3/projects[?name=]``: the caller's projects (any valid token).
- ``GET /v3/regions[/{id}]``: the catalogue's regions (any valid token).
- :func:`caller_dependency`: ``X-Auth-Token`` on every RDS call. Missing, unknown or expired -> 401;
  a token not scoped to the path's project -> 403.

Projects are named after regions: a project *is* a region of the tenant's, so an RDS call sees the
tenant's instances of that region only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from openrds.api.huawei import errors
from openrds.api.huawei import presenters as present
from openrds.api.huawei.schemas import Identity, Scope, TokenRequest
from openrds.api.huawei.wire import KeystoneError, KeystoneRoute, json_object, ok, parse
from openrds.container import Container
from openrds.domain.model import IamUser, Project
from openrds.services.identity import IdentityService, TokenIdentity

AuthToken = Annotated[str | None, Header(alias="X-Auth-Token")]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls an RDS path: the tenant, and the project (so the region) the token is scoped to."""

    tenant_id: str
    user_id: str
    project: Project

    @property
    def region(self) -> str:
        return self.project.region


def caller_dependency(identity: IdentityService) -> Callable[..., Caller]:
    def caller(project_id: str, token: AuthToken = None) -> Caller:
        if not token:
            raise errors.token_missing()
        resolved = identity.resolve_token(token)  # AuthenticationFailed: unknown or expired
        project = identity.project(project_id) if resolved.project_id == project_id else None
        if project is None or project.tenant_id != resolved.tenant_id:
            raise errors.wrong_project(project_id)
        return Caller(resolved.tenant_id, resolved.user_id, project)

    return caller


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class Keystone:
    """The IAM handlers, bound to one identity service and catalogue."""

    def __init__(self, container: Container) -> None:
        self.identity = container.identity
        self.signin = container.signin
        self.catalogue = container.catalogue

    def resolve(self, token: str | None) -> tuple[TokenIdentity, IamUser]:
        if not token:
            raise KeystoneError(401, "The request you have made requires authentication: X-Auth-Token is missing")
        resolved = self.identity.resolve_token(token)
        for user in self.identity.iam_users(resolved.tenant_id):
            if user.id == resolved.user_id:
                return resolved, user
        raise KeystoneError(401, "The request you have made requires authentication: the user no longer exists")

    async def authenticate(self, identity: Identity, address: str) -> tuple[IamUser, datetime | None]:
        """The user, and the expiry the new token may not outlive (the source token's, for the token method)."""
        if "password" in identity.methods and identity.password is not None:
            user = identity.password.user
            if not user.domain.name:
                raise KeystoneError(400, "auth.identity.password.user.domain.name is required")
            return await self.signin.authenticate(user.domain.name, user.name, user.password, address), None
        if "token" in identity.methods and identity.token is not None:
            resolved, found = await run_in_threadpool(self.resolve, identity.token.id)
            return found, resolved.expires_at
        raise KeystoneError(400, "auth.identity must use the password method (or the token method)")

    async def issue(self, request: Request, body: dict[str, Any]) -> JSONResponse:
        req = parse(TokenRequest, body)
        scope = req.auth.scope or Scope()
        project = scope.project
        if project is not None and not (project.id or project.name):
            raise KeystoneError(400, "auth.scope.project needs an id or a name")
        user, not_after = await self.authenticate(req.auth.identity, request.client.host if request.client else "-")
        grant = await run_in_threadpool(self.identity.issue_token, user,
                                        (project.id or project.name) if project else None,
                                        by_name=project is not None and not project.id, not_after=not_after)
        answer = present.token(grant, req.auth.identity.methods, _base_url(request),
                               domain_scoped=scope.domain is not None)
        return ok(answer, 201, {"X-Subject-Token": grant.token})

    def projects(self, request: Request, token: str | None, name: str | None = None) -> JSONResponse:
        resolved, user = self.resolve(token)
        found = [p for p in self.identity.projects(resolved.tenant_id) if name is None or p.name == name]
        return ok(present.projects(found, user.domain, _base_url(request), request.url.path))

    def regions(self, request: Request, token: str | None, region_id: str | None = None) -> JSONResponse:
        self.resolve(token)
        regions = [r for r in self.catalogue.regions if region_id in (None, r.name)]
        if not regions:
            raise KeystoneError(404, f"Could not find region: {region_id}.")
        body = present.regions(regions, _base_url(request))
        return ok({"region": body["regions"][0]} if region_id else body)


def build(container: Container) -> APIRouter:
    keystone = Keystone(container)
    router = APIRouter(route_class=KeystoneRoute)

    @router.get("/v3")
    @router.get("/v3/")
    def identity_version(request: Request) -> JSONResponse:
        return ok(present.identity_version(_base_url(request)))

    @router.post("/v3/auth/tokens")
    async def issue_token(request: Request, body: Annotated[dict[str, Any], Depends(json_object)]) -> JSONResponse:
        return await keystone.issue(request, body)

    @router.get("/v3/auth/projects")
    def auth_projects(request: Request, token: AuthToken = None) -> JSONResponse:
        return keystone.projects(request, token)

    @router.get("/v3/projects")
    def projects(request: Request, token: AuthToken = None, name: str | None = None) -> JSONResponse:
        return keystone.projects(request, token, name)

    @router.get("/v3/regions")
    def regions(request: Request, token: AuthToken = None) -> JSONResponse:
        return keystone.regions(request, token)

    @router.get("/v3/regions/{region_id}")
    def region(request: Request, region_id: str, token: AuthToken = None) -> JSONResponse:
        return keystone.regions(request, token, region_id)

    return router
