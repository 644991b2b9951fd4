"""`domain.eviction`: who is in rotation, round by round (pure, no servers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from openrds.domain.eviction import MIB, Change, Policy, Sample, Streak, Verdict, assess, decide

LAG_MB = Policy.of(replay_lag_eliminate=False, max_replay_lag_seconds=0, replay_latency_eliminate=True,
                   max_replay_latency_mb=8, min_reserve=0)


def run(policy: Policy, rounds: Sequence[Sequence[Sample]]) -> list[tuple[Change, ...]]:
    """Feed ``rounds`` of samples (``in_rotation`` is carried over from the previous round's changes)."""
    streaks: Mapping[str, Streak] = {}
    rotation: dict[str, bool] = {}
    history = []
    for samples in rounds:
        samples = [Sample(s.member_id, rotation.get(s.member_id, s.in_rotation), s.fault, s.lag_bytes, s.lag_seconds)
                   for s in samples]
        outcome = decide(policy, samples, streaks)
        streaks = outcome.streaks
        for change in outcome.changes:
            rotation[change.member_id] = not change.evict
        history.append(outcome.changes)
    return history


def ok(member: str, lag_mb: float = 0) -> Sample:
    return Sample(member, True, lag_bytes=int(lag_mb * MIB), lag_seconds=lag_mb / 4)


def down(member: str) -> Sample:
    return Sample(member, True, fault="server unreachable (server stopped)")


def test_policy_from_tencent_settings() -> None:
    assert not Policy.of(replay_lag_eliminate=False, max_replay_lag_seconds=5, replay_latency_eliminate=False,
                         max_replay_latency_mb=5, min_reserve=1).lag_on
    both = Policy.of(replay_lag_eliminate=True, max_replay_lag_seconds=5, replay_latency_eliminate=True,
                     max_replay_latency_mb=16, min_reserve=-3)
    assert (both.max_lag_seconds, both.max_lag_bytes, both.min_reserve) == (5.0, 16 * MIB, 0)
    # A switch on with a zero threshold is off (the API requires positive thresholds when on).
    assert Policy.of(replay_lag_eliminate=True, max_replay_lag_seconds=0, replay_latency_eliminate=False,
                     max_replay_latency_mb=0, min_reserve=0).max_lag_seconds is None


def test_assess_names_the_threshold_crossed() -> None:
    seconds = Policy(max_lag_seconds=2.0)
    assert assess(seconds, Sample("a", True, lag_bytes=10, lag_seconds=2.5)) == (
        Verdict.OVER, "replay lag 2.5 s over MaxReplayLag 2 s")
    assert assess(seconds, Sample("a", True, lag_bytes=10**9, lag_seconds=2.0))[0] is Verdict.OK  # at = within
    assert assess(LAG_MB, Sample("a", True, lag_bytes=9 * MIB))[1] == "replay lag 9.0 MB over MaxReplayLatency 8 MB"
    assert assess(LAG_MB, Sample("a", True, lag_bytes=None))[0] is Verdict.OK  # unknown lag is not over
    assert assess(Policy(), Sample("a", True, fault="not streaming")) == (Verdict.FAULT, "not streaming")


def test_lag_evicts_after_consecutive_samples_and_readmits_after_catching_up() -> None:
    history = run(LAG_MB, [[ok("a", 9), ok("b")],  # 1st sample over: not yet
                           [ok("a", 12), ok("b")],  # 2nd: evicted
                           [ok("a", 20), ok("b")],  # stays out, no new change
                           [ok("a", 1), ok("b")],  # 1st good sample
                           [ok("a", 0), ok("b")]])  # 2nd: back
    assert [len(h) for h in history] == [0, 1, 0, 0, 1]
    evicted, readmitted = history[1][0], history[4][0]
    assert (evicted.member_id, evicted.evict, evicted.lag_bytes) == ("a", True, 12 * MIB)
    assert "over MaxReplayLatency 8 MB" in evicted.reason
    assert (readmitted.member_id, readmitted.evict) == ("a", False)


def test_a_single_spike_evicts_nobody() -> None:
    assert run(LAG_MB, [[ok("a", 50)], [ok("a", 0)], [ok("a", 50)], [ok("a", 0)]]) == [(), (), (), ()]


def test_the_reserve_keeps_the_least_lagging() -> None:
    reserve = Policy(max_lag_bytes=8 * MIB, min_reserve=1)
    history = run(reserve, [[ok("a", 30), ok("b", 10), ok("c", 20)]] * 3)
    evicted = {c.member_id for c in history[1]}
    assert evicted == {"a", "c"}, history  # b lags least: it stays
    assert history[2] == ()  # stable: nobody flaps


def test_the_reserve_counts_members_still_in_rotation() -> None:
    reserve = Policy(max_lag_bytes=8 * MIB, min_reserve=1)
    # a crosses first and goes; when b crosses too it is the last in rotation and stays.
    history = run(reserve, [[ok("a", 9), ok("b")], [ok("a", 9), ok("b")],
                            [ok("a", 30), ok("b", 9)], [ok("a", 30), ok("b", 9)], [ok("a", 30), ok("b", 9)]])
    assert [[(c.member_id, c.evict) for c in h] for h in history] == [[], [("a", True)], [], [], []]


def test_zero_reserve_may_empty_the_rotation() -> None:
    history = run(LAG_MB, [[ok("a", 9), ok("b", 9)]] * 2)
    assert {c.member_id for c in history[1]} == {"a", "b"}


def test_faults_ignore_the_reserve_and_lag_settings() -> None:
    no_lag = Policy(min_reserve=5)
    history = run(no_lag, [[down("a"), ok("b", 500)], [down("a"), ok("b", 500)], [ok("a"), ok("b")],
                           [ok("a"), ok("b")]])
    assert [[(c.member_id, c.evict) for c in h] for h in history] == [[], [("a", True)], [], [("a", False)]]
    assert history[1][0].reason == "server unreachable (server stopped)"
    assert history[1][0].lag_bytes is None


def test_a_fault_below_the_reserve_brings_back_the_least_lagging_lag_evicted() -> None:
    reserve = Policy(max_lag_bytes=8 * MIB, min_reserve=1)
    rounds = [[ok("a", 9), ok("b", 20), ok("c")]] * 2 + [[ok("a", 9), ok("b", 20), down("c")]] * 2
    history = run(reserve, rounds)
    assert {(c.member_id, c.evict) for c in history[1]} == {("a", True), ("b", True)}
    # c fails for good: the rotation would be empty, so a (9 MB, less than b's 20) is taken back at once.
    assert [(c.member_id, c.evict) for c in history[3]] == [("c", True), ("a", False)]
    assert "MinDelayEliminateReserve 1" in history[3][1].reason


def test_a_member_back_from_a_fault_but_lagging_stays_out() -> None:
    history = run(LAG_MB, [[down("a"), ok("b")]] * 2 + [[ok("a", 30), ok("b")]] * 3 + [[ok("a", 1), ok("b")]] * 2)
    assert [[(c.member_id, c.evict) for c in h] for h in history] == [[], [("a", True)], [], [], [], [],
                                                                      [("a", False)]]


def test_streaks_are_per_member_and_reset() -> None:
    outcome = decide(LAG_MB, [ok("a", 9), ok("b")], {"a": Streak(bad=0, good=7), "b": Streak(bad=4, good=0)})
    assert outcome.streaks == {"a": Streak(bad=1, good=0), "b": Streak(bad=0, good=1)}
    assert outcome.in_rotation([ok("a", 9), ok("b")]) == {"a", "b"}
