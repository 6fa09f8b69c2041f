"""SIGKILL the scorer in the middle of a 20,000-event stream: the aggregates still come out exact.

The local broker (Tansu) does not abort a killed producer's open transaction when its successor
initialises, so that transaction's records can become visible to read_committed readers; the
aggregates are exact regardless because every event is applied at most once by `event_id`, and
the copies on the scored topic are reported, not hidden.
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis as redis_client

from cxpulse_cli.localstack import ManagedProcess, start_service
from cxpulse_contracts import topics
from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_scorer.domain.satisfaction import ALL_STAGES
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.support.feedback_stream import make_events, publish, reference_counts
from tests.support.kafka_reader import end_offsets, read_topic
from tests.support.scorer_fault import WINDOW, scorer_env, wait_for_total

pytestmark = pytest.mark.integration
EVENTS = int(os.environ.get("CXPULSE_FAULT_EVENTS", "20000"))


def run_crash_scenario(
    tmp_path: Path, kafka: KafkaSettings, redis_settings: RedisSettings, *, processes: int, seed: int
) -> None:
    brands = [f"fault-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = make_events(EVENTS, brands=brands, seed=seed)
    expected = reference_counts(events)
    aggregates = RedisAggregates(redis_client.Redis.from_url(redis_settings.url.get_secret_value()))
    instances = [f"fault-{seed}-{n}" for n in range(processes)]
    group = f"cx-scorer-fault-{uuid.uuid4().hex[:8]}"
    running: dict[str, ManagedProcess] = {
        name: start_service("scorer", scorer_env(kafka, redis_settings, name, group), tmp_path / "logs")
        for name in instances
    }
    scored_start = end_offsets(kafka.bootstrap_servers, topics.SCORED)
    try:
        publish(kafka, events)
        rng = random.Random(seed)
        kill_at = rng.randint(EVENTS // 10, EVENTS // 2)
        progressed = wait_for_total(aggregates, brands, kill_at, timeout_s=240)
        assert progressed >= kill_at, "the scorer made no progress before the kill"
        victim = instances[0]
        running[victim].signal(signal.SIGKILL)
        running[victim].stop()
        running[victim] = start_service("scorer", scorer_env(kafka, redis_settings, victim, group), tmp_path / "logs")
        total = wait_for_total(aggregates, brands, EVENTS, timeout_s=300)
        assert total == EVENTS
        time.sleep(2)  # anything still in flight would now show up as double counting
        for (brand, stage), reference in expected.items():
            stored = aggregates.satisfaction(brand, stage, at=datetime.now(UTC), window=WINDOW)
            assert stored == reference, f"{brand}/{stage}: {stored} != {reference}"
        assert (
            sum(counts.responses + counts.mentions for (b, s), counts in expected.items() if s == ALL_STAGES) == EVENTS
        )
    finally:
        for process in running.values():
            process.stop()
    wanted = {str(event.event_id).encode() for event in events}
    scored = [
        r
        for r in read_topic(kafka.bootstrap_servers, topics.SCORED, since=scored_start, timeout_s=60)
        if dict(r.headers).get("ce_id") in wanted
    ]
    unique = {dict(record.headers)["ce_id"] for record in scored}
    print(
        f"scored topic (read_committed): {len(scored)} records for {len(unique)} of {EVENTS} events; "
        f"{len(scored) - len(unique)} extra copies (the local broker's leaked transaction)"
    )
    assert unique == wanted


def test_scorer_killed_mid_stream_restarts_with_exact_aggregates(
    tmp_path: Path, kafka_settings: KafkaSettings, redis_settings: RedisSettings
) -> None:
    run_crash_scenario(tmp_path, kafka_settings, redis_settings, processes=1, seed=11)


def test_one_of_two_scorers_killed_keeps_aggregates_exact(
    tmp_path: Path, kafka_settings: KafkaSettings, redis_settings: RedisSettings
) -> None:
    run_crash_scenario(tmp_path, kafka_settings, redis_settings, processes=2, seed=12)
