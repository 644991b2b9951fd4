"""The `engine.access.AccessDriver` half of the kubernetes driver: refused, operation by operation.

CloudNativePG renders ``pg_hba.conf`` itself (its fixed lines, then ``spec.postgresql.pg_hba``, then its
own catch-all), and clients reach a Cluster through a Service whose source addresses a pod sees only
when the network keeps them (``externalTrafficPolicy: Local``, no SNAT) - which OpenRDS cannot know. Until
admission is enforced where the addresses are known (a NetworkPolicy, or pg_hba with a known network),
binding a security group to an instance on this driver fails with this reason instead of pretending.
"""

from __future__ import annotations

from collections.abc import Callable

from openrds.domain.security_groups import Admission
from openrds.engine.access import AccessUnsupported

WHY = (
    "security groups are not enforced by the kubernetes driver: CloudNativePG owns pg_hba.conf and a pod "
    "does not see its clients' addresses through a Service; use a NetworkPolicy on the Cluster's pods"
)


class KubernetesAccess:
    """Every method checks that the Cluster exists (``existing``), then refuses."""

    def __init__(self, existing: Callable[[str], object]) -> None:
        self._existing = existing

    def access_support(self) -> str:
        return WHY

    def apply_admission(self, instance_id: str, admission: Admission, *, via_endpoint: bool = False) -> int:
        self._existing(instance_id)
        if admission.open:
            return 0  # what every Cluster already admits: nothing to enforce
        raise AccessUnsupported(WHY)

    def admission(self, instance_id: str) -> Admission:
        self._existing(instance_id)
        return Admission()  # CloudNativePG's own rules: every address, with a password

    def apply_endpoint_admission(self, endpoint_id: str, admission: Admission) -> int:
        raise AccessUnsupported(WHY)
