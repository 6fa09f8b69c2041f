"""Delighted webhooks: `survey_response.created` / `.updated`, signed with the account's API key.

`X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed by the API key>`;
the channel's secrets are API keys, so rotating a key means listing the old and the new one.

Survey types map only where the scale is the same as ours, so no score is ever converted:

- `nps` (0-10) -> nps, `csat` (1-5) -> csat, `ces7` (1-7) -> ces.
- `ces` is Delighted's 5-point effort scale; nothing documents how it relates to the 7-point one,
  so it is refused, like `csat3`, `stars_five`, `smileys`, `thumbs`, `enps` and `pmf`.

Channel options (all optional), read from the response's `person_properties`:

- `stage_property` (default `journey_stage`) and `default_stage`.
- `customer_id_property` (default `customer_id`).
- `brand_property`: a property naming the brand; without it the channel's brand is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cxpulse_collector.sources import _payload as read
from cxpulse_collector.sources._signing import verify_body_signature
from cxpulse_collector.sources.base import ChannelContext, SourceAdapter, SourceRequest, Submission
from cxpulse_contracts.events import Metric

SIGNATURE_HEADER = "x-delighted-webhook-signature"
RESPONSE_EVENTS = frozenset({"survey_response.created", "survey_response.updated"})
METRIC_BY_SURVEY_TYPE: dict[str, Metric] = {"nps": "nps", "csat": "csat", "ces7": "ces"}
PROPERTIES = "event_data.person_properties"


class DelightedAdapter(SourceAdapter):
    slug = "delighted"

    def verify(self, request: SourceRequest, secrets: Sequence[str], *, now: datetime) -> None:
        verify_body_signature(request, secrets, header=SIGNATURE_HEADER, encoding="hex")

    def parse(self, payload: Any, channel: ChannelContext) -> list[Submission]:
        problems = read.Problems()
        event = read.as_object(payload, "payload", problems)
        problems.raise_if_any()
        if read.event_kind(event, "event_type") not in RESPONSE_EVENTS:
            return []
        response = read.as_object(event.get("event_data"), "event_data", problems)
        properties = read.as_object(response.get("person_properties") or {}, PROPERTIES, problems)

        survey_type = response.get("survey_type")
        metric = METRIC_BY_SURVEY_TYPE.get(survey_type) if isinstance(survey_type, str) else None
        if metric is None:
            problems.add(
                "event_data.survey_type",
                f"{survey_type!r} has no cxpulse metric of the same scale "
                f"(accepted: {', '.join(METRIC_BY_SURVEY_TYPE)})",
            )
        brand = read.configured_value(properties, PROPERTIES, channel, "brand_property", None, problems)
        customer_id = read.configured_value(
            properties, PROPERTIES, channel, "customer_id_property", "customer_id", problems
        )

        fields = {
            "response_id": read.identifier(response.get("id"), "event_data.id", problems),
            "brand": brand or channel.brand,
            "metric": metric,
            "score": read.whole_number(response.get("score"), "event_data.score", problems),
            "comment": read.optional_text(response.get("comment"), "event_data.comment", problems),
            "journey_stage": read.journey_stage(properties, PROPERTIES, channel, "stage_property", problems),
            "customer_id": customer_id,
            "occurred_at": read.unix_datetime(response.get("created_at"), "event_data.created_at", problems),
        }
        return [read.survey_submission(fields, problems)]
