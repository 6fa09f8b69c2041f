"""Reads a whole topic from the beginning without a consumer group, to count what is really there."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def end_offsets(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """Where each partition ends now: read from here to see only what a test writes next."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers.split(","), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        return {partition.partition: offset for partition, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    since: dict[int, int] | None = None,
    until: Callable[[list[Any]], bool] = lambda records: False,
    timeout_s: float = 30.0,
    isolation_level: str = "read_committed",
) -> list[Any]:
    """The records on `topic` (from `since`, else from the beginning); stops early once `until(records)`."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers.split(","),
        enable_auto_commit=False,
        isolation_level=isolation_level,
        consumer_timeout_ms=1000,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        if since is None:
            consumer.seek_to_beginning(*partitions)
        else:
            for partition in partitions:
                consumer.seek(partition, since.get(partition.partition, 0))
        end_offsets = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200, max_records=5000).values():
                records.extend(batch)
            caught_up = all(consumer.position(tp) >= end_offsets[tp] for tp in partitions)
            if until(records) or (caught_up and not _end_moved(consumer, partitions, end_offsets)):
                break
        return records
    finally:
        consumer.close()


def _end_moved(consumer: KafkaConsumer, partitions: list[TopicPartition], end_offsets: dict[Any, int]) -> bool:
    latest = consumer.end_offsets(partitions)
    moved = latest != end_offsets
    end_offsets.update(latest)
    return moved


def records_with_event_id(records: list[Any], event_id: str) -> list[Any]:
    return [record for record in records if dict(record.headers).get("ce_id") == event_id.encode()]
