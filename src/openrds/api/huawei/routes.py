"""The Huawei RDS v1 face: IAM tokens (see ``auth``) and the RDS paths, each parse -> call a
service -> present.

Every RDS path is served under ``/v1/{project_id}`` and ``/rds/v1/{project_id}``; the job query under
``/v3/{project_id}`` is the v3 face's (``openrds.api.huawei_v3``), which takes these tokens too.
A project is one region of the tenant's:
instances of the tenant's other regions, and their jobs, do not exist on its paths.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from openrds.api.huawei import actions, auth, errors, schemas
from openrds.api.huawei import presenters as present
from openrds.api.huawei.auth import Caller
from openrds.api.huawei.backups import BackupHandlers
from openrds.api.huawei.backups import add_routes as add_backup_routes
from openrds.api.huawei.parameters import ParameterHandlers
from openrds.api.huawei.parameters import add_routes as add_parameter_routes
from openrds.api.huawei.wire import RdsRoute, json_object, ok, parse
from openrds.container import Container
from openrds.domain.errors import InstanceNotFound
from openrds.domain.model import Instance, InstanceQuery
from openrds.services.instances import Created

PAGE = 100
Body = Annotated[dict[str, Any], Depends(json_object)]
DbId = Annotated[str | None, Query(alias="dbId")]
JobId = Annotated[str | None, Query(alias="id")]


class RdsHandlers:
    """The RDS handlers, bound to one container."""

    def __init__(self, container: Container) -> None:
        self.c = container
        self.backups = BackupHandlers(container, self.find, self.every)  # policy, manual backups, restorePoint
        self.parameters = ParameterHandlers(container, self.find)  # a version's parameters, an instance's values

    # --- lookups within the caller's project (region) ---------------------------------------
    def find(self, caller: Caller, identifier: str) -> Instance:
        query = InstanceQuery(region=caller.region, ids=(identifier,), limit=1)
        page = self.c.listing.describe(caller.tenant_id, query)
        if not page.items:
            raise InstanceNotFound(identifier)
        return page.items[0]

    def every(self, caller: Caller) -> list[Instance]:
        found: list[Instance] = []
        while True:
            query = InstanceQuery(region=caller.region, offset=len(found), limit=PAGE)
            page = self.c.listing.describe(caller.tenant_id, query)
            found += page.items
            if not page.items or len(found) >= page.total:
                return found

    def _accepted(self, caller: Caller, instance_id: str, job_ids: list[str]) -> JSONResponse:
        current = self.c.instances.get(caller.tenant_id, instance_id)
        return ok(present.accepted(current, self.c.catalogue, job_ids), 202)

    # --- catalogue -------------------------------------------------------------------------
    def datastore_versions(self, datastore_name: str) -> JSONResponse:
        schemas.check_datastore(datastore_name)
        return ok(present.datastore_versions(self.c.catalogue.versions))

    def flavors(self, db_id: str | None, region: str | None) -> JSONResponse:
        if db_id:
            self.c.catalogue.version(db_id)
        if region:
            self.c.catalogue.region(region)
        return ok(present.flavors(s for s in self.c.catalogue.specs if present.is_huawei_flavor(s)))

    # --- instances -------------------------------------------------------------------------
    def list_instances(self, caller: Caller) -> JSONResponse:
        return ok(present.instances(self.every(caller), self.c.catalogue))

    def show_instance(self, caller: Caller, instance_id: str) -> JSONResponse:
        found = self.backups.with_plan(caller, self.find(caller, instance_id))
        replicas = [r.id for r in self.c.instances.replicas(caller.tenant_id, found.id)]
        return ok(present.instance(found, self.c.catalogue, replicas))

    def create_instance(self, caller: Caller, body: dict[str, Any]) -> JSONResponse:
        req = parse(schemas.CreateInstanceRequest, body).instance
        if req.restore_point is not None:
            return self.backups.restore(caller, req)
        created: Created
        if req.replica_of:
            master = self.find(caller, req.replica_of)
            created = self.c.instances.create_readonly(caller.tenant_id, req.to_replica(caller.project, master))
        else:
            created = self.c.instances.create_primaries(caller.tenant_id, req.to_primary(caller.project))
            self.backups.apply_strategy(caller, created.instances[0], req)
        job_ids = [created.job.id] if created.job else []
        return ok(present.accepted(created.instances[0], self.c.catalogue, job_ids), 202)

    def delete_instance(self, caller: Caller, instance_id: str) -> JSONResponse:
        target = self.find(caller, instance_id)
        jobs = self.c.instances.delete_now(caller.tenant_id, target.id)
        return self._accepted(caller, target.id, [j.id for j in jobs])

    def instance_action(self, caller: Caller, instance_id: str, body: dict[str, Any]) -> JSONResponse:
        name = actions.action_of(body)  # restart or resize (api.huawei.actions)
        target = self.find(caller, instance_id)
        if name == "resize":
            return ok(actions.resize(self.c, caller.tenant_id, target, body["resize"]), 202)
        job = self.c.instances.restart(caller.tenant_id, target.id)
        return self._accepted(caller, target.id, [job.id])

    # --- jobs ------------------------------------------------------------------------------
    def show_job(self, caller: Caller, job_id: str | None) -> JSONResponse:
        if not job_id:
            raise errors.missing_parameter("id")
        return ok(present.job(self.c.jobs.get(caller.tenant_id, job_id, region=caller.region)))


def build(container: Container) -> APIRouter:
    """Every Huawei path over one container."""
    h = RdsHandlers(container)
    CallerDep = Annotated[Caller, Depends(auth.caller_dependency(container.identity))]
    v1 = APIRouter(route_class=RdsRoute)

    @v1.get("/{project_id}/datastores/{datastore_name}/versions")
    def datastore_versions(_caller: CallerDep, datastore_name: str) -> JSONResponse:
        return h.datastore_versions(datastore_name)

    @v1.get("/{project_id}/flavors")
    def flavors(_caller: CallerDep, db_id: DbId = None, region: str | None = None) -> JSONResponse:
        return h.flavors(db_id, region)

    @v1.get("/{project_id}/instances")
    def list_instances(caller: CallerDep) -> JSONResponse:
        return h.list_instances(caller)

    @v1.post("/{project_id}/instances")
    def create_instance(caller: CallerDep, body: Body) -> JSONResponse:
        return h.create_instance(caller, body)

    @v1.get("/{project_id}/instances/{instance_id}")
    def show_instance(caller: CallerDep, instance_id: str) -> JSONResponse:
        return h.show_instance(caller, instance_id)

    @v1.delete("/{project_id}/instances/{instance_id}")
    def delete_instance(caller: CallerDep, instance_id: str) -> JSONResponse:
        return h.delete_instance(caller, instance_id)

    @v1.post("/{project_id}/instances/{instance_id}/action")
    def instance_action(caller: CallerDep, instance_id: str, body: Body) -> JSONResponse:
        return h.instance_action(caller, instance_id, body)

    @v1.get("/{project_id}/jobs")
    def show_job_v1(caller: CallerDep, job_id: JobId = None) -> JSONResponse:
        return h.show_job(caller, job_id)

    add_backup_routes(v1, h.backups, auth.caller_dependency(container.identity))
    add_parameter_routes(v1, h.parameters, auth.caller_dependency(container.identity))

    router = APIRouter()
    router.include_router(auth.build(container))
    for prefix in ("/v1", "/rds/v1"):
        router.include_router(v1, prefix=prefix)
    return router
