"""Every Tencent action this service answers, gathered from the face's areas.

An area is one part of the API (instances and read-only groups, backups, accounts, parameters ...):
a table of action name -> request model and the class whose methods handle them, one method per
action named after it in snake case (``CreateReadOnlyDBInstance`` -> ``create_read_only_db_instance``).
Areas add actions; they never share one. Whether an action changes state follows from its name: the
API's reads are exactly its ``Describe*`` and ``Inquiry*`` actions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openrds.api.tencent import handlers, presenters, schemas
from openrds.api.tencent.accounts import handlers as accounts_handlers
from openrds.api.tencent.accounts import schemas as accounts_schemas
from openrds.api.tencent.auth import Caller
from openrds.api.tencent.backup import handlers as backup_handlers
from openrds.api.tencent.backup import schemas as backup_schemas
from openrds.api.tencent.logs import handlers as log_handlers
from openrds.api.tencent.logs import schemas as log_schemas
from openrds.api.tencent.network import handlers as network_handlers
from openrds.api.tencent.network import schemas as network_schemas
from openrds.api.tencent.parameters import handlers as parameter_handlers
from openrds.api.tencent.parameters import schemas as parameter_schemas
from openrds.api.tencent.protocol import Action, ActionContext, TencentApi
from openrds.api.tencent.schemas import TencentModel
from openrds.api.tencent.spec import handlers as spec_handlers
from openrds.api.tencent.spec import schemas as spec_schemas
from openrds.container import Container


@dataclass(frozen=True)
class Area:
    """One part of the face.

    :param models: action name -> request model.
    :param handlers: builds the object that handles them, from the container.
    :param store_reads: its actions whose answer is the store's contents seen by the caller alone
        (:attr:`openrds.api.tencent.protocol.Action.store_read`).
    :param region_optional: its actions documented as region-free.
    """

    models: Mapping[str, type[TencentModel]]
    handlers: Callable[[Container], object]
    store_reads: frozenset[str] = field(default_factory=frozenset)
    region_optional: frozenset[str] = field(default_factory=frozenset)


AREAS: tuple[Area, ...] = (
    Area(
        schemas.REQUEST_MODELS,
        handlers.TencentActions,
        store_reads=handlers.STORE_READS,
        region_optional=schemas.REGION_OPTIONAL_ACTIONS,
    ),
    Area(backup_schemas.REQUEST_MODELS, backup_handlers.BackupActions),
    Area(spec_schemas.REQUEST_MODELS, spec_handlers.SpecActions),
    Area(parameter_schemas.REQUEST_MODELS, parameter_handlers.ParameterActions),
    Area(log_schemas.REQUEST_MODELS, log_handlers.LogActions),
    Area(accounts_schemas.REQUEST_MODELS, accounts_handlers.AccountActions),
    Area(network_schemas.REQUEST_MODELS, network_handlers.NetworkActions),
)

#: Action name -> request model, over every area.
REQUEST_MODELS: dict[str, type[TencentModel]] = {name: model for area in AREAS for name, model in area.models.items()}


def is_read(action: str) -> bool:
    """The API's reads (every ``Describe*`` and ``Inquiry*``): the same signed request may be sent again."""
    return action.startswith(("Describe", "Inquiry"))


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class _Keys:
    def __init__(self, container: Container) -> None:
        self._identity = container.identity

    def find(self, secret_id: str) -> tuple[Caller, str] | None:
        found = self._identity.find_api_key(secret_id)
        if found is None:
            return None
        key, secret = found
        return Caller(tenant_id=key.tenant_id, secret_id=key.secret_id, app_id=key.app_id, uin=key.uin), secret


def build(container: Container) -> TencentApi:
    """Every action of every area (:mod:`.registry`), bound to its handler method."""
    presenters.use_time_zone(container.settings.tencent_tz)
    actions: dict[str, Action[Any]] = {}
    for area in AREAS:
        handlers = area.handlers(container)
        for name, model in area.models.items():
            assert name not in actions, f"{name} is served by two areas"
            handler: Callable[[ActionContext, Any], Mapping[str, object]] = getattr(
                handlers, _snake(name).replace("d_b_", "db_")
            )
            actions[name] = Action(
                name=name,
                request_model=model,
                handler=handler,
                region_required=name not in area.region_optional,
                store_read=name in area.store_reads,
                changes_state=not is_read(name),
            )
    return TencentApi(
        actions,
        _Keys(container),
        regions=lambda: {r.name for r in container.catalogue.regions},
        # Signatures are about wall time: the router checks them (and counts the rate limit)
        # against the real clock, whatever clock the business runs on (tests move theirs).
        clock=time.time,
        rate_limit_per_second=container.settings.rate_limit,
        store_version=container.store.version,
        one_version=container.store.one_version,
    )
