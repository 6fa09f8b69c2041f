"""Schemathesis over the collector's OpenAPI, wired to the real broker and Redis.

Generated bodies are signed with the channel's secret, so they get past the signature and reach
validation; the same operations are also fuzzed unsigned. Never a 5xx, every answer as
documented, and a request answered 4xx leaves no record on `cx.feedback.v1`.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.python import asgi

from cxpulse_cli.localstack import ManagedProcess
from cxpulse_collector.api.openapi import OWN_FORMAT_BODIES
from cxpulse_collector.app import create_app
from cxpulse_contracts import topics
from cxpulse_shared.problem import PROBLEM_MEDIA_TYPE
from cxpulse_shared.settings import KafkaSettings, RedisSettings
from tests.badinput.support import CHECKS, TopicWatch, fuzz, serving, sign_raw
from tests.support.collector import channel, collector_settings
from tests.support.kafka_reader import read_topic

pytestmark = pytest.mark.integration
CHANNEL = "fuzz"
SECRET = "whsec_YmFkaW5wdXQtZnV6ei1jaGFubmVsLXNlY3JldC0wMQ=="


@dataclass
class Collector:
    schema: schemathesis.BaseSchema
    session: requests.Session
    feedback: TopicWatch
    accepted_ids: set[str]
    source: str


@pytest.fixture
def collector(broker: ManagedProcess, redis_server: ManagedProcess) -> Iterator[Collector]:
    # Small limits, so generated batches and texts also cross them; its own source, so the
    # records it publishes can be told apart on the shared topic.
    settings = collector_settings(max_batch_events=20, max_text_chars=2_000, publish_timeout_s=30.0)
    source = f"badinput-{uuid.uuid4().hex[:8]}"
    app = create_app(
        settings,
        channels={CHANNEL: channel(CHANNEL, SECRET, source=source, rate_limit_per_s=None)},
        kafka=KafkaSettings(bootstrap_servers=broker.address),
        redis_settings=RedisSettings(url=redis_server.address),  # type: ignore[arg-type]
    )
    document = copy.deepcopy(app.openapi())
    feedback = TopicWatch(broker.address, topics.FEEDBACK)
    try:
        with serving(app, document) as schema:
            # A batch over its limit is refused with 413, as documented, rather than a 422.
            rejection = schema.config.checks.negative_data_rejection
            rejection.expected_statuses = [*rejection.expected_statuses, "413"]
            yield Collector(schema, asgi.get_client(app), feedback, set(), source)
    finally:
        feedback.close()


def records_from(broker: ManagedProcess, collector: Collector, since: dict[int, int]) -> list[Any]:
    """This fixture's records only: the previous test's collector posts as the same channel, and
    the local broker can report a topic's end before its last acknowledged records."""
    records = read_topic(broker.address, topics.FEEDBACK, since=since, timeout_s=30)
    return [record for record in records if json.loads(record.value).get("source") == collector.source]


def sent(collector: Collector, case: schemathesis.Case, *, signed: bool) -> int:
    """One case over the app; a 4xx must leave the feedback topic where it was."""
    prepared = requests.Request(**case.as_transport_kwargs(base_url="http://testserver")).prepare()
    body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
    if signed:
        prepared.headers.update(sign_raw(SECRET, body))
    before = collector.feedback.ends()
    response = collector.session.send(prepared)
    case.validate_response(response, checks=CHECKS, headers=dict(prepared.headers))
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE, response.text
        assert collector.feedback.ends() == before, f"a {response.status_code} answer published: {response.text}"
    elif response.status_code == 202:
        collector.accepted_ids.update(response.json()["event_ids"])
    return response.status_code


def test_signed_generated_events_are_accepted_or_rejected_cleanly_and_only_accepted_ones_are_published(
    collector: Collector, broker: ManagedProcess
) -> None:
    start = collector.feedback.ends()
    report = fuzz(
        collector.schema,
        lambda case: sent(collector, case, signed=True),
        query={"channel": CHANNEL},
        only=lambda operation: operation.path in OWN_FORMAT_BODIES,
    )
    print(report.summary())
    assert report.failures == {}, report.summary()
    statuses = {status for counts in report.statuses.values() for status in counts}
    assert {202, 422} <= statuses, report.summary()
    published = [dict(record.headers)["ce_id"].decode() for record in records_from(broker, collector, start)]
    assert len(published) == len(set(published)), "an event was published twice"
    assert set(published) <= collector.accepted_ids
    assert len(published) > 0


def test_unsigned_generated_requests_are_all_refused_and_nothing_is_published(
    collector: Collector, broker: ManagedProcess
) -> None:
    start = collector.feedback.ends()

    def refused(case: schemathesis.Case) -> int:
        status = sent(collector, case, signed=False)
        if case.operation.method.upper() == "POST":
            assert 400 <= status < 500, f"{case.operation.label} answered {status} without a signature"
        return status

    report = fuzz(collector.schema, refused)
    print(report.summary())
    assert report.failures == {}, report.summary()
    assert records_from(broker, collector, start) == []
