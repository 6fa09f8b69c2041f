"""Standard Webhooks: the specification's own test vector, tampered variants, replays and clock skew.

The vector is the one the specification's reference library tests its signer with
(standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py, test_sign_function).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from cxpulse_cli.localstack import ManagedProcess
from cxpulse_cli.webhook_client import encode, signed_headers
from cxpulse_collector.app import create_app
from cxpulse_collector.sources.base import SignatureInvalid, SourceRequest
from cxpulse_collector.sources.formbricks import FormbricksAdapter
from cxpulse_contracts import topics
from cxpulse_shared.problem import PROBLEM_MEDIA_TYPE
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.badinput.support import TopicWatch, sign_raw
from tests.support.collector import channel, collector_settings, survey
from tests.support.kafka_reader import read_topic, records_with_event_id

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_TIME = datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC)
VECTOR_HEADERS = {
    "webhook-id": VECTOR_MSG_ID,
    "webhook-timestamp": str(VECTOR_TIMESTAMP),
    "webhook-signature": VECTOR_SIGNATURE,
}
OTHER_SECRET = "whsec_b3RoZXItc2VjcmV0LW9mLXRoaXJ0eS10d28tYnl0ZXMh"


def test_the_channel_client_signs_the_official_vector() -> None:
    headers = signed_headers(VECTOR_SECRET, VECTOR_PAYLOAD, timestamp=VECTOR_TIMESTAMP, msg_id=VECTOR_MSG_ID)
    assert headers["webhook-signature"] == VECTOR_SIGNATURE
    assert headers["webhook-timestamp"] == str(VECTOR_TIMESTAMP)


def test_the_raw_bytes_signer_of_these_tests_signs_the_official_vector() -> None:
    headers = sign_raw(VECTOR_SECRET, VECTOR_PAYLOAD, msg_id=VECTOR_MSG_ID, timestamp=VECTOR_TIMESTAMP)
    assert headers == VECTOR_HEADERS


def formbricks_request(body: bytes, headers: dict[str, str]) -> SourceRequest:
    return SourceRequest(
        method="POST",
        url="http://collector.test/v1/webhooks/formbricks?channel=fb",
        headers=headers,
        query={"channel": "fb"},
        body=body,
    )


def test_the_official_vector_verifies_at_its_own_time() -> None:
    FormbricksAdapter().verify(formbricks_request(VECTOR_PAYLOAD, VECTOR_HEADERS), [VECTOR_SECRET], now=VECTOR_TIME)


def test_the_vector_verifies_among_other_signatures_and_with_a_secret_being_rotated_out() -> None:
    others = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    headers = {**VECTOR_HEADERS, "webhook-signature": f"{others} {VECTOR_SIGNATURE}"}
    FormbricksAdapter().verify(
        formbricks_request(VECTOR_PAYLOAD, headers), [OTHER_SECRET, VECTOR_SECRET], now=VECTOR_TIME
    )


TAMPERED: dict[str, tuple[bytes, dict[str, str]]] = {
    "payload changed": (b'{"test": 2432232315}', VECTOR_HEADERS),
    "payload re-serialised": (b'{"test":2432232314}', VECTOR_HEADERS),
    "id changed": (VECTOR_PAYLOAD, {**VECTOR_HEADERS, "webhook-id": VECTOR_MSG_ID + "x"}),
    "timestamp changed": (VECTOR_PAYLOAD, {**VECTOR_HEADERS, "webhook-timestamp": str(VECTOR_TIMESTAMP + 1)}),
    "signature changed": (VECTOR_PAYLOAD, {**VECTOR_HEADERS, "webhook-signature": VECTOR_SIGNATURE[:-2] + "A="}),
    "signature as v2": (VECTOR_PAYLOAD, {**VECTOR_HEADERS, "webhook-signature": "v2" + VECTOR_SIGNATURE[2:]}),
    "signature not base64": (VECTOR_PAYLOAD, {**VECTOR_HEADERS, "webhook-signature": "v1,%%%"}),
    "signature empty": (VECTOR_PAYLOAD, {**VECTOR_HEADERS, "webhook-signature": "v1,"}),
    "timestamp not a number": (VECTOR_PAYLOAD, {**VECTOR_HEADERS, "webhook-timestamp": "hello"}),
    "signature missing": (VECTOR_PAYLOAD, {k: v for k, v in VECTOR_HEADERS.items() if k != "webhook-signature"}),
    "id missing": (VECTOR_PAYLOAD, {k: v for k, v in VECTOR_HEADERS.items() if k != "webhook-id"}),
}


@pytest.mark.parametrize("name", TAMPERED)
def test_a_tampered_vector_is_rejected(name: str) -> None:
    body, headers = TAMPERED[name]
    with pytest.raises(SignatureInvalid):
        FormbricksAdapter().verify(formbricks_request(body, headers), [VECTOR_SECRET], now=VECTOR_TIME)


def test_the_vector_under_another_secret_is_rejected() -> None:
    with pytest.raises(SignatureInvalid):
        FormbricksAdapter().verify(formbricks_request(VECTOR_PAYLOAD, VECTOR_HEADERS), [OTHER_SECRET], now=VECTOR_TIME)


@pytest.mark.parametrize("skew", [timedelta(minutes=-4), timedelta(minutes=4)])
def test_the_vector_within_the_tolerance_verifies(skew: timedelta) -> None:
    FormbricksAdapter().verify(
        formbricks_request(VECTOR_PAYLOAD, VECTOR_HEADERS), [VECTOR_SECRET], now=VECTOR_TIME + skew
    )


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_the_vector_outside_the_tolerance_is_rejected(skew: timedelta) -> None:
    with pytest.raises(SignatureInvalid):
        FormbricksAdapter().verify(
            formbricks_request(VECTOR_PAYLOAD, VECTOR_HEADERS), [VECTOR_SECRET], now=VECTOR_TIME + skew
        )


@pytest.fixture(scope="module")
def collector(broker: ManagedProcess, redis_server: ManagedProcess) -> Iterator[tuple[TestClient, TopicWatch]]:
    app = create_app(
        collector_settings(publish_timeout_s=30.0),
        channels={
            "vector": channel("vector", VECTOR_SECRET, source=f"vector-{uuid.uuid4().hex[:8]}", rate_limit_per_s=None)
        },
        kafka=KafkaSettings(bootstrap_servers=broker.address),
        redis_settings=RedisSettings(url=redis_server.address),  # type: ignore[arg-type]
    )
    feedback = TopicWatch(broker.address, topics.FEEDBACK)
    try:
        with TestClient(app) as client:
            yield client, feedback
    finally:
        feedback.close()


def deliver(client: TestClient, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/v1/surveys?channel=vector", content=body, headers={**headers, "content-type": "application/json"}
    )
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    return response.status_code, response.json()


@pytest.mark.integration
def test_the_vector_as_sent_is_401_at_the_collector_for_its_stale_timestamp(
    collector: tuple[TestClient, TopicWatch],
) -> None:
    client, feedback = collector
    before = feedback.ends()
    assert deliver(client, VECTOR_PAYLOAD, VECTOR_HEADERS)[0] == 401
    assert feedback.ends() == before


@pytest.mark.integration
def test_the_vector_signed_now_passes_the_collectors_signature_check_and_fails_validation(
    collector: tuple[TestClient, TopicWatch],
) -> None:
    client, feedback = collector
    before = feedback.ends()
    status, problem = deliver(client, VECTOR_PAYLOAD, sign_raw(VECTOR_SECRET, VECTOR_PAYLOAD))
    assert status == 422, problem
    tampered_status, _ = deliver(client, b'{"test": 2432232315}', sign_raw(VECTOR_SECRET, VECTOR_PAYLOAD))
    assert tampered_status == 401
    assert feedback.ends() == before


@pytest.mark.integration
def test_a_replayed_delivery_is_accepted_as_a_duplicate_and_not_republished(
    collector: tuple[TestClient, TopicWatch], broker: ManagedProcess
) -> None:
    client, feedback = collector
    start = feedback.ends()
    body = encode(survey())
    headers = signed_headers(VECTOR_SECRET, body)
    first_status, first = deliver(client, body, headers)
    replay_status, replay = deliver(client, body, headers)
    assert (first_status, first["accepted"], first["duplicates"]) == (202, 1, 0)
    assert (replay_status, replay["accepted"], replay["duplicates"]) == (202, 0, 1)
    assert replay["event_ids"] == first["event_ids"]
    event_id = str(first["event_ids"][0])  # type: ignore[index]
    records = read_topic(broker.address, topics.FEEDBACK, since=start, timeout_s=15)
    assert len(records_with_event_id(records, event_id)) == 1


@pytest.mark.integration
@pytest.mark.parametrize("skew_s", [-360, 360])
def test_a_clock_six_minutes_off_is_401_and_publishes_nothing(
    collector: tuple[TestClient, TopicWatch], skew_s: int
) -> None:
    client, feedback = collector
    body = encode(survey())
    before = feedback.ends()
    status, problem = deliver(client, body, signed_headers(VECTOR_SECRET, body, timestamp=time.time() + skew_s))
    assert status == 401, problem
    assert feedback.ends() == before


@pytest.mark.integration
@pytest.mark.parametrize("skew_s", [-240, 240])
def test_a_clock_four_minutes_off_is_accepted(collector: tuple[TestClient, TopicWatch], skew_s: int) -> None:
    client, _ = collector
    body = encode(survey())
    status, answer = deliver(client, body, signed_headers(VECTOR_SECRET, body, timestamp=time.time() + skew_s))
    assert (status, answer["accepted"]) == (202, 1)
