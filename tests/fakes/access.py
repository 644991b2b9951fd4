"""The admission part of `tests.fakes.driver.FakeDriver` (`openrds.engine.access.AccessDriver`), in memory.

A server or endpoint keeps the admission last applied (open until then), as the local driver keeps it
with the server. Sessions are what a test opens (`FakeAccess.open_client_sessions`, by client address);
applying an admission ends those of addresses it refuses and says how many, as the real driver does.

Steering: `open_client_sessions`, `client_sessions`, `admission_of_endpoint`, `via_endpoint`,
``access_refusal`` (what `access_support` says; set it to play a driver that cannot).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from openrds.domain.security_groups import Admission
from openrds.engine.access import AccessUnsupported

if TYPE_CHECKING:
    from tests.fakes.driver import _Endpoint, _Server


class FakeAccess:
    """Mixed into FakeDriver: uses its ``_lock``, ``_server``, ``_endpoint`` and ``_call``."""

    _lock: threading.RLock
    access_refusal: str
    _admissions: dict[str, tuple[Admission, bool]]
    _endpoint_admissions: dict[str, Admission]
    _client_sessions: dict[str, list[str]]

    if TYPE_CHECKING:
        def _server(self, instance_id: str) -> _Server: ...
        def _endpoint(self, endpoint_id: str) -> _Endpoint: ...
        def _call(self, method: str, subject: str) -> None: ...

    def _init_access(self) -> None:
        self.access_refusal = ""
        self._admissions = {}
        self._endpoint_admissions = {}
        self._client_sessions = {}  # server or endpoint id -> client address of each open session

    # ------------------------------------------------------------------ steering

    def open_client_sessions(self, subject_id: str, *addresses: str) -> None:
        """Sessions from ``addresses`` on a server or through an endpoint (no admission check: they are
        the ones already open when a rule changes)."""
        with self._lock:
            self._client_sessions.setdefault(subject_id, []).extend(addresses)

    def client_sessions(self, subject_id: str) -> list[str]:
        with self._lock:
            return list(self._client_sessions.get(subject_id, []))

    def admission_of_endpoint(self, endpoint_id: str) -> Admission:
        with self._lock:
            return self._endpoint_admissions.get(endpoint_id, Admission())

    def via_endpoint(self, instance_id: str) -> bool:
        with self._lock:
            return self._admissions.get(instance_id, (Admission(), False))[1]

    def _forget_access(self, subject_id: str) -> None:
        """The server or endpoint is gone (destroy): its admission and sessions with it."""
        self._admissions.pop(subject_id, None)
        self._endpoint_admissions.pop(subject_id, None)
        self._client_sessions.pop(subject_id, None)

    # ------------------------------------------------------------------ the contract

    def access_support(self) -> str:
        return self.access_refusal

    def apply_admission(self, instance_id: str, admission: Admission, *, via_endpoint: bool = False) -> int:
        with self._lock:
            self._server(instance_id)
            self._call("apply_admission", instance_id)
            if self.access_refusal and not admission.open:
                raise AccessUnsupported(self.access_refusal)
            self._admissions[instance_id] = (admission, via_endpoint)
            return self._end_refused(instance_id, admission)

    def admission(self, instance_id: str) -> Admission:
        with self._lock:
            self._server(instance_id)
            return self._admissions.get(instance_id, (Admission(), False))[0]

    def apply_endpoint_admission(self, endpoint_id: str, admission: Admission) -> int:
        with self._lock:
            self._endpoint(endpoint_id)
            self._call("apply_endpoint_admission", endpoint_id)
            if self.access_refusal and not admission.open:
                raise AccessUnsupported(self.access_refusal)
            self._endpoint_admissions[endpoint_id] = admission
            return self._end_refused(endpoint_id, admission)

    def _end_refused(self, subject_id: str, admission: Admission) -> int:
        open_now = self._client_sessions.get(subject_id, [])
        kept = [a for a in open_now if admission.admits(a)]
        self._client_sessions[subject_id] = kept
        return len(open_now) - len(kept)
