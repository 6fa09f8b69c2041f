"""Scorer processes under fault injection: their environment and the aggregates they have applied so far."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from cxpulse_cli.localstack import ManagedProcess
from cxpulse_contracts import topics
from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_scorer.domain.satisfaction import ALL_STAGES
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.support.kafka_reader import read_topic

WINDOW = timedelta(hours=2)


def scorer_env(kafka: KafkaSettings, redis_settings: RedisSettings, instance: str, group: str) -> dict[str, str]:
    return {
        "SCORER_GROUP_ID": group,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "REDIS_URL": redis_settings.url.get_secret_value(),
        "CXPULSE_API_TOKEN": "fault-test-operator-token",
        "SCORER_INSTANCE_ID": instance,
        "SCORER_MAX_POLL_INTERVAL_MS": "8000",
        "SCORER_SESSION_TIMEOUT_MS": "6000",
    }


def applied_total(aggregates: RedisAggregates, brands: list[str]) -> int:
    total = 0
    for brand in brands:
        counts = aggregates.satisfaction(brand, ALL_STAGES, at=datetime.now(UTC), window=WINDOW)
        total += counts.responses + counts.mentions
    return total


def wait_for_total(aggregates: RedisAggregates, brands: list[str], expected: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    total = applied_total(aggregates, brands)
    while total < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        total = applied_total(aggregates, brands)
    return total


def start_group_at_end(kafka: KafkaSettings, group: str, topic: str = topics.FEEDBACK) -> dict[int, int]:
    """Commits the log end for a fresh group, so its scorers read only what the test publishes next,
    not every event earlier tests of the session left on the topic. Returns the committed offsets."""
    consumer = _probe(kafka, group_id=group)
    try:
        partitions = _partitions(consumer, topic)
        ends = _log_ends(consumer, partitions, consumer.end_offsets(partitions))
        consumer.commit({tp: OffsetAndMetadata(ends[tp.partition], "", -1) for tp in partitions})
        return ends
    finally:
        consumer.close(autocommit=False)


def committed_offsets(kafka: KafkaSettings, group: str, topic: str = topics.FEEDBACK) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers.split(","))
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


def group_lag(kafka: KafkaSettings, group: str, topic: str = topics.FEEDBACK) -> dict[int, int]:
    """Per partition, the records after the group's committed offset."""
    committed = committed_offsets(kafka, group, topic)
    consumer = _probe(kafka)
    try:
        partitions = _partitions(consumer, topic)
        ends = _log_ends(consumer, partitions, {tp: committed.get(tp.partition, 0) for tp in partitions})
    finally:
        consumer.close(autocommit=False)
    return {partition: end - committed.get(partition, 0) for partition, end in ends.items()}


def wait_for_zero_lag(kafka: KafkaSettings, group: str, timeout_s: float) -> dict[int, int]:
    """The group's lag once every partition is at 0, or the last lag seen when the time is up."""
    deadline = time.monotonic() + timeout_s
    lag = group_lag(kafka, group)
    while any(lag.values()) and time.monotonic() < deadline:
        time.sleep(1.0)
        lag = group_lag(kafka, group)
    return lag


def scored_copies(kafka: KafkaSettings, event_ids: set[bytes], since: dict[int, int]) -> tuple[int, int]:
    """(records, distinct events) on the scored topic, read_committed, for these `ce_id`s."""
    records = [
        record
        for record in read_topic(kafka.bootstrap_servers, topics.SCORED, since=since, timeout_s=60)
        if dict(record.headers).get("ce_id") in event_ids
    ]
    return len(records), len({dict(record.headers)["ce_id"] for record in records})


def _probe(kafka: KafkaSettings, **config: Any) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers.split(","), enable_auto_commit=False, **config)


def _partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, partition) for partition in sorted(consumer.partitions_for_topic(topic) or [])]


def _log_ends(
    consumer: KafkaConsumer, partitions: list[TopicPartition], start: dict[TopicPartition, int], timeout_s: float = 60.0
) -> dict[int, int]:
    """The true log end of each partition, read from fetch responses' high watermark.

    Not ListOffsets: the local broker (Tansu) answers ListOffsets(latest) with the last batch's base
    offset + 1, short of the end whenever that batch holds more than one record."""
    consumer.assign(partitions)
    for partition in partitions:
        consumer.seek(partition, start[partition])
    deadline = time.monotonic() + timeout_s
    while True:
        consumer.poll(timeout_ms=200, max_records=10_000)
        highwaters = {partition: consumer.highwater(partition) for partition in partitions}
        known = {partition: end for partition, end in highwaters.items() if end is not None}
        if len(known) == len(partitions) and all(consumer.position(p) >= end for p, end in known.items()):
            return {partition.partition: end for partition, end in known.items()}
        if time.monotonic() > deadline:
            raise TimeoutError(f"log ends of {partitions[0].topic} not known after {timeout_s:.0f}s")


def fault_events(default: int = 5000) -> int:
    """Events per run: `make fault` sets CXPULSE_FAULT_EVENTS=20000; the default keeps CI quick."""
    return int(os.environ.get("CXPULSE_FAULT_EVENTS", str(default)))


def fault_rounds(default: int = 1) -> int:
    """SIGKILLs per run: `make fault` sets CXPULSE_FAULT_ROUNDS=5; the default keeps CI quick."""
    return int(os.environ.get("CXPULSE_FAULT_ROUNDS", str(default)))


def fault_timeout_s(*, base_s: float = 240.0, per_round_s: float = 60.0, per_thousand_events_s: float = 6.0) -> float:
    """A pytest timeout that grows with the configured rounds and events, for slow shared machines."""
    return base_s + per_round_s * fault_rounds() + per_thousand_events_s * fault_events() / 1000


def sigkill(process: ManagedProcess) -> None:
    """No shutdown hook runs: open transactions, leases and claims are left as they were."""
    process.signal(signal.SIGKILL)
    process.stop()
