"""The console's pages, live fragments and actions.

Pages are server-rendered (Jinja2); live parts are fragments htmx polls (topology, jobs) and a JSON
feed the lag charts poll. Every read is scoped to the signed-in tenant and every action goes through
the same services as the APIs, so the rules and errors are the same. Forms are plain
``application/x-www-form-urlencoded`` posts carrying the session's CSRF token; success answers
303 (post/redirect/get), failure renders the error with its status.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from openrds import __version__
from openrds.console import backups as backup_pages
from openrds.console import topology
from openrds.console.job_names import job_name
from openrds.console.security import PRESESSION_COOKIE, SESSION_COOKIE, Session, Signer
from openrds.container import Container
from openrds.domain.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound, OpenRDSError, SignInLocked
from openrds.domain.model import Instance, InstanceQuery
from openrds.domain.states import ChargeType, Lifecycle, MemberStatus, Role
from openrds.metrics import Metrics
from openrds.services.events import EventService
from openrds.services.instances import PrimaryOrder, ReadOnlyOrder

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
MAX_FORM_BYTES = 64 * 1024
PAGE_SIZE = 50
JOBS_SHOWN = 50
ALL = 100_000  # "every instance of the tenant" for the topology
#: The metrics layer refreshes its in-memory inventory after each monitor round (about once a second);
#: older than this (the monitor is not running) and the topology reads the store instead.
INVENTORY_MAX_AGE = 5.0

#: Pages the console shows, for the navigation bar.
NAV = (("topology", "Topology"), ("instances", "Instances"), ("lag", "Lag"), ("jobs", "Jobs"))


class Refusal(Exception):
    """An answer other than the page: a status and a message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _status_of(exc: OpenRDSError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, AuthenticationFailed):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, InvalidInput):
        return 400
    return 409


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _duration(job: Any) -> str:
    if job.started_at is None:
        return ""
    end = job.ended_at or job.updated_at
    return topology.fmt_seconds(max(0.0, (end - job.started_at).total_seconds()))


def _int(form: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = form.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Refusal(400, f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise Refusal(400, f"{name} must be between {low} and {high}")
    return value


@dataclass(frozen=True, slots=True)
class Page:
    """What every page template gets besides its own context."""

    session: Session | None
    csrf: str
    active: str


class Console:
    def __init__(self, container: Container, metrics: Metrics, signer: Signer, *, secure_cookies: bool = False) -> None:
        self.c = container
        self.history = metrics.history
        self.inventory = metrics.inventory
        self.signer = signer
        self.events = EventService(container.store)
        self.secure_cookies = secure_cookies
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True, auto_reload=False)
        self.env.globals.update(
            fmt_bytes=topology.fmt_bytes, fmt_seconds=topology.fmt_seconds, when=_when, duration=_duration,
            nav=NAV, version=__version__, job_name=job_name,
            vendor=self._vendor_files(),
        )

    @staticmethod
    def _vendor_files() -> dict[str, str]:
        """The vendored files' names (they carry their versions: see scripts/refresh-console-vendor.sh)."""
        found = {}
        for path in sorted((STATIC / "vendor").iterdir()):
            if path.name.startswith("htmx-") and path.suffix == ".js":
                found["htmx"] = path.name
            elif path.name.startswith("uPlot-") and path.name.endswith(".js"):
                found["uplot_js"] = path.name
            elif path.name.startswith("uPlot-") and path.name.endswith(".css"):
                found["uplot_css"] = path.name
        return found

    # --- rendering -----------------------------------------------------------------------------------
    def render(self, name: str, page: Page, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(page=page, **context)
        return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)

    def page(self, session: Session | None, active: str = "") -> Page:
        return Page(session, self.signer.csrf_token(session.nonce) if session else "", active)

    def refuse(self, request: Request, session: Session | None, refusal: Refusal) -> Response:
        if request.headers.get("hx-request") and refusal.status == 401:
            return Response(status_code=401, headers={"HX-Redirect": "/console/login"})
        response = self.render("error.html", self.page(session), refusal.status, message=refusal.message)
        if refusal.status == 413:
            # The rest of the body is left unread: the server closes the connection instead of draining it.
            response.headers["Connection"] = "close"
        return response

    # --- sessions ------------------------------------------------------------------------------------
    def secure(self, request: Request) -> bool:
        """Cookies get ``Secure`` when the console is reached over HTTPS (directly, or through a proxy
        uvicorn trusts for ``X-Forwarded-Proto``), or when mounted with ``secure_cookies``."""
        return self.secure_cookies or request.url.scheme == "https"

    def session(self, request: Request) -> Session | None:
        """The session of the request's cookie: well signed, not expired, and not signed out."""
        session = self.signer.read(request.cookies.get(SESSION_COOKIE))
        if session is None or self.c.identity.console_session_ended(session.nonce):
            return None
        return session

    def require(self, request: Request) -> Session:
        session = self.session(request)
        if session is None:
            raise Refusal(401, "Please sign in.")
        return session

    async def form(self, request: Request) -> dict[str, str]:
        """The posted form, read up to :data:`MAX_FORM_BYTES`: a longer declared ``Content-Length`` is
        refused before reading anything, a longer body (chunked) as soon as the count passes it."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/x-www-form-urlencoded", ""):
            raise Refusal(415, "forms are sent as application/x-www-form-urlencoded")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            raise Refusal(413, "the form is too large")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Refusal(413, "the form is too large")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise Refusal(400, "the form is not UTF-8") from None
        return dict(pairs)

    def same_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
            raise Refusal(403, "the form was posted from another site")

    async def posted(self, request: Request) -> tuple[Session, dict[str, str]]:
        """The session and form of a POST: signed in, same origin, with the session's CSRF token."""
        session = await run_in_threadpool(self.require, request)  # may read the store (sign-outs)
        self.same_origin(request)
        form = await self.form(request)
        if not self.signer.csrf_ok(session.nonce, form.get("csrf")):
            raise Refusal(403, "The form has expired or did not come from this console (CSRF token). "
                               "Reload the page and try again.")
        return session, form

    # --- data ----------------------------------------------------------------------------------------
    def tenant_instances(self, tenant_id: str) -> list[Instance]:
        return list(self.c.instances.describe(tenant_id, InstanceQuery(limit=ALL)).items)

    def trees(self, tenant_id: str) -> list[topology.Tree]:
        inventory = self.inventory.current()
        if inventory.fresh(INVENTORY_MAX_AGE):
            # What the monitor's last round refreshed: no store query per redraw (every 2 s per browser).
            instances = list(inventory.by_tenant.get(tenant_id, ()))
            groups = list(inventory.groups_by_tenant.get(tenant_id, ()))
        else:
            instances = self.tenant_instances(tenant_id)
            groups = [view.group for view in self.c.groups.describe(tenant_id)]
        evicted = [i.id for i in instances if i.group_id and i.member_status is MemberStatus.EVICTED]
        reasons: dict[str, str] = {}
        if evicted:
            codes = {i.id: i.code for i in instances}
            for resource, events in self.events.recent(tenant_id, evicted, limit=10).items():
                why = next((e.message for e in events if e.about_membership), "")
                if why:
                    reasons[codes[resource]] = why
        return topology.build(instances, self.c.monitor.snapshot(), groups, reasons)

    def lag_feed(self, tenant_id: str, replica: str | None, since: float | None) -> dict[str, Any]:
        snapshot = self.c.monitor.snapshot()
        mine = [code for code, server in snapshot.servers.items()
                if server.tenant_id == tenant_id and code in snapshot.links]
        if replica is not None:
            mine = [code for code in mine if code == replica]
        return {"now": time.time(), "taken_at": snapshot.taken_at.timestamp(),
                "series": [s.as_json() for s in self.history.series(sorted(mine), since=since)]}


_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # No inline or remote script: everything the page runs is under /console/static.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/topology"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def build_router(console: Console) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    c = console.c

    def guarded(handler: Callable[..., Response]) -> Callable[..., Response]:
        """Sync page handlers: a Refusal or a domain error becomes the error page."""

        @functools.wraps(handler)
        def run(request: Request, *args: Any, **kwargs: Any) -> Response:
            try:
                return handler(request, *args, **kwargs)
            except Refusal as refusal:
                if refusal.status == 401 and not request.headers.get("hx-request"):
                    return _see_other("/console/login?" + urlencode({"next": request.url.path}))
                return console.refuse(request, console.session(request), refusal)
            except OpenRDSError as exc:
                return console.refuse(request, console.session(request), Refusal(_status_of(exc), exc.message))

        return run

    async def act(request: Request, action: Callable[[Session, dict[str, str]], str]) -> Response:
        """A POST: check session and CSRF, run ``action`` off the loop, redirect where it says."""
        session: Session | None = None
        try:
            session, form = await console.posted(request)
            bound_session = session
            target = await run_in_threadpool(lambda: action(bound_session, form))
            return _see_other(target)
        except Refusal as refusal:
            return console.refuse(request, session or console.session(request), refusal)
        except OpenRDSError as exc:
            return console.refuse(request, session, Refusal(_status_of(exc), exc.message))

    # --- sign-in -------------------------------------------------------------------------------------
    @router.get("")
    @router.get("/")
    def home() -> Response:
        return _see_other("/console/topology")

    @router.get("/login")
    def login_page(request: Request, next: str | None = None) -> Response:
        return _login_form(request, next_url=_safe_next(next))

    def _login_form(request: Request, *, next_url: str, status: int = 200, message: str = "",
                    domain: str = "", user: str = "") -> Response:
        nonce = request.cookies.get(PRESESSION_COOKIE) or ""
        fresh = len(nonce) < 16
        if fresh:
            nonce = secrets.token_urlsafe(16)
        response = console.render("login.html", console.page(None), status, message=message, next_url=next_url,
                                  token=console.signer.csrf_token("login:" + nonce), domain=domain, user=user)
        if fresh:
            response.set_cookie(PRESESSION_COOKIE, nonce, httponly=True, samesite="strict", path="/console",
                                secure=console.secure(request))
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        try:
            console.same_origin(request)
            form = await console.form(request)
        except Refusal as refusal:
            return console.refuse(request, None, refusal)
        next_url = _safe_next(form.get("next"))
        nonce = request.cookies.get(PRESESSION_COOKIE) or ""
        if not nonce or not console.signer.csrf_ok("login:" + nonce, form.get("csrf")):
            return _login_form(request, next_url=next_url, status=403,
                               message="The sign-in form expired; please try again.")
        domain, user, password = form.get("domain", "").strip(), form.get("user", "").strip(), form.get("password", "")
        if not user or not password:
            return _login_form(request, next_url=next_url, status=400, message="Enter a user name and password.",
                               domain=domain, user=user)
        domain = domain or user  # Huawei's convention: the first user's account has its name
        address = request.client.host if request.client else "-"
        try:
            found = await c.signin.authenticate(domain, user, password, address)
        except SignInLocked as locked:
            minutes = max(1, round(locked.retry_after / 60))
            response = _login_form(request, next_url=next_url, status=429, domain=domain, user=user,
                                   message=f"Too many failed sign-ins. Try again in about {minutes} min.")
            response.headers["Retry-After"] = str(int(locked.retry_after) + 1)
            return response
        except AuthenticationFailed:
            return _login_form(request, next_url=next_url, status=401, domain=domain, user=user,
                               message="The account, user name or password is wrong.")
        cookie, _ = console.signer.issue(user_id=found.id, tenant_id=found.tenant_id, domain=found.domain,
                                         user=found.name)
        response = _see_other(next_url)
        response.set_cookie(SESSION_COOKIE, cookie, max_age=int(console.signer.ttl_seconds), httponly=True,
                            samesite="lax", path="/console", secure=console.secure(request))
        response.delete_cookie(PRESESSION_COOKIE, path="/console")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        try:
            session, _ = await console.posted(request)
        except Refusal as refusal:
            return console.refuse(request, console.session(request), refusal)
        # Recorded in the store: the cookie, if kept (or copied), opens nothing any more, in any process.
        await run_in_threadpool(c.identity.end_console_session, session.nonce,
                                datetime.fromtimestamp(session.expires, UTC))
        response = _see_other("/console/login")
        response.delete_cookie(SESSION_COOKIE, path="/console")
        return response

    # --- topology ------------------------------------------------------------------------------------
    @router.get("/topology")
    @guarded
    def topology_page(request: Request) -> Response:
        session = console.require(request)
        return console.render("topology.html", console.page(session, "topology"),
                              trees=console.trees(session.tenant_id), snapshot=c.monitor.snapshot())

    @router.get("/fragments/topology")
    @guarded
    def topology_fragment(request: Request) -> Response:
        session = console.require(request)
        return console.render("_topology.html", console.page(session, "topology"),
                              trees=console.trees(session.tenant_id), snapshot=c.monitor.snapshot())

    # --- instances -----------------------------------------------------------------------------------
    @router.get("/instances")
    @guarded
    def instances_page(request: Request) -> Response:
        session = console.require(request)
        q = request.query_params
        filters = {k: q.get(k, "").strip() for k in ("name", "role", "status", "charge")}
        raw_offset = q.get("offset", "0")
        offset = min(int(raw_offset), 10**9) if raw_offset.isdigit() else 0
        query = InstanceQuery(
            name_contains=(filters["name"],) if filters["name"] else (),
            roles=(filters["role"],) if filters["role"] in (Role.PRIMARY, Role.READONLY) else (),
            lifecycles=(filters["status"],) if filters["status"] in set(Lifecycle) else (),
            charge_types=(filters["charge"],) if filters["charge"] in set(ChargeType) else (),
            offset=offset, limit=PAGE_SIZE, order_by="created", descending=True)
        result = c.instances.describe(session.tenant_id, query)
        pages = {"prev": max(0, offset - PAGE_SIZE) if offset else None,
                 "next": offset + PAGE_SIZE if offset + PAGE_SIZE < result.total else None}
        base = {k: v for k, v in filters.items() if v}
        return console.render(
            "instances.html", console.page(session, "instances"), result=result, filters=filters, pages=pages,
            page_query=lambda off: urlencode({**base, "offset": off}), catalogue=c.catalogue,
            lifecycles=[s.value for s in Lifecycle if s is not Lifecycle.DELETED], charge_types=list(ChargeType),
            snapshot=c.monitor.snapshot())

    @router.post("/instances")
    async def create_primary(request: Request) -> Response:
        def action(session: Session, form: dict[str, str]) -> str:
            region, _, zone = form.get("zone", "").partition("|")
            created = c.instances.create_primaries(session.tenant_id, PrimaryOrder(
                region=region, zone=zone, spec_code=form.get("spec", ""),
                storage_gb=_int(form, "storage", 10, 1, 100_000), admin_user=form.get("admin_user", "").strip(),
                admin_password=form.get("admin_password", ""), count=_int(form, "count", 1, 1, 100),
                period_months=_int(form, "period", 1, 1, 120), charge_type=form.get("charge_type") or None,
                version=form.get("version") or None, name=form.get("name", "").strip(),
            ))
            return f"/console/jobs?job={created.job.id}" if created.job else "/console/instances"

        return await act(request, action)

    @router.get("/instances/{code}")
    @guarded
    def instance_page(request: Request, code: str) -> Response:
        session = console.require(request)
        tenant = session.tenant_id
        instance = c.instances.get(tenant, code)
        snapshot = c.monitor.snapshot()
        master = c.instances.get(tenant, instance.master_id) if instance.master_id else None
        replicas = c.instances.replicas(tenant, instance.id) if instance.role is Role.PRIMARY else []
        primary = instance if instance.role is Role.PRIMARY else None
        if primary is None and master is not None:
            primary = master if master.role is Role.PRIMARY else None
        groups = [v.group for v in c.groups.describe(tenant, master=primary.id)] if primary is not None else []
        events = console.events.recent(tenant, [instance.id], limit=20).get(instance.id, [])
        jobs = c.jobs.list(tenant, instance=instance.id, limit=10)
        return console.render(
            "instance.html", console.page(session, "instances"), instance=instance, master=master,
            replicas=replicas, groups=groups, events=events, jobs=jobs, server=snapshot.servers.get(instance.code),
            link=snapshot.links.get(instance.code), catalogue=c.catalogue)

    @router.post("/instances/{code}/replicas")
    async def create_replicas(request: Request, code: str) -> Response:
        def action(session: Session, form: dict[str, str]) -> str:
            master = c.instances.get(session.tenant_id, code)
            created = c.instances.create_readonly(session.tenant_id, ReadOnlyOrder(
                region=master.region, master=master.id, spec_code=form.get("spec", "") or master.spec_code,
                count=_int(form, "count", 1, 1, 100), group_id=form.get("group") or None,
                name=form.get("name", "").strip(), charge_type=form.get("charge_type") or master.charge_type.value,
                period_months=_int(form, "period", 1, 1, 120),
            ))
            return f"/console/jobs?job={created.job.id}" if created.job else f"/console/instances/{code}"

        return await act(request, action)

    def _transition(name: str, run: Callable[[str, str], Any]) -> None:
        async def handler(request: Request, code: str) -> Response:
            def action(session: Session, _form: dict[str, str]) -> str:
                job = run(session.tenant_id, code)
                job = job[0] if isinstance(job, list) else job
                return f"/console/jobs?job={job.id}"

            return await act(request, action)

        router.add_api_route(f"/instances/{{code}}/{name}", handler, methods=["POST"], name=f"console_{name}")

    _transition("restart", lambda tenant, code: c.instances.restart(tenant, code))
    _transition("isolate", lambda tenant, code: c.instances.isolate(tenant, [code]))
    # A read-only instance becomes a standalone writable primary (Trove's detach); the page confirms first.
    _transition("promote", lambda tenant, code: c.instances.promote(tenant, code))
    # Destroy is immediate from running too (the Huawei face's DELETE): stop, remove, forget; a primary
    # takes its read-only instances with it. The page asks for confirmation first.
    _transition("destroy", lambda tenant, code: c.instances.delete_now(tenant, code))

    @router.post("/instances/{code}/group")
    async def group_membership(request: Request, code: str) -> Response:
        def action(session: Session, form: dict[str, str]) -> str:
            group_id = form.get("group", "").strip()
            if not group_id:
                raise Refusal(400, "choose a read-only group")
            if form.get("op") == "remove":
                c.groups.remove_member(session.tenant_id, code, group_id)
            else:
                c.groups.add_member(session.tenant_id, code, group_id)
            return f"/console/instances/{code}"

        return await act(request, action)

    backup_pages.add_routes(router, console, guarded, act)  # an instance's backups, window and restore form

    # --- lag -----------------------------------------------------------------------------------------
    @router.get("/lag")
    @guarded
    def lag_page(request: Request) -> Response:
        session = console.require(request)
        snapshot = c.monitor.snapshot()
        replicas = [i for i in console.tenant_instances(session.tenant_id) if i.role is Role.READONLY]
        return console.render("lag.html", console.page(session, "lag"), replicas=replicas, links=snapshot.links)

    @router.get("/api/lag")
    def lag_feed(request: Request, replica: str | None = None, since: float | None = None) -> Response:
        session = console.session(request)
        if session is None:
            return JSONResponse({"error": "sign in"}, status_code=401, headers={"Cache-Control": "no-store"})
        return JSONResponse(console.lag_feed(session.tenant_id, replica, since), headers={"Cache-Control": "no-store"})

    # --- jobs ----------------------------------------------------------------------------------------
    @router.get("/jobs")
    @guarded
    def jobs_page(request: Request, job: str | None = None) -> Response:
        session = console.require(request)
        return console.render("jobs.html", console.page(session, "jobs"),
                              jobs=c.jobs.list(session.tenant_id, limit=JOBS_SHOWN), highlight=job or "")

    @router.get("/fragments/jobs")
    @guarded
    def jobs_fragment(request: Request, job: str | None = None) -> Response:
        session = console.require(request)
        return console.render("_jobs.html", console.page(session, "jobs"),
                              jobs=c.jobs.list(session.tenant_id, limit=JOBS_SHOWN), highlight=job or "")

    return router
