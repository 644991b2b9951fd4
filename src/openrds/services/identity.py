"""Tenants and their credentials: Tencent-style API keys, Huawei-style IAM users, projects, tokens."""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from openrds.clock import Clock
from openrds.crypto import DUMMY_HASH, SecretBox, hash_password, token_hash, verify_password
from openrds.domain.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from openrds.domain.ids import new_project_id, new_uuid
from openrds.domain.model import ApiKey, IamUser, Project, Tenant
from openrds.persistence.uow import Store


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: ApiKey
    secret_key: str  # shown once, at creation


@dataclass(frozen=True, slots=True)
class TokenGrant:
    token: str  # shown once; stored only as a hash
    user: IamUser
    project: Project | None
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    user_id: str
    tenant_id: str
    project_id: str | None
    expires_at: datetime


def _random(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


class IdentityService:
    def __init__(self, store: Store, box: SecretBox, clock: Clock, *, regions: tuple[str, ...],
                 token_ttl: timedelta = timedelta(hours=24)) -> None:
        self._store = store
        self._box = box
        self._clock = clock
        self._regions = regions
        self._token_ttl = token_ttl
        # secret_id -> (store version, (key, plain secret)); sealed secret -> plain (decryption is slow)
        self._key_cache: dict[str, tuple[object, tuple[ApiKey, str]]] = {}
        self._opened: dict[str, str] = {}
        self._cache_lock = threading.Lock()
        self._ended: tuple[object, frozenset[str]] | None = None  # (store version, revoked session nonces)

    # --- tenants ---------------------------------------------------------------------------
    def create_tenant(self, name: str) -> Tenant:
        if not name or len(name) > 128:
            raise InvalidInput("tenant name must be 1-128 characters", field="name")
        tenant = Tenant(new_uuid(), name, self._clock.now())
        with self._store.write() as uow:
            if uow.tenants.by_name(name) is not None:
                raise InvalidInput(f"tenant {name} already exists", field="name")
            uow.tenants.add(tenant)
        return tenant

    def tenants(self) -> list[Tenant]:
        with self._store.read() as uow:
            return uow.tenants.list()

    def tenant(self, name_or_id: str) -> Tenant:
        with self._store.read() as uow:
            tenant = uow.tenants.get(name_or_id) or uow.tenants.by_name(name_or_id)
        if tenant is None:
            raise NotFound(f"tenant {name_or_id} does not exist", field="tenant")
        return tenant

    def tenant_count(self) -> int:
        with self._store.read() as uow:
            return uow.tenants.count()

    # --- API keys --------------------------------------------------------------------------
    def create_api_key(self, tenant_id: str, secret_id: str | None = None, secret_key: str | None = None) -> NewApiKey:
        secret_id = secret_id or "AKID" + _random(32)
        secret_key = secret_key or _random(32)
        if len(secret_id) < 8 or len(secret_key) < 16:
            raise InvalidInput("SecretId must have at least 8 and SecretKey at least 16 characters", field="secret")
        key = ApiKey(secret_id, tenant_id, app_id=1250000000 + secrets.randbelow(10**8),
                     uin=str(100000000000 + secrets.randbelow(10**11)), created_at=self._clock.now())
        with self._store.write() as uow:
            if uow.tenants.get(tenant_id) is None:
                raise NotFound(f"tenant {tenant_id} does not exist", field="tenant")
            if uow.credentials.key(secret_id) is not None:
                raise InvalidInput("that SecretId exists already", field="secret_id")
            uow.credentials.add_key(key, self._box.seal(secret_key))
        return NewApiKey(key, secret_key)

    def revoke_api_key(self, secret_id: str) -> None:
        with self._store.write() as uow:
            if not uow.credentials.revoke_key(secret_id, self._clock.now()):
                raise NotFound(f"no active key {secret_id}", field="secret_id")

    def api_keys(self, tenant_id: str) -> list[ApiKey]:
        with self._store.read() as uow:
            return uow.credentials.keys_of(tenant_id)

    def find_api_key(self, secret_id: str) -> tuple[ApiKey, str] | None:
        """The active key and its decrypted secret, for signature checks; None if unknown or revoked.

        Remembered only while the store's data version stays the same (read before the key): a key
        revoked by another process (``openrds admin revoke-key`` while the service runs) commits, and
        the next request reads the store again."""
        version = self._store.version()
        with self._cache_lock:
            cached = self._key_cache.get(secret_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._store.read() as uow:
            found = uow.credentials.key(secret_id)
        if found is None or found[0].revoked_at is not None:
            return None
        key, sealed = found
        with self._cache_lock:
            opened = self._opened.get(sealed)
        secret = opened if opened is not None else self._box.open(sealed)
        with self._cache_lock:
            self._opened[sealed] = secret
            self._key_cache[secret_id] = (version, (key, secret))
        return key, secret

    # --- IAM users, projects, tokens -------------------------------------------------------
    def create_iam_user(self, tenant_id: str, domain: str, name: str, password: str) -> IamUser:
        if not domain or not name or len(password) < 8:
            raise InvalidInput("an IAM user needs a domain, a name and a password of 8 or more characters",
                               field="password")
        user = IamUser(new_uuid(), tenant_id, domain, name, self._clock.now())
        with self._store.write() as uow:
            if uow.credentials.user(domain, name) is not None:
                raise InvalidInput(f"IAM user {domain}/{name} exists already", field="name")
            uow.credentials.add_user(user, hash_password(password))
            if not uow.credentials.projects_of(tenant_id):
                for region in self._regions:
                    uow.credentials.add_project(Project(new_project_id(), tenant_id, region, region))
        return user

    def iam_users(self, tenant_id: str) -> list[IamUser]:
        with self._store.read() as uow:
            return uow.credentials.users_of(tenant_id)

    def create_project(self, tenant_id: str, name: str, region: str) -> Project:
        project = Project(new_project_id(), tenant_id, name, region)
        with self._store.write() as uow:
            uow.credentials.add_project(project)
        return project

    def projects(self, tenant_id: str) -> list[Project]:
        with self._store.read() as uow:
            return uow.credentials.projects_of(tenant_id)

    def authenticate(self, domain: str, name: str, password: str) -> IamUser:
        with self._store.read() as uow:
            found = uow.credentials.user(domain, name)
        if found is None:
            verify_password(password, DUMMY_HASH)
            raise AuthenticationFailed("the user name or password is wrong")
        user, stored = found
        if not verify_password(password, stored):
            raise AuthenticationFailed("the user name or password is wrong")
        return user

    def issue_token(self, user: IamUser, project_ref: str | None = None, *, by_name: bool = False,
                    not_after: datetime | None = None) -> TokenGrant:
        """A token for ``user``, scoped to a project (by id, or by name when ``by_name``) or unscoped.

        It expires after the configured lifetime, or at ``not_after`` if that is sooner: a token made
        from another token (re-scoping) gets that token's expiry, so no token can be renewed forever."""
        project: Project | None = None
        if project_ref is not None:
            for candidate in self.projects(user.tenant_id):
                if (candidate.name if by_name else candidate.id) == project_ref:
                    project = candidate
                    break
            else:
                raise Forbidden(f"the user has no project {project_ref}", field="project")
        token = "MII" + secrets.token_urlsafe(48)
        now = self._clock.now()
        expires = now + self._token_ttl if not_after is None else min(now + self._token_ttl, not_after)
        with self._store.write() as uow:
            uow.credentials.add_token(token_hash(token), user.id, user.tenant_id, project.id if project else None,
                                      now, expires)
        return TokenGrant(token, user, project, now, expires)

    def resolve_token(self, token: str) -> TokenIdentity:
        with self._store.read() as uow:
            row = uow.credentials.token(token_hash(token))
        if row is None:
            raise AuthenticationFailed("the token is not valid")
        if row.expires_at <= self._clock.now():
            raise AuthenticationFailed("the token has expired")
        return TokenIdentity(row.user_id, row.tenant_id, row.project_id, row.expires_at)

    def project(self, project_id: str) -> Project | None:
        with self._store.read() as uow:
            return uow.credentials.project(project_id)

    # --- console sessions ------------------------------------------------------------------
    def end_console_session(self, nonce: str, expires_at: datetime) -> None:
        """Sign-out: the console session with ``nonce`` is refused from now until ``expires_at``, when
        its cookie expires anyway (and the record is dropped)."""
        with self._store.write() as uow:
            uow.credentials.revoke_console_session(nonce, expires_at, self._clock.now())

    def console_session_ended(self, nonce: str) -> bool:
        """Whether the session with ``nonce`` was signed out. The few recorded nonces are kept in memory
        and read again only after a commit (store version read first), so a sign-out in another process
        is seen at the next request."""
        version = self._store.version()
        kept = self._ended
        if kept is None or kept[0] != version:
            with self._store.read() as uow:
                kept = (version, uow.credentials.revoked_console_sessions(self._clock.now()))
            self._ended = kept
        return nonce in kept[1]
