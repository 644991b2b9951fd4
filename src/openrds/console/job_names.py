"""What the console calls a job: every job kind and every finished flow (``services.flows``) by a name
an operator reads at a glance, instead of the kind stored in the job row."""

from __future__ import annotations

from collections.abc import Mapping

from openrds.domain.states import JobKind
from openrds.services import flows

JOB_NAMES: Mapping[str, str] = {
    JobKind.CREATE_PRIMARIES: "Create instances",
    JobKind.CREATE_REPLICAS: "Create read-only instances",
    JobKind.RESTART: "Restart",
    JobKind.ISOLATE: "Isolate",
    JobKind.DISISOLATE: "Bring back from isolation",
    JobKind.DESTROY: "Destroy",
    JobKind.PROMOTE: "Promote to primary",
    JobKind.RESIZE: "Change spec and storage",
    JobKind.MODIFY_PARAMETERS: "Change parameters",
    JobKind.BACKUP: "Back up",
    JobKind.DELETE_BACKUP: "Delete a backup",
    JobKind.DELETE_STANZA: "Delete a destroyed instance's backups",
    JobKind.CLONE: "Clone from backups",
    JobKind.APPLY_ADMISSION: "Apply security groups",
    flows.CREATE_GROUP: "Create read-only group",
    flows.ADD_TO_GROUP: "Add to read-only group",
    flows.REMOVE_FROM_GROUP: "Remove from read-only group",
    flows.MOVE_TO_GROUP: "Move to another read-only group",
    flows.DELETE_GROUP: "Delete read-only group",
}


def job_name(kind: str) -> str:
    """The console's name of a job kind; a kind it does not know yet (another part's new job) as its
    words (``apply_admission`` -> ``Apply admission``)."""
    return JOB_NAMES.get(kind) or kind.replace("_", " ").capitalize()
