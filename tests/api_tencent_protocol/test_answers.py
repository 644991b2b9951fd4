"""Reusing the answers of read-only calls while the store's data version is unchanged.

The cache on its own, its coalescing of misses (threads with an injected computation that blocks
until the test releases it), then through a live server whose "store version" the test moves by hand and
whose handler counts how often it really ran.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from openrds.api import answers
from openrds.api.answers import ENTRY_OVERHEAD, AnswerCache
from openrds.api.tencent import schemas
from openrds.api.tencent.protocol import Action, ActionContext, TencentApi

from .support import (
    CALLERS,
    CONFIGURED_REGIONS,
    OTHER_SECRET_ID,
    OTHER_SECRET_KEY,
    LiveServer,
    ManualClock,
    StaticKeys,
    envelope,
    raw_request,
    serve,
)


# --- the cache -----------------------------------------------------------------------------------
def _never() -> bytes:
    raise AssertionError("computed again although the answer was kept")


def _computes(answer: bytes) -> Callable[[], bytes]:
    return lambda: answer


def test_an_answer_is_served_again_only_for_the_same_key_and_version() -> None:
    cache = AnswerCache()
    assert cache.answer("q", 1, _computes(b"answer")) == (b"answer", True)
    assert cache.answer("q", 1, _never) == (b"answer", False)
    assert cache.answer("other", 1, _computes(b"other")) == (b"other", True)
    assert cache.answer("q", 2, _computes(b"new")) == (b"new", True), "served across a commit"
    assert cache.answer("q", 1, _computes(b"old")) == (b"old", True), "the entries of an older version came back"
    assert (cache.hits, cache.misses, cache.coalesced) == (1, 4, 0)


def test_an_answer_computed_before_a_newer_version_was_seen_is_not_kept() -> None:
    cache = AnswerCache()

    def while_a_commit_lands() -> bytes:  # request A read version 1 and is computing
        cache.answer("r", 2, _computes(b"r"))  # request B sees version 2 (a commit landed)
        return b"stale"  # A's answer may predate that commit

    assert cache.answer("q", 1, while_a_commit_lands) == (b"stale", True)
    assert cache.answer("q", 2, _computes(b"fresh")) == (b"fresh", True)


def test_the_cache_holds_at_most_max_bytes_least_recently_used_first() -> None:
    cache = AnswerCache(max_bytes=10 + 2 * ENTRY_OVERHEAD)
    cache.answer("a", 1, _computes(b"aaaa"))
    cache.answer("b", 1, _computes(b"bbbb"))
    assert cache.answer("a", 1, _never) == (b"aaaa", False)  # a is now the most recently used
    cache.answer("c", 1, _computes(b"cccc"))  # 12 bytes of answers and three entries: b goes
    assert cache.answer("a", 1, _never) == (b"aaaa", False) and cache.answer("c", 1, _never) == (b"cccc", False)
    huge = b"x" * (11 + 2 * ENTRY_OVERHEAD)  # larger than the whole cache: never kept
    assert cache.answer("huge", 1, _computes(huge)) == (huge, True)
    assert cache.answer("huge", 1, _computes(huge)) == (huge, True)
    assert cache.answer("c", 1, _never) == (b"cccc", False)
    assert cache.answer("b", 1, _computes(b"bbbb")) == (b"bbbb", True)


# --- misses coalesced ----------------------------------------------------------------------------
WAIT = 10.0  # seconds: a deadline for what takes microseconds, so that a broken cache fails, not hangs


class Waiters:
    """Counts the threads waiting for another thread's computation (by watching the event each
    computation is finished with), so that a test releases a computation only once they all wait."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def until(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= count, WAIT), f"{self.count} of {count} threads wait"


@pytest.fixture
def waiters(monkeypatch: pytest.MonkeyPatch) -> Waiters:
    watched = Waiters()

    class WatchedEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            with watched.changed:
                watched.count += 1
                watched.changed.notify_all()
            return super().wait(timeout)

    class WatchedComputation(answers._Computation):
        def __init__(self) -> None:
            super().__init__()
            self.done = WatchedEvent()

    monkeypatch.setattr(answers, "_Computation", WatchedComputation)
    return watched


class SlowComputation:
    """A computation that blocks until released, then answers ``answer`` or raises ``error``."""

    def __init__(self, answer: bytes = b"answer", error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> bytes:
        self.entered.set()
        assert self.release.wait(WAIT), "never released"
        if self.error is not None:
            raise self.error
        return self.answer


def test_threads_that_miss_at_once_wait_for_one_computation(waiters: Waiters) -> None:
    cache = AnswerCache()
    slow = SlowComputation()
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(cache.answer, "q", 1, slow)
        assert slow.entered.wait(WAIT)
        others = [pool.submit(cache.answer, "q", 1, _never) for _ in range(3)]
        waiters.until(3)
        slow.release.set()
        answered = [future.result(WAIT) for future in [first, *others]]
    assert answered == [(b"answer", True)] + [(b"answer", False)] * 3
    assert (cache.hits, cache.misses, cache.coalesced) == (0, 1, 3)
    assert cache.answer("q", 1, _never) == (b"answer", False), "the coalesced answer was not kept"


def test_a_thread_that_read_another_store_version_computes_its_own(waiters: Waiters) -> None:
    cache = AnswerCache()
    slow = SlowComputation(b"at version 1")
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(cache.answer, "q", 1, slow)
        assert slow.entered.wait(WAIT)
        # A commit landed: a thread that read version 2 neither waits for nor takes version 1's answer.
        assert pool.submit(cache.answer, "q", 2, _computes(b"at version 2")).result(WAIT) == (b"at version 2", True)
        slow.release.set()
        assert first.result(WAIT) == (b"at version 1", True)
    assert waiters.count == 0
    assert cache.answer("q", 2, _never) == (b"at version 2", False), "version 1's late answer replaced it"


def test_when_the_computation_fails_the_waiters_compute_their_own(waiters: Waiters) -> None:
    cache = AnswerCache()
    slow = SlowComputation(error=ValueError("this request's own error"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(cache.answer, "q", 1, slow)
        assert slow.entered.wait(WAIT)
        others = [pool.submit(cache.answer, "q", 1, _computes(b"their own")) for _ in range(3)]
        waiters.until(3)
        slow.release.set()
        with pytest.raises(ValueError, match="own error"):
            first.result(WAIT)
        assert [future.result(WAIT) for future in others] == [(b"their own", True)] * 3
    assert (cache.misses, cache.coalesced) == (4, 0)
    assert cache.answer("q", 1, _never) == (b"their own", False), "the error was kept, or nothing was"


def test_a_thread_waits_for_another_computation_only_so_long(waiters: Waiters) -> None:
    cache = AnswerCache(wait_seconds=0.01)
    slow = SlowComputation(b"late")
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(cache.answer, "q", 1, slow)
        assert slow.entered.wait(WAIT)
        assert pool.submit(cache.answer, "q", 1, _computes(b"own")).result(WAIT) == (b"own", True)
        assert waiters.count == 1
        slow.release.set()
        assert first.result(WAIT) == (b"late", True)
    assert (cache.misses, cache.coalesced) == (2, 0)


# --- through the wire ----------------------------------------------------------------------------
@dataclass
class CountingStore:
    version: int = 0
    computed: list[str] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def describe(self, ctx: ActionContext, req: schemas.DescribeDBInstancesRequest) -> Mapping[str, Any]:
        self.computed.append(ctx.caller.tenant_id)
        return {"TotalCount": next(self.counter), "DBInstanceSet": []}

    def zones(self, ctx: ActionContext, req: Any) -> Mapping[str, Any]:
        self.computed.append("zones")
        return {"TotalCount": next(self.counter), "ZoneSet": []}


@pytest.fixture(scope="module")
def counted() -> Iterator[tuple[LiveServer, CountingStore]]:
    store = CountingStore()
    actions: dict[str, Action[Any]] = {
        "DescribeDBInstances": Action("DescribeDBInstances", schemas.DescribeDBInstancesRequest, store.describe,
                                      store_read=True, changes_state=False),
        # Not declared a store read (as every write, and every answer that depends on anything else).
        "DescribeZones": Action("DescribeZones", schemas.DescribeZonesRequest, store.zones, changes_state=False),
    }
    clock = ManualClock()
    app = TencentApi(actions, StaticKeys(CALLERS), regions=lambda: CONFIGURED_REGIONS, clock=clock,
                     store_version=lambda: store.version)
    with serve(app, clock) as server:
        yield server, store


def _describe(server: LiveServer, body: bytes = b'{"Limit": 10}', **options: Any) -> dict[str, Any]:
    return envelope(raw_request(server, "DescribeDBInstances", body, **options))


def test_the_same_question_is_answered_once_per_store_version(counted: tuple[LiveServer, CountingStore]) -> None:
    server, store = counted
    store.version += 1
    store.computed.clear()
    first, second = _describe(server), _describe(server)
    assert first["TotalCount"] == second["TotalCount"]
    assert first["RequestId"] != second["RequestId"], "a reused answer must still carry its own RequestId"
    assert len(store.computed) == 1

    store.version += 1  # a commit
    third = _describe(server)
    assert third["TotalCount"] != first["TotalCount"] and len(store.computed) == 2


def test_another_question_caller_or_language_is_its_own_answer(counted: tuple[LiveServer, CountingStore]) -> None:
    server, store = counted
    store.version += 1
    store.computed.clear()
    _describe(server)
    _describe(server, b'{"Limit": 20}')
    _describe(server, headers={"X-TC-Language": "zh-CN"})
    _describe(server, secret_id=OTHER_SECRET_ID, secret_key=OTHER_SECRET_KEY)
    assert store.computed == ["tenant-a", "tenant-a", "tenant-a", "tenant-b"]


def test_errors_and_undeclared_actions_are_never_reused(counted: tuple[LiveServer, CountingStore]) -> None:
    server, store = counted
    store.version += 1
    store.computed.clear()
    for _ in range(2):
        assert _describe(server, b'{"Limit": "ten"}')["Error"]["Code"] == "InvalidParameter"
        forged = _describe(server, secret_key="wrong-secret-key-000000")
        assert forged["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert store.computed == []
    counts = {envelope(raw_request(server, "DescribeZones"))["TotalCount"] for _ in range(2)}
    assert len(counts) == 2 and store.computed == ["zones", "zones"]
