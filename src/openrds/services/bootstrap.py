"""First start: a store with no tenant gets a default tenant with one API key and one IAM user.

Their credentials come from ``OPENRDS_BOOTSTRAP_*`` (unattended installs) or are generated; either
way they are written once to a 0600 file in the data root and shown once by the caller. The tenant
starts with ``OPENRDS_BOOTSTRAP_BALANCE`` yuan (default 10000), its first ledger entry.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from openrds.domain.money import yuan_to_cents
from openrds.services.billing import BillingService
from openrds.services.identity import IdentityService

DEFAULT_TENANT = "default"
DEFAULT_IAM_USER = "admin"
CREDENTIALS_FILE = "bootstrap-credentials.json"
DEFAULT_BALANCE_YUAN = "10000"


@dataclass(frozen=True, slots=True)
class BootstrapCredentials:
    tenant: str
    secret_id: str
    secret_key: str
    app_id: int
    iam_domain: str
    iam_user: str
    iam_password: str


def _password() -> str:
    # Both clouds' complexity rules: upper, lower, digit and a symbol.
    body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))
    return f"Or{body}7!"


def bootstrap(identity: IdentityService, data_dir: Path, environ: Mapping[str, str] | None = None, *,
              billing: BillingService | None = None) -> BootstrapCredentials | None:
    """Create the first tenant if the store has none; return its credentials (None when not first start).
    With ``billing``, the tenant gets its initial balance."""
    if identity.tenant_count() > 0:
        return None
    env = os.environ if environ is None else environ
    # Checked before anything is created: a bad amount must not leave a tenant without its balance.
    balance = yuan_to_cents(env.get("OPENRDS_BOOTSTRAP_BALANCE") or DEFAULT_BALANCE_YUAN)
    if balance < 0:
        raise ValueError("OPENRDS_BOOTSTRAP_BALANCE must not be negative")
    tenant = identity.create_tenant(DEFAULT_TENANT)
    if billing is not None and balance > 0:
        billing.top_up(tenant.id, balance, note="initial balance (OPENRDS_BOOTSTRAP_BALANCE)")
    key = identity.create_api_key(tenant.id, env.get("OPENRDS_BOOTSTRAP_SECRET_ID") or None,
                                  env.get("OPENRDS_BOOTSTRAP_SECRET_KEY") or None)
    user_name = env.get("OPENRDS_BOOTSTRAP_IAM_USER") or DEFAULT_IAM_USER
    password = env.get("OPENRDS_BOOTSTRAP_IAM_PASSWORD") or _password()
    # The Huawei convention: the first IAM user's domain (account) has the user's name.
    identity.create_iam_user(tenant.id, user_name, user_name, password)
    credentials = BootstrapCredentials(tenant.name, key.key.secret_id, key.secret_key, key.key.app_id, user_name,
                                       user_name, password)
    path = data_dir / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode above applies only to a new file; a leftover one may be readable
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(credentials), handle, indent=2)
    return credentials
