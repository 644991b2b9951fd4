"""What a job kind is made of (the service's own kinds are named by ``domain.states.JobKind``).
Steps are idempotent ("make actual match desired"), so re-running the step that was under way
when the service died converges instead of doing things twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openrds.domain.model import Job


class TransientError(Exception):
    """The step may succeed if retried later (the runner backs off and retries)."""


@dataclass(slots=True)
class JobContext:
    """What a step sees: its job (with params), the environment the runner was built with, and a way to
    keep results for later steps (persisted with the next checkpoint)."""

    job: Job
    env: Any
    updates: dict[str, Any]

    @property
    def params(self) -> Mapping[str, Any]:
        return {**self.job.params, **self.updates}

    def remember(self, **values: Any) -> None:
        self.updates.update(values)


StepFn = Callable[[JobContext], None]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    do: StepFn
    undo: StepFn | None = None


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """The steps of one job kind, in order."""

    name: str
    steps: Sequence[Step]
    # Called once when the job has failed for good and its steps are undone (e.g. mark instances failed).
    on_failure: Callable[[JobContext, str], None] | None = None


#: The kinds a runner knows, by name.
JobKinds = Mapping[str, JobDefinition]
