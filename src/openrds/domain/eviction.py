"""Which members of a read-only group are in rotation: lag and fault eviction, re-admission, reserve.

Pure: one call per monitor round and group, from the members' samples and their streaks of the
previous rounds to the new streaks and the changes to make. Tencent's rules, as this module reads them:

- **Fault** (on by default, whatever the thresholds): a member that is unreachable, not running or not
  streaming from its upstream for `Policy.evict_after` consecutive samples is evicted, even if that
  leaves no member in rotation.
- **Lag** (``ReplayLagEliminate`` with ``MaxReplayLag`` seconds, ``ReplayLatencyEliminate`` with
  ``MaxReplayLatency`` MB of WAL): a member over an enabled threshold for `Policy.evict_after`
  consecutive samples is evicted, unless that would leave fewer than ``MinDelayEliminateReserve``
  members in rotation: then the least lagging are kept.
- **Re-admission**: an evicted member that is healthy and under every enabled threshold for
  `Policy.readmit_after` consecutive samples is back in rotation. When faults have left fewer than
  the reserve in rotation, healthy members evicted for lag are taken back at once, least lagging
  first (lag thresholds never shrink the rotation below the reserve; faults may).

Eviction is a drain: the member takes no new connections and keeps its sessions.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MIB = 1024 * 1024


class Verdict(enum.StrEnum):
    OK = "ok"  # healthy and under every enabled threshold
    OVER = "over"  # healthy, over an enabled lag threshold
    FAULT = "fault"  # unreachable, not running or not streaming


@dataclass(frozen=True, slots=True)
class Policy:
    """One group's rules. A threshold of None is switched off."""

    max_lag_seconds: float | None = None
    max_lag_bytes: int | None = None
    min_reserve: int = 0
    evict_after: int = 2  # consecutive bad samples before an eviction
    readmit_after: int = 2  # consecutive good samples before a re-admission

    @classmethod
    def of(cls, *, replay_lag_eliminate: bool, max_replay_lag_seconds: float, replay_latency_eliminate: bool,
           max_replay_latency_mb: int, min_reserve: int, evict_after: int = 2, readmit_after: int = 2) -> Policy:
        """From a group's Tencent settings (``MaxReplayLatency`` MB taken as MiB of WAL)."""
        return cls(
            max_lag_seconds=float(max_replay_lag_seconds) if replay_lag_eliminate and max_replay_lag_seconds > 0
            else None,
            max_lag_bytes=max_replay_latency_mb * MIB if replay_latency_eliminate and max_replay_latency_mb > 0
            else None,
            min_reserve=max(0, min_reserve), evict_after=max(1, evict_after), readmit_after=max(1, readmit_after),
        )

    @property
    def lag_on(self) -> bool:
        return self.max_lag_seconds is not None or self.max_lag_bytes is not None


@dataclass(frozen=True, slots=True)
class Sample:
    """One member in one round."""

    member_id: str
    in_rotation: bool  # as recorded before this round
    fault: str = ""  # why it is not usable ("server stopped", "not streaming"), empty when healthy
    lag_bytes: int | None = None
    lag_seconds: float | None = None

    @property
    def lag_key(self) -> tuple[float, float, str]:
        """Less is less lagging (unknown lag sorts last)."""
        return (float("inf") if self.lag_bytes is None else self.lag_bytes,
                float("inf") if self.lag_seconds is None else self.lag_seconds, self.member_id)


@dataclass(frozen=True, slots=True)
class Streak:
    bad: int = 0  # consecutive samples over a threshold or faulty
    good: int = 0  # consecutive healthy samples under every threshold


@dataclass(frozen=True, slots=True)
class Change:
    member_id: str
    evict: bool  # True: out of rotation (drain); False: back in rotation
    reason: str  # one phrase for the event, e.g. "replay lag 12.0 MB over MaxReplayLatency 8 MB"
    lag_bytes: int | None
    lag_seconds: float | None


@dataclass(frozen=True, slots=True)
class Outcome:
    changes: tuple[Change, ...]
    streaks: Mapping[str, Streak]  # for the members sampled this round

    def in_rotation(self, samples: Iterable[Sample]) -> set[str]:
        """Who is in rotation once the changes are made."""
        flipped = {c.member_id: not c.evict for c in self.changes}
        return {s.member_id for s in samples if flipped.get(s.member_id, s.in_rotation)}


def assess(policy: Policy, sample: Sample) -> tuple[Verdict, str]:
    """The verdict on one sample and why, in words."""
    if sample.fault:
        return Verdict.FAULT, sample.fault
    if policy.max_lag_seconds is not None and sample.lag_seconds is not None \
            and sample.lag_seconds > policy.max_lag_seconds:
        return Verdict.OVER, f"replay lag {sample.lag_seconds:.1f} s over MaxReplayLag {policy.max_lag_seconds:g} s"
    if policy.max_lag_bytes is not None and sample.lag_bytes is not None and sample.lag_bytes > policy.max_lag_bytes:
        return Verdict.OVER, (f"replay lag {sample.lag_bytes / MIB:.1f} MB over MaxReplayLatency "
                              f"{policy.max_lag_bytes / MIB:g} MB")
    return Verdict.OK, "healthy and within the lag thresholds" if policy.lag_on else "healthy"


def decide(policy: Policy, samples: Iterable[Sample], streaks: Mapping[str, Streak]) -> Outcome:
    """The changes of one round for one group, and every sampled member's new streak."""
    samples = sorted(samples, key=lambda s: s.member_id)
    verdicts: dict[str, tuple[Verdict, str]] = {}
    new_streaks: dict[str, Streak] = {}
    for sample in samples:
        verdict, why = assess(policy, sample)
        verdicts[sample.member_id] = (verdict, why)
        old = streaks.get(sample.member_id, Streak())
        new_streaks[sample.member_id] = Streak(bad=old.bad + 1, good=0) if verdict is not Verdict.OK \
            else Streak(bad=0, good=old.good + 1)

    def change(sample: Sample, evict: bool, reason: str) -> Change:
        return Change(sample.member_id, evict, reason, sample.lag_bytes, sample.lag_seconds)

    evictions: dict[str, Change] = {}
    lag_candidates: list[Sample] = []
    readmissions: dict[str, Change] = {}
    for sample in samples:
        verdict, why = verdicts[sample.member_id]
        streak = new_streaks[sample.member_id]
        if sample.in_rotation and verdict is Verdict.FAULT and streak.bad >= policy.evict_after:
            evictions[sample.member_id] = change(sample, True, why)
        elif sample.in_rotation and verdict is Verdict.OVER and streak.bad >= policy.evict_after:
            lag_candidates.append(sample)
        elif not sample.in_rotation and verdict is Verdict.OK and streak.good >= policy.readmit_after:
            readmissions[sample.member_id] = change(sample, False, why)

    staying = sum(1 for s in samples if s.in_rotation and s.member_id not in evictions) - len(lag_candidates) \
        + len(readmissions)
    # Lag never takes the rotation below the reserve: the least lagging candidates stay.
    for sample in sorted(lag_candidates, key=lambda s: s.lag_key):
        if policy.lag_on and staying < policy.min_reserve:
            staying += 1
            continue
        evictions[sample.member_id] = change(sample, True, verdicts[sample.member_id][1])
    # Faults took it below the reserve: healthy members evicted for lag come back, least lagging first.
    if policy.lag_on and staying < policy.min_reserve:
        lagging = [s for s in samples if not s.in_rotation and s.member_id not in readmissions
                   and verdicts[s.member_id][0] is Verdict.OVER]
        for sample in sorted(lagging, key=lambda s: s.lag_key)[:policy.min_reserve - staying]:
            readmissions[sample.member_id] = change(
                sample, False, f"kept in rotation by MinDelayEliminateReserve {policy.min_reserve} although "
                               f"{verdicts[sample.member_id][1]}")
    ordered = [evictions[s.member_id] for s in samples if s.member_id in evictions] + \
        [readmissions[s.member_id] for s in samples if s.member_id in readmissions]
    return Outcome(tuple(ordered), new_streaks)
