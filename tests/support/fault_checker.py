"""What a fault run must leave behind, checked against the real topics, Redis and receivers.

`check_stream` follows every accepted `event_id` onto `cx.feedback.v1` and `cx.feedback.scored.v1`
(read_committed) and into the scorer's aggregates, and compares the aggregates with the figures
the same events give when scored once in memory. `check_notifications` groups what an HTTP
receiver got by its idempotency key (the Standard Webhooks `webhook-id`).

Copies are counted and reported, never hidden: the collector may publish an event twice (a
request that died after the broker acknowledged it is retried), and the local broker may expose
a killed scorer's open transaction. Loss and double counting are what fail a run. Scored records
the local broker holds back behind a transaction it never ended are reported apart (`held_back`):
no read_committed reader is ever told their fate there, while Apache Kafka aborts that transaction.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis
from kafka import KafkaConsumer, TopicPartition

from cxpulse_alerts.domain.incidents import Incident
from cxpulse_alerts.receivers.formats import webhook_id
from cxpulse_contracts import topics
from cxpulse_scorer.adapters.aggregates import RedisAggregates, brand_prefix
from cxpulse_scorer.domain.satisfaction import ALL_STAGES, SatisfactionCounts
from cxpulse_shared.settings import KafkaSettings
from tests.support.http_receiver import ReceivedRequest

AggregateKey = tuple[str, str]


@dataclass(frozen=True)
class TopicTally:
    """The records of one topic that carry a wanted `event_id` (header `ce_id`)."""

    topic: str
    records: int
    unique: int
    missing: frozenset[str]
    copies_at: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    """event_id → (partition, offset) of each of its records."""
    read_to: Mapping[int, int] = field(default_factory=dict)
    """partition → the offset reading stopped at; for read_committed, the last stable offset."""

    @property
    def copies(self) -> int:
        return self.records - self.unique


@dataclass(frozen=True)
class StreamReport:
    accepted: int
    feedback: TopicTally
    scored: TopicTally
    not_applied: frozenset[str]
    """Accepted ids the scorer never marked as applied to the aggregates."""
    aggregate_differences: dict[AggregateKey, tuple[SatisfactionCounts, SatisfactionCounts]]
    """(brand, stage) → (stored, reference), only where they differ."""
    scored_uncommitted: TopicTally | None = None
    """When ids are missing from the scored topic: which of them sit in a transaction never committed."""

    @property
    def held_back(self) -> frozenset[str]:
        """Ids missing read_committed with a record at or past the partition's last stable offset:
        behind a killed scorer's transaction that the local broker never ended, so no reader has been
        told that record's fate. Apache Kafka aborts such a transaction at its timeout and the
        survivor's committed copies show. An id whose records all lie before that offset and none is
        visible was aborted everywhere and never written again: lost, not held back."""
        if self.scored_uncommitted is None:
            return frozenset()
        stops = self.scored.read_to
        return frozenset(
            event_id
            for event_id, copies in self.scored_uncommitted.copies_at.items()
            if event_id in self.scored.missing
            and any(offset >= stops.get(partition, 0) for partition, offset in copies)
        )

    @property
    def lost(self) -> frozenset[str]:
        return self.feedback.missing | (self.scored.missing - self.held_back) | self.not_applied

    def summary(self) -> str:
        return (
            f"{self.accepted} accepted; lost {len(self.lost)} "
            f"(feedback {len(self.feedback.missing)}, scored {len(self.scored.missing)}, "
            f"aggregates {len(self.not_applied)}); {topics.FEEDBACK}: {self.feedback.records} records, "
            f"{self.feedback.copies} copies; {topics.SCORED} (read_committed): {self.scored.records} records, "
            f"{self.scored.copies} copies; aggregates differing from the reference: {len(self.aggregate_differences)}"
            + (
                f"; of the ids missing from {topics.SCORED}, {self.scored_uncommitted.unique} are there "
                f"read_uncommitted ({self.scored_uncommitted.records} records), {len(self.held_back)} of them "
                "held back by a transaction the local broker never ended"
                if self.scored_uncommitted is not None
                else ""
            )
        )


def tally_topic(
    kafka: KafkaSettings,
    topic: str,
    wanted: Collection[str],
    *,
    since: Mapping[int, int],
    timeout_s: float = 120.0,
    quiet_s: float = 10.0,
    isolation_level: str = "read_committed",
) -> TopicTally:
    """Reads from `since` until every wanted id was seen, or nothing new came for `quiet_s`."""
    wanted_ids = {event_id.encode() for event_id in wanted}
    counts: Counter[bytes] = Counter()
    copies_at: dict[bytes, list[tuple[int, int]]] = {}
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers.split(","),
        enable_auto_commit=False,
        isolation_level=isolation_level,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        for partition in partitions:
            consumer.seek(partition, since.get(partition.partition, 0))
        deadline = time.monotonic() + timeout_s
        last_news = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last_news < quiet_s:
            for batch in consumer.poll(timeout_ms=300, max_records=5000).values():
                last_news = time.monotonic()
                for record in batch:
                    event_id = dict(record.headers or []).get("ce_id")
                    if event_id in wanted_ids:
                        counts[event_id] += 1
                        copies_at.setdefault(event_id, []).append((record.partition, record.offset))
            if len(counts) == len(wanted_ids):
                # Everything arrived; a moment more shows copies written just behind the originals.
                quiet_s = min(quiet_s, 1.0)
        read_to = {partition.partition: consumer.position(partition) for partition in partitions}
    finally:
        consumer.close()
    seen = {event_id.decode() for event_id in counts}
    return TopicTally(
        topic=topic,
        records=sum(counts.values()),
        unique=len(counts),
        missing=frozenset(set(wanted) - seen),
        copies_at={event_id.decode(): tuple(copies) for event_id, copies in copies_at.items()},
        read_to=read_to,
    )


def not_applied(client: redis.Redis, brand_of: Mapping[str, str]) -> frozenset[str]:
    """Ids without the scorer's applied marker, the one proof an event reached the aggregates."""
    event_ids = list(brand_of)
    pipe = client.pipeline(transaction=False)
    for event_id in event_ids:
        pipe.exists(f"{brand_prefix(brand_of[event_id])}applied:{event_id}")
    return frozenset(event_id for event_id, found in zip(event_ids, pipe.execute(), strict=True) if not found)


def aggregate_differences(
    aggregates: RedisAggregates,
    reference: Mapping[AggregateKey, SatisfactionCounts],
    *,
    window: timedelta,
) -> dict[AggregateKey, tuple[SatisfactionCounts, SatisfactionCounts]]:
    """Every stage the reference or Redis knows of, plus the brand-wide figures."""
    differences = {}
    now = datetime.now(UTC)
    for brand in sorted({brand for brand, _ in reference}):
        stages = {stage for b, stage in reference if b == brand} | set(aggregates.stages(brand)) | {ALL_STAGES}
        stored = aggregates.satisfaction_many(brand, sorted(stages), at=now, window=window)
        for stage in sorted(stages):
            expected = reference.get((brand, stage), SatisfactionCounts())
            if stored[stage] != expected:
                differences[(brand, stage)] = (stored[stage], expected)
    return differences


def check_stream(
    kafka: KafkaSettings,
    client: redis.Redis,
    *,
    accepted: Mapping[str, str],
    reference: Mapping[AggregateKey, SatisfactionCounts],
    feedback_since: Mapping[int, int],
    scored_since: Mapping[int, int],
    window: timedelta,
    timeout_s: float = 120.0,
) -> StreamReport:
    """`accepted` maps each accepted `event_id` to its brand; `reference` is `reference_counts(events)`."""
    # A killed scorer's open transaction holds back read_committed readers of its partitions until
    # the local broker ends it at the transaction timeout (the scorer's default: 30 s). Usually 30 s
    # after the kill; in 2 of about 10 runs on 2026-11-23 it took more than 45 s. The wait costs
    # nothing when every id arrives sooner.
    scored = tally_topic(
        kafka, topics.SCORED, accepted, since=scored_since, timeout_s=max(timeout_s, 180.0), quiet_s=100
    )
    uncommitted = None
    if scored.missing:
        uncommitted = tally_topic(
            kafka, topics.SCORED, scored.missing, since=scored_since, isolation_level="read_uncommitted"
        )
    return StreamReport(
        accepted=len(accepted),
        feedback=tally_topic(kafka, topics.FEEDBACK, accepted, since=feedback_since, timeout_s=timeout_s),
        scored=scored,
        not_applied=not_applied(client, accepted),
        aggregate_differences=aggregate_differences(RedisAggregates(client), reference, window=window),
        scored_uncommitted=uncommitted,
    )


def notification_keys(incident: Incident) -> set[str]:
    """The idempotency key of every notification the incident records as sent (see `notifications_for`)."""
    keys: set[str] = set()
    for sent in incident.notified:
        receivers = incident.routing.receivers
        if sent.startswith("escalate") and incident.routing.escalation_receivers:
            receivers = incident.routing.escalation_receivers
        keys.update(f"{incident.id}:{sent}:{receiver}" for receiver in receivers)
    return keys


@dataclass(frozen=True)
class NotificationReport:
    expected: frozenset[str]
    """Idempotency keys the alerts store says were notified."""
    deliveries: dict[str, int]
    """webhook-id → requests the receiver accepted with it."""
    inconsistent: frozenset[str] = field(default_factory=frozenset)
    """Keys whose copies carried different notifications: a receiver could not de-duplicate them."""

    @property
    def expected_ids(self) -> dict[str, str]:
        return {webhook_id(key): key for key in self.expected}

    @property
    def missing(self) -> frozenset[str]:
        return frozenset(key for message_id, key in self.expected_ids.items() if message_id not in self.deliveries)

    @property
    def unexpected(self) -> frozenset[str]:
        return frozenset(set(self.deliveries) - set(self.expected_ids))

    @property
    def redelivered(self) -> dict[str, int]:
        return {message_id: count for message_id, count in self.deliveries.items() if count > 1}

    def summary(self) -> str:
        return (
            f"{len(self.expected)} notifications; {sum(self.deliveries.values())} deliveries; "
            f"missing {len(self.missing)}, unexpected {len(self.unexpected)}, "
            f"redelivered {len(self.redelivered)} keys ({sum(self.redelivered.values()) - len(self.redelivered)} "
            f"extra copies), inconsistent copies {len(self.inconsistent)}"
        )


def check_notifications(requests: Sequence[ReceivedRequest], incidents: Iterable[Incident]) -> NotificationReport:
    """Only accepted requests count: a failed attempt is the outbox's business, not the receiver's."""
    expected = frozenset(key for incident in incidents for key in notification_keys(incident))
    delivered = [request for request in requests if request.succeeded and "webhook-id" in request.headers]
    deliveries = Counter(request.headers["webhook-id"] for request in delivered)
    # The notification itself is the body's `data`; the envelope's timestamp is per attempt.
    bodies: dict[str, set[str]] = {}
    for request in delivered:
        bodies.setdefault(request.headers["webhook-id"], set()).add(repr(sorted(request.json()["data"].items())))
    inconsistent = frozenset(message_id for message_id, variants in bodies.items() if len(variants) > 1)
    return NotificationReport(expected=expected, deliveries=dict(deliveries), inconsistent=inconsistent)
