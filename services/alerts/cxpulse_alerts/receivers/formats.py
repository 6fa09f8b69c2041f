"""Renders a `Notification` into what one receiver type expects on the wire.

Pure functions: no I/O, the time of the attempt is passed in, so every format is unit-tested
byte for byte. Rendering happens at each attempt (a Standard Webhooks signature carries the
attempt's timestamp), never once at enqueue.

Wire formats followed:
- Slack incoming webhooks with Block Kit (header <= 150 chars, section text <= 3000, <= 10 fields
  of <= 2000, context <= 10 elements, `text` as the notification fallback).
- PagerDuty Events API v2 (`/v2/enqueue`): `dedup_key` is the incident fingerprint so trigger,
  acknowledge and resolve address the same alert; `links` sit beside `payload`, not inside it.
- Standard Webhooks 1.0: `{type, timestamp, data}` body, `webhook-id`/`-timestamp`/`-signature`.
- Alertmanager API v2 `POST /api/v2/alerts`: a list of postable alerts.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from cxpulse_alerts.notification import Notification, SampleMention
from cxpulse_alerts.receivers.config import (
    AlertmanagerReceiver,
    LogReceiver,
    PagerDutyReceiver,
    ReceiverConfig,
    SlackReceiver,
    WebhookReceiver,
)

USER_AGENT = "cxpulse-alerts/0.1"
JSON_CONTENT_TYPE = "application/json"
ALERTNAME = "CXCrisis"
SEVERITY_NAMES = {5: "critical", 4: "error", 3: "warning", 2: "info", 1: "info"}
SEVERITY_EMOJI = {5: ":rotating_light:", 4: ":red_circle:", 3: ":large_orange_circle:", 2: ":large_yellow_circle:"}
PAGERDUTY_SUMMARY_MAX = 1024
PAGERDUTY_DEDUP_KEY_MAX = 255
SLACK_HEADER_MAX = 150
SLACK_SECTION_TEXT_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_SAMPLE_MENTIONS = 3
PAGERDUTY_LINKS_MAX = 5
_SAFE_WEBHOOK_ID = re.compile(r"^[A-Za-z0-9_:-]{1,200}$")


@dataclass(frozen=True)
class HttpRequest:
    """One outgoing request. `url` and `body` may hold secrets (Slack URL, routing key): not in repr."""

    method: str
    url: str = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def display_url(self) -> str:
        """Scheme, host and port only: what a log line or a park reason may show."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or ''}{port}"


@dataclass(frozen=True)
class FileAppend:
    """One JSON line for the log receiver."""

    path: str
    line: bytes = field(repr=False)


Rendered = HttpRequest | FileAppend


def render(notification: Notification, receiver: ReceiverConfig, *, now: datetime) -> Rendered:
    if isinstance(receiver, SlackReceiver):
        return slack_request(notification, receiver)
    if isinstance(receiver, PagerDutyReceiver):
        return pagerduty_request(notification, receiver)
    if isinstance(receiver, WebhookReceiver):
        return webhook_request(notification, receiver, now=now)
    if isinstance(receiver, AlertmanagerReceiver):
        return alertmanager_request(notification, receiver)
    return log_line(notification, receiver, now=now)


def severity_name(severity: int) -> str:
    return SEVERITY_NAMES[severity]


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _json_request(url: str, document: Any, extra_headers: dict[str, str] | None = None) -> HttpRequest:
    headers = {"Content-Type": JSON_CONTENT_TYPE, "User-Agent": USER_AGENT, **(extra_headers or {})}
    return HttpRequest(method="POST", url=url, headers=headers, body=_json_bytes(document))


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


# --- Slack -----------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters; these three must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    # `|` separates URL and label inside <...>; `>` would close the link early.
    safe_url = url.replace(">", "%3E").replace("|", "%7C").replace(" ", "%20")
    return f"<{safe_url}|{slack_escape(label).replace('|', '¦')}>"


def _slack_field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": _truncate(f"*{label}*\n{value}", SLACK_FIELD_MAX)}


def _slack_list(values: list[str]) -> str:
    return slack_escape(", ".join(values)) if values else "—"


def _slack_date(moment: datetime) -> str:
    """Slack's date token renders in each reader's time zone; the fallback is UTC."""
    epoch = int(_utc(moment).timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{_iso(moment)}>"


def _slack_mention_line(mention: SampleMention) -> str:
    quote = slack_escape(_truncate(" ".join(mention.text.split()), 280))
    return f"• {_slack_link(mention.url, '@' + mention.author)} ({mention.reach:,} reach): “{quote}”"


def _slack_context(notification: Notification) -> dict[str, Any]:
    incident = (
        _slack_link(notification.incident_url, notification.incident_id)
        if notification.incident_url
        else f"`{slack_escape(notification.incident_id)}`"
    )
    return {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f"cxpulse · incident {incident} · {notification.action} · "
                f"{_slack_date(notification.occurred_at)}",
            }
        ],
    }


def slack_blocks(notification: Notification) -> list[dict[str, Any]]:
    if notification.action in ("resolve", "acknowledge"):
        return _slack_short_update(notification)
    evidence = notification.evidence
    emoji = SEVERITY_EMOJI.get(notification.severity, ":information_source:")
    prefix = {"trigger": "", "update": "Update: ", "escalate": "Escalated: "}[notification.action]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _truncate(f"{prefix}{notification.title}", SLACK_HEADER_MAX),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _truncate(f"{emoji} {slack_escape(notification.summary)}", SLACK_SECTION_TEXT_MAX),
            },
            "fields": [
                _slack_field(
                    "Severity",
                    f"{notification.severity}/5 ({severity_name(notification.severity)}), "
                    f"crisis risk {notification.crisis_risk:.0%}",
                ),
                _slack_field("Brand", slack_escape(notification.brand)),
                _slack_field("Stages", _slack_list(evidence.stages)),
                _slack_field("Teams", _slack_list(notification.teams)),
            ],
        },
    ]
    evidence_fields = []
    if evidence.observed is not None:
        baseline = "n/a" if evidence.baseline is None else f"{evidence.baseline:g}"
        evidence_fields.append(_slack_field("Observed vs baseline", f"{evidence.observed:g} vs {baseline}"))
    evidence_fields.append(_slack_field("Reach", f"{evidence.total_reach:,}"))
    if evidence.detectors:
        evidence_fields.append(_slack_field("Detectors", _slack_list(evidence.detectors)))
    if evidence.top_terms:
        evidence_fields.append(_slack_field("Top terms", _slack_list(evidence.top_terms[:10])))
    if evidence.topics:
        evidence_fields.append(_slack_field("Topics", _slack_list(evidence.topics)))
    blocks.append({"type": "section", "fields": evidence_fields})
    mentions = evidence.sample_mentions[:SLACK_SAMPLE_MENTIONS]
    if mentions:
        lines = "\n".join(_slack_mention_line(mention) for mention in mentions)
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _truncate(f"*Sample mentions*\n{lines}", SLACK_SECTION_TEXT_MAX)},
            }
        )
    blocks.append(_slack_context(notification))
    return blocks


def _slack_short_update(notification: Notification) -> list[dict[str, Any]]:
    verb = "Resolved" if notification.action == "resolve" else "Acknowledged"
    emoji = ":white_check_mark:" if notification.action == "resolve" else ":eyes:"
    text = f"{emoji} *{verb}:* {slack_escape(notification.title)} ({slack_escape(notification.brand)})"
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(text, SLACK_SECTION_TEXT_MAX)}},
        _slack_context(notification),
    ]


def slack_fallback_text(notification: Notification) -> str:
    """Shown in notifications and by clients that cannot render blocks."""
    if notification.action == "resolve":
        return f"Resolved: {notification.title} ({notification.brand})"
    if notification.action == "acknowledge":
        return f"Acknowledged: {notification.title} ({notification.brand})"
    label = {"trigger": "", "update": "Update: ", "escalate": "Escalated: "}[notification.action]
    return f"{label}[sev {notification.severity}/5] {notification.title} ({notification.brand}): {notification.summary}"


def slack_request(notification: Notification, receiver: SlackReceiver) -> HttpRequest:
    document: dict[str, Any] = {
        "text": _truncate(slack_fallback_text(notification), SLACK_SECTION_TEXT_MAX),
        "blocks": slack_blocks(notification),
    }
    if receiver.channel:
        document["channel"] = receiver.channel
    return _json_request(receiver.url.get_secret_value(), document)


# --- PagerDuty -------------------------------------------------------------------------------


def pagerduty_dedup_key(fingerprint: str) -> str:
    """The fingerprint itself when it fits PagerDuty's 255 characters, else a stable digest of it."""
    if len(fingerprint) <= PAGERDUTY_DEDUP_KEY_MAX:
        return fingerprint
    return "cx-" + hashlib.sha256(fingerprint.encode()).hexdigest()


def pagerduty_event_action(notification: Notification) -> str:
    # PagerDuty has no update or escalate: a trigger with the same dedup_key updates the alert.
    if notification.action in ("acknowledge", "resolve"):
        return notification.action
    return "trigger"


def pagerduty_document(notification: Notification, routing_key: str) -> dict[str, Any]:
    action = pagerduty_event_action(notification)
    document: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": pagerduty_dedup_key(notification.fingerprint),
    }
    if action != "trigger":
        return document
    evidence = notification.evidence
    document["payload"] = {
        "summary": _truncate(f"[{notification.brand}] {notification.title}", PAGERDUTY_SUMMARY_MAX),
        "source": f"cxpulse/{notification.brand}",
        "severity": severity_name(notification.severity),
        "timestamp": _iso(notification.occurred_at),
        "component": evidence.stages[0] if evidence.stages else "brand",
        "group": notification.brand,
        "class": ",".join(evidence.detectors) if evidence.detectors else "cx-crisis",
        "custom_details": {
            "incident_id": notification.incident_id,
            "action": notification.action,
            "summary": notification.summary,
            "severity": notification.severity,
            "crisis_risk": notification.crisis_risk,
            "teams": notification.teams,
            "baseline": evidence.baseline,
            "observed": evidence.observed,
            "total_reach": evidence.total_reach,
            "stages": evidence.stages,
            "topics": evidence.topics,
            "top_terms": evidence.top_terms,
            "sample_mentions": [mention.model_dump() for mention in evidence.sample_mentions[:5]],
        },
    }
    document["client"] = "cxpulse"
    links = []
    if notification.incident_url:
        document["client_url"] = notification.incident_url
        links.append({"href": notification.incident_url, "text": f"Incident {notification.incident_id}"})
    links.extend(
        {"href": mention.url, "text": f"Mention by @{mention.author}"}
        for mention in evidence.sample_mentions[: PAGERDUTY_LINKS_MAX - len(links)]
    )
    if links:
        document["links"] = links
    return document


def pagerduty_request(notification: Notification, receiver: PagerDutyReceiver) -> HttpRequest:
    document = pagerduty_document(notification, receiver.routing_key.get_secret_value())
    return _json_request(str(receiver.url), document)


# --- Standard Webhooks -------------------------------------------------------------------------


def webhook_id(idempotency_key: str) -> str:
    """The idempotency key, unless it has characters the spec forbids in the signed `{id}.{ts}.{body}`.

    Then a stable digest of it, so a receiver still sees one id per notification across retries.
    """
    if _SAFE_WEBHOOK_ID.match(idempotency_key):
        return idempotency_key
    return "msg_" + hashlib.sha256(idempotency_key.encode()).hexdigest()


def webhook_document(notification: Notification) -> dict[str, Any]:
    return {
        "type": f"cx.incident.{notification.action}",
        "timestamp": _iso(notification.occurred_at),
        "data": notification.model_dump(mode="json"),
    }


def webhook_request(notification: Notification, receiver: WebhookReceiver, *, now: datetime) -> HttpRequest:
    body = _json_bytes(webhook_document(notification))
    message_id = webhook_id(notification.idempotency_key)
    signer = Webhook(receiver.secret.get_secret_value())
    # The library formats the timestamp after replacing tzinfo by UTC, so it must already be UTC.
    attempt_time = _utc(now)
    signature: str = signer.sign(msg_id=message_id, timestamp=attempt_time, data=body.decode())
    headers = {
        "Content-Type": JSON_CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(attempt_time.timestamp())),
        "webhook-signature": signature,
    }
    return HttpRequest(method="POST", url=str(receiver.url), headers=headers, body=body)


# --- Alertmanager ------------------------------------------------------------------------------


def alertmanager_alerts_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/api/v2/alerts") else f"{base}/api/v2/alerts"


def alertmanager_labels(notification: Notification) -> dict[str, str]:
    """The alert's identity in Alertmanager: the same labels address the same alert."""
    return {
        "alertname": ALERTNAME,
        "brand": notification.brand,
        "severity": severity_name(notification.severity),
        "incident": notification.incident_id,
        "fingerprint": notification.fingerprint,
        "source": "cxpulse",
    }


def alertmanager_alert(notification: Notification) -> dict[str, Any]:
    evidence = notification.evidence
    annotations = {
        "summary": notification.title,
        "description": notification.summary,
        "cx_severity": str(notification.severity),
        "crisis_risk": f"{notification.crisis_risk:.3f}",
        "teams": ",".join(notification.teams),
        "stages": ",".join(evidence.stages),
        "total_reach": str(evidence.total_reach),
        "action": notification.action,
    }
    runbook = evidence.details.get("runbook_url")
    if isinstance(runbook, str) and runbook:
        annotations["runbook"] = runbook
    if evidence.sample_mentions:
        annotations["sample_mention"] = evidence.sample_mentions[0].url
    alert: dict[str, Any] = {
        "labels": alertmanager_labels(notification),
        "annotations": {key: value for key, value in annotations.items() if value},
        "startsAt": _iso(notification.occurred_at),
    }
    if notification.action == "resolve":
        # An endsAt in the past resolves the alert. Without one, Alertmanager resolves a firing
        # alert by itself `resolve_timeout` after the last post unless it is posted again.
        alert["endsAt"] = _iso(notification.occurred_at)
    if notification.incident_url and urlsplit(notification.incident_url).scheme in ("http", "https"):
        # Alertmanager answers 422 to a generatorURL that is not an absolute URI.
        alert["generatorURL"] = notification.incident_url
    return alert


def alertmanager_request(notification: Notification, receiver: AlertmanagerReceiver) -> HttpRequest:
    return _json_request(alertmanager_alerts_url(str(receiver.url)), [alertmanager_alert(notification)])


# --- log -----------------------------------------------------------------------------------


def log_line(notification: Notification, receiver: LogReceiver, *, now: datetime) -> FileAppend:
    record = {"logged_at": _iso(now), "receiver": receiver.name, "notification": notification.model_dump(mode="json")}
    return FileAppend(path=receiver.path, line=_json_bytes(record) + b"\n")
