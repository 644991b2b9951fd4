"""Seconds of lag derived from (time, upstream LSN) samples."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openrds.monitoring.lag import LsnHistory, parse_lsn


def test_parse_lsn() -> None:
    assert parse_lsn("0/0") == 0
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert parse_lsn(None) is None
    assert parse_lsn("") is None


def test_caught_up_replica_has_no_lag() -> None:
    history = LsnHistory()
    history.add(0.0, 100)
    history.add(1.0, 200)
    assert history.seconds_behind(200, now=50.0) == 0.0
    assert history.seconds_behind(250, now=50.0) == 0.0


def test_lag_is_time_since_upstream_passed_the_replay_position() -> None:
    history = LsnHistory()
    for second in range(11):
        history.add(float(second), second * 1000)  # 1000 bytes a second
    # The upstream stood at 3000 at t=3; asked at t=10 the replica is 7 s behind.
    assert history.seconds_behind(3000, now=10.0) == 7.0
    # Between samples the upstream is taken to advance evenly: 3500 was reached at t=3.5.
    assert history.seconds_behind(3500, now=10.0) == 6.5


def test_idle_upstream_does_not_make_lag_grow() -> None:
    # The classic trap: now() - last replay timestamp grows while nothing is written. Here it does not.
    history = LsnHistory()
    history.add(0.0, 5000)
    for second in range(1, 100):
        history.add(float(second), 5000)
    assert history.seconds_behind(5000, now=100.0) == 0.0


def test_oldest_sample_gives_a_lower_bound() -> None:
    history = LsnHistory(keep_seconds=5)
    for second in range(20):
        history.add(float(second), 1000 + second)
    # Samples kept: t=14..19 (lsn 1014..1019); a replica at 10 is at least 19-14 = 5 s behind.
    assert history.seconds_behind(10, now=19.0) == 5.0


def test_timeline_change_resets_history() -> None:
    history = LsnHistory()
    history.add(0.0, 10_000)
    history.add(1.0, 500)  # promoted somewhere else: positions restart lower
    assert history.seconds_behind(500, now=2.0) == 0.0
    assert history.seconds_behind(400, now=2.0) == 1.0


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=50),
       st.integers(min_value=0, max_value=600_000))
def test_lag_is_never_negative_and_grows_with_distance(steps: list[int], replay: int) -> None:
    history = LsnHistory()
    lsn = 0
    for second, step in enumerate(steps):
        lsn += step
        history.add(float(second), lsn)
    now = float(len(steps))
    behind = history.seconds_behind(replay, now)
    assert 0.0 <= behind <= now
    if replay >= lsn:
        assert behind == 0.0
    assert history.seconds_behind(max(0, replay - 1), now) >= behind
