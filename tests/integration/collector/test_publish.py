"""The collector against the real broker and Redis: exactly once on the topic, loss-free retries."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from cxpulse_cli.localstack import ManagedProcess
from cxpulse_cli.webhook_client import encode, signed_headers
from cxpulse_collector.adapters.claims import KEY_PREFIX
from cxpulse_collector.app import create_app
from cxpulse_contracts import SurveyResponse, event_id_for, topics
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.support.collector import channel, collector_settings, survey
from tests.support.kafka_reader import end_offsets, read_topic, records_with_event_id

pytestmark = pytest.mark.integration


@pytest.fixture
def collector(
    kafka_settings: KafkaSettings, redis_settings: RedisSettings, webhook_secret: str
) -> Iterator[TestClient]:
    app = create_app(
        collector_settings(publish_timeout_s=2.0, redis_timeout_s=2.0),
        channels={"tool": channel("tool", webhook_secret, source="surveytool", rate_limit_per_s=None)},
        kafka=kafka_settings,
        redis_settings=redis_settings,
    )
    with TestClient(app) as client:
        yield client


def post(client: TestClient, secret: str, payload: object) -> tuple[int, dict[str, object]]:
    body = encode(payload)
    response = client.post("/v1/surveys?channel=tool", content=body, headers=signed_headers(secret, body))
    return response.status_code, response.json()


@pytest.fixture
def feedback_start(broker: ManagedProcess) -> dict[int, int]:
    return end_offsets(broker.address, topics.FEEDBACK)


def copies_on_topic(
    broker: ManagedProcess, event_id: str, since: dict[int, int], *, expected_at_least: int = 1
) -> list[object]:
    records = read_topic(
        broker.address,
        topics.FEEDBACK,
        since=since,
        until=lambda found: len(records_with_event_id(found, event_id)) >= expected_at_least + 1,
        timeout_s=5,
    )
    return records_with_event_id(records, event_id)


def test_accepted_event_is_on_the_topic_once_with_cloudevents_headers(
    collector: TestClient, broker: ManagedProcess, webhook_secret: str, feedback_start: dict[int, int]
) -> None:
    body = survey()
    status, answer = post(collector, webhook_secret, body)
    assert status == 202
    event_id = answer["event_ids"][0]  # type: ignore[index]
    copies = copies_on_topic(broker, event_id, feedback_start)
    assert len(copies) == 1
    record = copies[0]
    headers = dict(record.headers)  # type: ignore[attr-defined]
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"io.cxpulse.feedback.survey.v1"
    assert headers["ce_source"] == b"/cxpulse/collector/tool"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_time"].startswith(b"2026-11-20T10:00:00")
    version, trace_id, span_id, _flags = headers["traceparent"].decode().split("-")
    assert (version, len(trace_id), len(span_id)) == ("00", 32, 16)
    assert record.key == b"acme-air"  # type: ignore[attr-defined]
    event = SurveyResponse.model_validate_json(record.value)  # type: ignore[attr-defined]
    assert (str(event.event_id), event.response_id, event.score) == (event_id, body["response_id"], 3)


def test_same_response_in_a_later_delivery_and_twice_in_a_batch_is_not_republished(
    collector: TestClient, broker: ManagedProcess, webhook_secret: str, feedback_start: dict[int, int]
) -> None:
    first, second = survey(), survey()
    assert post(collector, webhook_secret, first)[1]["accepted"] == 1
    status, answer = post(collector, webhook_secret, [first, second, second])
    assert status == 202
    assert (answer["accepted"], answer["duplicates"]) == (1, 2)
    first_id, second_id, _ = answer["event_ids"]  # type: ignore[misc]
    assert len(copies_on_topic(broker, first_id, feedback_start)) == 1
    assert len(copies_on_topic(broker, second_id, feedback_start)) == 1


def test_claims_of_published_events_live_at_least_72_hours(
    collector: TestClient, redis_settings: RedisSettings, webhook_secret: str
) -> None:
    _, answer = post(collector, webhook_secret, survey())
    client = redis.Redis.from_url(redis_settings.url.get_secret_value())
    ttl_s = client.ttl(KEY_PREFIX + answer["event_ids"][0])  # type: ignore[index]
    assert ttl_s >= 72 * 3600 - 60


def test_broker_paused_gives_503_without_a_claim_and_the_retry_is_accepted_after_resume(
    collector: TestClient,
    broker: ManagedProcess,
    redis_settings: RedisSettings,
    webhook_secret: str,
    feedback_start: dict[int, int],
) -> None:
    body = survey()
    assert post(collector, webhook_secret, survey())[0] == 202  # warm: metadata and connection
    broker.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        encoded = encode(body)
        response = collector.post(
            "/v1/surveys?channel=tool", content=encoded, headers=signed_headers(webhook_secret, encoded)
        )
        waited_s = time.monotonic() - started
    finally:
        broker.signal(signal.SIGCONT)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert waited_s < 30, "the collector must answer, not hang, while the broker is paused"
    event_id = event_id_for(source="surveytool", brand=body["brand"], source_id=body["response_id"])
    claims = redis.Redis.from_url(redis_settings.url.get_secret_value())
    assert claims.get(KEY_PREFIX + str(event_id)) is None
    deadline = time.monotonic() + 60
    status, answer = post(collector, webhook_secret, body)
    while status == 503 and time.monotonic() < deadline:
        time.sleep(1)
        status, answer = post(collector, webhook_secret, body)
    assert status == 202
    assert answer["accepted"] == 1
    assert len(copies_on_topic(broker, answer["event_ids"][0], feedback_start)) >= 1  # type: ignore[index]


def test_one_brands_events_stay_in_acceptance_order_on_one_partition(
    collector: TestClient, webhook_secret: str, broker: ManagedProcess, feedback_start: dict[int, int]
) -> None:
    brand = f"ordered-{uuid.uuid4().hex[:8]}"
    sent = [survey(brand=brand, score=n % 11) for n in range(12)]
    for payload in sent[:4]:
        assert post(collector, webhook_secret, payload)[0] == 202
    assert post(collector, webhook_secret, sent[4:])[0] == 202
    expected = [str(event_id_for(source="surveytool", brand=brand, source_id=p["response_id"])) for p in sent]
    records = read_topic(
        broker.address,
        topics.FEEDBACK,
        since=feedback_start,
        until=lambda found: sum(record.key == brand.encode() for record in found) >= len(sent),
        timeout_s=10,
    )
    ours = sorted((record for record in records if record.key == brand.encode()), key=lambda r: r.offset)
    assert {record.partition for record in ours} == {ours[0].partition}
    assert [dict(record.headers)["ce_id"].decode() for record in ours] == expected
