"""A brewing crisis through collector → scorer → alerts reaches real HTTP receivers exactly once.

Slack and PagerDuty are played by a loopback HTTP server; Slack fails at first, so the outbox
must retry, and still deliver the incident exactly once. After recovery (no more signals for
`resolve_after`) the incident resolves and PagerDuty hears the resolve with the same dedup_key.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from cxpulse_alerts.app import AlertsSettings
from cxpulse_alerts.app import create_app as create_alerts
from cxpulse_cli.webhook_client import encode, signed_headers
from cxpulse_collector.app import create_app as create_collector
from cxpulse_scorer.app import ScorerSettings
from cxpulse_scorer.app import create_app as create_scorer
from cxpulse_shared.settings import ApiAuthSettings, KafkaSettings, RedisSettings
from tests.support.collector import channel, collector_settings, mention
from tests.support.http_receiver import HttpReceiver, ReceivedRequest, Reply

pytestmark = pytest.mark.integration
TOKEN = "crisis-e2e-operator-token-012345"


def ownership_file(tmp_path: Path, receiver: HttpReceiver) -> Path:
    path = tmp_path / "ownership.yaml"
    path.write_text(
        f"""
receivers:
  - {{name: care-slack, type: slack, url: "{receiver.url}/slack"}}
  - {{name: care-pagerduty, type: pagerduty, routing_key: "R0UT1NGKEY0123456789012345678901", url: "{receiver.url}/pd"}}
teams:
  - {{name: care, receivers: [care-slack, care-pagerduty], acknowledge_within: 1h}}
route:
  team: care
  group_by: [brand]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 4h
"""
    )
    return path


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def traced(service: str, exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
def stack(
    spans: InMemorySpanExporter,
    tmp_path: Path,
    receiver: HttpReceiver,
    kafka_settings: KafkaSettings,
    redis_settings: RedisSettings,
    webhook_secret: str,
) -> Iterator[TestClient]:
    auth = ApiAuthSettings(api_token=SecretStr(TOKEN))
    suffix = uuid.uuid4().hex[:8]
    collector = create_collector(
        collector_settings(),
        channels={"listening": channel("listening", webhook_secret, rate_limit_per_s=None)},
        kafka=kafka_settings,
        redis_settings=redis_settings,
        tracer_provider=traced("cxpulse-collector", spans),
    )
    scorer = create_scorer(
        ScorerSettings(group_id=f"cx-scorer-crisis-{suffix}", max_poll_interval_ms=6000, session_timeout_ms=6000),
        kafka=kafka_settings,
        redis_settings=redis_settings,
        auth=auth,
        tracer_provider=traced("cxpulse-scorer", spans),
    )
    alerts = create_alerts(
        AlertsSettings(
            ownership_file=ownership_file(tmp_path, receiver),
            group_id=f"cx-alerts-crisis-{suffix}",
            resolve_after=timedelta(seconds=6),
            max_poll_interval_ms=6000,
            session_timeout_ms=6000,
        ),
        kafka=kafka_settings,
        redis_settings=redis_settings,
        auth=auth,
        environ={},
        tracer_provider=traced("cxpulse-alerts", spans),
    )
    with TestClient(collector) as collector_client, TestClient(scorer), TestClient(alerts):
        yield collector_client


def test_crisis_reaches_slack_once_and_pagerduty_trigger_then_resolve(
    stack: TestClient, receiver: HttpReceiver, webhook_secret: str, spans: InMemorySpanExporter
) -> None:
    slack_failures = [Reply(status=500), Reply(status=503)]

    def slack_down_for_a_while(request: ReceivedRequest) -> Reply:
        if request.path == "/slack" and slack_failures:
            return slack_failures.pop(0)
        return Reply()

    receiver.handler = slack_down_for_a_while
    brand = f"crisis-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    complaints = [
        mention(
            brand=brand,
            text="Your baggage handlers smashed my guitar and nobody answers",
            occurred_at=now.isoformat(),
            author={"handle": f"fan{i}", "followers": 300},
        )
        for i in range(10)
    ]
    complaints.append(
        mention(
            brand=brand,
            text="Baggage handlers destroyed my guitar. Worst airline, never again.",
            occurred_at=now.isoformat(),
            author={"handle": "famous_musician", "followers": 2_500_000},
            engagement={"likes": 40_000, "shares": 9_000, "replies": 3_000},
        )
    )
    body = encode(complaints)
    answer = stack.post("/v1/mentions?channel=listening", content=body, headers=signed_headers(webhook_secret, body))
    assert answer.status_code == 202

    def brand_requests(path: str) -> list:  # type: ignore[type-arg]
        return [r for r in receiver.requests if r.path == path and r.succeeded and brand in r.body.decode()]

    assert receiver.wait_for(lambda _: len(brand_requests("/pd")) >= 1, timeout_s=120), "no PagerDuty trigger"
    assert receiver.wait_for(lambda _: len(brand_requests("/slack")) >= 1, timeout_s=60), "no Slack message"
    assert receiver.wait_for(
        lambda _: any(r.json()["event_action"] == "resolve" for r in brand_requests("/pd")), timeout_s=90
    ), "the incident never resolved"
    time.sleep(3)  # anything duplicated would arrive now

    pagerduty = [r.json() for r in brand_requests("/pd")]
    actions = [event["event_action"] for event in pagerduty]
    assert actions == ["trigger", "resolve"]
    assert len({event["dedup_key"] for event in pagerduty}) == 1
    slack = brand_requests("/slack")
    slack_texts = [request.json()["text"] for request in slack]
    assert sum("resolved" not in text.lower() for text in slack_texts) == 1, slack_texts
    failed_slack = [r for r in receiver.requests if r.path == "/slack" and not r.succeeded]
    assert len(failed_slack) == 2  # the outage was real, and retried past

    # One trace from the webhook request to the notification: the collector's request span, the
    # scorer's consumer span (its child), the alerts service's notify span, and the traceparent the
    # receiver was sent all share a trace id.
    webhook_span = next(span for span in spans.get_finished_spans() if span.name == "POST /v1/mentions")
    trace_id = format(webhook_span.context.trace_id, "032x")
    scorer_spans = [span for span in spans.get_finished_spans() if span.name == "cx.feedback.v1 process"]
    scorer_span = next(span for span in scorer_spans if span.context.trace_id == webhook_span.context.trace_id)
    assert scorer_span.parent is not None
    assert scorer_span.parent.span_id == webhook_span.context.span_id
    assert scorer_span.attributes is not None
    assert scorer_span.attributes["messaging.operation.type"] == "process"
    assert scorer_span.attributes["messaging.batch.message_count"] == len(complaints)
    notify_spans = [span for span in spans.get_finished_spans() if span.name == "notify pagerduty"]
    assert notify_spans
    assert {format(span.context.trace_id, "032x") for span in notify_spans} == {trace_id}
    received = {request.headers["traceparent"].split("-")[1] for request in brand_requests("/pd")}
    assert received == {trace_id}
