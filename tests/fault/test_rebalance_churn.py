"""Rebalance churn: three scorers share the partitions; one is SIGKILLed and a new one joins mid-stream.

The killed scorer's partitions move once its session times out, and move again when the newcomer
joins; whatever was in flight is read again from the last commit. The group's lag still returns
to 0 on every partition of `cx.feedback.v1`, and the aggregates equal the reference exactly.
"""

from __future__ import annotations

import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis as redis_client

from cxpulse_cli.localstack import ManagedProcess, start_redis, start_service
from cxpulse_contracts import topics
from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.support.feedback_stream import make_events, publish, reference_counts
from tests.support.kafka_reader import end_offsets
from tests.support.scorer_fault import (
    WINDOW,
    fault_events,
    fault_timeout_s,
    scored_copies,
    scorer_env,
    start_group_at_end,
    wait_for_total,
    wait_for_zero_lag,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(fault_timeout_s())]
EVENTS = fault_events(default=3000)
# Brands are the partition keys: enough of them to give each of the three scorers some partitions.
BRANDS = 8


def test_scorer_killed_and_another_added_mid_stream_drains_every_partition_exactly(
    tmp_path: Path, kafka_settings: KafkaSettings
) -> None:
    logs = tmp_path / "logs"
    redis_process = start_redis(tmp_path / "redis", logs)
    running: dict[str, ManagedProcess] = {}
    try:
        redis_settings = RedisSettings(url=redis_process.address)
        aggregates = RedisAggregates(redis_client.Redis.from_url(redis_process.address))
        brands = [f"churn-{uuid.uuid4().hex[:8]}" for _ in range(BRANDS)]
        events = make_events(EVENTS, brands=brands, seed=21)
        expected = reference_counts(events)
        group = f"cx-scorer-churn-{uuid.uuid4().hex[:8]}"
        start_group_at_end(kafka_settings, group)
        scored_start = end_offsets(kafka_settings.bootstrap_servers, topics.SCORED)

        def start_scorer(instance: str) -> None:
            env = scorer_env(kafka_settings, redis_settings, instance, group)
            running[instance] = start_service("scorer", env, logs)

        for instance in ("churn-a", "churn-b", "churn-c"):
            start_scorer(instance)
        first, second, third = events[: EVENTS // 3], events[EVENTS // 3 : 2 * EVENTS // 3], events[2 * EVENTS // 3 :]
        publish(kafka_settings, first)
        progressed = wait_for_total(aggregates, brands, len(first) // 2, timeout_s=240)
        assert progressed >= len(first) // 2, "the scorers made no progress before the kill"

        running["churn-a"].signal(signal.SIGKILL)
        killed_at = time.monotonic()
        publish(kafka_settings, second)
        start_scorer("churn-d")
        publish(kafka_settings, third)
        total = wait_for_total(aggregates, brands, EVENTS, timeout_s=300)
        applied_s = time.monotonic() - killed_at
        lag = wait_for_zero_lag(kafka_settings, group, timeout_s=120)
        drained_s = time.monotonic() - killed_at

        assert total == EVENTS
        assert lag == dict.fromkeys(lag, 0), f"lag left per partition: {lag}"
        time.sleep(2)  # anything still in flight would now show up as double counting
        for (brand, stage), reference in expected.items():
            stored = aggregates.satisfaction(brand, stage, at=datetime.now(UTC), window=WINDOW)
            assert stored == reference, f"{brand}/{stage}: {stored} != {reference}"
    finally:
        for process in running.values():
            process.stop()
        redis_process.stop()
    records, distinct = scored_copies(kafka_settings, {str(event.event_id).encode() for event in events}, scored_start)
    print(
        f"rebalance churn: {EVENTS} events over {len(lag)} partitions; every event applied {applied_s:.1f}s and "
        f"lag 0 on every partition {drained_s:.1f}s after the kill; scored topic (read_committed): {records} records "
        f"for {distinct} events, {records - distinct} extra copies"
    )
    assert distinct == EVENTS
