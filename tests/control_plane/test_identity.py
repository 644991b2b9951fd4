"""Secrets at rest, first-start bootstrap and API-key revocation, in process over a SQLite store (the
same calls a real `openrds serve` makes; `test_service.py` drives the real service)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from openrds.clock import SystemClock
from openrds.crypto import SecretBox, verify_password
from openrds.persistence.db import open_engine, upgrade
from openrds.persistence.uow import Store
from openrds.services.bootstrap import CREDENTIALS_FILE, bootstrap
from openrds.services.identity import IdentityService


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def sqlite_store(workdir: Path) -> Iterator[Store]:
    engine = open_engine(f"sqlite:///{workdir / 'data' / 'openrds.db'}")
    upgrade(engine)
    store = Store(engine)
    yield store
    store.close()


def _identity(store: Store, data_dir: Path) -> IdentityService:
    """What one process (the service, or one `openrds admin` command) builds over the data root."""
    return IdentityService(store, SecretBox.from_key_file(data_dir / "secret.key"), SystemClock(),
                           regions=("ap-beijing",))


def test_the_key_file_is_created_0600_and_reloaded(workdir: Path) -> None:
    path = workdir / "data" / "secret.key"
    box = SecretBox.from_key_file(path)
    assert _mode(path) == 0o600
    sealed = box.seal("s3cret")
    assert "s3cret" not in sealed and sealed != box.seal("s3cret")  # randomised
    assert SecretBox.from_key_file(path).open(sealed) == "s3cret"  # the next start reads the same key
    assert _mode(path) == 0o600
    other = SecretBox.from_key_file(workdir / "other.key")
    with pytest.raises(ValueError):
        other.open(sealed)


def test_first_start_generates_credentials_once_into_a_0600_file(sqlite_store: Store, workdir: Path) -> None:
    data_dir = workdir / "data"
    identity = _identity(sqlite_store, data_dir)
    first = bootstrap(identity, data_dir, environ={})
    assert first is not None
    path = data_dir / CREDENTIALS_FILE
    assert _mode(path) == 0o600
    assert json.loads(path.read_text()) == {
        "tenant": "default", "secret_id": first.secret_id, "secret_key": first.secret_key, "app_id": first.app_id,
        "iam_domain": first.iam_domain, "iam_user": first.iam_user, "iam_password": first.iam_password,
    }
    found = identity.find_api_key(first.secret_id)
    assert found is not None and found[1] == first.secret_key
    assert identity.authenticate(first.iam_domain, first.iam_user, first.iam_password).tenant_id == found[0].tenant_id

    # The next start finds a tenant and does nothing: no new tenant, no new credentials file content.
    before = path.read_text()
    assert bootstrap(_identity(sqlite_store, data_dir), data_dir, environ={}) is None
    assert [t.name for t in identity.tenants()] == ["default"]
    assert path.read_text() == before


def test_first_start_uses_the_credentials_it_is_given(sqlite_store: Store, workdir: Path) -> None:
    data_dir = workdir / "data"
    path = data_dir / CREDENTIALS_FILE
    path.write_text("left over from an earlier installation")
    path.chmod(0o644)
    environ = {
        "OPENRDS_BOOTSTRAP_SECRET_ID": "AKIDgivenBootstrapKey000000000001",
        "OPENRDS_BOOTSTRAP_SECRET_KEY": "givenBootstrapSecretKey000000001",
        "OPENRDS_BOOTSTRAP_IAM_USER": "operator",
        "OPENRDS_BOOTSTRAP_IAM_PASSWORD": "Given-Passw0rd!",
    }
    identity = _identity(sqlite_store, data_dir)
    creds = bootstrap(identity, data_dir, environ=environ)
    assert creds is not None
    assert creds.secret_id == "AKIDgivenBootstrapKey000000000001"
    assert creds.secret_key == "givenBootstrapSecretKey000000001"
    assert (creds.iam_domain, creds.iam_user, creds.iam_password) == ("operator", "operator", "Given-Passw0rd!")
    found = identity.find_api_key("AKIDgivenBootstrapKey000000000001")
    assert found is not None and found[1] == "givenBootstrapSecretKey000000001"
    identity.authenticate("operator", "operator", "Given-Passw0rd!")
    assert _mode(path) == 0o600, "a leftover credentials file kept a mode others can read"
    assert json.loads(path.read_text())["secret_key"] == "givenBootstrapSecretKey000000001"
    with sqlite_store.read() as uow:
        found_user = uow.credentials.user("operator", "operator")
    assert found_user is not None and verify_password("Given-Passw0rd!", found_user[1])


def test_a_key_revoked_by_another_process_stops_working_at_once(sqlite_store: Store, workdir: Path) -> None:
    """The service and `openrds admin revoke-key` are two processes with two IdentityServices."""
    data_dir = workdir / "data"
    service, admin = _identity(sqlite_store, data_dir), _identity(sqlite_store, data_dir)
    tenant = admin.create_tenant("acme")
    key = admin.create_api_key(tenant.id)
    found = service.find_api_key(key.key.secret_id)
    assert found is not None and found[1] == key.secret_key  # the service has seen (and may cache) it

    admin.revoke_api_key(key.key.secret_id)

    assert service.find_api_key(key.key.secret_id) is None
    assert admin.find_api_key(key.key.secret_id) is None
