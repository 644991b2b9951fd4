"""The console against a real `openrds serve`: signing out revokes the session in the store (the kept
cookie opens nothing, also after a restart of the service), and the sign-in form is read up to its cap
and refused past it without reading the rest."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from tests.support.http import post_unfinished
from tests.support.service import IAM_PASSWORD, IAM_USER, RunningService, running_service, start_service, stop_service

from openrds.console.routes import MAX_FORM_BYTES
from openrds.console.security import SESSION_COOKIE

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service() as running:
        yield running


def csrf(page: httpx.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def sign_in(client: httpx.Client) -> str:
    """Sign in the bootstrap IAM user; the session cookie."""
    token = csrf(client.get("/console/login"))
    answer = client.post("/console/login", data={"csrf": token, "user": IAM_USER, "password": IAM_PASSWORD})
    assert answer.status_code == 303, answer.text
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    return cookie


def opens_a_page(url: str, cookie: str) -> bool:
    """Whether the cookie alone, sent by a client that never signed out, opens the topology page."""
    answer = httpx.get(f"{url}/console/topology", cookies={SESSION_COOKIE: cookie}, follow_redirects=False)
    assert answer.status_code in (200, 303), answer.text
    return answer.status_code == 200


def test_a_signed_out_cookie_opens_nothing_even_after_a_restart() -> None:
    with running_service() as first:
        with httpx.Client(base_url=first.url) as client, httpx.Client(base_url=first.url) as elsewhere:
            kept = sign_in(client)
            other = sign_in(elsewhere)  # another session of the same user
            assert opens_a_page(first.url, kept)
            out = client.post("/console/logout", data={"csrf": csrf(client.get("/console/topology"))})
            assert out.status_code == 303 and out.headers["location"] == "/console/login"
        assert not opens_a_page(first.url, kept)
        assert opens_a_page(first.url, other)  # only the session signed out ends
        stop_service(first)
        second = start_service(first.data_dir)  # a new process over the same store
        try:
            assert not opens_a_page(second.url, kept)
            assert opens_a_page(second.url, other)
        finally:
            stop_service(second)


@pytest.mark.parametrize(("declared", "chunked"), [(200 * MIB, 0), (None, MAX_FORM_BYTES + 16 * 1024)],
                         ids=["content-length", "chunked"])
def test_sign_in_form_over_the_cap_is_refused_without_reading_the_rest(
        service: RunningService, declared: int | None, chunked: int) -> None:
    assert MAX_FORM_BYTES <= MIB  # the cap on every unauthenticated body
    answer = post_unfinished(service.port, "/console/login", declared=declared, chunked=chunked,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 413, answer
    assert answer.headers["content-type"].startswith("text/html") and b"the form is too large" in answer.body
    assert answer.closed, "the connection stays open: the server would go on reading the body"
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
