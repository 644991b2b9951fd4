"""Finished flows: what a change made at once (no job to wait for) records, so that every API can hand
back a task id its clients follow like any other.

Tencent's group actions answer a ``FlowId``/``TaskId`` that ``DescribeTasks`` shows; the read-only
group changes here are applied while the call runs (the endpoint's runtime API), so the flow is a job
row that is born finished: ``succeeded``, one step, started and ended now. No runner ever takes it
(only unfinished jobs are leased), so its kind needs no steps of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from openrds.domain.ids import new_job_id
from openrds.domain.model import Job
from openrds.domain.states import JobState
from openrds.persistence.uow import UnitOfWork

#: The kinds of finished flows (stored in ``jobs.kind`` like the JobKinds; never renamed).
CREATE_GROUP = "create_read_only_group"
ADD_TO_GROUP = "add_to_read_only_group"
REMOVE_FROM_GROUP = "remove_from_read_only_group"
MOVE_TO_GROUP = "move_to_read_only_group"
DELETE_GROUP = "delete_read_only_group"
#: The one step of each (what the APIs show as the flow's steps).
FLOW_STEPS: dict[str, str] = {
    CREATE_GROUP: "start the group's endpoint",
    ADD_TO_GROUP: "add the instance to the group's endpoint",
    REMOVE_FROM_GROUP: "remove the instance from the group's endpoint",
    MOVE_TO_GROUP: "move the instance to the other group's endpoint",
    DELETE_GROUP: "stop the group's endpoint",
}


def record_done(uow: UnitOfWork, *, kind: str, tenant_id: str, instance_ids: Sequence[str],
                params: dict[str, str], now: datetime) -> Job:
    """Record, in the caller's transaction, a flow of ``kind`` that has already succeeded; the job row
    (its id is the task number the APIs derive)."""
    job = Job(id=new_job_id(), tenant_id=tenant_id, kind=kind, params=dict(params), state=JobState.SUCCEEDED,
              step=1, steps_total=1, attempts=1, error="", created_at=now, updated_at=now,
              started_at=now, ended_at=now, instance_ids=tuple(instance_ids))
    uow.jobs.add(job)
    return job
