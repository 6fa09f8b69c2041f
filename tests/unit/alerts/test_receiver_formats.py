"""Each receiver's wire format, and how a response is classified, without any server."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import HttpUrl, SecretStr
from standardwebhooks import Webhook, WebhookVerificationError

from cxpulse_alerts.notification import Evidence, NotificationAction
from cxpulse_alerts.receivers.config import (
    AlertmanagerReceiver,
    LogReceiver,
    PagerDutyReceiver,
    SlackReceiver,
    WebhookReceiver,
)
from cxpulse_alerts.receivers.delivery import (
    Delivered,
    Parked,
    RetryLater,
    RetryPolicy,
    apply_limits,
    classify_error,
    classify_response,
    retry_after_seconds,
)
from cxpulse_alerts.receivers.formats import (
    FileAppend,
    HttpRequest,
    alertmanager_alerts_url,
    pagerduty_dedup_key,
    render,
    slack_escape,
    webhook_id,
)
from tests.support.http_receiver import sample_notification

NOW = datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)
SLACK = SlackReceiver(name="cx-slack", type="slack", url=SecretStr("https://hooks.slack.com/services/T0/B0/secret"))
PAGERDUTY = PagerDutyReceiver(name="pd", type="pagerduty", routing_key=SecretStr("R0UT1NGKEY0000000000000000000000"))
ALERTMANAGER = AlertmanagerReceiver(name="am", type="alertmanager", url=HttpUrl("http://alertmanager:9093"))


def http(rendered: FileAppend | HttpRequest) -> HttpRequest:
    assert isinstance(rendered, HttpRequest)
    return rendered


def body(rendered: FileAppend | HttpRequest) -> Any:
    return json.loads(http(rendered).body)


def webhook_receiver(secret: str) -> WebhookReceiver:
    return WebhookReceiver(
        name="hook", type="webhook", url=HttpUrl("https://hooks.example/cx"), secret=SecretStr(secret)
    )


# --- Slack ----------------------------------------------------------------------------------


def test_slack_trigger_is_block_kit_with_fallback_text() -> None:
    request = http(render(sample_notification(), SLACK, now=NOW))
    document = json.loads(request.body)

    assert request.method == "POST"
    assert request.url == "https://hooks.slack.com/services/T0/B0/secret"
    assert request.headers["Content-Type"] == "application/json"
    assert "Baggage complaints spiking at LHR" in document["text"]
    assert "sev 4/5" in document["text"]
    types = [block["type"] for block in document["blocks"]]
    assert types == ["header", "section", "section", "section", "context"]
    header = document["blocks"][0]
    assert header["text"] == {"type": "plain_text", "text": "Baggage complaints spiking at LHR", "emoji": True}


def test_slack_summary_section_has_severity_brand_stages_and_teams() -> None:
    document = body(render(sample_notification(), SLACK, now=NOW))
    fields = [field["text"] for field in document["blocks"][1]["fields"]]

    assert fields[0].startswith("*Severity*\n4/5 (error)")
    assert fields[1] == "*Brand*\nacme-air"
    assert fields[2] == "*Stages*\nbaggage"
    assert fields[3] == "*Teams*\nground-ops, social-care"
    assert all(field["type"] == "mrkdwn" for field in document["blocks"][1]["fields"])


def test_slack_evidence_fields_and_linked_sample_mentions() -> None:
    document = body(render(sample_notification(), SLACK, now=NOW))
    evidence = [field["text"] for field in document["blocks"][2]["fields"]]
    mentions = document["blocks"][3]["text"]["text"]

    assert "*Observed vs baseline*\n74 vs 12" in evidence
    assert "*Reach*\n120,800" in evidence
    assert "*Detectors*\nvolume_zscore, sentiment_shift" in evidence
    assert len(evidence) <= 10
    assert "<https://x.com/traveller/status/1|@traveller>" in mentions
    # User text cannot inject mrkdwn controls: `<@acmeair>` would otherwise ping or link.
    assert "&lt;@acmeair&gt; &amp; nobody" in mentions


def test_slack_context_links_the_incident_with_a_localised_date() -> None:
    document = body(render(sample_notification(), SLACK, now=NOW))
    context = document["blocks"][-1]

    assert context["type"] == "context"
    text = context["elements"][0]["text"]
    assert "<https://cxpulse.example/incidents/inc-1|inc-1>" in text
    epoch = int(datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp())
    assert f"<!date^{epoch}^{{date_short_pretty}} {{time}}|2026-11-20T10:00:00Z>" in text


@pytest.mark.parametrize(("action", "word"), [("resolve", "Resolved"), ("acknowledge", "Acknowledged")])
def test_slack_resolve_and_acknowledge_are_short_updates(action: NotificationAction, word: str) -> None:
    document = body(render(sample_notification(action=action), SLACK, now=NOW))

    assert document["text"].startswith(f"{word}: Baggage complaints")
    assert [block["type"] for block in document["blocks"]] == ["section", "context"]
    assert f"*{word}:*" in document["blocks"][0]["text"]["text"]


def test_slack_respects_block_kit_limits() -> None:
    long = sample_notification(title="x" * 400, summary="y" * 5000, teams=[f"team-{i}" for i in range(200)])
    document = body(render(long, SLACK, now=NOW))

    assert len(document["blocks"][0]["text"]["text"]) <= 150
    assert len(document["blocks"][1]["text"]["text"]) <= 3000
    assert all(len(field["text"]) <= 2000 for block in document["blocks"] for field in block.get("fields", []))
    assert len(document["blocks"]) <= 50


def test_slack_channel_override_only_when_configured() -> None:
    with_channel = SLACK.model_copy(update={"channel": "#cx-crisis"})

    assert "channel" not in body(render(sample_notification(), SLACK, now=NOW))
    assert body(render(sample_notification(), with_channel, now=NOW))["channel"] == "#cx-crisis"


def test_slack_escape() -> None:
    assert slack_escape("a < b & c > d") == "a &lt; b &amp; c &gt; d"


def test_rendered_request_repr_hides_the_slack_url() -> None:
    request = http(render(sample_notification(), SLACK, now=NOW))

    assert "secret" not in repr(request)
    assert request.display_url == "https://hooks.slack.com"


# --- PagerDuty ------------------------------------------------------------------------------


def test_pagerduty_trigger_fields() -> None:
    request = http(render(sample_notification(), PAGERDUTY, now=NOW))
    document = json.loads(request.body)

    assert request.url == "https://events.pagerduty.com/v2/enqueue"
    assert document["routing_key"] == "R0UT1NGKEY0000000000000000000000"
    assert document["event_action"] == "trigger"
    assert document["dedup_key"] == "fp-acme-air-baggage"
    payload = document["payload"]
    assert payload["summary"] == "[acme-air] Baggage complaints spiking at LHR"
    assert payload["source"] == "cxpulse/acme-air"
    assert payload["severity"] == "error"
    assert payload["timestamp"] == "2026-11-20T10:00:00Z"
    assert payload["component"] == "baggage"
    assert payload["group"] == "acme-air"
    assert payload["class"] == "volume_zscore,sentiment_shift"
    details = payload["custom_details"]
    assert details["incident_id"] == "inc-1"
    assert details["crisis_risk"] == 0.82
    assert details["sample_mentions"][0]["url"] == "https://x.com/traveller/status/1"
    assert document["links"][0] == {"href": "https://cxpulse.example/incidents/inc-1", "text": "Incident inc-1"}
    assert document["client"] == "cxpulse"
    assert document["client_url"] == "https://cxpulse.example/incidents/inc-1"


@pytest.mark.parametrize(
    ("severity", "expected"), [(5, "critical"), (4, "error"), (3, "warning"), (2, "info"), (1, "info")]
)
def test_pagerduty_severity_mapping(severity: int, expected: str) -> None:
    document = body(render(sample_notification(severity=severity), PAGERDUTY, now=NOW))

    assert document["payload"]["severity"] == expected


def test_pagerduty_lifecycle_follows_one_incident_by_dedup_key() -> None:
    actions: list[NotificationAction] = ["trigger", "update", "escalate", "acknowledge", "resolve"]
    documents = [body(render(sample_notification(action=action), PAGERDUTY, now=NOW)) for action in actions]

    assert [document["event_action"] for document in documents] == [
        "trigger",
        "trigger",
        "trigger",
        "acknowledge",
        "resolve",
    ]
    assert {document["dedup_key"] for document in documents} == {"fp-acme-air-baggage"}
    assert set(documents[-1]) == {"routing_key", "event_action", "dedup_key"}


def test_pagerduty_summary_is_at_most_1024_characters() -> None:
    document = body(render(sample_notification(title="z" * 5000), PAGERDUTY, now=NOW))

    assert len(document["payload"]["summary"]) == 1024


def test_pagerduty_dedup_key_fits_255_characters_stably() -> None:
    long = "f" * 300

    assert pagerduty_dedup_key("short") == "short"
    assert len(pagerduty_dedup_key(long)) <= 255
    assert pagerduty_dedup_key(long) == pagerduty_dedup_key(long)


def test_pagerduty_routing_key_not_in_repr() -> None:
    assert "R0UT1NG" not in repr(render(sample_notification(), PAGERDUTY, now=NOW))


# --- Standard Webhooks -----------------------------------------------------------------------


def test_webhook_signature_verifies_with_standardwebhooks(webhook_secret: str) -> None:
    now = datetime.now(UTC)
    request = http(render(sample_notification(), webhook_receiver(webhook_secret), now=now))

    verified = Webhook(webhook_secret).verify(request.body, request.headers)

    assert request.headers["webhook-id"] == "inc-1:r1:ops"
    assert request.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert request.headers["webhook-signature"].startswith("v1,")
    assert verified["type"] == "cx.incident.trigger"
    assert verified["timestamp"] == "2026-11-20T10:00:00Z"
    assert verified["data"]["idempotency_key"] == "inc-1:r1:ops"
    assert verified["data"]["evidence"]["sample_mentions"][0]["author"] == "traveller"


def test_webhook_signature_rejects_a_tampered_body(webhook_secret: str) -> None:
    request = http(render(sample_notification(), webhook_receiver(webhook_secret), now=datetime.now(UTC)))

    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_secret).verify(request.body.replace(b"acme-air", b"acme-bus"), request.headers)


def test_webhook_is_signed_at_each_attempt(webhook_secret: str) -> None:
    receiver = webhook_receiver(webhook_secret)
    first = http(render(sample_notification(), receiver, now=NOW))
    retry = http(render(sample_notification(), receiver, now=NOW + timedelta(minutes=3)))

    assert first.body == retry.body
    assert first.headers["webhook-id"] == retry.headers["webhook-id"]
    assert first.headers["webhook-signature"] != retry.headers["webhook-signature"]


def test_webhook_id_avoids_separator_characters() -> None:
    assert webhook_id("inc-1:r2:ops") == "inc-1:r2:ops"
    unsafe = webhook_id("inc.1/r2 ops")
    assert unsafe == "msg_" + hashlib.sha256(b"inc.1/r2 ops").hexdigest()
    assert "." not in unsafe


# --- Alertmanager ----------------------------------------------------------------------------


def test_alertmanager_trigger_is_one_firing_alert() -> None:
    request = http(render(sample_notification(), ALERTMANAGER, now=NOW))
    alerts = json.loads(request.body)

    assert request.url == "http://alertmanager:9093/api/v2/alerts"
    assert isinstance(alerts, list)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["labels"] == {
        "alertname": "CXCrisis",
        "brand": "acme-air",
        "severity": "error",
        "incident": "inc-1",
        "fingerprint": "fp-acme-air-baggage",
        "source": "cxpulse",
    }
    assert alert["annotations"]["summary"] == "Baggage complaints spiking at LHR"
    assert alert["annotations"]["description"].startswith("Negative mentions")
    assert alert["startsAt"] == "2026-11-20T10:00:00Z"
    assert "endsAt" not in alert
    assert alert["generatorURL"] == "https://cxpulse.example/incidents/inc-1"


def test_alertmanager_resolve_sets_ends_at() -> None:
    resolved_at = datetime(2026, 11, 20, 11, 30, tzinfo=UTC)
    alert = body(render(sample_notification(action="resolve", occurred_at=resolved_at), ALERTMANAGER, now=NOW))[0]

    assert alert["endsAt"] == "2026-11-20T11:30:00Z"
    assert alert["labels"]["incident"] == "inc-1"


def test_alertmanager_runbook_annotation_from_evidence_details() -> None:
    evidence = Evidence(details={"runbook_url": "https://runbooks.example/cx-crisis"})
    alert = body(render(sample_notification(evidence=evidence), ALERTMANAGER, now=NOW))[0]

    assert alert["annotations"]["runbook"] == "https://runbooks.example/cx-crisis"


def test_alertmanager_omits_a_generator_url_that_is_not_absolute() -> None:
    alert = body(render(sample_notification(incident_url="/incidents/inc-1"), ALERTMANAGER, now=NOW))[0]

    assert "generatorURL" not in alert


@pytest.mark.parametrize(
    "base",
    ["http://am:9093", "http://am:9093/", "http://am:9093/api/v2/alerts", "http://am:9093/api/v2/alerts/"],
)
def test_alertmanager_url(base: str) -> None:
    assert alertmanager_alerts_url(base) == "http://am:9093/api/v2/alerts"


# --- log ---------------------------------------------------------------------------------


def test_log_receiver_renders_one_json_line(tmp_path: Path) -> None:
    receiver = LogReceiver(name="local", type="log", path=str(tmp_path / "notifications.ndjson"))
    rendered = render(sample_notification(), receiver, now=NOW)

    assert isinstance(rendered, FileAppend)
    assert rendered.line.endswith(b"\n")
    assert rendered.line.count(b"\n") == 1
    record = json.loads(rendered.line)
    assert record["receiver"] == "local"
    assert record["logged_at"] == "2026-11-20T10:00:05Z"
    assert record["notification"]["idempotency_key"] == "inc-1:r1:ops"


# --- classification --------------------------------------------------------------------------

POLICY = RetryPolicy(base_delay_s=1.0, multiplier=2.0, max_delay_s=60.0, jitter=0.5)


def classify(status: int, headers: dict[str, str] | None = None, body: str = "", attempt: int = 1) -> object:
    return classify_response(
        status, httpx.Headers(headers or {}), body, attempt=attempt, policy=POLICY, rng=random.Random(7), now=NOW
    )


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered(status: int) -> None:
    assert classify(status) == Delivered(status)


def test_429_retries_after_retry_after_seconds_and_holds_the_receiver() -> None:
    outcome = classify(429, {"Retry-After": "17"})

    assert isinstance(outcome, RetryLater)
    assert outcome.after_s == 17.0
    assert outcome.hold_receiver


def test_429_retry_after_as_http_date() -> None:
    outcome = classify(429, {"retry-after": "Fri, 20 Nov 2026 10:01:05 GMT"})

    assert isinstance(outcome, RetryLater)
    assert outcome.after_s == 60.0


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("0", now=NOW) == 0.0
    assert retry_after_seconds("Fri, 20 Nov 2026 09:00:00 GMT", now=NOW) == 0.0
    assert retry_after_seconds("soon", now=NOW) is None
    assert retry_after_seconds(None, now=NOW) is None


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_server_errors_and_408_retry_with_backoff(status: int) -> None:
    outcome = classify(status, attempt=3)

    assert isinstance(outcome, RetryLater)
    assert 2.0 <= outcome.after_s <= 4.0
    assert not outcome.hold_receiver


def test_503_honours_retry_after() -> None:
    outcome = classify(503, {"Retry-After": "5"})

    assert isinstance(outcome, RetryLater)
    assert outcome.after_s == 5.0


def test_410_parks_with_the_reason() -> None:
    outcome = classify(410, body="channel_is_archived")

    assert isinstance(outcome, Parked)
    assert "410" in outcome.reason
    assert "channel_is_archived" in outcome.reason


@pytest.mark.parametrize(("status", "body"), [(400, "invalid_payload"), (403, "action_prohibited"), (404, "")])
def test_other_4xx_park_with_the_reason(status: int, body: str) -> None:
    outcome = classify(status, body=body)

    assert isinstance(outcome, Parked)
    assert f"HTTP {status}" in outcome.reason
    assert body in outcome.reason


def test_redirects_park() -> None:
    assert isinstance(classify(301), Parked)


def test_transport_errors_retry_and_url_errors_park() -> None:
    rng = random.Random(1)

    assert isinstance(classify_error(httpx.ReadTimeout("timed out"), attempt=1, policy=POLICY, rng=rng), RetryLater)
    assert isinstance(classify_error(httpx.ConnectError("refused"), attempt=1, policy=POLICY, rng=rng), RetryLater)
    assert isinstance(classify_error(httpx.UnsupportedProtocol("ftp"), attempt=1, policy=POLICY, rng=rng), Parked)


def test_backoff_grows_is_capped_and_is_deterministic_when_seeded() -> None:
    first = [POLICY.backoff_s(attempt, random.Random(42)) for attempt in range(1, 12)]
    again = [POLICY.backoff_s(attempt, random.Random(42)) for attempt in range(1, 12)]

    assert first == again
    for attempt, delay in enumerate(first, start=1):
        ceiling = min(60.0, 2.0 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling


def test_limits_park_after_too_many_attempts_or_too_old() -> None:
    policy = RetryPolicy(max_attempts=5, max_age_s=100.0)
    retry = RetryLater("HTTP 500", 10.0)

    assert apply_limits(retry, attempts=4, age_s=10.0, policy=policy) == retry
    too_many = apply_limits(retry, attempts=5, age_s=10.0, policy=policy)
    assert isinstance(too_many, Parked)
    assert "5 attempts" in too_many.reason
    assert "HTTP 500" in too_many.reason
    assert isinstance(apply_limits(retry, attempts=2, age_s=95.0, policy=policy), Parked)
    assert apply_limits(Delivered(200), attempts=99, age_s=1e9, policy=policy) == Delivered(200)
