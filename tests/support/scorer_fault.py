"""Scorer processes under fault injection: their environment and the aggregates they have applied so far."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_scorer.domain.satisfaction import ALL_STAGES
from cxpulse_shared.settings import KafkaSettings, RedisSettings

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
