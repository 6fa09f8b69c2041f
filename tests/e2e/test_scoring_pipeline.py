"""N known events through the real collector, broker, scorer and Redis: exact figures out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cxpulse_cli.webhook_client import encode, signed_headers
from cxpulse_collector.app import create_app as create_collector
from cxpulse_contracts import ScoredFeedback, topics
from cxpulse_scorer.app import ScorerSettings
from cxpulse_scorer.app import create_app as create_scorer
from cxpulse_scorer.domain.pnl import PnlCounts, load_pnl_model, pnl_lines
from cxpulse_shared.settings import ApiAuthSettings, KafkaSettings, RedisSettings
from tests.support.collector import channel, collector_settings, mention, survey
from tests.support.kafka_reader import end_offsets, read_topic

pytestmark = pytest.mark.integration
TOKEN = "e2e-operator-token-0123456789"
CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def pipeline(
    kafka_settings: KafkaSettings, redis_settings: RedisSettings, webhook_secret: str
) -> Iterator[tuple[TestClient, TestClient]]:
    collector = create_collector(
        collector_settings(),
        channels={"tool": channel("tool", webhook_secret, rate_limit_per_s=None)},
        kafka=kafka_settings,
        redis_settings=redis_settings,
    )
    scorer = create_scorer(
        ScorerSettings(
            min_responses=1,
            max_poll_interval_ms=6000,
            session_timeout_ms=6000,
            group_id=f"cx-scorer-e2e-{uuid.uuid4().hex[:8]}",
        ),
        kafka=kafka_settings,
        redis_settings=redis_settings,
        auth=ApiAuthSettings(api_token=SecretStr(TOKEN)),
    )
    with TestClient(collector) as collector_client, TestClient(scorer) as scorer_client:
        yield collector_client, scorer_client


def post(client: TestClient, secret: str, kind: str, payload: object) -> dict[str, object]:
    body = encode(payload)
    response = client.post(f"/v1/{kind}s?channel=tool", content=body, headers=signed_headers(secret, body))
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def wait_for(check: object, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError("the scorer did not catch up in time")


def test_known_events_give_exact_satisfaction_pnl_and_one_scored_copy_each(
    pipeline: tuple[TestClient, TestClient], kafka_settings: KafkaSettings, webhook_secret: str
) -> None:
    collector, scorer = pipeline
    scored_start = end_offsets(kafka_settings.bootstrap_servers, topics.SCORED)
    brand = f"e2e-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC).replace(microsecond=0)
    late = (now - timedelta(days=3)).isoformat()
    stamp = (now - timedelta(minutes=20)).isoformat()
    surveys = [
        survey(brand=brand, journey_stage="support", metric="nps", score=score, comment=None, occurred_at=stamp)
        for score in (10, 9, 8, 7, 3)
    ]
    surveys += [
        survey(brand=brand, journey_stage="support", metric="csat", score=score, comment=None, occurred_at=stamp)
        for score in (5, 4, 2)
    ]
    surveys += [
        survey(brand=brand, journey_stage="onboard", metric="ces", score=score, comment=None, occurred_at=stamp)
        for score in (6, 2)
    ]
    late_survey = survey(brand=brand, journey_stage="support", metric="nps", score=0, comment=None, occurred_at=late)
    mentions = [
        mention(brand=brand, occurred_at=stamp, author={"handle": f"user{i}", "followers": 100}) for i in range(3)
    ]
    accepted = post(collector, webhook_secret, "survey", [*surveys, late_survey])["event_ids"]
    accepted += post(collector, webhook_secret, "mention", mentions)["event_ids"]  # type: ignore[operator]
    post(collector, webhook_secret, "survey", surveys[:2])  # duplicates: must not count twice
    headers = {"authorization": f"Bearer {TOKEN}"}

    def support_24h() -> dict[str, object]:
        response = scorer.get(
            "/v1/satisfaction", params={"brand": brand, "stage": "support", "window": "24h"}, headers=headers
        )
        return response.json() if response.status_code == 200 else {}  # type: ignore[no-any-return]

    wait_for(lambda: support_24h().get("responses") == 8)
    wait_for(
        lambda: (
            scorer.get("/v1/satisfaction", params={"brand": brand, "window": "30d"}, headers=headers)
            .json()
            .get("mentions")
            == 3
        )
    )
    figures = support_24h()
    assert figures["nps"] == 20.0  # (2 promoters − 1 detractor) / 5, passives in the denominator
    assert figures["csat"] == 66.67
    assert figures["csat_mean"] == round(11 / 3, 3)
    assert figures["sufficient"] is True
    onboard = scorer.get(
        "/v1/satisfaction", params={"brand": brand, "stage": "onboard", "window": "24h"}, headers=headers
    ).json()
    assert (onboard["ces_mean"], onboard["ces_easy_pct"]) == (4.0, 50.0)
    week = scorer.get(
        "/v1/satisfaction", params={"brand": brand, "stage": "support", "window": "7d"}, headers=headers
    ).json()
    assert week["responses"] == 9  # the late answer lands in its own (older) window
    assert round(week["nps"], 2) == round(100 * (2 - 2) / 6, 2)

    pnl = scorer.get(
        "/v1/pnl", params={"brand": brand, "period": "month", "date": now.date().isoformat()}, headers=headers
    ).json()
    model = load_pnl_model(CONFIG / "pnl" / "default.yaml")
    negative_mentions = sum(
        1
        for item in read_scored(kafka_settings, accepted, scored_start)
        if item.sentiment.label == "negative" and item.event.kind == "mention"
    )
    assert pnl["counts"]["promoters"] == 2
    assert pnl["counts"]["detractors"] >= 1
    expected_counts = PnlCounts(**pnl["counts"])
    assert pnl["lines"] == [line.__dict__ for line in pnl_lines(expected_counts, model)]
    assert pnl["counts"]["care_contacts"] == negative_mentions

    scored = read_scored(kafka_settings, accepted, scored_start)
    ids = [str(item.event.event_id) for item in scored]
    assert sorted(ids) == sorted(accepted)  # type: ignore[type-var]
    assert len(ids) == len(set(ids))


def read_scored(kafka_settings: KafkaSettings, wanted: object, since: dict[int, int]) -> list[ScoredFeedback]:
    wanted_ids = {item.encode() for item in wanted}  # type: ignore[attr-defined]
    records = read_topic(kafka_settings.bootstrap_servers, topics.SCORED, since=since)
    return [
        ScoredFeedback.model_validate_json(record.value)
        for record in records
        if dict(record.headers).get("ce_id") in wanted_ids
    ]


def test_unknown_brand_is_404_and_bad_parameters_422(pipeline: tuple[TestClient, TestClient]) -> None:
    _, scorer = pipeline
    headers = {"authorization": f"Bearer {TOKEN}"}
    assert scorer.get("/v1/satisfaction", params={"brand": "no-such-brand"}, headers=headers).status_code == 404
    bad_window = scorer.get("/v1/satisfaction", params={"brand": "acme-air", "window": "2h"}, headers=headers)
    assert bad_window.status_code == 422
    assert bad_window.headers["content-type"] == "application/problem+json"
    assert scorer.get("/v1/satisfaction", params={"brand": "acme-air"}).status_code == 401
    assert (
        scorer.get(
            "/v1/satisfaction", params={"brand": "acme-air"}, headers={"authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    assert scorer.get("/v1/pnl", params={"brand": "acme-air", "period": "year"}, headers=headers).status_code == 422
