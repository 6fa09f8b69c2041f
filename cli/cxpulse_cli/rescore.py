"""`cxpulse rescore`: re-derive scores and aggregates from `cx.feedback.v1` after a model change.

For the brands asked for, the stored aggregates (and their applied-once markers) are deleted and
every event still on the topic is scored again with the scorer's configured model and applied
once. The live scorer may keep running: an event it applies meanwhile is marked applied and the
rescore skips it, so nothing counts twice; figures are partial until the rescore finishes.
Events past the topic's retention cannot be re-derived: keep retention at least as long as the
longest window you report (30 days).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from pydantic import TypeAdapter, ValidationError

from cxpulse_contracts import FeedbackEvent, topics
from cxpulse_scorer.adapters.aggregates import APPLIED_NOW, RedisAggregates, brand_prefix
from cxpulse_scorer.app import ScorerSettings, load_scoring
from cxpulse_scorer.domain.scoring import FeedbackScorer
from cxpulse_scorer.worker import source_position
from cxpulse_shared.redis import make_redis
from cxpulse_shared.settings import KafkaSettings, RedisSettings

_feedback: TypeAdapter[Any] = TypeAdapter(FeedbackEvent)
BATCH = 1000


def forget_brand(aggregates: RedisAggregates, brand: str) -> int:
    client = aggregates.client
    deleted = 0
    for key in client.scan_iter(match=f"{brand_prefix(brand)}*", count=1000):
        deleted += int(client.delete(key))
    return deleted


def rescore(
    *, brands: set[str], kafka: KafkaSettings, aggregates: RedisAggregates, scorer: FeedbackScorer
) -> dict[str, int]:
    """Returns how many events were read, applied again and skipped (already applied live)."""
    for brand in brands:
        forget_brand(aggregates, brand)
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers.split(","),
        enable_auto_commit=False,
        isolation_level="read_committed",
        security_protocol=kafka.security_protocol,
    )
    counts = {"read": 0, "applied": 0, "skipped": 0, "undecodable": 0}
    try:
        partitions = [
            TopicPartition(topics.FEEDBACK, p) for p in sorted(consumer.partitions_for_topic(topics.FEEDBACK) or [])
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        # The log end to reach: ListOffsets, raised to the first high watermark a fetch reports.
        # Some brokers (the local Tansu) answer ListOffsets short of the end, and fetching on to
        # later high watermarks would chase live traffic for ever.
        targets = consumer.end_offsets(partitions)
        observed: set[TopicPartition] = set()
        while True:
            records = [
                record for batch in consumer.poll(timeout_ms=1000, max_records=BATCH).values() for record in batch
            ]
            for partition in partitions:
                highwater = consumer.highwater(partition)
                if partition not in observed and highwater is not None:
                    targets[partition] = max(targets[partition], highwater)
                    observed.add(partition)
            wanted, positions = [], []
            for record in records:
                counts["read"] += 1
                if (record.key or b"").decode() not in brands:
                    continue
                try:
                    wanted.append(_feedback.validate_json(record.value or b""))
                    positions.append(source_position(record))
                except ValidationError:
                    counts["undecodable"] += 1
            if wanted:
                scored = scorer.score_batch(wanted, scored_at=datetime.now(UTC))
                outcomes = aggregates.apply(
                    [(item.contribution, position) for item, position in zip(scored, positions, strict=True)]
                )
                counts["applied"] += sum(1 for outcome in outcomes if outcome == APPLIED_NOW)
                counts["skipped"] += sum(1 for outcome in outcomes if outcome != APPLIED_NOW)
            caught_up = all(consumer.position(partition) >= targets[partition] for partition in partitions)
            if caught_up and (not records or len(observed) == len(partitions)):
                break
    finally:
        consumer.close()
    return counts


def run(args: argparse.Namespace) -> int:
    scorer = load_scoring(ScorerSettings()).scorer
    aggregates = RedisAggregates(make_redis(RedisSettings()))
    started = time.monotonic()
    counts = rescore(brands=set(args.brand), kafka=KafkaSettings(), aggregates=aggregates, scorer=scorer)
    print(
        f"rescored {', '.join(sorted(args.brand))} with {scorer.model_version}: "
        f"{counts['applied']} applied, {counts['skipped']} already applied live, {counts['undecodable']} undecodable, "
        f"{counts['read']} records read in {time.monotonic() - started:.1f}s"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rescore", help="re-derive a brand's aggregates from the topic with the current model"
    )
    parser.add_argument("--brand", action="append", required=True, help="brand slug (repeat for several)")
    parser.set_defaults(func=run)
