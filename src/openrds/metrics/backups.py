"""Backup metrics: each instance's WAL archiving and repository, from the stanza rows the backup
schedule writes every round (`openrds.reconcile.backup_schedule`), kept in the inventory's memory so a
scrape reads no store and asks no server.

- ``openrds_backup_archive_failing``: 1 while ``archive-push`` fails (a failure newer than the last
  success), the same the instance's status reason says;
- ``openrds_backup_archive_failures``: ``pg_stat_archiver.failed_count`` (a counter, reset with the
  server's statistics);
- ``openrds_backup_archive_lag_segments``: WAL segments written but not yet archived;
- ``openrds_backup_repository_bytes``: what the instance's backups and WAL take in the repository;
- ``openrds_backup_recovery_window_end_timestamp_seconds``: the last fence (the newest restorable instant).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from openrds.domain.backups import StanzaState

LABELS = ["tenant", "instance_id"]


@dataclass(frozen=True, slots=True)
class StanzaFacts:
    code: str
    tenant: str  # the tenant's name
    failing: bool
    failures: int
    lag_segments: int | None
    stored_bytes: int
    fenced_at: float | None  # epoch seconds


def stanza_facts(stanzas: Iterable[StanzaState], codes: dict[str, str], tenants: dict[str, str]) -> tuple[
        StanzaFacts, ...]:
    """The facts of the stanzas of instances ``codes`` knows (id -> code), their tenants named."""
    return tuple(
        StanzaFacts(codes[s.instance_id], tenants.get(s.tenant_id, s.tenant_id), s.archive_failing,
                    s.archive_failed_count, s.archive_lag_segments, s.stored_bytes,
                    s.fenced_at.timestamp() if s.fenced_at is not None else None)
        for s in stanzas if s.instance_id in codes and s.deleted_at is None
    )


def backup_metrics(facts: Iterable[StanzaFacts]) -> Iterator[Metric]:
    failing = GaugeMetricFamily("openrds_backup_archive_failing",
                                "1 while the instance's WAL archiving (archive-push) fails.", labels=LABELS)
    failures = CounterMetricFamily("openrds_backup_archive_failures",
                                   "Failed archive-push attempts (pg_stat_archiver.failed_count).", labels=LABELS)
    lag = GaugeMetricFamily("openrds_backup_archive_lag_segments",
                            "WAL segments written but not archived yet.", labels=LABELS)
    stored = GaugeMetricFamily("openrds_backup_repository_bytes",
                               "What the instance's backups and archived WAL take in the repository.", labels=LABELS)
    window = GaugeMetricFamily("openrds_backup_recovery_window_end_timestamp_seconds",
                               "The newest instant the instance can be restored to (its last fence, Unix time).",
                               labels=LABELS)
    for fact in facts:
        labels = [fact.tenant, fact.code]
        failing.add_metric(labels, 1.0 if fact.failing else 0.0)
        failures.add_metric(labels, float(fact.failures))
        if fact.lag_segments is not None:
            lag.add_metric(labels, float(fact.lag_segments))
        stored.add_metric(labels, float(fact.stored_bytes))
        if fact.fenced_at is not None:
            window.add_metric(labels, fact.fenced_at)
    yield from (failing, failures, lag, stored, window)
