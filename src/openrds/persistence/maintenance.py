"""Maintenance windows, one per instance at most (`domain.resize.MaintenanceWindow`), tenant-scoped."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from openrds.domain.resize import DEFAULT_WINDOW, MaintenanceWindow, parse_time_of_day
from openrds.persistence.tables import MaintenanceWindowRow


class MaintenanceWindowRepository:
    """One tenant's instances' windows; an instance without a row has `DEFAULT_WINDOW`."""

    def __init__(self, session: Session, tenant_id: str) -> None:
        self._s = session
        self._tenant = tenant_id

    def get(self, instance_id: str) -> MaintenanceWindow:
        """The window of one of the tenant's instances (by internal id)."""
        row = self._s.get(MaintenanceWindowRow, instance_id)
        if row is None or row.tenant_id != self._tenant:
            return DEFAULT_WINDOW
        return MaintenanceWindow(parse_time_of_day(row.start_time, "maintain_start_time"), row.duration_hours,
                                 tuple(d for d in row.weekdays.split(",") if d))

    def set(self, instance_id: str, window: MaintenanceWindow, now: datetime) -> None:
        """Store the window of one of the tenant's instances (the caller checked it is the tenant's)."""
        row = self._s.get(MaintenanceWindowRow, instance_id)
        if row is None:
            row = MaintenanceWindowRow(instance_id=instance_id, tenant_id=self._tenant)
            self._s.add(row)
        row.start_time = window.start.strftime("%H:%M:%S")
        row.duration_hours = window.duration_hours
        row.weekdays = ",".join(window.weekdays)
        row.updated_at = now
        self._s.flush()
