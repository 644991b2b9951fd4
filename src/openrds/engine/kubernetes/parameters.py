"""The `engine.parameters.ParameterDriver` half of the kubernetes driver: refused, operation by operation.

CloudNativePG owns ``postgresql.conf`` (``spec.postgresql.parameters``, where the spec-derived values of
`engine.kubernetes.resize` live too) and logs to the pods' stdout, which no SQL session can read. Until
the tenant's values get a layer of their own there, every operation says so instead of pretending.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from openrds.domain.parameters import ServerSetting
from openrds.engine.driver import EngineError
from openrds.engine.parameters import LogRecord, ParametersApplied


class ParametersUnsupported(EngineError):
    """This driver cannot do this parameter or log operation."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(operation, f"not supported by this driver: {reason}")


_WHY = (
    "tenant parameters and server logs of CloudNativePG Clusters are not managed by OpenRDS "
    "(spec.postgresql.parameters holds the service's own values; logs go to the pods' stdout)"
)


class KubernetesParameters:
    """Every method checks that the Cluster exists (``existing``), then refuses."""

    def __init__(self, existing: Callable[[str], object]) -> None:
        self._existing = existing

    def settings(self, instance_id: str) -> Sequence[ServerSetting]:
        self._existing(instance_id)
        raise ParametersUnsupported("read settings", _WHY)

    def default_settings(self, major_version: int) -> Sequence[ServerSetting]:
        raise ParametersUnsupported("read default settings", _WHY)

    def check_parameters(self, instance_id: str, values: Mapping[str, str]) -> dict[str, str]:
        self._existing(instance_id)
        raise ParametersUnsupported("check parameters", _WHY)

    def write_parameters(self, instance_id: str, values: Mapping[str, str]) -> ParametersApplied:
        self._existing(instance_id)
        raise ParametersUnsupported("apply parameters", _WHY)

    def replay_paused(self, instance_id: str) -> bool:
        self._existing(instance_id)
        raise ParametersUnsupported("replay state", _WHY)

    def server_log(
        self, instance_id: str, since: datetime, until: datetime, *, limit: int = 10_000
    ) -> Sequence[LogRecord]:
        self._existing(instance_id)
        raise ParametersUnsupported("read server log", _WHY)
