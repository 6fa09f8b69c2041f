"""SIGKILL the scorer at random moments of a feedback stream: no event lost, none counted twice.

`make fault` runs 20,000 events and five kills (CXPULSE_FAULT_EVENTS, CXPULSE_FAULT_ROUNDS);
CI runs fewer. The local broker (Tansu) does not abort a killed producer's open transaction when
its successor initialises, so that transaction's records can become visible to read_committed
readers; the aggregates are exact regardless because every event is applied at most once by
`event_id`, and the copies on the scored topic are reported, not hidden.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest
import redis as redis_client

from cxpulse_cli.localstack import ManagedProcess, start_service
from cxpulse_contracts import topics
from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.support.fault_checker import check_stream
from tests.support.feedback_stream import make_events, publish, reference_counts
from tests.support.kafka_reader import end_offsets
from tests.support.scorer_fault import (
    WINDOW,
    fault_events,
    fault_rounds,
    fault_timeout_s,
    scorer_env,
    sigkill,
    start_group_at_end,
    wait_for_total,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(fault_timeout_s())]
EVENTS = fault_events()
ROUNDS = fault_rounds()


def run_crash_scenario(
    tmp_path: Path, kafka: KafkaSettings, redis_settings: RedisSettings, *, processes: int, seed: int
) -> None:
    brands = [f"fault-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = make_events(EVENTS, brands=brands, seed=seed)
    expected = reference_counts(events)
    client = redis_client.Redis.from_url(redis_settings.url.get_secret_value())
    aggregates = RedisAggregates(client)
    instances = [f"fault-{seed}-{n}" for n in range(processes)]
    group = f"cx-scorer-fault-{uuid.uuid4().hex[:8]}"
    start_group_at_end(kafka, group)
    feedback_start = end_offsets(kafka.bootstrap_servers, topics.FEEDBACK)
    scored_start = end_offsets(kafka.bootstrap_servers, topics.SCORED)
    running: dict[str, ManagedProcess] = {
        name: start_service("scorer", scorer_env(kafka, redis_settings, name, group), tmp_path / "logs")
        for name in instances
    }
    rng = random.Random(seed)
    kill_points = sorted(rng.sample(range(EVENTS // 10, EVENTS * 9 // 10), ROUNDS))
    try:
        publish(kafka, events)
        for kill_at in kill_points:
            progressed = wait_for_total(aggregates, brands, kill_at, timeout_s=240)
            assert progressed >= kill_at, f"the scorers made no progress to {kill_at} events before a kill"
            victim = rng.choice(instances)
            sigkill(running[victim])
            running[victim] = start_service(
                "scorer", scorer_env(kafka, redis_settings, victim, group), tmp_path / "logs"
            )
        total = wait_for_total(aggregates, brands, EVENTS, timeout_s=300)
        assert total == EVENTS
        # Checked while the scorers run: aggregates are written before the transaction commits.
        report = check_stream(
            kafka,
            client,
            accepted={str(event.event_id): event.brand for event in events},
            reference=expected,
            feedback_since=feedback_start,
            scored_since=scored_start,
            window=WINDOW,
        )
    finally:
        for process in running.values():
            process.stop()
    print(f"{processes} scorer(s), {len(kill_points)} SIGKILLs at {kill_points}: {report.summary()}")
    assert not report.lost, f"{len(report.lost)} events lost, e.g. {sorted(report.lost)[:5]}"
    assert not report.aggregate_differences, report.aggregate_differences
    assert report.feedback.copies == 0  # published once, straight onto the topic


def test_scorer_killed_mid_stream_restarts_with_exact_aggregates(
    tmp_path: Path, kafka_settings: KafkaSettings, redis_settings: RedisSettings
) -> None:
    run_crash_scenario(tmp_path, kafka_settings, redis_settings, processes=1, seed=11)


def test_one_of_two_scorers_killed_keeps_aggregates_exact(
    tmp_path: Path, kafka_settings: KafkaSettings, redis_settings: RedisSettings
) -> None:
    run_crash_scenario(tmp_path, kafka_settings, redis_settings, processes=2, seed=12)
