"""Reusing the answers of read-only calls while the store's data version is unchanged.

The cache on its own, then through a live server whose "store version" the test moves by hand and
whose handler counts how often it really ran.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

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
def test_an_answer_is_served_again_only_for_the_same_key_and_version() -> None:
    cache = AnswerCache()
    assert cache.get("q", 1) is None
    cache.put("q", 1, b"answer")
    assert cache.get("q", 1) == b"answer"
    assert cache.get("other", 1) is None
    assert cache.get("q", 2) is None, "served across a commit"
    assert cache.get("q", 1) is None, "the entries of an older version came back"
    assert (cache.hits, cache.misses) == (1, 4)


def test_an_answer_computed_before_a_newer_version_was_seen_is_not_kept() -> None:
    cache = AnswerCache()
    assert cache.get("q", 1) is None  # request A reads version 1 and starts computing
    assert cache.get("r", 2) is None  # request B sees version 2 (a commit landed)
    cache.put("q", 1, b"stale")  # A's answer may predate that commit
    assert cache.get("q", 2) is None


def test_the_cache_holds_at_most_max_bytes_least_recently_used_first() -> None:
    cache = AnswerCache(max_bytes=10 + 2 * ENTRY_OVERHEAD)
    cache.get("a", 1)
    cache.put("a", 1, b"aaaa")
    cache.put("b", 1, b"bbbb")
    assert cache.get("a", 1) == b"aaaa"  # a is now the most recently used
    cache.put("c", 1, b"cccc")  # 12 bytes of answers and three entries: b goes
    assert cache.get("b", 1) is None
    assert cache.get("a", 1) == b"aaaa" and cache.get("c", 1) == b"cccc"
    cache.put("huge", 1, b"x" * (11 + 2 * ENTRY_OVERHEAD))  # larger than the whole cache: never kept
    assert cache.get("huge", 1) is None and cache.get("a", 1) == b"aaaa"


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
