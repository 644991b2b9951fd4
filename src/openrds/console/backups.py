"""The console's backup page of an instance: its recovery window, its base backups, "back up now", and a
"restore to a point in time" form that creates a clone (a new instance; restores never overwrite).

``/console/instances/{code}/backups`` (GET), ``.../backups`` (POST: a manual backup) and ``.../clone``
(POST: the clone, to an instant or to a backup set). Times are UTC, shown and read as
``YYYY-MM-DD hh:mm:ss``. Everything goes through :class:`openrds.services.backups.BackupService`, so the
rules and errors are the APIs'.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from openrds.console.security import Session
from openrds.domain.backups import BackupQuery, whole_seconds
from openrds.domain.errors import InvalidInput
from openrds.domain.states import Role
from openrds.services.backups import CloneOrder

#: Backups listed on the page, newest first.
BACKUPS_SHOWN = 50
Act = Callable[[Request, Callable[[Session, dict[str, str]], str]], Awaitable[Response]]


def parse_utc(text: str, field: str) -> datetime:
    """``YYYY-MM-DD hh:mm[:ss]`` (or the browser's ``YYYY-MM-DDThh:mm[:ss]``), read as UTC."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value) if 16 <= len(value) <= 19 and value[10:11] in (" ", "T") else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is not None:
        raise InvalidInput(f"{field} must be a UTC time YYYY-MM-DD hh:mm:ss", field=field)
    return parsed.replace(tzinfo=UTC)


def add_routes(router: APIRouter, console: Any, guarded: Callable[..., Any], act: Act) -> None:
    """The backup page and its two actions, on the console's router (``console`` is its
    :class:`openrds.console.routes.Console`; ``guarded`` and ``act`` its page and form wrappers)."""
    c = console.c

    @router.get("/instances/{code}/backups")
    @guarded
    def backups_page(request: Request, code: str) -> Response:
        session = console.require(request)
        tenant = session.tenant_id
        instance = c.instances.get(tenant, code)
        window = whole_seconds(c.backups.recovery_window(tenant, instance.id))
        page = c.backups.describe_backups(
            tenant, BackupQuery(instance_ids=(instance.id,), order_by="started", descending=True, limit=BACKUPS_SHOWN)
        )
        plans = c.backups.describe_plans(tenant, instance.id)
        response: Response = console.render(
            "backups.html",
            console.page(session, "instances"),
            instance=instance,
            window=window,
            backups=page.items,
            total=page.total,
            plans=plans,
            catalogue=c.catalogue,
            primary=instance.role is Role.PRIMARY,
        )
        return response

    @router.post("/instances/{code}/backups")
    async def back_up_now(request: Request, code: str) -> Response:
        def action(session: Session, form: dict[str, str]) -> str:
            started = c.backups.create_backup(session.tenant_id, code, None, name=form.get("name", "").strip())
            return f"/console/jobs?job={started.job.id}"

        return await act(request, action)

    @router.post("/instances/{code}/clone")
    async def clone(request: Request, code: str) -> Response:
        def action(session: Session, form: dict[str, str]) -> str:
            source = c.instances.get(session.tenant_id, code)
            backup_id = form.get("backup", "").strip() or None
            target = form.get("target_time", "").strip()
            if backup_id is None and not target:
                raise InvalidInput("choose a point in time or a backup", field="target_time")
            storage_text = form.get("storage", "").strip()
            if storage_text and not storage_text.isdigit():
                raise InvalidInput("storage must be a whole number of GB", field="storage")
            created = c.backups.clone(
                session.tenant_id,
                CloneOrder(
                    region=source.region,
                    source=source.id,
                    spec_code=form.get("spec", "") or source.spec_code,
                    storage_gb=int(storage_text) if storage_text else source.storage_gb,
                    backup_id=backup_id,
                    target_time=None if backup_id else parse_utc(target, "target_time"),
                    charge_type=source.charge_type.value,
                    name=form.get("name", "").strip(),
                ),
            )
            return f"/console/jobs?job={created.job.id}" if created.job else "/console/instances"

        return await act(request, action)
