"""Hostile bodies, signed by the channel, against the collector on the real broker and Redis: each is
a 4xx problem+json and leaves nothing on `cx.feedback.v1`. Texts built to be slow to score but
within the limits are accepted, and the scorer's own code scores them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from cxpulse_cli.localstack import ManagedProcess
from cxpulse_cli.webhook_client import encode
from cxpulse_collector.app import create_app
from cxpulse_collector.config import CollectorSettings
from cxpulse_contracts import FeedbackEvent, topics
from cxpulse_scorer.app import ScorerSettings, load_scoring
from cxpulse_scorer.domain.scoring import FeedbackScorer
from cxpulse_shared.problem import PROBLEM_MEDIA_TYPE
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.badinput.support import TopicWatch, sign_raw
from tests.support.collector import channel, collector_settings, mention, survey
from tests.support.kafka_reader import read_topic, records_with_event_id

pytestmark = pytest.mark.integration
SECRET = "whsec_YmFkaW5wdXQtaG9zdGlsZS1jaGFubmVsLXNlY3JldC0wMQ=="
LIMITS = CollectorSettings.model_fields
MAX_BODY_BYTES: int = LIMITS["max_body_bytes"].default
MAX_TEXT_CHARS: int = LIMITS["max_text_chars"].default
MAX_BATCH: int = LIMITS["max_batch_events"].default


@dataclass
class Collector:
    client: TestClient
    feedback: TopicWatch

    def post(
        self,
        kind: str,
        body: bytes | Iterator[bytes],
        *,
        content_type: str = "application/json",
        signed_as: bytes = b"",
    ) -> tuple[int, dict[str, Any]]:
        """Signs `body` (or `signed_as`, for a streamed body) and checks nothing reached the topic
        when the answer is a 4xx."""
        raw = body if isinstance(body, bytes) else signed_as
        headers = {**sign_raw(SECRET, raw), "content-type": content_type}
        before = self.feedback.ends()
        response = self.client.post(f"/v1/{kind}s?channel=hostile", content=body, headers=headers)
        if 400 <= response.status_code < 500:
            assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
            problem = response.json()
            assert problem["status"] == response.status_code
            assert problem["type"].startswith("https://")
            assert problem["title"]
            assert self.feedback.ends() == before, f"a {response.status_code} answer published something"
        return response.status_code, response.json()


@pytest.fixture(scope="module")
def collector(broker: ManagedProcess, redis_server: ManagedProcess) -> Iterator[Collector]:
    app = create_app(
        collector_settings(publish_timeout_s=30.0),
        channels={
            "hostile": channel("hostile", SECRET, source=f"hostile-{uuid.uuid4().hex[:8]}", rate_limit_per_s=None)
        },
        kafka=KafkaSettings(bootstrap_servers=broker.address),
        redis_settings=RedisSettings(url=redis_server.address),  # type: ignore[arg-type]
    )
    feedback = TopicWatch(broker.address, topics.FEEDBACK)
    try:
        with TestClient(app) as client:
            yield Collector(client, feedback)
    finally:
        feedback.close()


@pytest.fixture(scope="module")
def scorer() -> FeedbackScorer:
    return load_scoring(ScorerSettings()).scorer


def survey_json(**overrides: Any) -> str:
    return encode(survey(**overrides)).decode()


def padded_to(size: int) -> bytes:
    """A valid survey whose comment pads the body to `size` bytes (the text limit aside)."""
    body = encode(survey(comment=""))
    return body.replace(b'"comment":""', b'"comment":"' + b"x" * (size - len(body)) + b'"')


HOSTILE_BODIES: dict[str, tuple[bytes, set[int]]] = {
    "invalid UTF-8": (b'{"response_id":"\xff\xfe\xfa","brand":"acme-air"}', {400}),
    "lone surrogate escape": (survey_json(comment="x").replace('"x"', '"\\ud800"').encode(), {400, 422}),
    "arrays nested 10,000 deep": (b"[" * 10_000 + b"]" * 10_000, {400}),
    "objects nested 10,000 deep": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, {400}),
    "10 MB": (padded_to(10 * 1024 * 1024), {413}),
    "one byte over the body limit": (padded_to(MAX_BODY_BYTES + 1), {413}),
    "100,000-element array": (b"[" + b",".join([b"{}"] * 100_000) + b"]", {413}),
    "batch of 1,001": (encode([survey() for _ in range(MAX_BATCH + 1)]), {413}),
    "empty body": (b"", {400}),
    "only whitespace": (b" \n\t ", {400}),
    "JSON null": (b"null", {422}),
    "a number": (b"42", {422}),
    "a string": (b'"a survey"', {422}),
    "true": (b"true", {422}),
    "duplicate keys": (survey_json(response_id="first")[:-1].encode() + b',"response_id":"second"}', {400}),
    "NaN score": (survey_json(score=3).replace('"score":3', '"score":NaN').encode(), {400, 422}),
    "Infinity score": (survey_json(score=3).replace('"score":3', '"score":Infinity').encode(), {400, 422}),
    "-Infinity in an ignored field": (
        encode(mention(author={"handle": "a", "followers": 1, "karma": 0})).replace(b'"karma":0', b'"karma":-Infinity'),
        {400},
    ),
    "truncated": (survey_json().encode()[:-5], {400}),
    "trailing garbage": (survey_json().encode() + b"}}", {400}),
    "comment one character over the text limit": (survey_json(comment="x" * (MAX_TEXT_CHARS + 1)).encode(), {413}),
    "score as a string": (survey_json(score=3).replace('"score":3', '"score":"3"').encode(), {422}),
    "score as true": (survey_json(score=3).replace('"score":3', '"score":true').encode(), {422}),
    "unknown field": (survey_json(colour="red").encode(), {422}),
}


@pytest.mark.parametrize("name", HOSTILE_BODIES)
def test_hostile_body_is_a_clear_4xx_and_publishes_nothing(collector: Collector, name: str) -> None:
    body, expected = HOSTILE_BODIES[name]
    kind = "mention" if b"mention_id" in body else "survey"
    status, problem = collector.post(kind, body)
    assert status in expected, problem


def test_body_over_the_limit_without_a_declared_length_is_413(collector: Collector) -> None:
    chunk = b"x" * 65_536

    def chunks() -> Iterator[bytes]:
        yield b'{"comment":"'
        for _ in range(10 * 1024 * 1024 // len(chunk)):
            yield chunk

    assert collector.post("survey", chunks())[0] == 413


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
)
def test_not_json_content_type_is_415(collector: Collector, content_type: str) -> None:
    assert collector.post("survey", encode(survey()), content_type=content_type)[0] == 415


def test_form_encoded_fields_are_415(collector: Collector) -> None:
    body = b"response_id=r1&brand=acme-air&metric=nps&score=3"
    assert collector.post("survey", body, content_type="application/x-www-form-urlencoded")[0] == 415


SLOW_TO_SCORE = {
    "a phrase repeated to the limit": ("good but bad " * 800)[:MAX_TEXT_CHARS],
    "emoji to the limit": "😡🙂" * (MAX_TEXT_CHARS // 2),
    "one word as long as the limit": "a" * MAX_TEXT_CHARS,
    "combining marks on one letter": "e" + "\u0301" * (MAX_TEXT_CHARS - 1),
    "negations stacked": ("not " * (MAX_TEXT_CHARS // 4))[:MAX_TEXT_CHARS],
    "punctuation only": "!?" * (MAX_TEXT_CHARS // 2),
    "zero-width and right-to-left marks": ("ok\u200b\u202e" * (MAX_TEXT_CHARS // 4))[:MAX_TEXT_CHARS],
}


@pytest.mark.parametrize("name", SLOW_TO_SCORE)
@pytest.mark.parametrize("kind", ["survey", "mention"])
def test_text_slow_to_score_within_the_limits_is_accepted_and_scored(
    collector: Collector, broker: ManagedProcess, scorer: FeedbackScorer, name: str, kind: str
) -> None:
    text = SLOW_TO_SCORE[name]
    assert len(text) <= MAX_TEXT_CHARS
    payload = survey(comment=text) if kind == "survey" else mention(text=text)
    start = collector.feedback.ends()
    status, answer = collector.post(kind, encode(payload))
    assert status == 202, answer
    event_id = answer["event_ids"][0]
    records = read_topic(
        broker.address,
        topics.FEEDBACK,
        since=start,
        until=lambda found: bool(records_with_event_id(found, event_id)),
        timeout_s=30,
    )
    (record,) = records_with_event_id(records, event_id)
    event = TypeAdapter(FeedbackEvent).validate_json(record.value)
    (scored,) = scorer.score_batch([event], scored_at=datetime.now(UTC))
    assert str(scored.scored.event.event_id) == event_id
    assert scored.scored.sentiment.label in {"positive", "neutral", "negative", "unsupported"}
    assert -1.0 <= scored.scored.sentiment.score <= 1.0
    assert json.loads(scored.scored.model_dump_json())["event"]["event_id"] == event_id
