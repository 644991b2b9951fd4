"""Parameters of an instance and parameter templates: the use cases.

Reading shows what the server really runs (``pg_settings``, live) for the settings a tenant may change
(`domain.parameters.is_tenant_settable`). Changing validates every value before anything is recorded:
against the server's own description of the setting (type, bounds, enum values), the spec's memory,
and - for settings a session may set - the server's own parser (`LiveParameters.check_parameters`,
tried in a transaction that is rolled back). Then, in one transaction: the values, one event per
parameter and instance, the instances into "modifying parameters" and one job
(:mod:`openrds.jobs.parameters`) that applies them in the standby floor's order.

The five standby-floor settings (`domain.parameters.STANDBY_FLOOR`) follow the master: a change on a
master that raises one raises it on every read-only instance still below it (they go first); one that
lowers it leaves the read-only instances' higher values alone (the master goes first). A read-only
instance may not go below its master on any of them. Other parameters of a master apply to the master.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from openrds.clock import Clock
from openrds.domain import parameters as rules
from openrds.domain.catalogue import Catalogue
from openrds.domain.errors import (
    InstanceNotFound,
    InvalidInput,
    InvalidName,
    InvalidParameterValue,
    MissingInput,
    NameTooLong,
    ParameterNotModifiable,
    QuotaExceeded,
    TemplateNotFound,
)
from openrds.domain.model import Instance, Job
from openrds.domain.parameters import EventState, ParameterEvent, ParameterTemplate, ServerSetting
from openrds.domain.states import Lifecycle, Operation, ensure_allowed
from openrds.persistence.uow import Store
from openrds.services.lifecycle import LifecycleService

#: The most parameters one call changes, and the most one template holds.
MAX_CHANGES = 100
MAX_TEMPLATE_VALUES = 500
#: The most templates one tenant keeps.
MAX_TEMPLATES = 100


class Live(Protocol):
    """What the services read from the servers (`openrds.jobs.parameters.LiveParameters`)."""

    def settings(self, instance_code: str) -> Sequence[ServerSetting]: ...

    def default_settings(self, major_version: int) -> Sequence[ServerSetting]: ...

    def check_parameters(self, instance_code: str, values: Mapping[str, str]) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class ParameterView:
    """One setting a tenant may change, as its server runs it, and when the tenant last changed it."""

    setting: ServerSetting
    modified_at: datetime | None


class ParameterService:
    def __init__(
        self, store: Store, live: Live, lifecycle: LifecycleService, catalogue: Catalogue, clock: Clock
    ) -> None:
        self._store = store
        self._live = live
        self._lifecycle = lifecycle
        self._catalogue = catalogue
        self._clock = clock

    # --- instances ------------------------------------------------------------------------------
    def describe(self, tenant_id: str, identifier: str, name: str | None = None) -> list[ParameterView]:
        """The settings of the instance a tenant may change (only ``name`` when given), as it runs them."""
        instance = self._instance(tenant_id, identifier)
        settings = [
            s
            for s in self._live.settings(instance.code)
            if rules.is_tenant_settable(s) and (name is None or s.name == name)
        ]
        with self._store.read() as uow:
            times = uow.parameters(tenant_id).modified_times(instance.id)
        return [ParameterView(s, times.get(s.name)) for s in settings]

    def modify(self, tenant_id: str, identifier: str, changes: Sequence[tuple[str, str]], operator: str) -> Job:
        """Validate every value, record them and submit the job that applies them (module docstring).

        :raises MissingInput: no change given.
        :raises InvalidInput: more than `MAX_CHANGES`, or a name given twice.
        :raises ParameterNotModifiable: a name that does not exist or a tenant may not change.
        :raises InvalidParameterValue: a value the server would not take, or beyond the spec, or a
            read-only instance's floor setting below its master's.
        :raises InvalidInstanceState: the instance (or one of its read-only instances that must follow)
            is not running.
        """
        if not changes:
            raise MissingInput("ParamList holds no parameter", field="ParamList")
        if len(changes) > MAX_CHANGES:
            raise InvalidInput(f"at most {MAX_CHANGES} parameters per call", field="ParamList")
        names = [n for n, _ in changes]
        if len(set(names)) != len(names):
            raise InvalidInput("a parameter is named twice in ParamList", field="ParamList")
        instance = self._instance(tenant_id, identifier)
        ensure_allowed(Operation.MODIFY_PARAMETERS, instance.code, instance.lifecycle)
        settings = {s.name: s for s in self._live.settings(instance.code)}
        memory = self._memory_mb(instance)
        values: dict[str, str] = {}
        for name, raw in changes:
            setting = settings.get(name)
            if setting is None:
                raise ParameterNotModifiable(f"parameter {name[:64]} does not exist", field="ParamList")
            values[name] = rules.validate(setting, raw, memory_mb=memory)
        refused = self._live.check_parameters(instance.code, values)
        if refused:
            name, why = next(iter(sorted(refused.items())))
            raise InvalidParameterValue(f"parameter {name}: {why}", field="ParamList")
        with self._store.read() as uow:
            replicas = uow.instances(tenant_id).replicas_of_each([instance.id]) if instance.master_id is None else []
            master = uow.instances(tenant_id).find(instance.master_id) if instance.master_id else None
        floor_changes = {n: v for n, v in values.items() if n in rules.STANDBY_FLOOR}
        if master is not None and floor_changes:
            theirs = {s.name: s.setting for s in self._live.settings(master.code)}
            for name, value in floor_changes.items():
                if float(value) < float(theirs.get(name, "0")):
                    raise InvalidParameterValue(
                        f"parameter {name}: a read-only instance needs at least its master's {theirs[name]}",
                        field="ParamList",
                    )
        plan: dict[str, dict[str, str]] = {instance.id: values}
        running: dict[str, Sequence[ServerSetting]] = {instance.id: list(settings.values())}
        followers: list[Instance] = []
        if floor_changes and replicas:
            for replica in replicas:
                ensure_allowed(Operation.MODIFY_PARAMETERS, replica.code, replica.lifecycle)
                found = self._live.settings(replica.code)
                theirs = {s.name: s.setting for s in found}
                below = {n: v for n, v in floor_changes.items() if float(theirs.get(n, "0")) < float(v)}
                if below:
                    plan[replica.id] = below
                    running[replica.id] = found
                    followers.append(replica)
        # Read-only instances that must rise go first (cascades before the instances they follow), then the
        # master; a master lowering a floor setting goes alone (its read-only instances may stay above it).
        followers.sort(key=lambda r: -self._depth(r, replicas))
        order = [*followers, instance]
        now = self._clock.now()
        with self._store.write() as uow:
            repo = uow.instances(tenant_id)
            current = [repo.find(i.id) for i in order]
            targets = [i for i in current if i is not None]
            if len(targets) != len(order):
                raise InstanceNotFound(identifier)
            previous: dict[str, dict[str, str | None]] = {}
            params = uow.parameters(tenant_id)
            for target in targets:
                stored = params.values(target.id)
                if not stored:  # first change: what its include file holds already (a replica's copy of its
                    # master's) becomes its own, or rewriting the file would drop it
                    params.set_values(
                        target.id,
                        {
                            s.name: s.tenant_value
                            for s in running[target.id]
                            if s.tenant_value is not None and s.name not in plan[target.id]
                        },
                        now,
                    )
                previous[target.id] = {n: stored.get(n) for n in plan[target.id]}
                params.set_values(target.id, plan[target.id], now)
            job = self._lifecycle.begin(
                uow,
                tenant_id,
                targets,
                Operation.MODIFY_PARAMETERS,
                {"order": [t.id for t in targets], "previous": previous},
                now,
            )
            for target in targets:
                shown = {x.name: x.setting for x in running[target.id]}
                for name, value in plan[target.id].items():
                    old = shown.get(name, previous[target.id].get(name) or "")
                    params.add_event(
                        tenant_id,
                        ParameterEvent(
                            instance_id=target.id,
                            name=name,
                            old_value=old,
                            new_value=value,
                            state=EventState.WAITING,
                            operator=operator if target.id == instance.id else "system",
                            job_id=job.id,
                            message="" if target.id == instance.id else f"standby floor: follows {instance.code}",
                            modified_at=now,
                        ),
                    )
        self._lifecycle.notify()
        return job

    def events(self, tenant_id: str, identifier: str) -> list[ParameterEvent]:
        """Every recorded change of the instance's parameters, oldest first."""
        with self._store.read() as uow:
            instance = uow.instances(tenant_id).find(identifier)
            if instance is None:
                raise InstanceNotFound(identifier)
            return uow.parameters(tenant_id).events(instance.id)

    def defaults(self, major_version: str, engine: str) -> list[ServerSetting]:
        """The settings a tenant may change on a new instance of ``major_version``, at their built-in values.

        :raises InvalidInput: an unknown engine or a version this service does not run.
        """
        major = self._major(major_version, engine)
        return [s for s in self._live.default_settings(major) if rules.is_tenant_settable(s)]

    # --- templates ------------------------------------------------------------------------------
    def create_template(
        self, tenant_id: str, name: str, major_version: str, engine: str, description: str = ""
    ) -> ParameterTemplate:
        """:raises InvalidInput: a bad name, description, engine or version (field named)."""
        self._template_fields(name, description)
        self._major(major_version, engine)
        now = self._clock.now()
        template = ParameterTemplate(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            name=name,
            major_version=major_version,
            engine=engine,
            description=description,
            values={},
            created_at=now,
            updated_at=now,
        )
        with self._store.write() as uow:
            repo = uow.parameters(tenant_id)
            if repo.count_templates() >= MAX_TEMPLATES:
                raise QuotaExceeded(f"at most {MAX_TEMPLATES} parameter templates per account", field="TemplateName")
            repo.save_template(template)
        return template

    def templates(self, tenant_id: str) -> list[ParameterTemplate]:
        with self._store.read() as uow:
            return uow.parameters(tenant_id).templates()

    def template(self, tenant_id: str, template_id: str) -> ParameterTemplate:
        """:raises TemplateNotFound: not this tenant's."""
        with self._store.read() as uow:
            found = uow.parameters(tenant_id).template(template_id)
        if found is None:
            raise TemplateNotFound(f"parameter template {template_id[:64]} does not exist", field="TemplateId")
        return found

    def template_settings(self, template: ParameterTemplate) -> list[tuple[ServerSetting, str]]:
        """The template's parameters with the version's description of each, and the template's value."""
        by_name = {s.name: s for s in self.defaults(template.major_version, template.engine)}
        return [(by_name[n], v) for n, v in sorted(template.values.items()) if n in by_name]

    def modify_template(
        self,
        tenant_id: str,
        template_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        set_values: Sequence[tuple[str, str]] = (),
        delete: Sequence[str] = (),
    ) -> ParameterTemplate:
        """Rename, describe, set and remove values; every value validated against the version's settings.

        :raises InvalidInput: a name both set and deleted, or a bad value (field named).
        """
        template = self.template(tenant_id, template_id)
        if name is not None or description is not None:
            self._template_fields(
                name if name is not None else template.name,
                description if description is not None else template.description,
            )
        set_names = [n for n, _ in set_values]
        if len(set(set_names)) != len(set_names):
            raise InvalidInput("a parameter is named twice in ModifyParamEntrySet", field="ModifyParamEntrySet")
        if set(set_names) & set(delete):
            raise InvalidInput("a parameter is both modified and deleted", field="DeleteParamSet")
        values = dict(template.values)
        if set_values:
            by_name = {
                s.name: s for s in self._live.default_settings(self._major(template.major_version, template.engine))
            }
            for param, raw in set_values:
                setting = by_name.get(param)
                if setting is None:
                    raise ParameterNotModifiable(f"parameter {param[:64]} does not exist", field="ModifyParamEntrySet")
                try:
                    values[param] = rules.validate(setting, raw, memory_mb=0)
                except InvalidInput as exc:
                    raise type(exc)(exc.message, field="ModifyParamEntrySet") from None
        for param in delete:
            values.pop(param, None)
        if len(values) > MAX_TEMPLATE_VALUES:
            raise InvalidInput(
                f"a template holds at most {MAX_TEMPLATE_VALUES} parameters", field="ModifyParamEntrySet"
            )
        changed = replace(
            template,
            name=name if name is not None else template.name,
            description=description if description is not None else template.description,
            values=values,
            updated_at=self._clock.now(),
        )
        with self._store.write() as uow:
            uow.parameters(tenant_id).save_template(changed)
        return changed

    def delete_template(self, tenant_id: str, template_id: str) -> None:
        """:raises TemplateNotFound: not this tenant's."""
        self.template(tenant_id, template_id)
        with self._store.write() as uow:
            uow.parameters(tenant_id).delete_template(template_id)

    # --- helpers --------------------------------------------------------------------------------
    def _instance(self, tenant_id: str, identifier: str) -> Instance:
        with self._store.read() as uow:
            instance = uow.instances(tenant_id).find(identifier)
        if instance is None:
            raise InstanceNotFound(identifier)
        if instance.lifecycle not in (Lifecycle.RUNNING, Lifecycle.MODIFYING_PARAMETERS):
            ensure_allowed(Operation.MODIFY_PARAMETERS, instance.code, instance.lifecycle)
        return instance

    def _memory_mb(self, instance: Instance) -> int:
        try:
            return self._catalogue.spec(instance.spec_code).memory_mb
        except InvalidInput:
            return 0

    def _major(self, major_version: str, engine: str) -> int:
        if engine not in rules.ENGINES:
            raise InvalidInput(f"DBEngine must be one of {', '.join(rules.ENGINES)}", field="DBEngine")
        if engine != "postgresql":
            raise InvalidInput("only the postgresql engine runs on this service", field="DBEngine")
        try:
            return self._catalogue.version(major_version).major
        except InvalidInput:
            raise InvalidInput(
                f"DBMajorVersion {major_version[:16]} is not offered here", field="DBMajorVersion"
            ) from None

    @staticmethod
    def _template_fields(name: str, description: str) -> None:
        if not name:
            raise MissingInput("TemplateName is empty", field="TemplateName")
        if len(name) > 60:
            raise NameTooLong("TemplateName is longer than 60 characters", field="TemplateName")
        if not rules.TEMPLATE_NAME.fullmatch(name):
            raise InvalidName(
                "TemplateName: letters, digits, Chinese characters and _-./()（）[]+=：:@ only", field="TemplateName"
            )
        if len(description) > rules.MAX_TEMPLATE_DESCRIPTION:
            raise NameTooLong(
                f"TemplateDescription is longer than {rules.MAX_TEMPLATE_DESCRIPTION} characters",
                field="TemplateDescription",
            )

    @staticmethod
    def _depth(replica: Instance, replicas: Sequence[Instance]) -> int:
        """How many read-only instances lie between ``replica`` and its primary (cascades go first)."""
        by_id = {r.id: r for r in replicas}
        depth, current = 0, replica
        while current.master_id in by_id and depth < len(replicas):
            depth, current = depth + 1, by_id[current.master_id]
        return depth
