"""The ``openrds`` command: ``serve`` runs the service; ``admin`` manages tenants and credentials
against the same store, whether the service is running or not."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from openrds import __version__
from openrds.settings import Settings, load_settings

app = typer.Typer(help="OpenRDS: self-hosted managed PostgreSQL with cloud-compatible APIs.", no_args_is_help=True)
admin = typer.Typer(help="Manage tenants, API keys, IAM users, projects, money and quotas.", no_args_is_help=True)
app.add_typer(admin, name="admin")
console = Console()

ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML settings file (or OPENRDS_CONFIG).")]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Data root (or OPENRDS_DATA_DIR).")]


@app.callback()
def _private_files() -> None:
    # Before any command: whatever this process creates - the metadata store and its -wal/-shm made
    # later, keys, credentials - is its own account's alone (see openrds.data_root). The engine gives
    # the servers' files to their OS user with explicit modes, which the umask does not filter.
    os.umask(0o077)


def _settings(config: Path | None, data_dir: Path | None, listen: str | None = None) -> Settings:
    try:
        return load_settings(config, data_dir=data_dir, listen=listen)
    except Exception as exc:  # a bad setting is the operator's to fix: say which, no traceback
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def _setup_logging(settings: Settings) -> None:
    if settings.log_format == "json":
        fmt = '{"time": "%(asctime)s", "level": "%(levelname)s", "logger": "%(name)s", "message": "%(message)s"}'
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=settings.log_level.upper(), format=fmt, stream=sys.stderr)


def _settings_help() -> str:
    lines = []
    for name, info in Settings.model_fields.items():
        default = info.default if info.default_factory is None else "(computed)"
        lines.append(f"OPENRDS_{name.upper()}: {info.description} [default: {default}]")
    return "\n\n".join(lines)


@app.command(help="Run the service: HTTP APIs, job runner and supervisor.\n\nSettings:\n\n" + _settings_help())
def serve(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    listen: Annotated[str | None, typer.Option(help="host:port of the API (or OPENRDS_LISTEN).")] = None,
) -> None:
    import uvicorn

    from openrds.api.app import create_app
    from openrds.container import build
    from openrds.metrics import listener_app as metrics_listener_app
    from openrds.services.bootstrap import CREDENTIALS_FILE, bootstrap

    settings = _settings(config, data_dir, listen=listen)
    _setup_logging(settings)
    container = build(settings)
    first = bootstrap(container.identity, settings.data_dir, billing=container.billing)
    endpoint = f"{settings.listen_host}:{settings.listen_port}"
    if first is not None:
        # Secrets the operator supplied are not echoed: service output usually ends up in a journal.
        _print_first_start(
            first,
            endpoint,
            settings.data_dir / CREDENTIALS_FILE,
            key_given=bool(os.environ.get("OPENRDS_BOOTSTRAP_SECRET_KEY")),
            password_given=bool(os.environ.get("OPENRDS_BOOTSTRAP_IAM_PASSWORD")),
            tls=settings.tls,
        )
    if settings.api_workers > 1:
        container.stop()  # each worker opens the store itself: no connection crosses the fork
        raise typer.Exit(_serve_on_every_core(settings))
    app = create_app(container)
    servers = [uvicorn.Server(uvicorn.Config(
        app,
        host=settings.listen_host,
        port=settings.listen_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    ))]
    if settings.metrics_listen:
        servers.append(uvicorn.Server(uvicorn.Config(
            metrics_listener_app(app.state.metrics),
            host=settings.metrics_host,
            port=settings.metrics_port,
            log_level=settings.log_level.lower(),
            access_log=False,
            lifespan="off",  # the API's app runs the service's lifespan
        )))
    # Everything built so far (modules, the app, the store's metadata) lives as long as the process:
    # moved out of the collector's reach, a full collection no longer walks ~160k objects (it took
    # 100-300 ms here, a pause that landed on whichever console page or /metrics scrape was running).
    gc.collect()
    gc.freeze()
    # Every port is bound before anything starts: one taken fails the start (uvicorn logs which and
    # exits) before the lifespan has started the job runner.
    sockets = [server.config.bind_socket() for server in servers]
    with asyncio.Runner(loop_factory=servers[0].config.get_loop_factory()) as runner:  # uvloop, as uvicorn.run
        runner.run(_serve_all(servers, sockets))


async def _serve_all(servers: list[Any], sockets: list[Any], wake: Callable[[], None] | None = None) -> None:
    """Run the uvicorn ``servers`` (each on its bound socket) on one event loop until one stops, then
    stop the others: a SIGTERM reaches the server whose handler was installed last, and the whole
    service stops with it. ``wake``: called on SIGUSR1 (the leader of several API workers: another
    worker submitted a job, see `openrds.api.workers`)."""
    if wake is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, wake)
    tasks = [asyncio.create_task(server.serve([sock])) for server, sock in zip(servers, sockets, strict=True)]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks)


def _serve_on_every_core(settings: Settings) -> int:
    """``openrds serve`` with ``settings.api_workers`` > 1, once the store is ready and closed: the
    workers of `openrds.api.workers`; the exit status."""
    import uvicorn

    from openrds.api.app import create_app
    from openrds.api.shared import SharedRateLimiter, SharedSignatures
    from openrds.api.workers import LEADER_SOCKET, ForwardToLeader, FromWorkers, serve_workers, waker
    from openrds.container import build
    from openrds.metrics import listener_app as metrics_listener_app

    def config(app: Any, **options: Any) -> uvicorn.Config:
        return uvicorn.Config(app, log_level=settings.log_level.lower(), access_log=False, **options)

    api: dict[str, Any] = dict(host=settings.listen_host, port=settings.listen_port, ssl_certfile=settings.tls_cert,
                               ssl_keyfile=settings.tls_key)
    sockets = [config(None, **api).bind_socket()]
    if settings.metrics_listen:
        sockets.append(config(None, host=settings.metrics_host, port=settings.metrics_port).bind_socket())
    leader_socket = settings.data_dir / LEADER_SOCKET

    def run_worker(index: int, sockets: list[socket.socket], limiter: SharedRateLimiter,
                   signatures: SharedSignatures, leader_pid: int) -> None:
        container = build(settings)
        app = create_app(container, manage_background=index == 0)
        app.state.tencent.share_with_workers(limiter, signatures)
        wake: Callable[[], None] | None = None
        if index == 0:  # the leader: the service as one worker runs it, and its socket for the others
            servers = [uvicorn.Server(config(app, **api))]
            listening = [sockets[0]]
            if len(sockets) > 1:
                servers.append(uvicorn.Server(config(metrics_listener_app(app.state.metrics), lifespan="off")))
                listening.append(sockets[1])
            to_workers = config(FromWorkers(app), uds=str(leader_socket), lifespan="off")
            servers.append(uvicorn.Server(to_workers))
            listening.append(to_workers.bind_socket())
            wake = container.runner.wake
        else:
            for sock in sockets[1:]:
                sock.close()
            container.queue.on_submit(waker(leader_pid))
            servers = [uvicorn.Server(config(ForwardToLeader(app, leader_socket), **api))]
            listening = [sockets[0]]
        gc.collect()
        gc.freeze()
        with asyncio.Runner(loop_factory=servers[0].config.get_loop_factory()) as runner:
            runner.run(_serve_all(servers, listening, wake))

    return serve_workers(settings.api_workers, sockets, leader_socket, run_worker)


def _print_first_start(
    creds: object, endpoint: str, path: Path, *, key_given: bool = False, password_given: bool = False,
    tls: bool = False,
) -> None:
    c: Any = creds  # BootstrapCredentials
    # Over HTTPS the SDK's default protocol works; certification= names a CA bundle it does not know.
    http_profile = (f'HttpProfile(endpoint="{endpoint}", certification="<CA file; omit if publicly trusted>")'
                    if tls else f'HttpProfile(endpoint="{endpoint}", protocol="http")')
    secret_key = "(as given in OPENRDS_BOOTSTRAP_SECRET_KEY)" if key_given else c.secret_key
    iam_password = "(as given in OPENRDS_BOOTSTRAP_IAM_PASSWORD)" if password_given else c.iam_password
    console.print(
        f"""[bold green]OpenRDS first start[/bold green]: a default tenant was created. These credentials are shown
only now; they are also in {path} (mode 0600).

  endpoint        {"https" if tls else "http"}://{endpoint}
  SecretId        {c.secret_id}
  SecretKey       {secret_key}
  IAM domain/user {c.iam_domain} / {c.iam_user}
  IAM password    {iam_password}

Tencent Cloud SDK (pip install tencentcloud-sdk-python-postgres):

  from tencentcloud.common import credential
  from tencentcloud.common.profile.client_profile import ClientProfile
  from tencentcloud.common.profile.http_profile import HttpProfile
  from tencentcloud.postgres.v20170312 import postgres_client, models
  cred = credential.Credential("{c.secret_id}", "<SecretKey above>")
  profile = ClientProfile(httpProfile={http_profile})
  client = postgres_client.PostgresClient(cred, "ap-beijing", profile)
  print(client.DescribeZones(models.DescribeZonesRequest()).to_json_string())
""",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


# --- admin ---------------------------------------------------------------------------------------
def _admin_store(config: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    """(settings, store, identity service) for the admin commands: the store brought to head, the regions
    of the configured catalogue - as the service builds them (openrds.container)."""
    from datetime import timedelta

    from openrds.clock import SystemClock
    from openrds.container import load_catalogue, open_store
    from openrds.services.identity import IdentityService

    settings = _settings(config, data_dir)
    store, box = open_store(settings)
    regions = tuple(r.name for r in load_catalogue(settings).regions)
    return settings, store, IdentityService(store, box, SystemClock(), regions=regions,
                                            token_ttl=timedelta(hours=settings.token_ttl_hours))


def _identity(config: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    return _admin_store(config, data_dir)[2]


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


@admin.command("create-tenant")
def create_tenant(name: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Create a tenant with one API key (printed once)."""
    from openrds.domain.errors import OpenRDSError

    identity = _identity(config, data_dir)
    try:
        tenant = identity.create_tenant(name)
        key = identity.create_api_key(tenant.id)
    except OpenRDSError as exc:
        _fail(exc)
        return
    console.print(
        f"tenant {tenant.name} ({tenant.id})\nSecretId  {key.key.secret_id}\nSecretKey {key.secret_key}",
        highlight=False,
    )


@admin.command("list-tenants")
def list_tenants(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """List tenants."""
    identity = _identity(config, data_dir)
    table = Table("name", "id", "created", "API keys")
    for tenant in identity.tenants():
        keys = [k.secret_id for k in identity.api_keys(tenant.id) if k.revoked_at is None]
        table.add_row(tenant.name, tenant.id, tenant.created_at.isoformat(timespec="seconds"), ", ".join(keys))
    console.print(table)


@admin.command("create-key")
def create_key(tenant: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Create an API key for a tenant (name or id); the secret is printed once."""
    from openrds.domain.errors import OpenRDSError

    identity = _identity(config, data_dir)
    try:
        key = identity.create_api_key(identity.tenant(tenant).id)
    except OpenRDSError as exc:
        _fail(exc)
        return
    console.print(f"SecretId  {key.key.secret_id}\nSecretKey {key.secret_key}", highlight=False)


@admin.command("revoke-key")
def revoke_key(secret_id: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Revoke an API key; calls signed with it fail from then on."""
    from openrds.domain.errors import OpenRDSError

    try:
        _identity(config, data_dir).revoke_api_key(secret_id)
    except OpenRDSError as exc:
        _fail(exc)
        return
    console.print(f"revoked {secret_id}")


@admin.command("create-iam-user")
def create_iam_user(
    tenant: str,
    name: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    domain: Annotated[str | None, typer.Option(help="IAM domain (account); default: the user name")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a Huawei-style IAM user (with one project per region on the tenant's first user)."""
    from openrds.domain.errors import OpenRDSError

    identity = _identity(config, data_dir)
    try:
        user = identity.create_iam_user(identity.tenant(tenant).id, domain or name, name, password)
    except OpenRDSError as exc:
        _fail(exc)
        return
    console.print(f"IAM user {user.domain}/{user.name} ({user.id})")


@admin.command("create-project")
def create_project(
    tenant: str, name: str, region: str, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Create a Huawei-style project for a tenant."""
    from openrds.domain.errors import OpenRDSError

    identity = _identity(config, data_dir)
    try:
        project = identity.create_project(identity.tenant(tenant).id, name, region)
    except OpenRDSError as exc:
        _fail(exc)
        return
    console.print(f"project {project.name} ({project.id}) in {project.region}")


@admin.command("list-projects")
def list_projects(tenant: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """List a tenant's projects."""
    identity = _identity(config, data_dir)
    table = Table("name", "id", "region")
    for project in identity.projects(identity.tenant(tenant).id):
        table.add_row(project.name, project.id, project.region)
    console.print(table)


@admin.command("huawei-sdk-snippet")
def huawei_sdk_snippet(
    tenant: str,
    region: Annotated[str | None, typer.Option(help="the project's region (default: the first project's)")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print how to call this service with the Huawei Cloud SDK (huaweicloudsdkrds, RDS v3): a tenant's
    API key is the SDK's AK/SK pair. The AK (SecretId) is printed; the SK never is (it was shown once,
    by create-key)."""
    from openrds.domain.errors import OpenRDSError

    settings, _, identity = _admin_store(config, data_dir)
    try:
        owner = identity.tenant(tenant)
    except OpenRDSError as exc:
        _fail(exc)
        return
    keys = [k for k in identity.api_keys(owner.id) if k.revoked_at is None]
    projects = [p for p in identity.projects(owner.id) if region in (None, p.region)]
    if not keys or not projects:
        _fail(ValueError(f"tenant {owner.name} needs an API key (create-key) and a project"
                         f"{' in ' + region if region else ''} (create-iam-user or create-project) first"))
        return
    scheme = "https" if settings.tls_cert else "http"
    typer.echo(f"""# pip install huaweicloudsdkrds
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkrds.v3 import ListInstancesRequest, RdsClient

AK = "{keys[0].secret_id}"  # the tenant's SecretId
SK = "..."  # its SecretKey, shown once by `openrds admin create-key`
PROJECT_ID = "{projects[0].id}"  # project {projects[0].name} ({projects[0].region})
client = (RdsClient.new_builder().with_http_config(HttpConfig.get_default_config())
          .with_credentials(BasicCredentials(AK, SK, PROJECT_ID))
          .with_endpoint("{scheme}://{settings.listen}").build())
print(client.list_instances(ListInstancesRequest()))""")  # plain: rich would wrap the lines


# --- money ---------------------------------------------------------------------------------------
def _billing(config: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    """(IdentityService, BillingService) over the store; prices from the configured catalogue."""
    from openrds.clock import SystemClock
    from openrds.container import load_catalogue
    from openrds.services.billing import BillingService

    settings, store, identity = _admin_store(config, data_dir)
    return identity, BillingService(store, load_catalogue(settings), SystemClock())


@admin.command("top-up")
def top_up(tenant: str, yuan: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Add YUAN (e.g. 100 or 99.50) to a tenant's balance; recorded in its ledger."""
    from openrds.domain.errors import OpenRDSError
    from openrds.domain.money import cents_text, yuan_to_cents

    identity, billing = _billing(config, data_dir)
    try:
        entry = billing.top_up(identity.tenant(tenant).id, yuan_to_cents(yuan))
    except OpenRDSError as exc:
        _fail(exc)
        return
    console.print(
        f"topped up {cents_text(entry.amount_cents)} CNY; balance {cents_text(entry.balance_after_cents)} CNY",
        highlight=False,
    )


@admin.command("balance")
def balance(tenant: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Show a tenant's balance, its ledger and its vouchers."""
    from openrds.domain.errors import OpenRDSError
    from openrds.domain.money import cents_text

    identity, billing = _billing(config, data_dir)
    try:
        statement = billing.statement(identity.tenant(tenant).id)
    except OpenRDSError as exc:
        _fail(exc)
        return
    account = statement.account
    arrears = f" (below zero since {account.arrears_since:%Y-%m-%d %H:%M:%S})" if account.arrears_since else ""
    console.print(f"balance {cents_text(account.balance_cents)} CNY{arrears}", highlight=False)
    ledger = Table("#", "time (UTC)", "kind", "amount", "balance", "reference", "note", title="ledger")
    for e in statement.ledger:
        ledger.add_row(
            str(e.id),
            f"{e.created_at:%Y-%m-%d %H:%M:%S}",
            e.kind,
            cents_text(e.amount_cents),
            cents_text(e.balance_after_cents),
            e.reference,
            e.note,
        )
    console.print(ledger)
    if statement.vouchers:
        vouchers = Table("voucher", "amount", "expires (UTC)", "spent", title="vouchers")
        for v in statement.vouchers:
            spent = f"{v.spent_at:%Y-%m-%d %H:%M:%S} bill {v.spent_reference}" if v.spent_at else ""
            vouchers.add_row(v.id, cents_text(v.amount_cents), f"{v.expires_at:%Y-%m-%d %H:%M:%S}", spent)
        console.print(vouchers)


@admin.command("issue-voucher")
def issue_voucher(
    tenant: str,
    yuan: str,
    days: Annotated[float, typer.Option(help="days the voucher stays valid")] = 30.0,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Issue a voucher worth YUAN to a tenant, valid for --days; it pays (part of) one prepaid bill."""
    from datetime import timedelta

    from openrds.domain.errors import OpenRDSError
    from openrds.domain.money import cents_text, yuan_to_cents

    identity, billing = _billing(config, data_dir)
    try:
        voucher = billing.issue_voucher(identity.tenant(tenant).id, yuan_to_cents(yuan), timedelta(days=days))
    except OpenRDSError as exc:
        _fail(exc)
        return
    console.print(
        f"voucher {voucher.id} worth {cents_text(voucher.amount_cents)} CNY, valid until "
        f"{voucher.expires_at:%Y-%m-%d %H:%M:%S} UTC",
        highlight=False,
    )


# --- quotas --------------------------------------------------------------------------------------
def _quotas(config: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    """(IdentityService, QuotaService) over the store; default limits from the settings (OPENRDS_QUOTA_*)."""
    from openrds.domain.quotas import Amounts
    from openrds.services.quotas import QuotaService

    settings, store, identity = _admin_store(config, data_dir)
    defaults = Amounts(settings.quota_instances, settings.quota_ro_groups, settings.quota_storage_gb)
    return identity, QuotaService(store, defaults)


def _print_quotas(tenant: str, view: object) -> None:
    from openrds.domain.quotas import QUOTAS

    v: Any = view  # services.quotas.QuotaView
    table = Table("quota", "limit", "used", "set for the tenant", title=f"quotas of {tenant}")
    for name, counts, unit in QUOTAS:
        own = getattr(v.overrides, name) is not None
        table.add_row(f"{name} ({counts})", f"{getattr(v.limits, name)}{unit}", f"{getattr(v.usage, name)}{unit}",
                      "yes" if own else "no (default)")
    console.print(table)


@admin.command("set-quota")
def set_quota(
    tenant: str,
    instances: Annotated[int | None, typer.Option(help="instances (not destroyed) the tenant may have")] = None,
    ro_groups: Annotated[int | None, typer.Option(help="read-only groups the tenant may have")] = None,
    storage_gb: Annotated[int | None, typer.Option(help="GB of storage the tenant's instances may have in all")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Give a tenant (name or id) its own limits; quotas not named keep theirs. Applies to the next create,
    also while the service runs; a limit below the current usage only stops new creates."""
    from openrds.domain.errors import OpenRDSError
    from openrds.domain.quotas import Overrides

    identity, quotas = _quotas(config, data_dir)
    try:
        found = identity.tenant(tenant)
        view = quotas.set(found.id, Overrides(instances, ro_groups, storage_gb))
    except OpenRDSError as exc:
        _fail(exc)
        return
    _print_quotas(found.name, view)


@admin.command("show-quota")
def show_quota(tenant: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Show a tenant's quota limits and what counts against them now."""
    from openrds.domain.errors import OpenRDSError

    identity, quotas = _quotas(config, data_dir)
    try:
        found = identity.tenant(tenant)
        view = quotas.show(found.id)
    except OpenRDSError as exc:
        _fail(exc)
        return
    _print_quotas(found.name, view)


# --- security groups (openrds.services.network) -------------------------------------------------
security_group = typer.Typer(help="Security groups: tenants' named lists of inbound rules (CIDR, ACCEPT/DROP), "
                             "bound to instances with ModifyDBInstanceSecurityGroups.", no_args_is_help=True)
admin.add_typer(security_group, name="security-group")


def _network(config: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    """(IdentityService, NetworkService) over the store; rule changes are enforced by the running service's
    job runner (the job is recorded here, picked up there)."""
    from openrds.clock import SystemClock
    from openrds.engine.kubernetes.access import WHY as KUBERNETES_WHY
    from openrds.jobs.kinds import KINDS
    from openrds.jobs.runner import JobQueue
    from openrds.services.network import NetworkService

    settings, store, identity = _admin_store(config, data_dir)
    clock = SystemClock()
    why = KUBERNETES_WHY if settings.driver == "kubernetes" else ""  # what the service's driver would say
    return identity, NetworkService(store, JobQueue(KINDS, clock), clock, lambda: why)


def _print_group(group: Any, bound: Any = ()) -> None:
    table = Table("#", "action", "CidrIp", "PortRange", "protocol", "description",
                  title=f"{group.id} {group.name} (project {group.project_id})" + (
                      f", bound to {', '.join(bound)}" if bound else ""))
    for number, rule in enumerate(group.inbound, 1):
        table.add_row(str(number), rule.action.value, rule.cidr, rule.port_range, rule.protocol.value, rule.description)
    console.print(table)


@security_group.command("create")
def security_group_create(
    tenant: str, name: str,
    description: Annotated[str, typer.Option(help="SecurityGroupDescription")] = "",
    project_id: Annotated[int, typer.Option(help="ProjectId")] = 0,
    config: ConfigOption = None, data_dir: DataDirOption = None,
) -> None:
    """Create a security group of a tenant (name or id), without rules (it admits nothing until given some)."""
    from openrds.domain.errors import OpenRDSError

    identity, network = _network(config, data_dir)
    try:
        group = network.create_group(identity.tenant(tenant).id, name, description, project_id)
    except OpenRDSError as exc:
        _fail(exc)
        return
    console.print(group.id, highlight=False)


@security_group.command("list")
def security_group_list(tenant: Annotated[str | None, typer.Argument()] = None,
                        config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """List security groups (of one tenant when named) with their rules."""
    from openrds.domain.errors import OpenRDSError

    identity, network = _network(config, data_dir)
    try:
        groups = network.groups(identity.tenant(tenant).id if tenant else None)
    except OpenRDSError as exc:
        _fail(exc)
        return
    for group in groups:
        _print_group(group, network.bound_resources(group.id))


@security_group.command("add-rule")
def security_group_add_rule(
    group_id: str, cidr: str,
    action: Annotated[str, typer.Option(help="ACCEPT or DROP")] = "ACCEPT",
    port_range: Annotated[str, typer.Option("--port", help="ALL, a port, first-last, or a list")] = "ALL",
    protocol: Annotated[str, typer.Option(help="TCP, UDP, ICMP or ALL")] = "TCP",
    description: Annotated[str, typer.Option(help="Description")] = "",
    position: Annotated[int | None, typer.Option(help="1-based place among the rules; default: last")] = None,
    config: ConfigOption = None, data_dir: DataDirOption = None,
) -> None:
    """Add an inbound rule (first match wins); enforced at once on everything the group is bound to."""
    from openrds.domain.errors import OpenRDSError
    from openrds.domain.security_groups import parse_rule

    _, network = _network(config, data_dir)
    try:
        rule = parse_rule(action, cidr, port_range, protocol, description)
        place = None if position is None else max(0, position - 1)
        group = network.set_rules(group_id, lambda rules: [*rules[:place], rule, *rules[place:]]
                                  if place is not None else [*rules, rule])
    except OpenRDSError as exc:
        _fail(exc)
        return
    _print_group(group)


@security_group.command("remove-rule")
def security_group_remove_rule(group_id: str, number: int, config: ConfigOption = None,
                               data_dir: DataDirOption = None) -> None:
    """Remove the rule at 1-based ``number`` (as `list` shows it); enforced at once, sessions of addresses
    no longer admitted ended."""
    from openrds.domain.errors import InvalidInput, OpenRDSError

    _, network = _network(config, data_dir)

    def without(rules: list[Any]) -> list[Any]:
        if not 1 <= number <= len(rules):
            raise InvalidInput(f"the group has {len(rules)} rules, no rule {number}", field="number")
        return rules[: number - 1] + rules[number:]

    try:
        group = network.set_rules(group_id, without)
    except OpenRDSError as exc:
        _fail(exc)
        return
    _print_group(group)


@security_group.command("delete")
def security_group_delete(group_id: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Delete a security group bound to nothing."""
    from openrds.domain.errors import OpenRDSError

    _, network = _network(config, data_dir)
    try:
        network.delete_group(group_id)
    except OpenRDSError as exc:
        _fail(exc)
        return
    console.print(f"deleted {group_id}", highlight=False)


kubernetes = typer.Typer(help="The kubernetes engine driver (CloudNativePG).", no_args_is_help=True)
app.add_typer(kubernetes, name="kubernetes")


@kubernetes.command("render")
def kubernetes_render(
    instance_id: Annotated[str, typer.Argument(help="the instance id (the Cluster's name)")],
    source: Annotated[str | None, typer.Option(help="render a read-only instance of this source")] = None,
    major: Annotated[int, typer.Option(help="PostgreSQL major (of the source for a read-only instance)")] = 16,
    cpu: int = 1,
    memory_mb: int = 2048,
    max_connections: int = 100,
    storage_gb: int = 20,
    charset: str = "UTF8",
    admin_user: Annotated[str, typer.Option(help="the tenant's admin (the source's for a read-only one)")] = "admin",
    config: ConfigOption = None,
) -> None:
    """Print the YAML documents the kubernetes driver would apply for a create (secret values redacted)."""
    import yaml  # type: ignore[import-untyped]  # PyYAML, via uvicorn[standard]; no stubs installed

    from openrds.engine.driver import EngineError, PrimaryRequest, ReplicaRequest, ServerRole, ServerSpec
    from openrds.engine.kubernetes import manifests

    settings = _settings(config, None)
    k8s = manifests.config_from_settings(settings, settings.k8s_namespace or "default")
    spec = ServerSpec(cpu=cpu, memory_mb=memory_mb, max_connections=max_connections, storage_gb=storage_gb)
    try:
        if source is None:
            request = PrimaryRequest(instance_id, major, spec, charset, admin_user, admin_password="x")
            documents = manifests.primary_manifests(request, k8s, superuser_password="x")
        else:
            view = manifests.ClusterView(source, ServerRole.PRIMARY, None, major, spec, admin_user, "", 1, 1, True,
                                         False, "", "")
            documents = manifests.replica_manifests(ReplicaRequest(instance_id, source, spec), view, k8s,
                                                    admin_password="x", superuser_password="x")
    except EngineError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    sys.stdout.write(yaml.safe_dump_all([manifests.redacted(d) for d in documents], sort_keys=False))


def main() -> None:
    app()
