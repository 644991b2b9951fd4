"""Describing jobs to their tenant (Tencent tasks, Huawei jobs): read-only use cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from openrds.domain.errors import JobNotFound
from openrds.domain.model import Job
from openrds.jobs.kinds import KINDS
from openrds.persistence.uow import Store, UnitOfWork
from openrds.services.flows import FLOW_STEPS


@dataclass(frozen=True, slots=True)
class JobView:
    job: Job
    instance_codes: dict[str, str]  # internal id -> code of the instances the job works on
    instance_names: dict[str, str]


class JobService:
    def __init__(self, store: Store) -> None:
        self._store = store

    def list(self, tenant_id: str, *, id_prefix: str | None = None, instance: str | None = None,
             limit: int | None = None) -> list[JobView]:
        """The tenant's jobs, newest first; by id prefix (Tencent task numbers) and/or instance id or code;
        the newest ``limit`` only when given (the console's live list)."""
        with self._store.read() as uow:
            instance_id = None
            if instance is not None:
                found = uow.instances(tenant_id).find(instance)
                if found is None:
                    return []
                instance_id = found.id
            jobs = uow.jobs.of_tenant(tenant_id, instance_id=instance_id)
            if id_prefix is not None:
                jobs = [j for j in jobs if j.id.startswith(id_prefix)]
            if limit is not None:
                jobs = jobs[:limit]
            return [self._view(uow, tenant_id, j)[0] for j in jobs]

    def page(self, tenant_id: str, *, id_prefix: str | None = None, instance: str | None = None,
             started_from: datetime | None = None, started_to: datetime | None = None, oldest_first: bool = False,
             offset: int = 0, limit: int = 20) -> tuple[int, Sequence[JobView]]:
        """(how many of the tenant's jobs match, the views of one page of them): :meth:`list`'s narrowing,
        plus a start (the creation while not started) within ``started_from``..``started_to``; newest
        first unless ``oldest_first``. Only the page's jobs are read whole: one query for the matching
        ids, one for the page, one for its instances' labels."""
        with self._store.read() as uow:
            instance_id = None
            if instance is not None:
                found = uow.instances(tenant_id).find(instance)
                if found is None:
                    return 0, []
                instance_id = found.id
            ids = uow.jobs.ids_of_tenant(tenant_id, id_prefix=id_prefix, instance_id=instance_id,
                                         started_from=started_from, started_to=started_to)
            if oldest_first:
                ids.reverse()
            jobs = uow.jobs.by_ids(ids[offset : offset + limit])
            labels = uow.instances(tenant_id).labels(sorted({i for job in jobs for i in job.instance_ids}))
        return len(ids), [JobView(job, {i: labels[i][0] for i in job.instance_ids if i in labels},
                                  {i: labels[i][1] for i in job.instance_ids if i in labels}) for job in jobs]

    def get(self, tenant_id: str, job_id: str, *, region: str | None = None) -> JobView:
        """The job; with ``region``, a job about instances of other regions only is not found (a
        Huawei project is one region: another project's jobs do not exist on its paths)."""
        with self._store.read() as uow:
            jobs = uow.jobs.of_tenant(tenant_id, job_id=job_id)
            if not jobs:
                raise JobNotFound(job_id)
            view, regions = self._view(uow, tenant_id, jobs[0])
        if region is not None and regions and region not in regions:
            raise JobNotFound(job_id)
        return view

    @staticmethod
    def steps(kind: str) -> tuple[str, ...]:
        """The names of a job kind's steps in order (a finished flow's one step); () for a kind this
        service does not know (a row written by a newer version)."""
        definition = KINDS.get(kind)
        if definition is not None:
            return tuple(step.name for step in definition.steps)
        return (FLOW_STEPS[kind],) if kind in FLOW_STEPS else ()

    @staticmethod
    def _view(uow: UnitOfWork, tenant_id: str, job: Job) -> tuple[JobView, set[str]]:
        labels = uow.instances(tenant_id).labels(list(job.instance_ids))
        view = JobView(job, {i: code for i, (code, _, _) in labels.items()},
                       {i: name for i, (_, name, _) in labels.items()})
        return view, {region for _, _, region in labels.values()}
