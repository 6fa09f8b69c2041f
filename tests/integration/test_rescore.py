"""`cxpulse rescore` rebuilds a brand's aggregates from the topic, exactly, while other brands stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis

from cxpulse_cli.rescore import rescore
from cxpulse_scorer.adapters.aggregates import RedisAggregates
from cxpulse_scorer.app import ScorerSettings, load_scoring
from cxpulse_scorer.domain.satisfaction import ALL_STAGES, SatisfactionCounts
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.support.feedback_stream import make_events, publish, reference_counts

pytestmark = pytest.mark.integration


def test_rescore_rebuilds_exact_aggregates_and_leaves_other_brands(
    kafka_settings: KafkaSettings, redis_settings: RedisSettings
) -> None:
    rebuilt, untouched = f"rescore-{uuid.uuid4().hex[:8]}", f"keep-{uuid.uuid4().hex[:8]}"
    events = make_events(300, brands=[rebuilt, untouched], seed=5)
    publish(kafka_settings, events)
    aggregates = RedisAggregates(redis.Redis.from_url(redis_settings.url.get_secret_value()))
    kept = SatisfactionCounts(responses=7)
    aggregates.client.hset(f"cx:{{{untouched}}}:marker", "responses", 7)
    aggregates.client.hset(f"cx:{{{rebuilt}}}:sat:stale:h:0", "responses", 999)

    counts = rescore(
        brands={rebuilt}, kafka=kafka_settings, aggregates=aggregates, scorer=load_scoring(ScorerSettings()).scorer
    )

    expected = reference_counts([event for event in events if event.brand == rebuilt])
    assert counts["applied"] == sum(1 for event in events if event.brand == rebuilt)
    for (brand, stage), reference in expected.items():
        stored = aggregates.satisfaction(brand, stage, at=datetime.now(UTC), window=timedelta(hours=2))
        assert stored == reference, stage
    assert not aggregates.client.exists(f"cx:{{{rebuilt}}}:sat:stale:h:0")
    marker = aggregates.client.hgetall(f"cx:{{{untouched}}}:marker")
    assert SatisfactionCounts.from_fields({k.decode(): v.decode() for k, v in marker.items()}) == kept
    again = rescore(
        brands={rebuilt}, kafka=kafka_settings, aggregates=aggregates, scorer=load_scoring(ScorerSettings()).scorer
    )
    assert again["applied"] == counts["applied"]
    stored_all = aggregates.satisfaction(rebuilt, ALL_STAGES, at=datetime.now(UTC), window=timedelta(hours=2))
    assert stored_all == expected[(rebuilt, ALL_STAGES)]
