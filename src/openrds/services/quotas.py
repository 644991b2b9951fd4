"""Tenant quotas: the limits in force (the service's defaults, each overridable per tenant by an
operator) and the check the create use cases make before they record anything (`domain.quotas`)."""

from __future__ import annotations

from dataclasses import dataclass

from openrds.domain import quotas
from openrds.domain.errors import InvalidInput
from openrds.domain.quotas import Amounts, Overrides
from openrds.persistence.uow import Store, UnitOfWork


@dataclass(frozen=True, slots=True)
class QuotaView:
    """What ``openrds admin show-quota`` prints."""

    limits: Amounts
    usage: Amounts
    overrides: Overrides  # which limits are the tenant's own (not None) rather than the defaults


class QuotaService:
    """:param defaults: the limits of a tenant without overrides (``OPENRDS_QUOTA_*``)."""

    def __init__(self, store: Store, defaults: Amounts) -> None:
        self._store = store
        self._defaults = defaults

    def ensure_room(self, uow: UnitOfWork, tenant_id: str, adding: Amounts, *, lock: bool = True) -> None:
        """Check in ``uow`` that the tenant can have ``adding`` more. Call it in the write transaction that
        records the create (``lock``: the tenant's creates queue there on PostgreSQL, so two at once
        cannot both pass); a dry run or an early check before slow work passes ``lock=False``.

        :raises QuotaExceeded: a quota would be passed; nothing is recorded (the caller's transaction
            rolls back).
        """
        repo = uow.quotas(tenant_id)
        if lock:
            repo.lock()
        quotas.check(repo.overrides().over(self._defaults), repo.usage(), adding)

    def show(self, tenant_id: str) -> QuotaView:
        with self._store.read() as uow:
            repo = uow.quotas(tenant_id)
            overrides = repo.overrides()
            return QuotaView(overrides.over(self._defaults), repo.usage(), overrides)

    def set(self, tenant_id: str, overrides: Overrides) -> QuotaView:
        """Give the tenant its own limits (None fields: unchanged). A limit below what the tenant already
        has is allowed: it only stops new creates.

        :raises InvalidInput: a negative limit.
        """
        for name, _, _ in quotas.QUOTAS:
            value = getattr(overrides, name)
            if value is not None and value < 0:
                raise InvalidInput(f"quota {name} must not be negative", field=name)
        with self._store.write() as uow:
            uow.quotas(tenant_id).set(overrides)
        return self.show(tenant_id)
