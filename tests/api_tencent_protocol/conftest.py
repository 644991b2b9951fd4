"""Fixtures of the Tencent wire-layer tests: one live server for the session, real-time clock per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openrds.api.tencent.replay import SignatureMemory

from .support import LiveServer, ManualClock, make_app, serve


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    clock = ManualClock()
    with serve(make_app(clock), clock) as server:
        yield server


@pytest.fixture(autouse=True)
def _real_time(live_server: LiveServer) -> Iterator[None]:
    """Every test starts and ends with the server clock at real time (the SDK signs with real time), and
    starts with an empty replay memory: tests are separate clients, and two tests that send the same
    request within one second are not a replay."""
    live_server.clock.reset()
    live_server.app.signatures = SignatureMemory(live_server.clock)
    yield
    live_server.clock.reset()
