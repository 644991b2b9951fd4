"""The console's pages and rules in process, over a real store and a made-up monitor snapshot (no
PostgreSQL server, no job runner): sign-in and its throttle, cookies, CSRF, what each tenant sees,
the topology's content, the lag feed, and actions reaching the services."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.support.service import destroy_servers

from openrds.api.app import create_app
from openrds.container import Container, build
from openrds.domain.model import Instance, ReadOnlyGroup
from openrds.domain.states import Lifecycle, MemberStatus
from openrds.monitoring.snapshot import Snapshot
from openrds.services.signin import SignInThrottle
from openrds.settings import Settings

from . import rows

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from fastapi.testclient import TestClient

PASSWORD = "Console-Passw0rd!"


@dataclass
class World:
    container: Container
    client: TestClient
    tenant_a: str
    tenant_b: str
    primary: Instance
    replica: Instance
    cascade: Instance
    evicted: Instance
    group: ReadOnlyGroup
    snapshot: Snapshot

    def sign_in(self, user: str, password: str = PASSWORD, *, client: TestClient | None = None) -> TestClient:
        client = client or self.client
        page = client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        client.post("/console/login", data={"csrf": token, "user": user, "password": password},
                    follow_redirects=False)
        return client

    def csrf(self, client: TestClient | None = None) -> str:
        page = (client or self.client).get("/console/topology")
        return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


@pytest.fixture
def world() -> Iterator[World]:
    root = Path(tempfile.mkdtemp(prefix="ordc-"))
    container = build(Settings(data_dir=root / "data"))
    try:
        identity = container.identity
        a = identity.create_tenant("alpha")
        container.billing.top_up(a.id, 100_000)  # purchases are paid from the balance (1000 yuan)
        identity.create_iam_user(a.id, "alice", "alice", PASSWORD)
        container.billing.top_up(a.id, 1_000_000, note="console tests")  # money rules must not be what refuses
        b = identity.create_tenant("beta")
        identity.create_iam_user(b.id, "bob", "bob", PASSWORD)
        primary = rows.primary(a.id, name="orders")
        group = rows.group(primary, name="readers")
        replica = rows.member(rows.replica(primary), group)
        evicted = rows.member(rows.replica(primary), group, MemberStatus.EVICTED)
        cascade = rows.replica(replica)
        other = rows.primary(b.id, name="theirs")
        everything = [primary, replica, evicted, cascade, other]
        with container.store.write() as uow:
            for instance in everything:
                uow.instances(instance.tenant_id).add(instance)
            uow.groups(a.id).add(group)
            uow.events.add(a.id, evicted.id, "group.evicted", "replay lag 42 s over the group's 10 s",
                           datetime.now(UTC))
        snap = rows.snapshot(everything, lag={replica.code: (3 * 1024 * 1024, 2.5), evicted.code: (90_000_000, 42.0)})
        container.monitor.snapshot = lambda: snap  # type: ignore[method-assign]
        app = create_app(container, manage_background=False)
        app.state.metrics.history.observe(snap)
        with TestClient(app, base_url="http://testserver") as client:
            yield World(container, client, a.id, b.id, primary, replica, cascade, evicted, group, snap)
    finally:
        container.stop()
        destroy_servers(root / "data")  # console actions may have started a group endpoint
        shutil.rmtree(root, ignore_errors=True)


# --- sign-in, cookies ------------------------------------------------------------------------------
def test_pages_need_a_session(world: World) -> None:
    answer = world.client.get("/console/topology", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login?next=%2Fconsole%2Ftopology"
    fragment = world.client.get("/console/fragments/jobs", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"] == "/console/login"
    assert world.client.get("/console/api/lag").status_code == 401


def test_sign_in_sets_a_signed_httponly_samesite_cookie(world: World) -> None:
    page = world.client.get("/console/login")
    assert "httponly" in page.headers["set-cookie"].lower()
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = world.client.post("/console/login", data={"csrf": token, "user": "alice", "password": PASSWORD,
                                                       "next": "/console/jobs"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/jobs"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("openrds_console="))
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=lax" in flags and "path=/console" in flags
    assert world.client.get("/console/topology").status_code == 200
    # A tampered cookie is no session.
    value = world.client.cookies.get("openrds_console")
    assert value
    world.client.cookies.set("openrds_console", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"),
                             path="/console")
    assert world.client.get("/console/topology", follow_redirects=False).status_code == 303


def test_the_next_page_after_sign_in_stays_on_the_console(world: World) -> None:
    page = world.client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = world.client.post("/console/login", data={"csrf": token, "user": "alice", "password": PASSWORD,
                                                       "next": "//evil.example/x"}, follow_redirects=False)
    assert answer.headers["location"] == "/console/topology"


def test_failed_sign_ins_are_slowed_then_locked(world: World) -> None:
    throttle = SignInThrottle(free_failures=1, lock_after=3, max_delay=0.2, lock_seconds=60)
    world.container.signin.throttle = throttle

    def attempt(password: str) -> tuple[int, float]:
        page = world.client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        started = time.monotonic()
        answer = world.client.post("/console/login", data={"csrf": token, "user": "alice", "password": password},
                                   follow_redirects=False)
        return answer.status_code, time.monotonic() - started

    assert attempt("wrong-1")[0] == 401
    status, took = attempt("wrong-2")
    assert status == 401 and took >= 0.2  # slowed
    assert attempt("wrong-3")[0] == 401  # the third failure locks
    status, _ = attempt(PASSWORD)
    assert status == 429  # locked, even with the right password
    page = world.client.get("/console/login")
    assert "openrds_console=" not in page.headers.get("set-cookie", "")
    # Another user is not locked by alice's failures.
    world.sign_in("bob")
    assert world.client.get("/console/topology").status_code == 200


# --- one throttle for every password check: the console and Huawei IAM ---------------------------
#: Short waits, so a lock takes three failures and under half a second.
FAST_THROTTLE = {"free_failures": 1, "lock_after": 3, "max_delay": 0.2, "lock_seconds": 60}


def iam_token(world: World, user: str, password: str) -> httpx.Response:
    return world.client.post("/v3/auth/tokens", json={"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "password": password, "domain": {"name": user}}}}}})


def console_sign_in(world: World, user: str, password: str) -> int:
    page = world.client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return world.client.post("/console/login", data={"csrf": token, "user": user, "password": password},
                             follow_redirects=False).status_code


def test_wrong_passwords_on_iam_lock_the_user_on_both_faces(world: World) -> None:
    world.container.signin.throttle = SignInThrottle(**FAST_THROTTLE)
    assert [iam_token(world, "alice", f"wrong-{i}").status_code for i in range(3)] == [401, 401, 401]
    refused = iam_token(world, "alice", PASSWORD)  # the right password, locked
    assert refused.status_code == 429 and "X-Subject-Token" not in refused.headers
    error = refused.json()["error"]
    assert error["code"] == 429 and error["title"] == "Too Many Requests"
    assert "too many failed sign-ins" in error["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    assert console_sign_in(world, "alice", PASSWORD) == 429  # IAM's failures lock the console too
    assert iam_token(world, "bob", PASSWORD).status_code == 201  # another user is not locked


def test_failed_console_sign_ins_lock_iam(world: World) -> None:
    world.container.signin.throttle = SignInThrottle(**FAST_THROTTLE)
    assert [console_sign_in(world, "alice", f"wrong-{i}") for i in range(3)] == [401, 401, 401]
    assert iam_token(world, "alice", PASSWORD).status_code == 429


def test_guesses_sent_at_once_are_counted_one_after_another(world: World) -> None:
    world.container.signin.throttle = SignInThrottle(**FAST_THROTTLE)
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda i: iam_token(world, "alice", f"wrong-{i}").status_code, range(8)))
    assert statuses == [401] * 3 + [429] * 5  # three failures lock, however many were already on the way


def test_throttle_unlocks_after_the_lock_and_forgets_on_success() -> None:
    now = [1000.0]
    throttle = SignInThrottle(free_failures=2, lock_after=4, lock_seconds=30, max_delay=8, now=lambda: now[0])
    keys = SignInThrottle.keys("Acme", "Alice", "10.0.0.1")
    assert keys[0] == "user:acme/alice"
    delays = []
    for _ in range(3):
        delays.append(throttle.check(keys).delay)
        throttle.failed(keys)
    assert delays == [0, 0, 1]
    assert throttle.check(keys).delay == 2
    throttle.failed(keys)  # the fourth
    assert throttle.check(keys).locked_for == pytest.approx(30)
    now[0] += 31
    verdict = throttle.check(keys)
    assert verdict.locked_for == 0 and verdict.delay > 0  # unlocked, still slowed
    throttle.succeeded(keys)
    assert throttle.check(keys[:1]).delay == 0
    assert throttle.check(keys[1:]).delay > 0  # the address keeps its record


def test_sign_out_needs_the_token_and_ends_the_session(world: World) -> None:
    world.sign_in("alice")
    assert world.client.post("/console/logout", data={}, follow_redirects=False).status_code == 403
    answer = world.client.post("/console/logout", data={"csrf": world.csrf()}, follow_redirects=False)
    assert answer.status_code == 303
    assert world.client.get("/console/topology", follow_redirects=False).status_code == 303


# --- CSRF ------------------------------------------------------------------------------------------
def test_posts_without_the_sessions_token_are_refused(world: World) -> None:
    world.sign_in("alice")
    url = f"/console/instances/{world.primary.code}/restart"
    assert world.client.post(url, data={}).status_code == 403
    assert world.client.post(url, data={"csrf": "x" * 43}).status_code == 403
    other = TestClient(world.client.app, base_url="http://testserver")
    bob_token = world.csrf(world.sign_in("bob", client=other))
    assert world.client.post(url, data={"csrf": bob_token}).status_code == 403  # another session's token
    cross = world.client.post(url, data={"csrf": world.csrf()}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    with world.container.store.read() as uow:
        assert uow.instances(None).find(world.primary.id).lifecycle is Lifecycle.RUNNING
        assert uow.jobs.unfinished() == []


def test_sign_in_form_without_its_token_is_refused(world: World) -> None:
    answer = world.client.post("/console/login", data={"user": "alice", "password": PASSWORD})
    assert answer.status_code == 403
    assert "openrds_console=" not in answer.headers.get("set-cookie", "")


# --- what a tenant sees ----------------------------------------------------------------------------
def test_topology_draws_the_tree_with_lag_and_group_places(world: World) -> None:
    world.sign_in("alice")
    html = world.client.get("/console/topology").text
    p, r, c, e = world.primary.code, world.replica.code, world.cascade.code, world.evicted.code
    for code in (p, r, c, e):
        assert f'data-testid="node-{code}"' in html
    assert re.search(rf'data-testid="edge-{c}" data-source="{r}"', html)  # the cascade under its replica
    assert re.search(rf'data-testid="lag-{r}" data-bytes="3145728" data-seconds="2.500"[^>]*>3.0 MiB · 2.5 s<', html)
    assert re.search(rf'data-testid="lag-{e}" data-bytes="90000000" [^>]*>85.8 MiB · 42.0 s<', html)
    assert re.search(rf'class="edge warn" data-testid="edge-{e}"', html)
    assert re.search(rf'data-testid="member-{e}" data-group="[^"]+" data-status="evicted"', html)
    assert "replay lag 42 s over the group&#39;s 10 s" in html  # why, from the events
    assert "127.0.0.1:" in html and world.group.name in html
    assert "theirs" not in html
    headers = world.client.get("/console/topology").headers
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"


def test_another_tenant_sees_nothing_of_the_first(world: World) -> None:
    world.sign_in("bob")
    codes = [world.primary.code, world.replica.code, world.cascade.code]
    for path in ("/console/topology", "/console/instances", "/console/jobs", "/console/lag",
                 "/console/fragments/topology", "/console/api/lag"):
        body = world.client.get(path).text
        assert not any(code in body for code in codes), path
    assert world.client.get(f"/console/instances/{codes[0]}").status_code == 404
    token = world.csrf()
    for action in ("restart", "isolate", "destroy"):
        answer = world.client.post(f"/console/instances/{codes[0]}/{action}", data={"csrf": token})
        assert answer.status_code == 404, action
    with world.container.store.read() as uow:
        assert uow.jobs.unfinished() == []


def test_instances_filters(world: World) -> None:
    world.sign_in("alice")
    everything = world.client.get("/console/instances").text
    replicas = world.client.get("/console/instances", params={"role": "readonly"}).text
    by_name = world.client.get("/console/instances", params={"name": "orders"}).text
    p, r = world.primary.code, world.replica.code
    assert f"row-{p}" in everything and f"row-{r}" in everything and "4 instance(s)" in everything
    assert f"row-{p}" not in replicas and f"row-{r}" in replicas
    assert f"row-{p}" in by_name and f"row-{r}" not in by_name
    assert "No instances match" in world.client.get("/console/instances", params={"status": "isolated"}).text


def test_lag_feed_serves_the_tenants_history_only(world: World) -> None:
    history = world.client.app.state.metrics.history  # type: ignore[attr-defined]
    later = rows.snapshot([world.primary, world.replica], taken_at=world.snapshot.taken_at + timedelta(seconds=1),
                          lag={world.replica.code: (5_000_000, 4.0)})
    history.observe(world.snapshot)
    history.observe(later)
    world.sign_in("alice")
    feed = world.client.get("/console/api/lag").json()
    series = {s["replica"]: s for s in feed["series"]}
    r = world.replica.code
    assert r in series and series[r]["source"] == world.primary.code
    assert series[r]["bytes"][-1] == 5_000_000 and series[r]["seconds"][-1] == 4.0
    since = world.client.get("/console/api/lag", params={"since": series[r]["t"][-1]}).json()
    assert all(not s["t"] for s in since["series"])
    world.sign_in("bob")
    assert world.client.get("/console/api/lag").json()["series"] == []


# --- actions ---------------------------------------------------------------------------------------
def test_actions_go_through_the_services(world: World) -> None:
    world.sign_in("alice")
    token = world.csrf()
    p = world.primary.code
    answer = world.client.post(f"/console/instances/{p}/replicas",
                               data={"csrf": token, "count": "2", "spec": "pg.it.small2"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert re.fullmatch(r"/console/jobs\?job=[0-9a-f]{32}", answer.headers["location"])
    job_id = answer.headers["location"].rsplit("=", 1)[1]
    page = world.client.get(answer.headers["location"]).text
    assert f'data-testid="job-{job_id}" data-state="pending" data-kind="create_replicas"' in page
    # The services' own rules answer: the master allows 6 read-only instances, it now has 5.
    refused = world.client.post(f"/console/instances/{p}/replicas", data={"csrf": token, "count": "3"})
    assert refused.status_code == 409 and "at most 6" in refused.text
    bad_spec = world.client.post(f"/console/instances/{p}/replicas", data={"csrf": token, "spec": "pg.nope"})
    assert bad_spec.status_code == 400 and "pg.nope" in bad_spec.text
    # Group membership: take the in-rotation member out.
    r, g = world.replica.code, world.group.id
    moved = world.client.post(f"/console/instances/{r}/group", data={"csrf": token, "op": "remove", "group": g},
                              follow_redirects=False)
    assert moved.status_code == 303
    with world.container.store.read() as uow:
        assert uow.instances(None).find(r).group_id is None  # type: ignore[union-attr]
    # Its finished flow is listed by name, like every job (console.job_names), not by its stored kind.
    jobs_page = world.client.get("/console/jobs").text
    assert 'data-kind="remove_from_read_only_group"' in jobs_page
    assert "<td>Remove from read-only group</td>" in jobs_page and "<td>Create read-only instances</td>" in jobs_page
    # A primary from the form.
    created = world.client.post("/console/instances", data={
        "csrf": token, "zone": "ap-beijing|ap-beijing-4", "spec": "pg.it.small2", "storage": "10",
        "charge_type": "POSTPAID_BY_HOUR", "admin_user": "dbadmin", "admin_password": "Secret-Passw0rd1",
        "name": "from-the-form"}, follow_redirects=False)
    assert created.status_code == 303, created.text
    assert "from-the-form" in world.client.get("/console/instances", params={"name": "from-the-form"}).text
    weak = world.client.post("/console/instances", data={
        "csrf": token, "zone": "ap-beijing|ap-beijing-4", "spec": "pg.it.small2", "admin_user": "dbadmin",
        "admin_password": "short"})
    assert weak.status_code == 400


def test_destroy_takes_the_primarys_replicas_with_it(world: World) -> None:
    world.sign_in("alice")
    p = world.primary.code
    detail = world.client.get(f"/console/instances/{p}").text
    assert re.search(r'data-confirm="Destroy [^"]*and its 2 read-only instance\(s\)', detail)
    answer = world.client.post(f"/console/instances/{p}/destroy", data={"csrf": world.csrf()}, follow_redirects=False)
    assert answer.status_code == 303
    with world.container.store.read() as uow:
        states = {i.code: i.lifecycle for i in uow.instances(world.tenant_a).list()}
    assert states[p] is Lifecycle.DELETING and states[world.replica.code] is Lifecycle.DELETING
