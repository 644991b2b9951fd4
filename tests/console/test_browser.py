"""The console in a real headless Chromium against the whole service (in this process, over the fake
engine: the pages are the subject, not PostgreSQL; the lag they draw comes from the fake's WAL
positions through the real monitor, group eviction and lag feed).

One service and one estate for the module: primary P, replica R (in a read-only group) and a cascade
C streaming from R. The tests run in file order: the create/destroy and pause tests change the estate
in ways the later ones account for. Screenshots of each page land in `estate.screenshot_dir()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import IAM_PASSWORD, IAM_USER, RunningService, wait_for

from .estate import Estate, add_tenant, build_estate, open_store, screenshot_dir

pytestmark = pytest.mark.timeout(300)

LAG_LABEL = re.compile(r"^\d+(\.\d)? (B|KiB|MiB|GiB|TiB) · .+ s$")
JOB_TIMEOUT_MS = 120_000
created: dict[str, str] = {}  # what one test made for the next


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service(driver=FakeDriver()) as running:
        yield running


def fake_engine(estate: Estate) -> FakeDriver:
    driver = estate.service.container.driver  # type: ignore[attr-defined]  # an InProcessService
    assert isinstance(driver, FakeDriver)
    return driver


def write_on(estate: Estate, megabytes: int) -> None:
    """A client writes ``megabytes`` of WAL on the primary."""
    fake_engine(estate).write(estate.primary.code, megabytes * 1024 * 1024)


@pytest.fixture(scope="module")
def estate(service: RunningService) -> Estate:
    return build_estate(service, "shop")


def new_context(browser: Browser, service: RunningService) -> BrowserContext:
    context = browser.new_context(base_url=service.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    return context


def sign_in(page: Page, user: str, password: str, domain: str = "") -> None:
    page.goto("/console/login")
    page.fill("input[name=domain]", domain)
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", password)
    page.click("form[data-testid=login-form] button[type=submit]")


page_errors: list[str] = []  # script errors and CSP refusals seen by the signed-in context


@pytest.fixture(scope="module")
def context(browser: Browser, service: RunningService, estate: Estate) -> Iterator[BrowserContext]:
    """A context signed in as the bootstrap tenant's IAM user; it records every error a page logs."""
    context = new_context(browser, service)
    context.on("console", lambda message: page_errors.append(message.text) if message.type == "error" else None)
    context.on("weberror", lambda error: page_errors.append(str(error.error)))
    page = context.new_page()
    sign_in(page, IAM_USER, IAM_PASSWORD)
    expect(page).to_have_url(re.compile(r"/console/topology$"))
    page.close()
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(autouse=True)
def no_page_errors() -> Iterator[None]:
    """No test may leave a script error or a Content-Security-Policy refusal behind."""
    page_errors.clear()
    yield
    assert page_errors == [], page_errors


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshot_dir() / f"{name}.png"), full_page=True)


def lag_bytes(page: Page, code: str) -> int:
    """The byte lag the topology page shows on the edge into ``code``."""
    value = page.get_by_test_id(f"lag-{code}").get_attribute("data-bytes")
    return int(value) if value else -1


# --- sign-in ---------------------------------------------------------------------------------------
def test_sign_in_with_the_tenants_iam_user(browser: Browser, service: RunningService, estate: Estate) -> None:
    context = new_context(browser, service)
    try:
        page = context.new_page()
        page.goto("/console/topology")
        expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Ftopology$"))
        shot(page, "login")
        sign_in(page, IAM_USER, "not-the-password")
        expect(page.get_by_test_id("login-error")).to_contain_text("wrong")
        sign_in(page, IAM_USER, IAM_PASSWORD)
        expect(page).to_have_url(re.compile(r"/console/topology$"))
        expect(page.get_by_test_id("who")).to_have_text(f"{IAM_USER}/{IAM_USER}")
        cookie = next(c for c in context.cookies() if c["name"] == "openrds_console")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie
    finally:
        context.close()


# --- topology --------------------------------------------------------------------------------------
def test_topology_shows_primary_replica_and_cascade_with_lag_on_every_edge(page: Page, estate: Estate) -> None:
    p, r, c = estate.primary.code, estate.replica.code, estate.cascade.code
    page.goto("/console/topology")
    for code in (p, r, c):
        expect(page.get_by_test_id(f"node-{code}")).to_be_visible()
    expect(page.get_by_test_id(f"edge-{r}")).to_have_attribute("data-source", p)
    expect(page.get_by_test_id(f"edge-{c}")).to_have_attribute("data-source", r)  # the cascade hangs under R
    for code in (r, c):
        expect(page.get_by_test_id(f"lag-{code}")).to_have_text(LAG_LABEL, timeout=15_000)
        expect(page.get_by_test_id(f"lag-{code}")).to_have_attribute("data-state", "streaming")
    member = page.get_by_test_id(f"member-{r}")
    expect(member).to_have_attribute("data-status", "in_rotation")
    expect(member).to_contain_text("in rotation")
    expect(page.get_by_test_id(f"group-{estate.group_id}")).to_be_visible()
    shot(page, "topology")


def test_instances_list_with_filters(page: Page, estate: Estate) -> None:
    p, r, c = estate.primary.code, estate.replica.code, estate.cascade.code
    page.goto("/console/instances")
    for code in (p, r, c):
        expect(page.get_by_test_id(f"row-{code}")).to_be_visible()
    row = page.get_by_test_id(f"row-{p}")
    expect(row).to_contain_text("running")
    expect(row).to_contain_text("POSTPAID_BY_HOUR")
    expect(row).to_contain_text(f":{estate.primary.port}")
    shot(page, "instances")
    page.select_option("form[data-testid=filters] select[name=role]", "readonly")
    page.click("form[data-testid=filters] button[type=submit]")
    expect(page.get_by_test_id(f"row-{r}")).to_be_visible()
    expect(page.get_by_test_id(f"row-{c}")).to_be_visible()
    expect(page.get_by_test_id(f"row-{p}")).to_have_count(0)


# --- actions ---------------------------------------------------------------------------------------
def test_create_a_replica_from_the_page_and_watch_its_job(page: Page, estate: Estate) -> None:
    page.goto(f"/console/instances/{estate.primary.code}")
    shot(page, "instance-primary")
    form = page.get_by_test_id("create-replicas")
    form.locator("input[name=count]").fill("1")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/jobs\?job=[0-9a-f]{32}$"))
    job_id = page.url.rsplit("=", 1)[1]
    row = page.get_by_test_id(f"job-{job_id}")
    expect(row).to_have_attribute("data-kind", "create_replicas")
    expect(row).to_have_attribute("data-state", "succeeded", timeout=JOB_TIMEOUT_MS)  # the list updates itself
    expect(page.get_by_test_id(f"progress-{job_id}")).to_have_attribute("value", "100")
    new_code = row.locator("a").first.inner_text()
    assert new_code.startswith("pgro-"), new_code
    created["replica"] = new_code
    shot(page, "jobs")
    page.get_by_test_id("nav-topology").click()
    expect(page.get_by_test_id(f"node-{new_code}")).to_be_visible()
    expect(page.get_by_test_id(f"edge-{new_code}")).to_have_attribute("data-source", estate.primary.code)
    expect(page.get_by_test_id(f"lag-{new_code}")).to_have_text(LAG_LABEL, timeout=15_000)


def test_destroy_asks_for_confirmation(page: Page, estate: Estate) -> None:
    code = created.get("replica")
    if code is None:
        pytest.skip("needs the replica the previous test created")
    page.goto(f"/console/instances/{code}")
    questions: list[str] = []

    def answer(accept: bool):  # type: ignore[no-untyped-def]
        def handle(dialog):  # type: ignore[no-untyped-def]
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(False))
    page.get_by_test_id("destroy").click()
    expect(page).to_have_url(re.compile(rf"/console/instances/{code}$"))  # dismissed: nothing posted
    assert questions and code in questions[0] and "Destroy" in questions[0], questions
    expect(page.get_by_test_id("status")).to_contain_text("running")

    page.once("dialog", answer(True))
    page.get_by_test_id("destroy").click()
    expect(page).to_have_url(re.compile(r"/console/jobs\?job=[0-9a-f]{32}$"))
    job_id = page.url.rsplit("=", 1)[1]
    row = page.get_by_test_id(f"job-{job_id}")
    expect(row).to_have_attribute("data-kind", "destroy")
    expect(row).to_have_attribute("data-state", "succeeded", timeout=JOB_TIMEOUT_MS)
    page.get_by_test_id("nav-topology").click()
    expect(page.get_by_test_id(f"node-{estate.replica.code}")).to_be_visible()
    expect(page.get_by_test_id(f"node-{code}")).to_have_count(0)


# --- lag -------------------------------------------------------------------------------------------
def test_paused_replay_shows_rising_lag(context: BrowserContext, estate: Estate) -> None:
    r = estate.replica.code
    driver = fake_engine(estate)
    charts = context.new_page()
    topology = context.new_page()
    driver.set_replay_paused(r, True)
    try:
        charts.goto("/console/lag")
        chart = charts.get_by_test_id(f"chart-{r}")
        expect(chart.locator("canvas")).to_be_visible()
        topology.goto("/console/topology")
        write_on(estate, 4)

        def topology_lag() -> int | None:
            value = lag_bytes(topology, r)
            return value if value > 1024 * 1024 else None

        first = wait_for(topology_lag, 30, f"the topology to show {r} more than 1 MiB behind")
        points = int(chart.get_attribute("data-points") or 0)
        write_on(estate, 4)
        wait_for(lambda: lag_bytes(topology, r) > first, 30, f"the lag of {r} to rise past {first} bytes")
        expect(charts.get_by_test_id(f"lag-now-{r}")).to_have_text(re.compile(r"^\d+\.\d MiB · "), timeout=15_000)
        wait_for(lambda: int(chart.get_attribute("data-points") or 0) > points + 2, 30,
                 "the lag chart to take new points")
        expect(topology.get_by_test_id(f"edge-{r}")).to_have_class(re.compile(r"\bwarn\b"), timeout=15_000)
        # Its group evicts members more than 1 MB behind: the page says so, and why.
        member = topology.get_by_test_id(f"member-{r}")
        expect(member).to_have_attribute("data-status", "evicted", timeout=30_000)
        expect(member.locator("td").last).to_contain_text(re.compile(r"\S"))
        # The cascade is fed by R, which still receives and forwards WAL while its replay is paused.
        expect(topology.get_by_test_id(f"lag-{estate.cascade.code}")).to_have_attribute("data-state", "streaming")
        shot(charts, "lag")
        shot(topology, "topology-lagging")
        detail = context.new_page()
        detail.goto(f"/console/instances/{r}")
        expect(detail.get_by_test_id(f"chart-{r}").locator("canvas")).to_be_visible()
        wait_for(lambda: int(detail.get_by_test_id(f"chart-{r}").get_attribute("data-points") or 0) > 3, 30,
                 "the replica page's chart to fill")
        shot(detail, "instance-replica")
        detail.close()
    finally:
        driver.set_replay_paused(r, False)
        charts.close()
        topology.close()
    check = context.new_page()
    try:
        check.goto("/console/topology")
        wait_for(lambda: lag_bytes(check, r) == 0, 60, f"{r} to catch up after replay resumed")
        expect(check.get_by_test_id(f"member-{r}")).to_have_attribute("data-status", "in_rotation", timeout=30_000)
    finally:
        check.close()


# --- isolation and CSRF ----------------------------------------------------------------------------
def test_another_tenant_sees_none_of_it(browser: Browser, service: RunningService, estate: Estate) -> None:
    add_tenant(service, "other-shop", "otheruser", "Other-Passw0rd!")
    context = new_context(browser, service)
    try:
        page = context.new_page()
        sign_in(page, "otheruser", "Other-Passw0rd!")
        expect(page).to_have_url(re.compile(r"/console/topology$"))
        expect(page.get_by_test_id("no-instances")).to_be_visible()
        codes = (estate.primary.code, estate.replica.code, estate.cascade.code)
        for code in codes:
            expect(page.get_by_test_id(f"node-{code}")).to_have_count(0)
        page.goto("/console/instances")
        expect(page.get_by_test_id("no-instances")).to_be_visible()
        page.goto("/console/jobs")
        expect(page.get_by_test_id("no-jobs")).to_be_visible()
        answer = page.goto(f"/console/instances/{estate.primary.code}")
        assert answer is not None and answer.status == 404
        feed = context.request.get("/console/api/lag").json()
        assert feed["series"] == [], feed
        body = page.content() + str(feed)
        assert not any(code in body for code in codes[1:])
        # Acting on the first tenant's instance is refused as if it did not exist.
        page.goto("/console/topology")
        token = page.locator("form.who input[name=csrf]").get_attribute("value")
        refused = context.request.post(f"/console/instances/{estate.primary.code}/restart", form={"csrf": token or ""})
        assert refused.status == 404, refused.text()
    finally:
        context.close()


def test_a_form_post_without_the_csrf_token_is_refused(context: BrowserContext, estate: Estate) -> None:
    p = estate.primary.code
    for form in ({}, {"csrf": "forged-token"}):
        answer = context.request.post(f"/console/instances/{p}/restart", form=form)
        assert answer.status == 403, answer.text()
        assert "CSRF" in answer.text()
    login = context.request.post("/console/login", form={"user": IAM_USER, "password": IAM_PASSWORD})
    assert login.status == 403
    store = open_store(estate.service)
    try:
        with store.read() as uow:
            found = uow.instances(None).find(p)
            jobs = uow.jobs.of_tenant(estate.tenant_id, instance_id=estate.primary.id)
    finally:
        store.close()
    assert found is not None and found.lifecycle.value == "running"
    assert all(j.kind != "restart" for j in jobs)
