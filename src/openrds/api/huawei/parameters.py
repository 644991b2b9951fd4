"""Parameters on the Huawei RDS v1 face: a version's parameters, and an instance's new values.

``GET .../datastores/versions/{datastore_version_id}/parameters[/{name}]`` lists what a tenant may change
on that version (README "Parameters and logs"), as v1 writes a parameter: ``min``/``max`` strings
(numeric types only), ``type`` integer|string|boolean|float|list, ``value_range`` ("1-65535",
"on|off", the enum's values joined by ``|``), ``restart_required``. ``PUT .../instances/{id}/parameters``
``{"values": {...}}`` is ``ModifyDBInstanceParameters`` (``.../parameters/default`` ``{}``: every value
the tenant set back to the service's own): validated the same way, applied by the same job
(a restart where a value needs one, done by the service itself); ``shouldRestart`` says whether one
does. The service's own parameters layer is the same for every face.
"""

# No ``from __future__ import annotations``: FastAPI resolves the routes' ``Annotated`` dependencies at run
# time, from the function that declares them.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from openrds.api.huawei import errors
from openrds.api.huawei.auth import Caller
from openrds.api.huawei.wire import json_object, ok
from openrds.container import Container
from openrds.domain import parameters as rules
from openrds.domain.errors import InvalidInput
from openrds.domain.model import Instance
from openrds.domain.parameters import ServerSetting

#: The most values one PUT sets.
MAX_VALUES = 100
MAX_NAME = 128
MAX_VALUE = 1024
_TYPES = {"integer": "integer", "real": "float", "bool": "boolean", "enum": "list", "string": "string"}


def parameter(setting: ServerSetting, version_id: str) -> dict[str, Any]:
    """One v1 ``configuration-parameters`` entry."""
    numeric = setting.vartype in ("integer", "real")
    if numeric:
        value_range = f"{_number(setting.min_val)}-{_number(setting.max_val)}"
    elif setting.vartype == "bool":
        value_range = "on|off"
    elif setting.vartype == "enum":
        value_range = "|".join(rules.enum_values(setting))
    else:
        value_range = ""
    entry: dict[str, Any] = {
        "name": setting.name,
        "type": _TYPES.get(setting.vartype, "string"),
        "value_range": value_range,
        "description": setting.short_desc,
        "restart_required": rules.needs_restart(setting),
        "datastore_version_id": version_id,
    }
    if numeric:
        entry["min"], entry["max"] = _number(setting.min_val), _number(setting.max_val)
    return entry


def _number(text: str | None) -> str:
    value = rules.numeric_bound(text)
    return str(int(value)) if value.is_integer() else repr(value)


def _value(name: str, raw: Any) -> str:
    if isinstance(raw, bool):
        return "on" if raw else "off"
    if isinstance(raw, int | float | str) and len(str(raw)) <= MAX_VALUE:
        return str(raw)
    raise errors.invalid_parameter(f"values.{name[:MAX_NAME]}", f"a string or number of at most {MAX_VALUE} characters")


class ParameterHandlers:
    def __init__(self, container: Container, find: Callable[[Caller, str], Instance]) -> None:
        self.c = container
        self._find = find

    def list_parameters(self, version_id: str) -> JSONResponse:
        version = self._version(version_id)
        settings = self.c.parameters.defaults(str(version.major), "postgresql")
        return ok({"configuration-parameters": [parameter(s, version.datastore_id) for s in settings]})

    def show_parameter(self, version_id: str, name: str) -> JSONResponse:
        version = self._version(version_id)
        for setting in self.c.parameters.defaults(str(version.major), "postgresql"):
            if setting.name == name:
                return ok(parameter(setting, version.datastore_id))
        raise errors.invalid_parameter("name", f"{name[:MAX_NAME]} is no parameter a tenant may change")

    def set_parameters(self, caller: Caller, instance_id: str, body: dict[str, Any]) -> JSONResponse:
        instance = self._find(caller, instance_id)
        values = body.get("values")
        if not isinstance(values, dict) or not values:
            raise errors.missing_parameter("values")
        if len(values) > MAX_VALUES:
            raise errors.invalid_parameter("values", f"at most {MAX_VALUES} parameters per call")
        changes = []
        for name, raw in values.items():
            if len(name) > MAX_NAME:
                raise errors.invalid_parameter("values", f"a parameter name is longer than {MAX_NAME} characters")
            changes.append((name, _value(name, raw)))
        restart = {
            v.setting.name
            for v in self.c.parameters.describe(caller.tenant_id, instance.id)
            if rules.needs_restart(v.setting)
        }
        self.c.parameters.modify(caller.tenant_id, instance.id, changes, caller.user_id)
        should_restart = any(name in restart for name, _ in changes)
        return ok({"shouldRestart": "1" if should_restart else "0", "setParameteResult": "1"})

    def reset_parameters(self, caller: Caller, instance_id: str) -> JSONResponse:
        """``PUT .../parameters/default``: every value the tenant set goes back to the service's own."""
        instance = self._find(caller, instance_id)
        views = self.c.parameters.describe(caller.tenant_id, instance.id)
        changes = [
            (v.setting.name, v.setting.default)
            for v in views
            if v.setting.tenant_value is not None and v.setting.tenant_value != v.setting.default
        ]
        if not changes:
            return ok({"shouldRestart": "0", "setParameteResult": "1"})
        self.c.parameters.modify(caller.tenant_id, instance.id, changes, caller.user_id)
        should_restart = any(rules.needs_restart(v.setting) for v in views if v.setting.name in dict(changes))
        return ok({"shouldRestart": "1" if should_restart else "0", "setParameteResult": "1"})

    def _version(self, version_id: str) -> Any:
        try:
            return self.c.catalogue.version(version_id)
        except InvalidInput:
            raise errors.invalid_parameter(
                "datastore_version_id", f"{version_id[:64]} is no datastore version"
            ) from None


def add_routes(v1: APIRouter, handlers: ParameterHandlers, caller_dependency: Callable[..., Caller]) -> None:
    """The v1 parameter paths, on the face's v1 router (mounted under ``/v1`` and ``/rds/v1``)."""
    CallerDep = Annotated[Caller, Depends(caller_dependency)]
    Body = Annotated[dict[str, Any], Depends(json_object)]

    @v1.get("/{project_id}/datastores/versions/{version_id}/parameters")
    def list_parameters(_caller: CallerDep, version_id: str) -> JSONResponse:
        return handlers.list_parameters(version_id)

    @v1.get("/{project_id}/datastores/versions/{version_id}/parameters/{name}")
    def show_parameter(_caller: CallerDep, version_id: str, name: str) -> JSONResponse:
        return handlers.show_parameter(version_id, name)

    @v1.put("/{project_id}/instances/{instance_id}/parameters/default")
    def reset_parameters(caller: CallerDep, instance_id: str, _body: Body) -> JSONResponse:
        return handlers.reset_parameters(caller, instance_id)

    @v1.put("/{project_id}/instances/{instance_id}/parameters")
    def set_parameters(caller: CallerDep, instance_id: str, body: Body) -> JSONResponse:
        return handlers.set_parameters(caller, instance_id, body)
